"""The checks both cell assignments share: shapes, the formula against a numpy reference,
gradients under hypothesis, primitives only, and the edge cases of the hidden checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from hypothesis import strategies as st

from minigrad import Tensor
from minigrad.testing import gradcheck
from minigrad.testing.grading import Checklist, primitives_only, prove, require
from minigrad.testing.strategies import arrays

# a cell may use minigrad's primitives, but neither the reference cells nor the solutions
FORBIDDEN = ("layers", "assignments", "minigrad.functional")


def sigmoid(a: np.ndarray) -> np.ndarray:
    """The logistic function without overflow: 1 / (1 + e^-a) = (1 + tanh(a / 2)) / 2."""
    return 0.5 * (1 + np.tanh(a / 2))


@dataclass(frozen=True)
class Cell:
    """What the checks need to know of one cell assignment.

    class_name : the class the submission defines
    gates : gate blocks in the weights (4 for LSTM, 3 for GRU)
    states : names of the state arguments after x, e.g. ("h", "c")
    bias_rows : 0 for a bias (gates u,), 2 for (2, gates u)
    reference : numpy version of the step, reference(x, *states, kernel, recurrent_kernel, bias)
        -> tuple of output arrays
    """

    class_name: str
    gates: int
    states: tuple[str, ...]
    bias_rows: int
    reference: Callable[..., tuple[np.ndarray, ...]]

    def shapes(self, batch: int, features: int, units: int) -> dict[str, tuple[int, ...]]:
        width = self.gates * units
        bias = (self.bias_rows, width) if self.bias_rows else (width,)
        return {
            "x": (batch, features),
            **{s: (batch, units) for s in self.states},
            "kernel": (features, width),
            "recurrent_kernel": (units, width),
            "bias": bias,
        }

    def cases(
        self,
        scale: float = 2.0,
        units: st.SearchStrategy[int] | None = None,
        batch: st.SearchStrategy[int] | None = None,
    ) -> st.SearchStrategy[dict[str, np.ndarray]]:
        @st.composite
        def draw_case(draw: Any) -> dict[str, np.ndarray]:
            sizes = [
                draw(batch or st.integers(1, 3)),
                draw(st.integers(1, 3)),
                draw(units or st.integers(1, 3)),
            ]
            shapes = self.shapes(*sizes)
            return {k: draw(arrays(shape=s, min_value=-scale, max_value=scale)) for k, s in shapes.items()}

        return draw_case()

    def run(self, submission: ModuleType, case: dict[str, Any]) -> tuple[Tensor, ...]:
        """The submission's cell on ``case`` (arrays or Tensors), its outputs as a tuple."""
        cls = require(submission, self.class_name)
        cell = cls(case["kernel"], case["recurrent_kernel"], case["bias"])
        out = cell(case["x"], *(case[s] for s in self.states))
        outputs = out if isinstance(out, tuple | list) else (out,)
        expected = len(self.states)
        call = f"{self.class_name}(...)({', '.join(('x', *self.states))})"
        assert len(outputs) == expected, f"{call} must return {expected} tensor(s), got {len(outputs)}"
        for k, o in enumerate(outputs):
            assert isinstance(o, Tensor), f"{call}: output {k} is a {type(o).__name__}, not a minigrad Tensor"
        return tuple(outputs)


def _tensors(case: dict[str, np.ndarray]) -> dict[str, Tensor]:
    return {k: Tensor(v) for k, v in case.items()}


def formula_matches(
    cell: Cell, submission: ModuleType, case: dict[str, np.ndarray], tolerance: float = 1e-10
) -> None:
    got = cell.run(submission, _tensors(case))
    expected = cell.reference(*case.values())
    for name, g, e in zip(cell.states, got, expected, strict=True):
        assert g.shape == e.shape, f"{name}_new has shape {g.shape}, expected {e.shape}"
        assert np.all(np.isfinite(g.data)), f"{name}_new holds NaN or inf"
        worst = float(np.max(np.abs(g.data - e)))
        assert worst <= tolerance, f"{name}_new differs from the formula by up to {worst:.3g}"


def gradients_match(cell: Cell, submission: ModuleType, case: dict[str, np.ndarray]) -> None:
    names = list(case)

    def step(*tensors: Tensor) -> tuple[Tensor, ...]:
        return cell.run(submission, dict(zip(names, tensors, strict=True)))

    gradcheck(step, list(case.values()), names=names)


def add_cell_checks(checklist: Checklist, cell: Cell) -> None:
    """The public and hidden checks of one cell assignment."""
    name = cell.class_name

    def formula(
        cases: st.SearchStrategy[dict[str, np.ndarray]], examples: int, seed: int
    ) -> Callable[[ModuleType], None]:
        return lambda sub: prove(lambda case: formula_matches(cell, sub, case), cases, examples, seed)

    def gradients(
        cases: st.SearchStrategy[dict[str, np.ndarray]], examples: int, seed: int
    ) -> Callable[[ModuleType], None]:
        return lambda sub: prove(lambda case: gradients_match(cell, sub, case), cases, examples, seed)

    def shapes(sub: ModuleType) -> None:
        case = {k: np.full(s, 0.1) for k, s in cell.shapes(batch=2, features=3, units=4).items()}
        for state, out in zip(cell.states, cell.run(sub, _tensors(case)), strict=True):
            assert out.shape == (2, 4), (
                f"{state}_new has shape {out.shape} for batch 2 and 4 units, expected (2, 4)"
            )

    def primitives(sub: ModuleType) -> None:
        rng = np.random.default_rng(7)
        case = {k: Tensor(rng.uniform(-1, 1, s), requires_grad=True) for k, s in cell.shapes(2, 3, 2).items()}
        primitives_only(list(cell.run(sub, case)))

    def one_and_one(sub: ModuleType) -> None:
        rng = np.random.default_rng(8)
        for batch, units in ((1, 1), (1, 3), (4, 1)):
            case = {k: rng.uniform(-2, 2, s) for k, s in cell.shapes(batch, 2, units).items()}
            formula_matches(cell, sub, case)
            gradients_match(cell, sub, case)

    def float32(sub: ModuleType) -> None:
        rng = np.random.default_rng(9)
        case = {k: rng.uniform(-2, 2, s).astype(np.float32) for k, s in cell.shapes(3, 2, 2).items()}
        for state, out in zip(cell.states, cell.run(sub, _tensors(case)), strict=True):
            assert out.dtype == np.float32, f"{state}_new is {out.dtype} for float32 inputs; keep float32"
        formula_matches(cell, sub, case, tolerance=1e-5)

    checklist.add(f"{name}: output shapes", 1, shapes)
    checklist.add(f"{name}: outputs equal the formula (numpy reference)", 3, formula(cell.cases(), 10, 0))
    checklist.add(
        f"{name}: gradients of every input and weight (gradcheck)", 3, gradients(cell.cases(), 10, 0)
    )
    checklist.add(f"{name}: built from minigrad's primitive ops only", 1, primitives)
    checklist.add(f"{name}: the formula on more cases", 1, formula(cell.cases(), 40, 1), hidden=True)
    checklist.add(f"{name}: gradients on more cases", 1, gradients(cell.cases(), 25, 2), hidden=True)
    checklist.add(f"{name}: a batch of one and one unit", 1, one_and_one, hidden=True)
    checklist.add(f"{name}: float32 in, float32 out", 1, float32, hidden=True)
    checklist.add(
        f"{name}: large inputs (saturated gates) stay finite and right",
        1,
        formula(cell.cases(scale=60.0), 20, 3),
        hidden=True,
    )
