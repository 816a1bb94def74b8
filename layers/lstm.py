"""LSTM: gates i, f, o decide what the cell state c forgets, takes in and shows."""

from __future__ import annotations

from typing import Any

import numpy as np

from layers import activations
from layers.recurrent import GatedCell, Recurrent, document_options
from minigrad import Tensor


class LSTMCell(GatedCell):
    """Weights in Keras's layout with gate blocks in the order i, f, c, o:
    kernel (input_size, 4 units), recurrent_kernel (units, 4 units), bias (4 units,).

        i = sigma(x W_i + h U_i + b_i)      input gate
        f = sigma(x W_f + h U_f + b_f)      forget gate
        g = tanh(x W_c + h U_c + b_c)       candidate cell state
        o = sigma(x W_o + h U_o + b_o)      output gate
        c' = f * c + i * g                  the cell state, the long-term memory
        h' = o * tanh(c')                   the output and hidden state

    ``unit_forget_bias`` starts b_f at 1 so that the cell remembers by default.
    """

    gates = 4
    state_names = ("h", "c")

    def __init__(
        self,
        units: int,
        recurrent_activation: str | activations.Activation = "sigmoid",
        unit_forget_bias: bool = True,
        **options: Any,
    ) -> None:
        self.unit_forget_bias = unit_forget_bias
        super().__init__(units, recurrent_activation=recurrent_activation, **options)

    def initial_bias(self) -> np.ndarray:
        bias = super().initial_bias()
        if self.unit_forget_bias:
            bias[self.units : 2 * self.units] = 1
        return bias

    def step(
        self, x: Tensor, states: list[Tensor], recurrent_mask: np.ndarray | None = None
    ) -> tuple[Tensor, list[Tensor]]:
        h, c = states
        if recurrent_mask is not None:
            h = h * recurrent_mask
        z = x @ self.kernel + h @ self.recurrent_kernel
        if self.use_bias:
            z = z + self.bias
        i = self.recurrent_activation(self.gate(z, 0))
        f = self.recurrent_activation(self.gate(z, 1))
        g = self.activation(self.gate(z, 2))
        o = self.recurrent_activation(self.gate(z, 3))
        c_new = f * c + i * g
        h_new = o * self.activation(c_new)
        return h_new, [h_new, c_new]


LSTM_OPTIONS = """\
    recurrent_activation : str or callable, default "sigmoid"
        Applied to the gates i, f, o.
    unit_forget_bias : bool, default True
        Start the forget gate's bias at 1, so that the cell remembers by default.
"""


@document_options(LSTM_OPTIONS)
class LSTM(Recurrent):
    """Long short-term memory (Keras's LSTM); ``return_state`` gives [output, h, c].

    x : (batch, time, features) -> (batch, time, units) or (batch, units)
    """

    cell_class = LSTMCell
    torch_gate_order = (0, 1, 2, 3)  # PyTorch's i, f, g, o is Keras's i, f, c, o

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        unit_forget_bias: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            unit_forget_bias=unit_forget_bias,
            **options,
        )
