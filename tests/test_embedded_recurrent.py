"""EmbeddedRecurrent computes recurrent(embedding(ids)) with the projection looked up: the
same outputs and gradients as the plain path, to rounding, and clear errors where it cannot."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import layers
import minigrad as mg

KINDS = {
    "LSTM": layers.LSTM,
    "GRU": layers.GRU,
    "GRU reset before": lambda units, **options: layers.GRU(units, reset_after=False, **options),
    "SimpleRNN": layers.SimpleRNN,
}
# The plain path's x_t W and the table's row Z[id] sum the same dim products; the gradients of
# E and W sum the same batch * time * gates*units products grouped differently (by id first),
# so each may differ by rounding: a few ulps of the largest term, times the terms summed.
TOLERANCE = {np.float64: 1e-11, np.float32: 2e-5}


def outputs_and_gradients(run, params, seeds_shape):
    """The outputs of ``run()`` and the gradients of sum(output_k * g_k) with fixed random g."""
    for p in params:
        p.grad = None
    outputs = run()
    outputs = outputs if isinstance(outputs, list) else [outputs]
    rng = np.random.default_rng(seeds_shape)
    loss = sum((o * rng.standard_normal(o.shape).astype(o.dtype)).sum() for o in outputs)
    loss.backward()
    return [o.data.copy() for o in outputs], [p.grad.copy() for p in params]


@settings(max_examples=30, deadline=None)
@given(
    kind=st.sampled_from(sorted(KINDS)),
    dtype=st.sampled_from([np.float64, np.float32]),
    sizes=st.tuples(
        st.integers(1, 6), st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 5)
    ),
    mask_zero=st.booleans(),
    go_backwards=st.booleans(),
    return_sequences=st.booleans(),
    with_initial_state=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_outputs_and_gradients_equal_the_plain_path(
    kind, dtype, sizes, mask_zero, go_backwards, return_sequences, with_initial_state, seed
):
    vocab, dim, units, batch, time = sizes
    mg.manual_seed(seed)
    embedding = layers.Embedding(vocab, dim, mask_zero=mask_zero, dtype=dtype)
    recurrent = KINDS[kind](
        units, return_sequences=return_sequences, return_state=True, go_backwards=go_backwards, dtype=dtype
    )
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab, (batch, time))
    states = [rng.standard_normal((batch, units)).astype(dtype) for _ in recurrent.state_sizes]
    initial = states if with_initial_state else None
    recurrent.build(dim)
    params = [*embedding.parameters(), *recurrent.parameters()]
    mask = embedding.compute_mask(ids)
    plain = outputs_and_gradients(lambda: recurrent(embedding(ids), initial, mask), params, seed)
    embedded = layers.EmbeddedRecurrent(embedding, recurrent)
    looked_up = outputs_and_gradients(lambda: embedded(ids, initial), params, seed)
    for expected, got in zip([*plain[0], *plain[1]], [*looked_up[0], *looked_up[1]], strict=True):
        assert got.dtype == expected.dtype == dtype
        scale = max(1.0, float(np.abs(expected).max(initial=0)))
        np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE[dtype] * scale)


def test_a_fully_masked_sequence_sends_no_gradient_to_its_ids():
    embedding = layers.Embedding(4, 2, mask_zero=True)
    embedded = layers.EmbeddedRecurrent(embedding, layers.LSTM(3))
    ids = np.array([[0, 0, 0], [2, 0, 1]])
    embedded(ids).sum().backward()
    assert not embedding.embeddings.grad[0].any()  # id 0 is padding: never read
    assert embedding.embeddings.grad[[1, 2]].any() and not embedding.embeddings.grad[3].any()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_nan_in_the_padding_row_reaches_nothing(kind):
    # the plain path selects a masked step's input away; so does the looked-up projection
    # (and an unread row, 4, as well)
    embedding = layers.Embedding(5, 2, mask_zero=True)
    embedding.embeddings.data[[0, 4]] = np.nan
    recurrent = KINDS[kind](3, return_sequences=True)
    embedded = layers.EmbeddedRecurrent(embedding, recurrent)
    ids = np.array([[1, 0, 2], [0, 3, 0]])
    outputs = embedded(ids)
    outputs.sum().backward()
    assert np.isfinite(outputs.data).all()
    for p in recurrent.parameters():
        assert np.isfinite(p.grad).all()
    grad = embedding.embeddings.grad
    assert np.isfinite(grad[1:4]).all() and not grad[[0, 4]].any()


def test_recurrent_dropout_draws_the_plain_paths_mask():
    embedding = layers.Embedding(6, 3)
    lstm = layers.LSTM(4, recurrent_dropout=0.5, return_sequences=True, input_size=3)
    ids = np.random.default_rng(0).integers(0, 6, (3, 5))
    params = [*embedding.parameters(), *lstm.parameters()]
    mg.manual_seed(7)
    plain = outputs_and_gradients(lambda: lstm(embedding(ids), training=True), params, 1)
    embedded = layers.EmbeddedRecurrent(embedding, lstm)
    mg.manual_seed(7)
    looked_up = outputs_and_gradients(lambda: embedded(ids, training=True), params, 1)
    for expected, got in zip([*plain[0], *plain[1]], [*looked_up[0], *looked_up[1]], strict=True):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-11)
    mg.manual_seed(8)  # and a mask was drawn: another seed gives other numbers
    assert not np.allclose(embedded(ids, training=True).data, plain[0][0])


def test_stateful_layer_carries_its_states_as_the_plain_path_does():
    embedding = layers.Embedding(5, 3)
    plain = layers.GRU(4, stateful=True, input_size=3)
    twin = layers.GRU(4, stateful=True, input_size=3)
    twin.load_torch_state_dict(plain.torch_state_dict())
    embedded = layers.EmbeddedRecurrent(embedding, twin)
    ids = np.random.default_rng(0).integers(0, 5, (2, 4))
    for _ in range(2):
        np.testing.assert_allclose(embedded(ids).data, plain(embedding(ids)).data, atol=1e-12)
    np.testing.assert_allclose(twin.states[0], plain.states[0], atol=1e-12)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: (layers.Dense(3), layers.LSTM(3)), "expected an Embedding"),
        (lambda: (layers.Embedding(4, 2), layers.Dense(3)), "built-in recurrent layer"),
        (lambda: (layers.Embedding(4, 2), layers.LSTM(3, impl="autograd")), "must run fused"),
        (lambda: (layers.Embedding(4, 2), layers.LSTM(3, activation=np.tanh)), "must run fused"),
        (lambda: (layers.Embedding(4, 2), layers.LSTM(3, dropout=0.5)), "input dropout"),
        (lambda: (layers.Embedding(4, 2, dtype="float32"), layers.LSTM(3)), "dtype"),
    ],
)
def test_layers_it_cannot_combine_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        layers.EmbeddedRecurrent(*make())


def test_a_failed_call_changes_nothing():
    embedding = layers.Embedding(4, 2)
    lstm = layers.LSTM(3, stateful=True)
    embedded = layers.EmbeddedRecurrent(embedding, lstm)
    with pytest.raises(ValueError, match=r"must lie in \[0, 4\)"):
        embedded(np.array([[1, 4]]))
    with pytest.raises(ValueError, match=r"shape \(batch, time\)"):
        embedded(np.array([1, 2]))
    with pytest.raises(ValueError):
        embedded(np.array([[1, 2]]), initial_state=[np.zeros((2, 3)), np.zeros((2, 3))])
    assert not lstm.built and lstm.states is None
    lstm.impl = "autograd"  # changed after construction: refused at the call
    with pytest.raises(ValueError, match="must run fused"):
        embedded(np.array([[1, 2]]))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_its_time_loop_splits_the_batch_over_two_threads_as_the_plain_layers_does(kind, monkeypatch):
    # the same split as FusedRecurrence's (layers/fused/batch_parallel.py): per-sample numbers
    # equal the unsplit run's, the weights' gradients (summed over the parts) agree to rounding
    import layers.fused.batch_parallel as batch_parallel

    mg.manual_seed(4)
    embedding, recurrent = layers.Embedding(5, 3), KINDS[kind](4, return_sequences=True, return_state=True)
    recurrent.build(3)
    embedded, params = (
        layers.EmbeddedRecurrent(embedding, recurrent),
        [*embedding.parameters(), *recurrent.parameters()],
    )
    ids = np.random.default_rng(4).integers(0, 5, (7, 6))
    parts = []
    original = batch_parallel.sequence_forward

    def recorded(op, x_proj, *rest):
        result = original(op, x_proj, *rest)
        parts.append(op.parts)
        return result

    monkeypatch.setattr(batch_parallel, "sequence_forward", recorded)
    runs = {}
    for count in (1, 2):
        monkeypatch.setattr(batch_parallel, "part_count", lambda x_proj, _count=count: _count)
        runs[count] = outputs_and_gradients(lambda: embedded(ids), params, 4)
    assert parts[0] is None and [rows for rows in parts[1].rows] == [slice(0, 4), slice(4, 7)]
    for whole, split in zip(runs[1][0], runs[2][0], strict=True):
        np.testing.assert_array_equal(split, whole)
    for whole, split in zip(runs[1][1], runs[2][1], strict=True):
        np.testing.assert_allclose(split, whole, rtol=0, atol=1e-12 * max(1.0, float(np.abs(whole).max())))
