"""What the grading tests share: the sandbox user these machines allow, and small checklists."""

from __future__ import annotations

import functools
import os
import subprocess
import sys

import numpy as np

from minigrad.testing.grading import Case, Checklist, Expect


@functools.cache
def sandbox_user() -> str:
    """``nobody`` where the tests run as root and nobody can run this interpreter, else "" (the
    tests' own user): a Python under a private home (pyenv's in /root) is closed to other users."""
    if os.geteuid() != 0:
        return ""
    probe = subprocess.run(
        ["su", "-s", "/bin/sh", "nobody", "-c", f"{sys.executable} -I -c 'import minigrad'"],
        capture_output=True,
    )
    return "nobody" if probe.returncode == 0 else ""


def doubling_checklist() -> Checklist:
    """Two checks on a function ``double``: a public one on a number, a hidden one on an array."""
    checks = Checklist(reproduce="rerun {file}")

    def case(x: np.ndarray) -> Case:
        params = {"name": "double", "args": ["x"], "returns": "y"}
        return Case(
            "call", params, {"x": x}, {"y": Expect("close", 2 * x, 1e-12, what="double(x)")}, "a fixed case"
        )

    checks.add("doubles", 2, lambda: [case(np.array(3.0))], names=("double",))
    checks.add("doubles_arrays", 1, lambda: [case(np.arange(3.0))], names=("double",), hidden=True)
    return checks
