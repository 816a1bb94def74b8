"""The fused SimpleRNN: the whole time loop in one kernel, forward and backward.

Step t, for one sample:   h~ = f(x_proj_t + (h_{t-1} * d) W_h)
Backward, from the whole gradient dh~ reaching h~:
    dz = dh~ f'(z)            (written through h~ = f(z))
    dh_{t-1} = (dz W_h^T) * d       dW_h = sum_t (h_{t-1} * d)^T dz_t
The masked step is the driver's: the cell runs on every sample, and ``masked_step_forward`` /
``masked_step_backward`` select.
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
)
from layers.fused.pointwise import activate_columns, activate_np, derivative_np, times_derivative
from layers.fused.twins import twin


@njit(cache=True, error_model="numpy", nogil=True)
def _forward_jit(x_proj, recurrent, h, mask, recurrent_mask, activation, outputs, fed_back):
    # h (batch, units): the initial state, updated in place into the final one; x_proj's step
    # t becomes the step's pre-activation z (the recurrent product lands on it)
    batch, time, units = outputs.shape
    h_candidate = np.empty((batch, units), h.dtype)
    for t in range(time):
        recurrent_product(h, recurrent_mask, recurrent, fed_back[t], x_proj[t], 1.0)
        activate_columns(x_proj[t], h_candidate, 0, units, activation)
        masked_step_forward(mask[:, t], (h_candidate,), (h,), outputs, t)


def _forward_np(x_proj, recurrent, h, mask, recurrent_mask, activation, outputs, fed_back):
    for t in range(outputs.shape[1]):
        fed_back[t] = h * recurrent_mask
        x_proj[t] += fed_back[t] @ recurrent
        h_candidate = activate_np(x_proj[t], activation)
        masked_step_forward(mask[:, t], (h_candidate,), (h,), outputs, t)


@njit(cache=True, error_model="numpy", nogil=True)
def _backward_jit(g_outputs, recurrent_t, g_h, mask, recurrent_mask, activation, outputs, g_x_proj):
    # g_h (batch, units): dL/d(final state), updated in place into dL/d(initial state)
    batch, time, units = g_outputs.shape
    repeated = np.zeros((batch, units), g_h.dtype)  # r_t: gradient of outputs repeated later
    no_direct_path = np.zeros((batch, units), g_h.dtype)  # h_{t-1} reaches h~ only through W_h
    scratch = np.empty((batch, units), g_h.dtype)
    for t in range(time - 1, -1, -1):
        g_z = g_x_proj[t]
        gradient_reaching_h(g_h, g_outputs, t, repeated, g_z)
        times_derivative(g_z, outputs[:, t], 0, units, activation)  # outputs[:, t] is h~ where kept
        masked_step_backward(mask[:, t], g_outputs, t, repeated, (g_h,), (no_direct_path,), (g_z,))
        add_recurrent_gradient(g_z, recurrent_t, recurrent_mask, scratch, g_h)


def _backward_np(g_outputs, recurrent_t, g_h, mask, recurrent_mask, activation, outputs, g_x_proj):
    repeated = np.zeros_like(g_h)
    for t in reversed(range(g_outputs.shape[1])):
        g_x_proj[t] = (g_h + g_outputs[:, t] + repeated) * derivative_np(outputs[:, t], activation)
        masked_step_backward(
            mask[:, t], g_outputs, t, repeated, (g_h,), (np.zeros_like(g_h),), (g_x_proj[t],)
        )
        g_h += (g_x_proj[t] @ recurrent_t) * recurrent_mask


simple_rnn_forward = twin("simple_rnn_forward", _forward_jit, _forward_np)
simple_rnn_backward = twin("simple_rnn_backward", _backward_jit, _backward_np)


class FusedSimpleRNN(FusedRecurrence):
    """The SimpleRNN layer's op: (x, h0, kernel, recurrent_kernel, bias) -> (outputs, h)."""

    def sequence_forward(self, x_proj, states, recurrent, bias):
        (h,) = states
        time, batch, units = x_proj.shape
        x_proj += bias
        self.recurrent = recurrent
        self.fed_back = np.empty((time, batch, units), h.dtype)
        self.step_outputs = np.empty((batch, time, units), h.dtype)
        simple_rnn_forward(
            x_proj,
            recurrent,
            h,
            self.mask,
            self.recurrent_mask,
            self.activation,
            self.step_outputs,
            self.fed_back,
        )
        return self.step_outputs, [h]

    def sequence_backward(self, g_outputs, g_finals):
        g_h = g_finals[0].copy()
        g_x_proj = np.empty_like(self.fed_back)
        recurrent_t = np.ascontiguousarray(self.recurrent.T)
        simple_rnn_backward(
            g_outputs,
            recurrent_t,
            g_h,
            self.mask,
            self.recurrent_mask,
            self.activation,
            self.step_outputs,
            g_x_proj,
        )
        units = self.fed_back.shape[2]
        g_recurrent = self.fed_back.reshape(-1, units).T @ g_x_proj.reshape(-1, units)
        return g_x_proj, [g_h], g_recurrent, g_x_proj.sum(axis=(0, 1))
