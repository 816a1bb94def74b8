"""The fused GRU (reset_after=True, PyTorch's formula): the whole time loop in one kernel.

Step t, for one sample, with the recurrent product hr = (h_{t-1} * d) U + b' (blocks z, r, n) and the
input projection x_proj_t = x_t W + b:

    z = sigma(xz + hr_z)      r = sigma(xr + hr_r)      n = tanh(xn + r hr_n)
    h~ = z h_{t-1} + (1 - z) n

Backward, from the whole gradient dh~ reaching h~:

    dn_pre = dh~ (1 - z) tanh'(n)     dz_pre = dh~ (h_{t-1} - n) sigma'(z)
    dr_pre = dn_pre hr_n sigma'(r)
    dL/dx_proj = (dz_pre, dr_pre, dn_pre)      dL/dhr = (dz_pre, dr_pre, dn_pre r)
    dh_{t-1} = dh~ z + (dL/dhr U^T) * d        dU = sum_t (h_{t-1} * d)^T dL/dhr_t

dL/dhr shares its z and r blocks with dL/dx_proj, so backward keeps only its n block,
dn_pre r, per step.  Without recurrent dropout (d = 1) the state fed back is h_{t-1} itself,
and forward keeps it once.

(``tanh`` and ``sigma`` are the layer's activation and recurrent activation.)  The masked
step is the driver's: the cell runs on every sample, and ``masked_step_forward`` /
``masked_step_backward`` select.  ``gru_reset_before`` is the GRU with reset_after=False.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from layers.fused.driver import (
    FusedRecurrence,
    add_recurrent_gradient,
    gradient_reaching_h,
    masked_step_backward,
    masked_step_forward,
    recurrent_product,
    time_major,
)
from layers.fused.pointwise import activate_columns, activate_np, derivative_np, times_derivative
from layers.fused.twins import twin


@njit(cache=True, inline="always")
def update_gate_blend(gate, h, units, h_candidate):
    """h~ = z h + (1 - z) n, written n + z (h - n), for every sample: the update gate's blend,
    the same with reset_after True or False.  gate (batch, 3 units) holds z, r, n; h and
    h_candidate (batch, units)."""
    for b in range(gate.shape[0]):
        for j in range(units):
            h_candidate[b, j] = gate[b, 2 * units + j] + gate[b, j] * (h[b, j] - gate[b, 2 * units + j])


@njit(cache=True, inline="always")
def update_gate_blend_backward(g_h_candidate, gate, h_prev, units, g_x, g_h_cell):
    """The blend's backward from dh~ (``g_h_candidate``): dz = dh~ (h_{t-1} - n) into g_x's z
    block, dn = dh~ (1 - z) into its n block (before the activations' derivatives), and
    dL/dh_{t-1} through the blend, dh~ z, into g_h_cell.  All (batch, units) but gate and g_x,
    (batch, 3 units)."""
    for b in range(gate.shape[0]):
        for j in range(units):
            z, n = gate[b, j], gate[b, 2 * units + j]
            g_x[b, j] = g_h_candidate[b, j] * (h_prev[b, j] - n)
            g_x[b, 2 * units + j] = g_h_candidate[b, j] - g_h_candidate[b, j] * z  # dh~ (1 - z)
            g_h_cell[b, j] = g_h_candidate[b, j] * z


@njit(cache=True, error_model="numpy", nogil=True)
def _forward_jit(
    x_proj,
    recurrent,
    recurrent_bias,
    h,
    mask,
    recurrent_mask,
    activation,
    recurrent_activation,
    outputs,
    saved,
):
    # h (batch, units): the initial state, updated in place into the final one
    fed_back, gates, h_prev, hr_n = saved  # each (time, batch, ...), for backward
    batch, time, units = outputs.shape
    hr = np.empty((batch, 3 * units), h.dtype)
    pre = np.empty((batch, 3 * units), h.dtype)  # pre-activations of z, r and n
    h_candidate = np.empty((batch, units), h.dtype)
    for t in range(time):
        gate = gates[t]
        recurrent_product(h, recurrent_mask, recurrent, fed_back[t], hr, 0.0)
        for b in range(batch):
            hr[b] += recurrent_bias
            for j in range(2 * units):
                pre[b, j] = x_proj[t, b, j] + hr[b, j]
        activate_columns(pre, gate, 0, 2 * units, recurrent_activation)  # z, r
        for b in range(batch):
            for j in range(units):
                hr_n[t, b, j] = hr[b, 2 * units + j]
                pre[b, 2 * units + j] = (
                    x_proj[t, b, 2 * units + j] + gate[b, units + j] * hr[b, 2 * units + j]
                )
        activate_columns(pre, gate, 2 * units, units, activation)  # n
        h_prev[t] = h
        update_gate_blend(gate, h, units, h_candidate)
        masked_step_forward(mask[:, t], (h_candidate,), (h,), outputs, t)


def _forward_np(
    x_proj,
    recurrent,
    recurrent_bias,
    h,
    mask,
    recurrent_mask,
    activation,
    recurrent_activation,
    outputs,
    saved,
):
    fed_back, gates, h_prev, hr_n = saved
    units = h.shape[1]
    for t in range(outputs.shape[1]):
        fed_back[t] = h * recurrent_mask
        hr = fed_back[t] @ recurrent + recurrent_bias
        gates[t, :, : 2 * units] = activate_np(
            x_proj[t, :, : 2 * units] + hr[:, : 2 * units], recurrent_activation
        )
        z, r = gates[t, :, :units], gates[t, :, units : 2 * units]
        hr_n[t] = hr[:, 2 * units :]
        gates[t, :, 2 * units :] = n = activate_np(x_proj[t, :, 2 * units :] + r * hr_n[t], activation)
        h_prev[t] = h
        masked_step_forward(mask[:, t], (z * h + (1 - z) * n,), (h,), outputs, t)


@njit(cache=True, error_model="numpy", nogil=True)
def _backward_jit(
    g_outputs,
    recurrent_t,
    g_h,
    mask,
    recurrent_mask,
    activation,
    recurrent_activation,
    saved,
    g_x_proj,
    g_hr_n,
):
    # g_h (batch, units): dL/d(final state), updated in place into dL/d(initial state)
    gates, h_prev, hr_n = saved[1:]  # saved[0], the states fed back, serves dL/dU
    batch, time, units = g_outputs.shape
    repeated = np.zeros((batch, units), g_h.dtype)  # r_t: gradient of outputs repeated later
    g_h_candidate, g_h_cell = np.empty((batch, units), g_h.dtype), np.empty((batch, units), g_h.dtype)
    scratch = np.empty((batch, units), g_h.dtype)
    g_r = np.empty((batch, 3 * units), g_h.dtype)  # the step's dL/dhr
    for t in range(time - 1, -1, -1):
        gate, g_x, g_n = gates[t], g_x_proj[t], g_hr_n[t]
        gradient_reaching_h(g_h, g_outputs, t, repeated, g_h_candidate)
        update_gate_blend_backward(g_h_candidate, gate, h_prev[t], units, g_x, g_h_cell)
        times_derivative(g_x, gate, 0, units, recurrent_activation)  # dz_pre
        times_derivative(g_x, gate, 2 * units, units, activation)  # dn_pre
        for b in range(batch):
            for j in range(units):
                g_x[b, units + j] = g_x[b, 2 * units + j] * hr_n[t, b, j]
                g_n[b, j] = g_x[b, 2 * units + j] * gate[b, units + j]
        times_derivative(g_x, gate, units, units, recurrent_activation)  # dr_pre
        masked_step_backward(mask[:, t], g_outputs, t, repeated, (g_h,), (g_h_cell,), (g_x, g_n))
        for b in range(batch):
            g_r_b, g_x_b, g_n_b = g_r[b], g_x[b], g_n[b]
            for j in range(2 * units):
                g_r_b[j] = g_x_b[j]
            for j in range(units):
                g_r_b[2 * units + j] = g_n_b[j]
        add_recurrent_gradient(g_r, recurrent_t, recurrent_mask, scratch, g_h)


def _backward_np(
    g_outputs,
    recurrent_t,
    g_h,
    mask,
    recurrent_mask,
    activation,
    recurrent_activation,
    saved,
    g_x_proj,
    g_hr_n,
):
    gates, h_prev, hr_n = saved[1:]
    units = g_h.shape[1]
    repeated = np.zeros_like(g_h)
    for t in reversed(range(g_outputs.shape[1])):
        z, r, n = (gates[t, :, k * units : (k + 1) * units] for k in range(3))
        g_h_candidate = g_h + g_outputs[:, t] + repeated
        g_n = g_h_candidate * (1 - z) * derivative_np(n, activation)
        g_z = g_h_candidate * (h_prev[t] - n) * derivative_np(z, recurrent_activation)
        g_r = g_n * hr_n[t] * derivative_np(r, recurrent_activation)
        g_x_proj[t] = np.concatenate([g_z, g_r, g_n], axis=1)
        g_hr_n[t] = g_n * r
        g_cell = (g_x_proj[t], g_hr_n[t])
        masked_step_backward(mask[:, t], g_outputs, t, repeated, (g_h,), (g_h_candidate * z,), g_cell)
        g_hr = np.concatenate([g_x_proj[t, :, : 2 * units], g_hr_n[t]], axis=1)
        g_h += (g_hr @ recurrent_t) * recurrent_mask


gru_forward = twin("gru_forward", _forward_jit, _forward_np)
gru_backward = twin("gru_backward", _backward_jit, _backward_np)


class FusedGRU(FusedRecurrence):
    """The GRU layer's op: (x, h0, kernel, recurrent_kernel, bias (2, 3 units)) -> (outputs, h)."""

    def sequence_forward(self, x_proj, states, recurrent, bias):
        (h,) = states
        time, batch, width = x_proj.shape
        units, dtype = width // 3, h.dtype
        x_proj += bias[0]  # row 0 joins the input projection, row 1 the recurrent one
        self.recurrent = recurrent
        # per step: the state fed back h * d, the gates z, r, n, h_{t-1} and hr_n; h_{t-1} is
        # the state fed back where there is no recurrent dropout
        fed_back, gates, hr_n = time_major(time, batch, dtype, units, width, units)
        no_dropout = bool((self.recurrent_mask == 1).all())
        h_prev = fed_back if no_dropout else np.empty_like(fed_back)
        self.saved = (fed_back, gates, h_prev, hr_n)
        outputs = np.empty((batch, time, units), dtype)
        gru_forward(
            x_proj,
            recurrent,
            np.ascontiguousarray(bias[1]),
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
        g_x_proj, g_hr_n = np.empty_like(self.saved[1]), np.empty_like(self.saved[0])
        gru_backward(
            g_outputs,
            np.ascontiguousarray(self.recurrent.T),
            g_h,
            self.mask,
            self.recurrent_mask,
            self.activation,
            self.recurrent_activation,
            self.saved,
            g_x_proj,
            g_hr_n,
        )
        units = g_hr_n.shape[2]
        fed_back, g_zr = self.saved[0].reshape(-1, units), g_x_proj.reshape(-1, 3 * units)[:, : 2 * units]
        # dU = sum_t hd_t^T dL/dhr_t, block by block: (dz, dr) are dL/dx_proj's own columns
        g_recurrent = np.concatenate([fed_back.T @ g_zr, fed_back.T @ g_hr_n.reshape(-1, units)], axis=1)
        g_bias_x = g_x_proj.sum(axis=(0, 1))
        g_bias = np.stack([g_bias_x, np.concatenate([g_bias_x[: 2 * units], g_hr_n.sum(axis=(0, 1))])])
        return g_x_proj, [g_h], g_recurrent, g_bias
