"""Each Numba kernel against its numpy twin, and the MINIGRAD_JIT switch."""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minigrad import kernels
from minigrad.testing.strategies import arrays

DTYPES = [np.float32, np.float64]


def both(name, *args):
    jitted, plain = kernels.TWINS[name]
    return jitted(*args), plain(*args)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["tanh_backward", "sigmoid_backward"])
@given(data=st.data())
def test_elementwise_backward_twins_agree(name, dtype, data):
    y = data.draw(arrays(shape=(data.draw(st.integers(1, 50)),), min_value=-1, max_value=1, dtype=dtype))
    g = data.draw(arrays(shape=y.shape, dtype=dtype))
    jitted, plain = both(name, y, g)
    assert jitted.dtype == plain.dtype == dtype
    np.testing.assert_allclose(jitted, plain, rtol=1e-6 if dtype == np.float32 else 1e-14)
    # against the unfactored formulas in extended precision
    yl, gl = y.astype(np.longdouble), g.astype(np.longdouble)
    exact = gl * (1 - yl * yl) if name == "tanh_backward" else gl * yl * (1 - yl)
    np.testing.assert_allclose(jitted, exact.astype(np.float64), rtol=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_scatter_add_rows_twins_agree(dtype, data):
    n, width, m = (
        data.draw(st.integers(1, 6)),
        data.draw(st.integers(1, 4)),
        data.draw(st.integers(0, 12)),
    )
    index = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), dtype=np.int64)
    rows = data.draw(arrays(shape=(m, width), dtype=dtype))
    start = data.draw(arrays(shape=(n, width), dtype=dtype))
    jitted_target, plain_target = start.copy(), start.copy()
    kernels.TWINS["scatter_add_rows"][0](jitted_target, index, rows)
    kernels.TWINS["scatter_add_rows"][1](plain_target, index, rows)
    np.testing.assert_allclose(jitted_target, plain_target, rtol=1e-6)
    # and against the definition, a plain Python loop
    expected = start.astype(np.float64)
    for i, r in zip(index, rows, strict=True):
        expected[i] += r
    np.testing.assert_allclose(jitted_target, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_softmax_xent_twins_agree(dtype, data):
    n, c = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    logits = data.draw(arrays(shape=(n, c), min_value=-30, max_value=30, dtype=dtype))
    targets = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    (jl, jp), (pl, pp) = both("softmax_xent_forward", logits, targets)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert jl.dtype == pl.dtype == dtype and jp.dtype == dtype
    np.testing.assert_allclose(jl, pl, rtol=tol, atol=tol)
    np.testing.assert_allclose(jp, pp, rtol=tol, atol=tol)
    g = data.draw(arrays(shape=(n,), dtype=dtype))
    jg, pg = both("softmax_xent_backward", pp, targets, g)
    np.testing.assert_allclose(jg, pg, rtol=tol, atol=tol)


def run_python(code, jit):
    env = {**os.environ, "MINIGRAD_JIT": jit}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


def test_the_switch_selects_the_numpy_twins():
    code = "from minigrad import kernels as k; print(k.JIT, k._chosen['tanh_backward'].__name__)"
    assert run_python(code, "0").stdout.split() == ["False", "_tanh_backward_np"]
    assert run_python(code, "1").stdout.split() == ["True", "_tanh_backward_jit"]
    bad = run_python(code, "yes")
    assert bad.returncode != 0 and "MINIGRAD_JIT must be '0' or '1', got 'yes'" in bad.stderr


def test_the_ops_give_the_same_numbers_on_both_paths():
    code = (
        "import numpy as np, minigrad as mg\n"
        "x = mg.Tensor(np.linspace(-2, 2, 12).reshape(3, 4), requires_grad=True)\n"
        "loss = mg.functional.cross_entropy(x.tanh() + x.sigmoid() + x[np.array([0, 0, 2])], "
        "np.array([1, 3, 0]))\n"
        "loss.backward()\n"
        "print(repr(loss.item()), repr(x.grad.tolist()))\n"
    )
    jitted, plain = run_python(code, "1"), run_python(code, "0")
    assert jitted.returncode == 0, jitted.stderr
    jl, jg = jitted.stdout.split(" ", 1)
    pl, pg = plain.stdout.split(" ", 1)
    np.testing.assert_allclose(float(jl), float(pl), rtol=1e-14)
    np.testing.assert_allclose(eval(jg), eval(pg), rtol=1e-12, atol=1e-15)


@st.composite
def step_case(draw):
    """Arrays for one recurrent step: (batch, units), activation codes and a dtype."""
    dtype = draw(st.sampled_from(DTYPES))
    batch, units = draw(st.integers(1, 4)), draw(st.integers(1, 5))

    def block(width=1, low=-3.0, high=3.0):
        return draw(arrays(shape=(batch, width * units), dtype=dtype, min_value=low, max_value=high))

    codes = st.sampled_from(sorted(kernels.ACTIVATION_CODES.values()))
    return dtype, batch, units, block, draw(codes), draw(codes)


def assert_twins_agree(name, inputs, outputs, dtype):
    """Run both twins of a kernel that writes into ``outputs`` and compare what they wrote."""
    jitted, plain = kernels.TWINS[name]
    results = []
    for kernel in (jitted, plain):
        outs = [np.full(shape, np.nan, dtype=dtype) for shape in outputs]
        kernel(*inputs, *outs)
        results.append(outs)
    tol = 2e-6 if dtype == np.float32 else 1e-13
    for a, b in zip(*results, strict=True):
        assert a.dtype == dtype and not np.isnan(a).any()
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@given(case=step_case())
def test_activation_twins_agree(case):
    dtype, _, _, block, act, _ = case
    z, y, g = block(), block(low=-1, high=1), block()
    assert_twins_agree("activate", (z, act), [z.shape], dtype)
    assert_twins_agree("activation_backward", (y, g, act), [y.shape], dtype)


@given(case=step_case())
def test_lstm_twins_agree(case):
    dtype, batch, units, block, act, ract = case
    shape, gates_shape = (batch, units), (batch, 4 * units)
    assert_twins_agree("lstm_forward", (block(4), block(), act, ract),
                       [gates_shape, shape, shape, shape], dtype)  # fmt: skip
    gates, tanh_c = block(4, -1, 1), block(low=-1, high=1)
    assert_twins_agree("lstm_backward", (block(), block(), gates, block(), tanh_c, act, ract),
                       [gates_shape, shape], dtype)  # fmt: skip


@given(case=step_case())
def test_gru_twins_agree(case):
    dtype, batch, units, block, act, ract = case
    shape, gates_shape = (batch, units), (batch, 3 * units)
    assert_twins_agree("gru_forward", (block(3), block(3), block(), act, ract),
                       [gates_shape, shape], dtype)  # fmt: skip
    assert_twins_agree("gru_backward", (block(), block(), block(3, -1, 1), block(3), act, ract),
                       [gates_shape, gates_shape, shape], dtype)  # fmt: skip


def test_exp_form_activations_saturate_without_nan():
    z = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]], dtype=np.float32)
    with np.errstate(over="ignore"):
        exact_sigmoid = 1 / (1 + np.exp(-z.astype(np.float64)))
    for name, code in kernels.ACTIVATION_CODES.items():
        out = np.empty_like(z)
        kernels.TWINS["activate"][0](z, code, out)
        expected = {"tanh": np.tanh(z), "sigmoid": exact_sigmoid, "relu": np.maximum(z, 0), "linear": z}[name]
        np.testing.assert_allclose(out, expected, rtol=1e-6, err_msg=name)
