"""The fused SimpleRNN: the whole time loop in one kernel, forward and backward.

Step t, for one sample:   h~ = f(x_proj_t + hd_t W_h)
Backward, from the whole gradient dh~ reaching h~:
    dz = dh~ f'(z)            (written through h~ = f(z))
    dh_{t-1} = (dz W_h^T) * d       dW_h = sum_t hd_t^T dz_t
The masked step is the driver's.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from layers.fused.driver import FusedRecurrence, add_recurrent_gradient, recurrent_product
from layers.fused.pointwise import activate_np, derivative, derivative_np, exp_into, exp_scale, from_exp
from minigrad import kernels


@njit(cache=True)
def _forward_jit(x_proj, recurrent, h, keep, rmask, act, outputs, hd):
    # h (batch, units): the initial state, updated in place into the final one
    batch, time, units = outputs.shape
    one = h.dtype.type(1)
    z = np.empty((batch, units), h.dtype)
    scaled = np.empty((batch, units), h.dtype)  # -s z, s as the activation wants
    e = np.empty((batch, units), h.dtype)  # exp(-s z)
    minus_s = h.dtype.type(-exp_scale(act))
    for t in range(time):
        recurrent_product(h, rmask, recurrent, hd[t], z)
        for b in range(batch):
            for j in range(units):
                z[b, j] += x_proj[t, b, j]
                scaled[b, j] = minus_s * z[b, j]
        exp_into(scaled.reshape(scaled.size), e.reshape(e.size))
        for b in range(batch):
            for j in range(units):
                if keep[b, t]:
                    h[b, j] = from_exp(z[b, j], e[b, j], act, one)
                    outputs[b, t, j] = h[b, j]
                else:  # keep the state, repeat the output
                    outputs[b, t, j] = outputs[b, t - 1, j] if t > 0 else one - one


def _forward_np(x_proj, recurrent, h, keep, rmask, act, outputs, hd):
    previous = np.zeros_like(h)
    for t in range(outputs.shape[1]):
        hd[t] = h * rmask
        kept = keep[:, t, None]
        h[...] = np.where(kept, activate_np(x_proj[t] + hd[t] @ recurrent, act), h)
        outputs[:, t] = previous = np.where(kept, h, previous)


@njit(cache=True)
def _backward_jit(g_outputs, recurrent_t, dh, keep, rmask, act, outputs, g_x_proj):
    # dh (batch, units): dL/d(final state), updated in place into dL/d(initial state)
    batch, time, units = g_outputs.shape
    one = dh.dtype.type(1)
    repeated = np.zeros((batch, units), dh.dtype)  # r_t: gradient of outputs repeated later
    dz = np.empty((batch, units), dh.dtype)
    dhd = np.empty((batch, units), dh.dtype)
    for t in range(time - 1, -1, -1):
        for b in range(batch):
            for j in range(units):
                if keep[b, t]:  # outputs[b, t] is h~ itself
                    dh_new = dh[b, j] + g_outputs[b, t, j] + repeated[b, j]
                    dz[b, j] = dh_new * derivative(outputs[b, t, j], act, one)
                    dh[b, j] = repeated[b, j] = 0
                else:  # the state passes its gradient back; the output hands G_t on
                    repeated[b, j] += g_outputs[b, t, j]
                    dz[b, j] = 0
        g_x_proj[t] = dz
        add_recurrent_gradient(dz, recurrent_t, rmask, dhd, dh)


def _backward_np(g_outputs, recurrent_t, dh, keep, rmask, act, outputs, g_x_proj):
    repeated = np.zeros_like(dh)
    for t in reversed(range(g_outputs.shape[1])):
        kept = keep[:, t, None]
        dz = np.where(kept, (dh + g_outputs[:, t] + repeated) * derivative_np(outputs[:, t], act), 0)
        repeated[...] = np.where(kept, 0, repeated + g_outputs[:, t])
        dh[...] = np.where(kept, 0, dh) + (dz @ recurrent_t) * rmask
        g_x_proj[t] = dz


simple_rnn_forward = kernels.twin("simple_rnn_forward", _forward_jit, _forward_np)
simple_rnn_backward = kernels.twin("simple_rnn_backward", _backward_jit, _backward_np)


class FusedSimpleRNN(FusedRecurrence):
    """The SimpleRNN layer's op: (x, h0, kernel, recurrent_kernel, bias) -> (outputs, h)."""

    def sequence_forward(self, x_proj, states, recurrent, bias):
        (h,) = states
        time, batch, units = x_proj.shape
        x_proj += bias
        self.recurrent = recurrent
        self.hd = np.empty((time, batch, units), h.dtype)
        self.step_outputs = np.empty((batch, time, units), h.dtype)
        simple_rnn_forward(x_proj, recurrent, h, self.keep, self.rmask, self.act, self.step_outputs, self.hd)
        return self.step_outputs, [h]

    def sequence_backward(self, g_outputs, g_finals):
        dh = g_finals[0].copy()
        g_x_proj = np.empty_like(self.hd)
        simple_rnn_backward(g_outputs, np.ascontiguousarray(self.recurrent.T), dh, self.keep, self.rmask,
                            self.act, self.step_outputs, g_x_proj)  # fmt: skip
        units = self.hd.shape[2]
        g_recurrent = self.hd.reshape(-1, units).T @ g_x_proj.reshape(-1, units)
        return g_x_proj, [dh], g_recurrent, g_x_proj.sum(axis=(0, 1))
