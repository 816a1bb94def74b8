"""Hypothesis strategies for gradient tests: shapes, arrays, tensors and sequences.

The arrays are finite and well conditioned by default: values in [-2, 2] and none of
magnitude below 1e-6 other than zero, optionally
kept away from points where an op is not differentiable (``avoid``) or spaced apart so
that no two are nearly equal (``distinct``, for max).
"""

from __future__ import annotations

from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import strategies as st

from minigrad.tensor import Tensor

Shape = tuple[int, ...]


def shapes(
    min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4
) -> st.SearchStrategy[Shape]:
    """Array shapes, e.g. (), (3,), (2, 1, 4)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(
    num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3, max_side: int = 4
) -> st.SearchStrategy[tuple[Shape, ...]]:
    """``num_shapes`` shapes that broadcast together, stretching in every direction:
    missing leading axes and size-1 axes on either side."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, max_side=max_side
    ).map(lambda r: r.input_shapes)


@st.composite
def arrays(
    draw: Any,
    shape: Shape | st.SearchStrategy[Shape] | None = None,
    dtype: Any = np.float64,
    min_value: float = -2.0,
    max_value: float = 2.0,
    positive: bool = False,
    avoid: tuple[float, ...] = (),
    margin: float = 0.05,
    distinct: bool = False,
) -> np.ndarray:
    """Finite float arrays.

    Parameters
    ----------
    shape : a shape, a strategy for one, or None for ``shapes()``
    dtype : float32 or float64
    min_value, max_value : bounds of the values
    positive : draw from [max(min_value, 0.5), max_value] instead (for log, division, roots)
    avoid : points (kinks such as 0 for relu) that every value stays ``margin`` away from
    distinct : evenly spaced values in a random order, (max_value - min_value) / size
        apart, so that max has no near-ties
    """
    if shape is None:
        shape = shapes()
    if isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    low = max(min_value, 0.5) if positive else min_value
    if distinct:
        size = int(np.prod(shape))
        spacing = (max_value - low) / max(size, 1)
        order = np.array(draw(st.permutations(range(size))), dtype=np.float64)
        return (low + spacing * (order + 0.5)).reshape(shape).astype(dtype)
    # tiny magnitudes (such as float32 subnormals) become 0: they only test the hardware
    elements = st.floats(low, max_value, allow_nan=False, allow_infinity=False).map(
        lambda v: 0.0 if abs(v) < 1e-6 else v
    )
    if avoid:
        elements = elements.filter(lambda v: all(abs(v - p) >= margin for p in avoid))
    return draw(hnp.arrays(np.float64, shape, elements=elements)).astype(dtype)


def tensors(requires_grad: bool = True, **kwargs: Any) -> st.SearchStrategy[Tensor]:
    """Tensors over ``arrays(**kwargs)``."""
    return arrays(**kwargs).map(lambda a: Tensor(a, requires_grad=requires_grad))


def _strategy(value: int | st.SearchStrategy[int] | None, largest: int) -> st.SearchStrategy[int]:
    if value is None:
        return st.integers(1, largest)
    return value if isinstance(value, st.SearchStrategy) else st.just(value)


@st.composite
def sequences(
    draw: Any,
    batch: int | st.SearchStrategy[int] | None = None,
    time: int | st.SearchStrategy[int] | None = None,
    features: int | st.SearchStrategy[int] | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """Batch-first sequence data ``x : (batch, time, features)``.

    Each size is an int, a strategy, or None for the default range: batch 1-4, time 1-8,
    features 1-5.  Other keyword arguments go to ``arrays``.
    """
    shape = (
        draw(_strategy(batch, 4)),
        draw(_strategy(time, 8)),
        draw(_strategy(features, 5)),
    )
    return draw(arrays(shape=shape, **kwargs))
