"""The activations inside the fused kernels: loops that the compiler turns into vector
instructions, and numpy functions for the kernels' twins.

A kernel applies one activation to a block of columns at once (``activate_columns``) and
multiplies a block of gradients by one derivative at once (``times_derivative``).  Each takes
the activation's code (``TANH``, ``SIGMOID``, ``RELU``, ``LINEAR``) and branches on it once,
before its loops, so that every loop runs one fixed formula with no branch or library call
inside: such a loop becomes vector instructions.  Numba's ``error_model="numpy"`` lets a
division be one instruction (its default tests every divisor for zero, which stops that).

Each activation is computed in float64 and rounded once to the arrays' dtype: in float32 it
is then within one ulp of the exact value, in float64 within a few:

* exp(x) = 2^k exp(r), k = round(x / ln 2), r = x - k ln 2 in [-ln2/2, ln2/2] (ln 2 in two
  parts, so that k ln 2 is exact); exp(r) is its Taylor polynomial to r^13 (error under
  5e-18; to r^7 for a float32 result), 2^k is built from its bits.  x is clamped to
  [-708, 709], where exp(x) is a normal float64, and NaN stays NaN;
* tanh(z) = (1 - e^-2z) / (1 + e^-2z), and its series near 0, where that form cancels;
* sigmoid(z) = 1 / (1 + e^-z), which has no cancellation: 1 + e^-z >= 1.
"""

from __future__ import annotations

from fractions import Fraction
from math import comb, factorial

import numpy as np
from llvmlite import ir
from numba import literal_unroll, njit, types
from numba.extending import intrinsic

from minigrad.kernels import sigmoid as sigmoid_array

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
EXP_TAYLOR = tuple(1 / factorial(n) for n in range(13, 1, -1))  # 1/13! .. 1/2!, Horner's order
# a float32 result needs fewer terms: the series' 0.04^6 = 4e-9 and r^8 / 8! < 6e-9 are
# under float32's half ulp of 3e-8
TANH_SERIES_FLOAT32 = TANH_SERIES[-6:]
EXP_TAYLOR_FLOAT32 = EXP_TAYLOR[-6:]  # 1/7! .. 1/2!


@intrinsic
def _float64_from_bits(typingctx, bits):
    """The float64 whose IEEE 754 bits are the int64 ``bits`` (a bit cast, no conversion)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@njit(cache=True, inline="always", error_model="numpy")
def exp(x, for_float32):
    """exp(x) in float64 for x in float64, as the module's docstring says; ``for_float32``
    (a constant where the function is inlined) stops the polynomial at float32's accuracy."""
    x = -708.0 if x < -708.0 else x  # NaN passes both tests (comparisons with NaN are false)
    x = 709.0 if x > 709.0 else x
    k = np.floor(x * 1.4426950408889634 + 0.5)
    r = x - k * 0.693145751953125 - k * 1.4286068203094172e-06
    p = 0.0
    if for_float32:
        for c in literal_unroll(EXP_TAYLOR_FLOAT32):
            p = p * r + c
    else:
        for c in literal_unroll(EXP_TAYLOR):
            p = p * r + c
    k_bits = np.int64(k) if k == k else np.int64(0)  # NaN: r is NaN, and so is the result
    # 1 + (r + r^2 p): the one rounding near the result is the last addition's
    return (1.0 + (r + r * r * p)) * _float64_from_bits((k_bits + 1023) << 52)


@njit(cache=True, inline="always", error_model="numpy")
def tanh(z, for_float32):
    """tanh(z) in float64: z + z^3 P(z^2) below TANH_SERIES_LIMIT, (1 - e^-2z) / (1 + e^-2z)
    above.  Both are computed and one is selected, so the loop has no branch."""
    z = np.float64(z)
    z2 = z * z
    p = 0.0
    if for_float32:
        for c in literal_unroll(TANH_SERIES_FLOAT32):
            p = p * z2 + c
    else:
        for c in literal_unroll(TANH_SERIES):
            p = p * z2 + c
    series = z + z * z2 * p
    e = exp(-2.0 * z, for_float32)
    ratio = (1.0 - e) / (1.0 + e)
    return series if abs(z) < TANH_SERIES_LIMIT else ratio


@njit(cache=True, inline="always", error_model="numpy")
def sigmoid(z, for_float32):
    """sigmoid(z) = 1 / (1 + e^-z) in float64; below -708, e^-z stays at e^708 (the result is
    under the smallest normal float64 there, as the exact value is)."""
    return 1.0 / (1.0 + exp(-np.float64(z), for_float32))


@njit(cache=True, error_model="numpy")
def activate_columns(z, out, start, width, code):
    """out[:, start : start + width] = f(z[:, start : start + width]), f given by ``code``;
    z and out (rows, columns), C-contiguous, of one dtype."""
    for_float32 = z.itemsize == 4  # a constant of z's type
    for b in range(z.shape[0]):
        source, target = z[b, start : start + width], out[b, start : start + width]
        if code == TANH:
            for j in range(width):
                target[j] = tanh(source[j], for_float32)
        elif code == SIGMOID:
            for j in range(width):
                target[j] = sigmoid(source[j], for_float32)
        elif code == RELU:
            zero = z.dtype.type(0)  # a bare 0 would turn float32 into float64
            for j in range(width):
                target[j] = max(source[j], zero)
        else:  # a loop: an array assignment would compile numpy's broadcasting checks
            for j in range(width):
                target[j] = source[j]


@njit(cache=True, error_model="numpy")
def times_derivative(values, y, start, width, code):
    """values[:, cols] *= f'(z), written through y[:, cols] = f(z) (cols = start .. start + width):
    f' = 1 - y^2, y (1 - y), [y > 0] or 1.  values and y (rows, columns), C-contiguous."""
    if code == LINEAR:
        return
    one = y.dtype.type(1)  # a bare 1 would turn float32 arithmetic into float64
    for b in range(values.shape[0]):
        target, value = values[b, start : start + width], y[b, start : start + width]
        if code == TANH:
            for j in range(width):
                target[j] *= (one - value[j]) * (one + value[j])
        elif code == SIGMOID:
            for j in range(width):
                target[j] *= value[j] * (one - value[j])
        else:
            for j in range(width):
                target[j] = target[j] if value[j] > 0 else target[j] - target[j]


def activate_np(z: np.ndarray, code: int) -> np.ndarray:
    if code == TANH:
        return np.tanh(z)
    if code == SIGMOID:
        return sigmoid_array(z)
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
