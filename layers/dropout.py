"""Dropout: active only in training mode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from layers.module import Module
from minigrad import Tensor, functional
from minigrad.tensor import as_tensor


class Dropout(Module):
    """Zero each input with probability ``rate`` in training mode, scaling the rest by
    1 / (1 - rate); the identity in evaluation mode.  x : any shape -> same shape

    Parameters
    ----------
    rate : float in [0, 1)
    noise_shape : tuple of ints and None, optional
        Keras's: the shape of the mask, broadcast over x.  Each entry is x's size on that
        axis, 1 (one draw shared along the axis) or None (x's size); e.g. (None, 1, None)
        drops the same features at every time step of a (batch, time, features) input.

    ``layer(x, training=True)`` or ``training=False`` overrides the module's mode for one
    call, as in Keras.
    """

    def __init__(self, rate: float, noise_shape: Sequence[int | None] | None = None) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)):
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate!r} ({type(rate).__name__})")
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate}")
        if noise_shape is not None:
            noise_shape = tuple(noise_shape)
            if not all(
                n is None or (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1)
                for n in noise_shape
            ):
                raise ValueError(f"Dropout: noise_shape holds positive integers or None, got {noise_shape}")
        self.rate = float(rate)
        self.noise_shape = noise_shape

    def forward(self, x: Any, training: bool | None = None) -> Tensor:
        if training is not None and not isinstance(training, (bool, np.bool_)):
            raise ValueError(f"Dropout: training must be True, False or None, got {training!r}")
        training = self.training if training is None else bool(training)
        if self.noise_shape is None:
            return functional.dropout(x, self.rate, training=training)
        x = as_tensor(x)
        shape = self._mask_shape(x.shape)
        if not training or self.rate == 0:
            return x
        return x * functional.dropout_mask(shape, self.rate, x.dtype)

    def _mask_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """``noise_shape`` with None filled in from x's shape, checked to broadcast over it."""
        noise_shape = self.noise_shape or ()
        fits = len(noise_shape) == len(shape) and all(
            n in (None, 1, size) for n, size in zip(noise_shape, shape, strict=True)
        )
        if not fits:
            raise ValueError(
                f"Dropout: noise_shape {noise_shape} does not fit input of shape {shape}: it needs "
                f"{len(shape)} entries, each None, 1 or the input's size"
            )
        return tuple(size if n is None else n for n, size in zip(noise_shape, shape, strict=True))
