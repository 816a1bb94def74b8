"""The activations inside the fused kernels: by code, as scalar functions for the Numba loops
and as array functions for their numpy twins.

A kernel takes its activations as codes (``TANH``, ``SIGMOID``, ``RELU``, ``LINEAR``), so that
one compiled loop serves every choice.  It takes the exponentials of a whole block at once
with ``exp_into`` (vectorised), then finishes each activation with ``from_exp``.  Every
constant takes the arrays' dtype through ``one`` (a 1 of that dtype): a bare ``1.0`` would
turn float32 arithmetic into float64.
"""

from __future__ import annotations

from fractions import Fraction
from math import comb, factorial

import numpy as np
from numba import literal_unroll, njit

from minigrad.kernels import sigmoid

TANH, SIGMOID, RELU, LINEAR = 0, 1, 2, 3
CODES = {"tanh": TANH, "sigmoid": SIGMOID, "relu": RELU, "linear": LINEAR}

# Below this |z|, tanh(z) comes from its series: (1 - e^-2z) / (1 + e^-2z) cancels near 0
# (at z = 1e-5 it would keep about two correct digits in float32).  At this limit the
# series' terms shrink by (2 * 0.3 / pi)^2 = 0.04 each, so 12 of them after z reach 1e-17;
# beyond it the exponential form amplifies e's error at most 1.6 times.
TANH_SERIES_LIMIT = 0.3


def _bernoulli(count: int) -> list[Fraction]:
    """B_0 .. B_count, exact, by the recurrence sum_k C(m + 1, k) B_k = 0."""
    numbers = [Fraction(1)]
    for m in range(1, count + 1):
        numbers.append(-sum(comb(m + 1, k) * numbers[k] for k in range(m)) / (m + 1))
    return numbers


def _tanh_series_coefficients(terms: int) -> tuple[float, ...]:
    """c_1 .. c_terms of tanh(z) = z + z^3 (c_1 + c_2 z^2 + ...), highest first (Horner's order):
    the coefficient of z^(2n-1) is 2^2n (2^2n - 1) B_2n / (2n)!."""
    b = _bernoulli(2 * terms + 2)
    coefficients = [Fraction(4**n * (4**n - 1)) * b[2 * n] / factorial(2 * n) for n in range(2, terms + 2)]
    return tuple(float(c) for c in reversed(coefficients))


TANH_SERIES = _tanh_series_coefficients(12)
TANH_SERIES_FLOAT32 = TANH_SERIES[-6:]  # 0.04^6 = 4e-9, under float32's 6e-8


@njit(cache=True, inline="always")
def exp_scale(code):
    """The s for which ``from_exp`` wants e = exp(-s z): 2 for tanh, 1 for sigmoid, else 0."""
    return 2.0 if code == TANH else 1.0 if code == SIGMOID else 0.0


@njit(cache=True, inline="always")
def from_exp(z, e, code, one):
    """f(z) from e = exp(-exp_scale(code) z), to a few ulps: tanh(z) = (1 - e^(-2z)) / (1 + e^(-2z))
    (its series near 0, where that form cancels) and sigmoid(z) = 1 / (1 + e^(-z)).

    An exponential at ``exp_into``'s clamp gives -1 or a tiny sigmoid, never NaN: where
    sigmoid(z) is below the dtype's smallest normal number (z < -87.3 in float32, -708.4 in
    float64), the result is too, not to the ulp."""
    if code == TANH:
        if abs(z) < TANH_SERIES_LIMIT:
            return _tanh_series(z, one)
        return (one - e) / (one + e)
    if code == SIGMOID:
        return one / (one + e)
    if code == RELU:
        return max(z, z - z)
    return z


@njit(cache=True, inline="always")
def _tanh_series(z, one):
    """tanh(z) = z + z^3 P(z^2) for |z| < TANH_SERIES_LIMIT, in z's dtype (z^3 P is under 3%
    of z, so P's rounding hardly reaches the sum): float32 needs only P's first terms."""
    x2 = z * z
    p = z - z
    if one + np.float32(1e-8) == one:  # float32 (a constant: the compiler drops the other branch)
        for c in literal_unroll(TANH_SERIES_FLOAT32):
            p = p * x2 + type(one)(c)
    else:
        for c in literal_unroll(TANH_SERIES):
            p = p * x2 + c
    return z + z * x2 * p


@njit(cache=True)
def exp_into(x, out):
    """out[i] = exp(x[i]) for flat, contiguous arrays, in loops without branches or calls that
    the compiler turns into vector instructions (a scalar exp is a library call per element,
    several times slower; this Numba has no vector math library).

    exp(x) = 2^k exp(r) with k = round(x / ln 2) and r = x - k ln 2 in [-ln2/2, ln2/2] (ln 2
    in two parts, so that k ln 2 is exact); exp(r) is its Taylor polynomial, to r^13 in
    float64 (error under 5e-18) and to r^7 in float32 (under 1e-7); 2^k is built from its
    bits.  x is clamped first to [-87, 88] in float32, [-708, 709] in float64 (where exp(x)
    is a normal number), and inside those bounds the result is within one ulp of exp(x);
    NaN stays NaN.  x and out must be different arrays: in place, the compiler cannot prove
    they do not overlap, and the loop runs scalar, about seven times slower (measured).
    """
    if x.itemsize == 4:
        _exp_float32(x, out)
    else:
        _exp_float64(x, out)


@njit(cache=True, inline="always")
def _reduce(v, low, high, one):
    """(k, r, nan) for exp(v) = 2^k exp(r): v clamped to [low, high]; nan is 1 + (v - v), so
    NaN for NaN and 1 otherwise (comparisons with NaN are false, so NaN passes the clamp)."""
    v = low if v < low else v
    v = high if v > high else v
    k = np.floor(v * 1.4426950408889634 + 0.5)
    r = v - k * 0.693145751953125 - k * 1.4286068203094172e-06
    return k, r, one + (v - v)


@njit(cache=True)
def _exp_float32(x, out):
    powers = np.empty(x.size, np.int32)
    for i in range(x.size):
        k, r, nan = _reduce(np.float64(x[i]), -87.0, 88.0, 1.0)
        p = ((((((r / 5040 + 1 / 720) * r + 1 / 120) * r + 1 / 24) * r + 1 / 6) * r + 0.5) * r + 1) * r + 1
        out[i] = np.float32(p * nan)
        powers[i] = (np.int32(k) + 127) << 23 if k == k else 0
    out *= powers.view(np.float32)


@njit(cache=True)
def _exp_float64(x, out):
    powers = np.empty(x.size, np.int64)
    for i in range(x.size):
        k, r, nan = _reduce(x[i], -708.0, 709.0, 1.0)
        p = r / 6227020800 + 1 / 479001600
        for c in (
            1 / 39916800,
            1 / 3628800,
            1 / 362880,
            1 / 40320,
            1 / 5040,
            1 / 720,
            1 / 120,
            1 / 24,
            1 / 6,
            0.5,
        ):
            p = p * r + c
        # 1 + (r + r^2 p): the one rounding near the result is the last addition's
        out[i] = (1.0 + (r + r * r * p)) * nan
        powers[i] = (np.int64(k) + 1023) << 52 if k == k else 0
    out *= powers.view(np.float64)


@njit(cache=True, inline="always")
def derivative(y, code, one):
    """f'(z) written through y = f(z): 1 - y^2, y (1 - y), [y > 0], 1."""
    if code == TANH:
        return (one - y) * (one + y)
    if code == SIGMOID:
        return y * (one - y)
    if code == RELU:
        return one if y > 0 else y - y
    return one


def activate_np(z: np.ndarray, code: int) -> np.ndarray:
    if code == TANH:
        return np.tanh(z)
    if code == SIGMOID:
        return sigmoid(z)
    if code == RELU:
        return np.maximum(z, 0)
    return z.copy()


def derivative_np(y: np.ndarray, code: int) -> np.ndarray:
    if code == TANH:
        return (1 - y) * (1 + y)
    if code == SIGMOID:
        return y * (1 - y)
    if code == RELU:
        return (y > 0).astype(y.dtype)
    return np.ones_like(y)
