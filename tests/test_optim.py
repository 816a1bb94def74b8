"""Optimizers against steps computed by hand, and gradient clipping against its formula."""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import optim


def param(values, grad):
    p = mg.Tensor(values, requires_grad=True)
    p.grad = np.array(grad, dtype=float)
    return p


def test_sgd_with_momentum_two_steps():
    p = param([1.0], [0.5])
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    opt.step()  # v = 0.5, p = 1 - 0.05
    assert p.data[0] == pytest.approx(0.95)
    opt.step()  # v = 0.9 * 0.5 + 0.5 = 0.95, p = 0.95 - 0.095
    assert p.data[0] == pytest.approx(0.855)


def test_adam_first_step_moves_by_lr_times_sign():
    p = param([1.0, -1.0], [0.3, -2.0])
    optim.Adam([p], lr=0.01).step()
    # after one step m_hat = g and v_hat = g^2, so the move is lr * g / (|g| + eps)
    np.testing.assert_allclose(p.data, [1.0 - 0.01, -1.0 + 0.01], rtol=1e-6)


def test_adam_second_step_by_hand():
    p = param([0.0], [1.0])
    opt = optim.Adam([p], lr=0.1, betas=(0.5, 0.5), eps=0.0)
    opt.step()
    p.grad = np.array([3.0])
    opt.step()
    m = 0.5 * 0.5 * 1 + 0.5 * 3  # 1.75
    v = 0.5 * 0.5 * 1 + 0.5 * 9  # 4.75
    expected = -0.1 - 0.1 * (m / 0.75) / math.sqrt(v / 0.75)
    assert p.data[0] == pytest.approx(expected)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_steps_follow_the_docstrings_formula_in_the_weights_dtype(dtype, order):
    # the update runs in place in one scratch array; here the formula as written, in float64
    # (a Fortran-ordered weight, as the orthogonal initialiser makes, with C-ordered gradients)
    rng = np.random.default_rng(0)
    start = rng.standard_normal((3, 4))
    p = mg.Tensor(np.array(start, dtype=dtype, order=order), requires_grad=True)
    opt = optim.Adam([p], lr=0.01, betas=(0.8, 0.9), eps=1e-3)
    expected, m, v = start.copy(), np.zeros_like(start), np.zeros_like(start)
    for t in range(1, 5):
        g = rng.standard_normal((3, 4)).astype(dtype)
        p.grad = g.copy()
        opt.step()
        m = 0.8 * m + 0.2 * g
        v = 0.9 * v + 0.1 * g.astype(np.float64) ** 2
        expected -= 0.01 * (m / (1 - 0.8**t)) / (np.sqrt(v / (1 - 0.9**t)) + 1e-3)
        assert p.data.dtype == opt.state[0]["m"].dtype == opt.state[0]["v"].dtype == dtype
        np.testing.assert_array_equal(p.grad, g)  # the gradient is read, never written
    np.testing.assert_allclose(p.data, expected, rtol=0, atol=1e-6 if dtype == np.float32 else 1e-14)


def test_adagrad_and_rmsprop_by_hand():
    p = param([1.0], [2.0])
    opt = optim.Adagrad([p], lr=0.5, eps=0.0)
    opt.step()
    opt.step()  # s = 4, then 8: p = 1 - 0.5 * 2 / 2 - 0.5 * 2 / sqrt(8)
    assert p.data[0] == pytest.approx(1 - 0.5 - 1 / math.sqrt(8))
    q = param([1.0], [2.0])
    optim.RMSprop([q], lr=0.1, alpha=0.9, eps=0.0).step()  # s = 0.1 * 4
    assert q.data[0] == pytest.approx(1 - 0.1 * 2 / math.sqrt(0.4))


def test_parameters_without_gradient_are_left_alone():
    a, b = param([1.0], [1.0]), mg.Tensor([5.0], requires_grad=True)
    optim.SGD([a, b], lr=1.0).step()
    assert a.data[0] == 0.0 and b.data[0] == 5.0


def test_state_dict_round_trip_resumes_exactly():
    def run(opt, p, steps):
        for k in steps:
            p.grad = np.array([0.1 * (k + 1), -0.2])
            opt.step()

    p = param([1.0, 2.0], [0.0, 0.0])
    opt = optim.Adam([p], lr=0.05)
    run(opt, p, range(3))
    saved_params, saved_state = p.data.copy(), opt.state_dict()
    run(opt, p, range(3, 5))
    resumed = param(saved_params, [0.0, 0.0])
    opt2 = optim.Adam([resumed], lr=0.05)
    opt2.load_state_dict(saved_state)
    run(opt2, resumed, range(3, 5))
    np.testing.assert_array_equal(resumed.data, p.data)


def test_load_state_dict_rejects_bad_entries_and_changes_nothing():
    p = param([1.0], [1.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.5)
    opt.step()
    good = opt.state_dict()
    bad = {**good, "velocity.0": np.zeros(3)}
    with pytest.raises(ValueError, match=r"'velocity.0' has shape \(3,\), expected \(1,\)"):
        opt.load_state_dict(bad)
    np.testing.assert_array_equal(opt.state[0]["velocity"], good["velocity.0"])


def test_clip_grad_norm_matches_the_formula():
    a, b = param([0.0, 0.0], [3.0, 0.0]), param([0.0], [4.0])
    total = optim.clip_grad_norm([a, b], max_norm=1.0)
    assert total == pytest.approx(5.0)
    np.testing.assert_allclose(np.concatenate([a.grad, b.grad]), np.array([3.0, 0.0, 4.0]) / (5.0 + 1e-6))
    small = param([0.0], [0.5])
    assert optim.clip_grad_norm([small], 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(small.grad, [0.5])  # under the limit: untouched


def test_clip_grad_norm_sums_float32_squares_in_float64():
    # 10^6 squares of 0.1 in float32 arithmetic drift from 10^4; accumulated in float64 they do not
    grad = np.full((1000, 1000), 0.1, np.float32)
    p = mg.Tensor(np.zeros_like(grad), requires_grad=True)
    p.grad = grad.copy()
    total = optim.clip_grad_norm([p], max_norm=1e9)
    assert total == pytest.approx(float(np.sqrt(np.sum(grad.astype(np.float64) ** 2))), rel=1e-12)


def test_clip_grad_value():
    p = param([0.0, 0.0, 0.0], [-5.0, 0.2, 9.0])
    optim.clip_grad_value([p], 1.0)
    np.testing.assert_array_equal(p.grad, [-1.0, 0.2, 1.0])


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: optim.SGD([], lr=0.1), "got no parameters"),
        (lambda: optim.SGD([mg.Tensor([1.0], requires_grad=True) * 2], lr=0.1), "not a leaf Tensor"),
        (
            lambda: optim.Adam([mg.Tensor([1.0], requires_grad=True)], lr=0),
            "must be a positive finite number",
        ),
        (lambda: optim.clip_grad_norm([], 0), "max_norm must be positive"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda ps: optim.SGD(ps, lr=np.inf), "learning rate must be a positive finite number"),
        (lambda ps: optim.Adam(ps, betas=(1.0, 0.999)), r"betas must be two numbers in \[0, 1\)"),
        (lambda ps: optim.Adam(ps, betas=(0.9, -0.1)), r"betas must be two numbers in \[0, 1\)"),
        (lambda ps: optim.Adam(ps, eps=-1e-8), "eps must be a finite number >= 0"),
        (lambda ps: optim.Adagrad(ps, eps=-1.0), "eps must be a finite number >= 0"),
        (lambda ps: optim.RMSprop(ps, alpha=1.0), r"alpha must be in \[0, 1\)"),
    ],
)
def test_settings_that_cannot_work_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make([mg.Tensor(np.ones(2), requires_grad=True)])


def test_a_mis_shaped_gradient_changes_nothing_and_no_gradient_is_no_step():
    first, second = mg.Tensor(np.ones(2), requires_grad=True), mg.Tensor(np.ones(3), requires_grad=True)
    adam = optim.Adam([first, second], lr=0.1)
    adam.step()  # no gradients yet: nothing happens
    assert adam.steps == 0
    first.grad, second.grad = np.ones(2), np.ones(2)  # the second is mis-shaped
    with pytest.raises(ValueError, match=r"parameter 1 has shape \(2,\), expected \(3,\)"):
        adam.step()
    assert adam.steps == 0 and np.array_equal(first.data, np.ones(2))
    assert np.array_equal(adam.state[0]["m"], np.zeros(2))


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("beta1", 1.0, r"beta1 must be in \[0, 1\), got 1.0"),
        ("eps", -1e-8, "eps must be a finite number >= 0"),
        ("lr", np.inf, "the learning rate must be a positive finite number, got inf"),
        ("steps", -3, "steps must be >= 0"),
    ],
)
def test_a_saved_state_with_settings_out_of_range_is_refused_and_changes_nothing(name, value, message):
    param = mg.Tensor(np.ones(2), requires_grad=True)
    adam = optim.Adam([param], lr=0.1)
    param.grad = np.ones(2)
    adam.step()
    saved = adam.state_dict()
    before = {k: np.array(v, copy=True) for k, v in saved.items()}
    with pytest.raises(ValueError, match=message):
        adam.load_state_dict({**saved, name: np.asarray(value)})
    after = adam.state_dict()
    assert all(np.array_equal(after[k], before[k]) for k in before)


@pytest.mark.parametrize(
    ("name", "options"),
    [("SGD", {}), ("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {}), ("Adam", {"lr": 0.01, "betas": (0.8, 0.9)}),
     ("RMSprop", {}), ("Adagrad", {})],
)  # fmt: skip
def test_steps_and_defaults_equal_pytorch_even_for_a_parameter_that_gets_gradients_late(name, options):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    # the second parameter has no gradient in the first two steps (an unused branch, a frozen layer)
    grads = [(rng.standard_normal(3), rng.standard_normal(2) if k >= 2 else None) for k in range(6)]
    ours = [mg.Tensor(np.ones(3), requires_grad=True), mg.Tensor(np.ones(2), requires_grad=True)]
    theirs = [torch.ones(n, dtype=torch.float64, requires_grad=True) for n in (3, 2)]
    ours_opt, their_opt = getattr(optim, name)(ours, **options), getattr(torch.optim, name)(theirs, **options)
    for step_grads in grads:
        for p, q, g in zip(ours, theirs, step_grads, strict=True):
            p.grad, q.grad = (None, None) if g is None else (g.copy(), torch.tensor(g))
        ours_opt.step()
        their_opt.step()
    for p, q in zip(ours, theirs, strict=True):  # Adam with one step count for all: 7e-4 apart
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-13, atol=1e-15)


def test_zero_grad_drops_gradients_or_fills_them_with_zeros_as_pytorch_does():
    p, q = param([1.0, 2.0], [3.0, 4.0]), mg.Tensor([1.0], requires_grad=True)
    opt = optim.SGD([p, q], lr=0.1)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad, [0.0, 0.0])
    assert q.grad is None  # no gradient yet: nothing to fill
    opt.zero_grad()
    assert p.grad is None


def test_clip_grad_norm_equals_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    values = [rng.standard_normal((3, 2)) * 4, rng.standard_normal(5)]
    ours = [param(np.zeros_like(v), v) for v in values]
    theirs = [torch.zeros(v.shape, dtype=torch.float64, requires_grad=True) for v in values]
    for t, v in zip(theirs, values, strict=True):
        t.grad = torch.tensor(v)
    total = optim.clip_grad_norm(ours, 1.5)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.5)
    assert total == pytest.approx(expected.item(), rel=1e-14)
    for p, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-14)


def test_adam_state_dict_keeps_each_parameters_step_count():
    first, second = param([1.0], [1.0]), mg.Tensor([2.0], requires_grad=True)
    adam = optim.Adam([first, second])
    adam.step()  # the second has no gradient: its count stays at 0
    state = adam.state_dict()
    assert state["step.0"] == 1 and state["step.1"] == 0 and state["steps"] == 1


def test_adagrad_refuses_pytorchs_third_positional_argument():
    # torch.optim.Adagrad(params, 0.01, 0.001) sets lr_decay; taking 0.001 as eps would be silent
    with pytest.raises(TypeError):
        optim.Adagrad([mg.Tensor(np.ones(2), requires_grad=True)], 0.01, 0.001)
