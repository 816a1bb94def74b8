"""Losses for Sequential, by minigrad's names and by Keras's.

minigrad's own losses take logits.  Keras's names (``"sparse_categorical_crossentropy"``,
``"binary_crossentropy"``) mean what they mean in Keras: the model's outputs are
probabilities, unless the loss object is made with ``from_logits=True``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from minigrad import Tensor, functional

Loss = Callable[[Tensor, Any], Tensor]

EPSILON = 1e-7  # Keras's: probabilities are kept in [EPSILON, 1 - EPSILON] before the log


class SparseCategoricalCrossentropy:
    """Mean of -log p[y] over integer labels.

    Parameters
    ----------
    from_logits : bool
        False (Keras's default): ``pred`` holds probabilities (after a softmax); True: logits.

    pred : (..., classes), y : (...) integer labels -> a scalar Tensor
    """

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = from_logits

    def __call__(self, pred: Tensor, y: Any) -> Tensor:
        # with probabilities, log p are logits whose softmax is p again (p sums to 1)
        logits = pred if self.from_logits else pred.clamp(min=EPSILON, max=1 - EPSILON).log()
        return functional.cross_entropy(logits, y, class_axis=-1)  # Keras's classes: the last axis


class BinaryCrossentropy:
    """Mean of -[y log p + (1 - y) log(1 - p)].

    Parameters
    ----------
    from_logits : bool
        False (Keras's default): ``pred`` holds probabilities (after a sigmoid); True: logits.

    pred, y : the same shape, y in [0, 1] -> a scalar Tensor
    """

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = from_logits

    def __call__(self, pred: Tensor, y: Any) -> Tensor:
        if self.from_logits:
            return functional.binary_cross_entropy_with_logits(pred, y)
        p = pred.clamp(min=EPSILON, max=1 - EPSILON)
        return functional.binary_cross_entropy_with_logits(p.log() - (1 - p).log(), y)  # logit(p)


def cross_entropy(logits: Tensor, y: Any) -> Tensor:
    """minigrad's cross-entropy on logits with the classes on the last axis, the layout of
    Sequential's outputs (``functional.cross_entropy`` alone refuses to guess when a
    sequence has as many steps as classes)."""
    return functional.cross_entropy(logits, y, class_axis=-1)


LOSSES: dict[str, Loss] = {
    "cross_entropy": cross_entropy,  # logits
    "binary_cross_entropy": functional.binary_cross_entropy_with_logits,  # logits
    "mse": functional.mse_loss,
    "mean_squared_error": functional.mse_loss,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy(),  # probabilities
    "binary_crossentropy": BinaryCrossentropy(),  # probabilities
}


def get(loss: str | Loss, owner: str) -> Loss:
    """The loss named ``loss``, or ``loss`` itself when it is a function."""
    if callable(loss):
        return loss
    if loss not in LOSSES:
        raise ValueError(
            f"{owner}: unknown loss {loss!r}; the losses are {', '.join(LOSSES)}, or a function "
            "(pred, y) -> Tensor.  minigrad's names take logits; Keras's take probabilities"
        )
    return LOSSES[loss]


def is_classification(loss: Loss | None) -> bool:
    """Whether the loss compares class scores with integer labels (so accuracy makes sense)."""
    return loss in (cross_entropy, functional.cross_entropy) or isinstance(
        loss, SparseCategoricalCrossentropy
    )
