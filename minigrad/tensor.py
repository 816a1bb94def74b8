"""The Tensor: an array, its gradient, and the op that made it; reverse mode lives here.

Every op on Tensors is recorded as a node of a graph: ``tensor.grad_fn`` is the Function
that made the tensor (None for a leaf) and ``tensor.grad_fn.parents`` are its input tensors.
``backward`` visits that graph once, from the loss back to the leaves, in reverse
topological order, and hands each Function the gradient of the loss with respect to its
output.  The sort is iterative: an unrolled sequence of thousands of steps makes a graph
far deeper than Python's recursion limit.
"""

from __future__ import annotations

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
        grads: dict[int, np.ndarray] = {id(self): grad}
        summed: set[int] = set()  # gradients that are sums this backward made, safe to add into
        kept: list[tuple[Tensor, np.ndarray]] = []
        for node in reversed(order):  # outputs before the inputs that made them
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node.grad_fn is None or node._retains_grad:
                kept.append((node, g))
            if node.grad_fn is None:
                continue
            for parent, parent_grad in zip(node.grad_fn.parents, node.grad_fn.run_backward(g), strict=True):
                if parent_grad is None:
                    continue
                key = id(parent)
                if isinstance(parent_grad, IndexedGrad):  # values at some places, zero elsewhere
                    if key not in grads:
                        grads[key] = np.zeros(parent.shape, dtype=parent.dtype)
                    elif key not in summed:
                        grads[key] = grads[key].copy()
                    summed.add(key)
                    parent_grad.add_to(grads[key])
                elif key not in grads:
                    grads[key] = parent_grad  # may be an op's own array: never written into
                elif key in summed:
                    np.add(grads[key], parent_grad, out=grads[key])  # a sum made here: add in place
                else:
                    grads[key] = np.asarray(grads[key] + parent_grad)  # 0-d: an array, not a scalar
                    summed.add(key)
        # Only now, when every backward has succeeded, is anything written.
        for node, g in kept:
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

    # --- methods, named as in PyTorch ---
    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return ops.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return ops.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return ops.max(self, axis=axis, keepdims=keepdims)

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

    def reshape(self, *shape: int | tuple[int, ...]) -> Tensor:
        return ops.reshape(self, *shape)

    def transpose(self, *axes: int) -> Tensor:
        return ops.transpose(self, *axes)

    @property
    def T(self) -> Tensor:
        """All axes reversed (a 2-D tensor's transpose)."""
        return ops.transpose(self)


def as_tensor(value: Any, like: Tensor | None = None) -> Tensor:
    """``value`` as a Tensor; a Python number takes the dtype of ``like`` (so float32 stays)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, Number) and like is not None:
        return Tensor._make(np.asarray(value, dtype=like.dtype), requires_grad=False)
    return Tensor(value)


def zeros(*shape: int, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of the given shape."""
    return Tensor(np.zeros(shape, dtype=dtype), requires_grad=requires_grad)


def ones(*shape: int, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of ones of the given shape."""
    return Tensor(np.ones(shape, dtype=dtype), requires_grad=requires_grad)


# ops builds on Tensor, so it is imported once Tensor exists.
from minigrad import ops  # noqa: E402
