"""Each Numba kernel against its numpy twin, and the MINIGRAD_JIT switch."""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numba import njit

from layers.fused import pointwise, twins
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


def test_the_numpy_twins_compile_nothing(tmp_path):
    """With MINIGRAD_JIT=0 every kernel and every fused layer, forward and backward, in both
    dtypes, runs without Numba compiling a single function (counted by Numba's own events)."""
    code = (
        "from numba.core import event\n"
        "compiled = []\n"
        "class Count(event.Listener):\n"
        "    def on_start(self, ev): compiled.append(ev.data['dispatcher'].py_func.__qualname__)\n"
        "    def on_end(self, ev): pass\n"
        "event.register('numba:compile', Count())\n"
        "import layers, minigrad\n"
        "minigrad.kernels.warm_up()\n"
        "layers.fused.warm_up()\n"
        "print(sorted(set(compiled)))\n"
    )
    env = {**os.environ, "MINIGRAD_JIT": "0", "NUMBA_CACHE_DIR": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_a_fused_layer_compiles_one_backward_kernel_whatever_the_gradient():
    """The outputs' gradient comes read-only from the engine, or as a fresh copy where it was
    not contiguous (a sum's gradient is a broadcast): both reach the kernel as one type, so
    the kernel that warm_up compiles is the one every training step uses."""
    code = (
        "import numpy as np, layers, minigrad\n"
        "from layers.fused import lstm\n"
        "layer = layers.LSTM(3, return_sequences=True)\n"
        "x = minigrad.Tensor(np.ones((2, 4, 2)))\n"
        "layer(x).sum().backward()\n"
        "(layer(x) * 2.0).sum().backward()\n"
        "print(len(lstm._backward_jit.signatures))\n"
    )
    run = run_python(code, "1")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "1"


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
def sequence_case(draw, gates):
    """Inputs of a fused layer's time loop: time-major projections, a recurrent kernel,
    initial states, a mask that keeps some steps, a recurrent dropout mask, the activation's
    and the recurrent activation's codes, and a dtype."""
    dtype = draw(st.sampled_from(DTYPES))
    batch, time, units = draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 4))

    def array(*shape, low=-2.0, high=2.0):
        return draw(arrays(shape=shape, dtype=dtype, min_value=low, max_value=high))

    codes = st.sampled_from(sorted(pointwise.CODES.values()))
    gate_codes = st.sampled_from([pointwise.SIGMOID, pointwise.TANH])  # bounded: an LSTM whose
    # gates are relu grows like h^3 per step and overflows float32 within five steps
    return {
        "x_proj": array(time, batch, gates * units),
        "recurrent": array(units, gates * units, low=-1, high=1),
        "states": [array(batch, units), array(batch, units)],
        "keep": draw(arrays(shape=(batch, time))) > -1.0,
        "rmask": np.where(array(batch, units) > -1.0, 1.5, 0.0).astype(dtype),
        "codes": (draw(codes), draw(gate_codes)),
        "g_outputs": array(batch, time, units),
        "g_finals": [array(batch, units), array(batch, units)],
        "shape": (time, batch, units),
    }


def assert_all_close(jitted, plain, dtype):
    """Equal to float64's rounding, where the twins' algebra is proven; in float32, to 1e-3 of
    the largest value: the twins round each activation differently (the kernels' own float32
    functions, within 3 ulps; numpy's, within about 1) and add the recurrent product to the
    projection in another order (BLAS's beta = 1 against numpy's +), and a few steps with an
    unbounded activation and a recurrent mask of 1.5 amplify a last-bit difference thousands
    of times."""
    tol = 1e-3 if dtype == np.float32 else 1e-12
    for a, b in zip(jitted, plain, strict=True):
        assert a.dtype == dtype and np.isfinite(a).all()
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, float(np.abs(b).max(initial=0))))


def run_twins(name, make_arguments, written):
    """Run a kernel's two twins on fresh copies of the same arguments; return what each wrote."""
    results = []
    for kernel in twins.TWINS[name]:
        arguments = make_arguments()
        kernel(*arguments)
        results.append([arguments[i] if isinstance(i, int) else i(arguments) for i in written])
    return results


@given(case=sequence_case(gates=4))
def test_lstm_sequence_twins_agree(case):
    (time, batch, units), dtype = case["shape"], case["x_proj"].dtype
    act, ract = case["codes"]
    saved = tuple(np.zeros((time, batch, k * units), dtype) for k in (1, 4, 1, 1))

    def forward_arguments():
        h, c = (s.copy() for s in case["states"])
        return (case["x_proj"].copy(), case["recurrent"], h, c, case["keep"], case["rmask"], act, ract,
                np.zeros((batch, time, units), dtype), tuple(a.copy() for a in saved))  # fmt: skip

    jitted, plain = run_twins("lstm_forward", forward_arguments, [8, 2, 3, 0])  # outputs, h, c, z
    assert_all_close(jitted, plain, dtype)
    twins.TWINS["lstm_forward"][1](*forward_arguments()[:9], saved)  # what backward reads

    def backward_arguments():
        dh, dc = (g.copy() for g in case["g_finals"])
        return (case["g_outputs"], np.ascontiguousarray(case["recurrent"].T), dh, dc, case["keep"],
                case["rmask"], act, ract, saved, np.zeros((time, batch, 4 * units), dtype))  # fmt: skip

    jitted, plain = run_twins("lstm_backward", backward_arguments, [9, 2, 3])  # dL/dx_proj, dh0, dc0
    assert_all_close(jitted, plain, dtype)


@given(case=sequence_case(gates=3))
def test_gru_sequence_twins_agree(case):
    (time, batch, units), dtype = case["shape"], case["x_proj"].dtype
    act, ract = case["codes"]
    recurrent_bias = case["x_proj"][0, 0].copy()
    saved = tuple(np.zeros((time, batch, k * units), dtype) for k in (1, 3, 1, 1))

    def forward_arguments():
        return (case["x_proj"], case["recurrent"], recurrent_bias, case["states"][0].copy(), case["keep"],
                case["rmask"], act, ract, np.zeros((batch, time, units), dtype),
                tuple(a.copy() for a in saved))  # fmt: skip

    jitted, plain = run_twins("gru_forward", forward_arguments, [8, 3])  # outputs, h
    assert_all_close(jitted, plain, dtype)
    twins.TWINS["gru_forward"][1](*forward_arguments()[:9], saved)

    def backward_arguments():
        return (case["g_outputs"], np.ascontiguousarray(case["recurrent"].T), case["g_finals"][0].copy(),
                case["keep"], case["rmask"], act, ract, saved, np.zeros((time, batch, 3 * units), dtype),
                np.zeros((time, batch, units), dtype))  # fmt: skip

    jitted, plain = run_twins("gru_backward", backward_arguments, [8, 9, 2])  # dL/dx_proj, dL/dhr_n, dh0
    assert_all_close(jitted, plain, dtype)


@given(case=sequence_case(gates=1))
def test_simple_rnn_sequence_twins_agree(case):
    (time, batch, units), dtype = case["shape"], case["x_proj"].dtype
    act = case["codes"][0]

    def forward_arguments():
        return (case["x_proj"].copy(), case["recurrent"], case["states"][0].copy(), case["keep"], case["rmask"], act,
                np.zeros((batch, time, units), dtype), np.zeros((time, batch, units), dtype))  # fmt: skip

    jitted, plain = run_twins("simple_rnn_forward", forward_arguments, [6, 2, 0])  # outputs, h, z
    assert_all_close(jitted, plain, dtype)
    outputs = plain[0]

    def backward_arguments():
        return (case["g_outputs"], np.ascontiguousarray(case["recurrent"].T), case["g_finals"][0].copy(),
                case["keep"], case["rmask"], act, outputs, np.zeros((time, batch, units), dtype))  # fmt: skip

    jitted, plain = run_twins("simple_rnn_backward", backward_arguments, [7, 2])  # dL/dx_proj, dh0
    assert_all_close(jitted, plain, dtype)


@njit
def _exp_jitted(x):
    """The kernels' scalar exponential, element by element."""
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = pointwise.exp(x[i])
    return out


def test_the_exp_is_exact_to_rounding_and_saturates_without_nan():
    x = np.random.default_rng(0).uniform(-700, 700, 5000)
    exact = np.exp(x.astype(np.longdouble))
    assert np.max(np.abs(_exp_jitted(x) - exact) / exact) < 5e-16
    out = _exp_jitted(np.array([-1e4, -np.inf, 0.0, 1e4, np.inf, np.nan]))
    assert out[0] == out[1] and 0 < out[0] < 1e-307 and out[2] == 1  # tiny, not NaN
    assert out[3] == out[4] > 1e307 and np.isnan(out[5])  # huge, not inf; NaN stays NaN


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_activations_saturate_without_nan(dtype):
    z = np.array([-np.inf, -1e4, -50.0, 0.0, 50.0, 1e4, np.inf, np.nan], dtype)
    with np.errstate(over="ignore"):
        exact_sigmoid = 1 / (1 + np.exp(-z.astype(np.float64)))
    for name, code in pointwise.CODES.items():
        got = _activate_jitted(z, code)
        expected = {"tanh": np.tanh(z), "sigmoid": exact_sigmoid, "relu": np.maximum(z, 0), "linear": z}[name]
        np.testing.assert_allclose(got[:-1], expected[:-1], rtol=1e-6, atol=1e-30, err_msg=name)
        assert np.isnan(got[-1]), name


# --- the fused kernels' activations, in ulps against numpy's own functions ---
SMALLEST_NORMAL = {np.float32: np.finfo(np.float32).tiny, np.float64: np.finfo(np.float64).tiny}


def ulps(got, exact, dtype):
    """|got - exact| in units of the last place of exact rounded to dtype (extended precision)."""
    spacing = np.spacing(np.abs(exact.astype(dtype))).astype(np.longdouble)
    return np.abs(got.astype(np.longdouble) - exact) / spacing


def _activate_jitted(z, code):
    """A kernel's activation of one block of columns, on a flat array."""
    out = np.empty_like(z)
    pointwise.activate_columns(z[None], out[None], 0, z.size, code)
    return out


def exact_activation(z, name):
    """tanh or sigmoid of z in extended precision (numpy's own long double tanh and exp)."""
    zl = z.astype(np.longdouble)
    with np.errstate(over="ignore"):
        return np.tanh(zl) if name == "tanh" else 1 / (1 + np.exp(-zl))


@st.composite
def activation_inputs(draw, dtype):
    """Any finite floats of dtype, tiny ones (where tanh's exponential form cancels) included."""
    width = 32 if dtype == np.float32 else 64
    values = st.floats(allow_nan=False, allow_infinity=False, width=width) | st.floats(
        -1 / 1024, 1 / 1024, width=width
    )
    return np.array(draw(st.lists(values, min_size=1, max_size=40)), dtype=dtype)


@pytest.mark.parametrize("path", ["numba", "numpy twin"])
@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_the_kernels_activations_are_accurate_to_a_few_ulps(path, name, dtype, data):
    z = data.draw(activation_inputs(dtype))
    code = pointwise.CODES[name]
    got = _activate_jitted(z, code) if path == "numba" else pointwise.activate_np(z, code)
    assert got.dtype == dtype
    exact = exact_activation(z, name)
    normal = np.abs(exact) >= SMALLEST_NORMAL[dtype]
    error = ulps(got, exact, dtype)
    assert np.all(error[normal] <= 3), (z[normal][error[normal] > 3], error[normal].max())
    # below the smallest normal number (sigmoid's far negative tail) the answer is tiny too
    assert np.all(np.abs(got[~normal]) <= SMALLEST_NORMAL[dtype])


def many_floats(dtype, count=200_000):
    """Floats of every binade (random bit patterns, either sign), a dense stretch of [-20, 20]
    where the gates work, and the neighbours of the points where tanh switches formulas."""
    rng = np.random.default_rng(7)
    integer = np.uint32 if dtype == np.float32 else np.uint64
    patterns = rng.integers(0, np.iinfo(integer).max, count, dtype=integer, endpoint=True).view(dtype)
    limits = [pointwise.TANH_SERIES_LIMIT_FLOAT32 if dtype == np.float32 else pointwise.TANH_SERIES_LIMIT]
    switch = [np.nextafter(dtype(limit), dtype(sign * np.inf)) for limit in limits for sign in (1, -1)]
    near_switch = np.concatenate([np.linspace(s * 0.999, s * 1.001, 2001, dtype=dtype) for s in switch])
    return np.concatenate(
        [patterns[np.isfinite(patterns)], rng.uniform(-20, 20, count).astype(dtype), near_switch, switch]
    )


@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_the_kernels_activations_stay_within_3_ulps_over_every_binade(name, dtype):
    """The bound the pointwise module's docstring states, measured against long double on
    hundreds of thousands of inputs; below the smallest normal result, within one spacing of
    the subnormals (float32) or under the smallest normal (float64's clamped exponential)."""
    z = many_floats(dtype)
    got, exact = _activate_jitted(z, pointwise.CODES[name]), exact_activation(z, name)
    normal = np.abs(exact) >= SMALLEST_NORMAL[dtype]
    error = ulps(got[normal], exact[normal], dtype)
    assert error.max() <= 3, (z[normal][np.argmax(error)], error.max())
    below = np.abs(got[~normal].astype(np.longdouble) - exact[~normal])
    assert np.all(below <= (np.spacing(dtype(0)) if dtype == np.float32 else SMALLEST_NORMAL[dtype]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_kernels_activations_at_the_edges(dtype):
    info = np.finfo(dtype)
    tiny, subnormal = info.tiny, np.spacing(dtype(0))
    z = np.array([np.nan, np.inf, -np.inf, info.max, -info.max, 1e4, -1e4, 0.0, -0.0, tiny, -tiny, subnormal,
                  -subnormal, 1e-30], dtype)  # fmt: skip
    tanh, sigmoid = (_activate_jitted(z, pointwise.CODES[name]) for name in ("tanh", "sigmoid"))
    assert np.isnan(tanh[0]) and np.isnan(sigmoid[0])
    assert list(tanh[1:7]) == [1, -1, 1, -1, 1, -1] and list(sigmoid[1:7:2]) == [1, 1, 1]
    assert np.all(sigmoid[2:7:2] < tiny) and np.all(sigmoid[2:7:2] >= 0)
    # tanh(z) = z to within rounding for tiny z, with its sign (zero's too); sigmoid is 1/2
    assert np.array_equal(tanh[7:], z[7:]) and np.array_equal(np.signbit(tanh[7:]), np.signbit(z[7:]))
    assert np.all(sigmoid[7:] == 0.5)


@given(x=st.lists(st.floats(-708.0, 709.0), min_size=1, max_size=40))
def test_the_exp_is_within_one_ulp_of_numpys(x):
    x = np.array(x)
    assert np.all(ulps(_exp_jitted(x), np.exp(x.astype(np.longdouble)), np.float64) <= 1)


@pytest.mark.parametrize("scale", [1e-5, 1e-3])
@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
def test_the_fused_float32_path_keeps_small_activations_precise(kind, scale):
    """Inputs near 1e-5 keep every activation near 0, where a tanh written 2/(1 + e^-2z) - 1
    lost all but two digits: the fused float32 layer must match float64 to float32 precision."""
    import layers
    from minigrad import Tensor

    reference = getattr(layers, kind)(4, return_sequences=True, impl="autograd", input_size=3)
    fused = getattr(layers, kind)(4, return_sequences=True, impl="fused", dtype=np.float32, input_size=3)
    fused.load_state_dict(reference.state_dict())
    x = (np.random.default_rng(1).uniform(-1, 1, (8, 6, 3)) * scale).astype(np.float32)
    x64 = Tensor(x.astype(np.float64), requires_grad=True)
    x32 = Tensor(x, requires_grad=True)
    expected, got = reference(x64), fused(x32)
    expected.sum().backward()
    got.sum().backward()
    relative = np.abs(got.data - expected.data).max() / np.abs(expected.data).max()
    assert relative < 1e-6, relative  # 4e-3 to 2e-2 at 1e-5 with the cancelling tanh
    relative_grad = np.abs(x32.grad - x64.grad).max() / np.abs(x64.grad).max()
    assert relative_grad < 1e-6, relative_grad
