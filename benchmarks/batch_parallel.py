"""Where splitting the batch over two threads pays: each part's CPU time against the whole's.

A two-thread wall-clock speed-up cannot be measured on a machine that runs other work, but
what decides it can: on a quiet 2-core machine the split loop takes as long as its slowest
thread, so its speed-up is (the whole loop's CPU time) / (the calling thread's own work
outside the parts: setting up, handing off, joining; plus the longer of its own part and the
other part with the hand-off's wake-up latency).  This script measures each of those in
thread CPU time (``time.thread_time``), the whole and the split taking turns, medians of
many repeats, forward and backward time loops of every fused layer at several batch sizes:

    OPENBLAS_NUM_THREADS=2 python benchmarks/batch_parallel.py [--repeats 15]

Run it with two BLAS threads allowed (the split follows numpy's BLAS thread count).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import layers.fused.batch_parallel as batch_parallel
from layers import fused

KINDS = {  # (op, gate blocks, states)
    "SimpleRNN": (fused.FusedSimpleRNN, 1, 1),
    "LSTM": (fused.FusedLSTM, 4, 2),
    "GRU": (fused.FusedGRU, 3, 1),
}
SHAPES = [(50, 64, 128), (100, 32, 64), (20, 128, 256), (1000, 32, 64)]  # (time, features, units)
BATCHES = [2, 4, 8, 16, 32, 64]


def make_op(kind: str, time_: int, batch: int, units: int, dtype: type) -> tuple[Callable, Callable]:
    """The time loops, forward and backward, of a fused op set up as its driver does: each
    call prepares fresh copies of the inputs and returns the loop to time on them."""
    op_class, gates, states = KINDS[kind]
    rng = np.random.default_rng(0)
    op = op_class()
    op.mask, op.recurrent_mask = np.ones((batch, time_), bool), np.ones((batch, units), dtype)
    op.activation, op.recurrent_activation = fused.CODES["tanh"], fused.CODES["sigmoid"]
    x_proj = rng.standard_normal((time_, batch, gates * units)).astype(dtype)
    recurrent = (rng.standard_normal((units, gates * units)) / np.sqrt(units)).astype(dtype)
    bias = np.zeros((2, gates * units) if kind == "GRU" else gates * units, dtype)
    initial = [np.zeros((batch, units), dtype) for _ in range(states)]
    g_outputs = rng.standard_normal((batch, time_, units)).astype(dtype)

    def forward() -> Callable[[], Any]:
        x, s = x_proj.copy(), [state.copy() for state in initial]
        return lambda: batch_parallel.sequence_forward(op, x, s, recurrent, bias)

    def backward() -> Callable[[], Any]:
        g_finals = [np.zeros_like(state) for state in initial]
        return lambda: batch_parallel.sequence_backward(op, g_outputs, g_finals)

    return forward, backward


class PartClock:
    """Each part's task (its slices, its loop) in the CPU seconds of the thread that ran it,
    recorded by wrapping the tasks that ``batch_parallel.run_parts`` receives while installed."""

    def __init__(self) -> None:
        self.seconds: dict[int, tuple[float, int]] = {}  # task index: (seconds, thread id)
        self.run_parts = batch_parallel.run_parts

    def __enter__(self) -> PartClock:
        batch_parallel.run_parts = lambda tasks: self.run_parts(
            [self.timed(index, task) for index, task in enumerate(tasks)]
        )
        return self

    def __exit__(self, *exception: object) -> None:
        batch_parallel.run_parts = self.run_parts

    def timed(self, index: int, task: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            start = time.thread_time()
            result = task()
            self.seconds[index] = (time.thread_time() - start, threading.get_ident())
            return result

        return run


def hand_off_latency(repeats: int) -> float:
    """Median wall seconds from submitting an empty task to the pool to its result."""
    executor = batch_parallel._executor()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        executor.submit(int).result()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def measure(run: Callable[[], None], clock: PartClock) -> tuple[float, float, float]:
    """(the caller's CPU seconds outside the parts' tasks, the first part's, the longest other
    part's), whichever thread ran each part; for the whole loop, (its seconds, 0, 0)."""
    clock.seconds.clear()
    start = time.thread_time()
    run()
    caller = time.thread_time() - start
    caller_tasks = sum(s for s, thread in clock.seconds.values() if thread == threading.get_ident())
    first = clock.seconds.pop(0, (0.0, 0))[0]
    return caller - caller_tasks, first, max((s for s, _ in clock.seconds.values()), default=0.0)


def case(
    kind: str, shape: tuple[int, int, int], batch: int, dtype: type, repeats: int, latency: float
) -> str:
    """One size's forward and backward figures, the whole and the split taking turns."""
    time_, _, units = shape
    with PartClock() as clock:
        forward, backward = make_op(kind, time_, batch, units, dtype)
        rows = []
        for direction in ("forward", "backward"):
            figures: dict[str, list[tuple[float, float, float]]] = {"whole": [], "split": []}
            for _ in range(repeats):
                for mode, min_size in (("whole", 2**62), ("split", 1)):
                    batch_parallel.MIN_PART_SIZE = min_size
                    loop = forward()
                    if direction == "backward":
                        loop()
                        loop = backward()
                    figures[mode].append(measure(loop, clock))
            whole = statistics.median(c for c, _, _ in figures["whole"])
            overhead = statistics.median(c for c, _, _ in figures["split"])
            own = statistics.median(o for _, o, _ in figures["split"])
            other = statistics.median(p for _, _, p in figures["split"])
            critical = overhead + max(own, other + latency)
            rows.append(
                f"{direction:8s} whole {whole * 1e3:8.3f} ms  parts {own * 1e3:7.3f} / {other * 1e3:7.3f} ms"
                f"  caller's own {overhead * 1e3:6.3f} ms"
                f"  speed-up {whole / critical:4.2f}"
            )
    label = f"{kind:9s} T={time_:4d} B={batch:3d} U={units:3d} {np.dtype(dtype).name}"
    return "\n".join(f"{label}  {row}" for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS))
    parser.add_argument("--batches", type=int, nargs="+", default=BATCHES)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    args = parser.parse_args()
    if batch_parallel.part_count(np.empty((1, 2**20, 1))) < 2:
        raise SystemExit("numpy's BLAS allows one thread here: run with OPENBLAS_NUM_THREADS=2")
    latency = hand_off_latency(200)
    print(f"hand-off latency (empty task, median wall time): {latency * 1e6:.1f} us", flush=True)
    for dtype in args.dtypes:
        for kind in args.kinds:
            for shape in SHAPES:
                for batch in args.batches:
                    print(case(kind, shape, batch, getattr(np, dtype), args.repeats, latency), flush=True)


if __name__ == "__main__":
    main()
