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

import weakref
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
        The input tensors of this op, in the order they were passed to ``apply`` (empty
        once ``backward`` has freed the graph); ``inputs`` holds them as recorded.
    output_specs : tuple of (shape, dtype)
        One entry per output, set when the op is recorded: most ops make one, a fused
        recurrent layer makes its outputs and its final states.  Each output tensor's
        ``output_index`` is its place here.
    output_versions, changes_at_forward
        The version counters of the op's outputs (none unless ``reads_outputs``), and the
        count of in-place changes when the op ran, which the engine checks before backward
        (``engine.check_versions``).
    """

    released = False  # set by the engine when backward frees the graph
    inputs: tuple[Tensor | OutputRef, ...] = ()  # set when the op is recorded
    # A boolean input (a mask) comes into forward as floats (0 and 1, of the float inputs'
    # dtype), as PyTorch promotes it, unless the op keeps booleans as they are (shape ops).
    takes_bool = False
    # The op's outputs may be views of its first input (reshape, transpose, a slice): then
    # they share its version counter, so that changing either in place is seen by both.
    shares_input_memory = False
    # True for ops whose backward never writes into its incoming gradients; the engine hands
    # the others read-only views (see ``engine.read_only``).
    leaves_grads_unchanged = False
    # False for ops whose backward never reads their outputs: the engine then need not check
    # that the outputs were left unchanged (their inputs it checks always), as in PyTorch.
    reads_outputs = True

    def forward(self, *arrays: np.ndarray, **params: Any) -> np.ndarray | tuple[np.ndarray, ...]:
        raise NotImplementedError

    def backward(self, *grads: np.ndarray) -> tuple[np.ndarray | None, ...]:
        """dL/d(each input) from dL/d(each output): one gradient per output comes in (zeros
        for an output the loss does not reach), one per input goes out."""
        raise NotImplementedError

    @property
    def parents(self) -> tuple[Tensor, ...]:
        """The input tensors, in the order given to ``apply`` (empty once freed).  An input
        that another op made and that nothing else holds any more comes back as a
        ``FreedValues`` tensor: where it came from, without its values."""
        return tuple([p if type(p) is not OutputRef else p.tensor() for p in self.inputs])

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Any:
        """Run the op on Tensors (or scalars and arrays, lifted to Tensors) and record it.

        Returns one Tensor, or a tuple of Tensors for an op whose ``forward`` returns a
        tuple of arrays (its ``backward`` then takes one gradient per output)."""
        tensors = lift(inputs, cls.takes_bool)
        fn = cls()
        fn.needs_input_grad = needs = tuple([t.requires_grad for t in tensors])
        data = fn.forward(*[t.data for t in tensors], **params)
        arrays = data if isinstance(data, tuple) else (data,)
        if grad_mode.anomaly_checks:
            for array in arrays:
                check_finite(array, cls)
        record = grad_mode.recording and True in needs
        outputs = [wrap(array, record) for array in arrays]
        if cls.shares_input_memory:
            for out in outputs:
                if np.may_share_memory(out.data, tensors[0].data):
                    out.version_counter = tensors[0].version_counter
        if record:
            enter_graph(fn, tensors, outputs)
        return tuple(outputs) if isinstance(data, tuple) else outputs[0]


class OutputRef(weakref.ref):
    """An op's output as the graph holds it: weakly, with what backward needs to know of it.

    Backward needs only where such a tensor came from (``grad_fn``, ``output_index``), its
    shape, dtype and version counter: the values an op's backward reads, it saved itself
    (``Mul`` its factors, ``Tanh`` its output).  Holding the tensor weakly lets its array go
    as soon as the program drops it, as PyTorch's graph does (an LSTM step's pre-activations,
    which no backward reads, would otherwise stay until backward: three times the memory).
    A tensor has one, made when it is first used by an op (``Tensor.graph_ref``), and the
    engine walks these: an op's ``inputs`` are leaf tensors and OutputRefs."""

    __slots__ = ("dtype", "grad_fn", "output_index", "shape", "version_counter")
    requires_grad = True  # an op's recorded output always does

    @property
    def retains_grad(self) -> bool:
        tensor = self()
        return tensor is not None and tensor.retains_grad

    @property
    def grad(self) -> np.ndarray | None:
        return self().grad

    @grad.setter
    def grad(self, grad: np.ndarray) -> None:  # only for a tensor that retains grad, so alive
        self().grad = grad

    def __reduce__(self) -> tuple[Any, tuple[Tensor]]:
        """A copy (``pickle``, ``copy.deepcopy``) holds the tensor itself: a weak reference
        cannot be copied, and a copied graph is the copy's alone."""
        return held_strongly, (self.tensor(),)

    def tensor(self) -> Tensor:
        """The tensor itself while anything holds it, else the tensor standing in for it."""
        tensor = self()
        return self.stand_in() if tensor is None else tensor

    def stand_in(self) -> Tensor:
        """The tensor that stands for the dropped one in ``Function.parents``: one per output of
        the op that made it, so that every op using that output gives the same object."""
        made_by, index = self.grad_fn, self.output_index
        stand_ins = made_by.__dict__.setdefault("stand_ins", {})
        if index not in stand_ins:
            stand_ins[index] = FreedValues(made_by, index, self.version_counter)
        return stand_ins[index]


def held_strongly(tensor: Tensor) -> Tensor:
    """What a copied OutputRef becomes: its tensor (see ``OutputRef.__reduce__``)."""
    return tensor


def enter_graph(op: Function, inputs: tuple[Tensor, ...], outputs: list[Tensor]) -> None:
    """Record ``op`` as the maker of ``outputs``: its inputs (those made by ops, weakly), the
    (shape, dtype) of its outputs, their version counters and the count of in-place changes,
    which the engine checks before op's backward."""
    op.inputs = tuple([t if t.grad_fn is None else refer_to(t) for t in inputs])
    op.changes_at_forward = grad_mode.changes_in_place
    if len(outputs) == 1:
        out = outputs[0]
        op.output_specs = ((out.data.shape, out.data.dtype),)
        op.output_versions = (out.version_counter,) if op.reads_outputs else ()
        out.grad_fn = op
        return
    op.output_specs = tuple([(out.data.shape, out.data.dtype) for out in outputs])
    op.output_versions = tuple([out.version_counter for out in outputs]) if op.reads_outputs else ()
    for index, out in enumerate(outputs):
        out.grad_fn, out.output_index = op, index


def refer_to(tensor: Tensor) -> OutputRef:
    """``tensor``'s OutputRef, made on its first use as an op's input and kept on it."""
    if tensor.graph_ref is not None:
        return tensor.graph_ref
    ref = tensor.graph_ref = OutputRef(tensor)
    ref.grad_fn, ref.output_index = tensor.grad_fn, tensor.output_index
    ref.version_counter = tensor.version_counter
    ref.shape, ref.dtype = tensor.data.shape, tensor.data.dtype
    return ref


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
from minigrad.tensor import FreedValues, Tensor, as_tensor, wrap  # noqa: E402
