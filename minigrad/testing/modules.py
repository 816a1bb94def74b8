"""Check a Module's gradients with respect to its own weights."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from minigrad.function import no_grad
from minigrad.tensor import Tensor
from minigrad.testing.gradcheck import FLOAT32, _outputs, _weighted_sum, numerical_jacobian
from minigrad.testing.report import Tolerance, require_deterministic, require_finite, require_match


def gradcheck_module(
    module: Any,
    inputs: Sequence[Any] | Tensor | np.ndarray,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    *,
    nondet_tol: float = 0.0,
    float32: Tolerance = FLOAT32,
    max_reported: int = 10,
) -> bool:
    """Assert that backprop through ``module(*inputs)`` gives its weights the gradients that
    central differences give.

    Parameters
    ----------
    module : layers.Module
        Called as ``module(*inputs)``; returns a Tensor or a list or tuple of Tensors.  Built
        by that first call if it is not yet.  Put it in evaluation mode (``module.eval()``)
        or seed its randomness first: dropout in training mode is refused, as in gradcheck.
    inputs : sequence of arrays or Tensors, or one array or Tensor
        Passed as they are; they are constants here (check them with ``gradcheck``).
    eps, atol, rtol : float
        As in ``gradcheck``, for float64 weights.
    nondet_tol, max_reported : as in ``gradcheck``
    float32 : Tolerance
        eps, atol and rtol used instead where the module's weights are float32.

    Every trainable weight (``requires_grad``) is checked.  The weights are perturbed in
    place, one element at a time, in their own dtype, and restored; their ``.grad`` is left
    as it was.  The function differentiated is sum(w * module(*inputs)) with fixed random
    weights w, as in gradcheck.  A failure names the weight by its dotted name
    (``cell.kernel``) and every wrong element.

    Returns True, or raises AssertionError.
    """
    if isinstance(inputs, (Tensor, np.ndarray)):
        inputs = [inputs]

    def outputs() -> list[Tensor]:
        return _outputs(module(*inputs))

    with no_grad():
        first = outputs()  # builds the module if it is not yet
    named = [(name, p) for name, p in module.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError(f"gradcheck_module: {type(module).__name__} has no trainable parameters to check")
    saved_grads = [p.grad for _, p in named]
    try:
        _check_weights(outputs, first, named, Tolerance(eps, atol, rtol), float32, nondet_tol, max_reported)
    finally:
        for (_, p), grad in zip(named, saved_grads, strict=True):
            p.grad = grad
    return True


def _check_weights(
    outputs: Any,
    first: list[Tensor],
    named: list[tuple[str, Tensor]],
    tolerance64: Tolerance,
    tolerance32: Tolerance,
    nondet_tol: float,
    max_reported: int,
) -> None:
    for k, o in enumerate(first):
        require_finite(o.data, f"gradcheck_module: the module's output {k}", max_reported)

    def flat() -> np.ndarray:
        with no_grad():
            return np.concatenate([np.asarray(o.data, np.float64).ravel() for o in outputs()])

    require_deterministic(flat(), [flat(), flat()], nondet_tol, who="gradcheck_module", what="the module")
    rng = np.random.default_rng(0)
    weights = [rng.uniform(0.5, 1.5, o.shape).astype(o.data.dtype) for o in first]
    for _, p in named:
        p.grad = None
    _weighted_sum(outputs(), weights).backward()
    flat_weights = np.concatenate([w.astype(np.float64).ravel() for w in weights])
    for name, p in named:
        tolerance = tolerance32 if p.data.dtype == np.float32 else tolerance64
        analytic = np.zeros(p.shape) if p.grad is None else np.asarray(p.grad, np.float64)
        require_finite(analytic, f"gradcheck_module: the analytic gradient of {name}", max_reported)
        numeric = (flat_weights @ numerical_jacobian(flat, p.data, tolerance.eps)).reshape(p.shape)
        require_finite(numeric, f"gradcheck_module: the numeric gradient of {name}", max_reported)
        about = f"gradients of sum(w * module(*inputs)) with fixed random weights w, {p.data.dtype}"
        require_match("gradcheck_module", name, analytic, numeric, tolerance, about, max_reported)
