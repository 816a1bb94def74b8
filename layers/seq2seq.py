"""Encoder-decoder: read a source sequence into a context C, then write the target from C.

* ``Encoder``: Embedding -> recurrent layer over the source (padding masked).  The context is
  C = h_T, the last state (``context="last"``), or C = the mean of h_1..h_T over the real
  tokens (``context="mean"``).
* ``Decoder``: Embedding -> recurrent layer started from C -> Dense to target-vocabulary logits.
  Training uses teacher forcing: the decoder reads the true previous target token.
* ``Seq2Seq``: both, plus ``translate`` (greedy or beam search).  With ``attention`` the
  decoder also attends over every encoder output at each step, so C is no longer the only
  way the source reaches it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import minigrad as mg
from layers.attention import AdditiveAttention, Attention
from layers.dense import Dense
from layers.embedding import Embedding
from layers.gru import GRU
from layers.lstm import LSTM
from layers.module import Module, positive_int
from layers.simple_rnn import SimpleRNN
from minigrad import Tensor
from minigrad.data import as_ids

CELLS = {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}
ATTENTIONS = {
    None: None,
    "dot": lambda units: Attention(),
    "additive": lambda units: AdditiveAttention(input_size=units),
}
CONTEXTS = ("last", "mean")


def _recurrent(cell: str, units: int, embed_dim: int, impl: str) -> Any:
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
    return CELLS[cell](units, return_sequences=True, return_state=True, input_size=embed_dim, impl=impl)


class Encoder(Module):
    """src_ids : (batch, src_time) ints, 0 = padding -> context states, each (batch, units)."""

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        units: int,
        cell: str = "gru",
        context: str = "last",
        impl: str = "auto",
    ) -> None:
        if context not in CONTEXTS:
            raise ValueError(f"Encoder: context must be one of {CONTEXTS}, got {context!r}")
        self.embedding = Embedding(vocab_size, embed_dim, mask_zero=True)
        self.rnn = _recurrent(cell, units, embed_dim, impl)
        self.context = context

    def forward(self, src_ids: Any, src_mask: Any = None) -> list[Tensor]:
        return self.encode(src_ids, src_mask)[1]

    def encode(self, src_ids: Any, src_mask: Any = None) -> tuple[Tensor, list[Tensor], np.ndarray]:
        """outputs h_1..h_T (batch, src_time, units), the context states, and the source mask
        (batch, src_time): what an attending decoder reads."""
        src_ids = as_ids(src_ids, "Encoder", self.embedding.vocab_size)
        mask = self.embedding.compute_mask(src_ids) if src_mask is None else _checked_mask(src_mask, src_ids)
        if not mask.any(axis=1).all():
            raise ValueError("Encoder: every source sequence needs at least one token that is not padding")
        outputs, *states = self.rnn(self.embedding(src_ids), mask=mask)
        if self.context == "mean":  # C = mean of h_t over the real tokens
            weights = (mask / mask.sum(axis=1, keepdims=True))[:, :, None]
            states[0] = (outputs * weights).sum(axis=1)
        return outputs, states, mask


class Decoder(Module):
    """tgt_in_ids : (batch, tgt_time) ints, started from ``states`` ->
    (logits (batch, tgt_time, vocab_size), final states).

    With ``attention`` ("dot" for Luong's, "additive" for Bahdanau's), each step's output
    h_t also attends over the encoder's outputs (``memory``, with its padding mask): the
    context c_t = sum_s a_ts h_s, and the logits read [h_t, c_t].
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        units: int,
        cell: str = "gru",
        impl: str = "auto",
        attention: str | None = None,
    ) -> None:
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {list(ATTENTIONS)}, got {attention!r}")
        self.embedding = Embedding(vocab_size, embed_dim)
        self.rnn = _recurrent(cell, units, embed_dim, impl)
        self.attention = ATTENTIONS[attention](units) if attention else None
        self.head = Dense(vocab_size, input_size=units * (2 if attention else 1))

    def forward(
        self,
        tgt_in_ids: Any,
        states: list[Tensor],
        memory: Tensor | None = None,
        memory_mask: np.ndarray | None = None,
        return_attention: bool = False,
    ) -> tuple[Tensor, ...]:
        """(logits, final states), and the attention weights (batch, tgt_time, src_time) with
        ``return_attention`` (None without attention)."""
        outputs, *states = self.rnn(self.embedding(tgt_in_ids), initial_state=states)
        weights = None
        if self.attention is not None:
            if memory is None:
                raise ValueError("Decoder: an attending decoder needs the encoder's outputs (memory)")
            context, weights = self.attention(
                [outputs, memory], mask=[None, memory_mask], return_attention_scores=True
            )
            outputs = mg.concatenate([outputs, context], axis=-1)
        logits = self.head(outputs)
        return (logits, states, weights) if return_attention else (logits, states)


class Seq2Seq(Module):
    """An encoder-decoder translator.

    ``model(src_ids, tgt_in_ids)`` gives logits (batch, tgt_time, tgt_vocab_size) for teacher
    forcing; ``model.translate(src_ids, max_len, start_id, end_id)`` decodes, greedily or
    with a beam.

    Parameters
    ----------
    src_vocab_size, tgt_vocab_size : int
    embed_dim, units : int
        Embedding size and recurrent units of both encoder and decoder.
    cell : "rnn", "lstm" or "gru", default "gru"
    context : "last" (C = h_T) or "mean" (C = mean of h_1..h_T), default "last"
        The encoder's context, the decoder's initial state.
    impl : "auto", "autograd" or "fused", default "auto"
    attention : None, "dot" or "additive", default None
        Without attention the decoder sees the source only through C; with it, every
        decoder step attends over all the encoder's outputs.
    """

    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int,
        embed_dim: int,
        units: int,
        cell: str = "gru",
        context: str = "last",
        impl: str = "auto",
        attention: str | None = None,
    ) -> None:
        self.encoder = Encoder(src_vocab_size, embed_dim, units, cell, context, impl)
        self.decoder = Decoder(tgt_vocab_size, embed_dim, units, cell, impl, attention)

    def forward(self, src_ids: Any, tgt_in_ids: Any, src_mask: Any = None) -> Tensor:
        src_batch, tgt_batch = np.shape(src_ids)[:1], np.shape(tgt_in_ids)[:1]
        if src_batch != tgt_batch:
            raise ValueError(
                f"Seq2Seq: src_ids and tgt_in_ids must have the same batch size, got src_ids of shape "
                f"{np.shape(src_ids)} and tgt_in_ids of shape {np.shape(tgt_in_ids)}"
            )
        memory, states, mask = self.encoder.encode(src_ids, src_mask)
        logits, _ = self.decoder(tgt_in_ids, states, memory, mask)
        return logits

    def translate(
        self,
        src_ids: Any,
        max_len: int,
        start_id: int,
        end_id: int,
        src_mask: Any = None,
        beam_width: int = 1,
        return_attention: bool = False,
    ) -> Any:
        """Decode each source sequence until ``end_id`` or ``max_len`` tokens.

        ``beam_width=1`` is greedy: the most likely token each step.  A wider beam keeps the
        ``beam_width`` most likely partial translations each step; each hypothesis ends at
        ``end_id``, and the one with the highest log-probability per token wins (the greedy
        translation is always among the candidates, so a beam never ends below it).

        Returns one list of ids per source sequence, without the start and end tokens; with
        ``return_attention``, also one array per sequence of the attention weights of the
        chosen output, (output tokens, src_time) (None without attention).
        """
        src_ids = self._checked_translation(src_ids, max_len, start_id, end_id, beam_width)
        was_training = self.training
        self.eval()
        try:
            with mg.no_grad():
                memory, states, mask = self.encoder.encode(src_ids, src_mask)
                found = [
                    self._decode(
                        memory[i : i + 1],
                        [s[i : i + 1] for s in states],
                        mask[i : i + 1],
                        max_len,
                        start_id,
                        end_id,
                        beam_width,
                    )
                    for i in range(len(src_ids))
                ]
        finally:  # back to the mode it was in, whether decoding worked or not
            self.train(was_training)
        results = [hypothesis.tokens for hypothesis in found]
        return (results, self._attention_of(found, src_ids.shape[1])) if return_attention else results

    def _attention_of(self, found: list[Hypothesis], width: int) -> list[np.ndarray | None]:
        """Each translation's attention weights, (output tokens, width); None without attention."""
        if self.decoder.attention is None:
            return [None] * len(found)
        return [np.array(h.attention).reshape(len(h.tokens), width) for h in found]

    def _checked_translation(
        self, src_ids: Any, max_len: int, start_id: int, end_id: int, beam_width: int
    ) -> np.ndarray:
        """translate's arguments checked, and src_ids as a (batch, src_time) array of ids."""
        src_ids = as_ids(src_ids, "translate", self.encoder.embedding.vocab_size)
        if src_ids.ndim != 2:
            raise ValueError(
                f"translate: src_ids must be (batch, src_time), got shape {src_ids.shape}; "
                "for one sentence pass [ids]"
            )
        vocab = self.decoder.embedding.vocab_size
        for label, token in (("start_id", start_id), ("end_id", end_id)):
            if isinstance(token, bool) or not isinstance(token, (int, np.integer)) or not 0 <= token < vocab:
                raise ValueError(f"translate: {label} must be a token id in [0, {vocab}), got {token!r}")
        positive_int("translate", "max_len", max_len)
        positive_int("translate", "beam_width", beam_width)
        return src_ids

    def _step(
        self, tokens: np.ndarray, states: list[Tensor], memory: Tensor, mask: np.ndarray
    ) -> tuple[np.ndarray, list[Tensor], np.ndarray | None]:
        """One decoder step for n hypotheses: log-probabilities (n, vocab), states, weights."""
        n = len(tokens)
        logits, states, weights = self.decoder(
            tokens[:, None],
            states,
            _repeat(memory, n),
            None if mask is None else np.repeat(mask, n, 0),
            return_attention=True,
        )
        log_probs = mg.functional.log_softmax(logits[:, -1], axis=-1).data
        return log_probs, states, None if weights is None else weights.data[:, -1]

    def _decode(
        self,
        memory: Tensor,
        states: list[Tensor],
        mask: np.ndarray,
        max_len: int,
        start_id: int,
        end_id: int,
        beam_width: int,
    ) -> Hypothesis:
        """The best translation of one source sequence (memory and states of batch 1)."""
        start = Hypothesis([], 0.0, states, [], start_id)
        greedy = self._search(start, memory, mask, max_len, end_id, 1)
        if beam_width == 1:
            return greedy[0]
        return max(
            [*self._search(start, memory, mask, max_len, end_id, beam_width), greedy[0]], key=Hypothesis.score
        )

    def _search(
        self, start: Hypothesis, memory: Tensor, mask: np.ndarray, max_len: int, end_id: int, width: int
    ) -> list[Hypothesis]:
        """Beam search of ``width`` (1 is greedy): each step, every live hypothesis proposes its
        ``width`` likeliest next tokens and the ``width`` likeliest of all proposals live on;
        one that proposed ``end_id`` is finished.  Returns the finished hypotheses, and the
        live ones when ``max_len`` cuts them short."""
        alive, finished = [start], []
        for _ in range(max_len):
            tokens = np.array([h.last for h in alive])
            states = [mg.concatenate([h.states[k] for h in alive]) for k in range(len(start.states))]
            log_probs, states, weights = self._step(tokens, states, memory, mask)
            proposals = [
                (h.log_prob + float(log_probs[row, token]), row, int(token))
                for row, h in enumerate(alive)
                for token in np.argsort(-log_probs[row], kind="stable")[:width]
            ]
            proposals.sort(key=lambda proposal: -proposal[0])
            survivors = []
            for log_prob, row, token in proposals[:width]:
                parent = alive[row]
                child_states = [s[row : row + 1] for s in states]
                if token == end_id:
                    finished.append(
                        Hypothesis(parent.tokens, log_prob, child_states, parent.attention, token, True)
                    )
                else:
                    seen = parent.attention + ([] if weights is None else [weights[row]])
                    survivors.append(Hypothesis([*parent.tokens, token], log_prob, child_states, seen, token))
            alive = survivors
            if not alive:
                break
        return finished + alive


@dataclass
class Hypothesis:
    """A partial translation: its tokens, their total log-probability, the decoder states
    after them, the attention weights of each token, the token to feed next, and whether
    it has ended."""

    tokens: list[int]
    log_prob: float
    states: list[Tensor]
    attention: list[np.ndarray]
    last: int
    done: bool = False

    def score(self) -> float:
        """Log-probability per token (the end token counts), so that length is not penalised."""
        return self.log_prob / max(len(self.tokens) + self.done, 1)


def _checked_mask(mask: Any, ids: np.ndarray) -> np.ndarray:
    """A source mask given by the user, as booleans: True/False or 1/0 of the ids' shape
    (a 0.5 would otherwise pass as True)."""
    array = np.asarray(mask)
    if array.dtype.kind not in "biuf" or not np.isin(array, (0, 1)).all():
        raise ValueError(
            f"Encoder: src_mask must hold True/False (or 1/0), got {array.dtype} values {array!r:.80}"
        )
    if array.shape != ids.shape:
        raise ValueError(f"Encoder: src_mask must have src_ids' shape {ids.shape}, got {array.shape}")
    return array.astype(bool)


def _repeat(memory: Tensor, n: int) -> Tensor:
    """The encoder's outputs for one sequence, repeated for n hypotheses (no gradient)."""
    return Tensor(np.repeat(memory.data, n, axis=0))
