"""GRU: an update gate z and a reset gate r around one hidden state."""

from __future__ import annotations

from typing import Any

from layers.builtin_recurrent import BuiltinRecurrent
from layers.fused import FusedGRU, FusedGRUResetBefore, FusedRecurrence
from layers.options import CELL, GATED, GRU_ONLY, LAYER, bind, takes_options
from layers.recurrent_cell import GatedCell
from minigrad import Tensor


@takes_options(CELL, GATED, GRU_ONLY)
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.configure(**bind(GRUCell, self, args, kwargs))

    def configure(self, units: int, reset_after: bool, **options: Any) -> None:
        self.reset_after = reset_after
        super().configure(units, **options)

    @property
    def bias_shape(self) -> tuple[int, ...]:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def step(
        self, x: Tensor, states: list[Tensor], h_fed_back: Tensor | None = None
    ) -> tuple[Tensor, list[Tensor]]:
        h_fed_back = states[0] if h_fed_back is None else h_fed_back
        if self.reset_after:
            return self.step_reset_after(x, states, h_fed_back)
        return self.step_reset_before(x, states, h_fed_back)

    def step_reset_after(
        self, x: Tensor, states: list[Tensor], h_fed_back: Tensor
    ) -> tuple[Tensor, list[Tensor]]:
        """The reset gate scales the recurrent product: n = act(x W_h + r * (h U_h + b'_h) + b_h)."""
        (h,) = states
        x_proj, h_proj = x @ self.kernel, h_fed_back @ self.recurrent_kernel
        if self.use_bias:
            x_proj, h_proj = x_proj + self.bias[0], h_proj + self.bias[1]
        z = self.recurrent_activation(self.gate(x_proj, 0) + self.gate(h_proj, 0))
        r = self.recurrent_activation(self.gate(x_proj, 1) + self.gate(h_proj, 1))
        n = self.activation(self.gate(x_proj, 2) + r * self.gate(h_proj, 2))
        h_new = z * h + (1 - z) * n
        return h_new, [h_new]

    def step_reset_before(
        self, x: Tensor, states: list[Tensor], h_fed_back: Tensor
    ) -> tuple[Tensor, list[Tensor]]:
        """The reset gate scales the state before its product: n = act(x W_h + (r * h) U_h + b_h)."""
        (h,) = states
        u = self.units
        x_proj = self.with_bias(x @ self.kernel)
        h_proj = h_fed_back @ self.recurrent_kernel[:, : 2 * u]
        z = self.recurrent_activation(self.gate(x_proj, 0) + self.gate(h_proj, 0))
        r = self.recurrent_activation(self.gate(x_proj, 1) + self.gate(h_proj, 1))
        n = self.activation(self.gate(x_proj, 2) + (r * h_fed_back) @ self.recurrent_kernel[:, 2 * u :])
        h_new = z * h + (1 - z) * n
        return h_new, [h_new]

    def fused_op(self) -> type[FusedRecurrence] | None:
        """FusedGRU computes reset_after=True, FusedGRUResetBefore reset_after=False."""
        if type(self) is not GRUCell:  # a subclass may change step
            return None
        return FusedGRU if self.reset_after else FusedGRUResetBefore

    def torch_name(self) -> str:
        if not self.reset_after:
            raise ValueError(
                "GRU: PyTorch's GRU is the reset_after=True formula; a GRU with "
                "reset_after=False has no PyTorch layout"
            )
        return "GRU"


@takes_options(CELL, GATED, GRU_ONLY, LAYER)
class GRU(BuiltinRecurrent):
    """Gated recurrent unit (Keras's GRU; with ``reset_after=True``, PyTorch's formula too).

    x : (batch, time, features) -> (batch, time, units) or (batch, units)
    """

    cell_class = GRUCell

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.configure(**bind(GRU, self, args, kwargs))
