"""The fused GRU with reset_after=False (layers/fused/gru_reset_before.py): its twins agree,
its gradients equal central differences, and it gives the numbers of Keras's formula written
here in numpy.  tests/test_recurrent.py holds it equal to the autograd GRU (reset_after=False)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from layers.fused import pointwise, twins
from layers.fused.gru_reset_before import FusedGRUResetBefore
from minigrad.testing import gradcheck
from minigrad.testing.strategies import arrays

DTYPES = [np.float32, np.float64]


@st.composite
def sequence_case(draw):
    """A time loop's inputs: time-major projections, a recurrent kernel, an initial state, a
    mask, a recurrent dropout mask, activation codes and the gradients reaching the outputs."""
    dtype = draw(st.sampled_from(DTYPES))
    batch, time, units = draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 4))

    def array(*shape, low=-2.0, high=2.0):
        return draw(arrays(shape=shape, dtype=dtype, min_value=low, max_value=high))

    return {
        "x_proj": array(time, batch, 3 * units),
        "recurrent": array(units, 3 * units, low=-1, high=1),
        "h": array(batch, units),
        "mask": draw(arrays(shape=(batch, time))) > -1.0,
        "recurrent_mask": np.where(array(batch, units) > -1.0, 1.5, 0.0).astype(dtype),
        "codes": (
            draw(st.sampled_from(sorted(pointwise.CODES.values()))),
            draw(st.sampled_from([pointwise.SIGMOID, pointwise.TANH])),
        ),
        "g_outputs": array(batch, time, units),
        "g_final": array(batch, units),
    }


@given(case=sequence_case())
def test_the_twins_agree(case):
    dtype, (time, batch, width) = case["x_proj"].dtype, case["x_proj"].shape
    units = width // 3
    activation, recurrent_activation = case["codes"]
    zr, hh = (
        np.ascontiguousarray(case["recurrent"][:, : 2 * units]),
        np.ascontiguousarray(case["recurrent"][:, 2 * units :]),
    )
    # float32: each twin rounds its own way, and five steps can amplify that rounding some
    # 200 times (a tanh gate z < 0 makes h~ = z h + (1 - z) n expand); float64 checks the formulas
    tol = 1e-4 if dtype == np.float32 else 1e-12
    results = []
    for forward, backward in zip(
        twins.TWINS["gru_reset_before_forward"], twins.TWINS["gru_reset_before_backward"], strict=True
    ):
        h = case["h"].copy()
        saved = tuple(np.zeros((time, batch, k * units), dtype) for k in (1, 3, 1, 1))
        outputs = np.zeros((batch, time, units), dtype)
        masks = (case["mask"], case["recurrent_mask"])
        forward(case["x_proj"], zr, hh, h, *masks, activation, recurrent_activation, outputs, saved)
        g_h, g_x_proj = case["g_final"].copy(), np.zeros((time, batch, width), dtype)
        backward(case["g_outputs"], np.ascontiguousarray(zr.T), np.ascontiguousarray(hh.T), g_h, *masks,
                 activation, recurrent_activation, saved, g_x_proj)  # fmt: skip
        results.append([outputs, h, *saved, g_h, g_x_proj])
    for jitted, plain in zip(*results, strict=True):
        assert jitted.dtype == dtype and np.isfinite(jitted).all()
        # to the rounding of the array's largest value: a linear candidate compounds over steps
        scale = max(1.0, float(np.abs(plain).max(initial=0.0)))
        np.testing.assert_allclose(jitted, plain, rtol=tol, atol=tol * scale)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_the_ops_gradients_equal_central_differences(activation):
    rng = np.random.default_rng(3)
    batch, time, features, units = 3, 4, 2, 3
    x = rng.uniform(-1, 1, (batch, time, features))
    inputs = [x, rng.uniform(-1, 1, (batch, units)), rng.uniform(-1, 1, (features, 3 * units)),
              rng.uniform(-1, 1, (units, 3 * units)), rng.uniform(-0.5, 0.5, 3 * units)]  # fmt: skip
    mask = np.array([[True, False, True, True], [True, True, False, False], [False, True, True, True]])
    rmask = np.where(rng.random((batch, units)) > 0.3, 1.5, 0.0)

    def fn(*tensors):
        return FusedGRUResetBefore.apply(*tensors, mask=mask, recurrent_mask=rmask, activation=activation,
                                         recurrent_activation="sigmoid")  # fmt: skip

    gradcheck(fn, inputs, atol=1e-7, rtol=1e-6)


def keras_gru_reset_before(x, h, kernel, recurrent_kernel, bias):
    """Keras 2's GRU(reset_after=False) (and ONNX's GRU, linear_before_reset=0), in numpy:
    x (batch, time, features) -> every step's h (batch, time, units)."""
    units = h.shape[1]

    def sigmoid(v):
        return 1 / (1 + np.exp(-v))

    outputs = []
    for t in range(x.shape[1]):
        x_z, x_r, x_h = np.split(x[:, t] @ kernel + bias, 3, axis=1)
        z = sigmoid(x_z + h @ recurrent_kernel[:, :units])
        r = sigmoid(x_r + h @ recurrent_kernel[:, units : 2 * units])
        hh = np.tanh(x_h + (r * h) @ recurrent_kernel[:, 2 * units :])
        h = z * h + (1 - z) * hh
        outputs.append(h)
    return np.stack(outputs, axis=1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_fused_op_computes_kerass_formula(dtype):
    rng = np.random.default_rng(7)
    x, h = rng.uniform(-1, 1, (3, 6, 4)), rng.uniform(-1, 1, (3, 5))
    kernel, recurrent, bias = rng.uniform(-1, 1, (4, 15)), rng.uniform(-1, 1, (5, 15)), rng.uniform(-1, 1, 15)
    outputs, final = FusedGRUResetBefore.apply(
        *(mg.Tensor(a.astype(dtype)) for a in (x, h, kernel, recurrent, bias))
    )
    expected = keras_gru_reset_before(x, h, kernel, recurrent, bias)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert outputs.data.dtype == dtype
    np.testing.assert_allclose(outputs.data, expected, rtol=tol, atol=tol)
    np.testing.assert_allclose(final.data, expected[:, -1], rtol=tol, atol=tol)
