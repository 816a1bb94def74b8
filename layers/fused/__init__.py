"""The fused path: a built-in recurrent layer's whole sequence as one op, with
backpropagation through time written out by hand and run in compiled loops.

The cells in ``layers`` hold the formulas, written in minigrad's primitive ops; running them
step by step is the autograd path, the reference.  This package is only an optimization that
must give the same numbers (the tests check it against the autograd path, and each Numba
kernel against its numpy twin):

* ``driver``: ``FusedRecurrence``, what every layer shares (the input projection of every
  step as one product, the gradients of the input and the kernel, and the derivation of the
  masked step);
* ``simple_rnn``, ``lstm``, ``gru`` (reset_after=True), ``gru_reset_before`` (reset_after=False):
  each layer's time loop, forward and backward, one compiled kernel each with its numpy twin
  (registered in ``twins``), the step's equations in the module docstring;
* ``pointwise``: the activations inside those kernels, and a vectorised exponential;
* ``blas``: numpy's own BLAS, which the kernels call inside their time loops.

Each built-in cell names its op (``fused_op()`` in ``layers.recurrent_cell`` and the cells);
this package knows no cell and imports only ``minigrad`` and its own modules.
"""

from __future__ import annotations

import numpy as np

from layers.fused.driver import FusedRecurrence
from layers.fused.gru import FusedGRU
from layers.fused.gru_reset_before import FusedGRUResetBefore
from layers.fused.lstm import FusedLSTM
from layers.fused.pointwise import CODES
from layers.fused.simple_rnn import FusedSimpleRNN
from minigrad import Tensor

__all__ = [
    "CODES",
    "FusedGRU",
    "FusedGRUResetBefore",
    "FusedLSTM",
    "FusedRecurrence",
    "FusedSimpleRNN",
    "warm_up",
]


def warm_up() -> None:
    """Compile (or load from Numba's cache) every fused kernel, for float32 and float64: the
    kernels every layer's training step runs, whatever its activations (each kernel takes them
    as arguments) and whichever loss sent the gradient (it reaches the kernels read-only)."""
    for dtype in (np.float32, np.float64):
        for op, gates, states in (
            (FusedSimpleRNN, 1, 1),
            (FusedLSTM, 4, 2),
            (FusedGRU, 3, 1),
            (FusedGRUResetBefore, 3, 1),
        ):
            x = Tensor(np.ones((2, 3, 2), dtype), requires_grad=True)
            initial = [Tensor(np.zeros((2, 2), dtype)) for _ in range(states)]
            bias = np.zeros((2, 6) if op is FusedGRU else (2 * gates,), dtype)
            weights = [np.ones((2, 2 * gates), dtype), np.ones((2, 2 * gates), dtype), bias]
            mask = np.array([[True, False, True], [True, True, False]])
            outputs, *_ = op.apply(x, *initial, *weights, mask=mask, recurrent_mask=np.ones((2, 2), dtype))
            outputs.sum().backward()
