"""The Tensor: an array, its gradient, and the op that made it; reverse mode lives here.

Every op on Tensors is recorded as a node of a graph: ``tensor.grad_fn`` is the Function
that made the tensor (None for a leaf) and ``tensor.grad_fn.parents`` are its input tensors.
``backward`` visits that graph once, from the loss back to the leaves, in reverse
topological order, and hands each Function the gradient of the loss with respect to its
output.  The sort is iterative: an unrolled sequence of thousands of steps makes a graph
far deeper than Python's recursion limit.
"""

from __future__ import annotations

from collections import Counter
from numbers import Number
from typing import Any

import numpy as np

from minigrad.function import Function, IndexedGrad

_FLOATS = (np.float32, np.float64)


def _to_float_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Copy ``data`` into a float32 or float64 array; integers and bools become float64."""
    array = np.array(data, dtype=dtype)
    if array.dtype.type in _FLOATS:
        return array
    if array.dtype.kind in "biuf":
        return array.astype(np.float64)
    raise TypeError(f"Tensor needs numeric data (float, int or bool), got an array of dtype {array.dtype}")


class Tensor:
    """An n-dimensional array that records the ops applied to it, for reverse mode.

    Parameters
    ----------
    data : array_like
        Numbers to copy.  float32 stays float32; everything else numeric becomes float64.
    requires_grad : bool
        Whether ``backward`` should compute ``grad`` for this tensor.
    dtype : numpy dtype, optional
        float32 or float64, to convert on the way in.

    Attributes
    ----------
    data : np.ndarray
        The values.
    grad : np.ndarray or None
        dL/d(self) after ``backward``, of self's shape; accumulates over calls.
    grad_fn : Function or None
        The op that made this tensor, None for a leaf (made by the user) or for a result
        that needs no gradient.  ``grad_fn.parents`` holds the op's input tensors, so the
        graph can be walked from any result back to its leaves.
    """

    __array_ufunc__ = None  # numpy hands `array + tensor` to Tensor.__radd__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        if dtype is not None and np.dtype(dtype).type not in _FLOATS:
            raise TypeError(f"Tensor dtype must be float32 or float64, got {np.dtype(dtype)}")
        self.data: np.ndarray = _to_float_array(data, dtype)
        self.requires_grad = bool(requires_grad)
        self.grad: np.ndarray | None = None
        self.grad_fn: Function | None = None
        self.output_index = 0  # which of grad_fn's outputs this is
        self._retains_grad = False
        self._version = 0

    @classmethod
    def _make(cls, data: np.ndarray, requires_grad: bool) -> Tensor:
        """Wrap an op's output array without copying it."""
        out = cls.__new__(cls)
        out.data = data if isinstance(data, np.ndarray) else np.asarray(data)
        out.requires_grad = requires_grad
        out.grad = None
        out.grad_fn = None
        out.output_index = 0
        out._retains_grad = False
        out._version = 0
        return out

    # --- what a tensor is ---
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an op."""
        return self.grad_fn is None

    def numel(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The data as a numpy array (the same memory, as in PyTorch)."""
        return self.data

    def item(self) -> float:
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def mark_modified(self) -> None:
        """Record that ``data`` was changed in place (minigrad's optimizers and weight loading
        call it).  A backward that needs the old values then raises instead of computing a
        wrong gradient, as PyTorch's version counter does."""
        self._version += 1

    def detach(self) -> Tensor:
        """The same data, cut from the graph: no gradient flows through the result."""
        return Tensor._make(self.data, requires_grad=False)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if not self.is_leaf:
            raise RuntimeError("requires_grad_ can only change leaf tensors; use detach() first")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep ``grad`` on this intermediate tensor too (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        self._retains_grad = True

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extra = f", grad_fn={type(self.grad_fn).__name__}" if self.grad_fn is not None else ""
        if self.requires_grad and self.grad_fn is None:
            extra = ", requires_grad=True"
        return f"Tensor({body}{extra})"

    def __bool__(self) -> bool:
        return bool(self.data)

    # comparisons give numpy boolean arrays (masks for where and indexing), not Tensors
    __hash__ = object.__hash__  # tensors stay usable as dict keys and in sets, by identity

    def __eq__(self, other: Any) -> np.ndarray:  # type: ignore[override]
        return self.data == _values(other)

    def __ne__(self, other: Any) -> np.ndarray:  # type: ignore[override]
        return self.data != _values(other)

    def __lt__(self, other: Any) -> np.ndarray:
        return self.data < _values(other)

    def __le__(self, other: Any) -> np.ndarray:
        return self.data <= _values(other)

    def __gt__(self, other: Any) -> np.ndarray:
        return self.data > _values(other)

    def __ge__(self, other: Any) -> np.ndarray:
        return self.data >= _values(other)

    # --- reverse mode ---
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        Parameters
        ----------
        grad : array_like, optional
            d(loss)/d(self), of self's shape.  May be left out only for a one-element tensor,
            where it is 1.
        retain_graph : bool
            Keep the graph so that backward can run through it again.  By default the graph
            is freed, so a training loop does not hold every step's arrays.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require grad: no input of the ops that "
                "made it has requires_grad=True (or it was made under no_grad())"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a one-element tensor, got shape "
                    f"{self.shape}; reduce it first (e.g. .sum()) or pass backward(grad) "
                    f"with an array of shape {self.shape}"
                )
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward(grad): grad has shape {grad.shape}, expected {self.shape}")
        order = self._topological_order()
        pending = GradientSums(self, grad)  # dL/d(node) for the nodes not yet visited
        gathered = OutputGrads(order)  # each op's output gradients, until its backward can run
        reached: list[tuple[Tensor, np.ndarray]] = []  # (node, dL/d(node)) for .grad
        for node in reversed(order):  # outputs before the inputs that made them
            g, fn = pending.pop(node), node.grad_fn
            if g is not None and (fn is None or node._retains_grad):
                reached.append((node, g))
            grads = None if fn is None else gathered.add(node, g)
            if grads is not None:  # the chain rule, one op back
                for parent, parent_grad in zip(fn.parents, fn.run_backward(*grads), strict=True):
                    pending.add(parent, parent_grad)
        # Only now, when every backward has succeeded, is anything written.
        for node, g in reached:
            node.grad = g.copy() if node.grad is None else np.asarray(node.grad + g)
        if not retain_graph:
            for node in order:
                if node.grad_fn is not None:
                    node.grad_fn.release()

    def _topological_order(self) -> list[Tensor]:
        """Every tensor that self depends on and that requires grad, inputs before outputs."""
        order: list[Tensor] = []
        visited: set[int] = set()
        stack: list[tuple[Tensor, bool]] = [(self, False)]
        while stack:
            node, children_done = stack.pop()
            if children_done:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            ctx = node.grad_fn
            if ctx is not None and ctx.released:
                raise RuntimeError(
                    f"backward through a graph that was already freed (at {type(ctx).__name__});"
                    " pass retain_graph=True to the first backward() to go through it twice"
                )
            stack.append((node, True))
            if ctx is not None:
                stack.extend((p, False) for p in ctx.parents if p.requires_grad)
        return order

    # --- arithmetic; each operator is one op of minigrad.ops ---
    def __add__(self, other: Any) -> Tensor:
        return ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return ops.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return ops.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return ops.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return ops.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.div(other, self)

    def __pow__(self, exponent: float) -> Tensor:
        return ops.pow(self, exponent)

    def __neg__(self) -> Tensor:
        return ops.neg(self)

    def __matmul__(self, other: Any) -> Tensor:
        return ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.matmul(other, self)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.getitem(self, index)

    # --- methods, named as in PyTorch (reductions take axis/keepdims or dim/keepdim) ---
    def sum(
        self, axis: Axes = None, keepdims: bool = False, *, dim: Axes = None, keepdim: bool | None = None
    ) -> Tensor:
        return ops.sum(self, *_reduction("sum", axis, keepdims, dim, keepdim))

    def mean(
        self, axis: Axes = None, keepdims: bool = False, *, dim: Axes = None, keepdim: bool | None = None
    ) -> Tensor:
        return ops.mean(self, *_reduction("mean", axis, keepdims, dim, keepdim))

    def max(
        self, axis: Axes = None, keepdims: bool = False, *, dim: Axes = None, keepdim: bool | None = None
    ) -> Tensor:
        """The largest values (PyTorch's ``max(dim)`` also returns the indices: use ``argmax``)."""
        return ops.max(self, *_reduction("max", axis, keepdims, dim, keepdim))

    def min(
        self, axis: Axes = None, keepdims: bool = False, *, dim: Axes = None, keepdim: bool | None = None
    ) -> Tensor:
        """The smallest values: -max(-x)."""
        return -ops.max(-self, *_reduction("min", axis, keepdims, dim, keepdim))

    def argmax(self, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None,
               keepdim: bool | None = None) -> np.ndarray:  # fmt: skip
        """Indices of the largest values, as an int64 numpy array (no gradient flows through)."""
        axis, keepdims = _reduction("argmax", axis, keepdims, dim, keepdim)
        return np.argmax(self.data, axis=axis, keepdims=keepdims)

    def exp(self) -> Tensor:
        return ops.exp(self)

    def log(self) -> Tensor:
        return ops.log(self)

    def tanh(self) -> Tensor:
        return ops.tanh(self)

    def sigmoid(self) -> Tensor:
        return ops.sigmoid(self)

    def relu(self) -> Tensor:
        return ops.relu(self)

    def abs(self) -> Tensor:
        return ops.abs(self)

    def sqrt(self) -> Tensor:
        return ops.pow(self, 0.5)

    def clamp(self, min: float | None = None, max: float | None = None) -> Tensor:
        """Values limited to [min, max]; the gradient is zero where a limit applies."""
        out = self
        if min is not None:
            out = ops.where(out.data < min, as_tensor(min, like=self), out)
        if max is not None:
            out = ops.where(out.data > max, as_tensor(max, like=self), out)
        return out

    def softmax(self, dim: int = -1) -> Tensor:
        from minigrad.functional import softmax  # functional builds on Tensor

        return softmax(self, axis=dim)

    def log_softmax(self, dim: int = -1) -> Tensor:
        from minigrad.functional import log_softmax

        return log_softmax(self, axis=dim)

    def matmul(self, other: Any) -> Tensor:
        return ops.matmul(self, other)

    def reshape(self, *shape: int | tuple[int, ...]) -> Tensor:
        return ops.reshape(self, *shape)

    def view(self, *shape: int | tuple[int, ...]) -> Tensor:
        """``reshape`` (numpy decides whether memory is shared)."""
        return ops.reshape(self, *shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Axes start_dim..end_dim merged into one."""
        start, end = (ops.normalize_axes("flatten", d, max(self.ndim, 1))[0] for d in (start_dim, end_dim))
        if self.ndim == 0:
            return ops.reshape(self, 1)
        return ops.reshape(self, (*self.shape[:start], -1, *self.shape[end + 1 :]))

    def unsqueeze(self, dim: int) -> Tensor:
        """A new axis of size 1 at ``dim`` (negative counts from the end of the result)."""
        axis = ops.normalize_axes("unsqueeze", dim, self.ndim + 1)[0]
        return ops.reshape(self, (*self.shape[:axis], 1, *self.shape[axis:]))

    def squeeze(self, dim: int | None = None) -> Tensor:
        """Axes of size 1 removed: all of them, or ``dim`` only (left alone if not of size 1)."""
        if dim is None:
            return ops.reshape(self, tuple(n for n in self.shape if n != 1))
        axis = ops.normalize_axes("squeeze", dim, self.ndim)[0]
        if self.shape[axis] != 1:
            return ops.reshape(self, self.shape)
        return ops.reshape(self, self.shape[:axis] + self.shape[axis + 1 :])

    def transpose(self, *dims: int | tuple[int, ...]) -> Tensor:
        """PyTorch's meaning: ``transpose(dim0, dim1)`` swaps two axes.  With no argument every
        axis is reversed (as ``.T``), and one tuple naming every axis permutes them (numpy's
        ``transpose(axes)``; ``permute`` is PyTorch's name for that)."""
        if len(dims) == 2 and all(isinstance(d, (int, np.integer)) for d in dims):
            first, second = (ops.normalize_axes("transpose", d, self.ndim)[0] for d in dims)
            order = list(range(self.ndim))
            order[first], order[second] = order[second], order[first]
            return ops.transpose(self, *order)
        return ops.transpose(self, *dims)

    def permute(self, *dims: int) -> Tensor:
        return ops.transpose(self, *dims)

    @property
    def T(self) -> Tensor:
        """All axes reversed (a 2-D tensor's transpose)."""
        return ops.transpose(self)

    def clone(self) -> Tensor:
        """A copy of the data that stays in the graph (gradients flow back to self)."""
        return ops.add(self, as_tensor(0, like=self))

    def tolist(self) -> Any:
        return self.data.tolist()


Axes = int | tuple[int, ...] | None


def _reduction(name: str, axis: Axes, keepdims: bool, dim: Axes, keepdim: bool | None) -> tuple[Axes, bool]:
    """numpy's ``axis``/``keepdims`` or PyTorch's ``dim``/``keepdim``, not both."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{name}: give axis or dim, not both")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    return axis, bool(keepdims)


def _values(other: Any) -> Any:
    return other.data if isinstance(other, Tensor) else other


class GradientSums:
    """The gradients that backward has sent to each tensor so far, summed per tensor.

    A tensor used by several ops receives one gradient from each; they add up.  Three
    details keep this cheap and safe:

    - the first gradient a tensor receives is kept as it is, without a copy: it may be an
      op's own array (``Add`` hands the same ``g`` to both inputs), so it is never written
      into;
    - from the second on, a new array holds the sum, and later ones are added into that
      array in place (it belongs to this backward pass alone);
    - an ``IndexedGrad`` (from indexing: values at some places, zero elsewhere) is added at
      its places only, into a zero array or into a sum this pass owns.

    Sums of 0-d arrays stay arrays (numpy would make them scalars).
    """

    def __init__(self, root: Tensor, grad: np.ndarray) -> None:
        self.grads: dict[int, np.ndarray] = {id(root): grad}
        self.owned: set[int] = set()  # the sums made here, safe to add into

    def pop(self, tensor: Tensor) -> np.ndarray | None:
        """The complete gradient of ``tensor`` (every op that used it has sent its share)."""
        return self.grads.pop(id(tensor), None)

    def add(self, tensor: Tensor, grad: np.ndarray | IndexedGrad | None) -> None:
        if grad is None:
            return
        key, grads = id(tensor), self.grads
        if isinstance(grad, IndexedGrad):
            if key not in grads:
                grads[key] = np.zeros(tensor.shape, dtype=tensor.dtype)
            elif key not in self.owned:
                grads[key] = grads[key].copy()
            self.owned.add(key)
            grad.add_to(grads[key])
        elif key not in grads:
            grads[key] = grad
        elif key in self.owned:
            np.add(grads[key], grad, out=grads[key])
        else:
            grads[key] = np.asarray(grads[key] + grad)
            self.owned.add(key)


class OutputGrads:
    """The gradients of an op's outputs, gathered until the op's backward can run.

    Most ops make one output, whose gradient is all they need.  An op that makes several (a
    fused recurrent layer's outputs and final states) waits for all of them: every output of
    an op comes before the op's inputs in the reverse topological order, so its backward runs
    once, at the last of its outputs in the graph.  An output the loss does not reach sends
    zeros.
    """

    def __init__(self, order: list[Tensor]) -> None:
        self.left = Counter(n.grad_fn for n in order if n.grad_fn is not None and len(n.grad_fn.outputs) > 1)
        self.grads: dict[Function, list[np.ndarray | None]] = {}

    def add(self, node: Tensor, grad: np.ndarray | None) -> tuple[np.ndarray, ...] | None:
        """Take one output's gradient; every output's, once the last has come (None before,
        and None when the loss reaches none of them)."""
        fn = node.grad_fn
        if len(fn.outputs) == 1:
            return None if grad is None else (grad,)
        grads = self.grads.setdefault(fn, [None] * len(fn.outputs))
        grads[node.output_index] = grad
        self.left[fn] -= 1
        if self.left[fn] > 0 or all(g is None for g in grads):
            return None
        del self.grads[fn]
        return tuple(
            np.zeros(shape, dtype) if g is None else g
            for g, (shape, dtype) in zip(grads, fn.outputs, strict=True)
        )


def as_tensor(value: Any, like: Tensor | None = None) -> Tensor:
    """``value`` as a Tensor; a Python number takes the dtype of ``like`` (so float32 stays)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, Number) and like is not None:
        return Tensor._make(np.asarray(value, dtype=like.dtype), requires_grad=False)
    return Tensor(value)


def as_tuple(values: tuple[Any, ...]) -> tuple[int, ...]:
    """A function's ``*values`` as one tuple: ``f(2, 3)`` and ``f((2, 3))`` both mean (2, 3),
    as in PyTorch (for shapes and axes alike)."""
    if len(values) == 1 and isinstance(values[0], (tuple, list)):
        return tuple(values[0])
    return tuple(values)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """PyTorch's ``torch.tensor``: a Tensor holding a copy of ``data``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def zeros(*shape: int | tuple[int, ...], dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return Tensor(np.zeros(as_tuple(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape: int | tuple[int, ...], dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))``."""
    return Tensor(np.ones(as_tuple(shape), dtype=dtype), requires_grad=requires_grad)


def zeros_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    """Zeros of ``t``'s shape and dtype."""
    return Tensor(np.zeros_like(_values(t)), requires_grad=requires_grad)


def ones_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    """Ones of ``t``'s shape and dtype."""
    return Tensor(np.ones_like(_values(t)), requires_grad=requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = np.float64,
           requires_grad: bool = False) -> Tensor:  # fmt: skip
    """start, start + step, ... below end (``arange(n)`` is 0..n-1), as floats."""
    values = np.arange(start, end, step) if end is not None else np.arange(start)
    return Tensor(values, dtype=dtype, requires_grad=requires_grad)


# ops builds on Tensor, so it is imported once Tensor exists.
from minigrad import ops  # noqa: E402
