"""What the sandboxed child does with the student's code, case by case, returning plain data.

Each probe takes the student's module, the case's JSON settings and its input arrays, calls
the student's code and returns ``(arrays, facts)``: arrays of numbers by name, and facts as
JSON (the names of the ops in a graph).  Nothing here decides a verdict: the grader compares
what comes back with the reference, in a process that never ran the student's code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np

from minigrad.function import Function
from minigrad.tensor import Tensor

Arrays = dict[str, np.ndarray]
Facts = dict[str, Any]


def graded(module: ModuleType, name: str) -> Any:
    """``module.name``, or an AssertionError saying the assignment asks for it."""
    if not hasattr(module, name):
        raise AssertionError(f"the submission defines no {name!r}; the assignment asks for it by that name")
    return getattr(module, name)


def as_numbers(value: Any, what: str) -> np.ndarray:
    """``value`` as an array of numbers (a Tensor's data, a list, a scalar), or an AssertionError."""
    data = value.data if isinstance(value, Tensor) else value
    try:
        array = np.asarray(data)
    except Exception:  # a ragged list, an object that refuses conversion
        array = np.asarray(None)
    if array.dtype.kind not in "biuf":
        raise AssertionError(f"{what} is a {type(value).__name__}, not an array of numbers")
    return array


def _named(result: Any, returns: str | list[str], call: str) -> Arrays:
    """The outputs of a call by name: one value, a tuple of ``returns`` names, or a dict."""
    if returns == "dict":
        if not isinstance(result, dict):
            raise AssertionError(f"{call} must return a dict, got {type(result).__name__}")
        return {str(k): as_numbers(v, f"{call}[{k!r}]") for k, v in result.items()}
    if isinstance(returns, str):
        return {returns: as_numbers(result, f"what {call} returns")}
    if not isinstance(result, tuple | list) or len(result) != len(returns):
        count = len(result) if isinstance(result, tuple | list) else 1
        raise AssertionError(f"{call} must return {len(returns)} values ({', '.join(returns)}), got {count}")
    return {name: as_numbers(v, f"{name} from {call}") for name, v in zip(returns, result, strict=True)}


def probe_call(module: ModuleType, params: dict[str, Any], inputs: Arrays) -> tuple[Arrays, Facts]:
    """``name(*args, **kwargs)`` on copies of the inputs; also says which inputs it changed."""
    function = graded(module, params["name"])
    args = [inputs[k].copy() for k in params["args"]]
    result = function(*args, **params.get("kwargs", {}))
    outputs = _named(result, params["returns"], f"{params['name']}(...)")
    for name, arg in zip(params["args"], args, strict=True):
        outputs[f"changed {name}"] = np.array(not np.array_equal(arg, inputs[name]))
    return outputs, {}


def _gradients(tensors: dict[str, Tensor]) -> Arrays:
    return {f"grad {k}": t.grad if t.grad is not None else np.zeros_like(t.data) for k, t in tensors.items()}


def probe_op(module: ModuleType, params: dict[str, Any], inputs: Arrays) -> tuple[Arrays, Facts]:
    """``Op.apply(*inputs)``, then backward with the upstream gradient; the output and gradients."""
    op = graded(module, params["name"])
    tensors = {k: Tensor(inputs[k].copy(), requires_grad=True) for k in params["args"]}
    out = op.apply(*tensors.values(), **params.get("kwargs", {}))
    if not isinstance(out, Tensor):
        raise AssertionError(f"{params['name']}.apply(...) returned a {type(out).__name__}, not a Tensor")
    outputs = {"out": as_numbers(out, f"the output of {params['name']}")}
    if "upstream" in inputs:
        out.backward(inputs["upstream"].copy())
        outputs.update(_gradients(tensors))
    return outputs, {}


def graph_ops(outputs: Sequence[Tensor]) -> list[str]:
    """The qualified names of every op in the graph that made ``outputs``."""
    stack, seen, names = list(outputs), set(), set()
    while stack:
        tensor = stack.pop()
        if id(tensor) in seen or not isinstance(tensor, Tensor):
            continue
        seen.add(id(tensor))
        if tensor.grad_fn is not None:
            names.add(f"{type(tensor.grad_fn).__module__}.{type(tensor.grad_fn).__qualname__}")
            stack.extend(tensor.grad_fn.parents)
    return sorted(names)


def probe_cell(module: ModuleType, params: dict[str, Any], inputs: Arrays) -> tuple[Arrays, Facts]:
    """``Cell(*init)(*call)``; the outputs, the ops of their graph, and with weights w given,
    the gradients of sum(w * output) with respect to every input and weight."""
    cls = graded(module, params["name"])
    init = {k: Tensor(inputs[k].copy(), requires_grad=True) for k in params["init"]}
    call = {k: Tensor(inputs[k].copy(), requires_grad=True) for k in params["call"]}
    result = cls(*init.values())(*call.values())
    returns = params["returns"]
    signature = f"{params['name']}(...)({', '.join(call)})"
    results = result if isinstance(result, tuple | list) else (result,)
    if len(results) != len(returns):
        raise AssertionError(f"{signature} must return {len(returns)} tensor(s), got {len(results)}")
    for name, r in zip(returns, results, strict=True):
        if not isinstance(r, Tensor):
            raise AssertionError(f"{signature}: {name} is a {type(r).__name__}, not a minigrad Tensor")
    outputs = {name: r.data for name, r in zip(returns, results, strict=True)}
    if all(f"weight {name}" in inputs for name in returns):
        loss = None
        for name, r in zip(returns, results, strict=True):
            term = (r * Tensor(inputs[f"weight {name}"])).sum()
            loss = term if loss is None else loss + term
        loss.backward()
        outputs.update(_gradients({**init, **call}))
    return outputs, {"ops": graph_ops(results)}


class Join(Function):
    """The sum of its one or two inputs: the one op of the graphs that ``probe_order`` builds."""

    def forward(self, *arrays: np.ndarray) -> np.ndarray:
        self.count = len(arrays)
        return arrays[0] if len(arrays) == 1 else arrays[0] + arrays[1]

    def backward(self, g: np.ndarray) -> tuple[np.ndarray, ...]:
        return (g,) * self.count


def graph_parents(graph: dict[str, Any]) -> list[list[int]]:
    """The parents of each node of a graph described in JSON, inputs before the nodes made from them.

    ``{"kind": "explicit", "parents": [[], [0], [0, 1]]}``, ``{"kind": "chain", "length": n}``
    or ``{"kind": "diamond", "levels": n}`` (each level uses the one below twice).
    """
    kind = graph["kind"]
    if kind == "explicit":
        return [list(p) for p in graph["parents"]]
    if kind == "chain":
        return [[]] + [[k] for k in range(graph["length"] - 1)]
    if kind == "diamond":
        parents: list[list[int]] = [[]]
        for _ in range(graph["levels"]):
            below = len(parents) - 1
            parents += [[below], [below], [below + 1, below + 2]]
        return parents
    raise ValueError(f"unknown graph kind {kind!r}")


def probe_order(module: ModuleType, params: dict[str, Any], inputs: Arrays) -> tuple[Arrays, Facts]:
    """Build the graph, call ``topological_order(root)``; the position of each tensor returned."""
    order_of = graded(module, params["name"])
    nodes: list[Tensor] = []
    for parents in graph_parents(params["graph"]):
        if parents:
            nodes.append(Join.apply(*(nodes[p] for p in parents)))
        else:
            nodes.append(Tensor(np.ones(1), requires_grad=True))
    index = {id(t): k for k, t in enumerate(nodes)}
    order = []
    for item in order_of(nodes[-1]):
        order.append(index.get(id(item), -1))
        if len(order) > 2 * len(nodes):
            raise AssertionError(f"topological_order returned more than {2 * len(nodes)} items")
    return {"order": np.array(order, dtype=np.int64)}, {}


PROBES: dict[str, Callable[[ModuleType, dict[str, Any], Arrays], tuple[Arrays, Facts]]] = {
    "call": probe_call,
    "op": probe_op,
    "cell": probe_cell,
    "order": probe_order,
}
