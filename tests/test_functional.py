"""softmax, log_softmax, cross_entropy and mse_loss, against independent formulas."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import functional as F
from minigrad.testing import gradcheck
from minigrad.testing.strategies import arrays, shapes


def reference_log_softmax(a, axis):
    return a - np.logaddexp.reduce(a, axis=axis, keepdims=True)


@given(a=arrays(shape=shapes(min_dims=1)), data=st.data())
def test_softmax_and_log_softmax(a, data):
    axis = data.draw(st.integers(-a.ndim, a.ndim - 1))
    np.testing.assert_allclose(F.log_softmax(a, axis=axis).data, reference_log_softmax(a, axis), atol=1e-12)
    np.testing.assert_allclose(
        F.softmax(a, axis=axis).data, np.exp(reference_log_softmax(a, axis)), atol=1e-12
    )
    gradcheck(lambda t: F.log_softmax(t, axis=axis), [a])
    gradcheck(lambda t: F.softmax(t, axis=axis), [a])


def test_log_softmax_is_stable_for_huge_logits():
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4 + 1.0, -1e4]])
    out = F.log_softmax(mg.Tensor(logits, requires_grad=True))
    # by hand: row 0 is [0, -1e4, -2e4]; row 1 is (a, a + 1, a) with a = -1e4, so its
    # log-sum-exp is a + log(2 + e) and the row is [-log(2 + e), 1 - log(2 + e), -log(2 + e)]
    k = math.log(2 + math.e)
    expected = np.array([[0.0, -1e4, -2e4], [-k, 1 - k, -k]])
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    out.sum().backward()
    assert np.all(np.isfinite(out.data))


@st.composite
def logits_and_targets(draw):
    shape = draw(shapes(min_dims=1, max_dims=3))
    classes = draw(st.integers(1, 5))
    logits = draw(arrays(shape=(*shape, classes), min_value=-4, max_value=4))
    targets = draw(arrays(shape=shape, min_value=0, max_value=classes - 1e-9)).astype(np.int64)
    return logits, targets


@given(case=logits_and_targets(), reduction=st.sampled_from(["mean", "sum", "none"]))
def test_cross_entropy_matches_the_composed_log_softmax(case, reduction):
    logits, targets = case
    picked = np.take_along_axis(reference_log_softmax(logits, -1), targets[..., None], -1)[..., 0]
    expected = {"mean": -picked.mean(), "sum": -picked.sum(), "none": -picked}[reduction]
    fused = F.cross_entropy(mg.Tensor(logits), targets, reduction=reduction, class_axis=-1)
    np.testing.assert_allclose(fused.data, expected, atol=1e-12)
    gradcheck(lambda t: F.cross_entropy(t, targets, reduction=reduction, class_axis=-1), [logits])

    # the fused op and the composition of primitives give the same gradient
    fused_input = mg.Tensor(logits, requires_grad=True)
    composed_input = mg.Tensor(logits, requires_grad=True)
    F.cross_entropy(fused_input, targets, reduction="sum", class_axis=-1).backward()
    rows = F.log_softmax(composed_input).reshape(-1, logits.shape[-1])
    (-rows[np.arange(targets.size), targets.reshape(-1)].sum()).backward()
    np.testing.assert_allclose(fused_input.grad, composed_input.grad, atol=1e-12)


def test_cross_entropy_keeps_float32():
    logits = mg.Tensor(np.zeros((2, 3), dtype=np.float32), requires_grad=True)
    loss = F.cross_entropy(logits, np.array([0, 2]))
    assert loss.dtype == np.float32
    np.testing.assert_allclose(loss.item(), math.log(3), rtol=1e-6)
    loss.backward()
    assert logits.grad.dtype == np.float32


@pytest.mark.parametrize(
    "targets,message",
    [
        (np.array([0, 3]), r"targets must lie in \[0, 3\), got values from 0 to 3"),
        (np.array([0, -1]), r"targets must lie in \[0, 3\)"),
        (
            np.array([0]),
            r"logits' shape \(2, 3\) without the class axis, \(2,\) for Keras's layout .*; got \(1,\)",
        ),
        (np.array([0.5, 1.0]), "integer class ids"),
    ],
)
def test_cross_entropy_rejects_bad_targets(targets, message):
    with pytest.raises(ValueError, match=message):
        F.cross_entropy(mg.Tensor(np.zeros((2, 3))), targets)
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy(mg.Tensor(np.zeros((2, 3))), np.array([0, 1]), reduction="avg")


@given(a=arrays(shape=(2, 3)), b=arrays(shape=(2, 3)))
def test_mse_loss(a, b):
    np.testing.assert_allclose(F.mse_loss(a, b).item(), np.mean((a - b) ** 2))
    np.testing.assert_allclose(F.mse_loss(a, b, reduction="sum").item(), np.sum((a - b) ** 2))
    gradcheck(lambda p, t: F.mse_loss(p, t), [a, b])


def test_mse_loss_refuses_to_broadcast():
    with pytest.raises(ValueError, match=r"pred has shape \(3,\) but target has \(3, 1\)"):
        F.mse_loss(np.ones(3), np.ones((3, 1)))


@given(case=logits_and_targets(), data=st.data())
def test_cross_entropy_mask_and_ignore_index(case, data):
    logits, targets = case
    mask = data.draw(arrays(shape=targets.shape)) > -0.5
    if not mask.any():
        mask.flat[0] = True
    per_position = -np.take_along_axis(reference_log_softmax(logits, -1), targets[..., None], -1)[..., 0]
    expected = per_position[mask].mean()
    np.testing.assert_allclose(
        F.cross_entropy(logits, targets, mask=mask, class_axis=-1).item(), expected, atol=1e-12
    )
    gradcheck(lambda t: F.cross_entropy(t, targets, mask=mask, class_axis=-1), [logits])
    ignored = np.where(mask, targets, -100)
    np.testing.assert_allclose(
        F.cross_entropy(logits, ignored, ignore_index=-100, class_axis=-1).item(), expected, atol=1e-12
    )


def test_cross_entropy_with_nothing_left_is_an_error():
    with pytest.raises(ValueError, match="no position is left"):
        F.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), mask=np.array([False, False]))
    with pytest.raises(ValueError, match="mask must be booleans"):
        F.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), mask=np.array([1, 0]))


@given(x=arrays(shape=shapes(min_dims=1), min_value=-30, max_value=30), data=st.data())
def test_binary_cross_entropy_with_logits(x, data):
    y = data.draw(arrays(shape=x.shape, min_value=0, max_value=1))
    p = 1 / (1 + np.exp(-x.astype(np.longdouble)))
    expected = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(x, y, reduction="none").data,
                               expected.astype(np.float64), rtol=1e-6, atol=1e-9)  # fmt: skip
    gradcheck(lambda t: F.binary_cross_entropy_with_logits(t, y), [np.where(np.abs(x) < 0.05, 0.1, x)])


def test_binary_cross_entropy_is_finite_for_huge_logits():
    loss = F.binary_cross_entropy_with_logits(np.array([1e4, -1e4]), np.array([0.0, 1.0]), reduction="none")
    np.testing.assert_allclose(loss.data, [1e4, 1e4])


# --- the class axis: Keras's (batch, ..., classes) or PyTorch's (batch, classes, ...) ---
def reference_cross_entropy(logits, targets, class_axis):
    """Mean of -log softmax(logits)[target], written with numpy for either layout."""
    log_p = np.moveaxis(reference_log_softmax(logits, class_axis), class_axis, -1)
    return -np.take_along_axis(log_p, targets[..., None], -1).mean()


@st.composite
def sequence_logits(draw):
    """Logits of shape (batch, classes, *steps) in PyTorch's layout, classes != steps[-1]."""
    batch, classes = draw(st.integers(1, 3)), draw(st.integers(2, 5))
    steps = draw(st.lists(st.integers(1, 4).filter(lambda n: n != classes), min_size=1, max_size=2))
    logits = draw(arrays(shape=(batch, classes, *steps), min_value=-4, max_value=4))
    targets = draw(arrays(shape=(batch, *steps), min_value=0, max_value=classes - 1e-9)).astype(np.int64)
    return logits, targets


@given(case=sequence_logits())
def test_cross_entropy_reads_either_layout_from_the_targets_shape(case):
    torch_logits, targets = case
    expected = reference_cross_entropy(torch_logits, targets, class_axis=1)
    np.testing.assert_allclose(F.cross_entropy(torch_logits, targets).item(), expected, rtol=1e-12)
    keras_logits = np.moveaxis(torch_logits, 1, -1)  # the same scores as (batch, *steps, classes)
    np.testing.assert_allclose(F.cross_entropy(keras_logits, targets).item(), expected, rtol=1e-12)
    gradcheck(lambda t: F.cross_entropy(t, targets), [torch_logits])


def test_cross_entropy_with_as_many_classes_as_steps_refuses_to_guess():
    # (batch 1, 3 classes, 3 steps) in PyTorch's layout: read as (batch, steps, classes) it
    # gives another loss, which is what used to come back without a word
    logits = np.array([[[2.0, -1.0, 0.5], [0.0, 1.5, -2.0], [1.0, 0.0, 3.0]]])
    targets = np.array([[2, 0, 1]])
    with pytest.raises(
        ValueError, match=r"fit two layouts: Keras's .* PyTorch's .* class_axis=-1 .* class_axis=1"
    ):
        F.cross_entropy(logits, targets)
    pytorch_loss = F.cross_entropy(logits, targets, class_axis=1).item()
    keras_loss = F.cross_entropy(logits, targets, class_axis=-1).item()
    np.testing.assert_allclose(pytorch_loss, reference_cross_entropy(logits, targets, 1), rtol=1e-12)
    np.testing.assert_allclose(keras_loss, reference_cross_entropy(logits, targets, -1), rtol=1e-12)
    assert abs(pytorch_loss - keras_loss) > 0.5  # the two readings really differ (3.09 and 2.21)


@pytest.mark.parametrize(
    "targets_shape,class_axis,message",
    [
        (
            (2, 3),
            None,
            r"the targets must have the logits' shape \(2, 4, 5\) without the class axis, \(2, 4\) for Keras's .* or \(2, 5\) for PyTorch's",
        ),
        ((2, 4), 1, r"with class_axis=1 the targets must have shape \(2, 5\)"),
        ((2, 4, 5), None, "class probabilities as targets are not supported"),
    ],
)
def test_cross_entropy_names_both_layouts_when_the_targets_fit_neither(targets_shape, class_axis, message):
    with pytest.raises(ValueError, match=message):
        F.cross_entropy(np.zeros((2, 4, 5)), np.zeros(targets_shape, dtype=np.int64), class_axis=class_axis)


def test_loss_options_are_keywords_so_pytorchs_positional_weight_is_refused():
    logits, targets = np.zeros((2, 3)), np.array([0, 1])
    with pytest.raises(TypeError):
        F.cross_entropy(logits, targets, np.ones(3))  # PyTorch's third argument is a class weight
    with pytest.raises(TypeError):
        F.mse_loss(np.ones(2), np.ones(2), "sum")
    with pytest.raises(TypeError):
        F.binary_cross_entropy_with_logits(np.ones(2), np.ones(2), np.ones(2))


def test_softmax_takes_pytorchs_dim():
    a = np.array([[1.0, 2.0], [0.0, 4.0]])
    np.testing.assert_allclose(F.softmax(a, dim=0).data, np.exp(a) / np.exp(a).sum(0, keepdims=True))
    np.testing.assert_allclose(F.log_softmax(a, dim=0).data, reference_log_softmax(a, 0))
    with pytest.raises(TypeError, match="give axis or dim, not both"):
        F.softmax(a, 0, dim=1)


def test_cross_entropy_in_pytorchs_layout_equals_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    logits, targets = rng.normal(size=(2, 4, 3)), rng.integers(0, 4, size=(2, 3))
    expected = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(targets))
    np.testing.assert_allclose(F.cross_entropy(logits, targets).item(), expected.item(), rtol=1e-12)


def test_sequentials_losses_take_the_last_axis_as_keras_does():
    from layers import losses

    logits = np.array([[[2.0, -1.0, 0.5], [0.0, 1.5, -2.0], [1.0, 0.0, 3.0]]])  # 3 steps, 3 classes
    targets = np.array([[2, 0, 1]])
    expected = reference_cross_entropy(logits, targets, class_axis=-1)
    np.testing.assert_allclose(
        losses.get("cross_entropy", "fit")(logits, targets).item(), expected, rtol=1e-12
    )
    probabilities = np.exp(reference_log_softmax(logits, -1))
    keras_loss = losses.get("sparse_categorical_crossentropy", "fit")(mg.Tensor(probabilities), targets)
    np.testing.assert_allclose(keras_loss.item(), expected, rtol=1e-6)


def test_cross_entropys_backward_leaves_its_incoming_gradient_unchanged(monkeypatch):
    # The engine hands this op its incoming gradient without a read-only view; with the view,
    # a backward that wrote into it would raise.
    monkeypatch.setattr(F.SoftmaxCrossEntropy, "leaves_grads_unchanged", False)
    logits = mg.Tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    F.cross_entropy(logits, np.array([0, 2]), reduction="none").backward(np.array([1.0, 2.0]))
    assert logits.grad.shape == (2, 3)
