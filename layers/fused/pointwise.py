"""The activations inside the fused kernels: loops that the compiler turns into vector
instructions, and numpy functions for the kernels' twins.

A kernel applies one activation to a block of columns at once (``activate_columns``) and
multiplies a block of gradients by one derivative at once (``times_derivative``).  Each takes
the activation's code (``TANH``, ``SIGMOID``, ``RELU``, ``LINEAR``) and branches on it once,
before its loops, so that every loop runs one fixed formula with no branch or library call
inside: such a loop becomes vector instructions.  Numba's ``error_model="numpy"`` lets a
division be one instruction (its default tests every divisor for zero, which stops that).

In float64 each activation is computed in float64, within a few ulps of the exact value:

* exp(x) = 2^k exp(r), k = round(x / ln 2), r = x - k ln 2 in [-ln2/2, ln2/2] (ln 2 in two
  parts, so that k ln 2 is exact); exp(r) is its Taylor polynomial to r^13 (error under
  5e-18), 2^k is built from its bits.  x is clamped to [-708, 709], where exp(x) is a normal
  float64, and NaN stays NaN;
* tanh(z) = (1 - e^-2z) / (1 + e^-2z), and its series near 0, where that form cancels;
* sigmoid(z) = 1 / (1 + e^-z), which has no cancellation: 1 + e^-z >= 1.

In float32 the same formulas run in float32 arithmetic (twice as many lanes per vector
instruction as float64), each within 3 ulps of the exact value wherever the result is a
normal float32 (``tests/test_kernels.py`` measures it over every binade), with no overflow,
and NaN kept:

* exp(x): the same reduction in float32 (k ln 2 exact: ln 2's first part has 9 bits), the
  Taylor polynomial to r^7 (its truncation error 5e-9 is under a tenth of an ulp), and 2^k
  applied as two powers of 2, 2^(k // 2) 2^(k - k // 2), so that results from the smallest
  subnormal to the largest float32 come out, and beyond them 0 or inf, rounded once;
* tanh(|z|) = (1 - e) / (1 + e) with e = e^(-2|z|) <= 1, the sign copied from z: e never
  overflows, and at the switch to the series (|z| = TANH_SERIES_LIMIT_FLOAT32) 1 - e
  amplifies e's error at most 0.6 times;
* sigmoid(z) = 1 / (1 + e) for z >= 0 and e / (1 + e) for z < 0, with e = e^(-|z|) <= 1:
  no cancellation, and down to z = -103.9 the tail is e's subnormal, not a flushed 0.
"""

from __future__ import annotations

from fractions import Fraction
from math import comb, factorial

import numpy as np
from llvmlite import ir
from numba import literal_unroll, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from minigrad.kernels import sigmoid as sigmoid_array

TANH, SIGMOID, RELU, LINEAR = 0, 1, 2, 3
CODES = {"tanh": TANH, "sigmoid": SIGMOID, "relu": RELU, "linear": LINEAR}

# Below this |z|, tanh(z) comes from its series: (1 - e^-2z) / (1 + e^-2z) cancels near 0
# (at z = 1e-5 it would keep about two correct digits in float32).  At this limit the
# series' terms shrink by (2 * 0.3 / pi)^2 = 0.04 each, so 12 of them after z reach 1e-17;
# beyond it the exponential form amplifies e's error at most 1.6 times.
TANH_SERIES_LIMIT = 0.3
# In float32, the series' terms shrink by (2 * 0.55 / pi)^2 = 0.12 each, so 9 of them after z
# reach 4e-9, under a tenth of float32's ulp; beyond it 1 - e amplifies e's error 0.5 times.
TANH_SERIES_LIMIT_FLOAT32 = np.float32(0.55)


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
TANH_SERIES_FLOAT32 = tuple(np.float32(c) for c in _tanh_series_coefficients(9))
EXP_TAYLOR_FLOAT32 = tuple(np.float32(1 / factorial(n)) for n in range(7, 1, -1))  # 1/7! .. 1/2!
# float32's constants, so that no float64 enters its arithmetic
F32_ZERO, F32_HALF, F32_ONE, F32_TWO = (np.float32(v) for v in (0, 0.5, 1, 2))
F32_LOG2_E = np.float32(1.4426950408889634)
F32_LN2_HIGH = np.float32(0.693359375)  # 9 bits: k * F32_LN2_HIGH is exact for |k| < 2^15
F32_LN2_LOW = np.float32(0.6931471805599453 - 0.693359375)
F32_EXP_LOW, F32_EXP_HIGH = np.float32(-104.0), np.float32(89.0)  # beyond: 0 and inf
F32_EXPONENT_BIAS, F32_EXPONENT_ONE = np.float32(127.0), np.float32(2.0**23)


@intrinsic
def _float64_from_bits(typingctx, bits):
    """The float64 whose IEEE 754 bits are the int64 ``bits`` (a bit cast, no conversion)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def fma(typingctx, a, b, c):
    """a b + c rounded once (LLVM's fma: one instruction where the processor has it), for
    three floats of one type."""
    if not (isinstance(a, types.Float) and a == b == c):
        return None

    def codegen(context, builder, signature, args):
        real = args[0].type
        name = "llvm.fma.f32" if real == ir.FloatType() else "llvm.fma.f64"
        function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(real, [real] * 3), name)
        return builder.call(function, args)

    return a(a, a, a), codegen


@intrinsic
def _float32_from_bits(typingctx, bits):
    """The float32 whose IEEE 754 bits are the integer held exactly by the float32 ``bits``
    (converted to int32, then bit cast): no integer arithmetic, so that a float32 loop keeps
    its full vector width."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(builder.fptosi(args[0], ir.IntType(32)), ir.FloatType())

    return types.float32(types.float32), codegen


@njit(cache=True, inline="always", error_model="numpy")
def exp(x):
    """exp(x) in float64, as the module's docstring says."""
    x = -708.0 if x < -708.0 else x  # NaN passes both tests (comparisons with NaN are false)
    x = 709.0 if x > 709.0 else x
    k = np.floor(x * 1.4426950408889634 + 0.5)
    r = x - k * 0.693145751953125 - k * 1.4286068203094172e-06
    p = 0.0
    for c in literal_unroll(EXP_TAYLOR):
        p = fma(p, r, c)
    k_bits = np.int64(k) if k == k else np.int64(0)  # NaN: r is NaN, and so is the result
    # 1 + (r + r^2 p): the one rounding near the result is the last addition's
    return (1.0 + fma(r * r, p, r)) * _float64_from_bits((k_bits + 1023) << 52)


@njit(cache=True, inline="always", error_model="numpy")
def _power_of_two_float32(k):
    """2^k for an integer-valued float32 k in [-126, 127], from its bits."""
    return _float32_from_bits((k + F32_EXPONENT_BIAS) * F32_EXPONENT_ONE)


@njit(cache=True, inline="always", error_model="numpy")
def exp_float32(x):
    """exp(x) in float32 arithmetic for a float32 x, as the module's docstring says."""
    x = F32_EXP_LOW if x < F32_EXP_LOW else x  # NaN passes both tests
    x = F32_EXP_HIGH if x > F32_EXP_HIGH else x
    k = np.floor(x * F32_LOG2_E + F32_HALF)  # in [-150, 128]
    r = fma(-k, F32_LN2_LOW, x - k * F32_LN2_HIGH)
    p = F32_ZERO
    for c in literal_unroll(EXP_TAYLOR_FLOAT32):
        p = fma(p, r, c)
    k = k if k == k else F32_ZERO  # NaN: r is NaN, and so is the result
    half = np.floor(k * F32_HALF)
    # (1 + (r + r^2 p)) 2^half is exact (a normal float32); the last product rounds once
    return ((F32_ONE + fma(r * r, p, r)) * _power_of_two_float32(half)) * _power_of_two_float32(k - half)


@njit(cache=True, inline="always", error_model="numpy")
def tanh(z):
    """tanh(z) in float64: z + z^3 P(z^2) below TANH_SERIES_LIMIT, (1 - e^-2z) / (1 + e^-2z)
    above.  Both are computed and one is selected, so the loop has no branch."""
    z = np.float64(z)
    z2 = z * z
    p = 0.0
    for c in literal_unroll(TANH_SERIES):
        p = fma(p, z2, c)
    series = np.copysign(fma(z * z2, p, z), z)  # -0 keeps its sign
    e = exp(-2.0 * z)
    ratio = (1.0 - e) / (1.0 + e)
    return series if abs(z) < TANH_SERIES_LIMIT else ratio


@njit(cache=True, inline="always", error_model="numpy")
def tanh_float32(z):
    """tanh(z) in float32 arithmetic: z + z^3 P(z^2) below TANH_SERIES_LIMIT_FLOAT32, else
    (1 - e) / (1 + e) with e = e^(-2|z|) and z's sign; both computed, one selected."""
    z = np.float32(z)
    magnitude = abs(z)
    z2 = z * z
    p = F32_ZERO
    for c in literal_unroll(TANH_SERIES_FLOAT32):
        p = fma(p, z2, c)
    series = np.copysign(fma(z * z2, p, z), z)  # -0 keeps its sign
    e = exp_float32(-F32_TWO * magnitude)
    ratio = np.copysign((F32_ONE - e) / (F32_ONE + e), z)
    return series if magnitude < TANH_SERIES_LIMIT_FLOAT32 else ratio


@njit(cache=True, inline="always", error_model="numpy")
def sigmoid(z):
    """sigmoid(z) = 1 / (1 + e^-z) in float64; below -708, e^-z stays at e^708 (the result is
    under the smallest normal float64 there, as the exact value is)."""
    return 1.0 / (1.0 + exp(-np.float64(z)))


@njit(cache=True, inline="always", error_model="numpy")
def sigmoid_float32(z):
    """sigmoid(z) in float32 arithmetic: 1 / (1 + e) for z >= 0, e / (1 + e) below, with
    e = e^(-|z|)."""
    z = np.float32(z)
    e = exp_float32(-abs(z))
    s = F32_ONE / (F32_ONE + e)
    return s if z >= F32_ZERO else e * s


@njit(cache=True, error_model="numpy")
def activate_columns(z, out, start, width, code):
    """out[:, start : start + width] = f(z[:, start : start + width]), f given by ``code``;
    z and out (rows, columns), C-contiguous, of one dtype."""
    in_float32 = z.itemsize == 4  # a constant of z's type
    for b in range(z.shape[0]):
        source, target = z[b, start : start + width], out[b, start : start + width]
        if code == TANH and in_float32:
            for j in range(width):
                target[j] = tanh_float32(source[j])
        elif code == TANH:
            for j in range(width):
                target[j] = tanh(source[j])
        elif code == SIGMOID and in_float32:
            for j in range(width):
                target[j] = sigmoid_float32(source[j])
        elif code == SIGMOID:
            for j in range(width):
                target[j] = sigmoid(source[j])
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
