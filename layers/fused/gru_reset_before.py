"""The fused GRU with reset_after=False (Keras 2's and ONNX's default GRU): the reset gate
applies to the state before the candidate's recurrent product.

Step t, for one sample, with the recurrent kernel split into U_zr (the z and r blocks) and
U_h, hd_t = h_{t-1} * d and the input projection x_proj_t = x_t W + b (blocks xz, xr, xh):

    z = sigma(xz + hd_t U_z)        r = sigma(xr + hd_t U_r)
    q = r hd_t                      n = tanh(xh + q U_h)
    h~ = z h_{t-1} + (1 - z) n

Backward, from the whole gradient dh~ reaching h~:

    dn_pre = dh~ (1 - z) tanh'(n)      dz_pre = dh~ (h_{t-1} - n) sigma'(z)
    dq = dn_pre U_h^T                  dr_pre = dq hd_t sigma'(r)
    dL/dx_proj = (dz_pre, dr_pre, dn_pre)
    dh_{t-1} = dh~ z + (dq r + (dz_pre, dr_pre) U_zr^T) * d
    dU_zr = sum_t hd_t^T (dz_pre, dr_pre)_t      dU_h = sum_t q_t^T dn_pre_t

(``tanh`` and ``sigma`` are the layer's activation and recurrent activation.)  A step makes
two products, the second after the gates, where ``reset_after=True`` makes one.  The masked
step is the driver's.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from layers.fused.blas import gemm
from layers.fused.driver import FusedRecurrence, add_recurrent_gradient, recurrent_product, time_major
from layers.fused.pointwise import activate_np, derivative, derivative_np, exp_into, exp_scale, from_exp
from minigrad import kernels


@njit(cache=True)
def _forward_jit(x_proj, recurrent_zr, recurrent_h, h, keep, rmask, act, ract, outputs, saved):
    # h (batch, units): the initial state, updated in place into the final one
    hd, gates, h_prev, q = saved  # each (time, batch, ...), for backward
    batch, time, units = outputs.shape
    one = h.dtype.type(1)
    pre = np.empty((batch, 3 * units), h.dtype)  # recurrent parts, then pre-activations, of z, r, n
    scaled = np.empty((batch, 2 * units), h.dtype)  # -s pre for z and r (the recurrent activation's s)
    e = np.empty((batch, 2 * units), h.dtype)  # exp(-s pre)
    scaled_n, e_n = np.empty((batch, units), h.dtype), np.empty((batch, units), h.dtype)  # the same for n
    minus_s, minus_s_n = h.dtype.type(-exp_scale(ract)), h.dtype.type(-exp_scale(act))
    for t in range(time):
        recurrent_product(h, rmask, recurrent_zr, hd[t], pre[:, : 2 * units])
        for b in range(batch):
            for j in range(2 * units):
                pre[b, j] += x_proj[t, b, j]
                scaled[b, j] = minus_s * pre[b, j]
        exp_into(scaled.reshape(scaled.size), e.reshape(e.size))
        for b in range(batch):
            for j in range(2 * units):
                gates[t, b, j] = from_exp(pre[b, j], e[b, j], ract, one)
            for j in range(units):
                q[t, b, j] = gates[t, b, units + j] * hd[t, b, j]
        gemm(q[t], recurrent_h, pre[:, 2 * units :], 0.0)
        for b in range(batch):
            for j in range(units):
                pre[b, 2 * units + j] += x_proj[t, b, 2 * units + j]
                scaled_n[b, j] = minus_s_n * pre[b, 2 * units + j]
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


def _forward_np(x_proj, recurrent_zr, recurrent_h, h, keep, rmask, act, ract, outputs, saved):
    hd, gates, h_prev, q = saved
    units = h.shape[1]
    previous = np.zeros_like(h)
    for t in range(outputs.shape[1]):
        hd[t] = h * rmask
        gates[t, :, : 2 * units] = activate_np(x_proj[t, :, : 2 * units] + hd[t] @ recurrent_zr, ract)
        z, r = gates[t, :, :units], gates[t, :, units : 2 * units]
        q[t] = r * hd[t]
        gates[t, :, 2 * units :] = n = activate_np(x_proj[t, :, 2 * units :] + q[t] @ recurrent_h, act)
        h_prev[t] = h
        kept = keep[:, t, None]
        h[...] = np.where(kept, z * h + (1 - z) * n, h)
        outputs[:, t] = previous = np.where(kept, h, previous)


@njit(cache=True)
def _backward_jit(g_outputs, recurrent_zr_t, recurrent_h_t, dh, keep, rmask, act, ract, saved, g_x_proj):
    # dh (batch, units): dL/d(final state), updated in place into dL/d(initial state)
    hd, gates, h_prev = saved[:3]
    batch, time, units = g_outputs.shape
    one = dh.dtype.type(1)
    repeated = np.zeros((batch, units), dh.dtype)  # r_t: gradient of outputs repeated later
    dq = np.empty((batch, units), dh.dtype)
    scratch = np.empty((batch, units), dh.dtype)
    for t in range(time - 1, -1, -1):
        for b in range(batch):
            if not keep[b, t]:  # the state passes its gradient back; the output hands G_t on
                for j in range(units):
                    repeated[b, j] += g_outputs[b, t, j]
                for j in range(3 * units):
                    g_x_proj[t, b, j] = 0
                continue
            for j in range(units):
                z, n = gates[t, b, j], gates[t, b, 2 * units + j]
                dh_new = dh[b, j] + g_outputs[b, t, j] + repeated[b, j]
                g_x_proj[t, b, 2 * units + j] = dh_new * (one - z) * derivative(n, act, one)
                g_x_proj[t, b, j] = dh_new * (h_prev[t, b, j] - n) * derivative(z, ract, one)
                dh[b, j] = dh_new * z
                repeated[b, j] = 0
        gemm(g_x_proj[t, :, 2 * units :], recurrent_h_t, dq, 0.0)
        for b in range(batch):
            if keep[b, t]:
                for j in range(units):
                    r = gates[t, b, units + j]
                    g_x_proj[t, b, units + j] = dq[b, j] * hd[t, b, j] * derivative(r, ract, one)
                    dh[b, j] += dq[b, j] * r * rmask[b, j]
        add_recurrent_gradient(g_x_proj[t, :, : 2 * units], recurrent_zr_t, rmask, scratch, dh)


def _backward_np(g_outputs, recurrent_zr_t, recurrent_h_t, dh, keep, rmask, act, ract, saved, g_x_proj):
    hd, gates, h_prev = saved[:3]
    units = dh.shape[1]
    repeated = np.zeros_like(dh)
    for t in reversed(range(g_outputs.shape[1])):
        kept = keep[:, t, None]
        z, r, n = (gates[t, :, k * units : (k + 1) * units] for k in range(3))
        dh_new = dh + g_outputs[:, t] + repeated
        dn = np.where(kept, dh_new * (1 - z) * derivative_np(n, act), 0)
        dz = np.where(kept, dh_new * (h_prev[t] - n) * derivative_np(z, ract), 0)
        dq = dn @ recurrent_h_t
        dr = np.where(kept, dq * hd[t] * derivative_np(r, ract), 0)
        g_x_proj[t] = np.concatenate([dz, dr, dn], axis=1)
        repeated[...] = np.where(kept, 0, repeated + g_outputs[:, t])
        through_state = np.where(kept, dh_new * z + dq * r * rmask, dh)
        dh[...] = through_state + (g_x_proj[t, :, : 2 * units] @ recurrent_zr_t) * rmask


gru_reset_before_forward = kernels.twin("gru_reset_before_forward", _forward_jit, _forward_np)
gru_reset_before_backward = kernels.twin("gru_reset_before_backward", _backward_jit, _backward_np)


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
        # per step: the recurrent input hd, the gates z, r, n, h_{t-1} and q = r hd
        self.saved = time_major(time, batch, dtype, units, width, units, units)
        outputs = np.empty((batch, time, units), dtype)
        gru_reset_before_forward(x_proj, self.recurrent_zr, self.recurrent_h, h, self.keep, self.rmask,
                                 self.act, self.ract, outputs, self.saved)  # fmt: skip
        return outputs, [h]

    def sequence_backward(self, g_outputs, g_finals):
        dh = g_finals[0].copy()
        g_x_proj = np.empty_like(self.saved[1])  # (time, batch, 3 units)
        gru_reset_before_backward(g_outputs, np.ascontiguousarray(self.recurrent_zr.T),
                                  np.ascontiguousarray(self.recurrent_h.T), dh, self.keep, self.rmask,
                                  self.act, self.ract, self.saved, g_x_proj)  # fmt: skip
        hd, q = self.saved[0], self.saved[3]
        units = hd.shape[2]
        flat = g_x_proj.reshape(-1, 3 * units)
        g_recurrent = np.concatenate(
            [hd.reshape(-1, units).T @ flat[:, : 2 * units], q.reshape(-1, units).T @ flat[:, 2 * units :]],
            axis=1,
        )
        return g_x_proj, [dh], g_recurrent, g_x_proj.sum(axis=(0, 1))
