"""Timing in turns: medians of many repeats with their interquartile range.

The implementations of one case run in turns (minigrad, PyTorch, minigrad, PyTorch, ...),
so that a change in the machine's load hits them alike, and each repeat's times form a pair
whose ratio is taken: the ratio's median and quartiles come from those paired ratios.
A sample times as many calls in a row as fill about a millisecond (a single autograd op
takes microseconds), and reports the time per call.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

SAMPLE_SECONDS = 1e-3


def calls_per_sample(run: Callable[[], None]) -> int:
    """Calls in a row that take about SAMPLE_SECONDS, from two warm-up calls (which also
    compile, allocate and fill caches)."""
    run()
    start = time.perf_counter()
    run()
    once = time.perf_counter() - start
    return max(1, round(SAMPLE_SECONDS / max(once, 1e-9)))


def in_turns(runs: dict[str, Callable[[], None]], repeats: int) -> dict[str, list[float]]:
    """Seconds per call of each run, ``repeats`` samples each, the runs taking turns."""
    counts = {name: calls_per_sample(run) for name, run in runs.items()}
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            count = counts[name]
            start = time.perf_counter()
            for _ in range(count):
                run()
            samples[name].append((time.perf_counter() - start) / count)
    return samples


def quartiles(values: list[float]) -> dict[str, float]:
    """{"median", "q1", "q3"} of at least one value."""
    if len(values) < 2:
        return {"median": values[0], "q1": values[0], "q3": values[0]}
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return {"median": median, "q1": q1, "q3": q3}


def summary(samples: dict[str, list[float]], pairs: list[tuple[str, str]], scale: float = 1e3) -> dict:
    """Quartiles of each run's times (seconds times ``scale``: ms by default) and of the
    paired ratios of each (numerator, denominator) in ``pairs``:
    {"times": {name: quartiles}, "ratios": {"a/b": quartiles}, "repeats": n}."""
    times = {name: quartiles([v * scale for v in values]) for name, values in samples.items()}
    ratios = {
        f"{a}/{b}": quartiles([x / y for x, y in zip(samples[a], samples[b], strict=True)]) for a, b in pairs
    }
    return {"times": times, "ratios": ratios, "repeats": len(next(iter(samples.values())))}
