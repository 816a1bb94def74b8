"""Check analytic gradients against central differences."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from minigrad.function import no_grad
from minigrad.tensor import Tensor


def _as_scalar_loss(out: Any, weights: list[np.ndarray]) -> Tensor:
    """Reduce fn's output(s) to one number: sum(w * out) with fixed random weights w.

    A plain sum would hide mistakes in ops whose outputs always sum to the same value
    (softmax's do); random weights make every output element count differently.
    """
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    if not weights:
        rng = np.random.default_rng(0)
        weights.extend(rng.uniform(0.5, 1.5, o.shape) for o in outs)
    total = None
    for o, w in zip(outs, weights, strict=True):
        term = (o * w).sum()
        total = term if total is None else total + term
    return total


def numerical_grad(f: Callable[[], float], array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f / d array by central differences, changing ``array`` in place and restoring it.

    ``array`` may have any memory layout (it is indexed, never reshaped into a copy).
    """
    grad = np.zeros(array.shape, dtype=np.float64)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + eps
        up = f()
        array[index] = saved - eps
        down = f()
        array[index] = saved
        grad[index] = (up - down) / (2 * eps)
    return grad


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> bool:
    """Assert that backprop through ``fn`` gives the gradients central differences give.

    Parameters
    ----------
    fn : callable
        Takes the inputs as Tensors and returns a Tensor, or a list or tuple of Tensors.
    inputs : sequence of Tensors or arrays
        Copied to float64.  Every array, and every Tensor with ``requires_grad=True``,
        is checked; a Tensor with ``requires_grad=False`` is passed as a constant.
    eps : float
        Step of the central differences (f(x + eps) - f(x - eps)) / (2 eps).
    atol, rtol : float
        An element passes when |analytic - numeric| <= atol + rtol * |numeric|.

    The function differentiated is sum(w * fn(*inputs)) with fixed random weights w in
    [0.5, 1.5] (one array per output), which reduces to the plain sum's check element by
    element but also catches errors a plain sum cancels.

    Returns True; raises AssertionError naming the input, the worst element's index,
    both values and the error when a gradient is wrong.
    """
    tensors = [
        Tensor(
            np.array(x.data if isinstance(x, Tensor) else x, dtype=np.float64),
            requires_grad=x.requires_grad if isinstance(x, Tensor) else True,
        )
        for x in inputs
    ]
    weights: list[np.ndarray] = []
    loss = _as_scalar_loss(fn(*tensors), weights)
    if not loss.requires_grad:
        raise AssertionError("gradcheck: fn's output does not depend on any checked input")
    loss.backward()

    def value() -> float:
        with no_grad():
            return float(_as_scalar_loss(fn(*tensors), weights).item())

    for k, t in enumerate(tensors):
        if not t.requires_grad:
            continue
        analytic = t.grad if t.grad is not None else np.zeros_like(t.data)
        numeric = numerical_grad(value, t.data, eps)
        error = np.abs(analytic - numeric)
        excess = error - (atol + rtol * np.abs(numeric))
        if np.any(excess > 0) or not np.all(np.isfinite(analytic)):
            worst = np.unravel_index(int(np.argmax(np.where(np.isfinite(excess), excess, np.inf))), t.shape)
            raise AssertionError(
                f"gradcheck: the gradient of input {k} (shape {t.shape}) is wrong at index "
                f"{tuple(int(i) for i in worst)}: analytic {analytic[worst]:.6g}, numeric "
                f"{numeric[worst]:.6g}, |difference| {error[worst]:.3g} > allowed "
                f"{atol + rtol * abs(numeric[worst]):.3g} (gradients of sum(w * fn(*inputs)) "
                f"with fixed random weights w)"
            )
    return True
