"""The base class of every differentiable op.

A ``Function`` sees only numpy arrays: ``forward`` computes the output from the input
arrays and keeps on ``self`` whatever ``backward`` will need; ``backward`` receives the
gradient of the loss with respect to the output and returns one gradient per input
(the chain rule: dL/dinput = dL/doutput * doutput/dinput).  ``apply`` wraps the two in
Tensors and records the op in the graph when a gradient will be wanted.  An op may make
several outputs (``forward`` returns a tuple of arrays, ``apply`` a tuple of Tensors); its
``backward`` then receives one gradient per output.

The switches ``no_grad`` and ``detect_anomaly`` live in ``minigrad.grad_mode`` and are
importable from here too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad import grad_mode
from minigrad.engine import check_finite
from minigrad.grad_mode import detect_anomaly, is_grad_enabled, no_grad

__all__ = ["Function", "detect_anomaly", "is_grad_enabled", "no_grad"]

_BOOL = np.dtype(bool)


class Function:
    """One differentiable op.  Subclasses define ``forward`` and ``backward``.

    Use an op through ``apply``: ``Mul.apply(a, b)`` returns a Tensor whose ``grad_fn`` is
    the Function object that made it.

    Attributes
    ----------
    needs_input_grad : tuple of bool
        For each input, whether it requires a gradient; ``backward`` may return None for
        the others.
    parents : tuple of Tensor
        The input tensors of this op, in the order they were passed to ``apply`` (set when
        the op is recorded; empty once ``backward`` has freed the graph).
    output_specs : tuple of (shape, dtype)
        One entry per output, set when the op is recorded: most ops make one, a fused
        recurrent layer makes its outputs and its final states.  Each output tensor's
        ``output_index`` is its place here.
    version_counters, versions_at_forward
        The version counters of the op's inputs and outputs and their values when the op
        ran, which the engine compares before backward (``engine.check_versions``).
    """

    released = False  # set by the engine when backward frees the graph
    # A boolean input (a mask) comes into forward as floats (0 and 1, of the float inputs'
    # dtype), as PyTorch promotes it, unless the op keeps booleans as they are (shape ops).
    takes_bool = False
    # The op's output may be a view of its first input (reshape, transpose, a slice): then the
    # two share one version counter, so that changing either in place is seen by both.
    shares_input_memory = False
    # True for ops whose backward never writes into its incoming gradients; the engine hands
    # the others read-only views (see ``engine.read_only``).
    leaves_grads_unchanged = False

    def forward(self, *arrays: np.ndarray, **params: Any) -> np.ndarray | tuple[np.ndarray, ...]:
        raise NotImplementedError

    def backward(self, *grads: np.ndarray) -> tuple[np.ndarray | None, ...]:
        """dL/d(each input) from dL/d(each output): one gradient per output comes in (zeros
        for an output the loss does not reach), one per input goes out."""
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Any:
        """Run the op on Tensors (or scalars and arrays, lifted to Tensors) and record it.

        Returns one Tensor, or a tuple of Tensors for an op whose ``forward`` returns a
        tuple of arrays (its ``backward`` then takes one gradient per output)."""
        tensors = lift(inputs, cls.takes_bool)
        fn = cls()
        fn.needs_input_grad = tuple([t.requires_grad for t in tensors])
        data = fn.forward(*[t.data for t in tensors], **params)
        arrays = data if isinstance(data, tuple) else (data,)
        if grad_mode.anomaly_checks:
            for array in arrays:
                check_finite(array, cls)
        record = grad_mode.recording and any(fn.needs_input_grad)
        outputs = [wrap(array, record) for array in arrays]
        if cls.shares_input_memory and np.may_share_memory(arrays[0], tensors[0].data):
            outputs[0].version_counter = tensors[0].version_counter
        if record:
            enter_graph(fn, tensors, outputs)
        return tuple(outputs) if isinstance(data, tuple) else outputs[0]


def enter_graph(op: Function, inputs: tuple[Tensor, ...], outputs: list[Tensor]) -> None:
    """Record ``op`` as the maker of ``outputs``: its inputs, the (shape, dtype) of its outputs,
    and the version counters the engine checks before op's backward."""
    op.parents = inputs
    op.output_specs = tuple([(out.data.shape, out.data.dtype) for out in outputs])
    op.version_counters = [t.version_counter for t in inputs] + [out.version_counter for out in outputs]
    op.versions_at_forward = [counter.value for counter in op.version_counters]
    for index, out in enumerate(outputs):
        out.grad_fn, out.output_index = op, index


def lift(inputs: tuple[Any, ...], takes_bool: bool) -> tuple[Tensor, ...]:
    """An op's inputs as Tensors: numbers and arrays lifted (a Python number takes a tensor
    input's dtype) and, unless the op takes booleans, masks turned into 0.0 and 1.0 of the
    float inputs' dtype (float64 when there is none)."""
    for x in inputs:
        if not isinstance(x, Tensor) or x.data.dtype is _BOOL:
            break
    else:
        return inputs  # the common case: tensors of floats, nothing to do
    like = next((x for x in inputs if isinstance(x, Tensor) and x.data.dtype is not _BOOL), None)
    tensors = tuple(as_tensor(x, like) for x in inputs)
    if takes_bool:
        return tensors
    dtype = np.float64 if like is None else like.dtype
    return tuple(wrap(t.data.astype(dtype)) if t.data.dtype is _BOOL else t for t in tensors)


# Tensor builds on Function (its operators call the ops), so it is imported once Function exists.
from minigrad.tensor import Tensor, as_tensor, wrap  # noqa: E402
