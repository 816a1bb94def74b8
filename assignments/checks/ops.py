"""Checks of the ops assignment: each op's forward against numpy, its backward against central
differences (gradcheck under hypothesis), dtypes, extreme values, and topological_order."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
from hypothesis import strategies as st

from minigrad import Function, Tensor
from minigrad.testing import gradcheck
from minigrad.testing.grading import Checklist, prove, require
from minigrad.testing.strategies import arrays, broadcastable_shapes, shapes

# the student's ops may not run minigrad's own ops, kernels or losses, nor the solutions
checklist = Checklist(
    forbidden=("minigrad.ops", "minigrad.functional", "minigrad.kernels", "layers", "assignments")
)


def _log_softmax(a: np.ndarray, axis: int) -> np.ndarray:
    shifted = a - a.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


@st.composite
def _two_broadcastable(draw: Any) -> dict[str, Any]:
    shape_a, shape_b = draw(broadcastable_shapes())
    return {"a": draw(arrays(shape=shape_a)), "b": draw(arrays(shape=shape_b))}


@st.composite
def _two_matrices(draw: Any) -> dict[str, Any]:
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    return {"a": draw(arrays(shape=(n, k))), "b": draw(arrays(shape=(k, m)))}


@st.composite
def _reduced(draw: Any, axis_may_be_tuple: bool) -> dict[str, Any]:
    a = draw(arrays(shape=shapes(min_dims=1)))
    axes = st.integers(-a.ndim, a.ndim - 1)
    choices = [st.none(), axes]
    if axis_may_be_tuple:
        choices.append(
            st.lists(st.integers(0, a.ndim - 1), min_size=1, max_size=a.ndim, unique=True).map(tuple)
        )
    case = {"a": a, "axis": draw(st.one_of(*choices))}
    if axis_may_be_tuple:
        case["keepdims"] = draw(st.booleans())
    return case


def _one(**options: Any) -> st.SearchStrategy[dict[str, Any]]:
    return arrays(**options).map(lambda a: {"a": a})


# name: (cases, numpy reference of the forward)
OPS: dict[str, tuple[st.SearchStrategy[dict[str, Any]], Callable[..., np.ndarray]]] = {
    "Mul": (_two_broadcastable(), lambda a, b: a * b),
    "MatMul": (_two_matrices(), lambda a, b: a @ b),
    "Tanh": (_one(), np.tanh),
    "Sigmoid": (_one(min_value=-6.0, max_value=6.0), lambda a: 1 / (1 + np.exp(-a))),
    "Sum": (
        _reduced(axis_may_be_tuple=True),
        lambda a, axis=None, keepdims=False: a.sum(axis=axis, keepdims=keepdims),
    ),
    "LogSoftmax": (_reduced(axis_may_be_tuple=False).filter(lambda c: c["axis"] is not None), _log_softmax),
}


def _split(case: dict[str, Any]) -> tuple[list[np.ndarray], dict[str, Any]]:
    """The arrays of a case (passed by position) and its settings (by keyword)."""
    arrays_ = [v for v in case.values() if isinstance(v, np.ndarray)]
    return arrays_, {k: v for k, v in case.items() if not isinstance(v, np.ndarray)}


def _forward_matches(op: type, reference: Callable[..., np.ndarray], case: dict[str, Any], name: str) -> None:
    inputs, params = _split(case)
    expected = np.asarray(reference(*inputs, **params))
    out = op.apply(*(Tensor(a) for a in inputs), **params)
    got = out.data
    settings = f" with {params}" if params else ""
    assert got.shape == expected.shape, (
        f"{name}{settings}: output shape {got.shape}, expected {expected.shape}"
    )
    assert got.dtype == expected.dtype, (
        f"{name}{settings}: output dtype {got.dtype}, expected {expected.dtype}"
    )
    tolerance = 1e-5 if got.dtype == np.float32 else 1e-10
    assert np.allclose(got, expected, rtol=tolerance, atol=tolerance), (
        f"{name}{settings}: the output differs from numpy's; largest difference "
        f"{np.max(np.abs(got - expected)):.3g}"
    )


def _gradients_match(op: type, case: dict[str, Any], name: str) -> None:
    inputs, params = _split(case)
    names = [k for k, v in case.items() if isinstance(v, np.ndarray)]
    try:
        gradcheck(lambda *tensors: op.apply(*tensors, **params), inputs, names=names)
    except AssertionError as error:
        settings = f" with {params}" if params else ""
        raise AssertionError(f"{name}{settings}: {error}") from None


def _add_op_checks(
    name: str, cases: st.SearchStrategy[dict[str, Any]], reference: Callable[..., np.ndarray]
) -> None:
    def forward(examples: int, seed: int) -> Callable[[ModuleType], None]:
        return lambda sub: prove(
            lambda c: _forward_matches(require(sub, name), reference, c, name), cases, examples, seed
        )

    def gradients(examples: int, seed: int) -> Callable[[ModuleType], None]:
        return lambda sub: prove(
            lambda c: _gradients_match(require(sub, name), c, name), cases, examples, seed
        )

    checklist.add(f"{name}: forward equals numpy's", 1, forward(10, 0))
    checklist.add(f"{name}: backward equals central differences (gradcheck)", 2, gradients(10, 0))
    checklist.add(f"{name}: forward on more cases", 1, forward(30, 1), hidden=True)
    checklist.add(f"{name}: backward on more cases", 1, gradients(30, 2), hidden=True)


for _name, (_cases, _reference) in OPS.items():
    _add_op_checks(_name, _cases, _reference)


@checklist.check(points=2, name="every op keeps float32 as float32, in forward and backward", hidden=True)
def keeps_float32(sub: ModuleType) -> None:
    rng = np.random.default_rng(3)
    a, b = rng.uniform(-2, 2, (3, 4)).astype(np.float32), rng.uniform(-2, 2, (4, 2)).astype(np.float32)
    cases = {
        "Mul": ([a, a[:1]], {}),
        "MatMul": ([a, b], {}),
        "Tanh": ([a], {}),
        "Sigmoid": ([a], {}),
        "Sum": ([a], {"axis": 1}),
        "LogSoftmax": ([a], {"axis": -1}),
    }
    for name, (inputs, params) in cases.items():
        _forward_matches(
            require(sub, name), OPS[name][1], {**dict(zip("ab", inputs, strict=False)), **params}, name
        )
        tensors = [Tensor(x, requires_grad=True) for x in inputs]
        out = require(sub, name).apply(*tensors, **params)
        out.backward(np.ones(out.shape, dtype=np.float32))
        for k, t in enumerate(tensors):
            assert t.grad is not None and t.grad.dtype == np.float32, (
                f"{name}: the gradient of input {k} is not float32"
            )


@checklist.check(points=2, name="Sigmoid and LogSoftmax stay finite and right for large values", hidden=True)
def large_values(sub: ModuleType) -> None:
    big = np.array([[-1000.0, -50.0, 0.0, 50.0, 1000.0], [800.0, 790.0, -800.0, 0.5, 1.0]])
    _forward_matches(require(sub, "Sigmoid"), lambda a: 0.5 * (1 + np.tanh(a / 2)), {"a": big}, "Sigmoid")
    _forward_matches(require(sub, "LogSoftmax"), _log_softmax, {"a": big, "axis": -1}, "LogSoftmax")
    _forward_matches(require(sub, "LogSoftmax"), _log_softmax, {"a": big, "axis": 0}, "LogSoftmax")


# --- topological_order ---
def _reachable(root: Tensor) -> dict[int, Tensor]:
    found, stack = {}, [root]
    while stack:
        t = stack.pop()
        if id(t) not in found:
            found[id(t)] = t
            stack.extend(t.grad_fn.parents if t.grad_fn is not None else ())
    return found


def _check_order(topological_order: Callable[[Tensor], Any], root: Tensor, what: str) -> None:
    order = list(topological_order(root))
    expected = _reachable(root)
    ids = [id(t) for t in order]
    assert len(ids) == len(set(ids)), (
        f"{what}: some tensors appear more than once ({len(ids)} entries, {len(set(ids))} different)"
    )
    missing, extra = set(expected) - set(ids), set(ids) - set(expected)
    assert not missing and not extra, (
        f"{what}: the order misses {len(missing)} of the {len(expected)} tensors the root depends on"
        + (f", and holds {len(extra)} it does not depend on" if extra else "")
    )
    assert order[-1] is root, f"{what}: the root must come last"
    position = {i: k for k, i in enumerate(ids)}
    for t in order:
        for parent in t.grad_fn.parents if t.grad_fn is not None else ():
            assert position[id(parent)] < position[id(t)], (
                f"{what}: a tensor comes before one it was made from"
            )


def _small_graph() -> Tensor:
    x, w = Tensor([[1.0, 2.0]], requires_grad=True), Tensor([[0.5], [-1.0]], requires_grad=True)
    hidden = (x @ w).tanh()
    return (hidden * hidden + hidden * x).sum()  # hidden is used three times, x twice


@checklist.check(points=2, name="topological_order: a small graph with shared tensors")
def order_small(sub: ModuleType) -> None:
    _check_order(require(sub, "topological_order"), _small_graph(), "on (x @ w).tanh() used three times")


@checklist.check(points=1, name="topological_order: a leaf alone, and a diamond of 30 levels", hidden=True)
def order_shapes(sub: ModuleType) -> None:
    order = require(sub, "topological_order")
    _check_order(order, Tensor([1.0], requires_grad=True), "on a leaf")
    t = Tensor([1.0], requires_grad=True)
    for _ in range(30):  # each level uses the one below twice: 2^30 paths, 61 tensors
        t = t * 0.5 + t * 0.25
    _check_order(order, t, "on a 30-level diamond (visiting every path would never end)")


class _Identity(Function):
    """The cheapest op there is, to build long chains quickly."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return a

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g


@checklist.check(points=2, name="topological_order: a chain of 100,000 ops (no recursion)", hidden=True)
def order_deep(sub: ModuleType) -> None:
    t = Tensor([1.0], requires_grad=True)
    for _ in range(100_000):
        t = _Identity.apply(t)
    _check_order(require(sub, "topological_order"), t, "on a chain of 100,000 ops")
