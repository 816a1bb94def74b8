"""The fused layers' time loop split over threads by batch (layers/fused/batch_parallel.py):
split and whole give the same numbers, the split runs on two threads, and nothing splits at
one BLAS thread.

The per-sample numbers (outputs, final states, the gradients of the input, the initial states
and the kernel) must be identical: each row of every product and gate comes from that sample
alone.  The recurrent kernel's and the bias's gradients are sums over every step and sample;
split, they are each part's sum plus the other's, which must equal exactly the sum of two
unsplit runs on the parts' samples, and equal the whole batch's sum to rounding: a sum of n
terms in another order differs by at most about n eps times the terms' magnitudes, here (unit
scale data, no cancelling by design) a few times n eps times the largest gradient."""

import os
import threading
import time
from concurrent.futures import Future
from functools import partial
from pathlib import Path

import numpy as np
import pytest

import layers
import layers.fused.batch_parallel as batch_parallel
import layers.fused.blas as blas
import minigrad as mg
from layers import fused
from layers.fused import twins

OPS = {  # op, gate blocks, states, kernels' name
    "SimpleRNN": (fused.FusedSimpleRNN, 1, 1, "simple_rnn"),
    "LSTM": (fused.FusedLSTM, 4, 2, "lstm"),
    "GRU": (fused.FusedGRU, 3, 1, "gru"),
    "GRU-reset-before": (fused.FusedGRUResetBefore, 3, 1, "gru_reset_before"),
}
LAYERS = {
    "SimpleRNN": layers.SimpleRNN,
    "LSTM": layers.LSTM,
    "GRU": layers.GRU,
    "GRU-reset-before": partial(layers.GRU, reset_after=False),
}
TIME, BATCH, FEATURES, UNITS = 5, 7, 3, 4  # a batch of 7: parts of 4 and 3 samples
BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def blas_threads():
    """Sets numpy's OpenBLAS thread count (the split's limit) for one test; restores it."""
    if blas.THREAD_COUNT is None:
        pytest.skip("numpy's BLAS is not OpenBLAS: nothing is ever split")
    get, set_ = blas.THREAD_COUNT
    before = get()
    yield set_
    set_(before)


@pytest.fixture
def small_parts(monkeypatch):
    """Split however small the loop (the tests' sizes are far below the crossover)."""
    monkeypatch.setattr(batch_parallel, "MIN_PART_SIZE", 1)


class Calls(list):
    """(direction, thread id, samples) of every call of an op class's sequence_forward and
    sequence_backward.  With ``rendezvous`` set, a call on the test's thread waits (up to 10 s)
    until a call on another thread has begun, so that the pool's thread takes its part however
    slowly it is scheduled (the caller would otherwise run a part no pool thread has started)."""

    def __init__(self, monkeypatch, op_class):
        super().__init__()
        self.rendezvous, self.other_thread_began = False, threading.Event()
        for direction, batch_axis in (("forward", 1), ("backward", 0)):
            original = getattr(op_class, f"sequence_{direction}")
            recorded = partial(self.call, original, direction, batch_axis)
            monkeypatch.setattr(op_class, f"sequence_{direction}", lambda op, *a, _r=recorded: _r(op, *a))

    def call(self, original, direction, batch_axis, op, first, *rest):
        self.append((direction, threading.get_ident(), first.shape[batch_axis]))
        if threading.get_ident() != threading.main_thread().ident:
            self.other_thread_began.set()
        elif self.rendezvous:
            assert self.other_thread_began.wait(10), "no pool thread took a part"
            self.other_thread_began.clear()
        return original(op, first, *rest)

    def threads(self, direction=None):
        return {thread for d, thread, _ in self if direction in (None, d)}


def use_numpy_twins(monkeypatch, kind):
    """Run the op of ``kind`` on its kernels' numpy twins, whatever MINIGRAD_JIT chose."""
    name = OPS[kind][3]
    module = getattr(fused, name)
    for direction in ("forward", "backward"):
        monkeypatch.setattr(module, f"{name}_{direction}", twins.TWINS[f"{name}_{direction}"][1])


def op_case(kind, dtype):
    """The op's inputs, every option in use: masked steps (one sample masked throughout,
    one's first step masked), a recurrent dropout mask, non-zero initial states; and the
    loss's weights for the outputs and each final state."""
    _, gates, n_states, _ = OPS[kind]
    rng = np.random.default_rng(3)
    width = gates * UNITS
    arrays = {
        "x": rng.standard_normal((BATCH, TIME, FEATURES)),
        "states": [rng.standard_normal((BATCH, UNITS)) for _ in range(n_states)],
        "kernel": rng.standard_normal((FEATURES, width)) / 2,
        "recurrent": rng.standard_normal((UNITS, width)) / 2,
        "bias": rng.standard_normal((2, width) if kind == "GRU" else width),
        "recurrent_mask": (rng.random((BATCH, UNITS)) > 0.3) / 0.7,
        "g_outputs": rng.standard_normal((BATCH, TIME, UNITS)),
        "g_states": [rng.standard_normal((BATCH, UNITS)) for _ in range(n_states)],
    }
    cast = {
        k: [a.astype(dtype) for a in v] if isinstance(v, list) else v.astype(dtype) for k, v in arrays.items()
    }
    mask = rng.random((BATCH, TIME)) > 0.25
    mask[1], mask[5, 0] = False, False
    return cast, mask


def run_op(kind, case, mask, rows=slice(None)):
    """The op on samples ``rows``: [outputs, *final states] and the gradients
    [x, *initial states, kernel, recurrent kernel, bias] of sum(outputs * g) + sum(states * g)."""
    op_class = OPS[kind][0]
    x = mg.Tensor(case["x"][rows], requires_grad=True)
    states = [mg.Tensor(s[rows], requires_grad=True) for s in case["states"]]
    weights = [mg.Tensor(case[k], requires_grad=True) for k in ("kernel", "recurrent", "bias")]
    outputs, *finals = op_class.apply(
        x, *states, *weights, mask=mask[rows], recurrent_mask=case["recurrent_mask"][rows]
    )
    loss = (outputs * case["g_outputs"][rows]).sum()
    for final, g in zip(finals, case["g_states"], strict=True):
        loss = loss + (final * g[rows]).sum()
    loss.backward()
    return [outputs.data, *(f.data for f in finals)], [t.grad for t in (x, *states, *weights)]


def assert_sum_to_rounding(split, whole, terms):
    """``split`` equals ``whole`` to the rounding of reordering a sum of ``terms`` terms."""
    tolerance = 4 * terms * np.finfo(whole.dtype).eps * np.abs(whole).max()
    np.testing.assert_allclose(split, whole, rtol=0, atol=tolerance)


@pytest.mark.parametrize("path", ["kernels", "numpy-twins"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", OPS)
def test_split_gives_the_whole_batchs_numbers(kind, dtype, path, blas_threads, small_parts, monkeypatch):
    if path == "numpy-twins":
        use_numpy_twins(monkeypatch, kind)
    case, mask = op_case(kind, dtype)
    calls = Calls(monkeypatch, OPS[kind][0])
    blas_threads(1)
    whole_values, whole_grads = run_op(kind, case, mask)
    assert calls == [("forward", threading.get_ident(), BATCH), ("backward", threading.get_ident(), BATCH)]

    calls.clear()
    calls.rendezvous = True
    blas_threads(2)
    split_values, split_grads = run_op(kind, case, mask)
    for direction in ("forward", "backward"):
        assert sorted(rows for d, _, rows in calls if d == direction) == [3, 4]
        assert len(calls.threads(direction)) == 2 and threading.get_ident() in calls.threads(direction)
    first_rows = next(rows for _, thread, rows in calls if thread == threading.get_ident())

    for split, whole in zip(split_values + split_grads[:-2], whole_values + whole_grads[:-2], strict=True):
        assert split.dtype == whole.dtype and np.array_equal(split, whole)
    blas_threads(1)
    calls.rendezvous = False
    parts_grads = [run_op(kind, case, mask, rows)[1] for rows in (slice(first_rows), slice(first_rows, None))]
    for index in (-2, -1):  # the recurrent kernel's and the bias's gradients: sums over the parts
        assert np.array_equal(split_grads[index], parts_grads[0][index] + parts_grads[1][index])
        assert_sum_to_rounding(split_grads[index], whole_grads[index], TIME * BATCH)


@pytest.mark.parametrize("kind", LAYERS)
def test_layer_options_split(kind, blas_threads, small_parts, monkeypatch):
    """go_backwards, return_state, initial states, masks and recurrent dropout through the layer."""
    calls = Calls(monkeypatch, OPS[kind][0])
    rng = np.random.default_rng(5)
    x_data = rng.standard_normal((BATCH, TIME, FEATURES))
    mask = rng.random((BATCH, TIME)) > 0.3
    mg.manual_seed(0)
    layer = LAYERS[kind](
        UNITS, return_sequences=True, return_state=True, go_backwards=True, recurrent_dropout=0.4,
        input_size=FEATURES, impl="fused", dtype="float64",
    )  # fmt: skip
    results = {}
    for threads in (1, 2):
        blas_threads(threads)
        calls.rendezvous = threads == 2
        x = mg.Tensor(x_data, requires_grad=True)
        initial = [mg.Tensor(rng.standard_normal((BATCH, UNITS)) * 0 + 0.5, requires_grad=True)]
        initial *= len(layer.state_sizes)
        mg.manual_seed(7)  # the same dropout masks
        outputs, *states = layer(x, initial_state=initial, mask=mask, training=True)
        ((outputs * outputs).sum() + sum((s * s).sum() for s in states)).backward()
        results[threads] = (
            [outputs.data, *(s.data for s in states), x.grad, *(s.grad for s in initial)],
            [p.grad for p in layer.parameters()],
        )
        layer.zero_grad()
    assert len(calls.threads()) == 2
    for split, whole in zip(results[2][0], results[1][0], strict=True):
        assert np.array_equal(split, whole)
    for split, whole in zip(results[2][1], results[1][1], strict=True):
        assert_sum_to_rounding(split, whole, TIME * BATCH)


def test_one_thread_never_splits(blas_threads):
    big = np.empty((1000, 64, 512), np.float32)
    blas_threads(1)
    assert batch_parallel.part_count(big) == 1
    blas_threads(2)
    assert batch_parallel.part_count(big) == 2
    assert batch_parallel.part_count(big[:, :3]) == 1  # parts of 2 samples at least
    assert batch_parallel.part_count(big[:2, :]) == 1  # a loop too short to pay for the hand-off
    blas_threads(4)
    assert batch_parallel.part_count(big[:, :5]) == 2


def test_a_failing_part_raises_once_no_part_runs():
    lock, running = threading.Lock(), [0]

    def fails() -> None:
        raise ValueError("part failed")

    def slow() -> str:
        with lock:
            running[0] += 1
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return "done"

    for tasks in ([fails, slow], [slow, fails], [slow, fails, slow]):
        with pytest.raises(ValueError, match="part failed"):
            batch_parallel.run_parts(tasks)
        assert running == [0]
    assert batch_parallel.run_parts([slow, slow, slow]) == ["done"] * 3


def test_the_caller_runs_every_part_the_pool_has_not_started(monkeypatch):
    class IdlePool:  # its threads never get a core
        def submit(self, *args):
            return Future()

    monkeypatch.setattr(batch_parallel, "_executor", IdlePool)
    results = batch_parallel.run_parts([partial(lambda i: (threading.get_ident(), i), i) for i in range(3)])
    assert results == [(threading.get_ident(), i) for i in range(3)]


def part_meeting_the_other() -> tuple[int, int]:
    """Two tasks for run_parts: the first waits (up to 10 s) for the second to begin, so the
    second runs on a pool thread; each returns its thread id."""
    began = threading.Event()

    def first() -> int:
        assert began.wait(10), "no pool thread took the second part"
        return threading.get_ident()

    def second() -> int:
        began.set()
        return threading.get_ident()

    return first, second


def test_a_forked_child_splits_on_its_own_threads():
    batch_parallel.run_parts(part_meeting_the_other())  # the parent's pool has a thread
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # a child has none of the parent's threads: it must start its own
        try:
            threads = batch_parallel.run_parts(part_meeting_the_other())
            os.write(write, b"ok" if len(set(threads)) == 2 else b"one thread")
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(child, 0)
    assert os.read(read, 100) == b"ok" and status == 0


def test_the_benchmarks_two_thread_run_splits_the_gated_layers(blas_threads, monkeypatch):
    """benchmarks/run.py times every size at two threads: the LSTM and GRU loops split there."""
    pytest.importorskip("torch")
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import rnn

    blas_threads(2)
    for kind in ("LSTM", "GRU"):
        calls = Calls(monkeypatch, OPS[kind][0])
        calls.rendezvous = True
        for size in rnn.SIZES:
            for dtype in rnn.DTYPES:
                calls.clear()
                rnn.make_layer(kind, "fused", size, dtype)(rnn.make_input(size, dtype))
                assert sorted(rows for _, _, rows in calls) == [size[1] // 2] * 2, (kind, size, dtype)
                assert len(calls.threads()) == 2
