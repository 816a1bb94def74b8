"""Verdicts, decided in the grader from the plain data a child sent back.

Nothing here runs student code: a verdict compares arrays with the reference's (values and
true gradients), checks a topological order against the graph it was asked about, and reads
what the child reported of the submission's names.  A failure message names the case, its
inputs (small ones in full) and how to reproduce it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from minigrad.testing.grading.cases import Case, Expect
from minigrad.testing.grading.isolation import ChildReport
from minigrad.testing.grading.probes import graph_parents

SHOWN = 24  # inputs with at most this many elements are written out in full


def describe_inputs(case: Case) -> str:
    """The case's inputs and settings as a student can retype them."""
    lines = [f"  {k} = {v!r}" for k, v in case.params.get("kwargs", {}).items()]
    if "graph" in case.params:
        lines.append(f"  the graph: {case.params['graph']}")
    for name, array in case.inputs.items():
        if array.size <= SHOWN:
            text = np.array2string(array, precision=17, separator=", ", max_line_width=100)
            lines.append(f"  {name} = np.array({text}, dtype=np.{array.dtype})".replace("\n", "\n    "))
        else:
            lines.append(f"  {name}: an array of shape {array.shape} ({array.dtype})")
    return "\n".join(lines)


def _call(case: Case) -> str:
    """The call the case makes, in the student's names."""
    p = case.params
    if case.probe == "call":
        return f"{p['name']}({', '.join(p['args'])})"
    if case.probe == "op":
        arguments = [*p["args"], *(f"{k}={v!r}" for k, v in p.get("kwargs", {}).items())]
        call = f"{p['name']}.apply({', '.join(arguments)})"
        return call + (", then backward(upstream)" if "upstream" in case.inputs else "")
    if case.probe == "cell":
        call = f"{p['name']}({', '.join(p['init'])})({', '.join(p['call'])})"
        weighted = any(k.startswith("weight ") for k in case.inputs)
        return call + (", then backward of sum(weight * output)" if weighted else "")
    return f"{p['name']}(root of the graph)"


def failure(case: Case, what: str, reproduce: str) -> str:
    """A failed case as the student reads it: what went wrong, on what, and how to see it again."""
    return (
        f"{what}\n on {_call(case)}, {case.label or 'a fixed case'}, with\n{describe_inputs(case)}\n"
        f"{reproduce}"
    )


def compare(expect: Expect, got: np.ndarray | None, facts: dict[str, Any], name: str) -> str | None:
    """None when the output ``got`` (or the fact ``name``) meets ``expect``; else what is wrong."""
    what = expect.what or name
    if expect.rule == "within":
        found = facts.get(name)
        if not isinstance(found, list) or not all(isinstance(n, str) for n in found):
            return f"no list of {what} came back"
        others = sorted(set(found) - set(expect.allowed))
        if others:
            return f"{what} include {', '.join(others)}, which the assignment does not allow"
        return None
    if got is None:
        return f"no {what} came back"
    if expect.rule == "order":
        return None  # judged by judge_order, which knows the graph
    want = expect.value
    assert want is not None
    if got.shape != want.shape:
        return f"{what} has shape {got.shape}, expected {want.shape}"
    if expect.rule == "equal":
        return (
            None if np.array_equal(got, want) else f"{what} is {got.tolist()!r}, expected {want.tolist()!r}"
        )
    if got.dtype != want.dtype:
        return f"{what} has dtype {got.dtype}, expected {want.dtype} (keep the inputs' dtype)"
    if not np.all(np.isfinite(got)):
        return f"{what} holds NaN or inf"
    error = np.abs(got.astype(np.float64) - want)
    allowed = expect.tolerance * (1 + float(np.max(np.abs(want), initial=0.0)))
    if np.all(error <= allowed):
        return None
    worst = np.unravel_index(int(np.argmax(error)), error.shape)
    return (
        f"{what} is wrong at index {tuple(int(i) for i in worst)}: got {got[worst]:.17g}, expected "
        f"{want[worst]:.17g} (difference {error[worst]:.3g}, allowed {allowed:.3g})"
    )


def judge_order(graph: dict[str, Any], order: np.ndarray) -> str | None:
    """None when ``order`` lists each node of the graph once, inputs first and the root last."""
    parents = graph_parents(graph)
    size = len(parents)
    if order.ndim != 1 or np.any(order < 0):
        return "the order holds things that are not tensors of the graph"
    if len(order) != len(set(order.tolist())):
        return (
            f"some tensors appear more than once ({len(order)} entries, {len(set(order.tolist()))} different)"
        )
    if len(order) != size:
        return f"the order holds {len(order)} of the {size} tensors the root depends on"
    if order[-1] != size - 1:
        return "the root must come last"
    position = np.empty(size, dtype=np.int64)
    position[order] = np.arange(size)
    for node, inputs in enumerate(parents):
        if any(position[p] > position[node] for p in inputs):
            return "a tensor comes before one it was made from"
    return None


def judge_definitions(report: ChildReport, names: Sequence[str], submission: str) -> str | None:
    """None when each graded name is defined in the submitted file itself."""
    definitions = report.reply.get("definitions", {}) if report.reply else {}
    own_file, own_module = str(report.folder / submission), f"submission_{Path(submission).stem}"
    for name in names:
        found = definitions.get(name)
        if not isinstance(found, dict) or found.get("kind") == "missing":
            return f"the submission defines no {name!r}; the assignment asks for it by that name"
        if found.get("foreign"):
            return f"{name} takes code from {', '.join(found['foreign'])}; write it in your own file"
        files, modules = found.get("files", []), found.get("modules", [])
        if found.get("kind") == "other" or set(files) - {own_file} or set(modules) - {own_module}:
            return (
                f"{name} must be written in your file ({submission}); its code comes from elsewhere "
                "(imported, copied or compiled from another source)"
            )
    return None
