"""Losses for Sequential, by minigrad's names and by Keras's.

minigrad's own losses take logits.  Keras's names (``"sparse_categorical_crossentropy"``,
``"binary_crossentropy"``) mean what they mean in Keras: the model's outputs are
probabilities, unless the loss object is made with ``from_logits=True``.

Every loss here is a ``Loss``: a loss per position, and their mean.  Given a padding mask
(the model's output mask, as Keras's ``compute_mask`` gives it), the mean is Keras's: the
sum over the positions the mask keeps, divided by how many they are (0 when it keeps none).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from minigrad import Tensor, functional
from minigrad.tensor import as_tensor

LossFunction = Callable[..., Tensor]

EPSILON = 1e-7  # Keras's: probabilities are kept in [EPSILON, 1 - EPSILON] before the log


def masked_mean(losses: Tensor, mask: Any) -> Tensor:
    """Keras's masked mean: sum(losses where mask) / count(mask), 0 when the mask keeps nothing.

    losses : (batch, ...) ; mask : booleans of the leading axes of ``losses`` (batch, time);
    a loss per feature after them counts as ``features`` positions of the step.
    """
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != losses.shape[: mask.ndim]:
        raise ValueError(
            f"the mask must be booleans of shape {losses.shape[: mask.ndim]} (the losses' leading "
            f"axes), got {mask.dtype} of shape {mask.shape}"
        )
    weights = np.broadcast_to(mask.reshape(mask.shape + (1,) * (losses.ndim - mask.ndim)), losses.shape)
    count = int(weights.sum())
    kept = (losses * weights.astype(losses.dtype)).sum()
    return kept / count if count else kept * 0.0


def _as_rank_of(target: Any, pred: Tensor) -> Any:
    """Keras's squeeze_or_expand: targets (batch,) for outputs (batch, 1) gain the last axis."""
    target = np.asarray(target.data if isinstance(target, Tensor) else target)
    if target.ndim == pred.ndim - 1 and pred.shape[-1] == 1:
        return target[..., None]
    return target


def sparse_labels(pred: Tensor | np.ndarray, y: Any) -> np.ndarray:
    """Integer labels of the outputs' shape without the class axis: labels (batch, 1) for
    outputs (batch, classes) lose their last axis, as Keras's sparse losses and metrics do."""
    labels = np.asarray(y.data if isinstance(y, Tensor) else y)
    if labels.ndim == len(pred.shape) and labels.ndim > 1 and labels.shape[-1] == 1:
        return labels[..., 0]
    return labels


class Loss:
    """Base class: ``elementwise`` gives a loss per position; calling gives their mean (over
    the positions ``mask`` keeps, when given).

    pred, y -> a scalar Tensor
    """

    def elementwise(self, pred: Tensor, y: Any, mask: np.ndarray | None) -> Tensor:
        raise NotImplementedError

    def __call__(self, pred: Any, y: Any, mask: Any = None) -> Tensor:
        pred = as_tensor(pred)
        losses = self.elementwise(pred, y, None if mask is None else np.asarray(mask))
        return losses.mean() if mask is None else masked_mean(losses, mask)


def _probabilities(pred: Tensor, owner: str) -> Tensor:
    """``pred`` kept in [EPSILON, 1 - EPSILON]; a ValueError when it holds values outside
    [0, 1], which are logits given to a loss that expects probabilities."""
    values = pred.data
    if values.size and not (values.min() >= 0 and values.max() <= 1):
        raise ValueError(
            f"{owner}: expected probabilities in [0, 1] (the outputs of a softmax or sigmoid), got "
            f"values from {values.min():.4g} to {values.max():.4g}; for logits use from_logits=True "
            "(or minigrad's names, which take logits)"
        )
    return pred.clamp(min=EPSILON, max=1 - EPSILON)


class SparseCategoricalCrossentropy(Loss):
    """Mean of -log p[y] over integer labels.

    Parameters
    ----------
    from_logits : bool
        False (Keras's default): ``pred`` holds probabilities (after a softmax); True: logits.

    pred : (..., classes), y : (...) integer labels (or (..., 1), as Keras takes them)
    """

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = from_logits

    def elementwise(self, pred: Tensor, y: Any, mask: np.ndarray | None) -> Tensor:
        labels = sparse_labels(pred, y)
        # with probabilities, log p are logits whose softmax is p again (p sums to 1)
        logits = pred if self.from_logits else _probabilities(pred, "SparseCategoricalCrossentropy").log()
        return functional.cross_entropy(
            logits, labels, reduction="none", mask=mask, class_axis=-1
        )  # Keras: classes last


class BinaryCrossentropy(Loss):
    """Mean of -[y log p + (1 - y) log(1 - p)].

    Parameters
    ----------
    from_logits : bool
        False (Keras's default): ``pred`` holds probabilities (after a sigmoid); True: logits.

    pred, y : the same shape (y (batch,) for pred (batch, 1) too), y in [0, 1]
    """

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = from_logits

    def elementwise(self, pred: Tensor, y: Any, mask: np.ndarray | None) -> Tensor:
        target = _as_rank_of(y, pred)
        if self.from_logits:
            return functional.binary_cross_entropy_with_logits(pred, target, reduction="none")
        p = _probabilities(pred, "BinaryCrossentropy")
        logit = p.log() - (1 - p).log()
        return functional.binary_cross_entropy_with_logits(logit, target, reduction="none")


class MeanSquaredError(Loss):
    """Mean of (pred - y)^2.  pred, y : the same shape (y (batch,) for pred (batch, 1) too)."""

    def elementwise(self, pred: Tensor, y: Any, mask: np.ndarray | None) -> Tensor:
        return functional.mse_loss(pred, _as_rank_of(y, pred), reduction="none")


LOSSES: dict[str, Loss] = {
    "cross_entropy": SparseCategoricalCrossentropy(from_logits=True),  # logits
    "binary_cross_entropy": BinaryCrossentropy(from_logits=True),  # logits
    "mse": MeanSquaredError(),
    "mean_squared_error": MeanSquaredError(),
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy(),  # probabilities
    "binary_crossentropy": BinaryCrossentropy(),  # probabilities
}


def get(loss: str | LossFunction, owner: str) -> LossFunction:
    """The loss named ``loss``, or ``loss`` itself when it is a function (pred, y).  A
    function in Keras's order (y_true, y_pred) is refused: its arguments would be swapped."""
    if callable(loss):
        if _parameter_names(loss)[:1] == ["y_true"]:
            raise ValueError(
                f"{owner}: the loss takes (y_true, ...), Keras's order; minigrad calls a loss as "
                "loss(pred, y), PyTorch's order: swap its arguments"
            )
        return loss
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(
            f"{owner}: unknown loss {loss!r}; the losses are {', '.join(LOSSES)}, or a function "
            "(pred, y) -> Tensor.  minigrad's names take logits; Keras's take probabilities"
        )
    return LOSSES[loss]


def _parameter_names(function: Callable[..., Any]) -> list[str]:
    try:
        return list(inspect.signature(function).parameters)
    except (TypeError, ValueError):  # a callable whose signature Python cannot read
        return []


def takes_mask(loss: LossFunction) -> bool:
    """Whether ``loss`` can leave padded positions out: a ``Loss``, or a function with a
    ``mask`` argument."""
    return isinstance(loss, Loss) or "mask" in _parameter_names(loss)


def takes_logits(loss: LossFunction) -> bool:
    """Whether ``loss`` expects logits (minigrad's names, or from_logits=True)."""
    if isinstance(loss, SparseCategoricalCrossentropy | BinaryCrossentropy):
        return loss.from_logits
    return loss in (functional.cross_entropy, functional.binary_cross_entropy_with_logits)


def is_classification(loss: LossFunction | None) -> bool:
    """Whether the loss compares class scores with integer labels (so accuracy makes sense)."""
    return isinstance(loss, SparseCategoricalCrossentropy) or loss is functional.cross_entropy
