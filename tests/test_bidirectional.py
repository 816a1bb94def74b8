"""Bidirectional: against Keras and PyTorch where installed, gradients, and bad input."""

import copy
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import bind

import layers
import minigrad as mg
from minigrad.testing import gradcheck
from minigrad.testing.strategies import arrays

KINDS = {"SimpleRNN": layers.SimpleRNN, "LSTM": layers.LSTM, "GRU": layers.GRU}
MERGE_MODES = ["concat", "sum", "mul", "ave", None]


def right_padded_mask(rng, batch, time):
    lengths = rng.integers(1, time + 1, batch)
    return np.arange(time)[None, :] < lengths[:, None]


def as_list(result):
    return result if isinstance(result, list) else [result]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("merge_mode", MERGE_MODES)
def test_bidirectional_equals_keras_with_masks_and_states(keras, kind, merge_mode):
    rng = np.random.default_rng(0)
    x, mask = rng.standard_normal((3, 5, 2)), right_padded_mask(rng, 3, 5)
    options = {"return_sequences": True, "return_state": True}
    theirs = keras.layers.Bidirectional(getattr(keras.layers, kind)(4, **options), merge_mode=merge_mode)
    with warnings.catch_warnings():  # Keras's torch backend warns about numpy 2's copy keyword
        warnings.simplefilter("ignore", DeprecationWarning)
        expected = [keras.ops.convert_to_numpy(e) for e in theirs(x, mask=mask)]
        weights = theirs.get_weights()
    ours = layers.Bidirectional(KINDS[kind](4, input_size=2, **options), merge_mode=merge_mode)
    ours.set_weights(weights)
    for impl in ("autograd", "fused"):
        ours.forward_layer.impl = ours.backward_layer.impl = impl
        got = ours(x, mask=mask)
        assert len(got) == len(expected)
        for g, e in zip(got, expected, strict=True):
            # Keras's torch backend computes part of each step in float32 even under a float64
            # policy: it differs from a plain numpy loop by about 1e-7 (minigrad: 2e-16)
            np.testing.assert_allclose(g.data, e, atol=1e-6)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("impl", ["autograd", "fused"])
def test_a_two_layer_bidirectional_torch_stack_loads_and_agrees_with_every_gradient(kind, impl):
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.nn, kind)(3, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    stack = [layers.Bidirectional(KINDS[kind](4, input_size=size, return_sequences=True, impl=impl))
             for size in (3, 8)]  # fmt: skip
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    for i, layer in enumerate(stack):
        layer.load_torch_state_dict(state, layer=i)
    x = np.random.default_rng(1).standard_normal((2, 5, 3))
    g = np.random.default_rng(2).standard_normal((2, 5, 8))
    x_ours = mg.Tensor(x, requires_grad=True)
    out = stack[1](stack[0](x_ours))
    out.backward(g)
    x_theirs = torch.tensor(x, requires_grad=True)
    out_theirs, _ = theirs(x_theirs)
    out_theirs.backward(torch.from_numpy(g))
    np.testing.assert_allclose(out.data, out_theirs.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(x_ours.grad, x_theirs.grad.numpy(), atol=1e-12)
    for i, layer in enumerate(stack):  # our gradients in PyTorch's layout
        as_torch = copy.deepcopy(layer)
        as_torch.set_weights([p.grad for p in layer.parameters()])
        ours_as_torch = as_torch.torch_state_dict(layer=i)
        for name, grad in ours_as_torch.items():
            if kind == "LSTM" and "bias_hh" in name:  # one Keras bias feeds both PyTorch biases
                grad = ours_as_torch[name.replace("bias_hh", "bias_ih")]
            np.testing.assert_allclose(grad, dict(theirs.named_parameters())[name].grad.numpy(), atol=1e-12,
                                       err_msg=name)  # fmt: skip


@settings(max_examples=25)
@given(data=st.data(), kind=st.sampled_from(list(KINDS)), merge_mode=st.sampled_from(MERGE_MODES),
       return_sequences=st.booleans())  # fmt: skip
def test_gradients_through_bidirectional(data, kind, merge_mode, return_sequences):
    batch, time, features = (data.draw(st.integers(1, 3)) for _ in range(3))
    x = data.draw(arrays(shape=(batch, time, features), avoid=(0.0,)))
    mask = right_padded_mask(np.random.default_rng(data.draw(st.integers(0, 9))), batch, time)
    mg.manual_seed(0)
    layer = layers.Bidirectional(KINDS[kind](2, input_size=features, impl="autograd",
                                             return_sequences=return_sequences), merge_mode=merge_mode)  # fmt: skip
    weights = layer.get_weights()

    def run(x, *weights):
        bind(layer, weights)
        return as_list(layer(x, mask=mask))

    gradcheck(run, [x, *weights])
    fused = copy.deepcopy(layer)
    fused.forward_layer.impl = fused.backward_layer.impl = "fused"
    for a, b in zip(as_list(fused(x, mask=mask)), as_list(layer(x, mask=mask)), strict=True):
        np.testing.assert_allclose(a.data, b.data, atol=1e-12)


def test_a_default_backward_layer_has_weights_of_its_own():
    forward = layers.GRU(3, input_size=2)
    both = layers.Bidirectional(forward)
    assert both.backward_layer.go_backwards and not both.forward_layer.go_backwards
    assert not np.array_equal(both.forward_layer.cell.kernel.data, both.backward_layer.cell.kernel.data)
    assert len(both.get_weights()) == 6 and both.get_weights()[0] is not both.get_weights()[3]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: layers.Bidirectional(layers.Dense(3)), "expected a recurrent layer .* got Dense"),
        (lambda: layers.Bidirectional(layers.LSTM(3), merge_mode="max"), "merge_mode must be one of"),
        (lambda: layers.Bidirectional(layers.LSTM(3), backward_layer=layers.LSTM(3)), "read in the other direction"),
        (lambda: layers.Bidirectional(layers.LSTM(3), backward_layer=layers.LSTM(3, go_backwards=True,
                                                                                 return_sequences=True)),
         "same return_sequences"),
    ],
)  # fmt: skip
def test_bad_wrapping_is_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_calls_and_loads_change_nothing():
    layer = layers.Bidirectional(layers.LSTM(2, input_size=3))
    with pytest.raises(ValueError, match=r"initial_state needs 4 arrays \(the forward layer's 2"):
        layer(np.ones((1, 2, 3)), initial_state=[np.zeros((1, 2))] * 2)
    with pytest.raises(ValueError, match=r"mask must be a boolean array of shape \(batch, time\)"):
        layer(np.ones((1, 2, 3)), mask=np.ones((1, 3), bool))
    before = layer.get_weights()
    good = copy.deepcopy(layer).torch_state_dict()
    broken = {**good, "weight_hh_l0_reverse": np.zeros((8, 5))}
    with pytest.raises(ValueError, match=r"'weight_hh_l0_reverse' has shape \(8, 5\), expected \(8, 2\)"):
        layer.load_torch_state_dict({k: v + 1 for k, v in broken.items()})
    assert all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), before, strict=True))


@pytest.mark.parametrize("kind", KINDS)
def test_the_default_backward_reading_of_a_stateful_layer_starts_from_its_own_states(kind):
    rng = np.random.default_rng(3)
    first, second = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4, 3))
    forward = KINDS[kind](2, input_size=3, stateful=True, return_state=True)
    forward(first)  # carries states now
    carried = [s.copy() for s in forward.states]
    both = layers.Bidirectional(forward, merge_mode=None)
    assert both.backward_layer.states is None
    fresh_backward = copy.deepcopy(both.backward_layer)
    continued_forward = copy.deepcopy(forward)
    got_forward, got_backward, *_ = both(second)
    zeros = [np.zeros((2, 2))] * len(carried)
    np.testing.assert_allclose(
        got_backward.data, fresh_backward(second, initial_state=zeros)[0].data, atol=1e-12
    )
    np.testing.assert_allclose(
        got_forward.data, continued_forward(second, initial_state=carried)[0].data, atol=1e-12
    )


class FailsOnce:
    """A cell of one's own that raises on its first call (the other reading runs first)."""

    state_size = 2

    def __init__(self):
        self.failed = False

    def __call__(self, x, states):
        if not self.failed:
            self.failed = True
            raise RuntimeError("the cell failed")
        h = (x[:, :2] + states[0]).tanh()
        return h, [h]


def test_a_failed_call_keeps_neither_readings_states():
    forward = layers.LSTM(2, input_size=3, stateful=True)
    both = layers.Bidirectional(forward)
    x = np.ones((1, 4, 3))
    with pytest.raises(
        ValueError, match=r"initial state h must be float64 of shape \(1, 2\), got float64 of shape \(1, 5\)"
    ):
        both(
            x, initial_state=[np.zeros((1, 2))] * 2 + [np.zeros((1, 5))] * 2
        )  # the backward states are wrong
    assert forward.states is None and both.backward_layer.states is None
    stateful_cells = layers.Bidirectional(
        layers.RNN(FailsOnce(), stateful=True),
        backward_layer=layers.RNN(FailsOnce(), stateful=True, go_backwards=True),
    )
    stateful_cells.forward_layer.cell.failed = True  # only the backward reading fails
    with pytest.raises(RuntimeError, match="the cell failed"):
        stateful_cells(x)
    assert stateful_cells.forward_layer.states is None and stateful_cells.backward_layer.states is None
    stateful_cells(x)
    assert (
        stateful_cells.forward_layer.states is not None and stateful_cells.backward_layer.states is not None
    )


def test_a_failed_first_call_builds_neither_reading():
    both = layers.Bidirectional(
        layers.LSTM(2), backward_layer=layers.LSTM(2, go_backwards=True, input_size=5)
    )
    with pytest.raises(ValueError, match=r"LSTM: expected 5 features per step, got shape \(1, 2, 3\)"):
        both(np.ones((1, 2, 3)))
    assert not both.forward_layer.built
    assert both(np.ones((1, 2, 5))).shape == (1, 4)
    assert both.forward_layer.cell.input_size == 5


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: layers.Bidirectional(layers.LSTM(2), backward_layer=layers.GRU(2, go_backwards=True)),
         r"both readings need the same number of states, got 2 and 1 \(forward LSTM, backward GRU\)"),
        (lambda: layers.Bidirectional(layers.GRU(2), backward_layer=layers.LSTM(2, go_backwards=True)),
         r"got 1 and 2 \(forward GRU, backward LSTM\)"),
        (lambda: layers.Bidirectional(layers.GRU(2, stateful=True), backward_layer=layers.GRU(2, go_backwards=True)),
         "same stateful"),
        (lambda: layers.Bidirectional(layers.GRU(2), merge_mode="sum", backward_layer=layers.GRU(3, go_backwards=True)),
         r"merge_mode='sum' needs outputs of one size, got 2 and 3"),
    ],
)  # fmt: skip
def test_readings_that_cannot_pair_are_refused_at_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_readings_of_different_sizes_concatenate():
    both = layers.Bidirectional(
        layers.GRU(2, input_size=3), backward_layer=layers.GRU(3, go_backwards=True, input_size=3)
    )
    assert both(np.ones((1, 4, 3))).shape == (1, 5)
    assert both.output_size == 5
