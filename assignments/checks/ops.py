"""Checks of the ops assignment: each op's forward against numpy, its backward against the true
gradient (written here in numpy) to a tolerance that finite differences cannot meet, dtypes,
extreme values, and topological_order on graphs built in the child."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from assignments.checks.common import AUTOGRADS, HAND_WRITTEN, checklist_for
from minigrad.testing.grading import Case, Expect, drawn_cases
from minigrad.testing.strategies import arrays, broadcastable_shapes, shapes

# the student's ops may not run minigrad's own ops, kernels or losses, nor the reference layers
checklist = checklist_for(
    "ops",
    forbidden=("minigrad.ops", "minigrad.functional", "minigrad.kernels", "layers"),
    refuse_imports=AUTOGRADS,
    refuse_reason=HAND_WRITTEN,
)

FORWARD_TOLERANCE = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-5}
# an analytic backward matches the true gradient to a few rounding errors; central
# differences are off by more than 1e-9 of the scale, whatever their step
GRADIENT_TOLERANCE = {np.dtype(np.float64): 1e-11, np.dtype(np.float32): 1e-5}


def _log_softmax(a: np.ndarray, axis: int) -> np.ndarray:
    shifted = a - a.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


def _sum_backward(
    g: np.ndarray, a: np.ndarray, axis: Any = None, keepdims: bool = False
) -> tuple[np.ndarray]:
    axes = tuple(range(a.ndim)) if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
    kept = g if keepdims else np.expand_dims(g, tuple(k % a.ndim for k in axes))
    return (np.broadcast_to(kept, a.shape).copy(),)


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(a / 2))


# name: (forward, backward(g, *inputs, **settings) -> the gradient of each input)
REFERENCES: dict[str, tuple[Callable[..., np.ndarray], Callable[..., tuple[np.ndarray, ...]]]] = {
    "Mul": (lambda a, b: a * b, lambda g, a, b: (_unbroadcast(g * b, a.shape), _unbroadcast(g * a, b.shape))),
    "MatMul": (lambda a, b: a @ b, lambda g, a, b: (g @ b.T, a.T @ g)),
    "Tanh": (np.tanh, lambda g, a: (g * (1 - np.tanh(a) ** 2),)),
    "Sigmoid": (_sigmoid, lambda g, a: (g * _sigmoid(a) * (1 - _sigmoid(a)),)),
    "Sum": (lambda a, axis=None, keepdims=False: a.sum(axis=axis, keepdims=keepdims), _sum_backward),
    "LogSoftmax": (
        _log_softmax,
        lambda g, a, axis: (g - np.exp(_log_softmax(a, axis)) * g.sum(axis=axis, keepdims=True),),
    ),
}


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
    choices = [st.integers(-a.ndim, a.ndim - 1)]
    if axis_may_be_tuple:
        choices.append(st.none())
        choices.append(
            st.lists(st.integers(0, a.ndim - 1), min_size=1, max_size=a.ndim, unique=True).map(tuple)
        )
    case = {"a": a, "axis": draw(st.one_of(*choices))}
    if axis_may_be_tuple:
        case["keepdims"] = draw(st.booleans())
    return case


def _one(**options: Any) -> st.SearchStrategy[dict[str, Any]]:
    return arrays(**options).map(lambda a: {"a": a})


CASES: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "Mul": _two_broadcastable(),
    "MatMul": _two_matrices(),
    "Tanh": _one(),
    "Sigmoid": _one(min_value=-6.0, max_value=6.0),
    "Sum": _reduced(axis_may_be_tuple=True),
    "LogSoftmax": _reduced(axis_may_be_tuple=False),
}


def op_case(name: str, drawn: dict[str, Any], gradients: bool, rng_seed: int = 0) -> Case:
    """The op on the drawn inputs; with ``gradients``, an upstream gradient and the true gradients."""
    inputs = {k: v for k, v in drawn.items() if isinstance(v, np.ndarray)}
    settings = {k: list(v) if isinstance(v, tuple) else v for k, v in drawn.items() if k not in inputs}
    forward, backward = REFERENCES[name]
    out = np.asarray(forward(*inputs.values(), **drawn_settings(drawn, inputs)))
    dtype = out.dtype
    expect = {"out": Expect("close", out, FORWARD_TOLERANCE[dtype], what=f"the output of {name}")}
    if gradients:
        upstream = np.random.default_rng(rng_seed).uniform(-1, 1, out.shape).astype(dtype)
        inputs = {**inputs, "upstream": upstream}
        args = [v for k, v in inputs.items() if k != "upstream"]
        grads = backward(upstream, *args, **drawn_settings(drawn, inputs))
        for k, grad in zip((k for k in inputs if k != "upstream"), grads, strict=True):
            expect[f"grad {k}"] = Expect(
                "close", np.asarray(grad, dtype=dtype), GRADIENT_TOLERANCE[dtype], what=f"the gradient of {k}"
            )
    arg_names = [k for k in inputs if k != "upstream"]
    return Case("op", {"name": name, "args": arg_names, "kwargs": settings}, inputs, expect)


def drawn_settings(drawn: dict[str, Any], inputs: dict[str, np.ndarray]) -> dict[str, Any]:
    return {k: v for k, v in drawn.items() if k not in inputs}


def _add_op_checks(name: str) -> None:
    def cases(examples: int, seed: int, gradients: bool) -> Callable[[], list[Case]]:
        return lambda: drawn_cases(CASES[name], examples, seed, lambda d: op_case(name, d, gradients, seed))

    add = checklist.add
    add(f"{name}: forward equals numpy's", 1, cases(10, 0, False), names=(name,))
    add(f"{name}: backward equals the true gradient", 2, cases(10, 0, True), names=(name,))
    add(f"{name}: forward on more cases", 1, cases(30, 1, False), names=(name,), hidden=True)
    add(f"{name}: backward on more cases", 1, cases(30, 2, True), names=(name,), hidden=True)


for _name in REFERENCES:
    _add_op_checks(_name)


def _float32_cases() -> list[Case]:
    rng = np.random.default_rng(3)
    a, b = rng.uniform(-2, 2, (3, 4)).astype(np.float32), rng.uniform(-2, 2, (4, 2)).astype(np.float32)
    drawn = {
        "Mul": {"a": a, "b": a[:1].copy()},
        "MatMul": {"a": a, "b": b},
        "Tanh": {"a": a},
        "Sigmoid": {"a": a},
        "Sum": {"a": a, "axis": 1},
        "LogSoftmax": {"a": a, "axis": -1},
    }
    return [op_case(name, case, gradients=True) for name, case in drawn.items()]


checklist.add(
    "every op keeps float32 as float32, in forward and backward", 2, _float32_cases, names=tuple(REFERENCES),
    hidden=True,
)  # fmt: skip


def _large_cases() -> list[Case]:
    big = np.array([[-1000.0, -50.0, 0.0, 50.0, 1000.0], [800.0, 790.0, -800.0, 0.5, 1.0]])
    drawn = [
        ("Sigmoid", {"a": big}),
        ("LogSoftmax", {"a": big, "axis": -1}),
        ("LogSoftmax", {"a": big, "axis": 0}),
    ]
    return [op_case(name, case, gradients=False) for name, case in drawn]


checklist.add(
    "Sigmoid and LogSoftmax stay finite and right for large values", 2, _large_cases,
    names=("Sigmoid", "LogSoftmax"), hidden=True,
)  # fmt: skip


# --- topological_order, on graphs the child builds from their description ---
def _order_case(graph: dict[str, Any]) -> Case:
    params = {"name": "topological_order", "graph": graph}
    return Case(
        "order", params, {}, {"order": Expect("order", what="the order")}, f"the graph {graph['kind']}"
    )


# (x @ w).tanh() used three times, x twice: node 0 x, 1 w, 2 x@w, 3 tanh, 4 h*h, 5 h*x, 6 sum
SMALL = {"kind": "explicit", "parents": [[], [], [0, 1], [2], [3, 3], [3, 0], [4, 5]]}

checklist.add(
    "topological_order: a small graph with shared tensors", 2, lambda: [_order_case(SMALL)],
    names=("topological_order",),
)  # fmt: skip
checklist.add(
    "topological_order: a leaf alone, and a diamond of 30 levels", 1,
    lambda: [_order_case({"kind": "chain", "length": 1}), _order_case({"kind": "diamond", "levels": 30})],
    names=("topological_order",), hidden=True,
)  # fmt: skip
checklist.add(
    "topological_order: a chain of 100,000 ops (no recursion)", 2,
    lambda: [_order_case({"kind": "chain", "length": 100_000})], names=("topological_order",), hidden=True,
)  # fmt: skip
