"""Attention and AdditiveAttention: against Keras where installed, gradients, and bad input."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import layers
import minigrad as mg
from minigrad.testing import gradcheck
from minigrad.testing.strategies import arrays

MAKERS = {
    "dot": (lambda k: k.layers.Attention(), lambda: layers.Attention()),
    "dot, scaled": (lambda k: k.layers.Attention(use_scale=True), lambda: layers.Attention(use_scale=True)),
    "concat": (lambda k: k.layers.Attention(score_mode="concat"), lambda: layers.Attention(score_mode="concat")),
    "concat, scaled": (lambda k: k.layers.Attention(use_scale=True, score_mode="concat"),
                       lambda: layers.Attention(use_scale=True, score_mode="concat")),
    "additive": (lambda k: k.layers.AdditiveAttention(), lambda: layers.AdditiveAttention()),
    "additive, unscaled": (lambda k: k.layers.AdditiveAttention(use_scale=False),
                           lambda: layers.AdditiveAttention(use_scale=False)),
}  # fmt: skip


def case(seed=0, batch=2, tq=3, tv=4, dim=5, value_dim=6):
    rng = np.random.default_rng(seed)
    query, key = rng.standard_normal((batch, tq, dim)), rng.standard_normal((batch, tv, dim))
    value = rng.standard_normal((batch, tv, value_dim))
    query_mask, value_mask = rng.random((batch, tq)) > 0.3, rng.random((batch, tv)) > 0.3
    value_mask[:, 0] = True
    return query, value, key, query_mask, value_mask


@pytest.mark.parametrize("name", MAKERS)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("with_key", [False, True])
def test_attention_equals_keras_with_masks(keras, name, causal, with_key):
    make_theirs, make_ours = MAKERS[name]
    query, value, key, query_mask, value_mask = case(dim=6 if not with_key else 5)
    inputs = [query, value, key] if with_key else [query, value]
    theirs = make_theirs(keras)
    with warnings.catch_warnings():  # Keras's torch backend warns about numpy 2's copy keyword
        warnings.simplefilter("ignore", DeprecationWarning)
        expected = [keras.ops.convert_to_numpy(t) for t in theirs(inputs, mask=[query_mask, value_mask],
                    return_attention_scores=True, use_causal_mask=causal)]  # fmt: skip
        weights = theirs.get_weights()
    ours = make_ours()
    ours(inputs)  # build, then take Keras's weights
    ours.set_weights(weights)
    got = ours(inputs, mask=[query_mask, value_mask], return_attention_scores=True, use_causal_mask=causal)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g.data, e, atol=1e-6)  # Keras computes partly in float32 here


def test_masked_value_steps_get_no_weight_and_masked_queries_output_zeros():
    query, value, key, query_mask, value_mask = case(1)
    output, weights = layers.Attention()([query, value, key], mask=[query_mask, value_mask],
                                         return_attention_scores=True)  # fmt: skip
    np.testing.assert_array_equal(weights.data[~np.broadcast_to(value_mask[:, None, :], weights.shape)], 0.0)
    np.testing.assert_allclose(weights.data.sum(axis=-1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(output.data[~query_mask], 0.0)
    # and the kept rows are the plain-numpy softmax of q k^T over the kept steps
    scores = np.einsum("bqd,bvd->bqv", query, key)
    scores = np.where(value_mask[:, None, :], scores, -np.inf)
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(weights.data, expected, atol=1e-12)


@settings(max_examples=25)
@given(data=st.data(), name=st.sampled_from(list(MAKERS)), causal=st.booleans())
def test_gradients_through_attention(data, name, causal):
    batch, tq, tv, dim = (data.draw(st.integers(1, 3)) for _ in range(4))
    query, key = data.draw(arrays(shape=(batch, tq, dim))), data.draw(arrays(shape=(batch, tv, dim)))
    value = data.draw(arrays(shape=(batch, tv, 2)))
    value_mask = np.array(
        data.draw(st.lists(st.booleans(), min_size=batch * tv, max_size=batch * tv))
    ).reshape(batch, tv)
    value_mask[:, 0] = True
    layer = MAKERS[name][1]()
    layer([query, value, key])
    weights = layer.get_weights()

    def run(query, value, key, *weights):
        for (attribute, _), w in zip(list(layer.named_parameters()), weights, strict=True):
            setattr(layer, attribute, w)
        return list(layer([query, value, key], mask=[None, value_mask], return_attention_scores=True,
                          use_causal_mask=causal))  # fmt: skip

    gradcheck(run, [query, value, key, *weights])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda a, q, v: a([q]), r"expected \[query, value\] or \[query, value, key\]"),
        (lambda a, q, v: a([q, v[:1]]), "need one batch size"),
        (lambda a, q, v: a([q[..., :2], v]), "query and key need the same number of features"),
        (lambda a, q, v: a([q, v, v[:, :2]]), "key and value need the same number of steps"),
        (
            lambda a, q, v: a([q, v], mask=[None, np.ones((2, 3), bool)]),
            r"value_mask must be booleans of shape \(2, 4\)",
        ),
        (lambda a, q, v: a([q, v], mask=[np.ones((2, 3))]), r"mask must be \[query_mask, value_mask\]"),
        (lambda a, q, v: a([q[0], v]), r"query must be \(batch, time, features\)"),
    ],
)
def test_bad_input_is_named(call, message):
    query, value = np.ones((2, 3, 4)), np.ones((2, 4, 4))
    with pytest.raises(ValueError, match=message):
        call(layers.Attention(), query, value)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="score_mode must be 'dot' or 'concat'"):
        layers.Attention(score_mode="general")
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        layers.AdditiveAttention(dropout=1.0)


@pytest.mark.parametrize("name", MAKERS)
@pytest.mark.parametrize(("batch", "tq"), [(0, 3), (2, 0), (0, 0)])
def test_no_batch_or_no_query_step_gives_empty_results(name, batch, tq):
    layer = MAKERS[name][1]()
    query = mg.Tensor(np.ones((batch, tq, 5)), requires_grad=True)
    output, scores = layer([query, np.ones((batch, 4, 6)), np.ones((batch, 4, 5))], return_attention_scores=True,
                           use_causal_mask=True, mask=[np.ones((batch, tq), bool), np.ones((batch, 4), bool)])  # fmt: skip
    assert output.shape == (batch, tq, 6) and scores.shape == (batch, tq, 4)
    output.sum().backward()
    assert query.grad.shape == (batch, tq, 5)
    assert all(np.array_equal(p.grad, np.zeros_like(p.data)) for p in layer.parameters())


@pytest.mark.parametrize("name", MAKERS)
def test_no_value_step_is_a_clear_error(name):
    with pytest.raises(
        ValueError, match=r"value needs at least one step for the query steps to attend to, got \(2, 0, 6\)"
    ):
        MAKERS[name][1]()([np.ones((2, 3, 5)), np.ones((2, 0, 6)), np.ones((2, 0, 5))])
