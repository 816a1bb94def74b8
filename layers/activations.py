"""Activation functions by Keras name."""

from __future__ import annotations

from collections.abc import Callable

from minigrad import Tensor, functional

Activation = Callable[[Tensor], Tensor]

ACTIVATIONS: dict[str, Activation] = {
    "tanh": Tensor.tanh,
    "sigmoid": Tensor.sigmoid,
    "relu": Tensor.relu,
    "linear": lambda x: x,
    "softmax": lambda x: functional.softmax(x, axis=-1),
}


def get(name_or_fn: str | Activation | None) -> Activation:
    """The activation named ("tanh", "sigmoid", "relu", "softmax" over the last axis, "linear";
    None is linear) or a callable."""
    if name_or_fn is None:
        return ACTIVATIONS["linear"]
    if callable(name_or_fn):
        return name_or_fn
    if name_or_fn not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {name_or_fn!r}; expected one of {sorted(ACTIVATIONS)} or a callable"
        )
    return ACTIVATIONS[name_or_fn]
