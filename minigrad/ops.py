"""The primitive differentiable ops: one class each, backward beside forward.

Each ``backward`` is the chain rule for its op: it gets g = dL/d(output) and returns
dL/d(input) for every input, written in numpy beside the derivative it computes.  Binary ops
broadcast like numpy; their backward sums the gradient over the broadcast axes so that each
input gets a gradient of its own shape.  Each op's lowercase function, the public way to
call it, follows its class.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad import kernels
from minigrad.engine import IndexedGrad
from minigrad.function import Function
from minigrad.tensor import Tensor, as_tuple


def broadcast_shapes(op: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The shape numpy broadcasting gives, or a ValueError naming the op and the shapes."""
    first = shapes[0]
    for shape in shapes:
        if shape != first:
            break
    else:  # the common case, one shape: without numpy's machinery
        return first
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        listed = " and ".join(str(s) for s in shapes)
        raise ValueError(f"{op}: shapes {listed} cannot be broadcast together") from None


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, giving ``shape``."""
    if grad.shape == shape:
        return grad
    grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=stretched, keepdims=True) if stretched else grad


def normalize_axes(op: str, axis: int | tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    """``axis`` as a tuple of non-negative axes, checked against ``ndim``."""
    if axis is None:
        return tuple(range(ndim))
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"{op}: axes must be integers, got {axis!r}")
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dims")
    normalized = tuple(int(a) % ndim for a in axes)
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return normalized


class Primitive(Function):
    """The ops of this module.  None of their backwards writes into its incoming gradient
    (``test_no_primitive_writes_into_its_incoming_gradient`` checks each), so the engine hands
    them the arrays themselves rather than read-only views; and only three read their output
    (``test_only_ops_that_read_their_output_have_it_checked`` checks which)."""

    leaves_grads_unchanged = True
    reads_outputs = False  # but Exp, Tanh and Sigmoid, whose backward reads the output


# --- elementwise binary ops ---


class Add(Primitive):
    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        broadcast_shapes("add", *self.shapes)
        return a + b

    def backward(self, g):
        # d(a + b)/da = 1, d(a + b)/db = 1
        return unbroadcast(g, self.shapes[0]), unbroadcast(g, self.shapes[1])


def add(a: Any, b: Any) -> Tensor:
    """a + b, broadcasting."""
    return Add.apply(a, b)


class Sub(Primitive):
    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        broadcast_shapes("sub", *self.shapes)
        return a - b

    def backward(self, g):
        # d(a - b)/da = 1, d(a - b)/db = -1
        return unbroadcast(g, self.shapes[0]), unbroadcast(-g, self.shapes[1])


def sub(a: Any, b: Any) -> Tensor:
    """a - b, broadcasting."""
    return Sub.apply(a, b)


class Mul(Primitive):
    def forward(self, a, b):
        broadcast_shapes("mul", a.shape, b.shape)
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        # d(a b)/da = b, d(a b)/db = a
        a, b = self.a, self.b
        da = unbroadcast(g * b, a.shape) if self.needs_input_grad[0] else None
        db = unbroadcast(g * a, b.shape) if self.needs_input_grad[1] else None
        return da, db


def mul(a: Any, b: Any) -> Tensor:
    """a * b elementwise, broadcasting."""
    return Mul.apply(a, b)


class Div(Primitive):
    def forward(self, a, b):
        broadcast_shapes("div", a.shape, b.shape)
        self.a, self.b = a, b
        return a / b

    def backward(self, g):
        # d(a / b)/da = 1 / b, d(a / b)/db = -a / b^2
        a, b = self.a, self.b
        da = unbroadcast(g / b, a.shape) if self.needs_input_grad[0] else None
        db = unbroadcast(-g * a / (b * b), b.shape) if self.needs_input_grad[1] else None
        return da, db


def div(a: Any, b: Any) -> Tensor:
    """a / b elementwise, broadcasting."""
    return Div.apply(a, b)


class MatMul(Primitive):
    """Matrix product with numpy's rules: 1-D operands are promoted, leading axes broadcast."""

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: both operands need at least 1 dim, got {a.shape} @ {b.shape}")
        inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if a.shape[-1] != inner_b:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} do not match: the last dim of the first "
                f"({a.shape[-1]}) must equal the {'only' if b.ndim == 1 else 'second to last'} "
                f"dim of the second ({inner_b})"
            )
        broadcast_shapes("matmul", a.shape[:-2], b.shape[:-2])
        # Work with matrices: a vector a is a row (1, n), a vector b a column (n, 1).
        self.a = a[None, :] if a.ndim == 1 else a
        self.b = b[:, None] if b.ndim == 1 else b
        self.shapes = a.shape, b.shape
        return a @ b

    def backward(self, g):
        # C = A B:  dL/dA = dL/dC B^T,  dL/dB = A^T dL/dC
        a, b = self.a, self.b
        if a.ndim == b.ndim == 2:  # two matrices (a vector was made a row or a column)
            g = g if g.ndim == 2 else g.reshape(a.shape[0], b.shape[1])
            da = g @ b.T if self.needs_input_grad[0] else None
            db = a.T @ g if self.needs_input_grad[1] else None
        else:
            da, db = self.batched_backward(g)
        return _reshaped(da, self.shapes[0]), _reshaped(db, self.shapes[1])

    def batched_backward(self, g):
        """The same products over the leading axes, each gradient summed back to its input's."""
        a, b = self.a, self.b
        g = g.reshape((*np.broadcast_shapes(a.shape[:-2], b.shape[:-2]), a.shape[-2], b.shape[-1]))
        da = db = None
        if self.needs_input_grad[0]:
            da = unbroadcast(g @ np.swapaxes(b, -1, -2), a.shape)
        if self.needs_input_grad[1]:
            if b.ndim == 2:  # one product over all the leading axes of a
                db = a.reshape(-1, a.shape[-1]).T @ g.reshape(-1, g.shape[-1])
            else:
                db = unbroadcast(np.swapaxes(a, -1, -2) @ g, b.shape)
        return da, db


def matmul(a: Any, b: Any) -> Tensor:
    """a @ b: (..., n, k) @ (k, m) -> (..., n, m), and numpy's other matmul cases."""
    return MatMul.apply(a, b)


def _reshaped(grad: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    """``grad`` in ``shape`` (a vector operand's gradient comes back from a matrix product)."""
    return grad if grad is None or grad.shape == shape else grad.reshape(shape)


# --- elementwise unary ops ---


class Neg(Primitive):
    def forward(self, a):
        return -a

    def backward(self, g):
        # d(-a)/da = -1
        return (-g,)


def neg(a: Any) -> Tensor:
    """-a."""
    return Neg.apply(a)


class Pow(Primitive):
    def forward(self, a, exponent):
        self.a, self.exponent = a, exponent
        return a**exponent

    def backward(self, g):
        # d(a^p)/da = p a^(p - 1); for p = 0 that is 0 everywhere (a^-1 would make 0 * inf at 0)
        if self.exponent == 0:
            return (np.zeros_like(g),)
        return (g * self.exponent * self.a ** (self.exponent - 1),)


def pow(a: Any, exponent: float) -> Tensor:
    """a ** exponent for a constant number ``exponent``."""
    if isinstance(exponent, Tensor) or not np.isscalar(exponent):
        raise TypeError(f"pow: the exponent must be a number, got {type(exponent).__name__}")
    return Pow.apply(a, exponent=exponent)


class Exp(Primitive):
    reads_outputs = True

    def forward(self, a):
        self.out = np.exp(a)
        return self.out

    def backward(self, g):
        # d(e^a)/da = e^a
        return (g * self.out,)


def exp(a: Any) -> Tensor:
    """e ** a."""
    return Exp.apply(a)


class Log(Primitive):
    def forward(self, a):
        self.a = a
        return np.log(a)

    def backward(self, g):
        # d(log a)/da = 1 / a
        return (g / self.a,)


def log(a: Any) -> Tensor:
    """Natural logarithm."""
    return Log.apply(a)


class Tanh(Primitive):
    reads_outputs = True

    def forward(self, a):
        self.out = np.tanh(a)
        return self.out

    def backward(self, g):
        # d(tanh a)/da = 1 - tanh(a)^2; in numpy g * (1 - y) * (1 + y), factored so that no
        # digits are lost near |y| = 1, here in one compiled loop that makes no temporaries
        return (kernels.grad_times_one_minus_square(self.out, g),)


def tanh(a: Any) -> Tensor:
    """Hyperbolic tangent."""
    return Tanh.apply(a)


class Sigmoid(Primitive):
    reads_outputs = True

    def forward(self, a):
        self.out = kernels.sigmoid(a)
        return self.out

    def backward(self, g):
        # d(sigmoid a)/da = sigmoid(a) (1 - sigmoid(a)); in numpy g * y * (1 - y), here in one
        # compiled loop that makes no temporaries
        return (kernels.grad_times_y_one_minus_y(self.out, g),)


def sigmoid(a: Any) -> Tensor:
    """1 / (1 + e ** -a)."""
    return Sigmoid.apply(a)


class ReLU(Primitive):
    def forward(self, a):
        self.positive = a > 0
        return np.where(self.positive, a, 0).astype(a.dtype, copy=False)

    def backward(self, g):
        # d(max(a, 0))/da = 1 where a > 0, else 0
        return (g * self.positive,)


def relu(a: Any) -> Tensor:
    """max(a, 0)."""
    return ReLU.apply(a)


class Abs(Primitive):
    def forward(self, a):
        self.sign = np.sign(a)
        return np.abs(a)

    def backward(self, g):
        # d|a|/da = sign(a) (0 at the kink, as PyTorch takes it)
        return (g * self.sign,)


def abs(a: Any) -> Tensor:
    """|a| elementwise."""
    return Abs.apply(a)


# --- reductions ---


def _expand_reduced(g: np.ndarray, axes: tuple[int, ...], ndim: int) -> np.ndarray:
    """Put back the reduced axes (as size 1) so that ``g`` broadcasts against the input."""
    return g if g.ndim == ndim else np.expand_dims(g, axes)


class Sum(Primitive):
    def forward(self, a, axis=None, keepdims=False):
        self.shape = a.shape
        self.axes = normalize_axes("sum", axis, a.ndim)
        return a.sum(axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        # d(sum a)/da_i = 1: every summed element receives the gradient of the sum
        return (np.broadcast_to(_expand_reduced(g, self.axes, len(self.shape)), self.shape),)


def sum(a: Any, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (all axes when None)."""
    return Sum.apply(a, axis=axis, keepdims=keepdims)


def mean(a: Any, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis``: the sum divided by the number of elements summed."""
    a = a if isinstance(a, Tensor) else Tensor(a)
    count = int(np.prod([a.shape[k] for k in normalize_axes("mean", axis, a.ndim)]))
    if count == 0:
        raise ValueError(f"mean: no elements to average in a tensor of shape {a.shape}")
    return Sum.apply(a, axis=axis, keepdims=keepdims) / count


class Max(Primitive):
    def forward(self, a, axis=None, keepdims=False):
        axes = normalize_axes("max", axis, a.ndim)
        if a.size == 0:
            raise ValueError(f"max: the tensor of shape {a.shape} has no elements")
        top = a.max(axis=axes, keepdims=True)
        # the gradient goes to the maximal elements, shared equally where there are ties
        hits = a == top
        self.share = (hits / hits.sum(axis=axes, keepdims=True)).astype(a.dtype)
        self.axes = axes
        return top if keepdims else np.squeeze(top, axis=axes)

    def backward(self, g):
        # d(max a)/da_i = 1 at the maximum, 0 elsewhere (1/k each for k tied maxima): g * share
        return (_expand_reduced(g, self.axes, self.share.ndim) * self.share,)


def max(a: Any, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis`` (all axes when None); ties share the gradient."""
    return Max.apply(a, axis=axis, keepdims=keepdims)


class TakeAlongAxis(Primitive):
    """One element per position along ``axis``, picked by ``indices`` (a's shape, with size 1
    along ``axis``): the values of ``max(dim)`` and ``min(dim)``."""

    def forward(self, a, indices, axis, keepdims=False):
        self.shape, self.indices, self.axis = a.shape, indices, axis
        picked = np.take_along_axis(a, indices, axis)
        return picked if keepdims else np.squeeze(picked, axis)

    def backward(self, g):
        # each picked element receives its output's gradient; the others receive nothing
        grad = np.zeros(self.shape, dtype=g.dtype)
        np.put_along_axis(grad, self.indices, g.reshape(self.indices.shape), self.axis)
        return (grad,)


def take_along_axis(a: Any, indices: np.ndarray, axis: int, keepdims: bool = True) -> Tensor:
    """numpy's ``take_along_axis`` (``indices``: a's shape with size 1 along ``axis``), with
    that axis dropped unless ``keepdims``."""
    return TakeAlongAxis.apply(a, indices=indices, axis=axis, keepdims=keepdims)


class Cast(Primitive):
    """A copy in another float dtype (or the same: ``clone``)."""

    takes_bool = True

    def forward(self, a, dtype):
        return a.astype(dtype)

    def backward(self, g):
        # d(a)/da = 1; the engine converts g back to the input's dtype (checked_input_grads)
        return (g,)


def cast(a: Any, dtype: Any) -> Tensor:
    """A copy of ``a`` in ``dtype`` (float32 or float64), through which the gradient flows."""
    dtype = np.dtype(dtype)
    if dtype.type not in (np.float32, np.float64):
        raise TypeError(f"cast: minigrad tensors in the graph hold float32 or float64, got {dtype}")
    return Cast.apply(a, dtype=dtype)


# --- shape ops: their outputs are views of their input where numpy can make one ---


class Reshape(Primitive):
    shares_input_memory = takes_bool = True

    def forward(self, a, shape):
        self.shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {a.shape} ({a.size} elements) into {tuple(shape)}"
            ) from None

    def backward(self, g):
        # the same elements in the input's shape
        return (g.reshape(self.shape),)


def reshape(a: Any, *shape: int | tuple[int, ...]) -> Tensor:
    """The same elements in a new shape; ``reshape(t, 2, 3)`` and ``reshape(t, (2, 3))`` agree."""
    return Reshape.apply(a, shape=as_tuple(shape))


class Transpose(Primitive):
    shares_input_memory = takes_bool = True

    def forward(self, a, axes=None):
        order = normalize_axes("transpose", axes, a.ndim)  # all axes when None
        if axes is None:
            order = order[::-1]
        if len(order) != a.ndim:
            raise ValueError(f"transpose: {len(order)} axes given for a tensor with {a.ndim} dims")
        self.axes = order
        return a.transpose(order)

    def backward(self, g):
        # undo the permutation
        return (g.transpose(np.argsort(self.axes)),)


def transpose(a: Any, *axes: int) -> Tensor:
    """Permute the axes (``transpose(t, 1, 0)`` or ``transpose(t, (1, 0))``); with none, reverse them."""
    return Transpose.apply(a, axes=as_tuple(axes) or None)


class GetItem(Primitive):
    shares_input_memory = takes_bool = True

    def forward(self, a, index):
        self.shape, self.index = a.shape, index
        return a[index]

    def backward(self, g):
        # each selected element sends its gradient back to where it came from (an element
        # picked twice receives both); the engine adds it into a's gradient in place
        return (IndexedGrad(self.shape, self.index, g),)


def getitem(a: Any, index: Any) -> Tensor:
    """a[index]: ints, slices, None, Ellipsis, boolean masks and integer arrays."""
    return GetItem.apply(a, index=as_index(index))


def as_index(index: Any) -> Any:
    """``index`` as numpy takes it.  A Tensor in it must be a boolean mask (as in PyTorch); a
    float tensor is refused, since turning 0.0 and 1.0 into positions would answer wrong."""
    if isinstance(index, tuple):
        return tuple(_index_part(part) for part in index)
    return _index_part(index)


def _index_part(part: Any) -> Any:
    if isinstance(part, list):
        part = np.asarray([p.data if isinstance(p, Tensor) else p for p in part])
    if isinstance(part, Tensor):
        if part.dtype != bool:
            raise IndexError(
                f"a tensor used as an index must hold booleans (a mask: mg.tensor([True, False, ...]) "
                f"or x > 0), got a {part.dtype} tensor of shape {part.shape}; minigrad tensors hold "
                "floats, so give positions as a list or a numpy integer array (np.array([0, 2]))"
            )
        return part.data
    return part


def _check_same_shapes(op: str, arrays: tuple[np.ndarray, ...], skip_axis: int | None) -> None:
    if not arrays:
        raise ValueError(f"{op}: needs at least one tensor")
    first = arrays[0]
    for i, x in enumerate(arrays):
        mine = [n for k, n in enumerate(x.shape) if k != skip_axis]
        theirs = [n for k, n in enumerate(first.shape) if k != skip_axis]
        if x.ndim != first.ndim or mine != theirs:
            detail = "" if skip_axis is None else f" except along axis {skip_axis}"
            raise ValueError(
                f"{op}: all tensors need the same shape{detail}; tensor 0 has {first.shape}, "
                f"tensor {i} has {x.shape}"
            )


class Stack(Primitive):
    takes_bool = True

    def forward(self, *arrays, axis=0):
        _check_same_shapes("stack", arrays, None)
        self.axis = normalize_axes("stack", axis, arrays[0].ndim + 1)[0]
        return np.stack(arrays, axis=self.axis)

    def backward(self, g):
        # each input gets its own slice of the gradient back
        # (views of g: the engine never writes into a gradient it did not make)
        before = (slice(None),) * self.axis
        return tuple([g[(*before, i)] for i in range(g.shape[self.axis])])


def stack(tensors: list[Any], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors of one shape along a new axis (numpy's ``axis`` or PyTorch's ``dim``)."""
    return Stack.apply(*tensors, axis=_axis_or_dim("stack", axis, dim))


class Concatenate(Primitive):
    takes_bool = True

    def forward(self, *arrays, axis=0):
        if arrays and arrays[0].ndim == 0:
            raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated")
        axis = normalize_axes("concatenate", axis, arrays[0].ndim if arrays else 1)[0]
        _check_same_shapes("concatenate", arrays, axis)
        self.axis = axis
        self.splits = np.cumsum([x.shape[axis] for x in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    def backward(self, g):
        # each input gets its own block of the gradient back
        return tuple(np.split(g, self.splits, axis=self.axis))


def concatenate(tensors: list[Any], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along an existing axis (numpy's ``axis`` or PyTorch's ``dim``)."""
    return Concatenate.apply(*tensors, axis=_axis_or_dim("concatenate", axis, dim))


def _axis_or_dim(op: str, axis: int, dim: int | None) -> int:
    """numpy's ``axis`` or PyTorch's ``dim`` (not both; ``axis`` keeps its default then)."""
    if dim is None:
        return axis
    if axis != 0:
        raise TypeError(f"{op}: give axis or dim, not both")
    return dim


class Chunk(Primitive):
    """Consecutive blocks along an axis, each a view of the input, as the outputs of one op:
    an LSTM's four gates from one pre-activation, with one backward for the four."""

    shares_input_memory = takes_bool = True

    def forward(self, a, chunks, axis):
        n = a.shape[axis]
        if n == 0:
            raise ValueError(f"chunk: axis {axis} of the tensor of shape {a.shape} is empty")
        size, self.axis = -(-n // chunks), axis  # blocks of ceil(n / chunks), as in PyTorch
        before = (slice(None),) * axis
        return tuple([a[(*before, slice(start, start + size))] for start in range(0, n, size)])

    def backward(self, *grads):
        # each block's gradient back in its place, side by side
        return (np.concatenate(grads, axis=self.axis),)


def chunk(a: Any, chunks: int, axis: int = 0) -> tuple[Tensor, ...]:
    """``a`` cut along ``axis`` into ``chunks`` blocks of ceil(size / chunks) (the last may be
    smaller, and there may be fewer blocks), as PyTorch's ``chunk``: views, in the graph."""
    a = a if isinstance(a, Tensor) else Tensor(a)
    if isinstance(chunks, bool) or not isinstance(chunks, (int, np.integer)) or chunks < 1:
        raise ValueError(f"chunk: chunks must be a positive integer, got {chunks!r}")
    return Chunk.apply(a, chunks=int(chunks), axis=normalize_axes("chunk", axis, a.ndim)[0])


class Where(Primitive):
    takes_bool = True

    def forward(self, a, b, condition):
        self.condition = np.asarray(condition, dtype=bool)
        broadcast_shapes("where", self.condition.shape, a.shape, b.shape)
        self.shapes = a.shape, b.shape
        return np.where(self.condition, a, b)

    def backward(self, g):
        # the gradient goes to a where the condition holds and to b elsewhere
        zero = np.zeros((), dtype=g.dtype)
        return (
            unbroadcast(np.where(self.condition, g, zero), self.shapes[0]),
            unbroadcast(np.where(self.condition, zero, g), self.shapes[1]),
        )


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Elementwise ``a`` where ``condition`` holds, else ``b`` (condition is not differentiated)."""
    condition = np.asarray(condition.data if isinstance(condition, Tensor) else condition)
    if condition.dtype != bool:
        raise TypeError(
            f"where: the condition must hold booleans (a comparison such as x > 0, or a mask), got "
            f"dtype {condition.dtype}; write where(c != 0, ...) to take nonzero as true"
        )
    return Where.apply(a, b, condition=condition)
