"""GRU: an update gate z and a reset gate r around one hidden state."""

from __future__ import annotations

from typing import Any

import numpy as np

from layers import activations
from layers.recurrent import GatedCell, Recurrent, document_options
from minigrad import Tensor


class GRUCell(GatedCell):
    """Weights in Keras's layout with gate blocks in the order z, r, h:
    kernel (input_size, 3 units), recurrent_kernel (units, 3 units).

        z = sigma(x W_z + h U_z + b_z)                update gate
        r = sigma(x W_r + h U_r + b_r)                reset gate
        n = tanh(x W_h + r * (h U_h + b'_h) + b_h)    reset_after=True (PyTorch's formula)
        n = tanh(x W_h + (r * h) U_h + b_h)           reset_after=False
        h' = z * h + (1 - z) * n

    With ``reset_after=True`` the bias is (2, 3 units): row 0 is added to the input
    projection, row 1 to the recurrent one.  Otherwise it is (3 units,).
    """

    gates = 3

    def __init__(
        self,
        units: int,
        recurrent_activation: str | activations.Activation = "sigmoid",
        reset_after: bool = True,
        **options: Any,
    ) -> None:
        self.reset_after = reset_after
        super().__init__(units, recurrent_activation=recurrent_activation, **options)

    @property
    def bias_shape(self) -> tuple[int, ...]:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def step(
        self, x: Tensor, states: list[Tensor], recurrent_mask: np.ndarray | None = None
    ) -> tuple[Tensor, list[Tensor]]:
        (h,) = states
        hd = h if recurrent_mask is None else h * recurrent_mask
        u = self.units
        xp = x @ self.kernel
        if self.reset_after:
            hr = hd @ self.recurrent_kernel
            if self.use_bias:
                xp, hr = xp + self.bias[0], hr + self.bias[1]
            z = self.recurrent_activation(self.gate(xp, 0) + self.gate(hr, 0))
            r = self.recurrent_activation(self.gate(xp, 1) + self.gate(hr, 1))
            n = self.activation(self.gate(xp, 2) + r * self.gate(hr, 2))
        else:
            if self.use_bias:
                xp = xp + self.bias
            hr = hd @ self.recurrent_kernel[:, : 2 * u]
            z = self.recurrent_activation(self.gate(xp, 0) + self.gate(hr, 0))
            r = self.recurrent_activation(self.gate(xp, 1) + self.gate(hr, 1))
            n = self.activation(self.gate(xp, 2) + (r * hd) @ self.recurrent_kernel[:, 2 * u :])
        h_new = z * h + (1 - z) * n
        return h_new, [h_new]


GRU_OPTIONS = """\
    recurrent_activation : str or callable, default "sigmoid"
        Applied to the gates z, r.
    reset_after : bool, default True
        Apply the reset gate after the recurrent product (PyTorch's formula; the bias is then
        (2, 3 units)) rather than before it.
"""


@document_options(GRU_OPTIONS)
class GRU(Recurrent):
    """Gated recurrent unit (Keras's GRU; with ``reset_after=True``, PyTorch's formula too).

    x : (batch, time, features) -> (batch, time, units) or (batch, units)
    """

    cell_class = GRUCell
    torch_gate_order = (1, 0, 2)  # PyTorch's r, z, n from Keras's z, r, h

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        reset_after: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            reset_after=reset_after,
            **options,
        )

    def _torch_biases(self, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._require_reset_after()
        return bias[0], bias[1]

    def _keras_bias(self, bias_ih: np.ndarray, bias_hh: np.ndarray) -> np.ndarray:
        self._require_reset_after()
        return np.stack([bias_ih, bias_hh])

    def _require_reset_after(self) -> None:
        if not self.cell.reset_after:
            raise ValueError(
                "GRU: PyTorch's GRU is the reset_after=True formula; a GRU with "
                "reset_after=False has no PyTorch layout"
            )
