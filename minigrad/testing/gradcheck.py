"""Check analytic gradients against central differences."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
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


def input_names(fn: Callable[..., Any], count: int) -> list[str]:
    """The names of fn's first ``count`` positional parameters, or "input k" where there are none."""
    try:
        params = [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):  # builtins and some callables have no signature
        params = []
    return [params[k] if k < len(params) else f"input {k}" for k in range(count)]


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    names: Sequence[str] | None = None,
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
    names : sequence of str, optional
        What to call each input in a failure message; by default fn's parameter names
        (``lambda x, h: ...`` names them "x" and "h").

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
    labels = list(names) if names is not None else input_names(fn, len(tensors))
    if len(labels) != len(tensors):
        raise ValueError(f"gradcheck: {len(labels)} names for {len(tensors)} inputs")
    weights: list[np.ndarray] = []
    loss = _as_scalar_loss(fn(*tensors), weights)
    if not loss.requires_grad:
        raise AssertionError("gradcheck: fn's output does not depend on any checked input")
    loss.backward()

    def value() -> float:
        with no_grad():
            return float(_as_scalar_loss(fn(*tensors), weights).item())

    for label, t in zip(labels, tensors, strict=True):
        if t.requires_grad:
            analytic = t.grad if t.grad is not None else np.zeros_like(t.data)
            compare(
                "gradcheck", label, analytic, numerical_grad(value, t.data, eps), atol, rtol,
                "gradients of sum(w * fn(*inputs)) with fixed random weights w",
            )  # fmt: skip
    return True


def compare(
    who: str, label: str, analytic: np.ndarray, numeric: np.ndarray, atol: float, rtol: float, about: str
) -> None:
    """Raise AssertionError at the worst element unless |analytic - numeric| <= atol + rtol |numeric|."""
    error = np.abs(analytic - numeric)
    excess = error - (atol + rtol * np.abs(numeric))
    if np.any(excess > 0) or not np.all(np.isfinite(analytic)):
        worst = np.unravel_index(int(np.argmax(np.where(np.isfinite(excess), excess, np.inf))), numeric.shape)
        raise AssertionError(
            f"{who}: the gradient of {label} (shape {numeric.shape}) is wrong at index "
            f"{tuple(int(i) for i in worst)}: analytic {analytic[worst]:.6g}, numeric "
            f"{numeric[worst]:.6g}, |difference| {error[worst]:.3g} > allowed "
            f"{atol + rtol * abs(numeric[worst]):.3g} ({about})"
        )


def check_backward(
    forward: Callable[..., float],
    backward: Callable[..., Mapping[str, Any]],
    inputs: Mapping[str, Any],
    wrt: Sequence[str] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> bool:
    """Assert that a backward written by hand in numpy gives the central differences' gradients.

    For code with no autograd at all (a course's numpy exercises, CS231n style): ``forward``
    computes a scalar loss from the inputs, ``backward`` returns the gradient of that loss
    with respect to each input, by name.

    Parameters
    ----------
    forward : callable
        ``forward(**inputs) -> float``: the loss (a number or a one-element array).
    backward : callable
        ``backward(**inputs) -> {name: gradient}``, each gradient of its input's shape.
    inputs : mapping of str to array_like
        The arguments, by name.  Float arrays are copied to float64 before the check;
        other values (integer labels, say) are passed as they are.
    wrt : sequence of str, optional
        The inputs to check; by default every float array in ``inputs``.
    eps, atol, rtol : float
        As in ``gradcheck``.

    Returns True; raises AssertionError naming the input, the worst element's index,
    both values and the error when a gradient is wrong, missing or mis-shaped.
    """
    args = {
        name: np.array(value, dtype=np.float64) if np.asarray(value).dtype.kind == "f" else value
        for name, value in inputs.items()
    }
    checked = list(wrt) if wrt is not None else [n for n, v in args.items() if isinstance(v, np.ndarray)
                                                 and v.dtype == np.float64]  # fmt: skip
    unknown = [n for n in checked if n not in args]
    if unknown:
        raise ValueError(f"check_backward: wrt names {unknown}, which are not inputs ({list(args)})")
    grads = backward(**{n: v.copy() if isinstance(v, np.ndarray) else v for n, v in args.items()})
    if not isinstance(grads, Mapping):
        raise AssertionError(
            f"check_backward: backward must return a dict of gradients by name, got {type(grads).__name__}"
        )

    def value() -> float:
        loss = np.asarray(forward(**args), dtype=np.float64)
        if loss.size != 1:
            raise AssertionError(f"check_backward: forward must return one number, got shape {loss.shape}")
        return float(loss.reshape(()))

    value()
    for name in checked:
        if name not in grads:
            raise AssertionError(
                f"check_backward: backward returned no gradient for {name} (it gave {list(grads)})"
            )
        analytic = np.asarray(grads[name], dtype=np.float64)
        if analytic.shape != args[name].shape:
            raise AssertionError(
                f"check_backward: the gradient of {name} has shape {analytic.shape}, "
                f"expected {args[name].shape}"
            )
        numeric = numerical_grad(value, args[name], eps)
        compare("check_backward", name, analytic, numeric, atol, rtol, "central differences of forward")
    return True
