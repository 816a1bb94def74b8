"""What every fused layer shares: the whole sequence as one op with several outputs.

``FusedRecurrence.apply(x, *initial states, kernel, recurrent_kernel, bias, mask=...,
recurrent_mask=..., activation=..., recurrent_activation=...)`` returns the tensors
(outputs, *final states): outputs (batch, time, units) and each state (batch, units).

The driver does the work that is one big matrix product over all steps: the input
projection x_proj = x W + b of every step before the time loop, and after it the input's and
the kernel's gradients.  Each layer (``simple_rnn``, ``lstm``, ``gru``) runs the time loop in
one compiled kernel, forward and backward, with its step equations beside its code.

Masks
-----
With the mask m_t in {0, 1} for a sample at step t (1: the step is kept), the cell's candidate
states s~_t and output y~_t (computed from x_t and s_{t-1} as usual; y~_t is h~_t) are
blended with what came before:

    s_t = m_t s~_t + (1 - m_t) s_{t-1}          a masked step keeps the states
    y_t = m_t y~_t + (1 - m_t) y_{t-1}          and repeats the output (y_{-1} = 0 before it)

Backward, write r_t for the gradient reaching y_t from a later step that repeated it, so that
the whole gradient of y_t is G_t = dL/dy_t + r_t.  Differentiating the two lines:

    dL/dy~_t  = m_t G_t                         the cell's output gets it only when kept
    dL/ds~_t  = m_t dL/ds_t
    r_{t-1}   = (1 - m_t) G_t                   a masked step hands G_t back to y_{t-1}
    dL/ds_{t-1} = (1 - m_t) dL/ds_t + (the cell's own backward from s~_t to s_{t-1})

Since m_t is 0 or 1, each sample either takes the ordinary step (m_t = 1: every r and the
pass-through are 0) or passes its gradients back unchanged (m_t = 0: the cell's backward
receives zeros, so its gate gradients are 0).  ``masked_step_forward`` and
``masked_step_backward`` write these lines once for every kernel and twin: they select per
sample, and never multiply by m_t, since 0 times a NaN or an infinity is NaN.  For the same
reason the driver replaces a masked step's input x_t by zeros before anything reads it: the
products over every step (the input projection forward, dL/dW = sum_t x_t^T dL/dx_proj_t
backward) would otherwise carry a NaN in x_t into every step's numbers and the kernel's
gradient.  A masked step's input reaches nothing, so this changes no value and no gradient.

Recurrent dropout multiplies the state fed back by a fixed mask d (``recurrent_mask``): the
state fed back at step t is h_{t-1} * d (``fed_back``), so dL/dh_{t-1} gets
(dL/dfed_back_t) * d.  Without dropout d = 1.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numba import njit
from numba.extending import overload, register_jitable

import layers.fused.batch_parallel as batch_parallel
import layers.fused.blas as blas
from layers.fused.pointwise import CODES
from minigrad import Function


@njit(cache=True, inline="always")
def recurrent_product(h, rmask, recurrent, hd_t, out, beta):
    """hd_t = h * d (the state fed back, after recurrent dropout) and out = hd_t U + beta out:
    the one matrix product of a forward step, (batch, units) by (units, gates*units); with
    beta = 1 it lands on the step's input projection, with no pass of its own."""
    for b in range(h.shape[0]):
        h_b, rmask_b, hd_b = h[b], rmask[b], hd_t[b]
        for j in range(h_b.shape[0]):
            hd_b[j] = h_b[j] * rmask_b[j]
    blas.gemm(hd_t, recurrent, out, beta)


@njit(cache=True, inline="always")
def add_recurrent_gradient(g_pre, recurrent_t, rmask, scratch, dh):
    """dh += (g_pre U^T) * d: what reaches h_{t-1} through the recurrent product, from the
    gradient g_pre (batch, gates*units) of the step's recurrent pre-activations."""
    blas.gemm(g_pre, recurrent_t, scratch, 0.0)
    for b in range(dh.shape[0]):
        dh_b, scratch_b, rmask_b = dh[b], scratch[b], rmask[b]
        for j in range(dh_b.shape[0]):
            dh_b[j] += scratch_b[j] * rmask_b[j]


def _copy_row(source, target):
    """target[:] = source for two 1-D arrays of one length.  Inside a compiled kernel it is
    the plain loop below: there an array assignment first checks whether the two overlap, a
    cost per row of every step."""
    target[:] = source


@overload(_copy_row, inline="always")
def _copy_row_compiled(source, target):
    def loop(source, target):
        for j in range(target.shape[0]):
            target[j] = source[j]

    return loop


# Called by the kernels and by their numpy twins: compiled only inside a kernel, plain Python
# in a twin (so that with MINIGRAD_JIT=0 nothing is compiled).
@register_jitable(error_model="numpy")
def masked_step_forward(mask_t, candidates, states, outputs, t):
    """Step t's blend: s_t = m_t s~_t + (1 - m_t) s_{t-1} and y_t = m_t y~_t + (1 - m_t) y_{t-1},
    by selection per sample.

    mask_t : (batch,) bool, m_t
    candidates, states : tuples of (batch, units) arrays, h first (h~ is also y~); the states
        are updated in place
    outputs : (batch, time, units); y_t is written into outputs[:, t] (y_{-1} = 0)
    """
    for b in range(mask_t.shape[0]):
        y_t = outputs[b, t]
        if mask_t[b]:
            for k in range(len(states)):
                _copy_row(candidates[k][b], states[k][b])
            _copy_row(candidates[0][b], y_t)
        elif t > 0:
            _copy_row(outputs[b, t - 1], y_t)
        else:
            y_t[:] = 0


@njit(cache=True, error_model="numpy")
def gradient_reaching_h(g_h, g_outputs, t, repeated, out):
    """out = dL/dh_t + G_t, with G_t = dL/dy_t + r_t: the gradient that h~_t receives where
    step t is kept (its blend with m_t = 0 is ``masked_step_backward``'s).  All (batch, units)
    but g_outputs, (batch, time, units)."""
    for b in range(out.shape[0]):
        g_h_b, g_y, repeated_b, out_b = g_h[b], g_outputs[b, t], repeated[b], out[b]
        for j in range(out_b.shape[0]):
            out_b[j] = g_h_b[j] + g_y[j] + repeated_b[j]


@register_jitable(error_model="numpy")
def masked_step_backward(mask_t, g_outputs, t, repeated, g_states, g_cell_states, g_cell):
    """Step t's blend backward, by selection per sample, once the cell's backward has run on
    every sample (where m_t = 0 its numbers are dropped, never multiplied by 0).

    Where m_t = 1: dL/ds_{t-1} = the cell's own (``g_cell_states``; what reaches h_{t-1}
    through the recurrent product is added after) and r_{t-1} = 0.  Where m_t = 0:
    dL/ds_{t-1} = dL/ds_t (``g_states`` unchanged), r_{t-1} = G_t = r_t + dL/dy_t, and the
    cell's gradients ``g_cell`` (a tuple of (batch, width) arrays) are 0.

    mask_t : (batch,) bool;  g_outputs : (batch, time, units);  repeated : (batch, units), r_t
    in, r_{t-1} out;  g_states, g_cell_states : tuples of (batch, units) arrays, h first
    """
    for b in range(mask_t.shape[0]):
        if mask_t[b]:
            for k in range(len(g_states)):
                _copy_row(g_cell_states[k][b], g_states[k][b])
            repeated[b] = 0
        else:
            repeated[b] += g_outputs[b, t]
            for k in range(len(g_cell)):
                g_cell[k][b] = 0


def time_major(time: int, batch: int, dtype: np.dtype, *widths: int) -> tuple[np.ndarray, ...]:
    """One uninitialised (time, batch, width) array per width: what a kernel keeps per step."""
    return tuple(np.empty((time, batch, width), dtype) for width in widths)


class FusedRecurrence(Function):
    """A recurrent layer's whole sequence as one op; subclasses give the time loop.

    A subclass sets ``n_states`` and defines

    * ``sequence_forward(x_proj, states, recurrent, bias)`` -> (outputs (batch, time, units),
      final states), keeping on ``self`` what its backward needs; x_proj is time-major,
      (time, batch, gates*units), so that each step's block is contiguous, and the layer's to
      overwrite (a step's recurrent product may land on it), and recurrent is
      C-contiguous (the orthogonal initialiser gives Fortran order, where BLAS's products of
      a few rows run several times slower);
    * ``sequence_backward(g_outputs, g_finals)`` -> (dL/dx_proj (time, batch, gates*units),
      dL/d initial states, dL/d recurrent_kernel, dL/d bias).

    On ``self`` for them: ``mask`` (batch, time) bool, m_t of every step; ``recurrent_mask``
    (batch, units), d; ``activation`` and ``recurrent_activation``, codes of ``CODES``.  The
    time loop may run on part of the batch, on a new op of the same class given only those
    four (cut to its rows), in a thread of its own (``batch_parallel``): the two methods read
    nothing else from ``self`` and keep what backward needs there.
    """

    n_states: ClassVar[int] = 1

    def forward(
        self, x, *arrays, mask=None, recurrent_mask=None, activation="tanh", recurrent_activation="sigmoid"
    ):
        blas.require()  # the kernels call numpy's own BLAS (layers/fused/blas.py)
        count = self.n_states
        states, (kernel, recurrent, bias) = [s.copy() for s in arrays[:count]], arrays[count:]
        batch, time, features = x.shape
        units = recurrent.shape[0]
        self.mask = np.ones((batch, time), bool) if mask is None else np.ascontiguousarray(mask)
        if mask is not None:  # masked steps read zeros (see the module's docstring)
            x = np.where(self.mask[:, :, None], x, x.dtype.type(0))
        self.x = np.ascontiguousarray(x.transpose(1, 0, 2))  # time-major: (time, batch, features)
        self.kernel = kernel
        self.activation, self.recurrent_activation = CODES[activation], CODES[recurrent_activation]
        self.recurrent_mask = np.ones((batch, units), x.dtype) if recurrent_mask is None else recurrent_mask
        # every step's input projection in one product: (time*batch, features) @ kernel
        x_proj = (self.x.reshape(-1, features) @ kernel).reshape(time, batch, -1)
        # the time loop, its batch split over the cores allowed (layers/fused/batch_parallel.py)
        outputs, finals = batch_parallel.sequence_forward(
            self, x_proj, states, np.ascontiguousarray(recurrent), bias
        )
        return (outputs, *finals)

    def backward(self, g_outputs, *g_finals):
        time, batch, features = self.x.shape
        g_x_proj, g_states, g_recurrent, g_bias = batch_parallel.sequence_backward(
            self, g_outputs, list(g_finals)
        )
        flat = g_x_proj.reshape(time * batch, -1)
        g_x = (flat @ self.kernel.T).reshape(time, batch, features).transpose(1, 0, 2)
        g_kernel = self.x.reshape(-1, features).T @ flat
        return (g_x, *g_states, g_kernel, g_recurrent, g_bias)

    def sequence_forward(
        self, x_proj: np.ndarray, states: list[np.ndarray], recurrent: np.ndarray, bias: np.ndarray
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        raise NotImplementedError

    def sequence_backward(
        self, g_outputs: np.ndarray, g_finals: list[np.ndarray]
    ) -> tuple[np.ndarray, list[np.ndarray], np.ndarray, Any]:
        raise NotImplementedError
