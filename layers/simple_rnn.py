"""SimpleRNN: h_t = activation(x_t W_x + h_{t-1} W_h + b), the output is h_t."""

from __future__ import annotations

from typing import Any

from layers.builtin_recurrent import BuiltinRecurrent
from layers.fused import FusedRecurrence, FusedSimpleRNN
from layers.options import CELL, LAYER, bind, takes_options
from layers.recurrent_cell import RecurrentCell
from minigrad import Tensor


@takes_options(CELL)
class SimpleRNNCell(RecurrentCell):
    """kernel W_x (input_size, units), recurrent_kernel W_h (units, units), bias b (units,)."""

    gates = 1

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.configure(**bind(SimpleRNNCell, self, args, kwargs))

    def step(
        self, x: Tensor, states: list[Tensor], h_fed_back: Tensor | None = None
    ) -> tuple[Tensor, list[Tensor]]:
        h_fed_back = states[0] if h_fed_back is None else h_fed_back
        h_new = self.activation(self.with_bias(x @ self.kernel + h_fed_back @ self.recurrent_kernel))
        return h_new, [h_new]

    def fused_op(self) -> type[FusedRecurrence] | None:
        return FusedSimpleRNN if type(self) is SimpleRNNCell else None  # a subclass may change step

    def torch_name(self) -> str:
        return "RNN"


@takes_options(CELL, LAYER)
class SimpleRNN(BuiltinRecurrent):
    """A fully connected RNN whose output is its state (Keras's SimpleRNN).

    x : (batch, time, features) -> (batch, time, units) or (batch, units)
    """

    cell_class = SimpleRNNCell

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.configure(**bind(SimpleRNN, self, args, kwargs))
