"""Hypothesis strategies for gradient tests: shapes, arrays, tensors, sequences, and the
masks, lengths and labels that go with sequences.

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
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ValueError(
            f"arrays: dtype must be float32 or float64, got {np.dtype(dtype)} (labels() draws class ids)"
        )
    if distinct and avoid:
        raise ValueError("arrays: distinct values are evenly spaced and cannot also avoid points")
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
    elements = st.floats(low, max_value, allow_nan=False, allow_infinity=False)
    if low <= 0 <= max_value:  # tiny magnitudes (such as float32 subnormals) only test the hardware
        elements = elements.map(lambda v: 0.0 if abs(v) < 1e-6 else v)
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


@st.composite
def lengths(
    draw: Any,
    batch: int | st.SearchStrategy[int] | None = None,
    time: int | st.SearchStrategy[int] | None = None,
) -> np.ndarray:
    """Sequence lengths ``(batch,)`` int64, each in [1, time]: every sequence has a step.

    Each size is an int, a strategy, or None for the default range: batch 1-4, time 1-8.
    """
    size, longest = draw(_strategy(batch, 4)), draw(_strategy(time, 8))
    return np.array(draw(st.lists(st.integers(1, longest), min_size=size, max_size=size)), dtype=np.int64)


@st.composite
def masks(
    draw: Any,
    batch: int | st.SearchStrategy[int] | None = None,
    time: int | st.SearchStrategy[int] | None = None,
    left_aligned: bool = False,
) -> np.ndarray:
    """Boolean masks ``(batch, time)``, True at the steps that count, at least one in every row
    (a row of False has no step to learn from, and Keras gives it no output).

    ``left_aligned=True`` gives padded batches: each row's first ``length`` steps are True and
    the rest, the padding at the end, False.  Otherwise any steps may be False.  Sizes as in
    ``lengths``.
    """
    size, steps = draw(_strategy(batch, 4)), draw(_strategy(time, 8))
    if left_aligned:
        return np.arange(steps) < draw(lengths(size, steps))[:, None]
    rows = st.lists(st.booleans(), min_size=steps, max_size=steps).filter(any)
    return np.array(draw(st.lists(rows, min_size=size, max_size=size)), dtype=bool).reshape(size, steps)


@st.composite
def labels(
    draw: Any,
    shape: Shape | st.SearchStrategy[Shape] | None = None,
    n_classes: int | st.SearchStrategy[int] | None = None,
) -> np.ndarray:
    """Class ids: an int64 array of ``shape`` (default ``shapes()``) with values in
    [0, n_classes) (default 2-5 classes), for cross-entropy targets."""
    shape = shapes() if shape is None else shape
    if isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    classes = draw(_strategy(n_classes, 5)) if n_classes is not None else draw(st.integers(2, 5))
    if classes < 1:
        raise ValueError(f"labels: n_classes must be at least 1, got {classes}")
    return draw(hnp.arrays(np.int64, shape, elements=st.integers(0, classes - 1)))
