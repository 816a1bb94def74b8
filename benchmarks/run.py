"""The whole benchmark, minigrad against PyTorch, at one thread and at two, in one run.

Each thread count is timed in its own process whose thread pools sleep when idle
(``quiet.py``), the libraries taking turns (``timing.py``):

* ``fused``: the fused SimpleRNN, LSTM and GRU against nn.RNN, nn.LSTM and nn.GRU
  (``rnn.py``), forward and training step, four sizes, float32 and float64;
* ``autograd_lstm``: the autograd LSTM against the same ops in PyTorch's eager mode and
  against nn.LSTM (``autograd.py``);
* ``ops``: one autograd op, and a chain of 40, forward and backward (``autograd.py``);
* ``char_lm``: a character language model's training step (``training.py``);

then the peak memory of a training step (``memory.py``, one new process per probe) and the
start-up figures (``startup.py``).  The tables go to ``benchmarks/results.txt``; with
``--write-readme`` the README's figures are rewritten from the same run (``report.py``).

    python benchmarks/run.py --write-readme     # the full run: about 5 minutes on a quiet 2-core machine
    python benchmarks/run.py --quick            # every code path, tiny sizes: under a minute
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import quiet  # noqa: E402  (the benchmarks' folder is not a package)
import report  # noqa: E402
import timing  # noqa: E402


class Section(NamedTuple):
    module: str  # the module whose cases(quick) (or named function) lists the cases
    function: str
    repeats: int
    pairs: list[tuple[str, str]]
    scale: float  # from seconds to the unit shown: 1e3 ms, 1e6 microseconds


SECTIONS = {
    "fused": Section("rnn", "cases", 31, [("minigrad", "torch")], 1e3),
    "autograd_lstm": Section(
        "autograd", "lstm_cases", 11, [("minigrad", "torch"), ("minigrad", "nn.LSTM")], 1e3
    ),
    "ops": Section("autograd", "op_cases", 51, [("minigrad", "torch")], 1e6),
    "char_lm": Section("training", "cases", 31, [("minigrad", "torch")], 1e3),
}
QUICK_REPEATS = 3


def time_sections(threads: int, quick: bool) -> dict[str, Any]:
    """Every section's cases timed in this process (started with ``quiet.environment``)."""
    import torch

    torch.set_num_threads(threads)  # before any PyTorch op, as its documentation asks
    quiet.settings_in_effect(threads)  # fail before the timing, not after it
    sections = {}
    for name, section in SECTIONS.items():
        module = importlib.import_module(section.module)
        cases = getattr(module, section.function)(quick)
        sections[name] = [time_case(case, section, quick) for case in cases]
        print(f"  {threads} thread(s): {name} done", flush=True)
    return {"threads": threads, "settings": quiet.settings_in_effect(threads), "sections": sections}


def time_case(case: dict[str, Any], section: Section, quick: bool) -> dict[str, Any]:
    """One case's phases, each timed with its implementations in turns."""
    repeats = QUICK_REPEATS if quick else section.repeats
    phase_names = next(iter(case["runs"].values()))
    phases = {}
    for phase in phase_names:
        samples = timing.in_turns({impl: runs[phase] for impl, runs in case["runs"].items()}, repeats)
        phases[phase] = timing.summary(samples, section.pairs, section.scale)
    return {"case": case["case"], "phases": phases}


def timed_in_child(threads: int, quick: bool) -> dict[str, Any]:
    """``time_sections`` in a new process with quiet thread pools; adds the OpenMP settings
    that the process's libgomp printed."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "figures.json"
        args = [sys.executable, __file__, "--child", str(threads), "--out", str(out)]
        run = subprocess.run(
            args + (["--quick"] if quick else []),
            env=quiet.environment(threads),
            stderr=subprocess.PIPE,
            text=True,
        )
        if run.returncode != 0:
            raise RuntimeError(f"the {threads}-thread run failed:\n{run.stderr}")
        figures = json.loads(out.read_text())
    figures["settings"]["openmp"] = quiet.openmp_settings(run.stderr)
    return figures


def memory_probes() -> list[dict[str, Any]]:
    """Every probe of ``memory.py``, each in a new one-thread process with quiet pools."""
    import memory

    found = []
    for kind, impl in memory.PROBES:
        run = subprocess.run(
            [sys.executable, str(HERE / "memory.py"), kind, impl],
            env=quiet.environment(1),
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            raise RuntimeError(f"memory probe {kind} {impl} failed:\n{run.stderr}")
        found.append({"kind": kind, "impl": impl, **json.loads(run.stdout.strip().splitlines()[-1])})
    return found


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 3 repeats: proves the code paths")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--output", type=Path, help="the tables' file (default: benchmarks/results.txt, none with --quick)"
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument(
        "--write-readme",
        type=Path,
        nargs="?",
        const=HERE.parent / "README.md",
        help="rewrite the benchmark figures in this README (default: the project's)",
    )
    parser.add_argument(
        "--label", help="a note for the tables' heading, e.g. 'preliminary: a loaded machine'"
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.out.write_text(json.dumps(time_sections(args.child, args.quick)))
        return {}

    if importlib.util.find_spec("torch") is None:
        raise SystemExit("The benchmark compares with PyTorch: python -m pip install -e '.[bench]'")
    import startup

    start = time.perf_counter()
    results: dict[str, Any] = {"quick": args.quick, "label": args.label, "runs": []}
    for threads in args.threads:
        print(f"timing at {threads} thread(s) in a new process", flush=True)
        results["runs"].append(timed_in_child(threads, args.quick))
    print("peak memory, one process per probe", flush=True)
    results["memory"] = memory_probes()
    results["startup"] = startup.main(repeats=1 if args.quick else 3)
    results["seconds"] = time.perf_counter() - start
    text = report.results_text(results)
    print(text)
    output = args.output or (None if args.quick else HERE / "results.txt")
    if output:
        output.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if args.write_readme:
        report.write_readme(args.write_readme, results)
    return results


if __name__ == "__main__":
    main()
