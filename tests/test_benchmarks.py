"""The benchmark's own machinery: its thread settings reach the timing processes, its
comparators compute what minigrad computes, its statistics and memory measures are right,
and a quick run of the whole benchmark writes every table (timings are never asserted)."""

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import autograd  # noqa: E402
import memory  # noqa: E402
import quiet  # noqa: E402
import report  # noqa: E402
import rnn  # noqa: E402
import timing  # noqa: E402
import training  # noqa: E402

import minigrad as mg  # noqa: E402

SETTINGS_PROBE = """
import json, sys
sys.path.insert(0, {here!r})
import numpy, torch
import quiet
numpy.ones((64, 64)) @ numpy.ones((64, 64))
torch.ones((64, 64)) @ torch.ones((64, 64))
try:
    print(json.dumps(quiet.settings_in_effect({threads})))
except RuntimeError as error:
    print(json.dumps({{"error": str(error)}}))
"""


def settings_probe(env, threads):
    """(what quiet.settings_in_effect read in a new process with ``env``, its stderr)."""
    code = SETTINGS_PROBE.format(here=str(ROOT / "benchmarks"), threads=threads)
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1]), run.stderr


def test_quiet_settings_reach_the_timing_process():
    found, stderr = settings_probe(quiet.environment(2), 2)
    assert "error" not in found, found
    assert found["torch_threads"] == 2 and found["numba_threads"] == 2
    openblas = [p for p in found["pools"] if p["api"] == "openblas"]
    assert openblas and all(p["spin_timeout"] == quiet.OPENBLAS_TIMEOUT for p in openblas)
    assert any(p["api"] == "openmp" and p["threads"] == 2 for p in found["pools"])
    assert quiet.openmp_settings(stderr) == {"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE",
                                             "GOMP_SPINCOUNT": "0"}  # fmt: skip


def test_settings_not_in_effect_are_refused():
    """Without the quiet settings (each library's defaults), both checks raise."""
    env = {
        k: v
        for k, v in quiet.environment(2).items()
        if k not in ("OPENBLAS_THREAD_TIMEOUT", "OMP_WAIT_POLICY")
    }
    found, stderr = settings_probe(env, 1)
    assert "thread timeout" in found["error"] and "expected 1" in found["error"]
    with pytest.raises(RuntimeError, match="not passive"):
        quiet.openmp_settings(stderr)


def test_the_eager_loop_computes_minigrads_autograd_lstm():
    """The comparator is fair only if it computes the same: outputs and gradients against
    minigrad's autograd LSTM on the same weights."""
    size = (4, 3, 5, 6)
    ours, x = rnn.make_layer("LSTM", "autograd", size, "float64"), rnn.make_input(size, "float64")
    xt = mg.Tensor(x, requires_grad=True)
    out = ours(xt)
    out.sum().backward()
    weights = [torch.from_numpy(w).requires_grad_() for w in autograd.keras_weights(ours)]
    xs = torch.from_numpy(x).requires_grad_()
    zeros = torch.zeros((3, 6), dtype=torch.float64)
    theirs = autograd.lstm_loop(xs, zeros, zeros, *weights, torch.stack)
    theirs.sum().backward()
    np.testing.assert_allclose(theirs.detach().numpy(), out.data, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad, rtol=1e-10, atol=1e-12)
    kernel, recurrent, bias = ours.cell.kernel, ours.cell.recurrent_kernel, ours.cell.bias
    for w, p in zip(weights, (kernel, recurrent, bias), strict=True):
        np.testing.assert_allclose(w.grad.numpy(), p.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["matmul", "tanh", "add", "chain"])
def test_each_op_case_gives_both_libraries_the_same_work(name):
    arrays = autograd.op_arrays(name)
    compute = {"matmul": lambda a, b: a @ b, "tanh": lambda a: a.tanh(), "add": lambda a, b: a + b,
               "chain": autograd.chain}[name]  # fmt: skip
    ours, theirs = compute(*map(mg.Tensor, arrays)), compute(*map(torch.from_numpy, arrays))
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-5, atol=1e-6)
    for library in (mg.Tensor, torch.tensor):
        autograd.op_step(library, name)()  # runs, leaves its gradients cleared


@pytest.mark.parametrize("joined", [False, True])
def test_the_character_models_take_the_same_step(joined):
    # minigrad's plain model, or the one that looks its input projection up
    # (layers.EmbeddedRecurrent), and PyTorch's plain one: after one step each holds the same
    # clipped gradients of the same loss
    ours = training.char_lm_minigrad(joined)
    theirs = training.char_lm_torch(ours.model)
    ours()
    theirs()
    (embed, lstm, dense), (torch_embed, torch_lstm, torch_dense) = ours.model, theirs.model
    pairs = [
        (embed.embeddings.grad, torch_embed.weight.grad),
        (lstm.cell.kernel.grad.T, torch_lstm.weight_ih_l0.grad),
        (lstm.cell.recurrent_kernel.grad.T, torch_lstm.weight_hh_l0.grad),
        (lstm.cell.bias.grad, torch_lstm.bias_ih_l0.grad),
        (lstm.cell.bias.grad, torch_lstm.bias_hh_l0.grad),
        (dense.kernel.grad.T, torch_dense.weight.grad),
        (dense.bias.grad, torch_dense.bias.grad),
    ]
    for ours_grad, torch_grad in pairs:
        expected = torch_grad.numpy()
        np.testing.assert_allclose(ours_grad, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_ratio_quartiles_are_those_of_the_paired_ratios():
    samples = {"minigrad": [2.0, 3.0, 4.0, 10.0, 6.0], "torch": [1.0, 1.0, 2.0, 2.0, 3.0]}
    got = timing.summary(samples, [("minigrad", "torch")])
    paired = np.array(samples["minigrad"]) / np.array(samples["torch"])
    q1, median, q3 = np.percentile(paired, [25, 50, 75])
    assert got["ratios"]["minigrad/torch"] == pytest.approx({"median": median, "q1": q1, "q3": q3})
    assert got["times"]["torch"]["median"] == pytest.approx(2000.0)  # ms
    assert got["repeats"] == 5


def test_memory_measures_see_a_known_allocation():
    """A step that holds 8 MiB at its peak, in each library's measure."""

    def numpy_step():
        a = np.ones(2**21, np.float32)
        b = a + 1
        del a, b

    def torch_step():
        a = torch.ones(2**21, dtype=torch.float32)
        b = a + 1
        del a, b

    assert memory.traced_peak_mb(numpy_step) == pytest.approx(16, abs=0.5)
    assert memory.torch_peak_mb(torch_step) == pytest.approx(16, abs=0.5)


def test_readme_without_its_markers_is_left_unchanged(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# x\n" + report.README_END + "\n")
    with pytest.raises(ValueError, match="once each"):
        report.write_readme(readme, {})
    assert readme.read_text() == "# x\n" + report.README_END + "\n"


@pytest.mark.slow  # a minute or more of compiling and timing: .ci/run runs it
def test_quick_run_writes_every_table_and_the_readme(tmp_path):
    readme, results, figures = tmp_path / "README.md", tmp_path / "results.txt", tmp_path / "figures.json"
    readme.write_text(f"# x\n\n{report.README_START}\nstale figures\n{report.README_END}\n\nafter\n")
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--json", str(figures),
         "--output", str(results), "--write-readme", str(readme)],
        capture_output=True, text=True, timeout=1200, env={**os.environ, "OMP_WAIT_POLICY": "ACTIVE"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    found = json.loads(figures.read_text())
    assert [r["threads"] for r in found["runs"]] == [1, 2]
    for r in found["runs"]:
        assert r["settings"]["openmp"]["OMP_WAIT_POLICY"] == "PASSIVE"  # set for the child, whatever came
        sections = r["sections"]
        assert {c["case"].split()[0] for c in sections["fused"]} == {"SimpleRNN", "LSTM", "GRU"}
        assert {c["case"] for c in sections["ops"]} == {"matmul", "tanh", "add", "chain"}
        for case in sections["fused"] + sections["autograd_lstm"]:
            assert set(case["phases"]) == {"forward", "train"}
        for case in itertools.chain(*sections.values()):
            for phase in case["phases"].values():
                assert all(q["median"] > 0 for q in phase["ratios"].values())
    assert len(found["memory"]) == len(memory.PROBES) and found["startup"]["cold_compile_s"] > 0
    text = results.read_text()
    assert "thread timeout 4" in text and "Autograd LSTM" in text and "Peak memory" in text
    written = readme.read_text()
    assert "stale figures" not in written and written.endswith(f"{report.README_END}\n\nafter\n")
    assert "| layer (T, B, I, U) | float32, 1 thread | float32, 2 threads |" in written
