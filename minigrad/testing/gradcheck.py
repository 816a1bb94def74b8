"""Check analytic gradients against central differences."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from minigrad.grad_mode import no_grad
from minigrad.tensor import Tensor
from minigrad.testing.report import (
    Tolerance,
    format_jacobians,
    require_deterministic,
    require_finite,
    require_match,
)

# float32 has 24 bits: a step of 1e-6 would be lost in the rounding of x + eps, so float32
# functions are differentiated with a larger step and compared more loosely (as JAX's
# check_grads and torch's advice to check in double do).
FLOAT32 = Tolerance(eps=1e-3, atol=1e-3, rtol=1e-2)


def numerical_grad(f: Callable[[], float], array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f / d array by central differences, changing ``array`` in place and restoring it.

    ``array`` may have any memory layout (it is indexed, never reshaped into a copy) and must
    hold floats.  Each difference is divided by the step actually taken (x + eps rounded to
    the array's dtype, minus x - eps rounded), not by 2 eps.
    """
    return numerical_jacobian(lambda: np.array([f()], dtype=np.float64), array, eps)[0].reshape(array.shape)


def numerical_jacobian(f: Callable[[], np.ndarray], array: np.ndarray, eps: float) -> np.ndarray:
    """d f / d array as a matrix (f's size, array's size), by central differences; ``f``
    returns a flat float64 array.  ``array`` is changed in place and restored."""
    if array.dtype.kind != "f":
        raise TypeError(
            f"numerical gradient: the array must hold floats, got {array.dtype} "
            "(x + eps would round back to x)"
        )
    columns = []
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + eps
        up_at, up = float(array[index]), f()
        array[index] = saved - eps
        down_at, down = float(array[index]), f()
        array[index] = saved
        columns.append((up - down) / (up_at - down_at))
    return np.stack(columns, axis=1) if columns else np.zeros((f().size, 0))


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


def _float_dtype(x: Any) -> np.dtype | None:
    """The dtype of a checked input (a float array or a Tensor that requires grad), else None."""
    if isinstance(x, Tensor):
        return x.data.dtype if x.requires_grad else None
    dtype = np.asarray(x).dtype
    return dtype if dtype.kind == "f" else None


def _arguments(inputs: Sequence[Any], checked: list[bool], dtype: Any) -> list[Any]:
    """fn's arguments for one pass: checked inputs as fresh Tensors of ``dtype`` (None keeps
    each input's own), float constants as Tensors, integer and boolean inputs as given."""
    args = []
    for x, check in zip(inputs, checked, strict=True):
        if isinstance(x, Tensor) or check:
            data = x.data if isinstance(x, Tensor) else np.asarray(x)
            args.append(Tensor(np.array(data, dtype=dtype or data.dtype), requires_grad=check))
        else:
            args.append(x.copy() if isinstance(x, np.ndarray) else x)
    return args


def _outputs(out: Any) -> list[Tensor]:
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    wrong = [type(o).__name__ for o in outs if not isinstance(o, Tensor)]
    if wrong or not outs:
        raise TypeError(
            f"gradcheck: fn must return a Tensor or a list or tuple of Tensors, got {wrong or outs}"
        )
    return outs


def _weighted_sum(outputs: list[Tensor], weights: list[np.ndarray]) -> Tensor:
    """sum(w * out) over every output, in the outputs' own dtype."""
    terms = [(o * w).sum() for o, w in zip(outputs, weights, strict=True)]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any] | Tensor | np.ndarray,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    names: Sequence[str] | None = None,
    *,
    nondet_tol: float = 0.0,
    float32: Tolerance = FLOAT32,
    max_reported: int = 10,
    show_jacobians: bool = False,
) -> bool:
    """Assert that backprop through ``fn`` gives the gradients central differences give.

    Parameters
    ----------
    fn : callable
        Takes the inputs (float ones as Tensors) and returns a Tensor, or a list or tuple of
        Tensors, each finite at the inputs.
    inputs : sequence of Tensors, arrays or numbers, or one Tensor or array
        Every float array or number, and every Tensor with ``requires_grad=True``, is
        checked.  A Tensor with ``requires_grad=False`` is passed as a constant; integer and
        boolean arrays and numbers (class ids, masks, sizes) are passed as given, never
        perturbed, as torch's gradcheck does.
    eps : float
        Step of the central differences (f(x + eps) - f(x - eps)) / (2 eps), in float64.
    atol, rtol : float
        An element passes when |analytic - numeric| <= atol + rtol * |numeric|.
    names : sequence of str, optional
        What to call each input in a failure message; by default fn's parameter names
        (``lambda x, h: ...`` names them "x" and "h").
    nondet_tol : float
        How far two calls of fn at the same inputs may differ (torch's name).  By default
        they must agree exactly: a random fn (dropout) is refused with a message saying how
        to check it (seed the generator inside fn, or pass the mask in).
    float32 : Tolerance
        eps, atol and rtol of the second pass that a function of float32 inputs gets.
    max_reported : int
        How many wrong elements a failure lists, for each input.
    show_jacobians : bool
        On failure, add both full Jacobians (d output / d input, one row per output
        element) to the message.

    The check runs in float64, every float input copied to float64; where a checked input
    is float32, it runs again in the inputs' own dtypes with ``float32``'s step and
    tolerances (a float32 bug, such as a cancellation or an overflow, shows only there).  The function
    differentiated is sum(w * fn(*inputs)) with fixed random weights w in [0.5, 1.5] (one
    array per output): a plain sum would hide errors that cancel (softmax's outputs always
    sum to 1).

    Returns True; raises AssertionError when fn's output, an analytic or a numeric gradient
    is not finite, when two calls of fn differ, or when a gradient is wrong, naming the
    input and every wrong element (up to ``max_reported``) with both values.
    """
    if isinstance(inputs, (Tensor, np.ndarray)):
        inputs = [inputs]
    dtypes = [_float_dtype(x) for x in inputs]
    checked = [d is not None for d in dtypes]
    labels = list(names) if names is not None else input_names(fn, len(checked))
    if len(labels) != len(checked):
        raise ValueError(f"gradcheck: {len(labels)} names for {len(checked)} inputs")
    settings = _Settings(nondet_tol, max_reported, show_jacobians)
    for dtype, tolerance in _passes(
        any(d == np.float32 for d in dtypes), Tolerance(eps, atol, rtol), float32
    ):
        _check_pass(fn, inputs, checked, labels, dtype, tolerance, settings)
    return True


class _Settings(NamedTuple):
    """What gradcheck and check_backward pass on unchanged to each of their passes."""

    nondet_tol: float
    max_reported: int
    show_details: bool


def _passes(has_float32: bool, tolerance: Tolerance, float32: Tolerance) -> list[tuple[Any, Tolerance]]:
    """(dtype, tolerance) of each pass: float64 always, and the inputs' own dtypes with
    ``float32``'s step and tolerances when a checked input is float32."""
    return [(np.float64, tolerance), *([(None, float32)] if has_float32 else [])]


def _check_pass(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    checked: list[bool],
    labels: list[str],
    dtype: Any,
    tolerance: Tolerance,
    settings: _Settings,
) -> None:
    """One pass of gradcheck: every input in ``dtype`` (None: in its own dtype)."""
    where = "in float64" if dtype is not None else "in the inputs' own dtypes (float32)"
    args = _arguments(inputs, checked, dtype)
    outputs, weights = _backprop_weighted_sum(fn, args, where, settings.max_reported)

    def flat_outputs() -> np.ndarray:
        with no_grad():
            outs = _outputs(fn(*args))
        return np.concatenate([np.asarray(o.data, dtype=np.float64).ravel() for o in outs])

    first = np.concatenate([o.data.astype(np.float64).ravel() for o in outputs])
    require_deterministic(first, [flat_outputs(), flat_outputs()], settings.nondet_tol)
    flat_weights = np.concatenate([w.astype(np.float64).ravel() for w in weights])
    about = f"gradients of sum(w * fn(*inputs)) with fixed random weights w, {where}"
    for k, label in enumerate(labels):
        if not checked[k]:
            continue
        t = args[k]
        analytic = t.grad if t.grad is not None else np.zeros_like(t.data)
        jacobian = numerical_jacobian(flat_outputs, t.data, tolerance.eps)
        numeric = (flat_weights @ jacobian).reshape(t.shape)
        require_finite(
            analytic, f"gradcheck: the analytic gradient of {label} ({where})", settings.max_reported
        )
        require_finite(
            numeric,
            f"gradcheck: the numeric gradient of {label} ({where}): fn is not finite within "
            f"eps = {tolerance.eps:g} of the inputs, or jumps there;",
            settings.max_reported,
        )
        details = None
        if settings.show_details:
            details = lambda k=k, j=jacobian: format_jacobians(_analytic_jacobian(fn, args, k), j)  # noqa: E731
        require_match("gradcheck", label, analytic, numeric, tolerance, about, settings.max_reported, details)


def _backprop_weighted_sum(
    fn: Callable[..., Any], args: list[Any], where: str, max_reported: int
) -> tuple[list[Tensor], list[np.ndarray]]:
    """fn's outputs at ``args`` and fixed random weights w, one array per output, after
    backward through sum(w * outputs) has filled the checked inputs' ``grad``."""
    outputs = _outputs(fn(*args))
    for k, o in enumerate(outputs):
        require_finite(o.data, f"gradcheck: fn's output {k} at the inputs ({where})", max_reported)
    rng = np.random.default_rng(0)
    weights = [rng.uniform(0.5, 1.5, o.shape).astype(o.data.dtype) for o in outputs]
    loss = _weighted_sum(outputs, weights)
    if not loss.requires_grad:
        raise AssertionError(
            "gradcheck: fn's output does not depend on any checked input (integer and boolean "
            "inputs are constants: pass floats to check them)"
        )
    loss.backward()
    return outputs, weights


def _analytic_jacobian(fn: Callable[..., Any], args: list[Any], k: int) -> np.ndarray:
    """d outputs / d args[k] by backprop, one backward per output element: (outputs' size, size)."""
    rows = []
    size = sum(o.data.size for o in _outputs(fn(*args)))
    for i in range(size):
        for a in args:
            if isinstance(a, Tensor):
                a.grad = None
        outputs = _outputs(fn(*args))
        offsets = np.cumsum([0] + [o.data.size for o in outputs])
        picks = [np.zeros(o.shape) for o in outputs]
        j = int(np.searchsorted(offsets, i, side="right")) - 1
        picks[j].reshape(-1)[i - offsets[j]] = 1.0
        _weighted_sum(
            outputs, [p.astype(o.data.dtype) for o, p in zip(outputs, picks, strict=True)]
        ).backward()
        grad = args[k].grad
        rows.append(np.zeros(args[k].data.size) if grad is None else np.asarray(grad, np.float64).ravel())
    return np.array(rows).reshape(size, args[k].data.size)


def check_backward(
    forward: Callable[..., float],
    backward: Callable[..., Mapping[str, Any]],
    inputs: Mapping[str, Any],
    wrt: Sequence[str] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    *,
    nondet_tol: float = 0.0,
    float32: Tolerance = FLOAT32,
    max_reported: int = 10,
    show_gradients: bool = False,
) -> bool:
    """Assert that a backward written by hand in numpy gives the central differences' gradients.

    For code with no autograd at all (a course's numpy exercises, CS231n style): ``forward``
    computes a scalar loss from the inputs, ``backward`` returns the gradient of that loss
    with respect to each input, by name.

    Parameters
    ----------
    forward : callable
        ``forward(**inputs) -> float``: the loss (a finite number or a one-element array).
    backward : callable
        ``backward(**inputs) -> {name: gradient}``, each gradient of its input's shape.
    inputs : mapping of str to array_like
        The arguments, by name.  Float arrays are copied to float64 for the check; integer
        and boolean values (labels, masks) are constants, passed as they are.
    wrt : sequence of str, optional
        The inputs to check; by default every float input.
    eps, atol, rtol, nondet_tol, float32, max_reported : as in ``gradcheck``
        (a float32 input gets a second pass in float32, as there).
    show_gradients : bool
        On failure, add both full gradients to the message.

    Returns True; raises AssertionError when the loss or a gradient is not finite, two calls
    of forward differ, or a gradient is wrong, missing or mis-shaped, naming the input and
    every wrong element (up to ``max_reported``) with both values.
    """
    floats, checked = _names_to_check(inputs, wrt)
    settings = _Settings(nondet_tol, max_reported, show_gradients)
    has_float32 = any(np.asarray(inputs[n]).dtype == np.float32 for n in checked)
    for dtype, tolerance in _passes(has_float32, Tolerance(eps, atol, rtol), float32):
        args = {
            n: np.array(v, dtype=dtype or np.asarray(v).dtype) if n in floats else v
            for n, v in inputs.items()
        }
        _check_backward_pass(forward, backward, args, checked, tolerance, settings)
    return True


def _names_to_check(inputs: Mapping[str, Any], wrt: Sequence[str] | None) -> tuple[set[str], list[str]]:
    """The names of the float inputs, and of those to check: ``wrt``, refused unless each
    names a float input, or every float input."""
    floats = {n for n, v in inputs.items() if np.asarray(v).dtype.kind == "f"}
    checked = list(wrt) if wrt is not None else [n for n in inputs if n in floats]
    unknown = [n for n in checked if n not in inputs]
    if unknown:
        raise ValueError(f"check_backward: wrt names {unknown}, which are not inputs ({list(inputs)})")
    constant = [n for n in checked if n not in floats]
    if constant:
        raise ValueError(
            f"check_backward: wrt names {constant}, which are not float arrays: integer and "
            "boolean inputs are constants, with no gradient"
        )
    return floats, checked


def _check_backward_pass(
    forward: Callable[..., float],
    backward: Callable[..., Mapping[str, Any]],
    args: dict[str, Any],
    checked: list[str],
    tolerance: Tolerance,
    settings: _Settings,
) -> None:
    """One pass of check_backward, at ``args``: each checked gradient against central differences."""
    grads = backward(**{n: v.copy() if isinstance(v, np.ndarray) else v for n, v in args.items()})
    if not isinstance(grads, Mapping):
        raise AssertionError(
            f"check_backward: backward must return a dict of gradients by name, got {type(grads).__name__}"
        )

    def value() -> np.ndarray:
        loss = np.asarray(forward(**args), dtype=np.float64)
        if loss.size != 1:
            raise AssertionError(f"check_backward: forward must return one number, got shape {loss.shape}")
        return loss.reshape(1)

    first = value()
    require_finite(first, "check_backward: the loss forward returns at the inputs", settings.max_reported)
    require_deterministic(
        first, [value(), value()], settings.nondet_tol, who="check_backward", what="forward"
    )
    for name in checked:
        analytic = _returned_gradient(grads, name, args[name].shape, settings.max_reported)
        numeric = numerical_jacobian(value, args[name], tolerance.eps)[0].reshape(args[name].shape)
        require_finite(
            numeric,
            f"check_backward: the numeric gradient of {name}: forward is not finite within "
            f"eps = {tolerance.eps:g} of the inputs, or jumps there;",
            settings.max_reported,
        )
        details = None
        if settings.show_details:
            details = lambda a=analytic, n=numeric: format_jacobians(a, n, "gradients")  # noqa: E731
        about = f"central differences of forward, {args[name].dtype}"
        require_match(
            "check_backward",
            name,
            analytic.astype(np.float64),
            numeric,
            tolerance,
            about,
            settings.max_reported,
            details,
        )


def _returned_gradient(
    grads: Mapping[str, Any], name: str, shape: tuple[int, ...], max_reported: int
) -> np.ndarray:
    """The gradient of ``name`` that backward returned, refused if missing, mis-shaped or not finite."""
    if name not in grads:
        raise AssertionError(
            f"check_backward: backward returned no gradient for {name} (it gave {list(grads)})"
        )
    analytic = np.asarray(grads[name])
    if analytic.shape != shape:
        raise AssertionError(
            f"check_backward: the gradient of {name} has shape {analytic.shape}, expected {shape}"
        )
    require_finite(analytic, f"check_backward: the gradient of {name} that backward returned", max_reported)
    return analytic
