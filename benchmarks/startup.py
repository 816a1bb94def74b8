"""Start-up as a user meets it: importing, the first training step, and every kernel, from a
cold Numba cache and from a warm one.

Each figure is the CPU time (``time.process_time``) of a fresh Python process held to one
thread, so that other work on the machine does not count: Numba compiles on the calling
thread.  Each process runs, in order,

* ``import minigrad, layers``;
* the first training step of a default LSTM: ``layers.LSTM(32, dtype=float32)`` (tanh and
  sigmoid, the fused kernels) under a ``Dense`` head, a sparse cross-entropy on logits, the
  backward pass and an SGD step, on a (8, 12, 16) batch;
* every other kernel: ``minigrad.kernels.warm_up()`` and ``layers.fused.warm_up()`` (every
  fused layer in both dtypes).

"Cold" points Numba's cache at an empty folder, so that every kernel is compiled; "warm" runs
again with that folder filled (the median of ``repeats`` processes) and counts the cache files
it wrote: none, if a second process compiles nothing.

    python benchmarks/startup.py
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

_PROBE = """
import json, time
marks = [time.process_time()]
import numpy as np
import minigrad
import layers
marks.append(time.process_time())
rng = np.random.default_rng(0)
lstm, head = layers.LSTM(32, dtype=np.float32), layers.Dense(10, dtype=np.float32)
x = minigrad.Tensor(rng.standard_normal((8, 12, 16)).astype(np.float32))
loss = layers.losses.SparseCategoricalCrossentropy(from_logits=True)(head(lstm(x)), rng.integers(0, 10, 8))
loss.backward()
minigrad.optim.SGD([p for m in (lstm, head) for p in m.parameters()], lr=0.1).step()
marks.append(time.process_time())
minigrad.kernels.warm_up()
layers.fused.warm_up()
marks.append(time.process_time())
print(json.dumps([b - a for a, b in zip(marks, marks[1:])]))
"""

ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def probe(cache_dir: str) -> tuple[float, float, float]:
    """CPU seconds of (the import, the first LSTM step, the other kernels) in a new one-thread
    process using ``cache_dir`` as Numba's cache."""
    env = {**os.environ, **ONE_THREAD, "NUMBA_CACHE_DIR": cache_dir, "MINIGRAD_JIT": "1"}
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True)
    import_s, step_s, rest_s = json.loads(out.stdout)
    return import_s, step_s, rest_s


def cache_files(cache_dir: str) -> dict[str, float]:
    """Every file in Numba's cache folder, with the time it was last written."""
    return {str(p): p.stat().st_mtime for p in Path(cache_dir).rglob("*") if p.is_file()}


def main(repeats: int = 5) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as cache:
        cold = probe(cache)
        compiled = cache_files(cache)
        warm = [probe(cache) for _ in range(repeats)]
        rewritten = sum(1 for path, written in cache_files(cache).items() if compiled.get(path) != written)

    def median(k: int) -> float:
        return statistics.median(w[k] for w in warm)

    figures = {
        "cold_import_s": cold[0],
        "cold_first_lstm_step_s": cold[1],
        "cold_compile_s": cold[1] + cold[2],  # the first step's kernels and every other one
        "cached_kernel_files": len(compiled),
        "warm_import_s": median(0),
        "warm_first_lstm_step_s": median(1),
        "warm_kernel_load_s": statistics.median(w[1] + w[2] for w in warm),
        "files_written_when_warm": rewritten,
    }
    for name, value in figures.items():
        print(f"{name:>24}: {value:.3f}" if isinstance(value, float) else f"{name:>24}: {value}")
    return figures


if __name__ == "__main__":
    main()
