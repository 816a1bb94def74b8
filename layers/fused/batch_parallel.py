"""The time loop on several cores: the batch split in parts, each part's whole recurrence on
its own thread.

Samples never meet inside a recurrence: row b of every step's product, gate and state depends
on sample b alone.  So ``sequence_forward`` cuts the batch into contiguous parts of rows and
runs the layer's own ``sequence_forward`` on each part in its own thread, each part keeping
its saved state on its own op object (``Parts``); ``sequence_backward`` runs each part's
backward the same way.  Each part writes its rows of the outputs, the final states and the
per-sample gradients (of the input projection and the initial states) into the whole
batch's arrays; the weights' gradients (recurrent kernel, bias) are summed over the parts.
The compiled loops release the GIL.

There is one hand-off per sequence and none per step.  A step's product is far too small to
share between threads: on a busy machine a thread waiting for a core costs a scheduler's time
slice, milliseconds, at every step.  A part's whole loop is not, and ``run_parts`` makes even
that wait harmless: the calling thread runs the first part, then every part that no pool
thread has started yet, so a pool thread that cannot get a core delays nothing.

How many parts
--------------
The user's thread limit is numpy's BLAS pool: OpenBLAS's thread count as OpenBLAS reports it
at the call, which is what ``OPENBLAS_NUM_THREADS`` (or ``OMP_NUM_THREADS``) set at start-up,
and what ``threadpoolctl.threadpool_limits`` or ``openblas_set_num_threads`` set since; by
default OpenBLAS takes every core the process may run on.  At one thread nothing is split;
with a BLAS other than OpenBLAS, whose count cannot be read, nothing is split either.  Inside
the loop each part's products run on its own thread only (``blas.one_thread``).

A part needs at least ``MIN_ROWS`` samples and ``MIN_PART_SIZE`` numbers of x_proj (time *
samples * gates * units): a split pays a fixed cost per call (handing off, waking a thread,
joining: 0.05-0.4 ms of the caller's CPU time on a busy 2-core machine) and a per-step one (a
part's step keeps the step's fixed work), so it wins only on loops long and wide enough.
Measured in each thread's CPU time (``benchmarks/batch_parallel.py``: every fused layer, four
shapes, six batch sizes, both dtypes, forward and backward, twice), the estimated two-core
speed-up of the loops against a part's size in numbers: below 25,000, 41 of 56 cases lost
(median 0.85); 25,000-100,000, 50 of 208 lost (median 1.20); from 100,000 up, none of 312
(least 1.04, medians 1.35-1.60).  For example LSTM float64 (T, B, U) = (50, 6, 128), parts of
76,800: 0.77 forward; LSTM float32 (50, 16, 128), parts of 204,800: 1.72 / 1.74.

Numbers
-------
Each sample's outputs, states and gradients come from the same operations in the same order
as without the split: BLAS computes each row of a product from that row alone (with two rows
at least, so that the product stays a matrix product: one row would go to BLAS's
matrix-vector routine, which may round differently).  The weights' gradients are sums over
every step and sample, dU = sum_{t,b} fed_back_{t,b}^T dz_{t,b}; split, each part sums its
own samples and the parts' sums are added: the same terms added in another order, equal to
rounding (a few times n eps times the terms' magnitudes for n = time * batch terms).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple, TypeVar

import numpy as np

import layers.fused.blas as blas
from minigrad.engine import read_only

MIN_ROWS = 2  # a part of one row would take BLAS's matrix-vector path, which rounds differently
MIN_PART_SIZE = 100_000  # the fewest numbers of x_proj a part's loop reads (the crossover)

Result = TypeVar("Result")


def part_count(x_proj: np.ndarray) -> int:
    """How many parts the batch of ``x_proj`` (time, batch, width) is split into: the BLAS
    pool's thread count, as long as each part keeps at least ``MIN_ROWS`` samples and
    ``MIN_PART_SIZE`` numbers of x_proj; 1 (no split) at one thread or with a BLAS whose thread
    count cannot be read."""
    if blas.THREAD_COUNT is None:
        return 1
    threads = blas.THREAD_COUNT[0]()
    return max(1, min(threads, x_proj.shape[1] // MIN_ROWS, x_proj.size // MIN_PART_SIZE))


_pool: tuple[int, ThreadPoolExecutor] | None = None


def _executor() -> ThreadPoolExecutor:
    """The process's pool of part threads, made on first use.  A forked child has none of its
    parent's threads, so a child makes its own."""
    global _pool
    if _pool is None or _pool[0] != os.getpid():
        _pool = (os.getpid(), ThreadPoolExecutor(thread_name_prefix="minigrad-part"))
    return _pool[1]


def run_parts(tasks: Sequence[Callable[[], Result]]) -> list[Result]:
    """Each task's result, in order.  The calling thread runs the first task, then every task
    that no thread of the pool has started yet; a pool thread runs each task it reaches
    first.  So a pool thread that waits for a core (another program has it) delays nothing:
    the caller has done its work.  Returns once no task runs.  A task's error is re-raised
    then (the caller's own first, else the pool's in task order); the tasks that no thread
    has started by then never run."""
    claims = [threading.Lock() for _ in tasks]
    results: list[Any] = [None] * len(tasks)

    def run(index: int) -> None:  # runs task ``index`` unless another thread has claimed it
        if claims[index].acquire(blocking=False):
            results[index] = tasks[index]()

    futures: list[Future] = [_executor().submit(run, index) for index in range(1, len(tasks))]
    try:
        for index in range(len(tasks)):
            run(index)
    finally:  # wait for the tasks a pool thread has started; cancel the others
        errors = [future.exception() for future in futures if not future.cancel()]
    for error in errors:
        if error is not None:
            raise error
    return results


def _part_op(op: Any, rows: slice) -> Any:
    """A new op of ``op``'s class for the samples ``rows``: what ``FusedRecurrence``'s
    subclasses read from ``self`` in their loops, cut to those rows."""
    part = object.__new__(type(op))
    part.mask, part.recurrent_mask = op.mask[rows], op.recurrent_mask[rows]
    part.activation, part.recurrent_activation = op.activation, op.recurrent_activation
    return part


def _row_slices(batch: int, count: int) -> list[slice]:
    """``count`` contiguous slices of ``range(batch)``, sizes differing by at most one."""
    bounds = np.linspace(0, batch, count + 1).round().astype(int)
    return [slice(start, stop) for start, stop in itertools.pairwise(bounds)]


class Parts(NamedTuple):
    """How ``sequence_forward`` split an op's batch, for ``sequence_backward``."""

    ops: list[Any]  # one op per part, of the op's class, holding the part's saved state
    rows: list[slice]  # each part's samples
    width: int  # of x_proj, gates * units


def sequence_forward(
    op: Any, x_proj: np.ndarray, states: list[np.ndarray], recurrent: np.ndarray, bias: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray]]:
    """``op.sequence_forward`` over the whole batch, on ``part_count(x_proj)`` threads; the
    same arguments and results (x_proj (time, batch, width), each state (batch, units);
    outputs (batch, time, units), final states (batch, units)).  Sets ``op.parts``, a
    ``Parts`` (None when not split), for ``sequence_backward``."""
    time, batch, width = x_proj.shape
    count = part_count(x_proj)
    with blas.one_thread():
        if count == 1:
            op.parts = None
            return op.sequence_forward(x_proj, states, recurrent, bias)
        slices = _row_slices(batch, count)
        op.parts = Parts([_part_op(op, rows) for rows in slices], slices, width)
        outputs = np.empty((batch, time, recurrent.shape[0]), x_proj.dtype)
        finals = [np.empty_like(state) for state in states]

        def forward(part: Any, rows: slice) -> Callable[[], None]:
            def run() -> None:  # each part writes its own rows of the results
                part_outputs, part_finals = part.sequence_forward(
                    np.ascontiguousarray(x_proj[:, rows]), [s[rows] for s in states], recurrent, bias
                )
                outputs[rows] = part_outputs
                for final, part_final in zip(finals, part_finals, strict=True):
                    final[rows] = part_final

            return run

        run_parts([forward(part, rows) for part, rows in zip(op.parts.ops, slices, strict=True)])
    return outputs, finals


def sequence_backward(
    op: Any, g_outputs: np.ndarray, g_finals: list[np.ndarray]
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray, Any]:
    """``op.sequence_backward`` over the parts that ``sequence_forward`` made, each on its own
    thread: dL/dx_proj (time, batch, width) and dL/d initial states joined along the batch,
    dL/d recurrent kernel and dL/d bias summed over the parts.

    The gradients come as the engine gives them; each reaches the kernels C-contiguous, and
    g_outputs read-only as the engine's gradients come, copied or not: Numba compiles a kernel
    once per argument type, and writability is part of it."""
    g_outputs = read_only((np.ascontiguousarray(g_outputs),))[0]
    g_finals = [np.ascontiguousarray(g) for g in g_finals]
    with blas.one_thread():
        if op.parts is None:
            return op.sequence_backward(g_outputs, g_finals)
        batch, time, _ = g_outputs.shape
        g_x_proj = np.empty((time, batch, op.parts.width), g_outputs.dtype)
        g_states = [np.empty_like(g) for g in g_finals]

        def backward(part: Any, rows: slice) -> Callable[[], tuple[np.ndarray, Any]]:
            def run() -> tuple[np.ndarray, Any]:  # each part writes its own rows
                part_g_x_proj, part_g_states, g_recurrent, g_bias = part.sequence_backward(
                    g_outputs[rows], [g[rows] for g in g_finals]
                )
                g_x_proj[:, rows] = part_g_x_proj
                for g_state, part_g_state in zip(g_states, part_g_states, strict=True):
                    g_state[rows] = part_g_state
                return g_recurrent, g_bias

            return run

        weights = run_parts(
            [backward(part, rows) for part, rows in zip(op.parts.ops, op.parts.rows, strict=True)]
        )
    (g_recurrent, g_bias), *others = weights
    return g_x_proj, g_states, g_recurrent + sum(w[0] for w in others), g_bias + sum(w[1] for w in others)
