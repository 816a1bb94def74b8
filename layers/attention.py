"""Attention (Luong's dot-product) and AdditiveAttention (Bahdanau's), as Keras has them.

Both take ``[query, value]`` or ``[query, value, key]`` (key defaults to value):
query (batch, Tq, dim), value (batch, Tv, value_dim), key (batch, Tv, dim).  For each
query step, a score against every key step; a softmax over the key steps turns the scores
into weights (batch, Tq, Tv); the output is the weighted sum of the value steps,
(batch, Tq, value_dim).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import minigrad as mg
from layers.module import Module, float_dtype, positive_int
from minigrad import Tensor, functional, init

MASKED = 1e9  # what a masked score loses, as in Keras: its softmax weight becomes 0


class Attention(Module):
    """Dot-product attention (Luong's), Keras's ``Attention``.

        scores = query @ key^T          (times ``scale`` with use_scale)
        scores = concat_score_weight * sum(tanh(query_i + key_j))     with score_mode="concat"

    Parameters
    ----------
    use_scale : bool, default False
        Multiply the scores by a learned scalar ``scale`` (starting at 1).
    score_mode : "dot" or "concat", default "dot"
    dropout : float in [0, 1), default 0
        Fraction of the attention weights dropped in training.
    dtype : float32 or float64, default float64

    Called as ``layer([query, value(, key)], mask=[query_mask, value_mask],
    return_attention_scores=False, use_causal_mask=False, training=None)``: masks are
    (batch, Tq) and (batch, Tv) booleans (either may be None); a masked value step gets no
    weight, a masked query step outputs zeros; the causal mask keeps query step i from
    attending to key steps after i.  Weights in Keras's order: [scale], [concat_score_weight].
    A batch of 0 or 0 query steps gives empty results; value needs at least one step.
    """

    def __init__(
        self, use_scale: bool = False, score_mode: str = "dot", dropout: float = 0.0, dtype: Any = np.float64
    ) -> None:
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"Attention: score_mode must be 'dot' or 'concat', got {score_mode!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"Attention: dropout must be in [0, 1), got {dropout}")
        self.use_scale, self.score_mode, self.dropout = use_scale, score_mode, dropout
        self.dtype = float_dtype(type(self).__name__, dtype)
        if use_scale:
            self.scale = Tensor(np.ones((), self.dtype), requires_grad=True)
        if score_mode == "concat":
            self.concat_score_weight = Tensor(np.ones((), self.dtype), requires_grad=True)

    def scores(self, query: Tensor, key: Tensor) -> Tensor:
        """query (batch, Tq, dim), key (batch, Tv, dim) -> scores (batch, Tq, Tv)."""
        if self.score_mode == "dot":
            scores = query @ key.permute(0, 2, 1)
            return scores * self.scale if self.use_scale else scores
        pairs = pairwise_sums(query, key)
        if self.use_scale:
            pairs = pairs * self.scale
        return self.concat_score_weight * pairs.tanh().sum(axis=-1)

    def forward(
        self,
        inputs: Sequence[Any],
        mask: Sequence[Any] | None = None,
        training: bool | None = None,
        return_attention_scores: bool = False,
        use_causal_mask: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        query, value, key = _check_inputs(type(self).__name__, inputs, self.dtype)
        query_mask, value_mask = _check_masks(type(self).__name__, mask, query, value)
        self.build_for(query)
        scores = self.scores(query, key)
        keep = _score_mask(value_mask, scores.shape, use_causal_mask)
        if keep is not None:
            scores = mg.where(keep, scores, scores - MASKED)
        # no batch or no query step: nothing to normalise, the results are empty as in Keras
        weights = functional.softmax(scores, axis=-1) if scores.numel() else scores
        training = self.training if training is None else training
        if training and self.dropout > 0:
            weights = functional.dropout(weights, self.dropout, training=True)
        output = weights @ value
        if query_mask is not None:
            output = mg.where(query_mask[:, :, None], output, 0.0)
        return (output, weights) if return_attention_scores else output

    def build_for(self, query: Tensor) -> None:
        """Nothing to build: the weights are scalars."""


class AdditiveAttention(Attention):
    """Additive attention (Bahdanau's), Keras's ``AdditiveAttention``.

        scores = sum(scale * tanh(query_i + key_j))     scale (dim,), learned with use_scale

    Parameters
    ----------
    use_scale : bool, default True
        A learned ``scale`` (dim,) weighs each feature (glorot-uniform at first); without it
        every feature counts 1.
    dropout : float in [0, 1), default 0
    input_size : int, optional
        The query's features (dim): build ``scale`` now rather than at the first call.
    dtype : float32 or float64, default float64

    Called and masked as ``Attention``.  Weights in Keras's order: [scale].
    """

    def __init__(
        self,
        use_scale: bool = True,
        dropout: float = 0.0,
        input_size: int | None = None,
        dtype: Any = np.float64,
    ) -> None:
        self.input_size: int | None = None
        super().__init__(use_scale=False, score_mode="dot", dropout=dropout, dtype=dtype)
        self.use_scale = use_scale
        if input_size is not None:
            self.build(input_size)

    @property
    def built(self) -> bool:
        return self.input_size is not None or not self.use_scale

    def build(self, input_size: int) -> None:
        """Create ``scale`` for queries of ``input_size`` features."""
        self.input_size = positive_int("AdditiveAttention", "input_size", input_size)
        if self.use_scale:
            self.scale = Tensor(
                init.get("glorot_uniform")((self.input_size,), self.dtype), requires_grad=True
            )

    def build_for(self, query: Tensor) -> None:
        if self.input_size is None:
            self.build(query.shape[-1])
        elif query.shape[-1] != self.input_size:
            raise ValueError(
                f"AdditiveAttention: expected {self.input_size} query features, got {query.shape}"
            )

    def scores(self, query: Tensor, key: Tensor) -> Tensor:
        pairs = pairwise_sums(query, key)
        terms = pairs.tanh()
        return (terms * self.scale if self.use_scale else terms).sum(axis=-1)


def pairwise_sums(query: Tensor, key: Tensor) -> Tensor:
    """query_i + key_j for every pair of steps: (batch, Tq, 1, dim) + (batch, 1, Tv, dim)."""
    (batch, steps, dim), key_steps = query.shape, key.shape[1]
    return query.reshape(batch, steps, 1, dim) + key.reshape(batch, 1, key_steps, dim)


def _check_inputs(owner: str, inputs: Any, dtype: np.dtype) -> tuple[Tensor, Tensor, Tensor]:
    if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
        raise ValueError(
            f"{owner}: expected [query, value] or [query, value, key], got {type(inputs).__name__}"
            + (f" of {len(inputs)}" if isinstance(inputs, (list, tuple)) else "")
        )
    tensors = [x if isinstance(x, Tensor) else Tensor(x, dtype=dtype) for x in inputs]
    query, value = tensors[0], tensors[1]
    key = tensors[2] if len(tensors) == 3 else value
    names = ("query", "value", "key")
    for name, t in zip(names, (query, value, key), strict=True):
        if t.ndim != 3:
            raise ValueError(f"{owner}: {name} must be (batch, time, features), got shape {t.shape}")
    if not query.shape[0] == value.shape[0] == key.shape[0]:
        raise ValueError(
            f"{owner}: query, value and key need one batch size, "
            f"got {query.shape}, {value.shape}, {key.shape}"
        )
    if value.shape[1] == 0:
        raise ValueError(
            f"{owner}: value needs at least one step for the query steps to attend to, got {value.shape}"
        )
    if key.shape[1] != value.shape[1]:
        raise ValueError(
            f"{owner}: key and value need the same number of steps, got {key.shape} and {value.shape}"
        )
    if query.shape[2] != key.shape[2]:
        raise ValueError(
            f"{owner}: query and key need the same number of features, got {query.shape} and {key.shape}"
        )
    return query, value, key


def _check_masks(
    owner: str, mask: Any, query: Tensor, value: Tensor
) -> tuple[np.ndarray | None, np.ndarray | None]:
    if mask is None:
        return None, None
    if not isinstance(mask, (list, tuple)) or len(mask) != 2:
        raise ValueError(f"{owner}: mask must be [query_mask, value_mask] (either may be None)")
    checked = []
    for name, m, t in (("query_mask", mask[0], query), ("value_mask", mask[1], value)):
        if m is None:
            checked.append(None)
            continue
        array = np.asarray(m.data if isinstance(m, Tensor) else m)
        if array.dtype != bool or array.shape != t.shape[:2]:
            raise ValueError(
                f"{owner}: {name} must be booleans of shape {t.shape[:2]}, got {array.dtype} {array.shape}"
            )
        checked.append(array)
    return checked[0], checked[1]


def _score_mask(value_mask: np.ndarray | None, shape: tuple[int, ...], causal: bool) -> np.ndarray | None:
    """Where scores count, broadcastable to (batch, Tq, Tv), or None for everywhere."""
    keep = None if value_mask is None else value_mask[:, None, :]
    if causal:
        lower = np.tril(np.ones(shape[1:], dtype=bool))[None]  # query step i sees key steps <= i
        keep = lower if keep is None else keep & lower
    return keep
