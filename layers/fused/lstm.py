"""The fused LSTM: the whole time loop in one kernel, forward and backward.

Step t, for one sample, with z = x_proj_t + hd_t U (gate blocks i, f, g, o):

    i = sigma(z_i)   f = sigma(z_f)   g = tanh(z_g)   o = sigma(z_o)
    c~ = f c_{t-1} + i g               h~ = o tanh(c~)

and its backward, from the whole gradients dh~ and dc' reaching h~ and c~:

    dc  = dc' + dh~ o tanh'(c~)        (c~ feeds h~ too)
    dz_i = dc g sigma'(z_i)   dz_f = dc c_{t-1} sigma'(z_f)
    dz_g = dc i tanh'(z_g)    dz_o = dh~ tanh(c~) sigma'(z_o)
    dc_{t-1} = dc f           dh_{t-1} = (dz U^T) * d

(``tanh`` and ``sigma`` stand for the layer's activation and recurrent activation; each
derivative is written through the activation's value.)  The masked step is the driver's.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from layers.fused.driver import FusedRecurrence, add_recurrent_gradient, recurrent_product, time_major
from layers.fused.pointwise import activate_np, derivative, derivative_np, exp_into, exp_scale, from_exp
from minigrad import kernels


@njit(cache=True)
def _forward_jit(x_proj, recurrent, h, c, keep, rmask, act, ract, outputs, saved):
    # h, c (batch, units): the initial states, updated in place into the final ones
    hd, gates, c_prev, tanh_c = saved  # each (time, batch, ...), for backward
    batch, time, units = outputs.shape
    one = h.dtype.type(1)
    z = np.empty((batch, 4 * units), h.dtype)
    scaled = np.empty((batch, 4 * units), h.dtype)  # -s z, s as each block's activation wants
    e = np.empty((batch, 4 * units), h.dtype)  # exp(-s z)
    c_new = np.empty((batch, units), h.dtype)
    scaled_c, e_c = np.empty((batch, units), h.dtype), np.empty((batch, units), h.dtype)  # -s c_new, exp
    minus_s = np.empty(4 * units, h.dtype)
    minus_s[:] = -exp_scale(ract)
    minus_s[2 * units : 3 * units] = -exp_scale(act)
    for t in range(time):
        recurrent_product(h, rmask, recurrent, hd[t], z)
        for b in range(batch):
            for j in range(4 * units):
                z[b, j] += x_proj[t, b, j]
                scaled[b, j] = minus_s[j] * z[b, j]
        exp_into(scaled.reshape(scaled.size), e.reshape(e.size))
        for b in range(batch):
            for j in range(units):
                i = from_exp(z[b, j], e[b, j], ract, one)
                f = from_exp(z[b, units + j], e[b, units + j], ract, one)
                g = from_exp(z[b, 2 * units + j], e[b, 2 * units + j], act, one)
                o = from_exp(z[b, 3 * units + j], e[b, 3 * units + j], ract, one)
                gates[t, b, j], gates[t, b, units + j] = i, f
                gates[t, b, 2 * units + j], gates[t, b, 3 * units + j] = g, o
                c_prev[t, b, j] = c[b, j]
                c_new[b, j] = f * c[b, j] + i * g
                scaled_c[b, j] = minus_s[2 * units] * c_new[b, j]
        exp_into(scaled_c.reshape(scaled_c.size), e_c.reshape(e_c.size))
        for b in range(batch):
            for j in range(units):
                tanh_c[t, b, j] = from_exp(c_new[b, j], e_c[b, j], act, one)
                if keep[b, t]:
                    c[b, j] = c_new[b, j]
                    h[b, j] = gates[t, b, 3 * units + j] * tanh_c[t, b, j]
                    outputs[b, t, j] = h[b, j]
                else:  # keep the states, repeat the output
                    outputs[b, t, j] = outputs[b, t - 1, j] if t > 0 else one - one


def _forward_np(x_proj, recurrent, h, c, keep, rmask, act, ract, outputs, saved):
    hd, gates, c_prev, tanh_c = saved
    time, units = outputs.shape[1], outputs.shape[2]
    previous = np.zeros_like(h)
    for t in range(time):
        hd[t] = h * rmask
        z = x_proj[t] + hd[t] @ recurrent
        gates[t, :, : 2 * units] = activate_np(z[:, : 2 * units], ract)
        gates[t, :, 2 * units : 3 * units] = activate_np(z[:, 2 * units : 3 * units], act)
        gates[t, :, 3 * units :] = activate_np(z[:, 3 * units :], ract)
        i, f, g, o = (gates[t, :, k * units : (k + 1) * units] for k in range(4))
        c_prev[t] = c
        c_new = f * c + i * g
        tanh_c[t] = activate_np(c_new, act)
        kept = keep[:, t, None]
        c[...] = np.where(kept, c_new, c)
        h[...] = np.where(kept, o * tanh_c[t], h)
        outputs[:, t] = previous = np.where(kept, h, previous)


@njit(cache=True)
def _backward_jit(g_outputs, recurrent_t, dh, dc, keep, rmask, act, ract, saved, g_x_proj):
    # dh, dc (batch, units): dL/d(final states), updated in place into dL/d(initial states)
    gates, c_prev, tanh_c = saved[1:]  # saved[0], the recurrent inputs, serves dL/dU
    batch, time, units = g_outputs.shape
    one = dh.dtype.type(1)
    repeated = np.zeros((batch, units), dh.dtype)  # r_t: gradient of outputs repeated later
    dz = np.empty((batch, 4 * units), dh.dtype)
    dhd = np.empty((batch, units), dh.dtype)
    for t in range(time - 1, -1, -1):
        for b in range(batch):
            if not keep[b, t]:  # the states pass their gradients back; the output hands G_t on
                for j in range(units):
                    repeated[b, j] += g_outputs[b, t, j]
                    dz[b, j] = dz[b, units + j] = dz[b, 2 * units + j] = dz[b, 3 * units + j] = 0
                continue
            for j in range(units):
                i, f = gates[t, b, j], gates[t, b, units + j]
                g, o = gates[t, b, 2 * units + j], gates[t, b, 3 * units + j]
                dh_new = dh[b, j] + g_outputs[b, t, j] + repeated[b, j]
                dc_new = dc[b, j] + dh_new * o * derivative(tanh_c[t, b, j], act, one)
                dz[b, j] = dc_new * g * derivative(i, ract, one)
                dz[b, units + j] = dc_new * c_prev[t, b, j] * derivative(f, ract, one)
                dz[b, 2 * units + j] = dc_new * i * derivative(g, act, one)
                dz[b, 3 * units + j] = dh_new * tanh_c[t, b, j] * derivative(o, ract, one)
                dc[b, j] = dc_new * f
                dh[b, j] = repeated[b, j] = 0
        g_x_proj[t] = dz
        add_recurrent_gradient(dz, recurrent_t, rmask, dhd, dh)


def _backward_np(g_outputs, recurrent_t, dh, dc, keep, rmask, act, ract, saved, g_x_proj):
    gates, c_prev, tanh_c = saved[1:]
    time, units = g_outputs.shape[1], g_outputs.shape[2]
    repeated = np.zeros_like(dh)
    for t in reversed(range(time)):
        kept = keep[:, t, None]
        i, f, g, o = (gates[t, :, k * units : (k + 1) * units] for k in range(4))
        dh_new = dh + g_outputs[:, t] + repeated
        dc_new = dc + dh_new * o * derivative_np(tanh_c[t], act)
        dz = np.concatenate([dc_new * g * derivative_np(i, ract), dc_new * c_prev[t] * derivative_np(f, ract),
                             dc_new * i * derivative_np(g, act), dh_new * tanh_c[t] * derivative_np(o, ract)],
                            axis=1)  # fmt: skip
        dz = np.where(kept, dz, 0)
        repeated[...] = np.where(kept, 0, repeated + g_outputs[:, t])
        dc[...] = np.where(kept, dc_new * f, dc)
        dh[...] = np.where(kept, 0, dh) + (dz @ recurrent_t) * rmask
        g_x_proj[t] = dz


lstm_forward = kernels.twin("lstm_forward", _forward_jit, _forward_np)
lstm_backward = kernels.twin("lstm_backward", _backward_jit, _backward_np)


class FusedLSTM(FusedRecurrence):
    """The LSTM layer's op: (x, h0, c0, kernel, recurrent_kernel, bias) -> (outputs, h, c)."""

    n_states = 2

    def sequence_forward(self, x_proj, states, recurrent, bias):
        h, c = states
        time, batch, width = x_proj.shape
        units, dtype = width // 4, h.dtype
        x_proj += bias
        self.recurrent = recurrent
        # per step: the recurrent input hd, the gates i, f, g, o, c_{t-1} and tanh(c~)
        self.saved = time_major(time, batch, dtype, units, width, units, units)
        outputs = np.empty((batch, time, units), dtype)
        lstm_forward(x_proj, recurrent, h, c, self.keep, self.rmask, self.act, self.ract, outputs, self.saved)
        return outputs, [h, c]

    def sequence_backward(self, g_outputs, g_finals):
        dh, dc = (g.copy() for g in g_finals)
        g_x_proj = np.empty_like(self.saved[1])  # (time, batch, 4 units)
        recurrent_t = np.ascontiguousarray(self.recurrent.T)
        lstm_backward(g_outputs, recurrent_t, dh, dc, self.keep, self.rmask, self.act, self.ract,
                      self.saved, g_x_proj)  # fmt: skip
        hd = self.saved[0]
        # dL/dU = sum_t hd_t^T dz_t, one product over every step
        g_recurrent = hd.reshape(-1, hd.shape[2]).T @ g_x_proj.reshape(-1, g_x_proj.shape[2])
        return g_x_proj, [dh, dc], g_recurrent, g_x_proj.sum(axis=(0, 1))
