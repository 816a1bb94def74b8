"""GRU: an update gate z and a reset gate r around one hidden state."""

from __future__ import annotations

from typing import Any

import numpy as np

from layers import activations
from layers.recurrent import FUSED_ACTIVATIONS, FusedRecurrence, Recurrent, RecurrentCell
from minigrad import Tensor


class GRUCell(RecurrentCell):
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
        self.recurrent_activation_name = (
            recurrent_activation if isinstance(recurrent_activation, str) else None
        )
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = reset_after
        super().__init__(units, **options)

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

    def fused_options(self) -> dict[str, Any]:
        return {
            **super().fused_options(),
            "recurrent_activation": self.recurrent_activation_name,
            "reset_after": self.reset_after,
        }

    def fusable(self) -> bool:
        return super().fusable() and self.recurrent_activation_name in FUSED_ACTIVATIONS


class FusedGRU(FusedRecurrence):
    """Backward of one step, from dh':
        dz = dh' * (h - n),  dn = dh' * (1 - z),  dh (direct) = dh' * z
    then through n's activation to its pre-activation, which reaches r and U_h."""

    def setup(self, kernel, recurrent, bias, activation="tanh", recurrent_activation="sigmoid",
              reset_after=True):  # fmt: skip
        super().setup(kernel, recurrent, bias)
        self.f, self.df = FUSED_ACTIVATIONS[activation]
        self.rf, self.rdf = FUSED_ACTIVATIONS[recurrent_activation]
        self.reset_after = reset_after
        self.saved: list[tuple[np.ndarray, ...]] = []
        self.d_recurrent_bias = np.zeros(bias.shape[-1], dtype=bias.dtype)

    def input_bias(self, bias):
        return bias[0] if self.reset_after else bias

    def step_forward(self, t, xp, hd, states):
        h = states[0]
        u = h.shape[1]
        if self.reset_after:
            hr = hd @ self.recurrent + self.bias[1]
            z = self.rf(xp[:, :u] + hr[:, :u])
            r = self.rf(xp[:, u : 2 * u] + hr[:, u : 2 * u])
            hh = hr[:, 2 * u :]  # h U_h + b'_h, which r scales
            n = self.f(xp[:, 2 * u :] + r * hh)
        else:
            hr = hd @ self.recurrent[:, : 2 * u]
            z = self.rf(xp[:, :u] + hr[:, :u])
            r = self.rf(xp[:, u : 2 * u] + hr[:, u:])
            hh = (r * hd) @ self.recurrent[:, 2 * u :]
            n = self.f(xp[:, 2 * u :] + hh)
        self.saved.append((h, z, r, n, hh))
        return [z * h + (1 - z) * n]

    def step_backward(self, t, grads):
        (dh_new,) = grads
        h, z, r, n, hh = self.saved[t]
        hd = self.hd[t]
        u = h.shape[1]
        dn = dh_new * (1 - z) * self.df(n)  # gradient of n's pre-activation
        dz = dh_new * (h - n) * self.rdf(z)
        if self.reset_after:
            dr = dn * hh * self.rdf(r)
            d_hr = np.concatenate([dz, dr, dn * r], axis=1)  # gradient of h U + b'
            self.d_recurrent += hd.T @ d_hr
            self.d_recurrent_bias += d_hr.sum(axis=0)
            d_hd = d_hr @ self.recurrent.T
        else:
            d_rhd = dn @ self.recurrent[:, 2 * u :].T  # gradient of r * hd
            dr = d_rhd * hd * self.rdf(r)
            d_zr = np.concatenate([dz, dr], axis=1)
            self.d_recurrent[:, : 2 * u] += hd.T @ d_zr
            self.d_recurrent[:, 2 * u :] += (r * hd).T @ dn
            d_hd = d_zr @ self.recurrent[:, : 2 * u].T + d_rhd * r
        return np.concatenate([dz, dr, dn], axis=1), d_hd, [dh_new * z]

    def bias_grad(self, g_xp):
        g_input = g_xp.sum(axis=(0, 1))
        return np.stack([g_input, self.d_recurrent_bias]) if self.reset_after else g_input


class GRU(Recurrent):
    """Gated recurrent unit (Keras's GRU; with ``reset_after=True``, PyTorch's formula too).

    x : (batch, time, features) -> (batch, time, units) or (batch, units)
    """

    cell_class = GRUCell
    fused_class = FusedGRU
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
