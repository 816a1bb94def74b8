"""A smoke run of the benchmark script so that it cannot rot (timings are never asserted)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_quick_run_writes_every_row(tmp_path):
    out = tmp_path / "figures.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "rnn.py"), "--quick", "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    figures = json.loads(out.read_text())
    rows = figures["rows"]
    assert {(r["layer"], r["phase"]) for r in rows} == {
        (kind, phase) for kind in ("SimpleRNN", "LSTM", "GRU") for phase in ("forward", "train")
    }
    for row in rows:
        for impl in ("fused", "autograd", "numpy"):
            assert row[f"{impl}_ms"] > 0
    assert figures["startup"]["cold_compile_s"] > 0
    assert "fused ms" in run.stdout


def test_training_benchmark_quick_run_times_both_cases(tmp_path):
    out = tmp_path / "training.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "training.py"), "--quick", "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    figures = json.loads(out.read_text())
    assert figures["char_lm_ms"]["minigrad"] > 0 and figures["per_op_us"]["minigrad"] > 0
    assert "character LM training step" in run.stdout and "per op" in run.stdout
