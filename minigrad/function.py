"""The base class of every differentiable op, and the switches that govern recording.

A ``Function`` sees only numpy arrays: ``forward`` computes the output from the input
arrays and keeps on ``self`` whatever ``backward`` will need; ``backward`` receives the
gradient of the loss with respect to the output and returns one gradient per input
(the chain rule: dL/dinput = dL/doutput * doutput/dinput).  ``apply`` wraps the two in
Tensors and records the op in the graph when a gradient will be wanted.  An op may make
several outputs (``forward`` returns a tuple of arrays, ``apply`` a tuple of Tensors); its
``backward`` then receives one gradient per output.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from minigrad import kernels

if TYPE_CHECKING:
    from minigrad.tensor import Tensor

_grad_enabled = True
_anomaly_enabled = False
_BOOL = np.dtype(bool)


def _lift(inputs: tuple[Any, ...], takes_bool: bool) -> tuple[Tensor, ...]:
    """An op's inputs as Tensors: numbers and arrays lifted (a Python number takes a tensor
    input's dtype) and, unless the op takes booleans, masks turned into 0.0 and 1.0 of the
    float inputs' dtype (float64 when there is none)."""
    from minigrad.tensor import Tensor, as_tensor

    like = next((x for x in inputs if isinstance(x, Tensor) and x.data.dtype is not _BOOL), None)
    tensors = tuple(as_tensor(x, like) for x in inputs)
    if takes_bool:
        return tensors
    dtype = np.float64 if like is None else like.dtype
    return tuple(
        Tensor._make(t.data.astype(dtype), requires_grad=False) if t.data.dtype is _BOOL else t
        for t in tensors
    )


@contextmanager
def no_grad() -> Iterator[None]:
    """Inside this block no op is recorded, so no graph is built and nothing can backprop."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()``."""
    return _grad_enabled


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Inside this block the first op whose forward or backward makes NaN or inf raises."""
    global _anomaly_enabled
    previous, _anomaly_enabled = _anomaly_enabled, True
    try:
        yield
    finally:
        _anomaly_enabled = previous


def _check_finite(array: np.ndarray, op: type, input_index: int | None = None) -> None:
    """Under ``detect_anomaly``, raise if ``array`` is not finite: the output of ``op``'s
    forward, or (with ``input_index``) the gradient its backward made for that input."""
    if _anomaly_enabled and not np.all(np.isfinite(array)):
        what = f"forward of {op.__name__}"
        if input_index is not None:
            what = f"backward of {op.__name__} (gradient of input {input_index})"
        raise FloatingPointError(f"detect_anomaly: the {what} produced NaN or inf")


def is_basic_index(index: Any) -> bool:
    """True for ints, slices, None and Ellipsis only: such an index never repeats an element."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis for p in parts)


class IndexedGrad:
    """A gradient that is ``values`` at ``index`` of an array of ``shape`` and zero elsewhere.

    Indexing returns one from its backward instead of a dense array: taking one step of a long
    sequence then costs in backward what the step costs, not what the whole input costs.  The
    engine adds it into the input's gradient in place with ``add_to``.
    """

    def __init__(self, shape: tuple[int, ...], index: Any, values: np.ndarray) -> None:
        self.shape, self.index, self.values = shape, index, values

    def add_to(self, target: np.ndarray) -> None:
        """target[index] += values; an element picked twice receives both values."""
        index = self.index
        if is_basic_index(index):
            target[index] += self.values
        elif (isinstance(index, np.ndarray) and index.ndim == 1 and index.dtype.kind in "iu"
              and target.flags.c_contiguous and target.ndim >= 1):  # fmt: skip
            rows = np.where(index < 0, index + self.shape[0], index)
            width = int(np.prod(self.shape[1:]))
            kernels.scatter_add_rows(target.reshape(self.shape[0], width), rows,
                                     self.values.reshape(len(rows), width))  # fmt: skip
        else:
            np.add.at(target, index, self.values)


class Function:
    """One differentiable op.  Subclasses define ``forward`` and ``backward``.

    Use an op through ``apply``: ``Mul.apply(a, b)`` returns a Tensor whose ``grad_fn`` is
    the Function object that made it.

    Attributes
    ----------
    parents : tuple of Tensor
        The input tensors of this op, in the order they were passed to ``apply`` (empty once
        ``backward`` has freed the graph).
    needs_input_grad : tuple of bool
        For each input, whether it requires a gradient; ``backward`` may return None for
        the others.
    outputs : tuple of (shape, dtype)
        One entry per output: most ops make one, a fused recurrent layer makes its outputs
        and its final states.  Each output tensor's ``output_index`` is its place here.
    """

    # Until ``apply`` records the op, it has no inputs and no outputs.  (Class attributes, so
    # that making an op costs no __init__ call: the per-op overhead is what a long unrolled
    # sequence pays thousands of times.)
    parents: tuple[Tensor, ...] = ()
    versions: tuple[int, ...] = ()  # each input's version when the op ran
    output_versions: tuple[tuple[Any, int], ...] = ()  # each output's (counter, version) then
    needs_input_grad: tuple[bool, ...] = ()
    outputs: tuple[tuple[tuple[int, ...], np.dtype], ...] = ()  # (shape, dtype) of each
    released = False
    # A boolean input (a mask) comes into forward as floats (0 and 1, of the float inputs'
    # dtype), as PyTorch promotes it, unless the op keeps booleans as they are (shape ops).
    takes_bool = False
    # The op's output may be a view of its first input (reshape, transpose, a slice): then the
    # two share one version counter, so that changing either in place is seen by both.
    shares_input_memory = False

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
        from minigrad.tensor import Tensor

        tensors = inputs
        if not all(isinstance(x, Tensor) and x.data.dtype is not _BOOL for x in inputs):
            tensors = _lift(inputs, cls.takes_bool)
        fn = cls()
        fn.needs_input_grad = tuple([t.requires_grad for t in tensors])
        data = fn.forward(*[t.data for t in tensors], **params)
        several = isinstance(data, tuple)
        arrays = data if several else (data,)
        for array in arrays:
            _check_finite(array, cls)
        record = _grad_enabled and any(fn.needs_input_grad)
        outputs = [Tensor._make(array, requires_grad=record) for array in arrays]
        if cls.shares_input_memory and np.may_share_memory(arrays[0], tensors[0].data):
            outputs[0]._counter = tensors[0]._counter
        if record:
            fn.parents = tensors
            fn.versions = tuple([t._counter.value for t in tensors])
            fn.output_versions = tuple([(out._counter, out._counter.value) for out in outputs])
            fn.outputs = tuple([(array.shape, array.dtype) for array in arrays])
            for index, out in enumerate(outputs):
                out.grad_fn, out.output_index = fn, index
        return tuple(outputs) if several else outputs[0]

    def run_backward(self, *grads: np.ndarray) -> tuple[np.ndarray | IndexedGrad | None, ...]:
        """Call ``backward`` with one gradient per output and check that it returned one
        well-formed gradient per input."""
        name = type(self).__name__
        for i, parent in enumerate(self.parents):
            if parent._counter.value != self.versions[i]:
                raise RuntimeError(
                    f"{name}.backward: input {i} (shape {parent.shape}) was changed in place after "
                    f"{name} used it (by an optimizer step, a weight load or an in-place operator, "
                    "say), so its gradient would be wrong; run backward before changing it, or "
                    "compute again"
                )
        for i, (counter, version) in enumerate(self.output_versions):
            if counter.value != version:
                raise RuntimeError(
                    f"{name}.backward: output {i} (shape {self.outputs[i][0]}) was changed in place "
                    f"(through a detach()ed copy or a view), and {name}'s gradient may need its "
                    "value; change a clone() instead"
                )
        incoming = [grad.view() for grad in grads]
        for grad in incoming:
            grad.flags.writeable = False  # it may be another node's gradient too
        try:
            grads = self.backward(*incoming)
        except ValueError as error:
            if "read-only" not in str(error):
                raise
            raise RuntimeError(
                f"{name}.backward changed its incoming gradient in place; it may be shared with "
                "other gradients, so compute a new array instead (g = g * 2, not g *= 2)"
            ) from error
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) != len(self.parents):
            raise RuntimeError(
                f"{name}.backward returned {len(grads)} gradients for {len(self.parents)} inputs"
            )
        checked = []
        for i, (g, parent) in enumerate(zip(grads, self.parents, strict=True)):
            if g is None or not parent.requires_grad:
                checked.append(None)
                continue
            if isinstance(g, IndexedGrad):
                g.values = np.asarray(g.values, dtype=parent.dtype)
            elif type(g) is not np.ndarray or g.dtype != parent.dtype:
                g = np.asarray(g, dtype=parent.dtype)
            if g.shape != parent.shape:
                raise RuntimeError(
                    f"{name}.backward returned a gradient of shape {g.shape} "
                    f"for input {i} of shape {parent.shape}"
                )
            _check_finite(g.values if isinstance(g, IndexedGrad) else g, type(self), i)
            checked.append(g)
        return tuple(checked)

    def release(self) -> None:
        """Drop the inputs and saved arrays so the graph can be freed after backward."""
        self.__dict__ = {
            "parents": (),
            "versions": (),
            "output_versions": (),
            "needs_input_grad": self.needs_input_grad,
            "outputs": self.outputs,
            "released": True,
        }
