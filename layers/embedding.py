"""Embedding: integer ids -> rows of a learned table."""

from __future__ import annotations

from typing import Any

import numpy as np

from layers.module import Module, positive_int
from minigrad import Tensor, init


def check_ids(ids: Any, vocab_size: int, owner: str) -> np.ndarray:
    """``ids`` as an int64 array, each in [0, vocab_size), or a ValueError saying what came."""
    ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
    if ids.dtype.kind not in "iu":
        if ids.size and not (ids.dtype.kind == "f" and np.array_equal(ids, np.round(ids))):
            raise ValueError(f"{owner}: expected integer ids, got an array of dtype {ids.dtype}")
    ids = ids.astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(
            f"{owner}: ids must lie in [0, {vocab_size}), got values from {ids.min()} to {ids.max()}"
        )
    return ids


class Embedding(Module):
    """Look up a ``dim``-vector per id.  The backward is a scatter-add (repeated ids add up).

    ids : (batch, time) integers -> (batch, time, dim)

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
        self.vocab_size, self.dim, self.mask_zero = vocab_size, dim, mask_zero
        self.embeddings = Tensor(
            init.get(embeddings_initializer)((vocab_size, dim), dtype), requires_grad=True
        )

    def forward(self, ids: Any) -> Tensor:
        ids = check_ids(ids, self.vocab_size, "Embedding")
        rows = self.embeddings[ids.reshape(-1)]
        return rows.reshape(*ids.shape, self.dim)

    def compute_mask(self, ids: Any) -> np.ndarray | None:
        """True where the id is not the padding id 0, when ``mask_zero``; else None."""
        if not self.mask_zero:
            return None
        return check_ids(ids, self.vocab_size, "Embedding") != 0
