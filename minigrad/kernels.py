"""The array kernels behind the ops: each one twice, as a Numba loop and as plain numpy.

The Numba loops are compiled once per machine (``cache=True``) and run where numpy
would make temporaries or is slow (``np.add.at``).  The numpy twins compute the same
numbers and are the readable reference.  The environment variable ``MINIGRAD_JIT``
chooses once, at import: ``1`` (the default) for the Numba loops, ``0`` for the twins.

``TWINS`` maps each kernel's name to its ``(numba, numpy)`` pair, so the tests can
check that the two agree.  The public functions at the end, which the ops call, are named
for what they compute (``grad_times_one_minus_square`` is tanh's backward).
"""

from __future__ import annotations

import os
from collections.abc import Callable

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
    # element by element: a whole-row `target[k] += rows[i]` makes a temporary row per i
    for i in range(index.shape[0]):
        k = index[i]
        for j in range(rows.shape[1]):
            target[k, j] += rows[i, j]


def _scatter_add_rows_np(target, index, rows):
    np.add.at(target, index, rows)


# --- tanh and sigmoid backward, grad * (1 - y^2) and grad * y * (1 - y), fused so that no
# temporaries are made ---
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
# The forward runs in three passes so that each one vectorises: each row less its maximum
# (a compiled loop), numpy's exp over the whole array (its SIMD loop: an exp inside a Numba
# loop is a library call per element), then each row's sum, normalisation and loss.
# error_model="numpy" lets the divisions be vector instructions (Numba's default tests each
# divisor for zero).
@njit(cache=True, error_model="numpy")
def _rows_less_maximum(logits):
    n, c = logits.shape
    shifted = np.empty_like(logits)
    for i in range(n):
        top = logits[i, 0]
        for j in range(1, c):
            top = max(top, logits[i, j])
        for j in range(c):
            shifted[i, j] = logits[i, j] - top
    return shifted


@njit(cache=True, error_model="numpy")
def _normalise_rows(exps, shifted, targets):
    # exps becomes the probabilities in place; loss = log(sum exp(s)) - s[target], s = x - max
    n, c = exps.shape
    losses = np.empty(n, dtype=exps.dtype)
    for i in range(n):
        total = exps[i, 0] - exps[i, 0]  # a zero of the logits' dtype
        for j in range(c):
            total += exps[i, j]
        for j in range(c):
            exps[i, j] /= total
        losses[i] = np.log(total) - shifted[i, targets[i]]
    return losses


def _softmax_xent_forward_jit(logits, targets):
    shifted = _rows_less_maximum(logits)
    probs = np.exp(shifted)
    return _normalise_rows(probs, shifted, targets), probs


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


TWINS: dict[str, tuple[Callable, Callable]] = {
    "scatter_add_rows": (_scatter_add_rows_jit, _scatter_add_rows_np),
    "tanh_backward": (_tanh_backward_jit, _tanh_backward_np),
    "sigmoid_backward": (_sigmoid_backward_jit, _sigmoid_backward_np),
    "softmax_xent_forward": (_softmax_xent_forward_jit, _softmax_xent_forward_np),
    "softmax_xent_backward": (_softmax_xent_backward_jit, _softmax_xent_backward_np),
}

_chosen = {name: pair[0] if JIT else pair[1] for name, pair in TWINS.items()}


def twin(name: str, jitted: Callable, plain: Callable) -> Callable:
    """Register a kernel defined elsewhere (the fused layers' time loops) under ``name`` in
    ``TWINS`` and return the one that ``MINIGRAD_JIT`` chooses."""
    TWINS[name] = (jitted, plain)
    return jitted if JIT else plain


def _flat(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).reshape(-1)


def scatter_add_rows(target: np.ndarray, index: np.ndarray, rows: np.ndarray) -> None:
    """target[index[i]] += rows[i] for every i, in place; repeated indices add up.

    target : (n, width), C-contiguous;  index : (m,) in [0, n);  rows : (m, width)
    """
    _chosen["scatter_add_rows"](
        target, index.astype(np.int64, copy=False), np.ascontiguousarray(rows, dtype=target.dtype)
    )


def grad_times_one_minus_square(y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """grad * (1 - y^2): the gradient through y = tanh(x); any shape."""
    return _chosen["tanh_backward"](_flat(y), _flat(grad)).reshape(y.shape)


def grad_times_y_one_minus_y(y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """grad * y * (1 - y): the gradient through y = sigmoid(x); any shape."""
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


def warm_up() -> None:
    """Compile (or load from Numba's cache) every kernel for float32 and float64."""
    for dtype in (np.float32, np.float64):
        y = np.full(3, 0.5, dtype=dtype)
        grad_times_one_minus_square(y, y)
        grad_times_y_one_minus_y(y, y)
        scatter_add_rows(np.zeros((2, 3), dtype=dtype), np.array([0, 1, 0]), np.ones((3, 3), dtype))
        targets = np.array([0, 2])
        losses, probs = softmax_xent_forward(np.zeros((2, 3), dtype=dtype), targets)
        softmax_xent_backward(probs, targets, losses)
