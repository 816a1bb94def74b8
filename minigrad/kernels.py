"""The array kernels behind the ops: each one twice, as a Numba loop and as plain numpy.

The Numba loops are compiled once per machine (``cache=True``) and run where numpy
would make temporaries or is slow (``np.add.at``).  The numpy twins compute the same
numbers and are the readable reference.  The environment variable ``MINIGRAD_JIT``
chooses once, at import: ``1`` (the default) for the Numba loops, ``0`` for the twins.

``TWINS`` maps each kernel's name to its ``(numba, numpy)`` pair, so the tests can
check that the two agree.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

_setting = os.environ.get("MINIGRAD_JIT", "1")
if _setting not in ("0", "1"):
    raise ValueError(f"MINIGRAD_JIT must be '0' or '1', got {_setting!r}")
JIT: bool = _setting == "1"


def sigmoid(a: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-a), computed through e^-|a| so that no exponential overflows."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


# --- scatter-add: the backward of gathering rows (indexing, embedding lookup) ---
@njit(cache=True)
def _scatter_add_rows_jit(target, index, rows):
    for i in range(index.shape[0]):
        target[index[i]] += rows[i]


def _scatter_add_rows_np(target, index, rows):
    np.add.at(target, index, rows)


# --- tanh and sigmoid backward, fused so no temporaries are made ---
# (on flat arrays: the public wrappers below flatten, so one compiled version serves all shapes)
@njit(cache=True)
def _tanh_backward_jit(y, grad):
    # d tanh(x)/dx = 1 - y^2 = (1 - y)(1 + y); the factored form loses no digits near |y| = 1.
    # `one` has y's dtype: a bare literal 1.0 would turn float32 arithmetic into float64.
    one = y.dtype.type(1)
    out = np.empty_like(y)
    for i in range(y.shape[0]):
        out[i] = grad[i] * (one - y[i]) * (one + y[i])
    return out


def _tanh_backward_np(y, grad):
    return grad * (1 - y) * (1 + y)


@njit(cache=True)
def _sigmoid_backward_jit(y, grad):
    # d sigmoid(x)/dx = y (1 - y)
    one = y.dtype.type(1)
    out = np.empty_like(y)
    for i in range(y.shape[0]):
        out[i] = grad[i] * y[i] * (one - y[i])
    return out


def _sigmoid_backward_np(y, grad):
    return grad * y * (1 - y)


# --- softmax cross-entropy over the rows of (n, classes) logits ---
@njit(cache=True)
def _softmax_xent_forward_jit(logits, targets):
    n, c = logits.shape
    losses = np.empty(n, dtype=logits.dtype)
    probs = np.empty_like(logits)
    for i in range(n):
        top = logits[i, 0]
        for j in range(1, c):
            top = max(top, logits[i, j])
        total = logits[i, 0] - logits[i, 0]  # a zero of the logits' dtype
        for j in range(c):
            probs[i, j] = np.exp(logits[i, j] - top)
            total += probs[i, j]
        for j in range(c):
            probs[i, j] /= total
        # loss = log(sum exp(x)) - x[target], with the maximum taken out for stability
        losses[i] = np.log(total) + top - logits[i, targets[i]]
    return losses, probs


def _softmax_xent_forward_np(logits, targets):
    shifted = logits - logits.max(axis=1, keepdims=True)
    exps = np.exp(shifted)
    total = exps.sum(axis=1, keepdims=True)
    rows = np.arange(logits.shape[0])
    losses = np.log(total[:, 0]) - shifted[rows, targets]
    return losses, exps / total


@njit(cache=True)
def _softmax_xent_backward_jit(probs, targets, grad):
    # d loss_i / d logits_ij = grad_i * (p_ij - [j == target_i])
    n, c = probs.shape
    out = np.empty_like(probs)
    for i in range(n):
        for j in range(c):
            out[i, j] = grad[i] * probs[i, j]
        out[i, targets[i]] -= grad[i]
    return out


def _softmax_xent_backward_np(probs, targets, grad):
    out = probs * grad[:, None]
    out[np.arange(probs.shape[0]), targets] -= grad
    return out


# --- recurrent cells: the pointwise work of one time step, forward and backward ---
# Activations are passed as codes.  Numba's scalar exp is several times slower than numpy's
# vectorised one, so the Numba path takes e = exp(-scale * z) from numpy for a whole block
# (scale 2 for tanh, 1 for sigmoid) and finishes each activation as a rational function of e:
# tanh(z) = 2 / (1 + e^(-2z)) - 1 and sigmoid(z) = 1 / (1 + e^(-z)).  Every constant takes
# the arrays' dtype through `one`, so float32 work stays float32.
ACTIVATION_CODES = {"tanh": 0, "sigmoid": 1, "relu": 2, "linear": 3}
_EXP_SCALE = (2.0, 1.0, 0.0, 0.0)


def _exp_neg(z: np.ndarray, scale: Any) -> np.ndarray:
    """exp(-scale * z), vectorised; an overflow to inf is intended (it gives -1 or 0)."""
    with np.errstate(over="ignore"):
        return np.exp(z * -scale)


@functools.lru_cache(maxsize=64)
def _block_scale(codes: tuple[int, ...], units: int, dtype: Any) -> np.ndarray:
    """The exp scale of each column of gate blocks with these activation codes (made once per
    layout; read-only, since every caller shares it)."""
    scale = np.repeat(np.array([_EXP_SCALE[c] for c in codes], dtype=dtype), units)
    scale.flags.writeable = False
    return scale


@njit(cache=True, inline="always")
def _from_exp(z, e, code, one):
    """f(z) from e = exp(-scale z)."""
    if code == 0:
        return (one + one) / (one + e) - one
    if code == 1:
        return one / (one + e)
    if code == 2:
        return max(z, z - z)
    return z


@njit(cache=True, inline="always")
def _act_grad(y, code, one):
    """f'(z) written through y = f(z)."""
    if code == 0:
        return (one - y) * (one + y)
    if code == 1:
        return y * (one - y)
    if code == 2:
        return one if y > 0 else y - y
    return one


def _act_np(z, code):
    if code == 0:
        return np.tanh(z)
    if code == 1:
        return sigmoid(z)
    if code == 2:
        return np.maximum(z, 0)
    return z.copy()


def _act_grad_np(y, code):
    if code == 0:
        return (1 - y) * (1 + y)
    if code == 1:
        return y * (1 - y)
    if code == 2:
        return (y > 0).astype(y.dtype)
    return np.ones_like(y)


@njit(cache=True)
def _activate_loop(z, e, code, out):
    one = out.dtype.type(1)
    for b in range(z.shape[0]):
        for j in range(z.shape[1]):
            out[b, j] = _from_exp(z[b, j], e[b, j], code, one)


def _activate_jit(z, code, out):
    _activate_loop(z, _exp_neg(z, _EXP_SCALE[code]), code, out)


def _activate_np(z, code, out):
    out[...] = _act_np(z, code)


@njit(cache=True)
def _activation_backward_jit(y, grad, code, out):
    one = out.dtype.type(1)
    for b in range(y.shape[0]):
        for j in range(y.shape[1]):
            out[b, j] = grad[b, j] * _act_grad(y[b, j], code, one)


def _activation_backward_np(y, grad, code, out):
    out[...] = grad * _act_grad_np(y, code)


@njit(cache=True)
def _lstm_gates_loop(z, e, c_prev, act, ract, gates, c):
    # z (batch, 4 units) holds the pre-activations of the gates i, f, g, o
    one = z.dtype.type(1)
    u = c.shape[1]
    for b in range(z.shape[0]):
        for j in range(u):
            i = _from_exp(z[b, j], e[b, j], ract, one)
            f = _from_exp(z[b, u + j], e[b, u + j], ract, one)
            g = _from_exp(z[b, 2 * u + j], e[b, 2 * u + j], act, one)
            o = _from_exp(z[b, 3 * u + j], e[b, 3 * u + j], ract, one)
            gates[b, j], gates[b, u + j], gates[b, 2 * u + j], gates[b, 3 * u + j] = i, f, g, o
            c[b, j] = f * c_prev[b, j] + i * g


@njit(cache=True)
def _lstm_output_loop(c, e, gates, act, tanh_c, h):
    one = c.dtype.type(1)
    u = c.shape[1]
    for b in range(c.shape[0]):
        for j in range(u):
            tanh_c[b, j] = _from_exp(c[b, j], e[b, j], act, one)
            h[b, j] = gates[b, 3 * u + j] * tanh_c[b, j]


def _lstm_forward_jit(z, c_prev, act, ract, gates, c, tanh_c, h):
    scale = _block_scale((ract, ract, act, ract), c.shape[1], z.dtype)
    _lstm_gates_loop(z, _exp_neg(z, scale), c_prev, act, ract, gates, c)
    _lstm_output_loop(c, _exp_neg(c, _EXP_SCALE[act]), gates, act, tanh_c, h)


def _lstm_forward_np(z, c_prev, act, ract, gates, c, tanh_c, h):
    u = c.shape[1]
    gates[:, : 2 * u] = _act_np(z[:, : 2 * u], ract)
    gates[:, 2 * u : 3 * u] = _act_np(z[:, 2 * u : 3 * u], act)
    gates[:, 3 * u :] = _act_np(z[:, 3 * u :], ract)
    i, f, g, o = gates[:, :u], gates[:, u : 2 * u], gates[:, 2 * u : 3 * u], gates[:, 3 * u :]
    c[...] = f * c_prev + i * g
    tanh_c[...] = _act_np(c, act)
    h[...] = o * tanh_c


@njit(cache=True)
def _lstm_backward_jit(dh, dc_next, gates, c_prev, tanh_c, act, ract, dz, dc_prev):
    # dc = dc' + dh o f'(c');  di = dc g, df = dc c_prev, dg = dc i, do = dh f(c')
    one = dh.dtype.type(1)
    u = dh.shape[1]
    for b in range(dh.shape[0]):
        for j in range(u):
            i, f = gates[b, j], gates[b, u + j]
            g, o = gates[b, 2 * u + j], gates[b, 3 * u + j]
            dc = dc_next[b, j] + dh[b, j] * o * _act_grad(tanh_c[b, j], act, one)
            dz[b, j] = dc * g * _act_grad(i, ract, one)
            dz[b, u + j] = dc * c_prev[b, j] * _act_grad(f, ract, one)
            dz[b, 2 * u + j] = dc * i * _act_grad(g, act, one)
            dz[b, 3 * u + j] = dh[b, j] * tanh_c[b, j] * _act_grad(o, ract, one)
            dc_prev[b, j] = dc * f


def _lstm_backward_np(dh, dc_next, gates, c_prev, tanh_c, act, ract, dz, dc_prev):
    u = dh.shape[1]
    i, f, g, o = gates[:, :u], gates[:, u : 2 * u], gates[:, 2 * u : 3 * u], gates[:, 3 * u :]
    dc = dc_next + dh * o * _act_grad_np(tanh_c, act)
    dz[:, :u] = dc * g * _act_grad_np(i, ract)
    dz[:, u : 2 * u] = dc * c_prev * _act_grad_np(f, ract)
    dz[:, 2 * u : 3 * u] = dc * i * _act_grad_np(g, act)
    dz[:, 3 * u :] = dh * tanh_c * _act_grad_np(o, ract)
    dc_prev[...] = dc * f


@njit(cache=True)
def _gru_gates_loop(xp, hr, e, ract, gates, n_pre):
    # e = exp(-scale (xp + hr)) for the z and r blocks; n_pre = xp_n + r * hr_n
    one = xp.dtype.type(1)
    u = n_pre.shape[1]
    for b in range(xp.shape[0]):
        for j in range(u):
            z = _from_exp(xp[b, j] + hr[b, j], e[b, j], ract, one)
            r = _from_exp(xp[b, u + j] + hr[b, u + j], e[b, u + j], ract, one)
            gates[b, j], gates[b, u + j] = z, r
            n_pre[b, j] = xp[b, 2 * u + j] + r * hr[b, 2 * u + j]


@njit(cache=True)
def _gru_output_loop(n_pre, e, h_prev, act, gates, h):
    one = n_pre.dtype.type(1)
    u = h.shape[1]
    for b in range(h.shape[0]):
        for j in range(u):
            z = gates[b, j]
            n = _from_exp(n_pre[b, j], e[b, j], act, one)
            gates[b, 2 * u + j] = n
            h[b, j] = z * h_prev[b, j] + (one - z) * n


def _gru_forward_jit(xp, hr, h_prev, act, ract, gates, h):
    # gates (batch, 3 units) receives z, r, n; hr = hd U + b' (reset_after)
    u = h.shape[1]
    zr = xp[:, : 2 * u] + hr[:, : 2 * u]
    n_pre = np.empty_like(h)
    _gru_gates_loop(xp, hr, _exp_neg(zr, _EXP_SCALE[ract]), ract, gates, n_pre)
    _gru_output_loop(n_pre, _exp_neg(n_pre, _EXP_SCALE[act]), h_prev, act, gates, h)


def _gru_forward_np(xp, hr, h_prev, act, ract, gates, h):
    u = h.shape[1]
    gates[:, : 2 * u] = _act_np(xp[:, : 2 * u] + hr[:, : 2 * u], ract)
    z, r = gates[:, :u], gates[:, u : 2 * u]
    gates[:, 2 * u :] = _act_np(xp[:, 2 * u :] + r * hr[:, 2 * u :], act)
    h[...] = z * h_prev + (1 - z) * gates[:, 2 * u :]


@njit(cache=True)
def _gru_backward_jit(dh, h_prev, gates, hr, act, ract, dxp, dhr, dh_prev):
    # dz = dh (h - n), dn = dh (1 - z), dh_prev (direct) = dh z; r scales hr_n
    one = dh.dtype.type(1)
    u = dh.shape[1]
    for b in range(dh.shape[0]):
        for j in range(u):
            z, r, n = gates[b, j], gates[b, u + j], gates[b, 2 * u + j]
            dn = dh[b, j] * (one - z) * _act_grad(n, act, one)
            dz = dh[b, j] * (h_prev[b, j] - n) * _act_grad(z, ract, one)
            dr = dn * hr[b, 2 * u + j] * _act_grad(r, ract, one)
            dxp[b, j], dxp[b, u + j], dxp[b, 2 * u + j] = dz, dr, dn
            dhr[b, j], dhr[b, u + j], dhr[b, 2 * u + j] = dz, dr, dn * r
            dh_prev[b, j] = dh[b, j] * z


def _gru_backward_np(dh, h_prev, gates, hr, act, ract, dxp, dhr, dh_prev):
    u = dh.shape[1]
    z, r, n = gates[:, :u], gates[:, u : 2 * u], gates[:, 2 * u :]
    dn = dh * (1 - z) * _act_grad_np(n, act)
    dz = dh * (h_prev - n) * _act_grad_np(z, ract)
    dr = dn * hr[:, 2 * u :] * _act_grad_np(r, ract)
    dxp[:, :u], dxp[:, u : 2 * u], dxp[:, 2 * u :] = dz, dr, dn
    dhr[:, :u], dhr[:, u : 2 * u], dhr[:, 2 * u :] = dz, dr, dn * r
    dh_prev[...] = dh * z


TWINS: dict[str, tuple[Callable, Callable]] = {
    "scatter_add_rows": (_scatter_add_rows_jit, _scatter_add_rows_np),
    "tanh_backward": (_tanh_backward_jit, _tanh_backward_np),
    "sigmoid_backward": (_sigmoid_backward_jit, _sigmoid_backward_np),
    "softmax_xent_forward": (_softmax_xent_forward_jit, _softmax_xent_forward_np),
    "softmax_xent_backward": (_softmax_xent_backward_jit, _softmax_xent_backward_np),
    "activate": (_activate_jit, _activate_np),
    "activation_backward": (_activation_backward_jit, _activation_backward_np),
    "lstm_forward": (_lstm_forward_jit, _lstm_forward_np),
    "lstm_backward": (_lstm_backward_jit, _lstm_backward_np),
    "gru_forward": (_gru_forward_jit, _gru_forward_np),
    "gru_backward": (_gru_backward_jit, _gru_backward_np),
}

_chosen = {name: pair[0] if JIT else pair[1] for name, pair in TWINS.items()}


def _flat(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).reshape(-1)


def scatter_add_rows(target: np.ndarray, index: np.ndarray, rows: np.ndarray) -> None:
    """target[index[i]] += rows[i] for every i, in place; repeated indices add up.

    target : (n, width), C-contiguous;  index : (m,) in [0, n);  rows : (m, width)
    """
    _chosen["scatter_add_rows"](
        target, index.astype(np.int64, copy=False), np.ascontiguousarray(rows, dtype=target.dtype)
    )


def tanh_backward(y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """grad * (1 - y^2), the gradient through y = tanh(x); any shape."""
    return _chosen["tanh_backward"](_flat(y), _flat(grad)).reshape(y.shape)


def sigmoid_backward(y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """grad * y * (1 - y), the gradient through y = sigmoid(x); any shape."""
    return _chosen["sigmoid_backward"](_flat(y), _flat(grad)).reshape(y.shape)


def softmax_xent_forward(logits: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row losses -log softmax(logits)[target] and the softmax itself.

    logits : (n, classes);  targets : (n,) ints  ->  losses (n,), probs (n, classes)
    """
    return _chosen["softmax_xent_forward"](np.ascontiguousarray(logits), targets.astype(np.int64, copy=False))


def softmax_xent_backward(probs: np.ndarray, targets: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """d(sum_i grad_i loss_i)/d logits = grad_i (probs_i - onehot(target_i)).

    probs : (n, classes);  targets : (n,) ints;  grad : (n,)  ->  (n, classes)
    """
    return _chosen["softmax_xent_backward"](probs, targets.astype(np.int64, copy=False), _flat(grad))


# The recurrent-step kernels write into the output arrays they are given (the last
# arguments), so that a whole sequence reuses preallocated memory; all arrays are 2-D
# (batch, width) and C-contiguous, and ``act``/``ract`` are ACTIVATION_CODES.
activate = _chosen["activate"]  # (z, act, out): out = f(z)
activation_backward = _chosen["activation_backward"]  # (y, grad, act, out): out = grad f'(z)
lstm_forward = _chosen["lstm_forward"]  # (z, c_prev, act, ract, gates, c, tanh_c, h)
lstm_backward = _chosen["lstm_backward"]  # (dh, dc, gates, c_prev, tanh_c, act, ract, dz, dc_prev)
gru_forward = _chosen["gru_forward"]  # (xp, hr, h_prev, act, ract, gates, h)
gru_backward = _chosen["gru_backward"]  # (dh, h_prev, gates, hr, act, ract, dxp, dhr, dh_prev)


def warm_up() -> None:
    """Compile (or load from Numba's cache) every kernel for float32 and float64."""
    for dtype in (np.float32, np.float64):
        y = np.full(3, 0.5, dtype=dtype)
        tanh_backward(y, y)
        sigmoid_backward(y, y)
        scatter_add_rows(np.zeros((2, 3), dtype=dtype), np.array([0, 1, 0]), np.ones((3, 3), dtype))
        targets = np.array([0, 2])
        losses, probs = softmax_xent_forward(np.zeros((2, 3), dtype=dtype), targets)
        softmax_xent_backward(probs, targets, losses)
        for code in ACTIVATION_CODES.values():
            z = np.zeros((2, 12), dtype=dtype)
            u, ones = np.zeros((2, 3), dtype=dtype), np.ones((2, 3), dtype=dtype)
            activate(u, code, np.empty_like(u))
            activation_backward(u, u, code, np.empty_like(u))
            lstm_forward(z, u, code, 1, z.copy(), u.copy(), u.copy(), u.copy())
            lstm_backward(u, u, z, u, u, code, 1, z.copy(), u.copy())
            gru_forward(z[:, :9], z[:, 9:].repeat(3, 1), ones, code, 1, z[:, :9].copy(), u.copy())
            gru_backward(u, u, z[:, :9].copy(), z[:, :9].copy(), code, 1, z[:, :9].copy(),
                         z[:, :9].copy(), u.copy())  # fmt: skip
