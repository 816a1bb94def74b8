"""Every trained claim of the lessons holds on every floating-point path.

A claim about a trained model must not ride on the last bits of rounding: the same lesson
runs, in a fresh process each, on the Numba kernels with BLAS on one thread and on two, on
the numpy twins of the kernels (``MINIGRAD_JIT=0``), with every initial weight one unit in
the last place up (``MINIGRAD_INIT_NUDGE=1``), and with OpenBLAS's kernels for another
processor (``OPENBLAS_CORETYPE``: no FMA, another order of summation).  The runs are slow
(minutes), so they carry the ``slow`` marker that ``.ci/run`` selects; the rounding
perturbation itself is checked here quickly.
"""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import layers
import minigrad as mg
from lessons.__main__ import lesson_files
from minigrad import init

TRAINED = (
    "l01_rnn_structure",
    "l02_rnn_memory",
    "l03_hello_rnn",
    "l05_bptt_derivation",
    "l06_gru",
    "l07_attention",
)
PATHS = {  # BLAS on one thread unless the path is about threads (idle OpenBLAS threads spin on a busy machine)
    "Numba kernels, BLAS on 1 thread": {"OPENBLAS_NUM_THREADS": "1"},
    "Numba kernels, BLAS on 2 threads": {"OPENBLAS_NUM_THREADS": "2"},
    "numpy twins (MINIGRAD_JIT=0)": {"MINIGRAD_JIT": "0", "OPENBLAS_NUM_THREADS": "1"},
    "initial weights 1 ulp up (MINIGRAD_INIT_NUDGE=1)": {
        "MINIGRAD_INIT_NUDGE": "1",
        "OPENBLAS_NUM_THREADS": "1",
    },
    "OpenBLAS kernels of a processor without FMA (OPENBLAS_CORETYPE=Nehalem)": {
        "OPENBLAS_CORETYPE": "Nehalem",
        "OPENBLAS_NUM_THREADS": "1",
    },
}
CHECKED = re.compile(r"^  \[(ok|FAILED)\] (.*)$", re.MULTILINE)


def one_ulp_up(values: np.ndarray) -> np.ndarray:
    """The next float above each value, from the bits: +1 for a positive, -1 for a negative."""
    bits = values.view(np.int64 if values.dtype == np.float64 else np.int32)
    return np.where(values > 0, bits + 1, bits - 1).astype(bits.dtype).view(values.dtype)


def env_for(path: str, output) -> dict[str, str]:
    """This process's environment with only ``path``'s settings among those the paths vary."""
    varied = {name for settings in PATHS.values() for name in settings}
    kept = {name: value for name, value in os.environ.items() if name not in varied}
    return {**kept, **PATHS[path], "MINIGRAD_LESSON_OUTPUT": str(output)}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_nudge_moves_every_nonzero_initial_weight_one_ulp_up(monkeypatch, dtype):
    drawn = {}
    for nudge in (False, True):
        monkeypatch.setattr(init, "NUDGE", nudge)
        mg.manual_seed(3)
        drawn[nudge] = [init.get(name)((6, 5), dtype) for name in ("glorot_uniform", "orthogonal", "zeros")]
        drawn[nudge].append(init.get(init.identity)((4, 4), dtype))  # a callable goes the same way
    for plain, nudged in zip(drawn[False], drawn[True], strict=True):
        assert nudged.dtype == plain.dtype == dtype
        nonzero = plain != 0
        np.testing.assert_array_equal(nudged[nonzero], one_ulp_up(plain[nonzero]))
        np.testing.assert_array_equal(nudged[~nonzero], 0.0)  # zeros stay zero
    assert np.all(drawn[True][0] > drawn[False][0])


def test_the_nudge_reaches_a_layers_weights_and_changes_nothing_else(monkeypatch):
    weights = {}
    for nudge in (False, True):
        monkeypatch.setattr(init, "NUDGE", nudge)
        mg.manual_seed(0)
        rnn = layers.SimpleRNN(4, input_size=3)
        weights[nudge] = rnn.get_weights()
        weights[nudge].append(mg.random.generator().random(3))  # the generator is where it was
    kernel, recurrent, bias, after = weights[True]
    np.testing.assert_array_equal(kernel, one_ulp_up(weights[False][0]))
    np.testing.assert_array_equal(recurrent, one_ulp_up(weights[False][1]))
    np.testing.assert_array_equal(bias, weights[False][2])  # zeros
    np.testing.assert_array_equal(after, weights[False][3])


def test_the_nudge_is_read_from_the_environment_and_a_bad_value_is_refused():
    code = "import minigrad as mg; mg.manual_seed(0); print(mg.init.get('uniform')((3,), 'float64').tobytes().hex())"
    drawn = {}
    for value in ("0", "1"):
        env = {**os.environ, "MINIGRAD_INIT_NUDGE": value}
        run = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        drawn[value] = np.frombuffer(bytes.fromhex(run.stdout.strip()), dtype=np.float64)
    np.testing.assert_array_equal(drawn["1"], one_ulp_up(drawn["0"]))
    env = {**os.environ, "MINIGRAD_INIT_NUDGE": "yes"}
    bad = subprocess.run([sys.executable, "-c", "import minigrad"], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "MINIGRAD_INIT_NUDGE must be '0' or '1', got 'yes'" in bad.stderr


def run_trained_lessons(path: str, output) -> tuple[dict[str, list[str]], list[str]]:
    """Run every lesson with trained claims on one path: (checked lines by lesson, failures)."""
    index = {p.stem: i for i, p in enumerate(lesson_files())}
    checked, failures = {}, []
    for stem in TRAINED:
        run = subprocess.run(
            [sys.executable, "-m", "lessons", "run", str(index[stem])],
            env=env_for(path, output),
            capture_output=True,
            text=True,
        )
        checked[stem] = [f"[{verdict}] {claim}" for verdict, claim in CHECKED.findall(run.stdout)]
        if run.returncode != 0:
            said = run.stderr.strip().splitlines() or [f"exit status {run.returncode}, nothing on stderr"]
            failures.append(f"{stem} on {path}: {said[-1]}")
    return checked, failures


@pytest.mark.slow
def test_the_paths_are_what_they_say():
    """Each path's process really runs the BLAS threads, kernel and weights it names."""
    code = (
        "import threadpoolctl, numpy, minigrad\n"
        "blas = [i for i in threadpoolctl.threadpool_info() if i['internal_api'] == 'openblas']\n"
        "print(blas[0]['num_threads'], blas[0]['architecture'], minigrad.kernels.JIT, minigrad.init.NUDGE)\n"
    )
    for path in PATHS:
        run = subprocess.run(
            [sys.executable, "-c", code], env=env_for(path, "."), capture_output=True, text=True, check=True
        )
        threads, architecture, jit, nudge = run.stdout.split()
        settings = PATHS[path]
        assert threads == settings.get("OPENBLAS_NUM_THREADS", threads)
        assert architecture == settings.get("OPENBLAS_CORETYPE", architecture)
        assert jit == str(settings.get("MINIGRAD_JIT", "1") == "1")
        assert nudge == str(settings.get("MINIGRAD_INIT_NUDGE", "0") == "1")


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS)
def test_every_trained_claim_holds_on_the_path(path, tmp_path):
    checked, failures = run_trained_lessons(path, tmp_path)
    print(f"\n{path}")
    for stem, lines in checked.items():
        print(f"{stem}:\n  " + "\n  ".join(lines))
    assert not failures, "\n".join(failures)
    assert all(checked.values()), "a lesson checked no claim"
