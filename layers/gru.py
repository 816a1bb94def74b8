"""GRU: an update gate z and a reset gate r around one hidden state."""

from __future__ import annotations

from typing import Any

import numpy as np

from layers import activations
from layers.recurrent import FUSED_ACTIVATIONS, FusedRecurrence, GatedCell, Recurrent, document_options
from minigrad import Tensor, kernels


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

    def fused_options(self) -> dict[str, Any]:
        return {**super().fused_options(), "reset_after": self.reset_after}


class FusedGRU(FusedRecurrence):
    """Backward of one step, from dh':
        dz = dh' * (h - n),  dn = dh' * (1 - z),  dh (direct) = dh' * z
    then through n's activation to its pre-activation, which reaches r and U_h.
    With reset_after, kernels.gru_forward and kernels.gru_backward hold the pointwise work."""

    def setup(self, time, batch, units, dtype, activation="tanh", recurrent_activation="sigmoid",
              reset_after=True):  # fmt: skip
        self.act = FUSED_ACTIVATIONS[activation]
        self.ract = FUSED_ACTIVATIONS[recurrent_activation]
        self.reset_after = reset_after
        self.gates = np.empty((time, batch, 3 * units), dtype=dtype)  # z, r, n
        self.h_prev = np.empty((time, batch, units), dtype=dtype)
        self.h = np.empty((time, batch, units), dtype=dtype)
        # reset_after: hd U + b' of every step; otherwise (r * hd) of every step
        self.hr = np.empty((time, batch, 3 * units if reset_after else units), dtype=dtype)
        self.g_hr = np.empty((time, batch, 3 * units), dtype=dtype)  # dL/d(recurrent pre-act.)

    def input_bias(self, bias):
        return bias[0] if self.reset_after else bias

    def step_forward(self, t, xp, hd, states):
        self.h_prev[t] = states[0]
        if self.reset_after:
            np.matmul(hd, self.recurrent, out=self.hr[t])
            self.hr[t] += self.bias[1]
            kernels.gru_forward(xp, self.hr[t], self.h_prev[t], self.act, self.ract,
                                self.gates[t], self.h[t])  # fmt: skip
            return [self.h[t]]
        u = hd.shape[1]
        z, r, n = (self.gates[t][:, k * u : (k + 1) * u] for k in range(3))
        zr = self.gates[t][:, : 2 * u]
        kernels.activate(xp[:, : 2 * u] + hd @ self.recurrent[:, : 2 * u], self.ract, zr)
        np.multiply(r, hd, out=self.hr[t])
        kernels.activate(xp[:, 2 * u :] + self.hr[t] @ self.recurrent[:, 2 * u :], self.act, n)
        self.h[t] = z * self.h_prev[t] + (1 - z) * n
        return [self.h[t]]

    def step_backward(self, t, grads, g_xp):
        dh = np.ascontiguousarray(grads[0])
        dh_prev = np.empty_like(dh)
        if self.reset_after:
            kernels.gru_backward(dh, self.h_prev[t], self.gates[t], self.hr[t], self.act,
                                 self.ract, g_xp, self.g_hr[t], dh_prev)  # fmt: skip
            return self.g_hr[t] @ self.recurrent_t, [dh_prev]
        u = dh.shape[1]
        z, r, n = (self.gates[t][:, k * u : (k + 1) * u] for k in range(3))
        dz, dr, dn = (g_xp[:, k * u : (k + 1) * u] for k in range(3))
        kernels.activation_backward(n, dh * (1 - z), self.act, dn)
        d_rhd = dn @ self.recurrent[:, 2 * u :].T  # gradient of r * hd
        kernels.activation_backward(z, dh * (self.h_prev[t] - n), self.ract, dz)
        kernels.activation_backward(r, d_rhd * self.hd[t], self.ract, dr)
        self.g_hr[t] = g_xp
        np.multiply(dh, z, out=dh_prev)
        return g_xp[:, : 2 * u] @ self.recurrent[:, : 2 * u].T + d_rhd * r, [dh_prev]

    def recurrent_grad(self, g_xp):
        width = self.g_hr.shape[2]
        units = width // 3
        hd = self.hd.reshape(-1, units)
        g_hr = self.g_hr.reshape(-1, width)
        if self.reset_after:
            return hd.T @ g_hr
        return np.concatenate([hd.T @ g_hr[:, : 2 * units],
                               self.hr.reshape(-1, units).T @ g_hr[:, 2 * units :]], axis=1)  # fmt: skip

    def bias_grad(self, g_xp):
        g_input = g_xp.sum(axis=(0, 1))
        return np.stack([g_input, self.g_hr.sum(axis=(0, 1))]) if self.reset_after else g_input


GRUCell.fused_class = FusedGRU


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
