"""Cases: the inputs the grader sends to a submission, and what each output must be.

A case names a probe (what to do with the student's code, see ``probes``), its settings as
JSON, its input arrays, and an ``Expect`` per output.  Cases are plain data, so the public
ones can be stored in a file beside the handout and checked on a student's machine, with
no reference code there.  Hypothesis draws the cases in the grader (``draw``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from hypothesis import strategies as st

# what a rule is checked against: "close" an array (values, shape, dtype), "equal" an array
# exactly, "order" a topological order of the graph in params["graph"], "within" a set of names
RULES = ("close", "equal", "order", "within")


@dataclass(frozen=True)
class Expect:
    """What one output of a case must be.

    Parameters
    ----------
    rule : str
        One of ``RULES``.
    value : ndarray, optional
        The expected array (rules "close" and "equal").
    tolerance : float
        Rule "close": every element within ``tolerance * (1 + max |value|)`` of ``value``.
    allowed : tuple of str
        Rule "within": the output (a list of names) may hold only these.
    what : str
        The output as a student reads it, e.g. "the gradient of kernel".
    """

    rule: str
    value: np.ndarray | None = None
    tolerance: float = 0.0
    allowed: tuple[str, ...] = ()
    what: str = ""

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown rule {self.rule!r}; the rules are {', '.join(RULES)}")


@dataclass(frozen=True)
class Case:
    """One call of the student's code and what it must give.

    probe : str
        What the child does (``probes.PROBES``).
    params : dict
        JSON settings of the probe (the name called, the argument names, keyword arguments).
    inputs : dict of str to ndarray
        The arrays the probe passes, by name.
    expect : dict of str to Expect
        Each output the probe returns, by name, and what it must be.
    label : str
        How the case came about, e.g. "example 3 of 10 drawn with seed 0".
    """

    probe: str
    params: dict[str, Any]
    inputs: dict[str, np.ndarray]
    expect: dict[str, Expect]
    label: str = ""


def draw(strategy: st.SearchStrategy[Any], examples: int, seed: int) -> list[Any]:
    """``examples`` values that hypothesis draws from ``strategy``; the same seed, the same values.

    The settings are explicit here, whatever profile a test run loaded.  (Hypothesis is
    imported here, by the grader: a student's public checks, stored cases, do without it.)
    """
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    drawn: list[Any] = []

    @hypothesis_seed(seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(value=strategy)
    def collect(value: Any) -> None:
        drawn.append(value)

    collect()
    return drawn


def drawn_cases(
    strategy: st.SearchStrategy[Any], examples: int, seed: int, make: Callable[[Any], Case]
) -> list[Case]:
    """``make(value)`` for each value drawn, labelled with its place and the seed."""
    values = draw(strategy, examples, seed)
    cases = []
    for k, value in enumerate(values, start=1):
        case = make(value)
        label = f"example {k} of {len(values)} drawn with seed {seed}"
        cases.append(Case(case.probe, case.params, case.inputs, case.expect, label))
    return cases


# --- cases as JSON: arrays written exactly (float64 round-trips through repr) ---
def _array_to_json(array: np.ndarray) -> dict[str, Any]:
    return {"dtype": array.dtype.str, "shape": list(array.shape), "data": array.ravel().tolist()}


def _array_from_json(data: dict[str, Any]) -> np.ndarray:
    dtype = np.dtype(data["dtype"])
    if dtype.kind not in "biuf":
        raise ValueError(f"stored cases hold arrays of numbers only, not {dtype}")
    return np.array(data["data"], dtype=dtype).reshape(data["shape"])


def case_to_json(case: Case) -> dict[str, Any]:
    expect = {}
    for name, e in case.expect.items():
        entry: dict[str, Any] = {"rule": e.rule, "what": e.what}
        if e.value is not None:
            entry["value"] = _array_to_json(e.value)
        if e.tolerance:
            entry["tolerance"] = e.tolerance
        if e.allowed:
            entry["allowed"] = list(e.allowed)
        expect[name] = entry
    return {
        "probe": case.probe,
        "params": case.params,
        "inputs": {name: _array_to_json(a) for name, a in case.inputs.items()},
        "expect": expect,
        "label": case.label,
    }


def case_from_json(data: dict[str, Any]) -> Case:
    expect = {
        name: Expect(
            e["rule"],
            _array_from_json(e["value"]) if "value" in e else None,
            float(e.get("tolerance", 0.0)),
            tuple(e.get("allowed", ())),
            e.get("what", ""),
        )
        for name, e in data["expect"].items()
    }
    inputs = {name: _array_from_json(a) for name, a in data["inputs"].items()}
    return Case(data["probe"], data["params"], inputs, expect, data.get("label", ""))


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
