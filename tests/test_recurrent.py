"""Proofs that backpropagation through time is right, for SimpleRNN, LSTM and GRU.

1. the autograd path's gradients equal central differences;
2. the fused path's outputs and gradients equal the autograd path's to 1e-10;
3. article 004's hand-derived BPTT formulas equal the autograd gradients;
4. weights survive Keras-layout and PyTorch-layout round trips;
plus forward values against plain numpy written here, shapes, return conventions and errors.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import layers
import minigrad as mg
from minigrad import functional as F
from minigrad.testing import gradcheck
from minigrad.testing.strategies import arrays, sequences

KINDS = {
    "SimpleRNN": (layers.SimpleRNN, {}),
    "LSTM": (layers.LSTM, {}),
    "GRU": (layers.GRU, {}),
    "GRU-reset-before": (layers.GRU, {"reset_after": False}),
}
FUSED_KINDS = sorted(KINDS)
PARAM_NAMES = ("kernel", "recurrent_kernel", "bias")


@st.composite
def configs(draw, kind, max_batch=4, max_time=8, max_features=5, max_units=6):
    """Options for a layer of ``kind``, an input, a mask and initial states."""
    x = draw(
        sequences(
            batch=st.integers(1, max_batch),
            time=st.integers(1, max_time),
            features=st.integers(1, max_features),
            avoid=(0.0,),  # an exact zero input with no bias puts relu on its kink
        )
    )
    batch, time, _ = x.shape
    units = draw(st.integers(1, max_units))
    activation = draw(st.sampled_from(["tanh", "tanh", "sigmoid", "linear", "relu"]))
    options = {
        "return_sequences": draw(st.booleans()),
        "return_state": draw(st.booleans()),
        "go_backwards": draw(st.booleans()),
        "use_bias": draw(st.booleans()),
        "activation": activation,
        **KINDS[kind][1],
    }
    mask = draw(st.none() | arrays(shape=(batch, time)).map(lambda a: a > -1.0))
    n_states = 2 if kind == "LSTM" else 1
    initial = draw(st.none() | st.tuples(*[arrays(shape=(batch, units), avoid=(0.0,))] * n_states))
    return kind, units, options, x, mask, initial


def build(kind, units, options, features, seed=0, **extra):
    mg.manual_seed(seed)
    cls, _ = KINDS[kind]
    layer = cls(units, input_size=features, **{**options, **extra})
    # random biases, so that the bias gradient is tested away from zero too
    if layer.cell.use_bias:
        layer.cell.bias.data[...] = mg.random.generator().uniform(-0.5, 0.5, layer.cell.bias.shape)
    return layer


def run(layer, x, mask, initial, weights):
    """Call ``layer`` with its weights replaced by ``weights`` (Tensors)."""
    for name, w in zip(PARAM_NAMES, weights, strict=False):
        setattr(layer.cell, name, w)
    return layer(x, initial_state=None if initial is None else list(initial), mask=mask)


def weights_of(layer):
    return [p.data for p in layer.cell.parameters()]


# --- proof 1: autograd path against central differences ---
@pytest.mark.parametrize("kind", sorted(KINDS))
@given(data=st.data())
def test_autograd_path_matches_central_differences(kind, data):
    case = data.draw(configs(kind, max_batch=3, max_time=5, max_features=3, max_units=4))
    kind, units, options, x, mask, initial = case
    if options.get("activation") == "relu":
        # relu has a kink at 0, where central differences see half its slope: equal inputs
        # (all ones, say) and a recurrent weight of -1 put a step exactly there.  A jitter of
        # a thousandth moves every step off it, with probability one.
        x = x + np.random.default_rng(2).uniform(1e-3, 2e-3, x.shape)
    layer = build(kind, units, options, x.shape[2], impl="autograd")
    states = list(initial or ())
    k = len(states)

    def fn(x_, *rest):
        return run(layer, x_, mask, rest[:k] if initial else None, rest[k:])

    gradcheck(fn, [x, *states, *weights_of(layer)], atol=1e-6, rtol=1e-5)


# --- proof 2: fused path against autograd path ---
def gradients(layer, x, mask, initial, training=False):
    """Outputs and every gradient of a random linear function of the outputs."""
    x = mg.Tensor(x, requires_grad=True)
    states = [mg.Tensor(s, requires_grad=True) for s in initial or ()]
    layer.train(training)
    outs = layer(x, initial_state=states or None, mask=mask)
    outs = outs if isinstance(outs, list) else [outs]
    rng = np.random.default_rng(1)
    loss = sum((o * rng.standard_normal(o.shape)).sum() for o in outs)
    loss.backward()
    grads = [x.grad, *(s.grad for s in states), *(p.grad for p in layer.parameters())]
    return [o.data for o in outs], grads


@pytest.mark.parametrize("kind", FUSED_KINDS)
@given(data=st.data(), training=st.booleans(), rates=st.sampled_from([(0.0, 0.0), (0.3, 0.4)]))
def test_fused_path_equals_autograd_path(kind, data, training, rates):
    case = data.draw(configs(kind))
    kind, units, options, x, mask, initial = case
    dropout, recurrent_dropout = rates
    results = []
    for impl in ("autograd", "fused"):
        layer = build(kind, units, options, x.shape[2], impl=impl, dropout=dropout,
                      recurrent_dropout=recurrent_dropout)  # fmt: skip
        mg.manual_seed(5)  # the same dropout masks for both paths
        results.append(gradients(layer, x, mask, initial, training))
    (outs_a, grads_a), (outs_f, grads_f) = results
    for a, f in zip(outs_a + grads_a, outs_f + grads_f, strict=True):
        np.testing.assert_allclose(f, a, rtol=0, atol=1e-10)


@pytest.mark.parametrize("kind", sorted(KINDS))
@given(data=st.data())
def test_stateful_over_two_calls_equals_one_long_call(kind, data):
    case = data.draw(configs(kind, max_time=4))
    kind, units, options, x, _, _ = case
    options = {**options, "return_sequences": True, "return_state": False, "go_backwards": False}
    for impl in ("autograd", "fused"):
        whole = build(kind, units, options, x.shape[2], impl=impl)
        expected = whole(np.concatenate([x, x[:, ::-1]], axis=1)).data
        split = build(kind, units, options, x.shape[2], impl=impl, stateful=True)
        first, second = split(x).data, split(x[:, ::-1].copy()).data
        np.testing.assert_allclose(np.concatenate([first, second], axis=1), expected, atol=1e-12)
        split.reset_states()
        np.testing.assert_allclose(split(x).data, first, atol=1e-12)


@pytest.mark.parametrize("reset_after", [False, True])
def test_a_gru_runs_its_fused_op_or_unrolls_its_cell_as_its_impl_says(reset_after):
    x = mg.Tensor(np.ones((1, 4, 2)), requires_grad=True)
    fused_op = "FusedGRU" if reset_after else "FusedGRUResetBefore"
    for impl, op in (("fused", fused_op), ("auto", fused_op), ("autograd", "Stack")):
        layer = layers.GRU(3, reset_after=reset_after, impl=impl, input_size=2)
        last = layer(x)  # outputs[:, -1]
        assert type(last.grad_fn.parents[0].grad_fn).__name__ == op  # the op that made every output


# --- proof 3: article 004's BPTT formulas, by hand ---
def bptt_by_hand(x, ys, U, W, b, V, c):
    """Article 004's formulas for one sequence, column-vector notation:
    h(t) = tanh(U x(t) + W h(t-1) + b), o(t) = V h(t) + c, L = sum_t CE(softmax(o(t)), y(t))."""
    T = len(x)
    hs = [np.zeros(W.shape[0])]
    yhat = []
    for t in range(T):
        hs.append(np.tanh(U @ x[t] + W @ hs[-1] + b))
        o = V @ hs[-1] + c
        e = np.exp(o - o.max())
        yhat.append(e / e.sum())
    onehot = np.eye(V.shape[0])[ys]
    err = [yhat[t] - onehot[t] for t in range(T)]  # yhat(t) - y(t)
    dc = sum(err)
    dV = sum(np.outer(err[t], hs[t + 1]) for t in range(T))
    delta = [None] * T
    delta[T - 1] = V.T @ err[T - 1]
    for t in range(T - 2, -1, -1):
        delta[t] = V.T @ err[t] + W.T @ ((1 - hs[t + 2] ** 2) * delta[t + 1])
    dW = sum(np.outer((1 - hs[t + 1] ** 2) * delta[t], hs[t]) for t in range(T))
    db = sum((1 - hs[t + 1] ** 2) * delta[t] for t in range(T))
    dU = sum(np.outer((1 - hs[t + 1] ** 2) * delta[t], x[t]) for t in range(T))
    return dU, dW, db, dV, dc


@pytest.mark.parametrize("impl", ["autograd", "fused"])
@given(x=sequences(batch=1), units=st.integers(1, 5), classes=st.integers(2, 4), data=st.data())
def test_article_004_bptt_formulas_equal_autograd(impl, x, units, classes, data):
    ys = np.array(data.draw(st.lists(st.integers(0, classes - 1), min_size=x.shape[1],
                                     max_size=x.shape[1])))  # fmt: skip
    mg.manual_seed(3)
    rnn = layers.SimpleRNN(units, return_sequences=True, input_size=x.shape[2], impl=impl)
    rnn.cell.bias.data[...] = mg.random.generator().uniform(-0.5, 0.5, units)
    head = layers.Dense(classes, input_size=units)
    head.bias.data[...] = mg.random.generator().uniform(-0.5, 0.5, classes)
    loss = F.cross_entropy(head(rnn(x)), ys[None], reduction="sum", class_axis=-1)  # (batch, time, classes)
    loss.backward()
    # Keras stores the transposes: kernel = U^T, recurrent_kernel = W^T, Dense kernel = V^T
    hand = bptt_by_hand(x[0], ys, rnn.cell.kernel.data.T, rnn.cell.recurrent_kernel.data.T,
                        rnn.cell.bias.data, head.kernel.data.T, head.bias.data)  # fmt: skip
    dU, dW, db, dV, dc = hand
    np.testing.assert_allclose(rnn.cell.kernel.grad, dU.T, atol=1e-10)
    np.testing.assert_allclose(rnn.cell.recurrent_kernel.grad, dW.T, atol=1e-10)
    np.testing.assert_allclose(rnn.cell.bias.grad, db, atol=1e-10)
    np.testing.assert_allclose(head.kernel.grad, dV.T, atol=1e-10)
    np.testing.assert_allclose(head.bias.grad, dc, atol=1e-10)


# --- proof 4: weight round trips ---
@pytest.mark.parametrize("kind", sorted(KINDS))
@given(data=st.data())
def test_keras_and_torch_layouts_round_trip(kind, data):
    case = data.draw(configs(kind))
    kind, units, options, x, mask, initial = case
    source = build(kind, units, options, x.shape[2], seed=1)
    expected = source(x, mask=mask, initial_state=None if initial is None else list(initial))
    expected = expected if isinstance(expected, list) else [expected]
    targets = []
    via_keras = build(kind, units, options, x.shape[2], seed=2)
    via_keras.set_weights(source.get_weights())
    targets.append(via_keras)
    if options.get("reset_after", True):
        via_torch = build(kind, units, options, x.shape[2], seed=3)
        via_torch.load_torch_state_dict(source.torch_state_dict())
        targets.append(via_torch)
    for target in targets:
        got = target(x, mask=mask, initial_state=None if initial is None else list(initial))
        got = got if isinstance(got, list) else [got]
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_array_equal(g.data, e.data)


def test_torch_import_adds_the_two_biases_and_export_puts_zeros_in_bias_hh():
    layer = layers.LSTM(2, input_size=3)
    state = layer.torch_state_dict()
    assert not state["bias_hh_l0"].any()
    state["bias_ih_l0"] = np.arange(8.0)
    state["bias_hh_l0"] = np.full(8, 10.0)
    layer.load_torch_state_dict(state)
    np.testing.assert_array_equal(layer.cell.bias.data, np.arange(8.0) + 10)


def test_gru_torch_layout_swaps_the_update_and_reset_blocks():
    layer = layers.GRU(1, input_size=1, use_bias=False)
    layer.cell.kernel.data[...] = [[1.0, 2.0, 3.0]]  # Keras: z, r, h
    assert layer.torch_state_dict()["weight_ih_l0"].ravel().tolist() == [2.0, 1.0, 3.0]  # r, z, n


# --- forward values against plain numpy written here ---
def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def numpy_reference(kind, layer, x):
    """The layer's formulas in plain numpy, for outputs (batch, time, units)."""
    k, r = layer.cell.kernel.data, layer.cell.recurrent_kernel.data
    b = layer.cell.bias.data
    u = layer.units
    h = np.zeros((x.shape[0], u))
    c = np.zeros_like(h)
    outs = []
    for t in range(x.shape[1]):
        if kind == "SimpleRNN":
            h = np.tanh(x[:, t] @ k + h @ r + b)
        elif kind == "LSTM":
            z = x[:, t] @ k + h @ r + b
            i, f, g, o = (
                sigmoid(z[:, :u]),
                sigmoid(z[:, u : 2 * u]),
                np.tanh(z[:, 2 * u : 3 * u]),
                sigmoid(z[:, 3 * u :]),
            )
            c = f * c + i * g
            h = o * np.tanh(c)
        elif kind == "GRU":
            xz, xr, xh = np.split(x[:, t] @ k + b[0], 3, axis=1)
            hz, hr, hh = np.split(h @ r + b[1], 3, axis=1)
            z, rr = sigmoid(xz + hz), sigmoid(xr + hr)
            h = z * h + (1 - z) * np.tanh(xh + rr * hh)
        else:
            xz, xr, xh = np.split(x[:, t] @ k + b, 3, axis=1)
            z = sigmoid(xz + h @ r[:, :u])
            rr = sigmoid(xr + h @ r[:, u : 2 * u])
            h = z * h + (1 - z) * np.tanh(xh + (rr * h) @ r[:, 2 * u :])
        outs.append(h)
    return np.stack(outs, axis=1)


@pytest.mark.parametrize(
    ("kind", "impl"), [(k, "autograd") for k in sorted(KINDS)] + [(k, "fused") for k in FUSED_KINDS]
)
def test_forward_matches_plain_numpy(kind, impl):
    x = np.random.default_rng(0).standard_normal((3, 6, 4))
    layer = build(kind, 5, {"return_sequences": True, **KINDS[kind][1]}, 4, impl=impl)
    np.testing.assert_allclose(layer(x).data, numpy_reference(kind, layer, x), atol=1e-12)


# --- shapes, counts and conventions ---
@pytest.mark.parametrize(
    "layer,features,count",
    [
        (layers.SimpleRNN(3, use_bias=False), 2, 15),  # article 003
        (layers.SimpleRNN(4), 3, 3 * 4 + 4 * 4 + 4),
        (layers.LSTM(4), 3, 4 * (3 * 4 + 4 * 4 + 4)),
        (layers.GRU(4), 3, 3 * (3 * 4 + 4 * 4 + 2 * 4)),
        (layers.GRU(4, reset_after=False), 3, 3 * (3 * 4 + 4 * 4 + 4)),
    ],
)
def test_parameter_counts_equal_keras(layer, features, count):
    layer(np.zeros((1, 2, features)))
    assert layer.count_params() == count


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_return_conventions(kind):
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    seq = build(kind, 4, {"return_sequences": True, **KINDS[kind][1]}, 3)(x)
    last = build(kind, 4, {**KINDS[kind][1]}, 3)(x)
    both = build(kind, 4, {"return_state": True, **KINDS[kind][1]}, 3)(x)
    assert seq.shape == (2, 5, 4) and last.shape == (2, 4)
    np.testing.assert_array_equal(last.data, seq.data[:, -1])
    assert len(both) == (3 if kind == "LSTM" else 2)
    np.testing.assert_array_equal(both[0].data, both[1].data)  # the output is the last h
    backwards = build(kind, 4, {"return_sequences": True, "go_backwards": True, **KINDS[kind][1]}, 3)
    reversed_input = build(kind, 4, {"return_sequences": True, **KINDS[kind][1]}, 3)
    np.testing.assert_array_equal(backwards(x).data, reversed_input(x[:, ::-1].copy()).data)


def test_masked_steps_keep_the_state_and_repeat_the_output():
    x = np.random.default_rng(0).standard_normal((2, 4, 3))
    mask = np.array([[True, False, True, False], [False, True, True, True]])
    layer = build("LSTM", 2, {"return_sequences": True, "return_state": True}, 3)
    out, h, _ = layer(x, mask=mask)
    np.testing.assert_array_equal(out.data[0, 1], out.data[0, 0])
    np.testing.assert_array_equal(out.data[0, 3], out.data[0, 2])
    np.testing.assert_array_equal(out.data[1, 0], np.zeros(2))  # nothing to repeat yet
    np.testing.assert_array_equal(h.data[0], out.data[0, 2])
    # the second sample's masked first step changes nothing: same as starting at step 1
    fresh = build("LSTM", 2, {"return_sequences": True}, 3)
    np.testing.assert_allclose(fresh(x[1:, 1:]).data[0], out.data[1, 1:], atol=1e-14)


def test_recurrent_initializers():
    mg.manual_seed(0)
    layer = layers.LSTM(3, input_size=2)
    r = layer.cell.recurrent_kernel.data  # (3, 12) with orthonormal rows
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    np.testing.assert_array_equal(layer.cell.bias.data, [0] * 3 + [1] * 3 + [0] * 6)
    irnn = layers.SimpleRNN(4, activation="relu", recurrent_initializer="identity", input_size=2)
    np.testing.assert_array_equal(irnn.cell.recurrent_kernel.data, np.eye(4))
    limit = np.sqrt(6 / (2 + 12))
    assert np.abs(layer.cell.kernel.data).max() <= limit


def test_same_seed_same_weights():
    mg.manual_seed(4)
    a = layers.GRU(3, input_size=2).get_weights()
    mg.manual_seed(4)
    b = layers.GRU(3, input_size=2).get_weights()
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_dropout_is_off_in_eval_mode_and_shared_across_steps():
    x = np.ones((2, 6, 3))
    layer = build("SimpleRNN", 4, {"return_sequences": True}, 3, dropout=0.5)
    plain = build("SimpleRNN", 4, {"return_sequences": True}, 3)
    layer.eval()
    np.testing.assert_array_equal(layer(x).data, plain(x).data)
    layer.train()
    mg.manual_seed(0)
    dropped = layer(x).data
    assert not np.allclose(dropped, plain(x).data)
    # one input mask per sequence: with a zero recurrent kernel every step sees the same input
    layer.cell.recurrent_kernel.data[...] = 0
    mg.manual_seed(0)
    steps = layer(x).data
    np.testing.assert_array_equal(steps[:, 0], steps[:, -1])


def test_a_callable_activation_runs_on_the_autograd_path():
    layer = layers.SimpleRNN(2, activation=lambda z: z.tanh() * 2, input_size=1)
    assert layer(np.ones((1, 3, 1))).shape == (1, 2)
    with pytest.raises(ValueError, match="impl='fused' needs named activations"):
        layers.SimpleRNN(2, activation=lambda z: z, impl="fused")


# --- bad input: a clear ValueError, and nothing changed ---
@pytest.mark.parametrize(
    "call,message",
    [
        (lambda rnn: rnn(np.zeros((2, 3))), r"expected input of shape \(batch, time, features\), got \(2, 3\)"),
        (lambda rnn: rnn(np.zeros((2, 3, 5))), r"expected 4 features per step, got shape \(2, 3, 5\)"),
        (lambda rnn: rnn(np.zeros((2, 3, 4), dtype=np.int64)), "integer ids go through an Embedding"),
        (lambda rnn: rnn(np.zeros((2, 3, 4), dtype=np.float32)), "expected float64 input"),
        (lambda rnn: rnn(np.zeros((2, 3, 4)), mask=np.ones((2, 4), bool)), "mask must be a boolean array"),
        (lambda rnn: rnn(np.zeros((2, 3, 4)), mask=np.ones((2, 3))), "mask must be a boolean"),
        (lambda rnn: rnn(np.zeros((2, 3, 4)), initial_state=[np.zeros((2, 3))]), "initial_state needs 2 arrays"),
        (lambda rnn: rnn(np.zeros((2, 3, 4)), initial_state=[np.zeros((2, 2))] * 2), r"initial state h must be"),
        (lambda rnn: rnn.set_weights(rnn.get_weights()[:2]), "expected 3 arrays"),
        (lambda rnn: rnn.set_weights([np.zeros((4, 3)), *rnn.get_weights()[1:]]), r"'cell.kernel' has shape \(4, 3\), expected \(4, 12\)"),
        (lambda rnn: rnn.load_torch_state_dict({"weight_ih_l0": np.zeros((12, 4))}), "missing 'weight_hh_l0'"),
        (lambda rnn: rnn.load_torch_state_dict({**rnn.torch_state_dict(), "weight_hh_l0": np.zeros((3, 3))}), "'weight_hh_l0' has shape"),
        (lambda rnn: rnn.load_torch_state_dict({**rnn.torch_state_dict(), "extra": 1}), "unexpected 'extra'"),
    ],
)  # fmt: skip
def test_bad_input_is_a_clear_error_and_changes_nothing(call, message):
    layer = build("LSTM", 3, {}, 4)
    before = layer.get_weights()
    with pytest.raises(ValueError, match=message):
        call(layer)
    for b, a in zip(before, layer.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_stateful_layer_refuses_another_batch_size():
    layer = build("GRU", 3, {}, 2, stateful=True)
    layer(np.zeros((4, 2, 2)))
    held = [s.copy() for s in layer.states]
    with pytest.raises(ValueError, match="holds states for a batch of 4, got a batch of 2"):
        layer(np.zeros((2, 2, 2)))
    np.testing.assert_array_equal(layer.states[0], held[0])


def test_reset_before_gru_has_no_torch_layout():
    with pytest.raises(ValueError, match="reset_after=False has no PyTorch layout"):
        layers.GRU(2, reset_after=False, input_size=2).torch_state_dict()


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: layers.LSTM(0), "units must be a positive integer"),
        (lambda: layers.GRU(2, dropout=1.0), r"dropout must be in \[0, 1\)"),
        (lambda: layers.SimpleRNN(2, impl="fast"), "impl must be one of"),
        (lambda: layers.SimpleRNN(2, activation="swish"), "unknown activation 'swish'"),
        (lambda: layers.SimpleRNN(2, kernel_initializer="he"), "unknown initializer 'he'"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_failed_torch_load_leaves_an_unbuilt_layer_unbuilt():
    layer = layers.LSTM(3)
    bad = {"weight_ih_l0": np.zeros((12, 2)), "weight_hh_l0": np.zeros((12, 4))}  # hh should be (12, 3)
    with pytest.raises(ValueError, match=r"'weight_hh_l0' has shape \(12, 4\), expected \(12, 3\)"):
        layer.load_torch_state_dict(bad)
    assert not layer.built
    good = {"weight_ih_l0": np.ones((12, 2)), "weight_hh_l0": np.zeros((12, 3)),
            "bias_ih_l0": np.zeros(12), "bias_hh_l0": np.zeros(12)}  # fmt: skip
    layer.load_torch_state_dict(good)
    assert layer.built and np.array_equal(layer.cell.kernel.data, np.ones((2, 12)))


@pytest.mark.parametrize(
    ("states", "message"),
    [
        ([np.zeros((2, 3))], r"needs 2 arrays \(h, c\), got 1"),
        (
            [np.zeros((2, 3)), np.zeros((4, 3))],
            r"state c must have shape \(batch, 3\) with one batch for all",
        ),
        ([np.zeros(3), np.zeros(3)], r"state h must have shape \(batch, 3\)"),
    ],
)
def test_reset_states_with_wrong_shapes_is_refused_and_changes_nothing(states, message):
    layer = layers.LSTM(3, stateful=True, input_size=2)
    layer(np.ones((2, 4, 2)))
    kept = [s.copy() for s in layer.states]
    with pytest.raises(ValueError, match=message):
        layer.reset_states(states)
    assert all(np.array_equal(a, b) for a, b in zip(layer.states, kept, strict=True))


@pytest.mark.parametrize("layer", [layers.SimpleRNN, layers.LSTM, layers.GRU])
def test_help_shows_every_option_in_the_signature_and_the_docstring(layer):
    shown = inspect.signature(layer)
    assert not any(p.kind is p.VAR_KEYWORD for p in shown.parameters.values())
    accepted = set(inspect.signature(layers.builtin_recurrent.BuiltinRecurrent.__init__).parameters) - {
        "self",
        "cell_options",
    }
    own = set(inspect.signature(layer.__init__, follow_wrapped=False).parameters) - {"self"}
    assert accepted <= set(shown.parameters) and own <= set(shown.parameters)
    documented = {
        name.strip()
        for line in layer.__doc__.splitlines()
        if " : " in line
        for name in line.split(" : ")[0].split(",")
    }
    assert set(shown.parameters) <= documented, set(shown.parameters) - documented
    # and each of them really is accepted by the constructor
    layer(2, **{n: p.default for n, p in shown.parameters.items() if n != "units"})


def test_a_fused_layer_returns_its_outputs_and_final_states_as_tensors_of_one_op():
    x = mg.Tensor(np.random.default_rng(0).standard_normal((2, 4, 3)), requires_grad=True)
    outputs, h, c = layers.LSTM(5, return_sequences=True, return_state=True, input_size=3)(x)
    assert type(outputs.grad_fn).__name__ == "FusedLSTM" and h.grad_fn is c.grad_fn is outputs.grad_fn
    assert (outputs.shape, h.shape, c.shape) == ((2, 4, 5), (2, 5), (2, 5))
    np.testing.assert_array_equal(h.data, outputs.data[:, -1])  # no mask: h is the last output


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda cell, states: cell(np.ones((2, 1, 4)), states), r"expected input of shape \(batch, features\), got \(2, 1, 4\)"),
        (lambda cell, states: cell(np.ones((2, 4)), [*states[:-1], np.zeros((2, 5))]), r"state \w must be float64 of shape \(2, 3\), got float64 of shape \(2, 5\)"),
        (lambda cell, states: cell(np.ones((2, 4)), [*states, np.zeros((2, 3))]), r"states needs \d arrays \(h(, c)?\), got [23]"),
        (lambda cell, states: cell(np.ones((2, 4), np.float32), states), "expected float64 input"),
    ],
)  # fmt: skip
def test_a_cells_failed_first_call_builds_nothing(kind, call, message):
    cell = {"SimpleRNN": layers.SimpleRNNCell, "LSTM": layers.LSTMCell, "GRU": layers.GRUCell}[kind](3)
    states = [np.zeros((2, 3)) for _ in cell.state_names]
    with pytest.raises(ValueError, match=message):
        call(cell, states)
    assert not cell.built
    output, new_states = cell(np.ones((2, 4)), states)
    assert cell.input_size == 4 and output.shape == (2, 3) and len(new_states) == len(states)
    with pytest.raises(ValueError, match=r"expected 4 features, got shape \(2, 5\)"):
        cell(np.ones((2, 5)), states)


@pytest.mark.parametrize(
    ("layer_dtype", "input_dtype"),
    [(np.float64, np.float16), (np.float32, np.float16), (np.float32, np.float64), (np.float64, np.float32)],
)
@pytest.mark.parametrize(
    "make", [lambda dtype: layers.LSTM(2, dtype=dtype), lambda dtype: layers.Dense(2, dtype=dtype)]
)
def test_an_input_of_another_float_dtype_is_named_as_it_came(make, layer_dtype, input_dtype):
    layer = make(layer_dtype)
    with pytest.raises(
        ValueError, match=f"expected {np.dtype(layer_dtype)} input .*, got {np.dtype(input_dtype)};"
    ):
        layer(np.ones((1, 2, 3), input_dtype))
    assert not layer.built


def test_reset_states_with_states_on_a_layer_that_is_not_stateful_is_refused():
    layer = layers.GRU(3, input_size=2)
    with pytest.raises(
        ValueError, match="the layer is not stateful, so its calls would not start from these states"
    ):
        layer.reset_states([np.ones((1, 3))])
    assert layer.states is None
    layer.reset_states()  # forgetting nothing is fine


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.LSTM(2, dtype=np.float16),
        lambda: layers.GRUCell(2, dtype=np.int32),
        lambda: layers.Attention(dtype=np.float16),
        lambda: layers.AdditiveAttention(dtype="float16"),
    ],
)
def test_a_dtype_a_tensor_cannot_hold_is_refused_at_construction(make):
    with pytest.raises(ValueError, match=r"dtype must be float32 or float64, got (float16|int32)"):
        make()


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("impl", ["autograd", "fused"])
def test_a_sample_masked_at_every_step_outputs_zeros_and_keeps_its_initial_states(kind, impl):
    rng = np.random.default_rng(9)
    layer = build(kind, 3, {"return_sequences": True, "return_state": True}, 2, impl=impl)
    x = rng.standard_normal((2, 4, 2))
    mask = np.ones((2, 4), bool)
    mask[1] = False
    initial = [mg.Tensor(rng.standard_normal((2, 3)), requires_grad=True) for _ in layer.state_labels]
    outputs, *finals = layer(x, initial_state=initial, mask=mask)
    np.testing.assert_array_equal(outputs.data[1], 0.0)
    for final, start in zip(finals, initial, strict=True):
        np.testing.assert_array_equal(final.data[1], start.data[1])
    sum(f.sum() for f in finals).backward()
    for start in initial:  # the masked sample's states pass straight through
        np.testing.assert_array_equal(start.grad[1], 1.0)
