"""The one random generator of the project, so that ``manual_seed`` makes runs repeatable."""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.tensor import Tensor, as_tuple, check_dtype

_generator = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Reseed the generator that every initializer, dropout mask and shuffle draws from."""
    global _generator
    _generator = np.random.default_rng(seed)


def generator() -> np.random.Generator:
    """The project-wide generator (draw from it; do not keep it across ``manual_seed``)."""
    return _generator


def _float_dtype(name: str, dtype: Any) -> np.dtype | None:
    dtype = check_dtype(dtype, name)
    if dtype is not None and dtype.kind == "b":
        raise TypeError(f"{name}: random samples are float32 or float64, got dtype bool")
    return dtype


def randn(*shape: int | tuple[int, ...], dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """Standard normal samples: ``randn(2, 3)`` or ``randn((2, 3))``."""
    dtype = _float_dtype("randn", dtype)
    return Tensor(_generator.standard_normal(as_tuple(shape)), dtype=dtype, requires_grad=requires_grad)


def rand(*shape: int | tuple[int, ...], dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1): ``rand(2, 3)`` or ``rand((2, 3))``."""
    dtype = _float_dtype("rand", dtype)
    return Tensor(_generator.random(as_tuple(shape)), dtype=dtype, requires_grad=requires_grad)
