"""LSTM: gates i, f, o decide what the cell state c forgets, takes in and shows."""

from __future__ import annotations

from typing import Any

import numpy as np

from layers.builtin_recurrent import BuiltinRecurrent
from layers.fused import FusedLSTM, FusedRecurrence
from layers.options import CELL, GATED, LAYER, LSTM_ONLY, bind, takes_options
from layers.recurrent_cell import GatedCell
from minigrad import Tensor


@takes_options(CELL, GATED, LSTM_ONLY)
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.configure(**bind(LSTMCell, self, args, kwargs))

    def configure(self, units: int, unit_forget_bias: bool, **options: Any) -> None:
        self.unit_forget_bias = unit_forget_bias
        super().configure(units, **options)

    def initial_bias(self) -> np.ndarray:
        bias = super().initial_bias()
        if self.unit_forget_bias:
            bias[self.units : 2 * self.units] = 1
        return bias

    def step(
        self, x: Tensor, states: list[Tensor], h_fed_back: Tensor | None = None
    ) -> tuple[Tensor, list[Tensor]]:
        h, c = states
        h_fed_back = h if h_fed_back is None else h_fed_back
        z = self.with_bias(x @ self.kernel + h_fed_back @ self.recurrent_kernel)
        z_i, z_f, z_c, z_o = z.chunk(4, dim=1)  # the gate blocks: views, one op
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        g = self.activation(z_c)
        o = self.recurrent_activation(z_o)
        c_new = f * c + i * g
        h_new = o * self.activation(c_new)
        return h_new, [h_new, c_new]

    def fused_op(self) -> type[FusedRecurrence] | None:
        return FusedLSTM if type(self) is LSTMCell else None  # a subclass may change step

    def torch_name(self) -> str:
        return "LSTM"


@takes_options(CELL, GATED, LSTM_ONLY, LAYER)
class LSTM(BuiltinRecurrent):
    """Long short-term memory (Keras's LSTM); ``return_state`` gives [output, h, c].

    x : (batch, time, features) -> (batch, time, units) or (batch, units)
    """

    cell_class = LSTMCell

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.configure(**bind(LSTM, self, args, kwargs))
