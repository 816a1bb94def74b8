"""Encoder-decoder: read a source sequence into a context C, then write the target from C.

* ``Encoder``: Embedding -> recurrent layer over the source (padding masked).  The context is
  C = h_T, the last state (``context="last"``), or C = the mean of h_1..h_T over the real
  tokens (``context="mean"``).
* ``Decoder``: Embedding -> recurrent layer started from C -> Dense to target-vocabulary logits.
  Training uses teacher forcing: the decoder reads the true previous target token.
* ``Seq2Seq``: both, plus greedy ``translate``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import minigrad as mg
from layers.dense import Dense
from layers.embedding import Embedding, check_ids
from layers.gru import GRU
from layers.lstm import LSTM
from layers.module import Module
from layers.simple_rnn import SimpleRNN
from minigrad import Tensor

CELLS = {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}
CONTEXTS = ("last", "mean")


def _recurrent(cell: str, units: int, embed_dim: int, impl: str) -> Any:
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
    return CELLS[cell](units, return_sequences=True, return_state=True, input_size=embed_dim, impl=impl)


class Encoder(Module):
    """src_ids : (batch, src_time) ints, 0 = padding -> context states, each (batch, units)."""

    def __init__(self, vocab_size: int, embed_dim: int, units: int, cell: str = "gru",
                 context: str = "last", impl: str = "auto") -> None:  # fmt: skip
        if context not in CONTEXTS:
            raise ValueError(f"Encoder: context must be one of {CONTEXTS}, got {context!r}")
        self.embedding = Embedding(vocab_size, embed_dim, mask_zero=True)
        self.rnn = _recurrent(cell, units, embed_dim, impl)
        self.context = context

    def forward(self, src_ids: Any, src_mask: Any = None) -> list[Tensor]:
        mask = self.embedding.compute_mask(src_ids) if src_mask is None else np.asarray(src_mask, bool)
        if not mask.any(axis=1).all():
            raise ValueError("Encoder: every source sequence needs at least one token that is not padding")
        outputs, *states = self.rnn(self.embedding(src_ids), mask=mask)
        if self.context == "mean":  # C = mean of h_t over the real tokens
            weights = (mask / mask.sum(axis=1, keepdims=True))[:, :, None]
            states[0] = (outputs * weights).sum(axis=1)
        return states


class Decoder(Module):
    """tgt_in_ids : (batch, tgt_time) ints, started from ``states`` ->
    (logits (batch, tgt_time, vocab_size), final states)."""

    def __init__(self, vocab_size: int, embed_dim: int, units: int, cell: str = "gru",
                 impl: str = "auto") -> None:  # fmt: skip
        self.embedding = Embedding(vocab_size, embed_dim)
        self.rnn = _recurrent(cell, units, embed_dim, impl)
        self.head = Dense(vocab_size, input_size=units)

    def forward(self, tgt_in_ids: Any, states: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        outputs, *states = self.rnn(self.embedding(tgt_in_ids), initial_state=states)
        return self.head(outputs), states


class Seq2Seq(Module):
    """An encoder-decoder translator.

    ``model(src_ids, tgt_in_ids)`` gives logits (batch, tgt_time, tgt_vocab_size) for teacher
    forcing; ``model.translate(src_ids, max_len, start_id, end_id)`` decodes greedily.
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, embed_dim: int, units: int,
                 cell: str = "gru", context: str = "last", impl: str = "auto") -> None:  # fmt: skip
        self.encoder = Encoder(src_vocab_size, embed_dim, units, cell, context, impl)
        self.decoder = Decoder(tgt_vocab_size, embed_dim, units, cell, impl)

    def forward(self, src_ids: Any, tgt_in_ids: Any, src_mask: Any = None) -> Tensor:
        logits, _ = self.decoder(tgt_in_ids, self.encoder(src_ids, src_mask))
        return logits

    def translate(self, src_ids: Any, max_len: int, start_id: int, end_id: int,
                  src_mask: Any = None) -> list[list[int]]:  # fmt: skip
        """Greedy decoding: feed back the most likely token until ``end_id`` or ``max_len``.

        Returns one list of ids per source sequence, without the start and end tokens.
        """
        src_ids = check_ids(src_ids, self.encoder.embedding.vocab_size, "translate")
        if src_ids.ndim != 2:
            raise ValueError(
                f"translate: src_ids must be (batch, src_time), got shape {src_ids.shape}; "
                "for one sentence pass [ids]"
            )
        vocab = self.decoder.embedding.vocab_size
        for label, token in (("start_id", start_id), ("end_id", end_id)):
            if isinstance(token, bool) or not isinstance(token, (int, np.integer)) or not 0 <= token < vocab:
                raise ValueError(f"translate: {label} must be a token id in [0, {vocab}), got {token!r}")
        if isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)) or max_len < 1:
            raise ValueError(f"translate: max_len must be a positive integer, got {max_len!r}")
        was_training = self.training
        self.eval()
        try:
            return self._greedy(src_ids, max_len, start_id, end_id, src_mask)
        finally:  # back to the mode it was in, whether decoding worked or not
            self.train(was_training)

    def _greedy(self, src_ids: np.ndarray, max_len: int, start_id: int, end_id: int,
                src_mask: Any) -> list[list[int]]:  # fmt: skip
        with mg.no_grad():
            states = self.encoder(src_ids, src_mask)
            token = np.full((len(src_ids), 1), start_id, dtype=np.int64)
            results: list[list[int]] = [[] for _ in range(len(src_ids))]
            finished = np.zeros(len(src_ids), dtype=bool)
            for _ in range(max_len):
                logits, states = self.decoder(token, states)
                token = logits.data[:, -1].argmax(axis=-1)[:, None]
                for row, t in enumerate(token[:, 0]):
                    if not finished[row]:
                        finished[row] = t == end_id
                        if not finished[row]:
                            results[row].append(int(t))
                if finished.all():
                    break
        return results
