"""The fused LSTM: the whole time loop in one kernel, forward and backward.

Step t, for one sample, with z = x_proj_t + (h_{t-1} * d) U (gate blocks i, f, g, o):

    i = sigma(z_i)   f = sigma(z_f)   g = tanh(z_g)   o = sigma(z_o)
    c~ = f c_{t-1} + i g               h~ = o tanh(c~)

and its backward, from the whole gradients dh~ and dc' reaching h~ and c~:

    dc  = dc' + dh~ o tanh'(c~)        (c~ feeds h~ too)
    dz_i = dc g sigma'(z_i)   dz_f = dc c_{t-1} sigma'(z_f)
    dz_g = dc i tanh'(z_g)    dz_o = dh~ tanh(c~) sigma'(z_o)
    dc_{t-1} = dc f           dh_{t-1} = (dz U^T) * d   (h fed back as h * d)

(``tanh`` and ``sigma`` stand for the layer's activation and recurrent activation; each
derivative is written through the activation's value.)  The masked step is the driver's:
the cell runs on every sample, and ``masked_step_forward`` / ``masked_step_backward`` select.
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


@njit(cache=True, error_model="numpy", nogil=True)
def _forward_jit(
    x_proj, recurrent, h, c, mask, recurrent_mask, activation, recurrent_activation, outputs, saved
):
    # h, c (batch, units): the initial states, updated in place into the final ones; x_proj's
    # step t becomes the step's pre-activations z (the recurrent product lands on it)
    fed_back, gates, c_prev, tanh_c = saved  # each (time, batch, ...), for backward
    batch, time, units = outputs.shape
    h_candidate, c_candidate = np.empty((batch, units), h.dtype), np.empty((batch, units), h.dtype)
    for t in range(time):
        z, gate = x_proj[t], gates[t]
        recurrent_product(h, recurrent_mask, recurrent, fed_back[t], z, 1.0)
        activate_columns(z, gate, 0, 2 * units, recurrent_activation)  # i, f
        activate_columns(z, gate, 2 * units, units, activation)  # g
        activate_columns(z, gate, 3 * units, units, recurrent_activation)  # o
        for b in range(batch):
            i, f, g = gate[b, :units], gate[b, units : 2 * units], gate[b, 2 * units : 3 * units]
            c_b, c_prev_b, c_candidate_b = c[b], c_prev[t, b], c_candidate[b]
            c_prev_b[:] = c_b
            for j in range(units):
                c_candidate_b[j] = f[j] * c_b[j] + i[j] * g[j]
        activate_columns(c_candidate, tanh_c[t], 0, units, activation)
        for b in range(batch):
            o, tanh_c_b, h_candidate_b = gate[b, 3 * units :], tanh_c[t, b], h_candidate[b]
            for j in range(units):
                h_candidate_b[j] = o[j] * tanh_c_b[j]
        masked_step_forward(mask[:, t], (h_candidate, c_candidate), (h, c), outputs, t)


def _forward_np(
    x_proj, recurrent, h, c, mask, recurrent_mask, activation, recurrent_activation, outputs, saved
):
    fed_back, gates, c_prev, tanh_c = saved
    units = h.shape[1]
    for t in range(outputs.shape[1]):
        fed_back[t] = h * recurrent_mask
        x_proj[t] += fed_back[t] @ recurrent
        z = x_proj[t]
        gates[t, :, : 2 * units] = activate_np(z[:, : 2 * units], recurrent_activation)
        gates[t, :, 2 * units : 3 * units] = activate_np(z[:, 2 * units : 3 * units], activation)
        gates[t, :, 3 * units :] = activate_np(z[:, 3 * units :], recurrent_activation)
        i, f, g, o = (gates[t, :, k * units : (k + 1) * units] for k in range(4))
        c_prev[t] = c
        c_candidate = f * c + i * g
        tanh_c[t] = activate_np(c_candidate, activation)
        masked_step_forward(mask[:, t], (o * tanh_c[t], c_candidate), (h, c), outputs, t)


@njit(cache=True, error_model="numpy", nogil=True)
def _backward_jit(
    g_outputs, recurrent_t, g_h, g_c, mask, recurrent_mask, activation, recurrent_activation, saved, g_x_proj
):
    # g_h, g_c (batch, units): dL/d(final states), updated in place into dL/d(initial states)
    gates, c_prev, tanh_c = saved[1:]  # saved[0], the states fed back, serves dL/dU
    batch, time, units = g_outputs.shape
    repeated = np.zeros((batch, units), g_h.dtype)  # r_t: gradient of outputs repeated later
    no_direct_path = np.zeros((batch, units), g_h.dtype)  # h_{t-1} reaches h~ only through U
    g_h_candidate, g_c_candidate = np.empty((batch, units), g_h.dtype), np.empty((batch, units), g_h.dtype)
    g_c_cell, scratch = np.empty((batch, units), g_h.dtype), np.empty((batch, units), g_h.dtype)
    for t in range(time - 1, -1, -1):
        gate, g_z = gates[t], g_x_proj[t]
        gradient_reaching_h(g_h, g_outputs, t, repeated, g_h_candidate)
        for b in range(batch):
            o, g_h_candidate_b, g_c_candidate_b = gate[b, 3 * units :], g_h_candidate[b], g_c_candidate[b]
            for j in range(units):
                g_c_candidate_b[j] = g_h_candidate_b[j] * o[j]
        times_derivative(g_c_candidate, tanh_c[t], 0, units, activation)
        # row by row, each block by itself, and few arrays per loop: the compiler vectorises a
        # loop only where it can check at run time that no two of its arrays overlap
        for b in range(batch):
            i, f, g = gate[b, :units], gate[b, units : 2 * units], gate[b, 2 * units : 3 * units]
            g_i, g_f = g_z[b, :units], g_z[b, units : 2 * units]
            g_g, g_o = g_z[b, 2 * units : 3 * units], g_z[b, 3 * units :]
            g_c_b, g_c_cell_b, dc = g_c[b], g_c_cell[b], g_c_candidate[b]
            for j in range(units):
                dc[j] += g_c_b[j]
                g_c_cell_b[j] = dc[j] * f[j]
            for j in range(units):
                g_i[j] = dc[j] * g[j]
                g_g[j] = dc[j] * i[j]
            c_prev_b, tanh_c_b, g_h_candidate_b = c_prev[t, b], tanh_c[t, b], g_h_candidate[b]
            for j in range(units):
                g_f[j] = dc[j] * c_prev_b[j]
            for j in range(units):
                g_o[j] = g_h_candidate_b[j] * tanh_c_b[j]
        times_derivative(g_z, gate, 0, 2 * units, recurrent_activation)
        times_derivative(g_z, gate, 2 * units, units, activation)
        times_derivative(g_z, gate, 3 * units, units, recurrent_activation)
        masked_step_backward(
            mask[:, t], g_outputs, t, repeated, (g_h, g_c), (no_direct_path, g_c_cell), (g_z,)
        )
        add_recurrent_gradient(g_z, recurrent_t, recurrent_mask, scratch, g_h)


def _backward_np(
    g_outputs, recurrent_t, g_h, g_c, mask, recurrent_mask, activation, recurrent_activation, saved, g_x_proj
):
    gates, c_prev, tanh_c = saved[1:]
    units = g_h.shape[1]
    repeated = np.zeros_like(g_h)
    for t in reversed(range(g_outputs.shape[1])):
        i, f, g, o = (gates[t, :, k * units : (k + 1) * units] for k in range(4))
        g_h_candidate = g_h + g_outputs[:, t] + repeated
        g_c_candidate = g_c + g_h_candidate * o * derivative_np(tanh_c[t], activation)
        g_x_proj[t] = np.concatenate(
            [
                g_c_candidate * g * derivative_np(i, recurrent_activation),
                g_c_candidate * c_prev[t] * derivative_np(f, recurrent_activation),
                g_c_candidate * i * derivative_np(g, activation),
                g_h_candidate * tanh_c[t] * derivative_np(o, recurrent_activation),
            ],
            axis=1,
        )
        g_cell_states = (np.zeros_like(g_h), g_c_candidate * f)
        masked_step_backward(mask[:, t], g_outputs, t, repeated, (g_h, g_c), g_cell_states, (g_x_proj[t],))
        g_h += (g_x_proj[t] @ recurrent_t) * recurrent_mask


lstm_forward = twin("lstm_forward", _forward_jit, _forward_np)
lstm_backward = twin("lstm_backward", _backward_jit, _backward_np)


class FusedLSTM(FusedRecurrence):
    """The LSTM layer's op: (x, h0, c0, kernel, recurrent_kernel, bias) -> (outputs, h, c)."""

    n_states = 2

    def sequence_forward(self, x_proj, states, recurrent, bias):
        h, c = states
        time, batch, width = x_proj.shape
        units, dtype = width // 4, h.dtype
        x_proj += bias
        self.recurrent = recurrent
        # per step: the state fed back h * d, the gates i, f, g, o, c_{t-1} and tanh(c~)
        self.saved = time_major(time, batch, dtype, units, width, units, units)
        outputs = np.empty((batch, time, units), dtype)
        lstm_forward(
            x_proj,
            recurrent,
            h,
            c,
            self.mask,
            self.recurrent_mask,
            self.activation,
            self.recurrent_activation,
            outputs,
            self.saved,
        )
        return outputs, [h, c]

    def sequence_backward(self, g_outputs, g_finals):
        g_h, g_c = (g.copy() for g in g_finals)
        g_x_proj = np.empty_like(self.saved[1])  # (time, batch, 4 units)
        recurrent_t = np.ascontiguousarray(self.recurrent.T)
        lstm_backward(
            g_outputs,
            recurrent_t,
            g_h,
            g_c,
            self.mask,
            self.recurrent_mask,
            self.activation,
            self.recurrent_activation,
            self.saved,
            g_x_proj,
        )
        fed_back = self.saved[0]
        # dL/dU = sum_t fed_back_t^T dz_t, one product over every step
        g_recurrent = fed_back.reshape(-1, fed_back.shape[2]).T @ g_x_proj.reshape(-1, g_x_proj.shape[2])
        return g_x_proj, [g_h, g_c], g_recurrent, g_x_proj.sum(axis=(0, 1))
