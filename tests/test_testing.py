"""minigrad.testing itself: gradcheck must catch wrong gradients; strategies keep promises."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import layers
import minigrad as mg
from minigrad.testing import check_backward, gradcheck, gradcheck_module, numerical_grad
from minigrad.testing.profiles import load_profile
from minigrad.testing.strategies import (
    arrays,
    broadcastable_shapes,
    labels,
    lengths,
    masks,
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


class NaNForward(mg.Function):
    """An op whose forward is NaN everywhere and whose backward is garbage."""

    def forward(self, a):
        return np.full_like(a, np.nan)

    def backward(self, g):
        return (np.full_like(g, 7.0),)


class NaNBackward(mg.Function):
    """x^2 whose backward gives NaN at the first element."""

    def forward(self, a):
        self.a = a
        return a * a

    def backward(self, g):
        grad = 2 * g * self.a
        grad.flat[0] = np.nan
        return (grad,)


class Kink(mg.Function):
    """|x| with backward sign(x): right away from 0, where the central difference jumps."""

    def forward(self, a):
        self.a = a
        return np.where(a > 0, a, np.inf)  # inf left of 0: a gradient that cannot be measured

    def backward(self, g):
        return (g,)


@settings(max_examples=100)
@given(x=arrays(shape=(3,)))
def test_gradcheck_fails_a_nan_forward_with_a_garbage_backward_on_every_example(x):
    with pytest.raises(
        AssertionError, match=r"fn's output 0 at the inputs \(in float64\) is not finite at 3 of 3"
    ):
        gradcheck(NaNForward.apply, [x])


def test_gradcheck_fails_a_non_finite_analytic_or_numeric_gradient():
    with pytest.raises(
        AssertionError,
        match=r"analytic gradient of x \(in float64\) is not finite at 1 of 2 elements: nan at \(0,\)",
    ):
        gradcheck(lambda x: NaNBackward.apply(x), [np.array([1.0, 2.0])])
    with pytest.raises(
        AssertionError, match=r"numeric gradient of x .* not finite within eps = 1e-06 .* at 1 of 2 elements"
    ):
        gradcheck(lambda x: Kink.apply(x), [np.array([1e-7, 2.0])])


def test_gradcheck_takes_integer_and_boolean_inputs_as_constants():
    logits, targets, mask = (
        np.array([[0.2, -1.0, 0.5], [1.5, 0.1, -0.3]]),
        np.array([2, 0]),
        np.array([True, False]),
    )
    seen = []

    def loss(z, t, m):
        seen.append((t.dtype, m.dtype))
        return mg.functional.cross_entropy(z[np.flatnonzero(m)], t[m])

    assert gradcheck(loss, [logits, targets, mask])
    assert set(seen) == {(np.dtype(np.int64), np.dtype(bool))}  # passed as given, never made float
    with pytest.raises(AssertionError, match="integer and boolean inputs are constants"):
        gradcheck(lambda n: mg.Tensor([1.0]) * n, [np.array([3])])


def test_gradcheck_refuses_a_random_op_and_says_how_to_check_one():
    x = np.linspace(-1, 1, 12)
    dropout = lambda t: mg.functional.dropout(t, 0.5, training=True)  # noqa: E731
    with pytest.raises(
        AssertionError,
        match=r"fn gave different results for the same inputs .*minigrad.random.manual_seed\(0\)",
    ):
        gradcheck(dropout, [x])

    def seeded(t):
        mg.random.manual_seed(0)
        return dropout(t)

    assert gradcheck(seeded, [x])


def test_gradcheck_nondet_tol_allows_rounding_noise_only():
    noise = iter(np.random.default_rng(0).uniform(-1e-13, 1e-13, 10_000))
    noisy = lambda x: x * 2.0 + next(noise)  # noqa: E731
    with pytest.raises(AssertionError, match="different results"):
        gradcheck(noisy, [np.array([0.5, 1.0])])
    assert gradcheck(noisy, [np.array([0.5, 1.0])], nondet_tol=1e-12, atol=1e-4)


class CancelsInFloat32(mg.Function):
    """x^2 whose backward, 2x written ((x + c)^2 - (x - c)^2) / 2c with c = 1e6, is exact
    enough in float64 and loses the gradient to rounding in float32."""

    def forward(self, a):
        self.a = a
        return a * a

    def backward(self, g):
        c = self.a.dtype.type(1e6)
        return (g * ((self.a + c) ** 2 - (self.a - c) ** 2) / (2 * c),)


def test_gradcheck_checks_float32_functions_in_float32_too():
    x = np.array([0.3, -0.7], dtype=np.float32)
    assert gradcheck(lambda t: t.tanh(), [x])
    assert gradcheck(CancelsInFloat32.apply, [x.astype(np.float64)])  # float64 inputs: one pass
    with pytest.raises(
        AssertionError,
        match=r"gradient of input 0 .* in the inputs' own dtypes \(float32\); eps 0.001, atol 0.001, rtol 0.01",
    ):
        gradcheck(CancelsInFloat32.apply, [x])


def test_gradcheck_lists_every_wrong_element_up_to_the_cap():
    x = np.array([[1.0, 3.0, -2.0, 0.5]])
    with pytest.raises(AssertionError) as caught:
        gradcheck(WrongSquare.apply, [x])
    message = str(caught.value)
    assert "wrong at 4 of 4 elements" in message
    listed = re.findall(r"index \(0, (\d)\): .* \|difference\| ([\d.e-]+) > allowed ([\d.e-]+)", message)
    assert sorted(i for i, _, _ in listed) == ["0", "1", "2", "3"]
    excess = [float(d) - float(a) for _, d, a in listed]
    assert excess == sorted(excess, reverse=True)  # worst first
    with pytest.raises(AssertionError, match=r"index \(0, \d\)[^\n]*\n  index \(0, \d\)[^\n]*\n  and 2 more"):
        gradcheck(WrongSquare.apply, [x], max_reported=2)


def test_gradcheck_shows_both_full_jacobians_on_request():
    x = np.array([1.0, 3.0])
    with pytest.raises(AssertionError) as caught:
        gradcheck(WrongSquare.apply, [x], show_jacobians=True)
    message = str(caught.value)
    analytic = message.split("analytic Jacobians")[1].split("numeric:")[0]
    numeric = message.split("numeric:\n")[1]

    def parse(text):
        rows = [row for row in text.strip().splitlines() if "[" in row]
        return np.array([[float(v) for v in re.findall(r"-?[\d.]+", row)] for row in rows])

    np.testing.assert_allclose(
        parse(analytic.split(":", 1)[1]), np.diag(x), atol=1e-6
    )  # the wrong backward's
    np.testing.assert_allclose(parse(numeric), np.diag(2 * x), atol=1e-5)  # d(x^2)/dx


def test_gradcheck_takes_one_array_as_one_input():
    assert gradcheck(lambda t: t * t, np.array([1.0, 2.0, 3.0]))
    with pytest.raises(AssertionError, match=r"shape \(3,\)"):
        gradcheck(WrongSquare.apply, np.array([1.0, 2.0, 3.0]))


def test_gradcheck_refuses_an_output_that_is_not_a_tensor():
    with pytest.raises(
        TypeError, match="must return a Tensor or a list or tuple of Tensors, got \\['ndarray'\\]"
    ):
        gradcheck(lambda t: t.data * 2, [np.ones(2)])


class WrongScale(layers.Module):
    """y = w * x with a backward that gives w the gradient of w^2 x instead."""

    def __init__(self):
        self.w = mg.Tensor(np.array([0.5, 2.0]), requires_grad=True)

    def forward(self, x):
        return WrongSquare.apply(self.w) / self.w * x  # w^2 / w = w, but backward says x


def test_gradcheck_module_checks_every_trainable_weight_and_names_it():
    x = np.random.default_rng(0).normal(size=(2, 4, 3))
    lstm = layers.LSTM(3, return_sequences=True)
    assert gradcheck_module(lstm, [x])
    assert gradcheck_module(layers.GRU(2, dtype=np.float32), x.astype(np.float32))
    with pytest.raises(
        AssertionError, match=r"gradcheck_module: the gradient of w \(shape \(2,\)\) is wrong at 2 of 2"
    ):
        gradcheck_module(WrongScale(), [np.array([1.0, 3.0])])


def test_gradcheck_module_leaves_the_module_as_it_was():
    dense = layers.Dense(2, input_size=3)
    dense.kernel.grad = np.full((3, 2), 7.0)
    before = {k: v.copy() for k, v in dense.state_dict().items()}
    assert gradcheck_module(dense, np.ones((2, 3)))
    np.testing.assert_array_equal(dense.kernel.grad, np.full((3, 2), 7.0))
    for k, v in dense.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_gradcheck_module_refuses_dropout_in_training_mode():
    model = layers.Sequential([layers.Dense(4, input_size=3), layers.Dropout(0.5)])
    with pytest.raises(AssertionError, match="the module gave different results for the same inputs"):
        gradcheck_module(model, np.ones((2, 3)))
    assert gradcheck_module(model.eval(), np.ones((2, 3)))


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


@given(m=masks(batch=st.integers(1, 5), time=st.integers(1, 6)))
def test_masks_keep_a_step_in_every_row(m):
    assert m.dtype == bool and m.ndim == 2 and np.all(m.any(axis=1))


@settings(max_examples=200)
@given(m=masks(left_aligned=True))
def test_left_aligned_masks_are_padded_at_the_end(m):
    length = m.sum(axis=1)
    assert np.all(length >= 1)
    np.testing.assert_array_equal(m, np.arange(m.shape[1]) < length[:, None])  # True then False


@given(n=lengths(batch=3, time=5))
def test_lengths_fit_the_time_axis(n):
    assert n.shape == (3,) and n.dtype == np.int64 and np.all((1 <= n) & (n <= 5))


@given(y=labels(shape=(4, 3), n_classes=st.integers(1, 6)), data=st.data())
def test_labels_are_class_ids(y, data):
    assert y.shape == (4, 3) and y.dtype == np.int64 and y.min() >= 0
    assert np.all(data.draw(labels(shape=(50,), n_classes=3)) < 3)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dtype": np.int64}, "dtype must be float32 or float64, got int64"),
        ({"distinct": True, "avoid": (0.0,)}, "cannot also avoid"),
    ],
)
def test_arrays_refuse_what_they_cannot_honour(options, message):
    @given(arrays(**options))
    def draw(a):
        pass

    with pytest.raises(ValueError, match=message):
        draw()


@given(a=arrays(shape=(5,), min_value=1e-8, max_value=1e-7))
def test_arrays_keep_tiny_bounds(a):
    assert np.all((a >= 1e-8) & (a <= 1e-7))  # no value flushed to 0, outside the bounds


def test_profiles_load_by_name(monkeypatch):
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "thorough")
    assert load_profile() == "thorough"
    assert settings.default.max_examples == 500
    monkeypatch.delenv("HYPOTHESIS_PROFILE")
    monkeypatch.setenv("CI", "true")
    assert load_profile() == "ci"
    assert settings.default.derandomize


def test_minigrads_profiles_leave_hypothesis_own_ci_profile_alone():
    code = (
        "from hypothesis import settings\n"
        "before = settings.get_profile('ci')\n"
        "import minigrad.testing.profiles\n"
        "assert settings.get_profile('ci') is before, 'replaced'\n"
        "assert settings.get_profile('minigrad-ci').max_examples == 50\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr


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
    with pytest.raises(
        AssertionError, match=r"gradient of scores \(shape \(2, 3\)\) is wrong at 2 of 6 elements"
    ):
        check_backward(
            _softmax_loss, lambda **kw: _softmax_grads(**kw, factor=0.5), {"scores": scores, "labels": labels}
        )


@pytest.mark.parametrize(
    ("backward", "message"),
    [
        (lambda **kw: [kw["scores"]], "must return a dict"),
        (lambda **kw: {}, "returned no gradient for scores"),
        (lambda **kw: {"scores": np.zeros(3)}, r"has shape \(3,\), expected \(2, 3\)"),
        (lambda **kw: {"scores": np.full((2, 3), np.nan)}, "backward returned is not finite at 6 of 6"),
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


def test_check_backward_fails_non_finite_values_random_forwards_and_integer_wrt():
    scores, labels = np.array([[0.2, -1.0, 0.5]]), np.array([1])
    inputs = {"scores": scores, "labels": labels}
    with pytest.raises(AssertionError, match="the loss forward returns at the inputs is not finite"):
        check_backward(lambda **kw: np.nan, _softmax_grads, inputs)
    noise = np.random.default_rng(0)
    with pytest.raises(AssertionError, match="forward gave different results for the same inputs"):
        check_backward(lambda **kw: _softmax_loss(**kw) + noise.normal(), _softmax_grads, inputs)
    with pytest.raises(ValueError, match=r"wrt names \['labels'\], which are not float arrays"):
        check_backward(_softmax_loss, _softmax_grads, inputs, wrt=["labels"])


def test_check_backward_checks_float32_inputs_in_float32_and_shows_both_gradients():
    scores = np.array([[0.2, -1.0, 0.5]], dtype=np.float32)
    dtypes = []

    def grads(scores, labels):
        dtypes.append(scores.dtype)
        return _softmax_grads(scores, labels)

    assert check_backward(_softmax_loss, grads, {"scores": scores, "labels": np.array([1])})
    assert dtypes == [np.float64, np.float32]
    with pytest.raises(AssertionError, match=r"float64; eps 1e-06(.|\n)*analytic gradients:\n\[\[") as caught:
        check_backward(
            _softmax_loss, lambda **kw: _softmax_grads(**kw, factor=0.5), {"scores": scores, "labels": np.array([1])},
            show_gradients=True,
        )  # fmt: skip
    assert "wrong" in str(caught.value)


def test_numerical_grad_divides_by_the_step_taken_and_refuses_integers():
    x = np.array([1000.0, 3.0], dtype=np.float32)  # 1000 + 1e-3 rounds to 1000.00098
    grad = numerical_grad(lambda: float(np.sum(x.astype(np.float64) ** 2)), x, eps=1e-3)
    np.testing.assert_allclose(grad, [2000.0, 6.0], rtol=1e-6)
    with pytest.raises(TypeError, match="must hold floats, got int64"):
        numerical_grad(lambda: 0.0, np.array([1, 2]))


TEACHER_TEST = """
import time
from hypothesis import Phase, given, settings, strategies as st
from minigrad.testing import gradcheck

@settings(max_examples=2, phases=[Phase.generate])
@given(st.just(0))
def test_slow_property(n):
    time.sleep(0.3)  # a gradient check on a real cell can take this long

EXAMPLES = []

@given(st.integers())
def test_count(n):
    EXAMPLES.append(n)

def test_examples():
    print(f"teacher ran {len(EXAMPLES)} examples")
"""

STRANGER_TEST = TEACHER_TEST.replace("from minigrad.testing import gradcheck", "").replace(
    "teacher", "stranger"
)


def run_pytest(folder, *arguments, env=None, code=None):
    """pytest in ``folder`` in a fresh process; ``code`` runs before it, in that process."""
    environment = {k: v for k, v in os.environ.items() if k not in ("HYPOTHESIS_PROFILE", "CI")}
    launcher = f"{code or ''}\nimport sys, pytest\nsys.exit(pytest.main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", launcher, "-q", "-s", "-p", "no:cacheprovider", *arguments],
        cwd=folder, capture_output=True, text=True, timeout=300, env={**environment, **(env or {})},
    )  # fmt: skip


def test_the_profiles_reach_a_teachers_test_module_and_no_strangers(tmp_path):
    (tmp_path / "test_teacher.py").write_text(TEACHER_TEST)
    (tmp_path / "test_stranger.py").write_text(STRANGER_TEST)
    run = run_pytest(tmp_path, env={"HYPOTHESIS_PROFILE": "thorough"})
    out = run.stdout
    assert "teacher ran 500 examples" in out, out  # minigrad's thorough profile, no conftest
    assert "stranger ran 100 examples" in out, out  # hypothesis's own default
    assert "test_stranger.py::test_slow_property" in out and "DeadlineExceeded" in out, out
    assert "test_teacher.py::test_slow_property" not in out, out  # no deadline for the teacher
    assert "1 failed" in out, out


def test_a_profile_chosen_on_the_command_line_wins(tmp_path):
    (tmp_path / "test_teacher.py").write_text(TEACHER_TEST)
    run = run_pytest(tmp_path, "--hypothesis-profile", "default")
    assert "teacher ran 100 examples" in run.stdout and "DeadlineExceeded" in run.stdout, run.stdout


BLOCK_HYPOTHESIS = """
import importlib.abc, sys

class NoHypothesis(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "hypothesis":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NoHypothesis())
"""


def test_nothing_breaks_where_hypothesis_is_not_installed(tmp_path):
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    assert 1 + 1 == 2\n")
    (tmp_path / "test_gradients.py").write_text(
        "import numpy as np\nfrom minigrad.testing import gradcheck\n\n"
        "def test_tanh():\n    assert gradcheck(lambda x: x.tanh(), [np.array([0.5, -1.0])])\n"
    )
    # hypothesis's own pytest plugin is absent where hypothesis is: leave it out by hand; and
    # pytest's assertion rewriting would import the plugins' packages past the blocker
    without = ("-p", "no:hypothesispytest", "--assert=plain")
    run = run_pytest(tmp_path, *without, code=BLOCK_HYPOTHESIS)
    assert run.returncode == 0 and "2 passed" in run.stdout, run.stdout + run.stderr
    probe = run_pytest(tmp_path, *without, code=BLOCK_HYPOTHESIS + "import hypothesis")
    assert "No module named 'hypothesis'" in probe.stderr  # the blocker works
