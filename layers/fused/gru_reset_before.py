"""The fused GRU with reset_after=False (Keras 2's and ONNX's default GRU): the reset gate
applies to the state before the candidate's recurrent product.

Step t, for one sample, with the recurrent kernel split into U_zr (the z and r blocks) and
U_h, the state fed back hd_t = h_{t-1} * d and the input projection x_proj_t = x_t W + b
(blocks xz, xr, xh):

    z = sigma(xz + hd_t U_z)        r = sigma(xr + hd_t U_r)
    q = r hd_t                      n = tanh(xh + q U_h)
    h~ = z h_{t-1} + (1 - z) n

Backward, from the whole gradient dh~ reaching h~:

    dn_pre = dh~ (1 - z) tanh'(n)      dz_pre = dh~ (h_{t-1} - n) sigma'(z)
    dq = dn_pre U_h^T                  dr_pre = dq hd_t sigma'(r)
    dL/dx_proj = (dz_pre, dr_pre, dn_pre)
    dh_{t-1} = dh~ z + dq r d + ((dz_pre, dr_pre) U_zr^T) * d
    dU_zr = sum_t hd_t^T (dz_pre, dr_pre)_t      dU_h = sum_t q_t^T dn_pre_t

(``tanh`` and ``sigma`` are the layer's activation and recurrent activation.)  A step makes
two products, the second after the gates, where ``reset_after=True`` makes one.  The masked
step is the driver's: the cell runs on every sample, and ``masked_step_forward`` /
``masked_step_backward`` select.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from layers.fused.blas import gemm
from layers.fused.driver import (
    FusedRecurrence,
    add_recurrent_gradient,
    gradient_reaching_h,
    masked_step_backward,
    masked_step_forward,
    recurrent_product,
    time_major,
)
from layers.fused.gru import update_gate_blend, update_gate_blend_backward
from layers.fused.pointwise import activate_columns, activate_np, derivative_np, times_derivative
from layers.fused.twins import twin


@njit(cache=True, error_model="numpy", nogil=True)
def _forward_jit(
    x_proj,
    recurrent_zr,
    recurrent_h,
    h,
    mask,
    recurrent_mask,
    activation,
    recurrent_activation,
    outputs,
    saved,
):
    # h (batch, units): the initial state, updated in place into the final one
    fed_back, gates, h_prev, q = saved  # each (time, batch, ...), for backward
    batch, time, units = outputs.shape
    hr_zr = np.empty((batch, 2 * units), h.dtype)  # hd_t U_zr
    q_h = np.empty((batch, units), h.dtype)  # q U_h
    pre = np.empty((batch, 3 * units), h.dtype)  # pre-activations of z, r and n
    h_candidate = np.empty((batch, units), h.dtype)
    for t in range(time):
        gate = gates[t]
        recurrent_product(h, recurrent_mask, recurrent_zr, fed_back[t], hr_zr, 0.0)
        for b in range(batch):
            for j in range(2 * units):
                pre[b, j] = x_proj[t, b, j] + hr_zr[b, j]
        activate_columns(pre, gate, 0, 2 * units, recurrent_activation)  # z, r
        for b in range(batch):
            for j in range(units):
                q[t, b, j] = gate[b, units + j] * fed_back[t, b, j]
        gemm(q[t], recurrent_h, q_h, 0.0)
        for b in range(batch):
            for j in range(units):
                pre[b, 2 * units + j] = x_proj[t, b, 2 * units + j] + q_h[b, j]
        activate_columns(pre, gate, 2 * units, units, activation)  # n
        h_prev[t] = h
        update_gate_blend(gate, h, units, h_candidate)
        masked_step_forward(mask[:, t], (h_candidate,), (h,), outputs, t)


def _forward_np(
    x_proj,
    recurrent_zr,
    recurrent_h,
    h,
    mask,
    recurrent_mask,
    activation,
    recurrent_activation,
    outputs,
    saved,
):
    fed_back, gates, h_prev, q = saved
    units = h.shape[1]
    for t in range(outputs.shape[1]):
        fed_back[t] = h * recurrent_mask
        gates[t, :, : 2 * units] = activate_np(
            x_proj[t, :, : 2 * units] + fed_back[t] @ recurrent_zr, recurrent_activation
        )
        z, r = gates[t, :, :units], gates[t, :, units : 2 * units]
        q[t] = r * fed_back[t]
        gates[t, :, 2 * units :] = n = activate_np(x_proj[t, :, 2 * units :] + q[t] @ recurrent_h, activation)
        h_prev[t] = h
        masked_step_forward(mask[:, t], (z * h + (1 - z) * n,), (h,), outputs, t)


@njit(cache=True, error_model="numpy", nogil=True)
def _backward_jit(
    g_outputs,
    recurrent_zr_t,
    recurrent_h_t,
    g_h,
    mask,
    recurrent_mask,
    activation,
    recurrent_activation,
    saved,
    g_x_proj,
):
    # g_h (batch, units): dL/d(final state), updated in place into dL/d(initial state)
    fed_back, gates, h_prev = saved[:3]  # saved[3], q, serves dL/dU_h
    batch, time, units = g_outputs.shape
    repeated = np.zeros((batch, units), g_h.dtype)  # r_t: gradient of outputs repeated later
    g_h_candidate, g_h_cell = np.empty((batch, units), g_h.dtype), np.empty((batch, units), g_h.dtype)
    g_q, scratch = np.empty((batch, units), g_h.dtype), np.empty((batch, units), g_h.dtype)
    for t in range(time - 1, -1, -1):
        gate, g_x = gates[t], g_x_proj[t]
        gradient_reaching_h(g_h, g_outputs, t, repeated, g_h_candidate)
        update_gate_blend_backward(g_h_candidate, gate, h_prev[t], units, g_x, g_h_cell)
        times_derivative(g_x, gate, 0, units, recurrent_activation)  # dz_pre
        times_derivative(g_x, gate, 2 * units, units, activation)  # dn_pre
        gemm(g_x[:, 2 * units :], recurrent_h_t, g_q, 0.0)  # dq = dn_pre U_h^T
        for b in range(batch):
            for j in range(units):
                g_x[b, units + j] = g_q[b, j] * fed_back[t, b, j]
                g_h_cell[b, j] += g_q[b, j] * gate[b, units + j] * recurrent_mask[b, j]  # dq r d
        times_derivative(g_x, gate, units, units, recurrent_activation)  # dr_pre
        masked_step_backward(mask[:, t], g_outputs, t, repeated, (g_h,), (g_h_cell,), (g_x,))
        add_recurrent_gradient(g_x[:, : 2 * units], recurrent_zr_t, recurrent_mask, scratch, g_h)


def _backward_np(
    g_outputs,
    recurrent_zr_t,
    recurrent_h_t,
    g_h,
    mask,
    recurrent_mask,
    activation,
    recurrent_activation,
    saved,
    g_x_proj,
):
    fed_back, gates, h_prev = saved[:3]
    units = g_h.shape[1]
    repeated = np.zeros_like(g_h)
    for t in reversed(range(g_outputs.shape[1])):
        z, r, n = (gates[t, :, k * units : (k + 1) * units] for k in range(3))
        g_h_candidate = g_h + g_outputs[:, t] + repeated
        g_n = g_h_candidate * (1 - z) * derivative_np(n, activation)
        g_z = g_h_candidate * (h_prev[t] - n) * derivative_np(z, recurrent_activation)
        g_q = g_n @ recurrent_h_t
        g_r = g_q * fed_back[t] * derivative_np(r, recurrent_activation)
        g_x_proj[t] = np.concatenate([g_z, g_r, g_n], axis=1)
        g_h_cell = g_h_candidate * z + g_q * r * recurrent_mask
        masked_step_backward(mask[:, t], g_outputs, t, repeated, (g_h,), (g_h_cell,), (g_x_proj[t],))
        g_h += (g_x_proj[t, :, : 2 * units] @ recurrent_zr_t) * recurrent_mask


gru_reset_before_forward = twin("gru_reset_before_forward", _forward_jit, _forward_np)
gru_reset_before_backward = twin("gru_reset_before_backward", _backward_jit, _backward_np)


class FusedGRUResetBefore(FusedRecurrence):
    """The op of a GRU with reset_after=False: (x, h0, kernel, recurrent_kernel, bias (3 units))
    -> (outputs, h)."""

    def sequence_forward(self, x_proj, states, recurrent, bias):
        (h,) = states
        time, batch, width = x_proj.shape
        units, dtype = width // 3, h.dtype
        x_proj += bias
        # the two products' kernels, each C-contiguous (BLAS's fast path for small products)
        self.recurrent_zr = np.ascontiguousarray(recurrent[:, : 2 * units])
        self.recurrent_h = np.ascontiguousarray(recurrent[:, 2 * units :])
        # per step: the state fed back h * d, the gates z, r, n, h_{t-1} and q = r (h * d)
        self.saved = time_major(time, batch, dtype, units, width, units, units)
        outputs = np.empty((batch, time, units), dtype)
        gru_reset_before_forward(
            x_proj,
            self.recurrent_zr,
            self.recurrent_h,
            h,
            self.mask,
            self.recurrent_mask,
            self.activation,
            self.recurrent_activation,
            outputs,
            self.saved,
        )
        return outputs, [h]

    def sequence_backward(self, g_outputs, g_finals):
        g_h = g_finals[0].copy()
        g_x_proj = np.empty_like(self.saved[1])  # (time, batch, 3 units)
        gru_reset_before_backward(
            g_outputs,
            np.ascontiguousarray(self.recurrent_zr.T),
            np.ascontiguousarray(self.recurrent_h.T),
            g_h,
            self.mask,
            self.recurrent_mask,
            self.activation,
            self.recurrent_activation,
            self.saved,
            g_x_proj,
        )
        fed_back, q = self.saved[0], self.saved[3]
        units = fed_back.shape[2]
        flat = g_x_proj.reshape(-1, 3 * units)
        g_recurrent_zr = fed_back.reshape(-1, units).T @ flat[:, : 2 * units]
        g_recurrent_h = q.reshape(-1, units).T @ flat[:, 2 * units :]
        g_recurrent = np.concatenate([g_recurrent_zr, g_recurrent_h], axis=1)
        return g_x_proj, [g_h], g_recurrent, g_x_proj.sum(axis=(0, 1))
