"""SimpleRNN: h_t = activation(x_t W_x + h_{t-1} W_h + b), the output is h_t."""

from __future__ import annotations

from typing import Any

import numpy as np

from layers.recurrent import FUSED_ACTIVATIONS, FusedRecurrence, Recurrent, RecurrentCell, document_options
from minigrad import Tensor, kernels


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


class FusedSimpleRNN(FusedRecurrence):
    """Forward: z_t = xp_t + hd_t W_h, h_t = f(z_t).
    Backward: dz_t = dh_t * f'(z_t); dhd_t = dz_t W_h^T; dW_h = sum_t hd_t^T dz_t."""

    def setup(self, time, batch, units, dtype, activation="tanh"):
        self.act = FUSED_ACTIVATIONS[activation]
        self.h = np.empty((time, batch, units), dtype=dtype)

    def step_forward(self, t, xp, hd, states):
        z = xp + hd @ self.recurrent
        kernels.activate(z, self.act, self.h[t])
        return [self.h[t]]

    def step_backward(self, t, grads, g_xp):
        kernels.activation_backward(self.h[t], grads[0], self.act, g_xp)
        return g_xp @ self.recurrent_t, [0]


SimpleRNNCell.fused_class = FusedSimpleRNN


@document_options()
class SimpleRNN(Recurrent):
    """A fully connected RNN whose output is its state (Keras's SimpleRNN).

    x : (batch, time, features) -> (batch, time, units) or (batch, units)
    """

    cell_class = SimpleRNNCell

    def __init__(self, units: int, activation: Any = "tanh", **options: Any) -> None:
        super().__init__(units, activation=activation, **options)
