"""What a masked step's input holds (NaN, infinities) reaches no output and no gradient, on
the autograd path, the fused path's Numba kernels and their numpy twins, and the paths agree."""

from functools import partial

import numpy as np
import pytest

import layers
import minigrad as mg
from layers import fused
from layers.fused import twins

KINDS = {
    "SimpleRNN": layers.SimpleRNN,
    "LSTM": layers.LSTM,
    "GRU": layers.GRU,
    "GRU-reset-before": partial(layers.GRU, reset_after=False),
}
PATHS = ["autograd", "fused", "fused-numpy"]
KERNELS = {"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru", "GRU-reset-before": "gru_reset_before"}
GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3, "GRU-reset-before": 3}


def use_numpy_twins(monkeypatch, kind):
    """Run the fused op of ``kind`` on its numpy twins, whatever MINIGRAD_JIT chose."""
    module = getattr(fused, KERNELS[kind])
    for direction in ("forward", "backward"):
        name = f"{KERNELS[kind]}_{direction}"
        monkeypatch.setattr(module, name, twins.TWINS[name][1])


def masked_case(dtype, poison):
    """x (3, 5, 2) with ``poison`` at every masked step, the same x with finite numbers
    there, and the mask (the first step of sample 2 and the last of sample 0 masked, sample 1
    masked throughout)."""
    rng = np.random.default_rng(0)
    finite = rng.standard_normal((3, 5, 2)).astype(dtype)
    mask = np.ones((3, 5), bool)
    mask[0, 4] = mask[2, 0] = mask[0, 1] = False
    mask[1] = False
    poisoned = np.where(mask[:, :, None], finite, dtype(poison))
    return poisoned, finite, mask


def run(layer, x, mask, g, training):
    """Outputs, final states, and the gradients of x and of every weight for the loss sum(outputs * g)."""
    x = mg.Tensor(x, requires_grad=True)
    mg.manual_seed(7)  # the same dropout masks for every run
    outputs, *states = layer(x, mask=mask, training=training)
    ((outputs * g).sum() + sum(s.sum() for s in states)).backward()
    grads = [x.grad, *(p.grad for p in layer.parameters())]
    layer.zero_grad()
    return [outputs.data, *(s.data for s in states)], grads


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("poison", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_a_masked_steps_input_reaches_no_output_and_no_gradient_on_any_path(
    kind, training, poison, dtype, monkeypatch
):
    poisoned, finite, mask = masked_case(dtype, poison)
    g = np.random.default_rng(1).standard_normal((3, 5, 4)).astype(dtype)
    layer = KINDS[kind](4, input_size=2, return_sequences=True, return_state=True, dtype=dtype, dropout=0.25,
                        recurrent_dropout=0.25, zero_output_for_mask=True)  # fmt: skip
    tol = 1e-5 if dtype == np.float32 else 1e-12
    results = {}
    for path in PATHS:
        layer.impl = path.split("-")[0]
        with monkeypatch.context() as patch:
            if path == "fused-numpy":
                use_numpy_twins(patch, kind)
            values, grads = run(layer, poisoned, mask, g, training)
            reference_values, reference_grads = run(layer, finite, mask, g, training)
        for got, want in zip(values + grads, reference_values + reference_grads, strict=True):
            assert np.isfinite(got).all()
            np.testing.assert_array_equal(got, want)  # what the masked input held changed nothing
        np.testing.assert_array_equal(grads[0][~mask], 0.0)
        results[path] = values + grads
    for path in PATHS[1:]:  # the paths agree
        for got, want in zip(results[path], results["autograd"], strict=True):
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


class TanhCell:
    def __init__(self, W, U):
        self.W, self.U, self.state_size = W, U, U.shape[0]

    def __call__(self, x, states):
        h = (x @ self.W + states[0] @ self.U).tanh()
        return h, [h]


def test_a_cell_of_ones_own_never_sees_a_masked_steps_input():
    rng = np.random.default_rng(2)
    poisoned, finite, mask = masked_case(np.float64, np.nan)
    W = mg.Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    U = mg.Tensor(rng.standard_normal((3, 3)), requires_grad=True)
    layer = layers.RNN(TanhCell(W, U), return_sequences=True, return_state=True)
    values, grads = run(layer, poisoned, mask, np.ones((3, 5, 3)), False)
    reference_values, reference_grads = run(layer, finite, mask, np.ones((3, 5, 3)), False)
    for got, want in zip(values + grads, reference_values + reference_grads, strict=True):
        np.testing.assert_array_equal(got, want)


def kernel_arguments(kind, x_proj, keep, seed):
    """Fresh arguments for ``kind``'s forward and backward kernels (the backward's read what
    the forward's write), with the indices of what each kernel writes."""
    rng = np.random.default_rng(seed)
    time, batch, width = x_proj.shape
    gates = GATES[kind]
    units, dtype = width // gates, x_proj.dtype
    recurrent = (rng.standard_normal((units, width)) * 0.5).astype(dtype)
    h, c, dh, dc = (rng.standard_normal((batch, units)).astype(dtype) for _ in range(4))
    rmask = np.ones((batch, units), dtype)
    g_outputs = rng.standard_normal((batch, time, units)).astype(dtype)
    acts = (fused.CODES["tanh"], fused.CODES["sigmoid"])
    outputs = np.zeros((batch, time, units), dtype)
    saved = tuple(np.zeros((time, batch, k * units), dtype) for k in (1, gates, 1, 1))
    g_x_proj = np.zeros((time, batch, width), dtype)
    x_proj, recurrent_t = x_proj.copy(), recurrent.T.copy()
    if kind == "SimpleRNN":
        hd = np.zeros((time, batch, units), dtype)
        forward = (x_proj, recurrent, h, keep, rmask, acts[0], outputs, hd)
        backward = (g_outputs, recurrent_t, dh, keep, rmask, acts[0], outputs, g_x_proj)
        return forward, (6, 2), backward, (7, 2)
    if kind == "LSTM":
        forward = (x_proj, recurrent, h, c, keep, rmask, *acts, outputs, saved)
        backward = (g_outputs, recurrent_t, dh, dc, keep, rmask, *acts, saved, g_x_proj)
        return forward, (8, 2, 3), backward, (9, 2, 3)
    if kind == "GRU-reset-before":
        zr, hh = recurrent[:, : 2 * units].copy(), recurrent[:, 2 * units :].copy()
        forward = (x_proj, zr, hh, h, keep, rmask, *acts, outputs, saved)
        backward = (g_outputs, zr.T.copy(), hh.T.copy(), dh, keep, rmask, *acts, saved, g_x_proj)
        return forward, (8, 3), backward, (9, 3)
    bias, g_hr_n = rng.standard_normal(width).astype(dtype), np.zeros((time, batch, units), dtype)
    forward = (x_proj, recurrent, bias, h, keep, rmask, *acts, outputs, saved)
    backward = (g_outputs, recurrent_t, dh, keep, rmask, *acts, saved, g_x_proj, g_hr_n)
    return forward, (8, 3), backward, (8, 9, 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
def test_each_kernel_selects_at_a_masked_step_so_nan_in_its_projection_reaches_nothing(kind, dtype):
    """The kernels alone, without the driver's zeroing: NaN in a masked step's input projection."""
    rng = np.random.default_rng(3)
    keep = np.ones((3, 5), bool)
    keep[0, 4] = keep[2, 0] = keep[0, 1] = False
    keep[1] = False
    width = 2 * GATES[kind]
    finite = rng.standard_normal((5, 3, width)).astype(dtype)
    poisoned = np.where(keep.T[:, :, None], finite, dtype(np.nan))
    written = {}
    for name, x_proj in (("finite", finite), ("poisoned", poisoned)):
        for twin in (0, 1):  # the Numba kernels, then their numpy twins
            forward, forward_written, backward, backward_written = kernel_arguments(kind, x_proj, keep, 4)
            twins.TWINS[f"{KERNELS[kind]}_forward"][twin](*forward)
            twins.TWINS[f"{KERNELS[kind]}_backward"][twin](*backward)
            written[name, twin] = [forward[i] for i in forward_written] + [
                backward[i] for i in backward_written
            ]
    tol = 2e-5 if dtype == np.float32 else 1e-12
    for twin in (0, 1):
        for got, want in zip(written["poisoned", twin], written["finite", twin], strict=True):
            assert np.isfinite(got).all()
            np.testing.assert_array_equal(got, want)
    for jitted, plain in zip(written["poisoned", 0], written["poisoned", 1], strict=True):
        np.testing.assert_allclose(jitted, plain, rtol=tol, atol=tol)


OPS = {
    fused.FusedSimpleRNN: (1, 1),
    fused.FusedLSTM: (4, 2),
    fused.FusedGRU: (3, 1),
    fused.FusedGRUResetBefore: (3, 1),
}


@pytest.mark.parametrize("op", OPS)
def test_a_fused_op_on_its_own_gives_finite_kernel_gradients_with_nan_at_masked_steps(op):
    poisoned, finite, mask = masked_case(np.float64, np.nan)
    gates, states = OPS[op]
    rng = np.random.default_rng(5)
    kernel = rng.standard_normal((2, 2 * gates))
    recurrent = rng.standard_normal((2, 2 * gates)) * 0.5
    bias = rng.standard_normal((2, 6) if op is fused.FusedGRU else (2 * gates,))
    grads = []
    for x in (poisoned, finite):
        weights = [mg.Tensor(w, requires_grad=True) for w in (kernel, recurrent, bias)]
        initial = [mg.Tensor(np.zeros((3, 2))) for _ in range(states)]
        outputs, *_ = op.apply(mg.Tensor(x), *initial, *weights, mask=mask)
        outputs.sum().backward()
        grads.append([w.grad for w in weights])
    for got, want in zip(*grads, strict=True):
        assert np.isfinite(got).all()
        np.testing.assert_array_equal(got, want)
