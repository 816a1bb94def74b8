"""SimpleRNN: h_t = activation(x_t W_x + h_{t-1} W_h + b), the output is h_t."""

from __future__ import annotations

from typing import Any

import numpy as np

from layers.recurrent import Recurrent, RecurrentCell, document_options
from minigrad import Tensor


class SimpleRNNCell(RecurrentCell):
    """kernel W_x (input_size, units), recurrent_kernel W_h (units, units), bias b (units,)."""

    gates = 1

    def step(
        self, x: Tensor, states: list[Tensor], recurrent_mask: np.ndarray | None = None
    ) -> tuple[Tensor, list[Tensor]]:
        (h,) = states
        if recurrent_mask is not None:
            h = h * recurrent_mask
        z = x @ self.kernel + h @ self.recurrent_kernel
        if self.use_bias:
            z = z + self.bias
        h_new = self.activation(z)
        return h_new, [h_new]


@document_options()
class SimpleRNN(Recurrent):
    """A fully connected RNN whose output is its state (Keras's SimpleRNN).

    x : (batch, time, features) -> (batch, time, units) or (batch, units)
    """

    cell_class = SimpleRNNCell

    def __init__(self, units: int, activation: Any = "tanh", **options: Any) -> None:
        super().__init__(units, activation=activation, **options)
