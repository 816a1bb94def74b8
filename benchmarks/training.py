"""Whole training steps against PyTorch, in one run: a character language model and the
autograd's cost per op.

* ``char_lm``: Embedding(64, 32) -> LSTM(128, return_sequences=True) -> Dense(64) ->
  cross-entropy -> gradient clipping (norm 1) -> Adam, batch 32, 64 steps, float32; the same
  model in PyTorch (nn.Embedding, nn.LSTM, nn.Linear, F.cross_entropy, clip_grad_norm_,
  Adam) with the same weights.  Times one training step.
* ``per_op``: a chain of 20 blocks h = tanh(h @ W) * h + h on (8, 64) float64 arrays,
  forward and backward: 81 ops, so the time per op is mostly each library's bookkeeping
  around its arrays (minigrad's autograd path against PyTorch's eager mode).

minigrad and PyTorch take turns, each timed run after an untimed one of the same library
(see ``rnn.py`` for why).  The figures are medians; PyTorch's spread (fastest and slowest of
its runs) shows how much its own time moves on this machine.

    python benchmarks/training.py            # both cases (about a minute)
    python benchmarks/training.py --quick    # one repeat each
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import layers
import minigrad as mg
from minigrad import functional as F

try:
    import torch
except ImportError:
    torch = None

VOCAB, EMBED, UNITS, BATCH, STEPS = 64, 32, 128, 32, 64
CHAIN, WIDTH = 20, (8, 64)


def char_lm_minigrad() -> Callable[[], None]:
    """One training step of the character model in minigrad."""
    mg.manual_seed(0)
    embed = layers.Embedding(VOCAB, EMBED, dtype="float32")
    lstm = layers.LSTM(UNITS, return_sequences=True, input_size=EMBED, dtype="float32")
    dense = layers.Dense(VOCAB, input_size=UNITS, dtype="float32")
    params = [*embed.parameters(), *lstm.parameters(), *dense.parameters()]
    optimizer = mg.optim.Adam(params, lr=1e-3)
    ids, targets = char_batch()

    def step() -> None:
        logits = dense(lstm(embed(ids)))
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        mg.optim.clip_grad_norm(params, 1.0)
        optimizer.step()

    step.model = (embed, lstm, dense)  # type: ignore[attr-defined]
    return step


def char_lm_torch(model: tuple[Any, ...]) -> Callable[[], None]:
    """The same step in PyTorch, from the same weights."""
    embed, lstm, dense = model
    torch_embed = torch.nn.Embedding(VOCAB, EMBED)
    torch_lstm = torch.nn.LSTM(EMBED, UNITS, batch_first=True)
    torch_dense = torch.nn.Linear(UNITS, VOCAB)
    with torch.no_grad():
        torch_embed.weight.copy_(torch.from_numpy(embed.embeddings.data))
        torch_lstm.load_state_dict({k: torch.from_numpy(v) for k, v in lstm.torch_state_dict().items()})
        torch_dense.weight.copy_(torch.from_numpy(dense.kernel.data.T.copy()))
        torch_dense.bias.copy_(torch.from_numpy(dense.bias.data))
    params = [*torch_embed.parameters(), *torch_lstm.parameters(), *torch_dense.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-3)
    ids, targets = (torch.from_numpy(a) for a in char_batch())

    def step() -> None:
        logits = torch_dense(torch_lstm(torch_embed(ids))[0])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()

    return step


def char_batch() -> tuple[np.ndarray, np.ndarray]:
    """Random character ids (batch, time) and the next character of each as its target."""
    ids = np.random.default_rng(0).integers(0, VOCAB, size=(BATCH, STEPS + 1))
    return ids[:, :-1].copy(), ids[:, 1:].copy()


def per_op(tensor: Callable[..., Any]) -> Callable[[], None]:
    """The chain of ops, in the library whose tensors ``tensor(array, requires_grad=True)``
    makes (``mg.Tensor`` or ``torch.tensor``: the same code runs on both)."""
    x0, w0 = per_op_arrays()

    def step() -> None:
        x, w = tensor(x0, requires_grad=True), tensor(w0, requires_grad=True)
        h = x
        for _ in range(CHAIN):
            h = (h @ w).tanh() * h + h
        h.sum().backward()

    return step


def per_op_arrays() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal(WIDTH), rng.standard_normal((WIDTH[1], WIDTH[1])) * 0.1


def alternate(runs: dict[str, Callable[[], None]], repeats: int) -> dict[str, list[float]]:
    """Seconds of each run, the libraries taking turns, each timed call after an untimed one."""
    for run in runs.values():
        run()
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            run()
            start = time.perf_counter()
            run()
            samples[name].append(time.perf_counter() - start)
    return samples


def summary(samples: dict[str, list[float]], per: int = 1) -> dict[str, float]:
    """Medians (per ``per`` units of work, in microseconds for ops, ms otherwise), the ratio to
    PyTorch, and PyTorch's fastest and slowest run."""
    scale = 1e6 / per if per > 1 else 1e3
    out = {f"{name}": statistics.median(times) * scale for name, times in samples.items()}
    if "torch" in samples:
        out["ratio"] = out["minigrad"] / out["torch"]
        out["torch_fastest"] = min(samples["torch"]) * scale
        out["torch_slowest"] = max(samples["torch"]) * scale
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat of each case")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    if torch is None:
        print("PyTorch is not installed: only minigrad is timed (python -m pip install -e '.[bench]').")

    lm = char_lm_minigrad()
    runs = {"minigrad": lm}
    if torch is not None:
        runs["torch"] = char_lm_torch(lm.model)
    figures = {"char_lm_ms": summary(alternate(runs, repeats))}
    runs = {"minigrad": per_op(mg.Tensor)}
    if torch is not None:
        runs["torch"] = per_op(torch.tensor)
    ops = 4 * CHAIN + 1
    figures["per_op_us"] = summary(alternate(runs, repeats * 10), per=ops)

    lm_row, op_row = figures["char_lm_ms"], figures["per_op_us"]
    print(f"character LM training step (batch {BATCH}, {STEPS} steps, float32), ms: " + format_row(lm_row))
    print(f"autograd, per op (forward and backward, {WIDTH} float64), microseconds: " + format_row(op_row))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return figures


def format_row(row: dict[str, float]) -> str:
    text = f"minigrad {row['minigrad']:.2f}"
    if "torch" in row:
        spread = f"{row['torch_fastest']:.2f}-{row['torch_slowest']:.2f}"
        text += f", torch {row['torch']:.2f} (its runs {spread}), ratio {row['ratio']:.2f}"
    return text


if __name__ == "__main__":
    main()
