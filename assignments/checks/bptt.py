"""Checks of the bptt assignment: the forward pass against a numpy reference written here, and
each gradient against central differences of that reference loss (check_backward)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np
from hypothesis import strategies as st

from minigrad.testing import check_backward
from minigrad.testing.grading import Checklist, prove, require
from minigrad.testing.strategies import arrays

# numpy only: no autograd, no reference layer, no solution
checklist = Checklist(forbidden=("minigrad", "layers", "assignments"))

PARAMETERS = ("x", "h0", "U", "W", "b", "V", "c")


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


def _forward_matches(rnn_forward: Callable[..., Any], case: dict[str, Any]) -> None:
    args = [case[name] for name in PARAMETERS]
    result = rnn_forward(*(a.copy() for a in args))
    assert isinstance(result, tuple) and len(result) == 2, "rnn_forward must return the pair (h, y_hat)"
    expected = reference_forward(*args)
    for name, got, want in zip(("h", "y_hat"), result, expected, strict=True):
        got = np.asarray(got)
        assert got.shape == want.shape, f"rnn_forward: {name} has shape {got.shape}, expected {want.shape}"
        assert np.all(np.isfinite(got)), f"rnn_forward: {name} holds NaN or inf"
        worst = np.max(np.abs(got - want))
        assert worst <= 1e-10, f"rnn_forward: {name} differs from the reference by up to {worst:.3g}"


def _backward_matches(rnn_backward: Callable[..., Any], case: dict[str, Any], wrt: Sequence[str]) -> None:
    def gradients(**inputs: Any) -> dict[str, np.ndarray]:
        grads = rnn_backward(*(inputs[name] for name in (*PARAMETERS, "y")))
        if not isinstance(grads, dict):
            raise AssertionError(f"rnn_backward must return a dict, got {type(grads).__name__}")
        return {key[1:]: value for key, value in grads.items() if key.startswith("d")}

    try:
        check_backward(reference_loss, gradients, case, wrt=wrt)
    except AssertionError as error:
        raise AssertionError(str(error).replace("gradient of ", "gradient d", 1)) from None


def _forward_check(
    cases: st.SearchStrategy[dict[str, Any]], examples: int, seed: int
) -> Callable[[ModuleType], None]:
    return lambda sub: prove(
        lambda c: _forward_matches(require(sub, "rnn_forward"), c), cases, examples, seed
    )


def _backward_check(
    wrt: Sequence[str], cases: st.SearchStrategy[dict[str, Any]], examples: int, seed: int
) -> Callable[[ModuleType], None]:
    return lambda sub: prove(
        lambda c: _backward_matches(require(sub, "rnn_backward"), c, wrt), cases, examples, seed
    )


checklist.add("rnn_forward: h and y_hat equal the reference", 2, _forward_check(sequences(), 10, 0))
checklist.add("rnn_backward: dV and dc", 2, _backward_check(("V", "c"), sequences(), 10, 0))
checklist.add(
    "rnn_backward: dU, dW and db (through time)", 4, _backward_check(("U", "W", "b"), sequences(), 10, 0)
)
checklist.add("rnn_backward: dh0", 1, _backward_check(("h0",), sequences(), 10, 0))

checklist.add("rnn_forward: more cases", 1, _forward_check(sequences(max_time=12), 40, 1), hidden=True)
checklist.add(
    "rnn_backward: every gradient on more and longer sequences",
    3,
    _backward_check(("U", "W", "b", "V", "c", "h0"), sequences(max_time=12), 30, 2),
    hidden=True,
)
checklist.add(
    "rnn_backward: one step, one unit",
    1,
    _backward_check(
        ("U", "W", "b", "V", "c", "h0"), sequences(max_time=1).filter(lambda c: c["h0"].shape == (1,)), 10, 3
    ),
    hidden=True,
)
checklist.add(
    "rnn_backward: saturated tanh (inputs up to 4)",
    1,
    _backward_check(("U", "W", "b", "V", "c", "h0"), sequences(scale=4.0), 20, 4),
    hidden=True,
)


@checklist.check(points=1, name="rnn_forward: scores in the thousands give a finite softmax", hidden=True)
def large_scores(sub: ModuleType) -> None:
    case = random_case(5, T=4, n_in=2, n_h=3, n_out=2)
    case["V"] *= 3000.0  # o(t) in the thousands: exp overflows past 709
    _forward_matches(require(sub, "rnn_forward"), case)


@checklist.check(points=1, name="rnn_forward and rnn_backward leave their inputs unchanged", hidden=True)
def inputs_unchanged(sub: ModuleType) -> None:
    case = random_case(6, T=3, n_in=2, n_h=2, n_out=3)
    y = np.array([0, 2, 1])
    saved = {name: value.copy() for name, value in case.items()}
    require(sub, "rnn_forward")(*(case[n] for n in PARAMETERS))
    require(sub, "rnn_backward")(*(case[n] for n in PARAMETERS), y)
    for name, value in case.items():
        assert np.array_equal(value, saved[name]), f"{name} was changed in place by your code"
    assert np.array_equal(y, [0, 2, 1]), "y was changed in place by your code"
