"""Checks of the gru_cell assignment (see cells.py for what each check does)."""

from __future__ import annotations

import numpy as np

from assignments.checks.cells import FORBIDDEN, Cell, add_cell_checks, sigmoid
from assignments.checks.common import checklist_for


def reference(x, h, kernel, recurrent_kernel, bias):
    """The GRU step in numpy, reset_after=True, gate blocks z, r, n; bias rows: input, recurrent."""
    x_z, x_r, x_n = np.split(x @ kernel + bias[0], 3, axis=1)
    h_z, h_r, h_n = np.split(h @ recurrent_kernel + bias[1], 3, axis=1)
    z, r = sigmoid(x_z + h_z), sigmoid(x_r + h_r)
    n = np.tanh(x_n + r * h_n)
    return (z * h + (1 - z) * n,)


checklist = checklist_for("gru_cell", forbidden=FORBIDDEN)
add_cell_checks(checklist, Cell("GRUCell", gates=3, states=("h",), bias_rows=2, reference=reference))
