"""StackedRNNCells: several cells run as one, each step's output the input of the next."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from layers.module import Module, float_dtype, positive_int
from layers.rnn import state_sizes
from minigrad import Tensor


class StackedRNNCells(Module):
    """Several cells as one (Keras's ``StackedRNNCells``): each step runs them in order, the
    output of one being the input of the next.

    ``state_size`` is every cell's state sizes, in order, as one flat list; the output is
    the last cell's.  cells : a list of cells of one dtype, each one's weights parameters of
    the stack; a cell that knows its input size must take the output of the one before.
    """

    cell_attributes = ("cells",)

    def __init__(self, cells: Sequence[Any]) -> None:
        name = "StackedRNNCells"
        if not cells:
            raise ValueError(f"{name}: needs at least one cell")
        self.sizes = [state_sizes(c, name) for c in cells]
        outputs = [
            positive_int(name, "a cell's output_size", getattr(c, "output_size", sizes[0]))
            for c, sizes in zip(cells, self.sizes, strict=True)
        ]
        for k, (cell, given) in enumerate(zip(cells[1:], outputs, strict=False), start=1):
            expected = getattr(cell, "input_size", None)
            if expected is not None and expected != given:
                raise ValueError(
                    f"{name}: cell {k} ({type(cell).__name__}) takes {expected} features, but cell "
                    f"{k - 1} outputs {given}"
                )
        dtypes = {float_dtype(name, getattr(c, "dtype", np.float64)) for c in cells}
        if len(dtypes) > 1:
            raise ValueError(f"{name}: the cells need one dtype, got {sorted(str(d) for d in dtypes)}")
        self.dtype = dtypes.pop()
        refuse_fused(cells)
        self.cells = list(cells)
        self.output_size = outputs[-1]

    @property
    def state_size(self) -> list[int]:
        return [size for sizes in self.sizes for size in sizes]

    @property
    def input_size(self) -> int | None:
        """The first cell's input size, where it knows it."""
        return getattr(self.cells[0], "input_size", None)

    @property
    def built(self) -> bool:
        return all(getattr(cell, "built", True) for cell in self.cells)

    def build(self, input_size: int) -> None:
        """Build every cell not built yet, each for the output size of the one before."""
        for cell in self.cells:
            if not getattr(cell, "built", True) and hasattr(cell, "build"):
                cell.build(input_size)
            input_size = int(getattr(cell, "output_size", state_sizes(cell, "StackedRNNCells")[0]))

    def forward(self, x: Any, states: Sequence[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """One step of every cell in turn: (output of the last, every cell's new states)."""
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        if len(states) != len(self.state_size):
            raise ValueError(
                f"StackedRNNCells: needs {len(self.state_size)} states (every cell's, in order), "
                f"got {len(states)}"
            )
        refuse_fused(self.cells)  # a cell's impl may have been set after the stack was made
        new_states: list[Tensor] = []
        start = 0
        for cell, sizes in zip(self.cells, self.sizes, strict=True):
            own = states[start : start + len(sizes)]
            x, produced = cell(x, own)
            new_states += list(produced) if isinstance(produced, (list, tuple)) else [produced]
            start += len(sizes)
        return x, new_states


def refuse_fused(cells: Sequence[Any]) -> None:
    """Raise if a cell asks for its fused op: a stack runs its cells one step at a time, so a
    cell's whole-sequence kernel can never run there, and impl='fused' would be ignored."""
    for k, cell in enumerate(cells):
        if getattr(cell, "impl", None) == "fused":
            raise ValueError(
                f"StackedRNNCells: cell {k} ({type(cell).__name__}) has impl='fused', but a stack runs "
                "its cells one step at a time; give it impl='auto' or 'autograd', or stack layers "
                "(e.g. LSTM(..., return_sequences=True) then LSTM(...)) to run each on its fused op"
            )
