"""minigrad.testing itself: gradcheck must catch wrong gradients; strategies keep promises."""

import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.testing import check_backward, gradcheck, numerical_grad
from minigrad.testing.profiles import load_profile
from minigrad.testing.strategies import (
    arrays,
    broadcastable_shapes,
    sequences,
    shapes,
    tensors,
)


class WrongSquare(mg.Function):
    """x^2 with a backward that forgets the factor 2, as a student might."""

    def forward(self, a):
        self.a = a
        return a * a

    def backward(self, g):
        return (g * self.a,)


class WrongSoftmaxLike(mg.Function):
    """x - mean(x): its true gradient has rows that sum to zero, a plain sum cannot see it."""

    def forward(self, a):
        return a - a.mean()

    def backward(self, g):
        return (g + 0.1 * np.arange(g.size).reshape(g.shape),)


def test_gradcheck_passes_a_correct_op():
    assert gradcheck(lambda x, y: (x * y).tanh(), [np.array([0.3, -1.2]), np.array([2.0, 0.5])])


def test_gradcheck_names_the_input_the_index_and_both_values():
    with pytest.raises(AssertionError) as caught:
        gradcheck(lambda c, x: c * WrongSquare.apply(x), [np.ones(2), np.array([[1.0, 3.0]])])
    message = str(caught.value)
    assert "gradient of x (shape (1, 2))" in message  # named by fn's parameter
    assert "index (0, 1)" in message  # the larger x, so the larger error
    found = re.search(r"analytic ([\d.]+), numeric ([\d.]+)", message)
    analytic, numeric = float(found.group(1)), float(found.group(2))
    assert numeric == pytest.approx(2 * analytic, rel=1e-4)  # the forgotten factor 2


def test_gradcheck_takes_names_and_falls_back_to_positions():
    wrong = [np.ones(2), np.array([[1.0, 3.0]])]
    with pytest.raises(AssertionError, match="gradient of weights "):
        gradcheck(lambda c, x: c * WrongSquare.apply(x), wrong, names=["scale", "weights"])
    with pytest.raises(AssertionError, match="gradient of input 1 "):
        gradcheck(lambda *args: args[0] * WrongSquare.apply(args[1]), wrong)
    with pytest.raises(ValueError, match="1 names for 2 inputs"):
        gradcheck(lambda c, x: c * x, wrong, names=["c"])


def test_gradcheck_sees_errors_that_a_plain_sum_would_cancel():
    with pytest.raises(AssertionError, match="gradient of input 0"):
        gradcheck(WrongSoftmaxLike.apply, [np.array([0.5, 1.0, -2.0])])


def test_gradcheck_checks_every_output_of_a_list():
    with pytest.raises(AssertionError):
        gradcheck(lambda x: [x * 2, WrongSquare.apply(x)], [np.array([1.5])])


def test_gradcheck_treats_non_grad_tensors_as_constants():
    constant = mg.Tensor([2.0, 3.0])
    assert gradcheck(lambda c, x: c * x, [constant, np.array([1.0, 1.0])])


def test_gradcheck_refuses_an_output_that_depends_on_nothing():
    with pytest.raises(AssertionError, match="does not depend"):
        gradcheck(lambda x: mg.Tensor([1.0]), [np.ones(1)])


def test_numerical_grad_of_a_cubic():
    x = np.array([1.0, -2.0])
    grad = numerical_grad(lambda: float(np.sum(x**3)), x)
    np.testing.assert_allclose(grad, 3 * np.array([1.0, 4.0]), rtol=1e-8)
    np.testing.assert_array_equal(x, [1.0, -2.0])  # restored


@pytest.mark.parametrize("layout", ["F", "strided"])
def test_numerical_grad_changes_arrays_of_any_layout_in_place(layout):
    base = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    x = base if layout == "F" else np.arange(12.0).reshape(2, 6)[:, ::2]
    expected = 2 * x.copy()
    grad = numerical_grad(lambda: float(np.sum(x**2)), x)
    np.testing.assert_allclose(grad, expected, atol=1e-6)


@given(shapes_=broadcastable_shapes(num_shapes=3))
def test_broadcastable_shapes_broadcast(shapes_):
    assert len(shapes_) == 3
    np.broadcast_shapes(*shapes_)


@given(a=arrays(shape=shapes(), positive=True, dtype=np.float32))
def test_positive_float32_arrays(a):
    assert a.dtype == np.float32 and np.all(a >= 0.5) and np.all(np.isfinite(a))


@given(a=arrays(avoid=(0.0, 1.0), margin=0.1))
def test_arrays_avoid_kinks(a):
    assert np.all(np.abs(a) >= 0.1) and np.all(np.abs(a - 1) >= 0.1)


@given(a=arrays(shape=(4, 4), distinct=True))
def test_distinct_arrays_are_spaced(a):
    gaps = np.diff(np.sort(a.ravel()))
    assert np.all(gaps >= 4.0 / 16 - 1e-12) and a.min() >= -2 and a.max() <= 2


@given(x=sequences(batch=3, time=st.integers(2, 5), features=2))
def test_sequences_are_batch_first(x):
    assert x.shape[0] == 3 and 2 <= x.shape[1] <= 5 and x.shape[2] == 2


@given(t=tensors(shape=(2,)))
def test_tensors_require_grad(t):
    assert isinstance(t, mg.Tensor) and t.requires_grad and t.shape == (2,)


def test_profiles_load_by_name(monkeypatch):
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "thorough")
    assert load_profile() == "thorough"
    assert settings.default.max_examples == 500
    monkeypatch.delenv("HYPOTHESIS_PROFILE")
    monkeypatch.setenv("CI", "true")
    assert load_profile() == "ci"
    assert settings.default.derandomize


def _softmax_loss(scores, labels):
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels].sum()


def _softmax_grads(scores, labels, factor=1.0):
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(labels)), labels] -= factor
    return {"scores": p}


def test_check_backward_passes_a_right_numpy_backward_and_names_a_wrong_one():
    scores, labels = np.array([[0.2, -1.0, 0.5], [1.5, 0.1, -0.3]]), np.array([2, 0])
    assert check_backward(_softmax_loss, _softmax_grads, {"scores": scores, "labels": labels})
    with pytest.raises(AssertionError, match=r"gradient of scores \(shape \(2, 3\)\) is wrong at index"):
        check_backward(
            _softmax_loss, lambda **kw: _softmax_grads(**kw, factor=0.5), {"scores": scores, "labels": labels}
        )


@pytest.mark.parametrize(
    ("backward", "message"),
    [
        (lambda **kw: [kw["scores"]], "must return a dict"),
        (lambda **kw: {}, "returned no gradient for scores"),
        (lambda **kw: {"scores": np.zeros(3)}, r"has shape \(3,\), expected \(2, 3\)"),
        (lambda **kw: {"scores": np.full((2, 3), np.nan)}, "is wrong at index"),
    ],
)
def test_check_backward_says_what_is_wrong_with_what_backward_returned(backward, message):
    inputs = {"scores": np.array([[0.2, -1.0, 0.5], [1.5, 0.1, -0.3]]), "labels": np.array([2, 0])}
    with pytest.raises(AssertionError, match=message):
        check_backward(_softmax_loss, backward, inputs)


def test_check_backward_rejects_unknown_names_and_leaves_inputs_alone():
    scores = np.array([[0.2, -1.0, 0.5]])
    with pytest.raises(ValueError, match=r"wrt names \['weights'\]"):
        check_backward(
            _softmax_loss, _softmax_grads, {"scores": scores, "labels": np.array([1])}, wrt=["weights"]
        )
    before = scores.copy()
    check_backward(_softmax_loss, _softmax_grads, {"scores": scores, "labels": np.array([1])})
    np.testing.assert_array_equal(scores, before)


PLUGIN_TEST = """
import time
from hypothesis import Phase, given, settings, strategies as st

@settings(max_examples=2, phases=[Phase.generate])
@given(st.just(0))
def test_slow_property(n):
    time.sleep(0.3)  # a gradient check on a real cell can take this long
"""


@pytest.mark.parametrize("plugin", ["enabled", "disabled"])
def test_the_plugin_gives_a_test_file_without_conftest_the_profiles(tmp_path, monkeypatch, plugin):
    (tmp_path / "test_teacher.py").write_text(PLUGIN_TEST)
    monkeypatch.delenv("HYPOTHESIS_PROFILE", raising=False)
    monkeypatch.delenv("CI", raising=False)
    extra = [] if plugin == "enabled" else ["-p", "no:minigrad"]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra, "test_teacher.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if plugin == "enabled":
        assert run.returncode == 0, run.stdout + run.stderr
    else:  # hypothesis's own 200 ms deadline fails the slow property
        assert run.returncode == 1 and "DeadlineExceeded" in run.stdout, run.stdout
