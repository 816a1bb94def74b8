"""Thread pools that sleep as soon as they are idle, and proof that they do.

minigrad's products run on numpy's OpenBLAS, PyTorch's on its OpenMP pool (MKL and oneDNN
use it too).  By default a pool's workers keep spinning after a call: OpenBLAS's for
2^28 clock ticks (about 0.1 s), GNU OpenMP's for 300,000 spins.  Timed in turns, one
library's spinning workers then take the other's second core.  So every configuration runs
in its own process, started with

* ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, ``NUMBA_NUM_THREADS``:
  the thread count, read by each library when it loads (``torch.set_num_threads`` is called
  as well, before any PyTorch op);
* ``OPENBLAS_THREAD_TIMEOUT=4``: OpenBLAS's workers spin 2^4 ticks, its minimum, then sleep;
* ``OMP_WAIT_POLICY=PASSIVE``: GNU OpenMP's workers do not spin at all (``GOMP_SPINCOUNT``
  becomes 0; libgomp's documentation, "OMP_WAIT_POLICY" and "GOMP_SPINCOUNT");
* ``OMP_DISPLAY_ENV=VERBOSE``: libgomp prints the settings it read to standard error, which
  :func:`openmp_settings` reads back.

:func:`settings_in_effect`, run inside the process, reads what each library actually took
(threadpoolctl's record of every pool, OpenBLAS's own ``openblas_thread_timeout()``,
``torch.get_num_threads()``) and raises if anything differs from what was asked.
"""

from __future__ import annotations

import ctypes
import os
import re
from typing import Any

OPENBLAS_TIMEOUT = 4  # OpenBLAS clamps the value to 4..30 and spins 2^value clock ticks


def environment(threads: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a process that times both libraries at ``threads`` threads."""
    count = str(threads)
    return {
        **(os.environ if base is None else base),
        "OPENBLAS_NUM_THREADS": count,
        "OMP_NUM_THREADS": count,
        "MKL_NUM_THREADS": count,
        "NUMBA_NUM_THREADS": count,
        "OPENBLAS_THREAD_TIMEOUT": str(OPENBLAS_TIMEOUT),
        "OMP_WAIT_POLICY": "PASSIVE",
        "OMP_DISPLAY_ENV": "VERBOSE",
    }


def settings_in_effect(threads: int) -> dict[str, Any]:
    """What the loaded libraries took, checked against ``threads`` and the quiet waits.

    Call it after numpy, PyTorch and minigrad have run (their pools exist then).  Returns
    {"torch_threads", "numba_threads", "pools": [{"library", "api", "threads", "spin_timeout"}, ...]};
    raises RuntimeError naming each pool whose setting differs."""
    import numba
    import numpy as np
    import torch
    from threadpoolctl import threadpool_info

    pools, wrong = [], []
    numpy_dir = os.path.dirname(os.path.dirname(np.__file__))
    for pool in threadpool_info():
        entry = {
            "library": os.path.basename(pool["filepath"]),
            "api": pool["internal_api"],
            "threads": pool["num_threads"],
            "spin_timeout": None,
        }
        if pool["internal_api"] == "openblas":
            entry["spin_timeout"] = ctypes.CDLL(pool["filepath"]).openblas_thread_timeout()
            if entry["spin_timeout"] != OPENBLAS_TIMEOUT:
                wrong.append(f"{entry['library']}: thread timeout {entry['spin_timeout']}, expected 4")
        is_numpys = pool["filepath"].startswith(os.path.join(numpy_dir, "numpy"))
        exact = is_numpys or pool["user_api"] == "openmp"
        if entry["threads"] > threads or (exact and entry["threads"] != threads):
            wrong.append(f"{entry['library']}: {entry['threads']} threads, expected {threads}")
        pools.append(entry)
    if numba.config.NUMBA_NUM_THREADS != threads:
        wrong.append(f"Numba: {numba.config.NUMBA_NUM_THREADS} threads, expected {threads}")
    if torch.get_num_threads() != threads:
        wrong.append(f"PyTorch: {torch.get_num_threads()} threads, expected {threads}")
    if not any(p["api"] == "openmp" for p in pools):
        wrong.append("no OpenMP pool found (PyTorch's libgomp): its wait policy cannot be checked")
    if wrong:
        raise RuntimeError("thread settings not in effect: " + "; ".join(wrong))
    return {
        "torch_threads": torch.get_num_threads(),
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "pools": pools,
    }


def openmp_settings(stderr: str) -> dict[str, str]:
    """The wait settings GNU OpenMP printed (``OMP_DISPLAY_ENV``) in a process's standard
    error; raises RuntimeError if it printed none or they are not the passive ones."""
    found = dict(
        re.findall(
            r"^\s*(OMP_WAIT_POLICY|GOMP_SPINCOUNT|OMP_NUM_THREADS) = '([^']*)'", stderr, flags=re.MULTILINE
        )
    )
    if found.get("OMP_WAIT_POLICY") != "PASSIVE" or found.get("GOMP_SPINCOUNT") != "0":
        raise RuntimeError(f"OpenMP's wait policy is not passive in the timing process: read {found}")
    return found
