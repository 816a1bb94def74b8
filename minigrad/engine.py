"""Reverse mode: from a result back to every leaf it was computed from, one op at a time.

``backward`` below is the whole idea, as lesson l00 (``lessons/l00_reverse_mode.py``) builds
it on scalars in one page: sort the graph so that every tensor comes after what it was made
from, seed the result's gradient, then walk the order backwards, letting each op turn the
gradient of its output into gradients of its inputs (the chain rule) and adding up what each
tensor receives from its several uses, freeing each op once its backward has run.

The graph holds each op's output weakly (``function.OutputRef``): an array lives as long as
the program or some op's saved values hold it, not because an op somewhere took it in.

Everything after ``backward`` is a named piece it calls, each with the reason it exists:
the collector paused, the iterative sort (an unrolled sequence is deeper than Python's
recursion limit), the checks that keep an op's backward honest (inputs changed in place
since forward, gradients written into, gradients of the wrong shape, dtype or value), the
sums that add an indexing gradient into its places only, and the gathering of an op's
several outputs.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from minigrad import grad_mode, kernels

if TYPE_CHECKING:
    from minigrad.function import Function, OutputRef
    from minigrad.tensor import Tensor


def backward(root: Tensor, grad: Any = None, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf root depends on."""
    seed = initial_gradient(root, grad)  # dL/dL: 1 for a one-element loss
    with collector_paused():  # backward makes no cycles: no need to search for them
        order = topological_order(root)  # every tensor after the tensors it was made from
        sums = GradientSums(root, seed)  # dL/d(tensor), summed over the tensor's uses so far
        waiting = OutputGrads(order)  # an op with several outputs waits for all their gradients
        reached: list[tuple[Tensor, np.ndarray]] = []  # (tensor, dL/d(tensor)) for tensor.grad
        for node in reversed(order):  # outputs before the inputs that made them
            g, op = sums.pop(node), node.grad_fn
            if g is not None and (op is None or node.retains_grad):
                reached.append((node, g))
            grads = None if op is None else waiting.add(node, g)
            if grads is not None:  # the chain rule, one op back
                inputs = op.inputs
                for parent, parent_grad in zip(inputs, chain_rule(op, inputs, grads), strict=True):
                    sums.add(parent, parent_grad)
                if not retain_graph:  # what op saved is needed no more: free it as we go
                    free(op)
        for node, g in reached:  # written only now, when every op's backward has succeeded
            node.grad = g.copy() if node.grad is None else np.asarray(node.grad + g)
        if not retain_graph:  # and the ops whose backward the loss never reached
            for node in order:
                if node.grad_fn is not None and not node.grad_fn.released:
                    free(node.grad_fn)


def topological_order(root: Tensor) -> list[Tensor | OutputRef]:
    """Every tensor that root depends on and that requires grad, inputs before outputs: a leaf
    as itself, an op's output as the graph holds it (``function.OutputRef``).

    Iterative, with an explicit stack: a sequence unrolled over thousands of steps makes a
    graph far deeper than Python's recursion limit."""
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
        elif id(node) not in visited:
            visited.add(id(node))
            stack.append((node, True))
            if node.grad_fn is not None:
                stack.extend([(p, False) for p in recorded_op(node).inputs if p.requires_grad])
    return order


# --- the pieces backward calls ---
@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector switched off for the block (unless it was off already).

    Backward, and a sequence unrolled step by step (``layers.rnn.unroll``), make thousands of
    small objects while the whole graph is alive, and each of the collector's full passes walks
    every object the program holds: over 1000 steps that was a third of backward's time, and
    35-40% of the unrolled forward's.  Neither makes reference cycles (the graph's objects refer
    only backwards), so nothing is lost: what they drop is freed at once, and the collector runs
    again after the block (finding any cycle a cell of one's own made meanwhile)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def initial_gradient(root: Tensor, grad: Any) -> np.ndarray:
    """dL/d(root) to start from: ``grad`` checked against root, or 1 for a one-element root."""
    if not root.requires_grad:
        raise RuntimeError(
            "backward() on a tensor that does not require grad: no input of the ops that "
            "made it has requires_grad=True (or it was made under no_grad())"
        )
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward() without a gradient needs a one-element tensor, got shape "
                f"{root.shape}; reduce it first (e.g. .sum()) or pass backward(grad) "
                f"with an array of shape {root.shape}"
            )
        return np.ones_like(root.data)
    grad = np.asarray(getattr(grad, "data", grad), dtype=root.dtype)
    if grad.shape != root.shape:
        raise ValueError(f"backward(grad): grad has shape {grad.shape}, expected {root.shape}")
    return grad


def recorded_op(node: Tensor) -> Function:
    """The op that made ``node``, refused once a backward has freed it.

    Freeing drops what the op saved, so a second backward would run on nothing; PyTorch
    refuses it the same way and names ``retain_graph``."""
    op = node.grad_fn
    if op.released:
        raise RuntimeError(
            f"backward through a graph that was already freed (at {type(op).__name__});"
            " pass retain_graph=True to the first backward() to go through it twice"
        )
    return op


def chain_rule(
    op: Function, parents: tuple[Tensor | OutputRef, ...], grads: tuple[np.ndarray, ...]
) -> tuple[np.ndarray | IndexedGrad | None, ...]:
    """dL/d(each input of op) from dL/d(each output): ``op.backward``, with its checks."""
    if grad_mode.changes_in_place != op.changes_at_forward:  # else nothing changed anywhere
        check_versions(op, parents)
    if not op.leaves_grads_unchanged:
        grads = read_only(grads)
    try:
        input_grads = op.backward(*grads)
    except ValueError as error:
        if "read-only" not in str(error):
            raise
        raise RuntimeError(
            f"{type(op).__name__}.backward changed its incoming gradient in place; it may be shared "
            "with other gradients, so compute a new array instead (g = g * 2, not g *= 2)"
        ) from error
    return checked_input_grads(op, parents, input_grads)


def check_versions(op: Function, parents: tuple[Tensor | OutputRef, ...]) -> None:
    """Raise if an input or output of ``op`` was changed in place since op's forward.

    A backward that reads its saved inputs (``Mul`` needs both factors) would otherwise
    compute a gradient from values that are no longer the ones used: silently wrong.  Every
    tensor has a version counter that each in-place change moves on (shared by tensors that
    share memory), and PyTorch keeps these counters on, as do we.  Most backwards run with no
    in-place change anywhere since their forward: one comparison of the global count of
    changes (``grad_mode.changes_in_place``) with the op's shows it (``chain_rule`` makes it
    before calling this); only after a change are the op's counters looked at, each
    knowing when it last moved (``Version``)."""
    since = op.changes_at_forward
    counters = [parent.version_counter for parent in parents] + list(op.output_versions)
    changed = next((k for k, counter in enumerate(counters) if counter.changed_at > since), None)
    if changed is None:
        return
    name, inputs = type(op).__name__, len(parents)
    if changed < inputs:
        raise RuntimeError(
            f"{name}.backward: input {changed} (shape {parents[changed].shape}) was changed in "
            f"place after {name} used it (by an optimizer step, a weight load or an in-place "
            "operator, say), so its gradient would be wrong; run backward before changing it, "
            "or compute again"
        )
    raise RuntimeError(
        f"{name}.backward: output {changed - inputs} (shape {op.output_specs[changed - inputs][0]}) "
        f"was changed in place (through a detach()ed copy or a view), and {name}'s gradient may "
        "need its value; change a clone() instead"
    )


def read_only(grads: tuple[np.ndarray, ...]) -> list[np.ndarray]:
    """Read-only views of an op's incoming gradients.

    The engine hands one array to several places without copying (``Add`` sends its ``g``
    to both inputs), so a backward that wrote into its ``g`` would change another tensor's
    gradient.  Through a read-only view that write raises instead.  The primitives of
    ``ops.py`` are tested never to write into ``g`` and get the arrays themselves
    (``Function.leaves_grads_unchanged``), which saves the view's cost on every op."""
    views = [g.view() for g in grads]
    for view in views:
        view.flags.writeable = False
    return views


def checked_input_grads(
    op: Function, parents: tuple[Tensor | OutputRef, ...], grads: Any
) -> tuple[np.ndarray | IndexedGrad | None, ...]:
    """One gradient per input, each of its input's shape and dtype (None where none is needed).

    A backward written by hand can return a gradient of the wrong shape, which broadcasting
    would spread silently over the next op, or of another dtype (numpy promotes float32
    times a float64 constant), which would leak float64 through a float32 model: the shape
    raises, the dtype is converted back.  Under ``detect_anomaly`` each is checked finite."""
    grads = grads if isinstance(grads, tuple) else (grads,)
    if len(grads) != len(parents):
        raise RuntimeError(
            f"{type(op).__name__}.backward returned {len(grads)} gradients for {len(parents)} inputs"
        )
    checked: list[np.ndarray | IndexedGrad | None] = []
    for i, g in enumerate(grads):
        parent = parents[i]
        if g is None or not parent.requires_grad:
            checked.append(None)
        elif type(g) is np.ndarray and g.dtype == parent.dtype and g.shape == parent.shape:
            checked.append(g)  # the common case: nothing to convert or report
            if grad_mode.anomaly_checks:
                check_finite(g, type(op), i)
        else:
            checked.append(converted_grad(op, i, parent, g))
    return tuple(checked)


def converted_grad(op: Function, i: int, parent: Tensor | OutputRef, g: Any) -> np.ndarray | IndexedGrad:
    """``g``, the gradient op's backward returned for input i, in parent's dtype; an error
    for a shape other than parent's."""
    dtype = parent.dtype
    if isinstance(g, IndexedGrad):
        g.values = np.asarray(g.values, dtype=dtype)
    elif type(g) is not np.ndarray or g.dtype != dtype:
        g = np.asarray(g, dtype=dtype)
    if g.shape != parent.shape:
        raise RuntimeError(
            f"{type(op).__name__}.backward returned a gradient of shape {g.shape} "
            f"for input {i} of shape {parent.shape}"
        )
    if grad_mode.anomaly_checks:
        check_finite(g.values if isinstance(g, IndexedGrad) else g, type(op), i)
    return g


def check_finite(array: np.ndarray, op: type, input_index: int | None = None) -> None:
    """Under ``detect_anomaly``: raise if ``array`` is not finite, naming the op that made it
    (its forward's output, or with ``input_index`` the gradient its backward made for that
    input), so that the first NaN is found where it appears rather than in the loss."""
    if not np.all(np.isfinite(array)):
        what = f"forward of {op.__name__}"
        if input_index is not None:
            what = f"backward of {op.__name__} (gradient of input {input_index})"
        raise FloatingPointError(f"detect_anomaly: the {what} produced NaN or inf")


def free(op: Function) -> None:
    """Drop what ``op`` saved for backward (its inputs, and whatever arrays its forward kept on
    self, under any name), so that a training loop does not hold every step's graph.  What
    is left says that it was freed, for ``recorded_op``'s error.  Backward frees each op as
    soon as its backward has run, as PyTorch does, so that the arrays saved for the last
    steps of a sequence go while the first are still being differentiated (a backward that
    raises leaves the ops before it freed: run forward again)."""
    vars(op).clear()
    op.inputs, op.released = (), True


class IndexedGrad:
    """A gradient that is ``values`` at ``index`` of an array of ``shape`` and zero elsewhere.

    Indexing returns one from its backward instead of a dense array: taking one step of a long
    sequence then costs in backward what the step costs, not what the whole input costs.
    ``GradientSums`` adds it into the input's gradient in place with ``add_to``.
    """

    def __init__(self, shape: tuple[int, ...], index: Any, values: np.ndarray) -> None:
        self.shape, self.index, self.values = shape, index, values

    def add_to(self, target: np.ndarray) -> None:
        """target[index] += values; an element picked twice receives both values."""
        index = self.index
        if is_basic_index(index):
            target[index] += self.values
        elif is_row_index(index) and target.flags.c_contiguous:
            rows = np.where(index < 0, index + self.shape[0], index)
            width = int(np.prod(self.shape[1:]))
            kernels.scatter_add_rows(
                target.reshape(self.shape[0], width), rows, self.values.reshape(len(rows), width)
            )
        else:
            np.add.at(target, index, self.values)


def is_basic_index(index: Any) -> bool:
    """True for ints, slices, None and Ellipsis only: such an index never repeats an element."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis for p in parts)


def is_row_index(index: Any) -> bool:
    """True for one array of integer row numbers (an embedding lookup), which a compiled
    loop adds up far faster than ``np.add.at``."""
    return isinstance(index, np.ndarray) and index.ndim == 1 and index.dtype.kind in "iu"


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
        self.left = Counter(
            n.grad_fn for n in order if n.grad_fn is not None and len(n.grad_fn.output_specs) > 1
        )
        self.grads: dict[Function, list[np.ndarray | None]] = {}

    def add(self, node: Tensor, grad: np.ndarray | None) -> tuple[np.ndarray, ...] | None:
        """Take one output's gradient; every output's, once the last has come (None before,
        and None when the loss reaches none of them)."""
        op = node.grad_fn
        if len(op.output_specs) == 1:
            return None if grad is None else (grad,)
        grads = self.grads.setdefault(op, [None] * len(op.output_specs))
        grads[node.output_index] = grad
        self.left[op] -= 1
        if self.left[op] > 0 or all(g is None for g in grads):
            return None
        del self.grads[op]
        return tuple(
            np.zeros(shape, dtype) if g is None else g
            for g, (shape, dtype) in zip(grads, op.output_specs, strict=True)
        )
