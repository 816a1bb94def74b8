"""Dropout: active only in training mode."""

from __future__ import annotations

from typing import Any

from layers.module import Module
from minigrad import Tensor, functional


class Dropout(Module):
    """Zero each input with probability ``rate`` in training mode, scaling the rest by
    1 / (1 - rate); the identity in evaluation mode.  x : any shape -> same shape"""

    def __init__(self, rate: float) -> None:
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate}")
        self.rate = rate

    def forward(self, x: Any) -> Tensor:
        return functional.dropout(x, self.rate, training=self.training)
