"""Checks of the bptt assignment: the forward pass against a numpy reference written here, and
each gradient against the true gradient of that reference (its backward, written here), to a
tolerance that finite differences cannot meet."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from assignments.checks.common import AUTOGRADS, HAND_WRITTEN, checklist_for
from minigrad.testing.grading import Case, Expect, drawn_cases
from minigrad.testing.strategies import arrays

# numpy only: no autograd, no reference layer
checklist = checklist_for(
    "bptt", forbidden=("minigrad", "layers"), refuse_imports=AUTOGRADS, refuse_reason=HAND_WRITTEN
)

PARAMETERS = ("x", "h0", "U", "W", "b", "V", "c")
GRADIENTS = ("dU", "dW", "db", "dV", "dc", "dh0")
# an analytic backward matches the true gradient to rounding; central differences of the loss
# are off by more than 1e-9 of the scale, whatever their step
GRADIENT_TOLERANCE = 1e-10


def reference_forward(x, h0, U, W, b, V, c):
    """All steps at once where possible: the recurrence is the only loop."""
    states = [h0]
    input_part = x @ U.T + b  # U x(t) + b for every t, (T, n_h)
    for t in range(len(x)):
        states.append(np.tanh(input_part[t] + W @ states[-1]))
    h = np.array(states[1:])
    scores = h @ V.T + c
    scores -= scores.max(axis=1, keepdims=True)
    y_hat = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    return h, y_hat


def reference_loss(x, h0, U, W, b, V, c, y):
    _, y_hat = reference_forward(x, h0, U, W, b, V, c)
    return -np.log(y_hat[np.arange(len(y)), y]).sum()


def parameter_shapes(T: int, n_in: int, n_h: int, n_out: int) -> dict[str, tuple[int, ...]]:
    """The shape of each float argument of rnn_forward, by name."""
    return {"x": (T, n_in), "h0": (n_h,), "U": (n_h, n_in), "W": (n_h, n_h), "b": (n_h,),
            "V": (n_out, n_h), "c": (n_out,)}  # fmt: skip


def random_case(seed: int, T: int, n_in: int, n_h: int, n_out: int) -> dict[str, np.ndarray]:
    """Uniform values in [-1, 1] for every float argument, from a fixed seed."""
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(-1, 1, shape) for name, shape in parameter_shapes(T, n_in, n_h, n_out).items()}


@st.composite
def sequences(draw: Any, max_time: int = 5, scale: float = 1.0) -> dict[str, Any]:
    T, n_in, n_h = draw(st.integers(1, max_time)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    n_out = draw(st.integers(2, 4))
    case = {
        name: draw(arrays(shape=shape, min_value=-scale, max_value=scale))
        for name, shape in parameter_shapes(T, n_in, n_h, n_out).items()
    }
    case["y"] = np.array(draw(st.lists(st.integers(0, n_out - 1), min_size=T, max_size=T)))
    return case


def reference_backward(x, h0, U, W, b, V, c, y):
    """The true gradients of reference_loss, by backpropagation through time, by name (dU, ...)."""
    h, y_hat = reference_forward(x, h0, U, W, b, V, c)
    error = y_hat.copy()
    error[np.arange(len(y)), y] -= 1
    previous = np.vstack([h0[None, :], h[:-1]])
    through_tanh = np.zeros_like(h)
    later = np.zeros_like(h0)
    for t in reversed(range(len(x))):
        through_tanh[t] = (1 - h[t] ** 2) * (V.T @ error[t] + later)
        later = W.T @ through_tanh[t]
    return {"dU": through_tanh.T @ x, "dW": through_tanh.T @ previous, "db": through_tanh.sum(axis=0),
            "dV": error.T @ h, "dc": error.sum(axis=0), "dh0": later}  # fmt: skip


def forward_case(values: dict[str, Any]) -> Case:
    expected = dict(zip(("h", "y_hat"), reference_forward(*(values[n] for n in PARAMETERS)), strict=True))
    params = {"name": "rnn_forward", "args": list(PARAMETERS), "returns": ["h", "y_hat"]}
    expect = {name: Expect("close", value, 1e-10, what=name) for name, value in expected.items()}
    return Case("call", params, {n: values[n] for n in PARAMETERS}, expect)


def backward_case(values: dict[str, Any], wrt: Sequence[str] = GRADIENTS) -> Case:
    expected = reference_backward(*(values[n] for n in (*PARAMETERS, "y")))
    params = {"name": "rnn_backward", "args": [*PARAMETERS, "y"], "returns": "dict"}
    expect = {name: Expect("close", expected[name], GRADIENT_TOLERANCE, what=name) for name in wrt}
    return Case("call", params, dict(values), expect)


def unchanged_case(values: dict[str, Any], name: str) -> Case:
    case = forward_case(values) if name == "rnn_forward" else backward_case(values, ())
    args = case.params["args"]
    expect = {f"changed {a}": Expect("equal", np.array(False), what=f"whether {name} changed {a} in place")
              for a in args}  # fmt: skip
    return Case("call", case.params, case.inputs, expect)


def _drawn(
    make: Callable[[dict[str, Any]], Case],
    strategy: st.SearchStrategy[dict[str, Any]],
    examples: int,
    seed: int,
) -> Callable[[], list[Case]]:
    return lambda: drawn_cases(strategy, examples, seed, make)


def _wrt(*names: str) -> Callable[[dict[str, Any]], Case]:
    return lambda values: backward_case(values, names)


FORWARD, BACKWARD = ("rnn_forward",), ("rnn_backward",)
checklist.add(
    "rnn_forward: h and y_hat equal the reference", 2, _drawn(forward_case, sequences(), 10, 0), FORWARD
)
checklist.add("rnn_backward: dV and dc", 2, _drawn(_wrt("dV", "dc"), sequences(), 10, 0), BACKWARD)
checklist.add(
    "rnn_backward: dU, dW and db (through time)",
    4,
    _drawn(_wrt("dU", "dW", "db"), sequences(), 10, 0),
    BACKWARD,
)
checklist.add("rnn_backward: dh0", 1, _drawn(_wrt("dh0"), sequences(), 10, 0), BACKWARD)
checklist.add(
    "rnn_forward: more cases", 1, _drawn(forward_case, sequences(max_time=12), 40, 1), FORWARD, hidden=True
)
checklist.add(
    "rnn_backward: every gradient on more and longer sequences", 3,
    _drawn(backward_case, sequences(max_time=12), 30, 2), BACKWARD, hidden=True,
)  # fmt: skip
checklist.add(
    "rnn_backward: one step, one unit", 1,
    _drawn(backward_case, sequences(max_time=1).filter(lambda c: c["h0"].shape == (1,)), 10, 3), BACKWARD,
    hidden=True,
)  # fmt: skip
checklist.add(
    "rnn_backward: saturated tanh (inputs up to 4)", 1, _drawn(backward_case, sequences(scale=4.0), 20, 4),
    BACKWARD, hidden=True,
)  # fmt: skip


def _large_scores() -> list[Case]:
    values = random_case(5, T=4, n_in=2, n_h=3, n_out=2)
    values["V"] *= 3000.0  # o(t) in the thousands: exp overflows past 709
    return [forward_case(values)]


def _unchanged() -> list[Case]:
    values = {**random_case(6, T=3, n_in=2, n_h=2, n_out=3), "y": np.array([0, 2, 1])}
    return [unchanged_case(values, "rnn_forward"), unchanged_case(values, "rnn_backward")]


checklist.add(
    "rnn_forward: scores in the thousands give a finite softmax", 1, _large_scores, FORWARD, hidden=True
)
checklist.add(
    "rnn_forward and rnn_backward leave their inputs unchanged",
    1,
    _unchanged,
    FORWARD + BACKWARD,
    hidden=True,
)
