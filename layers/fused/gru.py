"""The fused GRU (reset_after=True, PyTorch's formula): the whole time loop in one kernel.

Step t, for one sample, with the recurrent product hr = hd_t U + b' (blocks z, r, n) and the
input projection x_proj_t = x_t W + b:

    z = sigma(xz + hr_z)      r = sigma(xr + hr_r)      n = tanh(xn + r hr_n)
    h~ = z h_{t-1} + (1 - z) n

Backward, from the whole gradient dh~ reaching h~:

    dn_pre = dh~ (1 - z) tanh'(n)     dz_pre = dh~ (h_{t-1} - n) sigma'(z)
    dr_pre = dn_pre hr_n sigma'(r)
    dL/dx_proj = (dz_pre, dr_pre, dn_pre)      dL/dhr = (dz_pre, dr_pre, dn_pre r)
    dh_{t-1} = dh~ z + (dL/dhr U^T) * d        dU = sum_t hd_t^T dL/dhr_t

(``tanh`` and ``sigma`` are the layer's activation and recurrent activation.)  The masked
step is the driver's.  A GRU with reset_after=False runs on the autograd path.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from layers.fused.driver import FusedRecurrence, add_recurrent_gradient, recurrent_product, time_major
from layers.fused.pointwise import activate_np, derivative, derivative_np, exp_into, exp_scale, from_exp
from minigrad import kernels


@njit(cache=True)
def _forward_jit(x_proj, recurrent, recurrent_bias, h, keep, rmask, act, ract, outputs, saved):
    # h (batch, units): the initial state, updated in place into the final one
    hd, gates, h_prev, hr_n = saved  # each (time, batch, ...), for backward
    batch, time, units = outputs.shape
    one = h.dtype.type(1)
    hr = np.empty((batch, 3 * units), h.dtype)
    pre = np.empty((batch, 3 * units), h.dtype)  # pre-activations of z, r and n
    scaled = np.empty((batch, 2 * units), h.dtype)  # -s pre for z and r (the recurrent activation's s)
    e = np.empty((batch, 2 * units), h.dtype)  # exp(-s pre)
    scaled_n, e_n = np.empty((batch, units), h.dtype), np.empty((batch, units), h.dtype)  # the same for n
    minus_s, minus_s_n = h.dtype.type(-exp_scale(ract)), h.dtype.type(-exp_scale(act))
    for t in range(time):
        recurrent_product(h, rmask, recurrent, hd[t], hr)
        for b in range(batch):
            for j in range(3 * units):
                hr[b, j] += recurrent_bias[j]
            for j in range(2 * units):
                pre[b, j] = x_proj[t, b, j] + hr[b, j]
                scaled[b, j] = minus_s * pre[b, j]
        exp_into(scaled.reshape(scaled.size), e.reshape(e.size))
        for b in range(batch):
            for j in range(2 * units):
                gates[t, b, j] = from_exp(pre[b, j], e[b, j], ract, one)
            for j in range(units):
                hr_n[t, b, j] = hr[b, 2 * units + j]
                n_pre = x_proj[t, b, 2 * units + j] + gates[t, b, units + j] * hr_n[t, b, j]
                pre[b, 2 * units + j] = n_pre
                scaled_n[b, j] = minus_s_n * n_pre
        exp_into(scaled_n.reshape(scaled_n.size), e_n.reshape(e_n.size))
        for b in range(batch):
            for j in range(units):
                z = gates[t, b, j]
                n = from_exp(pre[b, 2 * units + j], e_n[b, j], act, one)
                gates[t, b, 2 * units + j] = n
                h_prev[t, b, j] = h[b, j]
                if keep[b, t]:
                    h[b, j] = z * h[b, j] + (one - z) * n
                    outputs[b, t, j] = h[b, j]
                else:  # keep the state, repeat the output
                    outputs[b, t, j] = outputs[b, t - 1, j] if t > 0 else one - one


def _forward_np(x_proj, recurrent, recurrent_bias, h, keep, rmask, act, ract, outputs, saved):
    hd, gates, h_prev, hr_n = saved
    units = h.shape[1]
    previous = np.zeros_like(h)
    for t in range(outputs.shape[1]):
        hd[t] = h * rmask
        hr = hd[t] @ recurrent + recurrent_bias
        gates[t, :, : 2 * units] = activate_np(x_proj[t, :, : 2 * units] + hr[:, : 2 * units], ract)
        z, r = gates[t, :, :units], gates[t, :, units : 2 * units]
        hr_n[t] = hr[:, 2 * units :]
        gates[t, :, 2 * units :] = n = activate_np(x_proj[t, :, 2 * units :] + r * hr_n[t], act)
        h_prev[t] = h
        kept = keep[:, t, None]
        h[...] = np.where(kept, z * h + (1 - z) * n, h)
        outputs[:, t] = previous = np.where(kept, h, previous)


@njit(cache=True)
def _backward_jit(g_outputs, recurrent_t, dh, keep, rmask, act, ract, saved, g_x_proj, g_hr):
    # dh (batch, units): dL/d(final state), updated in place into dL/d(initial state)
    gates, h_prev, hr_n = saved[1:]  # saved[0], the recurrent inputs, serves dL/dU
    batch, time, units = g_outputs.shape
    one = dh.dtype.type(1)
    repeated = np.zeros((batch, units), dh.dtype)  # r_t: gradient of outputs repeated later
    dhd = np.empty((batch, units), dh.dtype)
    for t in range(time - 1, -1, -1):
        for b in range(batch):
            if not keep[b, t]:  # the state passes its gradient back; the output hands G_t on
                for j in range(units):
                    repeated[b, j] += g_outputs[b, t, j]
                for j in range(3 * units):
                    g_x_proj[t, b, j] = g_hr[t, b, j] = 0
                continue
            for j in range(units):
                z, r, n = gates[t, b, j], gates[t, b, units + j], gates[t, b, 2 * units + j]
                dh_new = dh[b, j] + g_outputs[b, t, j] + repeated[b, j]
                dn = dh_new * (one - z) * derivative(n, act, one)
                dz = dh_new * (h_prev[t, b, j] - n) * derivative(z, ract, one)
                dr = dn * hr_n[t, b, j] * derivative(r, ract, one)
                g_x_proj[t, b, j], g_x_proj[t, b, units + j], g_x_proj[t, b, 2 * units + j] = dz, dr, dn
                g_hr[t, b, j], g_hr[t, b, units + j], g_hr[t, b, 2 * units + j] = dz, dr, dn * r
                dh[b, j] = dh_new * z
                repeated[b, j] = 0
        add_recurrent_gradient(g_hr[t], recurrent_t, rmask, dhd, dh)


def _backward_np(g_outputs, recurrent_t, dh, keep, rmask, act, ract, saved, g_x_proj, g_hr):
    gates, h_prev, hr_n = saved[1:]
    units = dh.shape[1]
    repeated = np.zeros_like(dh)
    for t in reversed(range(g_outputs.shape[1])):
        kept = keep[:, t, None]
        z, r, n = (gates[t, :, k * units : (k + 1) * units] for k in range(3))
        dh_new = dh + g_outputs[:, t] + repeated
        dn = dh_new * (1 - z) * derivative_np(n, act)
        dz = dh_new * (h_prev[t] - n) * derivative_np(z, ract)
        dr = dn * hr_n[t] * derivative_np(r, ract)
        g_x_proj[t] = np.where(kept, np.concatenate([dz, dr, dn], axis=1), 0)
        g_hr[t] = np.where(kept, np.concatenate([dz, dr, dn * r], axis=1), 0)
        repeated[...] = np.where(kept, 0, repeated + g_outputs[:, t])
        dh[...] = np.where(kept, dh_new * z, dh) + (g_hr[t] @ recurrent_t) * rmask


gru_forward = kernels.twin("gru_forward", _forward_jit, _forward_np)
gru_backward = kernels.twin("gru_backward", _backward_jit, _backward_np)


class FusedGRU(FusedRecurrence):
    """The GRU layer's op: (x, h0, kernel, recurrent_kernel, bias (2, 3 units)) -> (outputs, h)."""

    def sequence_forward(self, x_proj, states, recurrent, bias):
        (h,) = states
        time, batch, width = x_proj.shape
        units, dtype = width // 3, h.dtype
        x_proj += bias[0]  # row 0 joins the input projection, row 1 the recurrent one
        self.recurrent = recurrent
        # per step: the recurrent input hd, the gates z, r, n, h_{t-1} and hr_n (hd U_n + b'_n)
        self.saved = time_major(time, batch, dtype, units, width, units, units)
        outputs = np.empty((batch, time, units), dtype)
        gru_forward(x_proj, recurrent, np.ascontiguousarray(bias[1]), h, self.keep, self.rmask,
                    self.act, self.ract, outputs, self.saved)  # fmt: skip
        return outputs, [h]

    def sequence_backward(self, g_outputs, g_finals):
        dh = g_finals[0].copy()
        g_x_proj, g_hr = np.empty_like(self.saved[1]), np.empty_like(self.saved[1])
        gru_backward(g_outputs, np.ascontiguousarray(self.recurrent.T), dh, self.keep, self.rmask,
                     self.act, self.ract, self.saved, g_x_proj, g_hr)  # fmt: skip
        hd, width = self.saved[0], g_hr.shape[2]
        g_recurrent = hd.reshape(-1, hd.shape[2]).T @ g_hr.reshape(-1, width)
        g_bias = np.stack([g_x_proj.sum(axis=(0, 1)), g_hr.sum(axis=(0, 1))])
        return g_x_proj, [dh], g_recurrent, g_bias
