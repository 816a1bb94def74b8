"""Checks of the lstm_cell assignment (see cells.py for what each check does)."""

from __future__ import annotations

import numpy as np

from assignments.checks.cells import FORBIDDEN, Cell, add_cell_checks, sigmoid
from assignments.checks.common import checklist_for


def reference(x, h, c, kernel, recurrent_kernel, bias):
    """The LSTM step in numpy, gate blocks i, f, c, o."""
    pre = x @ kernel + h @ recurrent_kernel + bias
    i, f, g, o = np.split(pre, 4, axis=1)
    c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c_new), c_new


checklist = checklist_for("lstm_cell", forbidden=FORBIDDEN)
add_cell_checks(checklist, Cell("LSTMCell", gates=4, states=("h", "c"), bias_rows=0, reference=reference))
