"""Sequential: Keras's summary, fit, predict and evaluate."""

import re

import numpy as np
import pytest

import layers
import minigrad as mg
from minigrad.testing import gradcheck


def test_summary_of_the_article_003_model():
    model = layers.Sequential([layers.SimpleRNN(3, use_bias=False)])
    text = model.summary((None, 2), print_fn=lambda s: None)
    assert "simple_rnn (SimpleRNN)      (None, 3)                 15" in text
    assert "Total params: 15" in text and "Trainable params: 15" in text


def test_summary_counts_every_layer():
    model = layers.Sequential([layers.Embedding(10, 4, mask_zero=True),
                               layers.LSTM(5, return_sequences=True), layers.Dense(3)])  # fmt: skip
    text = model.summary((7,), print_fn=lambda s: None)
    assert "(None, 7, 5)" in text
    assert f"Total params: {10 * 4 + 4 * (4 * 5 + 5 * 5 + 5) + 5 * 3 + 3}" in text


def sign_data(n=256, time=6):
    """Is the sum of a sequence of numbers positive?  (class 1 if it is)"""
    x = np.random.default_rng(0).standard_normal((n, time, 1))
    return x, (x.sum(axis=(1, 2)) > 0).astype(np.int64)


def test_fit_reduces_the_loss_and_returns_history():
    mg.manual_seed(0)
    x, y = sign_data()
    model = layers.Sequential([layers.GRU(16), layers.Dense(2)])
    model(x[:1])  # build
    history = model.fit(x, y, loss="cross_entropy", optimizer=mg.optim.Adam(model.parameters(), lr=0.02),
                        epochs=25, batch_size=32, validation_data=(x[:64], y[:64]), verbose=0)  # fmt: skip
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history["loss"]) == 25
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["accuracy"][-1] > 0.9
    result = model.evaluate(x, y)
    assert result["accuracy"] > 0.9
    predictions = model.predict(x[:10], batch_size=4)
    assert predictions.shape == (10, 2)


def test_fit_stops_on_a_non_finite_loss_and_keeps_the_last_good_weights():
    mg.manual_seed(0)
    x, y = sign_data(64)
    model = layers.Sequential([layers.SimpleRNN(4), layers.Dense(1)])
    model(x[:1])
    target = y[:, None].astype(float)
    calls = {"n": 0}

    def loss(pred, t):
        calls["n"] += 1
        value = mg.functional.mse_loss(pred, t)
        return value * np.nan if calls["n"] == 3 else value

    opt = mg.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(FloatingPointError, match="at epoch 1, step 3"):
        model.fit(x, target, loss=loss, optimizer=opt, batch_size=16, verbose=0, shuffle=False)
    # the weights are those that gave the last finite loss (step 2's): after one update
    mg.manual_seed(0)
    replay = layers.Sequential([layers.SimpleRNN(4), layers.Dense(1)])
    replay(x[:1])
    opt2 = mg.optim.SGD(replay.parameters(), lr=0.1)
    for start in (0,):
        value = mg.functional.mse_loss(replay(x[start : start + 16]), target[start : start + 16])
        opt2.zero_grad()
        value.backward()
        opt2.step()
    for a, b in zip(model.get_weights(), replay.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_fit_errors():
    model = layers.Sequential([layers.Dense(1)])
    with pytest.raises(ValueError, match="x has 3 samples but y has 2"):
        model.fit(np.zeros((3, 2)), np.zeros(2), optimizer=None)
    with pytest.raises(ValueError, match="got no samples"):
        model.fit(np.zeros((0, 2)), np.zeros(0), optimizer=None)
    with pytest.raises(ValueError, match="give an optimizer"):
        model.fit(np.zeros((3, 2)), np.zeros(3), optimizer=None)
    with pytest.raises(ValueError, match="expected a non-empty list"):
        layers.Sequential([])


def test_accuracy_of_a_per_step_classifier_is_a_fraction_of_every_step():
    mg.manual_seed(0)
    x = np.random.default_rng(1).standard_normal((40, 5, 1))
    y = (x[..., 0] > 0).astype(np.int64)  # a label per time step: (40, 5)
    model = layers.Sequential([layers.SimpleRNN(8, return_sequences=True), layers.Dense(2)])
    model(x[:1])
    history = model.fit(
        x, y, optimizer=mg.optim.Adam(model.parameters(), lr=0.02), epochs=3, batch_size=8, verbose=0
    )
    predicted = model.predict(x).argmax(axis=-1)
    expected = np.mean(predicted == y)  # hits over all 200 step labels
    assert 0 <= history["accuracy"][-1] <= 1
    assert model.evaluate(x, y)["accuracy"] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_size": 0}, "fit: batch_size must be a positive integer, got 0"),
        ({"epochs": 1.5}, "fit: epochs must be a positive integer, got 1.5"),
        (
            {"loss": "categorical_hinge"},
            "fit: unknown loss 'categorical_hinge'; the losses are cross_entropy, binary_cross_entropy",
        ),
    ],
)
def test_fit_refuses_settings_that_cannot_work_before_changing_anything(options, message):
    x, y = sign_data(16)
    model = layers.Sequential([layers.SimpleRNN(4), layers.Dense(2)])
    model(x[:1])
    before = {k: v.copy() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=re.escape(message)):
        model.fit(x, y, optimizer=mg.optim.SGD(model.parameters(), lr=0.1), verbose=0, **options)
    assert all(np.array_equal(v, before[k]) for k, v in model.state_dict().items())


def test_an_optimizer_made_before_the_first_call_holds_every_weight():
    mg.manual_seed(0)
    model = layers.Sequential([layers.Embedding(20, 8), layers.LSTM(16), layers.Dense(20)])
    adam = mg.optim.Adam(model.parameters(), lr=0.05)  # PyTorch's order: before any forward pass
    assert len(adam.params) == 1 + 3 + 2
    before = [p.data.copy() for p in adam.params]
    ids, targets = np.random.default_rng(0).integers(1, 20, (4, 5)), np.array([1, 2, 3, 4])
    mg.functional.cross_entropy(model(ids), targets).backward()
    adam.step()
    assert all(not np.array_equal(p.data, b) for p, b in zip(adam.params, before, strict=True))


def test_parameters_of_a_model_that_cannot_build_yet_is_an_error_naming_the_layers():
    model = layers.Sequential([layers.LSTM(16), layers.Dropout(0.1), layers.Dense(4)])
    with pytest.raises(
        ValueError, match=r"not built yet: layers\.0 \(LSTM\), layers\.2 \(Dense\).*input_size="
    ):
        model.parameters()
    with pytest.raises(ValueError, match="not built yet"):
        model.state_dict()  # a checkpoint would silently miss the weights
    model(np.ones((2, 3, 5)))
    assert len(model.parameters()) == 5


def test_sizes_that_do_not_chain_are_refused_before_anything_is_built():
    second = layers.Dense(4)
    with pytest.raises(
        ValueError, match=r"layer 2 \(Dense\) takes 5 features, but the layer before it gives 4"
    ):
        layers.Sequential([layers.Dense(3, input_size=2), second, layers.Dense(1, input_size=5)])
    assert not second.built


def test_summary_without_an_input_shape_on_a_built_model():
    model = layers.Sequential([layers.SimpleRNN(3, use_bias=False, input_size=2)])  # article 003
    text = model.summary(print_fn=lambda s: None)
    assert "simple_rnn (SimpleRNN)      (None, 3)                 15" in text
    with pytest.raises(ValueError, match="not built yet"):
        layers.Sequential([layers.SimpleRNN(3)]).summary()


def test_fit_puts_back_finite_weights_when_an_update_breaks_them():
    mg.manual_seed(0)
    x, y = sign_data(64)
    model = layers.Sequential([layers.SimpleRNN(4), layers.Dense(1)])
    model(x[:1])
    start = model.get_weights()
    sgd = mg.optim.SGD(model.parameters(), lr=1e308)  # the first update sends the weights to inf
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match="at epoch 1, step 2"):
        model.fit(x, y[:, None].astype(float), loss="mse", optimizer=sgd, batch_size=16, verbose=0)
    for now, before in zip(model.get_weights(), start, strict=True):
        np.testing.assert_array_equal(now, before)  # the weights of step 1's finite loss


def test_compile_then_fit_as_in_keras_with_a_history_and_a_softmax_output():
    mg.manual_seed(0)
    x, y = sign_data(128)
    model = layers.Sequential([layers.GRU(8, input_size=1), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    assert set(history.history) == {"loss", "accuracy"} and len(history.history["loss"]) == 3
    assert history["loss"] is history.history["loss"]
    probabilities = model.predict(x[:5])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-12)
    # the loss is -mean(log p[y]) on the softmax outputs, computed here in numpy
    expected = -np.mean(np.log(model.predict(x)[np.arange(len(y)), y]))
    assert model.evaluate(x, y)["loss"] == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"optimizer": "adamw"}, "unknown optimizer 'adamw'"),
        ({"loss": "mse", "metrics": ["accuracy"]}, "'accuracy' needs a classification loss"),
        ({"metrics": ["auc"]}, r"unknown metrics \['auc'\]"),
    ],
)
def test_compile_refuses_what_it_cannot_do(options, message):
    model = layers.Sequential([layers.Dense(2, input_size=3)])
    with pytest.raises(ValueError, match=message):
        model.compile(**options)
    assert model.optimizer is None and model.loss is None


def test_keras_losses_on_probabilities_and_on_logits_match_numpy():
    logits = np.array([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0]])
    labels = np.array([0, 2])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = -np.mean(np.log(p[np.arange(2), labels]))
    assert layers.losses.SparseCategoricalCrossentropy()(mg.Tensor(p), labels).item() == pytest.approx(
        expected
    )
    assert layers.losses.SparseCategoricalCrossentropy(from_logits=True)(
        mg.Tensor(logits), labels
    ).item() == pytest.approx(expected)
    q, t = np.array([0.9, 0.2, 0.6]), np.array([1.0, 0.0, 0.0])
    expected = -np.mean(t * np.log(q) + (1 - t) * np.log(1 - q))
    assert layers.losses.BinaryCrossentropy()(mg.Tensor(q), t).item() == pytest.approx(expected, rel=1e-12)
    gradcheck(lambda a: layers.losses.SparseCategoricalCrossentropy()(a.softmax(dim=-1), labels), [logits])
    gradcheck(lambda a: layers.losses.BinaryCrossentropy()(a.sigmoid(), t), [np.array([0.3, -1.0, 2.0])])
