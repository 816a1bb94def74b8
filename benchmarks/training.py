"""A character language model's training step, in minigrad and in PyTorch.

Embedding(64, 32) -> LSTM(128, return_sequences=True) -> Dense(64) -> cross-entropy ->
gradient clipping (norm 1) -> Adam, batch 32, 64 steps, float32; the same model in PyTorch
(nn.Embedding, nn.LSTM, nn.Linear, F.cross_entropy, clip_grad_norm_, Adam) from the same
weights.  One phase, ``train``: a whole optimiser step.

Two minigrad models compute the same function: ``char LM`` is the plain model, layer for
layer as PyTorch's; ``char LM, EmbeddedRecurrent`` takes minigrad's explicit shortcut for an
embedding that feeds a recurrent layer, ``layers.EmbeddedRecurrent``: each id's input
projection is a row of the (64, 512) table E W, made once per step, instead of the product
(32 * 64, 32) @ (32, 512) and its two gradient products (the same numbers to rounding; see
``layers/embedded_recurrent.py``).  PyTorch runs the plain model in both: nn.LSTM projects
every step.
``tests/test_benchmarks.py`` checks that both steps compute the same loss and gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

import layers
import minigrad as mg
from minigrad import functional as F

VOCAB, EMBED, UNITS, BATCH, STEPS = 64, 32, 128, 32, 64


def char_lm_minigrad(joined: bool) -> Callable[[], None]:
    """One training step of the character model in minigrad; with ``joined``, its Embedding
    and LSTM run as one ``layers.EmbeddedRecurrent``."""
    mg.manual_seed(0)
    embed = layers.Embedding(VOCAB, EMBED, dtype="float32")
    lstm = layers.LSTM(UNITS, return_sequences=True, input_size=EMBED, dtype="float32")
    dense = layers.Dense(VOCAB, input_size=UNITS, dtype="float32")
    embedded_lstm = layers.EmbeddedRecurrent(embed, lstm) if joined else (lambda ids: lstm(embed(ids)))
    params = [*embed.parameters(), *lstm.parameters(), *dense.parameters()]
    optimizer = mg.optim.Adam(params, lr=1e-3)
    ids, targets = char_batch()

    def step() -> None:
        logits = dense(embedded_lstm(ids))
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

    step.model = (torch_embed, torch_lstm, torch_dense)  # type: ignore[attr-defined]
    return step


def char_batch() -> tuple[np.ndarray, np.ndarray]:
    """Random character ids (batch, time) and the next character of each as its target."""
    ids = np.random.default_rng(0).integers(0, VOCAB, size=(BATCH, STEPS + 1))
    return ids[:, :-1].copy(), ids[:, 1:].copy()


def cases(quick: bool) -> list[dict[str, Any]]:
    """The character model's step in both libraries, minigrad's plain and joined:
    [{"case", "runs": {...}: {"train"}}]."""
    found = []
    for name, joined in (("char LM", False), ("char LM, EmbeddedRecurrent", True)):
        ours = char_lm_minigrad(joined)
        runs = {"minigrad": {"train": ours}, "torch": {"train": char_lm_torch(ours.model)}}
        found.append({"case": name, "runs": runs})
    return found
