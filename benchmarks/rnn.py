"""SimpleRNN, LSTM and GRU: minigrad's fused and autograd paths against PyTorch, in one run.

For each layer (one layer, return_sequences=True, loss = sum of the outputs) and each size
(time, batch, input, units), in float32 and float64, it times a forward pass (no graph) and a
training step (forward, backward, reading every gradient) for

* minigrad ``impl="fused"`` and ``impl="autograd"``,
* the fused path on the numpy twins of the kernels (``MINIGRAD_JIT=0``, in a subprocess),
* ``torch.nn.RNN/LSTM/GRU`` on the CPU with the same weights and thread count, if installed.

Each figure is the median of repeated runs after a warm-up, the implementations taking turns
so that drift of the machine hits them alike.  Each timed run follows an untimed one of the
same implementation: numpy's OpenBLAS threads and PyTorch's OpenMP threads keep spinning for a
while after their library's last call, and the first call after a switch pays for it (measured
here: up to 2x on both sides).  Ratios are to PyTorch's time.  The fused
path's training rate in GFLOP/s is set beside this machine's matrix-multiply rate.

    python benchmarks/rnn.py                 # the full table (a few minutes)
    python benchmarks/rnn.py --quick         # smallest size, one repeat
    python benchmarks/rnn.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import startup

import layers
import minigrad as mg

try:
    import torch
except ImportError:
    torch = None

SIZES = [(50, 32, 64, 128), (100, 16, 32, 64), (20, 64, 128, 256), (1000, 8, 32, 64)]
DTYPES = ["float32", "float64"]
KINDS = {"SimpleRNN": (layers.SimpleRNN, 1), "LSTM": (layers.LSTM, 4), "GRU": (layers.GRU, 3)}
THREADS = os.cpu_count() or 1


def make_layer(kind: str, impl: str, size: tuple[int, ...], dtype: str) -> layers.Module:
    _, _, features, units = size
    mg.manual_seed(0)
    return KINDS[kind][0](units, return_sequences=True, input_size=features, impl=impl, dtype=dtype)


def make_input(size: tuple[int, ...], dtype: str) -> np.ndarray:
    time_, batch, features, _ = size
    return np.random.default_rng(0).standard_normal((batch, time_, features)).astype(dtype)


def minigrad_runs(kind: str, impl: str, size: tuple[int, ...], dtype: str) -> dict[str, Callable]:
    layer, x = make_layer(kind, impl, size, dtype), make_input(size, dtype)

    def forward() -> None:
        with mg.no_grad():
            layer(x)

    def train() -> None:
        xt = mg.Tensor(x, requires_grad=True)
        layer(xt).sum().backward()
        _ = [p.grad for p in layer.parameters()], xt.grad
        layer.zero_grad()

    return {"forward": forward, "train": train}


def torch_runs(kind: str, size: tuple[int, ...], dtype: str) -> dict[str, Callable]:
    ours = make_layer(kind, "fused", size, dtype)
    cls = {"SimpleRNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}[kind]
    layer = cls(size[2], size[3], batch_first=True).to(getattr(torch, dtype))
    layer.load_state_dict({k: torch.from_numpy(v) for k, v in ours.torch_state_dict().items()})
    x = torch.from_numpy(make_input(size, dtype))

    def forward() -> None:
        with torch.no_grad():
            layer(x)

    def train() -> None:
        xt = x.clone().requires_grad_()
        layer(xt)[0].sum().backward()
        _ = [p.grad.numpy() for p in layer.parameters()], xt.grad.numpy()
        layer.zero_grad()

    return {"forward": forward, "train": train}


def time_turns(runs: dict[str, dict[str, Callable]], repeats: int) -> dict[str, dict[str, float]]:
    """Median seconds of each (implementation, phase), the implementations taking turns."""
    samples: dict[str, dict[str, list[float]]] = {i: {"forward": [], "train": []} for i in runs}
    for impl in runs:  # warm-up: compile, allocate, fill caches
        for phase in ("forward", "train"):
            runs[impl][phase]()
    for _ in range(repeats):
        for impl, phases in runs.items():
            for phase, run in phases.items():
                run()  # settle: the first call after another library's pays for the thread hand-over
                start = time.perf_counter()
                run()
                samples[impl][phase].append(time.perf_counter() - start)
    return {i: {p: statistics.median(v) for p, v in s.items()} for i, s in samples.items()}


def training_flops(kind: str, size: tuple[int, ...]) -> float:
    """Matrix-product flops of a training step: the forward's input and recurrent products,
    and backward's three times as many (gradients of inputs, weights and states)."""
    time_, batch, features, units = size
    gates = KINDS[kind][1]
    forward = 2 * time_ * batch * gates * units * (features + units)
    return 3 * forward


def matmul_rate(dtype: str, n: int = 1024, repeats: int = 5) -> float:
    """This machine's matrix-multiply rate in GFLOP/s (numpy's BLAS, n x n)."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn: Callable) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def numpy_twin_times(sizes: list, dtypes: list, repeats: int) -> dict[str, Any]:
    """The fused path with MINIGRAD_JIT=0, timed in a subprocess."""
    env = {**os.environ, "MINIGRAD_JIT": "0"}
    args = [sys.executable, __file__, "--worker", json.dumps([sizes, dtypes, repeats])]
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def worker(spec: str) -> None:
    sizes, dtypes, repeats = json.loads(spec)
    result = {}
    for size in map(tuple, sizes):
        for dtype in dtypes:
            for kind in KINDS:
                runs = {"numpy": minigrad_runs(kind, "fused", size, dtype)}
                result[f"{kind} {size} {dtype}"] = time_turns(runs, repeats)["numpy"]
    print(json.dumps(result))


_MEMORY_PROBE = """
import json, os, sys, threading
sys.path.insert(0, {here!r})
import rnn

page = os.sysconf("SC_PAGE_SIZE")


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page


runs = rnn.torch_runs({kind!r}, {size!r}, "float32") if {impl!r} == "torch" else \\
    rnn.minigrad_runs({kind!r}, {impl!r}, {size!r}, "float32")
runs["forward"]()  # compile and load everything the step needs, outside the measurement
baseline, peak, done = rss(), [0], threading.Event()


def watch():
    while not done.is_set():
        peak[0] = max(peak[0], rss())
        done.wait(0.0005)


watcher = threading.Thread(target=watch)
watcher.start()
runs["train"]()
done.set()
watcher.join()
print(json.dumps((max(peak[0], rss()) - baseline) / 2**20))
"""


def peak_memory_mb(kind: str, impl: str, size: tuple[int, ...]) -> float:
    """Growth of the resident memory during the first training step in a new process (sampled
    from /proc every half millisecond, so it sees PyTorch's allocations as well as numpy's)."""
    code = _MEMORY_PROBE.format(here=str(Path(__file__).resolve().parent), kind=kind, impl=impl,
                                size=size)  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smallest size, one repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return {}

    sizes = [(10, 4, 8, 16)] if args.quick else SIZES
    dtypes = ["float32"] if args.quick else DTYPES
    repeats = 1 if args.quick else args.repeats
    if torch is None:
        print("PyTorch is not installed: its column is left out "
              "(python -m pip install -e '.[bench]' adds the CPU build).")  # fmt: skip
    else:
        torch.set_num_threads(THREADS)
    print(f"threads: {THREADS}; Numba kernels {'on' if mg.kernels.JIT else 'off'}")

    figures: dict[str, Any] = {"rows": []}
    rates = {d: matmul_rate(d, n=256 if args.quick else 1024) for d in dtypes}
    figures["matmul_gflops"] = rates
    print("matrix multiply: " + ", ".join(f"{d} {r:.1f} GFLOP/s" for d, r in rates.items()))
    twins = numpy_twin_times(sizes, dtypes, repeats)

    header = (f"{'layer':<10}{'(T, B, I, U)':<20}{'dtype':<8}{'phase':<8}{'fused ms':>9}"
              f"{'autograd':>9}{'numpy':>9}{'torch':>9}{'fused/t':>8}{'autog/t':>8}{'GFLOP/s':>9}"
              f"{'%mm':>5}")  # fmt: skip
    print(header)
    for size in sizes:
        for dtype in dtypes:
            for kind in KINDS:
                runs = {impl: minigrad_runs(kind, impl, size, dtype) for impl in ("fused", "autograd")}
                if torch is not None:
                    runs["torch"] = torch_runs(kind, size, dtype)
                times = time_turns(runs, repeats)
                times["numpy"] = twins[f"{kind} {size} {dtype}"]
                for phase in ("forward", "train"):
                    row = {"layer": kind, "size": size, "dtype": dtype, "phase": phase}
                    row.update({f"{i}_ms": t[phase] * 1e3 for i, t in times.items()})
                    ref = times.get("torch", {}).get(phase)
                    row["fused_ratio"] = times["fused"][phase] / ref if ref else None
                    row["autograd_ratio"] = times["autograd"][phase] / ref if ref else None
                    if phase == "train":
                        row["fused_gflops"] = training_flops(kind, size) / times["fused"]["train"] / 1e9
                        row["matmul_fraction"] = row["fused_gflops"] / rates[dtype]
                    figures["rows"].append(row)
                    print(_format_row(row))

    memory_size = sizes[0]
    impls = ["fused", "autograd"] + (["torch"] if torch is not None else [])
    figures["peak_memory_mb"] = {
        f"{kind} {memory_size}": {i: peak_memory_mb(kind, i, memory_size) for i in impls} for kind in KINDS
    }
    print(f"peak memory growth of one float32 training step at {memory_size}, MB:")
    for key, values in figures["peak_memory_mb"].items():
        print(f"  {key}: " + ", ".join(f"{i} {v:.1f}" for i, v in values.items()))
    figures["startup"] = startup.main(repeats=1 if args.quick else 3)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return figures


def _format_row(row: dict[str, Any]) -> str:
    def cell(value: float | None, width: int, digits: int = 2) -> str:
        return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"

    return (f"{row['layer']:<10}{row['size']!s:<20}{row['dtype']:<8}{row['phase']:<8}"
            f"{cell(row['fused_ms'], 9)}{cell(row['autograd_ms'], 9)}{cell(row['numpy_ms'], 9)}"
            f"{cell(row.get('torch_ms'), 9)}{cell(row['fused_ratio'], 8)}"
            f"{cell(row['autograd_ratio'], 8)}{cell(row.get('fused_gflops'), 9, 1)}"
            f"{cell(100 * row['matmul_fraction'] if 'matmul_fraction' in row else None, 5, 0)}")  # fmt: skip


if __name__ == "__main__":
    main()
