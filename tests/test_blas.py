"""layers/fused/blas.py: the fused kernels' products run in numpy's own BLAS, give numpy's
numbers, and load from Numba's cache in a new process."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numba import njit
from numba.core.errors import TypingError

from layers.fused import blas
from layers.fused.lstm import FusedLSTM

ROOT = Path(__file__).resolve().parent.parent


@njit
def gemm_in_a_kernel(a, b, out, beta):
    blas.gemm(a, b, out, beta)


@st.composite
def products(draw):
    """(a, b) of one float dtype, each C- or Fortran-ordered, with sizes from 1 (numpy's gemv
    and dot cases) up."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    m, k, n = (draw(st.one_of(st.integers(1, 3), st.integers(1, 80))) for _ in range(3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    order_a, order_b = draw(st.sampled_from("CF")), draw(st.sampled_from("CF"))
    return np.asarray(a, order=order_a), np.asarray(b, order=order_b)


@given(products(), st.booleans())
def test_gemm_is_bit_identical_to_numpys_product(product, from_a_kernel):
    a, b = product
    out = np.full((a.shape[0], b.shape[1]), np.nan, a.dtype)  # beta = 0 never reads out
    (gemm_in_a_kernel if from_a_kernel else blas.gemm)(a, b, out, 0.0)
    np.testing.assert_array_equal(out, a @ b)
    np.testing.assert_array_equal(out, np.dot(a, b))


@given(products(), st.sampled_from([1.0, -0.5]))
def test_gemm_with_beta_adds_to_what_out_holds(product, beta):
    a, b = product
    before = np.random.default_rng(0).standard_normal((a.shape[0], b.shape[1])).astype(a.dtype)
    out = before.copy()
    gemm_in_a_kernel(a, b, out, beta)
    exact = a.astype(np.float64) @ b.astype(np.float64) + beta * before.astype(np.float64)
    scale = np.abs(a).astype(np.float64) @ np.abs(b) + np.abs(before)
    assert np.all(np.abs(out - exact) <= 4 * a.shape[1] * np.finfo(a.dtype).eps * scale)


def test_gemm_writes_into_a_block_of_a_larger_array():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 6))
    whole = np.zeros((3, 4, 6))
    gemm_in_a_kernel(a, b, whole[1], 0.0)
    np.testing.assert_array_equal(whole[1], a @ b)
    assert not whole[0].any() and not whole[2].any()


def test_gemm_refuses_mixed_dtypes_and_shapes_that_do_not_fit():
    a, b = np.ones((2, 3)), np.ones((3, 4))
    with pytest.raises(TypingError, match="one dtype"):
        gemm_in_a_kernel(a.astype(np.float32), b, np.zeros((2, 4)), 0.0)
    out = np.full((2, 5), 7.0)
    with pytest.raises(ValueError, match="do not fit"):
        blas.gemm(a, b, out, 0.0)
    assert np.all(out == 7.0)
    with pytest.raises(ValueError, match="unit stride"):
        blas.gemm(a, b, np.zeros((4, 2)).T, 0.0)


FUSED_RUN = """
import json, sys
sys.modules["scipy"] = None  # as if SciPy were not installed: importing it raises ImportError
import numpy as np, threadpoolctl
import layers
from layers.fused import blas, lstm
layer = layers.LSTM(3, return_sequences=True, input_size=2)
layer(np.ones((2, 4, 2))).sum().backward()
print(json.dumps({
    "blas": [lib["filepath"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"],
    "numpy_blas": [lib["filepath"] for lib in threadpoolctl.threadpool_info()
                   if lib["user_api"] == "blas" and "numpy" in lib["filepath"]],
    "cache_hits": [sum(k.stats.cache_hits.values()) for k in (lstm._forward_jit, lstm._backward_jit)],
}))
"""


def test_a_fused_layer_runs_in_numpys_blas_alone_and_loads_its_kernels_from_the_cache():
    """In a new process without SciPy (the second of two, so the kernels are in Numba's
    cache): the fused LSTM runs, its kernels come from the cache, and the only BLAS loaded is
    numpy's.  (Where SciPy is installed, Numba loads SciPy's BLAS when it compiles anything,
    but the kernels never call it.)"""
    for _ in range(2):
        run = subprocess.run([sys.executable, "-c", FUSED_RUN], cwd=ROOT, capture_output=True, text=True,
                             timeout=600, check=True)  # fmt: skip
    report = json.loads(run.stdout.splitlines()[-1])
    assert report["cache_hits"] == [1, 1]
    assert report["blas"] == report["numpy_blas"] and len(report["blas"]) == 1


def test_without_numpys_blas_the_fused_layers_raise_a_clear_error(monkeypatch):
    """A numpy whose BLAS exports none of the known CBLAS names: nothing is registered, and
    the first fused op says what was looked for and what to do."""
    monkeypatch.setattr(blas, "_find", lambda: None)
    problem, _, library = blas._register()
    assert library is None
    assert "scipy_cblas_sgemm64_" in problem and "cblas_sgemm" in problem and "impl='autograd'" in problem
    monkeypatch.setattr(blas, "PROBLEM", problem)
    with pytest.raises(RuntimeError, match="numpy's own BLAS"):
        FusedLSTM.apply(*(np.zeros(shape) for shape in [(1, 2, 1), (1, 1), (1, 1), (1, 4), (1, 4), (4,)]))


THREADS_AROUND_A_LOOP = """
import json
import numpy as np
import minigrad as mg
from layers.fused import blas
from layers.fused.lstm import FusedLSTM

get, _ = blas.THREAD_COUNT
seen = {"before": get()}
with blas.one_thread():
    seen["inside"] = get()
seen["after"] = get()
recorded = []
original = FusedLSTM.sequence_forward
def spy(self, *args):
    recorded.append(get())
    return original(self, *args)
FusedLSTM.sequence_forward = spy
x = mg.Tensor(np.ones((2, 3, 4)), requires_grad=True)
states = [mg.Tensor(np.zeros((2, 5))) for _ in range(2)]
outputs, *_ = FusedLSTM.apply(x, *states, np.ones((4, 20)), np.ones((5, 20)), np.zeros(20))
outputs.sum().backward()
seen["in the time loop"], seen["after the op"] = recorded[0], get()
print(json.dumps(seen))
"""


def test_the_time_loop_runs_numpys_blas_on_one_thread_and_gives_the_threads_back():
    if blas.THREAD_COUNT is None:
        pytest.skip("numpy's BLAS is not OpenBLAS: its thread count is left alone")
    env = {**__import__("os").environ, "OPENBLAS_NUM_THREADS": "2"}
    run = subprocess.run([sys.executable, "-c", THREADS_AROUND_A_LOOP], cwd=ROOT, capture_output=True,
                         text=True, env=env, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen == {"before": 2, "inside": 1, "after": 2, "in the time loop": 1, "after the op": 2}
