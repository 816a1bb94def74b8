"""The checks both cell assignments share: shapes, the formula against a numpy reference, the
true gradients, primitives only, and the edge cases of the hidden checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

from minigrad import ops
from minigrad.function import Function
from minigrad.testing import numerical_grad
from minigrad.testing.grading import Case, Checklist, Expect, drawn_cases
from minigrad.testing.strategies import arrays

# a cell may use minigrad's primitives, but neither the reference cells nor the fused losses
FORBIDDEN = ("layers", "minigrad.functional")
WEIGHTS = ("kernel", "recurrent_kernel", "bias")
# the Function classes of minigrad.ops, by the name the child reports
PRIMITIVES = tuple(
    sorted(
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in vars(ops).values()
        if isinstance(cls, type) and issubclass(cls, Function) and cls is not Function
    )
)


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

    def cases(self, scale: float = 2.0) -> st.SearchStrategy[dict[str, np.ndarray]]:
        @st.composite
        def draw_case(draw: Any) -> dict[str, np.ndarray]:
            shapes = self.shapes(*(draw(st.integers(1, 3)) for _ in range(3)))
            return {k: draw(arrays(shape=s, min_value=-scale, max_value=scale)) for k, s in shapes.items()}

        return draw_case()

    def outputs(self, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The reference's outputs, by the names ``h``, ``c``."""
        result = self.reference(*(values[k] for k in ("x", *self.states, *WEIGHTS)))
        return dict(zip(self.states, result, strict=True))

    def case(self, values: dict[str, np.ndarray], tolerance: float = 1e-10, gradients: bool = False) -> Case:
        """The cell on ``values``; its outputs, or with ``gradients`` the true gradients of
        sum(w * output) for weights w drawn from the case."""
        params = {"name": self.class_name, "init": list(WEIGHTS), "call": ["x", *self.states],
                  "returns": list(self.states)}  # fmt: skip
        outputs = self.outputs(values)
        if not gradients:
            expect = {
                name: Expect("close", out.astype(values["x"].dtype), tolerance, what=f"{name}_new")
                for name, out in outputs.items()
            }
            return Case("cell", params, dict(values), expect)
        rng = np.random.default_rng(int(1e6 * abs(values["x"].flat[0])))
        weights = {f"weight {n}": rng.uniform(0.5, 1.5, out.shape) for n, out in outputs.items()}
        expect = {
            f"grad {k}": Expect("close", grad, 1e-6, what=f"the gradient of {k}")
            for k, grad in self.true_gradients(values, weights).items()
        }
        return Case("cell", params, {**values, **weights}, expect)

    def true_gradients(
        self, values: dict[str, np.ndarray], weights: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        """d sum(w * reference) / d input, by central differences of the reference, in the grader."""
        work = {k: v.astype(np.float64) for k, v in values.items()}

        def loss() -> float:
            outs = self.outputs(work)
            return float(sum(np.sum(weights[f"weight {n}"] * out) for n, out in outs.items()))

        return {k: numerical_grad(loss, work[k]) for k in values}


def add_cell_checks(checklist: Checklist, cell: Cell) -> None:
    """The public and hidden checks of one cell assignment."""
    name = cell.class_name
    names = (name,)

    def drawn(strategy: Any, examples: int, seed: int, **options: Any) -> Callable[[], list[Case]]:
        return lambda: drawn_cases(strategy, examples, seed, lambda values: cell.case(values, **options))

    def shapes() -> list[Case]:
        values = {k: np.full(s, 0.1) for k, s in cell.shapes(batch=2, features=3, units=4).items()}
        return [cell.case(values)]

    def primitives() -> list[Case]:
        rng = np.random.default_rng(7)
        values = {k: rng.uniform(-1, 1, s) for k, s in cell.shapes(2, 3, 2).items()}
        case = cell.case(values)
        expect = {**case.expect, "ops": Expect("within", allowed=PRIMITIVES, what="the ops of the graph")}
        return [Case("cell", case.params, values, expect, "a fixed case")]

    def one_and_one() -> list[Case]:
        rng = np.random.default_rng(8)
        cases = []
        for batch, units in ((1, 1), (1, 3), (4, 1)):
            values = {k: rng.uniform(-2, 2, s) for k, s in cell.shapes(batch, 2, units).items()}
            cases += [cell.case(values), cell.case(values, gradients=True)]
        return cases

    def float32() -> list[Case]:
        rng = np.random.default_rng(9)
        values = {k: rng.uniform(-2, 2, s).astype(np.float32) for k, s in cell.shapes(3, 2, 2).items()}
        return [cell.case(values, tolerance=1e-5)]

    add = checklist.add
    add(f"{name}: output shapes and values on a fixed case", 1, shapes, names)
    add(f"{name}: outputs equal the formula (numpy reference)", 3, drawn(cell.cases(), 10, 0), names)
    add(f"{name}: gradients equal the true gradients", 3, drawn(cell.cases(), 10, 0, gradients=True), names)
    add(f"{name}: built from minigrad's primitive ops only", 1, primitives, names)
    add(f"{name}: the formula on more cases", 1, drawn(cell.cases(), 40, 1), names, hidden=True)
    add(f"{name}: gradients on more cases", 1, drawn(cell.cases(), 25, 2, gradients=True), names, hidden=True)
    add(f"{name}: a batch of one and one unit", 1, one_and_one, names, hidden=True)
    add(f"{name}: float32 in, float32 out", 1, float32, names, hidden=True)
    add(
        f"{name}: large inputs (saturated gates) stay finite and right", 1,
        drawn(cell.cases(scale=60.0), 20, 3), names, hidden=True,
    )  # fmt: skip
