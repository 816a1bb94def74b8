"""Cold Numba compile time of every kernel, and the warm import time of minigrad.

Each figure is taken in a fresh Python process.  "Cold" points Numba's cache at an
empty folder, so every kernel is compiled; "warm" runs again with that folder filled.

    python benchmarks/startup.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile

_PROBE = """
import time
t0 = time.perf_counter()
import minigrad
t1 = time.perf_counter()
minigrad.kernels.warm_up()
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def probe(cache_dir: str) -> tuple[float, float]:
    """(import seconds, kernel warm-up seconds) in a new process using ``cache_dir``."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir, "MINIGRAD_JIT": "1"}
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True)
    import_s, warm_s = (float(v) for v in out.stdout.split())
    return import_s, warm_s


def main(repeats: int = 5) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as cache:
        cold_import, cold_compile = probe(cache)
        warm = [probe(cache) for _ in range(repeats)]
    figures = {
        "cold_import_s": cold_import,
        "cold_compile_s": cold_compile,
        "warm_import_s": statistics.median(w[0] for w in warm),
        "warm_kernel_load_s": statistics.median(w[1] for w in warm),
    }
    for name, value in figures.items():
        print(f"{name:>20}: {value:.3f}")
    return figures


if __name__ == "__main__":
    main()
