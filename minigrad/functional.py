"""Compositions of the primitive ops: softmax, log-softmax and the losses.

``softmax`` and ``log_softmax`` are written with primitives only, so their gradients
come from the ops' own backward.  ``cross_entropy`` is one fused op (softmax and
negative log-likelihood in a single kernel); the tests check that it equals the
composition ``-log_softmax(logits)[target]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad import kernels
from minigrad.function import Function
from minigrad.ops import normalize_axes
from minigrad.random import generator
from minigrad.tensor import Tensor, as_tensor


def _stable_shift(x: Tensor, axis: int) -> Tensor:
    # log_softmax(x) = log_softmax(x - c) for any constant c; taking c = max(x) keeps
    # exp() from overflowing.  c is detached: its gradient through the result is zero.
    return x - x.amax(axis, keepdim=True).detach()


def _axis_or_dim(name: str, axis: int, dim: int | None) -> int:
    """numpy's and Keras's ``axis`` or PyTorch's ``dim`` (not both)."""
    if dim is None:
        return axis
    if axis != -1:
        raise TypeError(f"{name}: give axis or dim, not both")
    return dim


def log_softmax(x: Any, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """log(softmax(x)) = x - log(sum(exp(x))), stable for logits of any size.

    x : (..., classes) -> (..., classes); ``axis`` (or PyTorch's ``dim``) names the class axis,
    the last by default, as in Keras
    """
    axis = _axis_or_dim("log_softmax", axis, dim)
    shifted = _stable_shift(as_tensor(x), axis)
    return shifted - shifted.exp().sum(axis=axis, keepdims=True).log()


def softmax(x: Any, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis`` (or PyTorch's ``dim``), the last by default.

    x : (..., classes) -> (..., classes), each slice along ``axis`` summing to 1
    """
    axis = _axis_or_dim("softmax", axis, dim)
    exps = _stable_shift(as_tensor(x), axis).exp()
    return exps / exps.sum(axis=axis, keepdims=True)


class SoftmaxCrossEntropy(Function):
    """Per-row loss -log softmax(logits)[target] for logits (n, classes), targets (n,)."""

    leaves_grads_unchanged = True  # its backward kernel writes a new array only

    def forward(self, logits, targets):
        self.targets = targets
        losses, self.probs = kernels.softmax_xent_forward(logits, targets)
        return losses

    def backward(self, g):
        # d loss_i / d logits_i = softmax(logits_i) - onehot(target_i); in numpy
        # g[:, None] * (probs - onehot(targets)), here in one compiled loop
        return (kernels.softmax_xent_backward(self.probs, self.targets, g),)


_REDUCTIONS = ("mean", "sum", "none")


def cross_entropy(
    logits: Any,
    targets: Any,
    *,
    reduction: str = "mean",
    mask: Any = None,
    ignore_index: int | None = None,
    class_axis: int | None = None,
) -> Tensor:
    """Softmax cross-entropy with integer class targets.

    Parameters
    ----------
    logits : (batch, classes), or a sequence's scores in either layout: Keras's
        (batch, time, classes), where our layers put them, or PyTorch's (batch, classes, time)
    targets : the logits' shape without the class axis, integers in [0, classes) (or
        ``ignore_index``)
    reduction : "mean" (over the positions that count), "sum" or "none" (targets' shape)
    mask : targets' shape, booleans, optional; positions where it is False count for nothing
    ignore_index : a target value whose positions count for nothing (as in PyTorch)
    class_axis : which axis of the logits holds the classes.  Left out, the targets' shape
        decides: the axis whose removal gives it.  When both layouts fit (classes == time, say)
        that is an error naming both, never a guess; ``class_axis=-1`` (Keras's) or
        ``class_axis=1`` (PyTorch's) settles it.
    """
    logits = as_tensor(logits)
    targets = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"cross_entropy: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    axis = _find_class_axis(logits.shape, targets.shape, class_axis)
    if axis != logits.ndim - 1:
        order = [k for k in range(logits.ndim) if k != axis]
        logits = logits.permute(*order, axis)
    targets = _class_ids(targets)
    counted = _counted_positions(targets, mask, ignore_index)
    classes = logits.shape[-1]
    _check_class_range(targets[counted], classes)
    safe = np.where(counted, targets, 0)  # any valid class where nothing is counted
    rows = SoftmaxCrossEntropy.apply(logits.reshape(-1, classes), targets=safe.reshape(-1))
    losses = rows.reshape(targets.shape)
    if not counted.all():
        losses = losses * counted.astype(logits.dtype)
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    count = int(counted.sum())
    if count == 0:
        raise ValueError("cross_entropy: no position is left to average after masking")
    return losses.sum() / count


def _class_ids(targets: np.ndarray) -> np.ndarray:
    """``targets`` as int64 class ids; floats are accepted only where they hold whole numbers."""
    if targets.dtype.kind not in "iu":
        if targets.size and not np.array_equal(targets, np.round(targets)):
            raise ValueError(f"cross_entropy: targets must be integer class ids, got {targets.dtype}")
    return targets.astype(np.int64)


def _counted_positions(targets: np.ndarray, mask: Any, ignore_index: int | None) -> np.ndarray:
    """Where a target counts (targets' shape): inside ``mask`` and not ``ignore_index``."""
    counted = np.ones(targets.shape, dtype=bool)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != targets.shape or mask.dtype != bool:
            raise ValueError(
                f"cross_entropy: mask must be booleans of the targets' shape {targets.shape}, "
                f"got {mask.dtype} of shape {mask.shape}"
            )
        counted &= mask
    if ignore_index is not None:
        counted &= targets != ignore_index
    return counted


def _check_class_range(counted_targets: np.ndarray, classes: int) -> None:
    """Raise unless every counted target lies in [0, classes)."""
    if counted_targets.size and (counted_targets.min() < 0 or counted_targets.max() >= classes):
        raise ValueError(
            f"cross_entropy: targets must lie in [0, {classes}), got values from "
            f"{counted_targets.min()} to {counted_targets.max()}"
        )


def _find_class_axis(shape: tuple[int, ...], target_shape: tuple[int, ...], class_axis: int | None) -> int:
    """The class axis of logits of ``shape`` for targets of ``target_shape`` (see cross_entropy)."""
    if not shape:
        raise ValueError("cross_entropy: the logits need a class axis, got a 0-d tensor")
    without = {k: shape[:k] + shape[k + 1 :] for k in range(len(shape))}
    if class_axis is not None:
        axis = normalize_axes("cross_entropy", class_axis, len(shape))[0]
        if target_shape != without[axis]:
            raise ValueError(
                f"cross_entropy: with class_axis={class_axis} the targets must have shape "
                f"{without[axis]} (the logits' {shape} without axis {axis}), got {target_shape}"
            )
        return axis
    keras, torch = len(shape) - 1, 1  # the class axis of each layout (the same for 2-D logits)
    fits = [k for k in dict.fromkeys((keras, torch)) if without.get(k) == target_shape]
    if len(fits) == 1:
        return fits[0]
    if fits:
        raise ValueError(
            f"cross_entropy: logits of shape {shape} with targets of shape {target_shape} fit two "
            "layouts: Keras's (batch, ..., classes) and PyTorch's (batch, classes, ...); say which "
            "with class_axis=-1 (Keras's) or class_axis=1 (PyTorch's)"
        )
    expected = f"{without[keras]} for Keras's layout (batch, ..., classes)"
    if len(shape) > 2:
        expected += f" or {without[torch]} for PyTorch's (batch, classes, ...)"
    hint = (
        "; class probabilities as targets are not supported: give class ids" if target_shape == shape else ""
    )
    raise ValueError(
        f"cross_entropy: the targets must have the logits' shape {shape} without the class axis, "
        f"{expected}; got {target_shape}{hint}"
    )


def binary_cross_entropy_with_logits(logits: Any, targets: Any, *, reduction: str = "mean") -> Tensor:
    """-[y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))], stable for logits of any size.

    Written as max(x, 0) - x y + log(1 + exp(-|x|)), where no exponential can overflow.
    logits, targets : the same shape; targets in [0, 1]
    """
    logits, targets = as_tensor(logits), as_tensor(targets, like=logits)
    if logits.shape != targets.shape:
        raise ValueError(
            f"binary_cross_entropy_with_logits: logits have shape {logits.shape} but targets "
            f"have {targets.shape}; they must match"
        )
    if reduction not in _REDUCTIONS:
        raise ValueError(f"binary_cross_entropy_with_logits: reduction must be one of {_REDUCTIONS}")
    magnitude = logits.relu() + (-logits).relu()  # |x|
    losses = logits.relu() - logits * targets + ((-magnitude).exp() + 1).log()
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


def mse_loss(pred: Any, target: Any, *, reduction: str = "mean") -> Tensor:
    """Mean (or sum) of squared differences; pred and target must have the same shape."""
    pred, target = as_tensor(pred), as_tensor(target)
    if pred.shape != target.shape:
        raise ValueError(
            f"mse_loss: pred has shape {pred.shape} but target has {target.shape}; "
            "they must match (no broadcasting)"
        )
    if reduction not in _REDUCTIONS:
        raise ValueError(f"mse_loss: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    squares = (pred - target) ** 2
    if reduction == "none":
        return squares
    return squares.sum() if reduction == "sum" else squares.mean()


def dropout(x: Any, rate: float, training: bool = True) -> Tensor:
    """Zero each element with probability ``rate`` and scale the rest by 1 / (1 - rate), so
    the expected value is unchanged; the identity when not training or when rate is 0."""
    x = as_tensor(x)
    if not 0 <= rate < 1:
        raise ValueError(f"dropout: rate must be in [0, 1), got {rate}")
    if not training or rate == 0:
        return x
    return x * dropout_mask(x.shape, rate, x.dtype)


def dropout_mask(shape: tuple[int, ...], rate: float, dtype: Any = np.float64) -> np.ndarray:
    """A mask of 0 (probability ``rate``) and 1 / (1 - rate), from the project's generator."""
    keep = generator().random(shape) >= rate
    return (keep / (1 - rate)).astype(dtype)
