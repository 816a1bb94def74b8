"""Cold Numba compile time of every kernel, and the warm import time of minigrad.

Each figure is taken in a fresh Python process.  "Cold" points Numba's cache at an
empty folder, so every kernel (minigrad's and the fused layers') is compiled; "warm" runs
again with that folder filled, and counts the cache files it wrote: none, if a second
process compiles nothing.

    python benchmarks/startup.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

_PROBE = """
import time
t0 = time.perf_counter()
import minigrad
import layers
t1 = time.perf_counter()
minigrad.kernels.warm_up()
layers.fused.warm_up()
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def probe(cache_dir: str) -> tuple[float, float]:
    """(import seconds, kernel warm-up seconds) in a new process using ``cache_dir``."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir, "MINIGRAD_JIT": "1"}
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True)
    import_s, warm_s = (float(v) for v in out.stdout.split())
    return import_s, warm_s


def cache_files(cache_dir: str) -> dict[str, float]:
    """Every file in Numba's cache folder, with the time it was last written."""
    return {str(p): p.stat().st_mtime for p in Path(cache_dir).rglob("*") if p.is_file()}


def main(repeats: int = 5) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as cache:
        cold_import, cold_compile = probe(cache)
        compiled = cache_files(cache)
        warm = [probe(cache) for _ in range(repeats)]
        rewritten = sum(1 for path, written in cache_files(cache).items() if compiled.get(path) != written)
    figures = {
        "cold_import_s": cold_import,
        "cold_compile_s": cold_compile,
        "cached_kernel_files": len(compiled),
        "warm_import_s": statistics.median(w[0] for w in warm),
        "warm_kernel_load_s": statistics.median(w[1] for w in warm),
        "files_written_when_warm": rewritten,
    }
    for name, value in figures.items():
        print(f"{name:>24}: {value:.3f}" if isinstance(value, float) else f"{name:>24}: {value}")
    return figures


if __name__ == "__main__":
    main()
