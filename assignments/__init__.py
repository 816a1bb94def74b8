"""Graded course assignments: teacher's sources with worked solutions, and their checks.

Each assignment is a module here, ``assignments/<name>.py``, written as the teacher's
source: prose in ``# %% [markdown]`` cells, and the worked solution between the markers
``### BEGIN SOLUTION`` and ``### END SOLUTION``, which the student's handout replaces with
``raise NotImplementedError``.  Its scored checks, public and hidden, are the ``checklist``
of ``assignments/checks/<name>.py``, built with ``minigrad.testing.grading``.

The teacher's side, all of it: this package is not in what ``pip install`` builds, and the
Gradescope bundle carries only its checks, where student code cannot read them.  Run
``python -m assignments`` from the root of a clone: it lists, hands out, checks and grades
them, a whole class too (see its ``--help``).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from minigrad.testing.grading import Checklist

HERE = Path(__file__).resolve().parent

# name: what the student writes
ASSIGNMENTS = {
    "ops": "Mul, MatMul, Tanh, Sigmoid, Sum and LogSoftmax as minigrad Functions, and topological_order",
    "bptt": "an RNN's forward pass and backpropagation through time in numpy (article 004's notation)",
    "lstm_cell": "an LSTM cell from minigrad's primitive ops, in Keras's weight layout",
    "gru_cell": "a GRU cell (reset_after=True) from minigrad's primitive ops, in Keras's weight layout",
}


def source(name: str) -> Path:
    """The teacher's source of assignment ``name``."""
    check_name(name)
    return HERE / f"{name}.py"


def checklist(name: str) -> Checklist:
    """The public and hidden checks of assignment ``name``."""
    check_name(name)
    return importlib.import_module(f"assignments.checks.{name}").checklist


def check_name(name: str) -> None:
    if name not in ASSIGNMENTS:
        raise KeyError(f"there is no assignment {name!r}; the assignments are {', '.join(ASSIGNMENTS)}")
