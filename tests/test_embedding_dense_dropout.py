"""Embedding ids, Dense on any rank, Dropout options: right answers or clear errors."""

import numpy as np
import pytest

import layers
import minigrad as mg


@pytest.mark.parametrize(
    ("ids", "match"),
    [
        ([[np.inf]], r"expected integer ids in \[0, 10\), got inf at position \(0, 0\)"),
        ([[1, np.nan]], r"expected integer ids in \[0, 10\), got nan at position \(0, 1\)"),
        ([[1e20]], r"ids must lie in \[0, 10\), got values from 1e\+20 .*first bad: 1e\+20"),
        (
            [[3, -1]],
            r"ids must lie in \[0, 10\), got values from -1 to 3 \(first bad: -1 at position \(0, 1\)",
        ),
        ([[10]], r"ids must lie in \[0, 10\), .*first bad: 10 at"),
        ([[2.5]], r"expected integer ids in \[0, 10\), got 2\.5"),
        ([[True, False]], "expected integer ids in .* got an array of dtype bool"),
        (np.array([[2**63]], dtype=np.uint64), r"ids must lie in \[0, 10\), .*9223372036854775808"),
    ],
)
def test_embedding_names_the_bad_id_and_the_valid_range(ids, match):
    emb = layers.Embedding(10, 3, mask_zero=True)
    before = emb.embeddings.data.copy()
    with pytest.raises(ValueError, match=match):  # and no RuntimeWarning (warnings are errors)
        emb(ids)
    with pytest.raises(ValueError, match=match):
        emb.compute_mask(ids)
    np.testing.assert_array_equal(emb.embeddings.data, before)


def test_embedding_whole_float_ids_empty_batches_and_keras_mask():
    emb = layers.Embedding(10, 3, mask_zero=True)
    ids = np.array([[4, 0, 9], [0, 0, 1]])
    table = emb.embeddings.data
    np.testing.assert_array_equal(emb(ids.astype(np.float32)).data, table[ids])
    np.testing.assert_array_equal(emb(mg.tensor(ids.astype(float))).data, table[ids])
    # Keras: padding still looks up row 0; the mask (id != 0) is what tells later layers to skip it
    np.testing.assert_array_equal(emb(ids).data[0, 1], table[0])
    np.testing.assert_array_equal(emb.compute_mask(ids), ids != 0)
    assert emb(np.zeros((0, 4), dtype=int)).shape == (0, 4, 3)
    assert emb.compute_mask(np.zeros((0, 4), dtype=int)).shape == (0, 4)


@pytest.mark.parametrize(
    "make", [lambda d: layers.Embedding(5, 2, dtype=d), lambda d: layers.Dense(2, dtype=d)]
)
@pytest.mark.parametrize("dtype", [np.int64, np.float16, "text", bool])
def test_integer_and_half_tables_are_refused(make, dtype):
    # an int64 table would hold the initial weights rounded to zeros
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        make(dtype)


@pytest.mark.parametrize(
    ("activation", "reference"),
    [
        (None, lambda z: z),
        ("linear", lambda z: z),
        ("tanh", np.tanh),
        ("sigmoid", lambda z: 1 / (1 + np.exp(-z))),
        ("relu", lambda z: np.maximum(z, 0)),
        ("softmax", lambda z: np.exp(z) / np.exp(z).sum(-1, keepdims=True)),
    ],
)
def test_dense_on_3d_input_matches_numpy(activation, reference):
    mg.manual_seed(0)
    dense = layers.Dense(4, activation=activation, bias_initializer="ones")
    x = np.random.default_rng(1).standard_normal((2, 5, 3))
    y = dense(x).data
    z = np.einsum("btf,fu->btu", x, dense.kernel.data) + dense.bias.data
    np.testing.assert_allclose(y, reference(z), rtol=1e-12, atol=1e-15)
    assert y.shape == (2, 5, 4)


def test_dropout_noise_shape_shares_one_draw_along_an_axis():
    mg.manual_seed(0)
    drop = layers.Dropout(0.5, noise_shape=(None, 1, 6))
    out = drop(np.ones((40, 7, 6))).data
    np.testing.assert_array_equal(out, np.broadcast_to(out[:, :1], out.shape))  # same at every step
    assert set(np.unique(out)) == {0.0, 2.0}
    assert abs(out[:, 0].mean() - 1) < 0.15
    drop.eval()
    np.testing.assert_array_equal(drop(np.ones((2, 7, 6))).data, np.ones((2, 7, 6)))


def test_dropout_checks_its_options_and_the_training_override():
    for rate in ("0.5", None, True, 1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
            layers.Dropout(rate)
    with pytest.raises(ValueError, match="noise_shape holds positive integers or None"):
        layers.Dropout(0.5, noise_shape=(2, 0))
    drop = layers.Dropout(0.5, noise_shape=(None, 1))
    for x in (np.ones((3, 4, 5)), np.ones((3,))):
        with pytest.raises(ValueError, match="does not fit input of shape"):
            drop(x, training=False)  # checked in evaluation mode too
    with pytest.raises(ValueError, match="does not fit input of shape"):
        layers.Dropout(0.5, noise_shape=(2, 1))(np.ones((3, 4)))
    plain = layers.Dropout(0.5)
    plain.eval()
    mg.manual_seed(0)
    assert (plain(np.ones(1000), training=True).data == 0).any()
    plain.train()
    np.testing.assert_array_equal(plain(np.ones(5), training=False).data, np.ones(5))
    with pytest.raises(ValueError, match="training must be True, False or None"):
        plain(np.ones(5), training="no")


@pytest.mark.parametrize("shape", [(4,), (5, 4), (2, 5, 4), (2, 1, 3, 4)])
def test_dense_on_any_leading_axes_has_the_gradients_written_here(shape):
    # inputs with several leading axes go through one flattened product: same numbers
    dense = layers.Dense(3, input_size=4, activation="tanh")
    x = mg.Tensor(np.random.default_rng(0).standard_normal(shape), requires_grad=True)
    y = dense(x)
    assert y.shape == (*shape[:-1], 3)
    g = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(g)
    kernel, bias = dense.kernel.data, dense.bias.data
    dz = g * (1 - np.tanh(np.einsum("...f,fu->...u", x.data, kernel) + bias) ** 2)
    flat_x, flat_dz = x.data.reshape(-1, 4), dz.reshape(-1, 3)
    np.testing.assert_allclose(dense.kernel.grad, np.einsum("nf,nu->fu", flat_x, flat_dz), atol=1e-12)
    np.testing.assert_allclose(dense.bias.grad, flat_dz.sum(axis=0), atol=1e-12)
    np.testing.assert_allclose(x.grad, np.einsum("...u,fu->...f", dz, kernel), atol=1e-12)
