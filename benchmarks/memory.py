"""Peak memory of one float32 training step, each in a new process, measured two ways.

* ``rss_mb``: growth of the resident set during the process's first training step, once
  each library's code is loaded (one forward pass; for minigrad also every compiled kernel,
  which Numba would otherwise load at the first backward, as PyTorch's backward code comes
  with its library), sampled from /proc every half millisecond.  It sees every allocation of
  either library, Numba's and oneDNN's included, but also the allocator's own reserves.
* ``allocated_mb``: the peak of the bytes the library allocated and had not yet freed
  during a later step, above what was held before it: for minigrad Python's ``tracemalloc``
  (numpy reports its arrays' buffers to it; arrays that Numba's compiled code allocates are
  not reported), for PyTorch its profiler's memory events (``profile_memory=True``: every
  tensor from its CPU allocator).

    python benchmarks/memory.py LSTM fused      # one probe, printed as JSON
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import threading
import tracemalloc
from collections.abc import Callable

import autograd
import rnn
import torch

import layers
import minigrad

SIZE = (50, 32, 64, 128)
PROBES = [
    ("SimpleRNN", "fused"),
    ("SimpleRNN", "torch"),
    ("LSTM", "fused"),
    ("LSTM", "torch"),
    ("GRU", "fused"),
    ("GRU", "torch"),
    ("LSTM", "autograd"),
    ("LSTM", "torch-loop"),
]


def phases(kind: str, impl: str) -> rnn.Phases:
    """The forward pass and training step of one probe at SIZE, float32."""
    ours = rnn.make_layer(kind, "autograd" if impl == "autograd" else "fused", SIZE, "float32")
    x = rnn.make_input(SIZE, "float32")
    if impl == "torch":
        return rnn.torch_phases(rnn.torch_layer(kind, ours, "float32"), x)
    if impl == "torch-loop":
        return autograd.torch_loop_phases(ours, x)
    return rnn.minigrad_phases(ours, x)


def rss_growth_mb(step: Callable[[], None]) -> float:
    """Growth of the resident set while ``step`` runs, sampled every half millisecond."""
    page = os.sysconf("SC_PAGE_SIZE")

    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page

    baseline, peak, done = rss(), [0], threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss())
            done.wait(0.0005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    step()
    done.set()
    watcher.join()
    return (max(peak[0], rss()) - baseline) / 2**20


def traced_peak_mb(step: Callable[[], None]) -> float:
    """Peak of numpy's (and Python's) live allocations during ``step`` above those before it."""
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (peak - before) / 2**20


def torch_peak_mb(step: Callable[[], None]) -> float:
    """Peak of PyTorch's live CPU allocations during ``step`` above those before it, from the
    allocations and frees its profiler records, in time order."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = sorted(
        (e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"
    )
    if not events:
        raise RuntimeError("PyTorch's profiler recorded no memory event: cannot measure its allocations")
    return max(0, *itertools.accumulate(n for _, n in events)) / 2**20


def probe(kind: str, impl: str) -> dict[str, float]:
    """Both measures for one probe, in this (new) process."""
    torch.set_num_threads(1)
    runs = phases(kind, impl)
    runs["forward"]()
    if not impl.startswith("torch"):  # load the kernels backward would load: code, not data
        minigrad.kernels.warm_up()
        layers.fused.warm_up()
    rss = rss_growth_mb(runs["train"])
    allocated = (torch_peak_mb if impl.startswith("torch") else traced_peak_mb)(runs["train"])
    return {"rss_mb": rss, "allocated_mb": allocated}


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1], sys.argv[2])))
