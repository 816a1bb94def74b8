"""The Tensor: an array, its gradient, and the op that made it.

Every op on Tensors is recorded as a node of a graph: ``tensor.grad_fn`` is the Function
that made the tensor (None for a leaf) and ``tensor.grad_fn.parents`` are its input tensors.
``backward`` hands that graph to ``minigrad.engine``, which visits it once, from the loss
back to the leaves.  The factories (``zeros``, ``ones``, ``arange``, ...) are in
``minigrad.factories``.

The class reads from the top: what a tensor holds, reverse mode, the operators (each one op
of ``minigrad.ops``).  After those come the conveniences that make it behave like PyTorch's
tensor (conversions, comparisons, in-place changes, named methods): a learner may skip them.
"""

from __future__ import annotations

from collections.abc import Iterator
from numbers import Number
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from minigrad import engine, grad_mode

if TYPE_CHECKING:
    from minigrad.function import Function, OutputRef

_FLOATS = (np.float32, np.float64)
KINDS = (np.float32, np.float64, np.bool_)  # what a tensor may hold: floats, or booleans (masks)
_BOOL = np.dtype(bool)


class Tensor:
    """An n-dimensional array that records the ops applied to it, for reverse mode.

    Parameters
    ----------
    data : array_like
        Numbers to copy.  float32 stays float32 and booleans stay booleans (a mask, for
        indexing and ``where``; in arithmetic it counts as 0 and 1); integers become float64.
    requires_grad : bool
        Whether ``backward`` should compute ``grad`` for this tensor (floats only).
    dtype : numpy dtype, optional
        float32, float64 or bool, to convert on the way in; integer dtypes are a TypeError.

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
    output_index : int
        Which of ``grad_fn``'s outputs this tensor is (an op may make several).
    retains_grad : bool
        Whether ``backward`` keeps ``grad`` on this non-leaf too (``retain_grad()``).
    version_counter : Version
        Counts the in-place changes of this tensor's memory (``_version`` is its value).
    """

    __array_ufunc__ = None  # numpy hands `array + tensor` to Tensor.__radd__
    # What a new tensor starts with; ``wrap`` (once per op) leaves these to the class.
    grad: np.ndarray | None = None
    grad_fn: Function | None = None
    output_index = 0  # which of grad_fn's outputs this is
    retains_grad = False
    graph_ref: OutputRef | None = None  # how the graph holds an op's output (function.OutputRef)

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        elif isinstance(data, ValuesIndices):
            raise TypeError(_PAIR_MESSAGE)
        elif isinstance(data, (list, tuple)) and _holds_grad(data):
            raise TypeError(
                "Tensor from a list of tensors that require grad would cut them from the graph; "
                "mg.stack(tensors) joins them and keeps their gradients"
            )
        data = _to_array(data, check_dtype(dtype, "Tensor"))
        if requires_grad and data.dtype.type not in _FLOATS:
            raise RuntimeError(f"only float tensors can require gradients, got dtype {data.dtype}")
        self.data: np.ndarray = data
        self.requires_grad = bool(requires_grad)
        self.grad: np.ndarray | None = None
        self.grad_fn: Function | None = None
        self.output_index = 0  # which of grad_fn's outputs this is
        self.retains_grad = False
        self.version_counter = Version()

    def __getstate__(self) -> dict[str, Any]:
        """What ``pickle`` and ``copy.deepcopy`` copy: all but ``graph_ref``, which refers to
        this object alone (a copy gets its own when an op first uses it)."""
        state = dict(vars(self))
        state.pop("graph_ref", None)
        return state

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

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extra = f", grad_fn={type(self.grad_fn).__name__}" if self.grad_fn is not None else ""
        if self.requires_grad and self.grad_fn is None:
            extra = ", requires_grad=True"
        return f"Tensor({body}{extra})"

    # --- reverse mode ---
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad
        (``minigrad.engine.backward``).

        Parameters
        ----------
        grad : array_like, optional
            d(loss)/d(self), of self's shape.  May be left out only for a one-element tensor,
            where it is 1.
        retain_graph : bool
            Keep the graph so that backward can run through it again.  By default the graph
            is freed, so a training loop does not hold every step's arrays.
        """
        engine.backward(self, grad, retain_graph)

    def detach(self) -> Tensor:
        """The same data, cut from the graph: no gradient flows through the result.  It shares
        the memory, so changing it in place changes self too, as in PyTorch."""
        out = wrap(self.data)
        out.version_counter = self.version_counter
        return out

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if not self.is_leaf:
            raise RuntimeError("requires_grad_ can only change leaf tensors; use detach() first")
        if requires_grad and self.dtype.type not in _FLOATS:
            raise RuntimeError(f"only float tensors can require gradients, got dtype {self.dtype}")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep ``grad`` on this intermediate tensor too (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        self.retains_grad = True

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

    # === PyTorch's conveniences: a learner may skip from here to the end of the class ===

    # --- numbers, numpy and Python's protocols ---
    def numel(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        """The rows (``x[0]``, ``x[1]``, ...), each in the graph; a 0-d tensor has none."""
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self.data)))

    def numpy(self) -> np.ndarray:
        """The data as a numpy array (the same memory, as in PyTorch)."""
        return self.data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """numpy's conversion protocol: ``np.asarray(x)`` is the data (shared, as ``numpy()``),
        ``np.array(x)`` a copy of it, with ``dtype`` converted."""
        if dtype is not None and np.dtype(dtype) != self.dtype:
            if copy is False:
                raise ValueError(
                    f"np.asarray(tensor, dtype={np.dtype(dtype)}, copy=False): a {self.dtype} "
                    "tensor cannot be converted without a copy"
                )
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def item(self) -> float | bool:
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"bool() of a tensor of shape {self.shape} is ambiguous: it needs one element; "
                "use (x > 0).any() or .all() for a condition on every element"
            )
        return bool(self.data)

    # comparisons give numpy boolean arrays (masks for where and indexing), not Tensors
    __hash__ = object.__hash__  # tensors stay usable as dict keys and in sets, by identity

    def __eq__(self, other: Any) -> np.ndarray:  # type: ignore[override]
        return self.data == unwrap(other)

    def __ne__(self, other: Any) -> np.ndarray:  # type: ignore[override]
        return self.data != unwrap(other)

    def __lt__(self, other: Any) -> np.ndarray:
        return self.data < unwrap(other)

    def __le__(self, other: Any) -> np.ndarray:
        return self.data <= unwrap(other)

    def __gt__(self, other: Any) -> np.ndarray:
        return self.data > unwrap(other)

    def __ge__(self, other: Any) -> np.ndarray:
        return self.data >= unwrap(other)

    def tolist(self) -> Any:
        return self.data.tolist()

    # --- in place, as in PyTorch: the same object changes, and its version counter moves on ---
    @property
    def _version(self) -> int:
        """How many times this tensor's memory has been changed in place (PyTorch's name)."""
        return self.version_counter.value

    def mark_modified(self) -> None:
        """Record that ``data`` was changed in place (minigrad's optimizers, weight loading and
        the in-place methods call it).  A backward that needs the old values then raises
        instead of computing a wrong gradient, as PyTorch's version counter does."""
        self.version_counter.bump()

    def __setitem__(self, index: Any, value: Any) -> None:
        self._check_inplace("x[index] = value", value)
        self.data[ops.as_index(index)] = unwrap(value)
        self.mark_modified()

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace("+=", np.add, other)

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace("-=", np.subtract, other)

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace("*=", np.multiply, other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace("/=", np.true_divide, other)

    def __ipow__(self, exponent: float) -> Tensor:
        if isinstance(exponent, Tensor) or not np.isscalar(exponent):
            raise TypeError(f"**=: the exponent must be a number, got {type(exponent).__name__}")
        return self._inplace("**=", np.power, exponent)

    def __imatmul__(self, other: Any) -> Tensor:
        raise TypeError("in-place matmul (x @= y) is not supported, as in PyTorch; write x = x @ y")

    def add_(self, other: Any, alpha: float = 1) -> Tensor:
        """self += alpha * other, in place."""
        return self._inplace("add_", np.add, other if alpha == 1 else unwrap(other) * alpha)

    def sub_(self, other: Any, alpha: float = 1) -> Tensor:
        """self -= alpha * other, in place."""
        return self._inplace("sub_", np.subtract, other if alpha == 1 else unwrap(other) * alpha)

    def mul_(self, other: Any) -> Tensor:
        return self._inplace("mul_", np.multiply, other)

    def div_(self, other: Any) -> Tensor:
        return self._inplace("div_", np.true_divide, other)

    def zero_(self) -> Tensor:
        return self._inplace("zero_", _copy, np.zeros((), self.dtype))  # False for a mask

    def fill_(self, value: Any) -> Tensor:
        if np.ndim(unwrap(value)) != 0:
            raise ValueError(f"fill_ takes one number, got shape {np.shape(unwrap(value))}")
        return self._inplace("fill_", _copy, value)

    def copy_(self, src: Any) -> Tensor:
        """self's values replaced by src's (broadcast to self's shape), in place."""
        return self._inplace("copy_", _copy, src)

    def clamp_(self, min: float | None = None, max: float | None = None) -> Tensor:
        """``clamp`` in place."""
        if min is None and max is None:
            raise ValueError("clamp_: give min, max or both")
        self._check_inplace("clamp_", (min, max))
        np.clip(self.data, unwrap(min), unwrap(max), out=self.data, casting="same_kind")
        self.mark_modified()
        return self

    def _inplace(self, name: str, ufunc: Any, other: Any) -> Tensor:
        """``ufunc(self, other)`` written into self's memory, once every check has passed
        (numpy refuses a value it would have to cast unsafely before it writes anything)."""
        self._check_inplace(name, other)
        value = unwrap(other)
        shape = np.shape(value)
        try:
            fits = np.broadcast_shapes(self.shape, shape) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(
                f"{name}: a value of shape {shape} cannot be written into a tensor of "
                f"shape {self.shape} (it must broadcast to it)"
            )
        ufunc(self.data, value, out=self.data, casting="same_kind")
        self.mark_modified()
        return self

    def _check_inplace(self, name: str, other: Any) -> None:
        """The in-place rules of PyTorch that keep every gradient right, checked before a write."""
        if self.grad_fn is not None:
            raise RuntimeError(
                f"{name}: in place on a tensor that an op made (grad_fn={type(self.grad_fn).__name__}), "
                "whose value the graph may need for backward; write it out of place (y = y + 1 "
                "instead of y += 1), or change a detach()ed copy made with clone().detach()"
            )
        if not grad_mode.recording:
            return
        if self.requires_grad:
            raise RuntimeError(
                f"{name}: a leaf Tensor that requires grad is used in an in-place operation; "
                "update parameters inside `with mg.no_grad():`, or write x = x + ... for a new tensor"
            )
        others = other if isinstance(other, tuple) else (other,)
        if any(isinstance(o, Tensor) and o.requires_grad for o in others):
            way = "build the tensor with mg.stack, mg.cat or mg.where" if "[" in name else "write x = x + y"
            raise RuntimeError(
                f"{name}: the value requires grad, but a tensor changed in place cannot carry its "
                f"gradient; {way} (out of place) so that the gradient flows"
            )

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
        self,
        axis: int | None = None,
        keepdims: bool = False,
        *,
        dim: int | None = None,
        keepdim: bool | None = None,
    ) -> Tensor | ValuesIndices:
        """PyTorch's ``max``: without a dim, the largest value (a 0-d tensor; ties share the
        gradient); with one, ``(values, indices)`` along it, so that ``x.max(dim=1)[0]`` and
        ``_, pred = logits.max(1)`` work.  ``amax`` takes several dims and gives values only."""
        return self._extreme("max", np.argmax, axis, keepdims, dim, keepdim)

    def min(
        self,
        axis: int | None = None,
        keepdims: bool = False,
        *,
        dim: int | None = None,
        keepdim: bool | None = None,
    ) -> Tensor | ValuesIndices:
        """PyTorch's ``min``: the smallest value, or ``(values, indices)`` along a dim (as ``max``)."""
        return self._extreme("min", np.argmin, axis, keepdims, dim, keepdim)

    def _extreme(self, name: str, arg: Any, axis: Any, keepdims: bool, dim: Any, keepdim: bool | None) -> Any:
        if isinstance(axis, Tensor) or isinstance(dim, Tensor):
            raise TypeError(
                f"{name}(other): minigrad has no elementwise {name}imum of two tensors; "
                f"write mg.where(x {'>' if name == 'max' else '<'} y, x, y)"
            )
        axis, keepdims = _reduction(name, axis, keepdims, dim, keepdim)
        if axis is None:
            return ops.max(self, keepdims=keepdims) if name == "max" else -ops.max(-self, keepdims=keepdims)
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise TypeError(
                f"{name}(dim) takes one dim, as in PyTorch, got {axis!r}; "
                f"a{name}(dim={axis!r}) gives the {name}imum over several dims"
            )
        axis = ops.normalize_axes(name, axis, self.ndim)[0]
        if self.shape[axis] == 0:
            raise ValueError(f"{name}: the tensor of shape {self.shape} has no elements along dim {axis}")
        indices = arg(self.data, axis=axis, keepdims=True)
        values = ops.take_along_axis(self, indices, axis, keepdims)
        return ValuesIndices(values, indices if keepdims else indices.squeeze(axis))

    def amax(self, dim: Axes = None, keepdim: bool = False) -> Tensor:
        """The largest values over ``dim`` (one dim, several, or all when None); ties share the
        gradient, as in PyTorch."""
        return ops.max(self, dim, keepdim)

    def amin(self, dim: Axes = None, keepdim: bool = False) -> Tensor:
        """The smallest values over ``dim`` (one dim, several, or all when None)."""
        return -ops.max(-self, dim, keepdim)

    def argmax(
        self,
        axis: int | None = None,
        keepdims: bool = False,
        *,
        dim: int | None = None,
        keepdim: bool | None = None,
    ) -> np.ndarray:
        """Indices of the largest values, as an int64 numpy array (no gradient flows through)."""
        axis, keepdims = _reduction("argmax", axis, keepdims, dim, keepdim)
        return np.argmax(self.data, axis=axis, keepdims=keepdims)

    def argmin(
        self,
        axis: int | None = None,
        keepdims: bool = False,
        *,
        dim: int | None = None,
        keepdim: bool | None = None,
    ) -> np.ndarray:
        """Indices of the smallest values, as an int64 numpy array (no gradient flows through)."""
        axis, keepdims = _reduction("argmin", axis, keepdims, dim, keepdim)
        return np.argmin(self.data, axis=axis, keepdims=keepdims)

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
        start, end = (_one_dim("flatten", d, max(self.ndim, 1)) for d in (start_dim, end_dim))
        if start > end:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        if self.ndim == 0:
            return ops.reshape(self, 1)
        return ops.reshape(self, (*self.shape[:start], -1, *self.shape[end + 1 :]))

    def unsqueeze(self, dim: int) -> Tensor:
        """A new axis of size 1 at ``dim`` (negative counts from the end of the result)."""
        axis = _one_dim("unsqueeze", dim, self.ndim + 1)
        return ops.reshape(self, (*self.shape[:axis], 1, *self.shape[axis:]))

    def squeeze(self, dim: int | tuple[int, ...] | None = None) -> Tensor:
        """Axes of size 1 removed: all of them, or those of ``dim`` (one or a tuple, as in
        PyTorch 2) that have size 1; a named axis of another size is left alone."""
        axes = ops.normalize_axes("squeeze", dim, self.ndim)
        return ops.reshape(self, tuple(n for k, n in enumerate(self.shape) if n != 1 or k not in axes))

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

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """``chunks`` blocks along ``dim`` (views, as PyTorch's ``chunk``; ``ops.chunk``)."""
        return ops.chunk(self, chunks, dim)

    def permute(self, *dims: int) -> Tensor:
        return ops.transpose(self, *dims)

    @property
    def T(self) -> Tensor:
        """All axes reversed (a 2-D tensor's transpose)."""
        return ops.transpose(self)

    def clone(self) -> Tensor:
        """A copy of the data that stays in the graph (gradients flow back to self)."""
        if self.dtype == _BOOL:
            return wrap(self.data.copy())  # a mask has no gradient
        return ops.cast(self, self.dtype)

    def float(self) -> Tensor:
        """self as float32 (PyTorch's ``float()``; numpy's float is float64): self itself when
        it is float32 already, as in PyTorch, else a copy through which the gradient flows."""
        return self if self.dtype == np.float32 else ops.cast(self, np.float32)

    def double(self) -> Tensor:
        """self as float64: self itself when it is float64 already, else a copy in the graph."""
        return self if self.dtype == np.float64 else ops.cast(self, np.float64)


# --- what the Tensor uses: dtype checks, the version counter, wrapping an array ---
def check_dtype(dtype: Any, where: str) -> np.dtype | None:
    """``dtype`` as a numpy dtype a tensor may hold (float32, float64, bool), or a TypeError.

    Integers are refused rather than turned into floats without a word: a tensor of class
    ids that silently holds floats is the kind of wrong answer minigrad does not give."""
    if dtype is None:
        return None
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"{where}: dtype must be a numpy dtype (np.float32, np.float64 or bool), got {dtype!r}"
        ) from None
    if dtype.type not in KINDS:
        raise TypeError(
            f"{where}: minigrad tensors hold float32 or float64 (or bool, for masks), got dtype {dtype}; "
            "keep integers such as class ids in a numpy array (np.array(ids, dtype=np.int64)), "
            "which every minigrad function that takes ids or indices accepts"
        )
    return dtype


def _to_array(data: Any, dtype: np.dtype | None = None) -> np.ndarray:
    """Copy ``data`` into a float32, float64 or bool array; integers become float64."""
    array = np.array(data, dtype=dtype)
    if array.dtype.type in KINDS:
        return array
    if array.dtype.kind in "iuf":
        return array.astype(np.float64)
    raise TypeError(f"Tensor needs numeric data (float, int or bool), got an array of dtype {array.dtype}")


def _holds_grad(data: list | tuple) -> bool:
    """Whether a (nested) list holds a tensor that requires grad."""
    return any(
        item.requires_grad
        if isinstance(item, Tensor)
        else isinstance(item, (list, tuple)) and _holds_grad(item)
        for item in data
    )


class Version:
    """How many times a tensor's memory has been changed in place.

    Tensors that share memory (``detach()``, and views such as ``reshape`` or a slice) share
    one counter, so that changing any of them is seen by every op that saved one of them.
    ``changed_at`` is the value of ``grad_mode.changes_in_place`` (in-place changes to any
    tensor so far) right after this memory's last change: an op recorded when that count was
    n sees this memory changed since iff ``changed_at > n``; while the count is still n,
    nothing has changed anywhere and the engine need look at no counter."""

    value = changed_at = 0  # until the first change (no __init__: one is made per op)

    def bump(self) -> None:
        """Record one in-place change of this memory."""
        grad_mode.changes_in_place += 1
        self.value += 1
        self.changed_at = grad_mode.changes_in_place


class FreedValues(Tensor):
    """An op's output that nothing held any more when the graph was walked: its place in the
    graph (``grad_fn``, ``output_index``, shape and dtype) without its values, which were freed
    with it (see ``function.OutputRef``).  Reading its values raises rather than answer."""

    def __init__(self, made_by: Function, output_index: int, version_counter: Version) -> None:
        self.grad_fn, self.output_index, self.version_counter = made_by, output_index, version_counter
        self.requires_grad = True
        self.spec = made_by.output_specs[output_index]

    @property
    def data(self) -> np.ndarray:
        raise RuntimeError(
            f"the values of this {self.spec[1]} tensor of shape {self.spec[0]}, made by "
            f"{type(self.grad_fn).__name__}, were freed when nothing held them (the graph keeps "
            "only what backward needs); keep a reference to the tensor to read them later"
        )

    @property
    def shape(self) -> tuple[int, ...]:
        return self.spec[0]

    @property
    def dtype(self) -> np.dtype:
        return self.spec[1]

    @property
    def ndim(self) -> int:
        return len(self.spec[0])


def wrap(array: np.ndarray, requires_grad: bool = False) -> Tensor:
    """A Tensor around ``array`` itself.  ``Tensor(data)`` copies and checks what it is given;
    an op's output is a fresh array of a checked dtype that nothing else holds, so the op
    wraps it as it is: this runs once per op, thousands of times in an unrolled sequence.
    ``grad``, ``grad_fn``, ``output_index`` and ``retains_grad`` keep their class defaults."""
    out = Tensor.__new__(Tensor)
    out.data = array if type(array) is np.ndarray else np.asarray(array)  # numpy may give a scalar
    out.requires_grad, out.version_counter = requires_grad, Version()
    return out


Axes = int | tuple[int, ...] | None


class ValuesIndices(NamedTuple):
    """What ``max(dim)`` and ``min(dim)`` return, as PyTorch's named tuple does: the values
    (a Tensor, in the graph) and where they are (an int64 numpy array).

    It refuses to become an array or to take part in arithmetic, so that code written for
    numpy's ``max(axis)`` (values only) fails here instead of computing with a pair."""

    values: Tensor
    indices: np.ndarray

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        raise TypeError(_PAIR_MESSAGE)

    def __add__(self, other: Any) -> Any:
        raise TypeError(_PAIR_MESSAGE)

    __radd__ = __mul__ = __rmul__ = __add__


_PAIR_MESSAGE = (
    "max(dim) and min(dim) return (values, indices), as in PyTorch; take .values (or [0]), "
    "or use amax(dim) / amin(dim) for the values alone"
)


def _reduction(name: str, axis: Axes, keepdims: bool, dim: Axes, keepdim: bool | None) -> tuple[Axes, bool]:
    """numpy's ``axis``/``keepdims`` or PyTorch's ``dim``/``keepdim``, not both."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{name}: give axis or dim, not both")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    return axis, bool(keepdims)


def _one_dim(name: str, dim: Any, ndim: int) -> int:
    """``dim`` as a non-negative axis, for the methods that take exactly one."""
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{name}: dim must be one int, got {dim!r}")
    return ops.normalize_axes(name, dim, ndim)[0]


def unwrap(other: Any) -> Any:
    """``other``'s array when it is a Tensor, else ``other`` itself."""
    return other.data if isinstance(other, Tensor) else other


def _copy(_: np.ndarray, value: Any, out: np.ndarray, casting: str) -> None:
    """``copy_`` in the shape of a ufunc call, for ``Tensor._inplace``."""
    np.copyto(out, value, casting=casting)


def as_tensor(value: Any, like: Tensor | None = None) -> Tensor:
    """``value`` as a Tensor; a Python number takes the dtype of ``like`` (so float32 stays)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, Number) and like is not None:
        dtype = like.dtype if like.dtype.type in _FLOATS else np.float64  # a mask takes floats
        return wrap(np.asarray(value, dtype=dtype))
    return Tensor(value)


def as_tuple(values: tuple[Any, ...]) -> tuple[int, ...]:
    """A function's ``*values`` as one tuple: ``f(2, 3)`` and ``f((2, 3))`` both mean (2, 3),
    as in PyTorch (for shapes and axes alike)."""
    if len(values) == 1 and isinstance(values[0], (tuple, list)):
        return tuple(values[0])
    return tuple(values)


# ops builds on Tensor, so it is imported once Tensor exists.
from minigrad import ops  # noqa: E402
