"""The factories: tensors made from a shape and a value (``zeros``, ``ones``, ``full``,
``arange``, the ``_like`` forms) and PyTorch's ``tensor``; the random ones are in
``minigrad.random``."""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.tensor import KINDS, Tensor, as_tuple, check_dtype, unwrap


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """PyTorch's ``torch.tensor``: a Tensor holding a copy of ``data`` (booleans make a mask)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _filled(where: str, shape: tuple[Any, ...], value: Any, dtype: Any, requires_grad: bool) -> Tensor:
    dtype = check_dtype(dtype, where)
    return Tensor(np.full(as_tuple(shape), value, dtype=dtype), requires_grad=requires_grad)


def zeros(*shape: int | tuple[int, ...], dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return _filled("zeros", shape, 0, dtype, requires_grad)


def ones(*shape: int | tuple[int, ...], dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))``."""
    return _filled("ones", shape, 1, dtype, requires_grad)


def full(
    shape: int | tuple[int, ...], fill_value: float, dtype: Any = np.float64, requires_grad: bool = False
) -> Tensor:
    """A tensor of ``fill_value``: ``full((2, 3), 0.5)``."""
    if np.ndim(unwrap(fill_value)) != 0:
        raise ValueError(f"full: fill_value must be one number, got shape {np.shape(unwrap(fill_value))}")
    return _filled("full", (shape,), unwrap(fill_value), dtype, requires_grad)


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``t``'s shape, and of its dtype unless ``dtype`` is given."""
    return _filled("zeros_like", np.shape(unwrap(t)), 0, _like_dtype(t, dtype), requires_grad)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones of ``t``'s shape, and of its dtype unless ``dtype`` is given."""
    return _filled("ones_like", np.shape(unwrap(t)), 1, _like_dtype(t, dtype), requires_grad)


def _like_dtype(t: Any, dtype: Any) -> Any:
    """``dtype`` if given, else t's when a tensor may hold it, else float64 (as ``Tensor(t)``)."""
    if dtype is not None:
        return dtype
    own = np.asarray(unwrap(t)).dtype
    return own if own.type in KINDS else np.float64


def arange(
    start: float,
    end: float | None = None,
    step: float = 1,
    dtype: Any = np.float64,
    requires_grad: bool = False,
) -> Tensor:
    """start, start + step, ... below end (``arange(n)`` is 0..n-1), as floats."""
    dtype = check_dtype(dtype, "arange")
    values = np.arange(start, end, step) if end is not None else np.arange(start)
    return Tensor(values, dtype=dtype, requires_grad=requires_grad)
