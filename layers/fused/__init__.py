"""The fused path: a built-in recurrent layer's whole sequence as one op, with
backpropagation through time written out by hand and run in compiled loops.

The cells in ``layers`` hold the formulas, written in minigrad's primitive ops; running them
step by step is the autograd path, the reference.  This package is only an optimization that
must give the same numbers (the tests check it against the autograd path, and each Numba
kernel against its numpy twin):

* ``driver``: ``FusedRecurrence``, what every layer shares (the input projection of every
  step as one product, the gradients of the input and the kernel, and the derivation of the
  masked step);
* ``simple_rnn``, ``lstm``, ``gru``: each layer's time loop, forward and backward, one
  compiled kernel each with its numpy twin, the step's equations in the module docstring;
* ``pointwise``: the activations inside those kernels, and a vectorised exponential;
* ``blas``: numpy's own BLAS, which the kernels call inside their time loops.

``fused_op(cell)`` says which op runs a cell, if any.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from layers.fused.driver import FusedRecurrence
from layers.fused.gru import FusedGRU
from layers.fused.lstm import FusedLSTM
from layers.fused.pointwise import CODES
from layers.fused.simple_rnn import FusedSimpleRNN

__all__ = ["CODES", "FusedGRU", "FusedLSTM", "FusedRecurrence", "FusedSimpleRNN", "fused_op", "warm_up"]


def fused_op(cell: Any) -> tuple[type[FusedRecurrence], dict[str, str]] | None:
    """The op that runs ``cell`` over a whole sequence and its activations by name, or None
    where the cell runs on the autograd path: a cell of one's own (a subclass too), an
    activation given as a function, or a GRU with reset_after=False."""
    from layers.gru import GRUCell
    from layers.lstm import LSTMCell
    from layers.simple_rnn import SimpleRNNCell

    op = {SimpleRNNCell: FusedSimpleRNN, LSTMCell: FusedLSTM, GRUCell: FusedGRU}.get(type(cell))
    if op is None or (op is FusedGRU and not cell.reset_after):
        return None
    names = {"activation": cell.activation_name}
    if op is not FusedSimpleRNN:
        names["recurrent_activation"] = cell.recurrent_activation_name
    return (op, names) if all(name in CODES for name in names.values()) else None


def warm_up() -> None:
    """Compile (or load from Numba's cache) every fused kernel, for float32 and float64."""
    from minigrad import Tensor

    for dtype in (np.float32, np.float64):
        for op, gates, states in ((FusedSimpleRNN, 1, 1), (FusedLSTM, 4, 2), (FusedGRU, 3, 1)):
            x = Tensor(np.ones((2, 3, 2), dtype), requires_grad=True)
            initial = [Tensor(np.zeros((2, 2), dtype)) for _ in range(states)]
            bias = np.zeros((2, 6) if op is FusedGRU else (2 * gates,), dtype)
            weights = [np.ones((2, 2 * gates), dtype), np.ones((2, 2 * gates), dtype), bias]
            mask = np.array([[True, False, True], [True, True, False]])
            outputs, *_ = op.apply(x, *initial, *weights, mask=mask, recurrent_mask=np.ones((2, 2), dtype))
            outputs.sum().backward()
