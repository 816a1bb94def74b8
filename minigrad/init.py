"""Weight initializers with Keras's names and formulas, all drawn from ``mg.manual_seed``'s
generator.  Each takes a shape and a dtype and returns a numpy array.

The environment variable ``MINIGRAD_INIT_NUDGE`` (read once, at import) is a rounding
perturbation for checking that a result does not ride on the last bit: ``1`` moves every
nonzero initial weight that a layer draws through ``get`` one unit in the last place up
(``np.nextafter`` toward +inf, in the weight's own dtype), as another processor's rounding
might; zeros stay zero.  ``0``, the default, changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from minigrad.random import generator

Initializer = Callable[[tuple[int, ...], Any], np.ndarray]

_nudge_setting = os.environ.get("MINIGRAD_INIT_NUDGE", "0")
if _nudge_setting not in ("0", "1"):
    raise ValueError(f"MINIGRAD_INIT_NUDGE must be '0' or '1', got {_nudge_setting!r}")
NUDGE: bool = _nudge_setting == "1"


def _float_dtype(name: str, dtype: Any) -> np.dtype:
    """Weights are float32 or float64: an integer dtype would truncate the draws to zeros."""
    dtype = np.dtype(dtype)
    if dtype.type not in (np.float32, np.float64):
        raise TypeError(f"init.{name}: weights are float32 or float64, got dtype {dtype}")
    return dtype


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Keras's fan_in and fan_out: (inputs, outputs) of a matrix; a vector's length for both;
    for a kernel of more dims the last two, times the size of the rest (its receptive field)."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = int(np.prod(shape[:-2]))
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def zeros(shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    return np.zeros(shape, dtype=_float_dtype("zeros", dtype))


def ones(shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    return np.ones(shape, dtype=_float_dtype("ones", dtype))


def uniform(shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    """U(-0.05, 0.05), Keras's RandomUniform default."""
    dtype = _float_dtype("uniform", dtype)
    return generator().uniform(-0.05, 0.05, shape).astype(dtype)


def glorot_uniform(shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    """U(-limit, limit) with limit = sqrt(6 / (fan_in + fan_out)), the fans as Keras counts
    them (a matrix of shape (fan_in, fan_out))."""
    dtype = _float_dtype("glorot_uniform", dtype)
    fan_in, fan_out = _fans(tuple(shape))
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return generator().uniform(-limit, limit, shape).astype(dtype)


def orthogonal(shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    """A matrix with orthonormal rows or columns (whichever are fewer), from the QR
    decomposition of a Gaussian matrix, signs fixed so that the result is uniform.  A shape
    of more dims is drawn as the matrix (product of the leading dims, last dim), as in Keras."""
    dtype = _float_dtype("orthogonal", dtype)
    if len(shape) < 2:
        raise ValueError(f"init.orthogonal: the shape needs at least 2 dims, got {tuple(shape)}")
    rows, cols = int(np.prod(shape[:-1])), shape[-1]
    a = generator().standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    return (q.T if rows < cols else q).reshape(shape).astype(dtype)


def identity(shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    """The identity matrix (ones on the diagonal of a non-square shape): the recurrent
    weights of an IRNN, the identity-initialised ReLU RNN."""
    if len(shape) != 2:
        raise ValueError(f"init.identity: the shape must have 2 dims, got {tuple(shape)}")
    return np.eye(*shape, dtype=_float_dtype("identity", dtype))


INITIALIZERS: dict[str, Initializer] = {
    "zeros": zeros,
    "ones": ones,
    "uniform": uniform,
    "glorot_uniform": glorot_uniform,
    "orthogonal": orthogonal,
    "identity": identity,
}


def nudged(initializer: Initializer) -> Initializer:
    """``initializer`` with every nonzero value moved one unit in the last place toward +inf."""

    def draw(shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
        values = np.asarray(initializer(shape, dtype))
        up = np.nextafter(values, np.array(np.inf, dtype=values.dtype))
        return np.where(values != 0, up, values)

    return draw


def get(name_or_fn: str | Initializer) -> Initializer:
    """An initializer by Keras name, or a callable ``f(shape, dtype)`` as it is; under
    ``MINIGRAD_INIT_NUDGE=1`` either one ``nudged``."""
    if not callable(name_or_fn) and name_or_fn not in INITIALIZERS:
        raise ValueError(
            f"unknown initializer {name_or_fn!r}; expected one of {sorted(INITIALIZERS)} "
            "or a callable f(shape, dtype)"
        )
    initializer = name_or_fn if callable(name_or_fn) else INITIALIZERS[name_or_fn]
    return nudged(initializer) if NUDGE else initializer
