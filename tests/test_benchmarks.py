"""Smoke runs of the benchmark scripts so that they cannot rot (timings are never asserted)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def quick_run(script, tmp_path):
    """Run ``benchmarks/<script> --quick``; return what it printed and the figures it wrote."""
    out = tmp_path / "figures.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--quick", "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return run.stdout, json.loads(out.read_text())


@pytest.mark.slow  # half a minute of compiling and timing every layer: .ci/run runs it
def test_benchmark_quick_run_writes_every_row(tmp_path):
    printed, figures = quick_run("rnn.py", tmp_path)
    rows = figures["rows"]
    assert {(r["layer"], r["phase"]) for r in rows} == {
        (kind, phase) for kind in ("SimpleRNN", "LSTM", "GRU") for phase in ("forward", "train")
    }
    for row in rows:
        for impl in ("fused", "autograd", "numpy"):
            assert row[f"{impl}_ms"] > 0
    assert figures["startup"]["cold_compile_s"] > 0 and figures["startup"]["files_written_when_warm"] >= 0
    assert "fused ms" in printed


def test_training_benchmark_quick_run_times_both_cases(tmp_path):
    printed, figures = quick_run("training.py", tmp_path)
    assert figures["char_lm_ms"]["minigrad"] > 0 and figures["per_op_us"]["minigrad"] > 0
    assert "character LM training step" in printed and "per op" in printed
