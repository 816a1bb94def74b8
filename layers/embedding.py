"""Embedding: integer ids -> rows of a learned table."""

from __future__ import annotations

from typing import Any

import numpy as np

from layers.dense import float_dtype
from layers.module import Module, positive_int
from minigrad import Tensor, init
from minigrad.data import as_ids


class Embedding(Module):
    """Look up a ``dim``-vector per id.  The backward is a scatter-add (repeated ids add up).

    ids : (batch, time) integers -> (batch, time, dim)

    Ids are integers in [0, vocab_size), or floats that are whole numbers (Keras casts
    floats; PyTorch refuses them): 1.5, inf, nan and booleans are a ValueError naming the
    first bad id and the valid range.

    Parameters
    ----------
    vocab_size : int
        Ids run from 0 to vocab_size - 1.
    dim : int
        The length of each id's vector.
    mask_zero : bool, default False
        Id 0 is padding: ``compute_mask`` marks it, and Sequential passes the mask on to the
        recurrent layer that follows.
    embeddings_initializer : str or callable, default "uniform"
    dtype : float32 or float64, default float64
    """

    def __init__(
        self,
        vocab_size: int,
        dim: int,
        mask_zero: bool = False,
        embeddings_initializer: str | init.Initializer = "uniform",
        dtype: Any = np.float64,
    ) -> None:
        vocab_size = positive_int("Embedding", "vocab_size", vocab_size)
        dim = positive_int("Embedding", "dim", dim)
        dtype = float_dtype("Embedding", dtype)
        self.vocab_size, self.dim, self.mask_zero = vocab_size, dim, mask_zero
        self.embeddings = Tensor(
            init.get(embeddings_initializer)((vocab_size, dim), dtype), requires_grad=True
        )

    def forward(self, ids: Any) -> Tensor:
        ids = as_ids(ids, "Embedding", self.vocab_size)
        rows = self.embeddings[ids.reshape(-1)]
        return rows.reshape(*ids.shape, self.dim)

    def compute_mask(self, ids: Any) -> np.ndarray | None:
        """True where the id is not the padding id 0, when ``mask_zero``; else None."""
        if not self.mask_zero:
            return None
        return as_ids(ids, "Embedding", self.vocab_size) != 0
