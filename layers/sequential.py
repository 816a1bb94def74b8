"""Sequential: layers applied in order, with Keras's summary, fit, predict and evaluate."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm  # a text bar: it works in a terminal and in a notebook alike

from layers import losses, optimizers
from layers.activations import ACTIVATIONS
from layers.bidirectional import Bidirectional
from layers.dense import Dense
from layers.dropout import Dropout
from layers.embedded_recurrent import EmbeddedRecurrent
from layers.embedding import Embedding
from layers.module import Module, positive_int
from layers.rnn import RNN
from minigrad import Tensor, data, no_grad
from minigrad.optim import Optimizer, clip_grad_norm

METRICS = ("accuracy",)


class History(dict):
    """What ``fit`` returns: per-epoch values by name ("loss", "accuracy", "val_loss", ...).

    It is the dict itself, and ``history.history`` is the same dict, as Keras names it;
    ``history.epoch`` lists the epochs run, from 0, as in Keras.
    """

    def __init__(self) -> None:
        super().__init__()
        self.epoch: list[int] = []

    @property
    def history(self) -> dict[str, list[float]]:
        return self


def _shape_text(shape: tuple[int, ...], time_unknown: bool) -> str:
    """Keras's way of showing a shape: the batch as None, and the time too when unknown."""
    dims = ["None"] + [str(d) for d in shape[1:]]
    if time_unknown and len(shape) >= 3:
        dims[1] = "None"
    return f"({', '.join(dims)})" if len(dims) > 1 else f"({dims[0]},)"


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def build_in_order(layers: list[Module]) -> None:
    """Build every layer whose input size follows from the layers before it, as Keras does
    when the first layer knows its input: an Embedding gives its dim, a Dense or recurrent
    layer its units, Dropout what it gets.  Sizes that do not chain are a ValueError, and
    nothing is built then."""
    plan, features = [], None
    for i, layer in enumerate(layers):
        if isinstance(layer, Embedding):
            features = layer.dim
        elif isinstance(layer, EmbeddedRecurrent):  # it builds its recurrent layer at its call
            features = layer.recurrent.output_size
        elif isinstance(layer, Dense | RNN | Bidirectional):
            expected = _input_size(layer)
            if expected is not None and features is not None and expected != features:
                raise ValueError(
                    f"Sequential: layer {i} ({type(layer).__name__}) takes {expected} features, but the "
                    f"layer before it gives {features}"
                )
            if expected is None and features is not None:
                plan.append((layer, features))
            size = layer.units if isinstance(layer, Dense) else layer.output_size
            features = size if expected is not None or features is not None else None  # None: unknown
        elif not isinstance(layer, Dropout):
            features = None  # a layer of another kind: its output size is not known here
    for layer, size in plan:
        layer.build(size)


def carries_mask(layer: Module, before: bool) -> bool:
    """Whether ``layer``'s output carries the padding mask, as Keras's ``compute_mask`` says:
    an Embedding with ``mask_zero`` makes it, a recurrent layer keeps it with
    ``return_sequences`` (an EmbeddedRecurrent makes it and keeps it so), Dense and Dropout
    pass it on, and any other layer drops it."""
    if isinstance(layer, Embedding):
        return layer.mask_zero
    if isinstance(layer, EmbeddedRecurrent):
        return layer.embedding.mask_zero and layer.recurrent.return_sequences
    if isinstance(layer, RNN | Bidirectional):
        return before and layer.return_sequences
    return before and isinstance(layer, Dense | Dropout)


def _input_size(layer: Dense | RNN | Bidirectional) -> int | None:
    """The features per step a layer expects, or None while it does not know."""
    if isinstance(layer, Bidirectional):
        return _input_size(layer.forward_layer)
    return layer.input_size if isinstance(layer, Dense) else getattr(layer.cell, "input_size", None)


class Sequential(Module):
    """A stack of layers.  An Embedding with ``mask_zero=True`` passes its padding mask on,
    as in Keras: to the recurrent layers after it, and to ``fit`` and ``evaluate``, which
    leave the padded steps out of the loss and the accuracy.

    x : what the first layer takes -> what the last layer gives
    """

    def __init__(self, layers: list[Module]) -> None:
        if not layers or not all(isinstance(layer, Module) for layer in layers):
            raise ValueError("Sequential: expected a non-empty list of layers")
        build_in_order(layers)
        self.layers = list(layers)
        self.loss: losses.LossFunction | None = None
        self.optimizer: Optimizer | None = None
        self.metrics: list[str] | None = None

    def compile(
        self,
        optimizer: Optimizer | str = "rmsprop",
        loss: str | losses.LossFunction = "cross_entropy",
        metrics: list[str] | None = None,
    ) -> None:
        """Keras's ``compile``: what ``fit`` and ``evaluate`` use when not told otherwise.

        optimizer : a name ("rmsprop", Keras's default, "adam", "sgd", "adagrad", or the
            class names), for Keras's optimizer with Keras's defaults and update rule (see
            ``layers.optimizers``); a ``layers.optimizers`` object; or a
            ``minigrad.optim`` optimizer (PyTorch's rules) over ``model.parameters()``
        loss : a name from ``layers.losses.LOSSES`` or a function (pred, y) -> Tensor
        metrics : None or ["accuracy"] (for a classification loss)
        """
        optimizer = optimizers.get(optimizer, "compile")
        loss_fn = self._loss_for(loss, "compile")
        if metrics is not None and not isinstance(metrics, list | tuple):
            raise ValueError(f"compile: metrics must be a list, e.g. ['accuracy'], got {metrics!r}")
        metrics = list(metrics or [])
        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            raise ValueError(f"compile: unknown metrics {unknown}; the one metric is 'accuracy'")
        if metrics and not losses.is_classification(loss_fn):
            raise ValueError(
                "compile: 'accuracy' needs a classification loss "
                "(cross_entropy, sparse_categorical_crossentropy)"
            )
        self.optimizer, self.loss, self.metrics = optimizer, loss_fn, metrics

    def forward(self, x: Any) -> Any:
        return self.forward_with_mask(x)[0]

    def forward_with_mask(self, x: Any) -> tuple[Any, np.ndarray | None]:
        """The output and its padding mask (None when it carries none): True at the real
        steps, as Keras's ``compute_mask`` gives it."""
        mask = None
        for layer in self.layers:
            if isinstance(layer, Embedding | EmbeddedRecurrent):
                mask = layer.compute_mask(x)
                x = layer(x)
            elif isinstance(layer, RNN | Bidirectional):
                x = layer(x, mask=mask)
            else:
                x = layer(x)
            mask = mask if carries_mask(layer, mask is not None) else None
        return x, mask

    def output_masked(self) -> bool:
        """Whether the output carries a padding mask (known before any call)."""
        masked = False
        for layer in self.layers:
            masked = carries_mask(layer, masked)
        return masked

    # --- summary ---
    def summary(
        self, input_shape: tuple[int | None, ...] | None = None, print_fn: Callable[[str], Any] = print
    ) -> str:
        """Keras's table of layers, output shapes and parameter counts.

        input_shape : one sample's shape, e.g. (None, 2) for sequences of any length with
        2 features.  The layers are built by a forward pass on zeros if they are not yet.
        Without it the model must be built; its first layer's input size is used, and the
        length of a sequence is unknown (None), as in Keras.
        """
        if input_shape is None:
            input_shape = self._built_input_shape()
        time_unknown = len(input_shape) > 0 and input_shape[0] is None
        first = self.layers[0]
        dtype = np.int64 if isinstance(first, Embedding) else getattr(first, "dtype", np.float64)
        x: Any = np.zeros((1, *[2 if d is None else d for d in input_shape]), dtype=dtype)
        rows = []
        with no_grad():
            for layer in self.layers:
                x = layer(x)
                outs = x if isinstance(x, list) else [x]
                shown = ", ".join(_shape_text(o.shape, time_unknown) for o in outs)
                name = type(layer).__name__
                rows.append((f"{_snake(name)} ({name})", shown, layer.count_params()))
                x = outs[0]
        line, total = "_" * 65, sum(r[2] for r in rows)
        trainable = self.count_params(trainable=True)
        text = [
            f'Model: "{_snake(type(self).__name__)}"',
            line,
            f" {'Layer (type)':<28}{'Output Shape':<26}Param #",
            "=" * 65,
        ]
        for name, shape, count in rows:
            text.append(f" {name:<28}{shape:<26}{count}")
        text += [
            "=" * 65,
            f"Total params: {total}",
            f"Trainable params: {trainable}",
            f"Non-trainable params: {total - trainable}",
            line,
        ]
        out = "\n".join(text)
        print_fn(out)
        return out

    def _built_input_shape(self) -> tuple[int | None, ...]:
        self.parameters()  # a ValueError naming the layers not built yet
        first = self.layers[0]
        if isinstance(first, Embedding | EmbeddedRecurrent):
            return (None,)
        if isinstance(first, RNN | Bidirectional):
            return (None, _input_size(first))
        if isinstance(first, Dense):
            return (first.input_size,)
        raise ValueError(
            f"Sequential.summary: give input_shape; a {type(first).__name__} does not say its own"
        )

    # --- training ---
    def fit(
        self,
        x: Any,
        y: Any,
        *,
        loss: str | losses.LossFunction | None = None,
        optimizer: Optimizer | str | None = None,
        epochs: int = 1,
        batch_size: int | None = 32,
        validation_split: float = 0.0,
        validation_data: tuple[Any, Any] | None = None,
        shuffle: bool = True,
        clip_norm: float | None = None,
        verbose: int = 1,
    ) -> History:
        """Train with mini-batches; returns the History: per-epoch "loss" (and "accuracy" for
        a classification loss), and "val_loss" ("val_accuracy") with ``validation_data``, or
        with ``validation_split``, the fraction of the samples kept out from the end of x and y
        (before shuffling), as in Keras.  ``loss`` and ``optimizer`` default to those given to
        ``compile`` (the loss to "cross_entropy" without one); a ``loss`` given here becomes
        the model's once fit succeeds.  Only the trainable weights move (see
        ``Module.trainable``).  With a padding mask on the output, the padded steps count for
        nothing in the loss and the accuracy.

        A non-finite loss stops training with FloatingPointError naming the epoch and step,
        after putting back the weights that gave the last finite loss: those from before the
        last update, which may be the update that broke them (the optimizer's own running
        state is not rolled back).  Before the first finite loss the weights are untouched.
        """
        x, y = _samples(x, y, "fit")
        loss_fn = self._loss_for(loss, "fit")
        optimizer = self._optimizer_for_fit(optimizer)
        positive_int("fit", "epochs", epochs)
        batch_size = positive_int("fit", "batch_size", 32 if batch_size is None else batch_size)
        x, y, validation = _validation_for_fit(x, y, validation_data, validation_split)
        if isinstance(optimizer, optimizers.KerasOptimizer):
            self._build_keras_optimizer(optimizer, x)
        history = History()
        run = _Run(loss_fn, optimizer, batch_size, shuffle, clip_norm, verbose, epochs, self.parameters())
        for epoch in range(epochs):
            self._fit_epoch(x, y, run, epoch, history)
            if validation is not None:
                for name, value in self._evaluate_all(*validation, loss_fn, batch_size).items():
                    history.setdefault("val_" + name, []).append(value)
            history.epoch.append(epoch)
        self.loss = loss_fn
        return history

    def _optimizer_for_fit(self, optimizer: Optimizer | str | None) -> Optimizer:
        """The optimizer given to fit, else the compiled one."""
        optimizer = optimizers.get(optimizer, "fit") if optimizer is not None else self.optimizer
        if optimizer is None:
            raise ValueError(
                "fit: give an optimizer, e.g. minigrad.optim.Adam(model.parameters()), or compile first"
            )
        return optimizer

    def _build_keras_optimizer(self, optimizer: optimizers.KerasOptimizer, x: np.ndarray) -> None:
        """A Keras optimizer holds the trainable weights, known once the model is built."""
        self._build_for(x)
        trainable = self.trainable_weights
        if not trainable:
            raise ValueError("fit: the model has no trainable weights (every layer is trainable=False)")
        optimizer.build(trainable)

    def _loss_for(self, loss: str | losses.LossFunction | None, owner: str) -> losses.LossFunction:
        """The loss to use: the one given, the compiled one, or cross_entropy; a ValueError
        when the output carries a padding mask that the loss cannot leave out."""
        loss_fn = losses.get(loss, owner) if loss is not None else self.loss or losses.LOSSES["cross_entropy"]
        if self.output_masked() and not losses.takes_mask(loss_fn):
            raise ValueError(
                f"{owner}: the output carries a padding mask (Embedding(mask_zero=True)), but the loss "
                f"{getattr(loss_fn, '__name__', type(loss_fn).__name__)} takes no mask argument, so the "
                "padded steps would count; use a named loss or one with a mask argument"
            )
        last = self.layers[-1]
        squashed = [n for n in ("softmax", "sigmoid") if getattr(last, "activation", None) is ACTIVATIONS[n]]
        if squashed and losses.takes_logits(loss_fn):
            raise ValueError(
                f"{owner}: the loss takes logits, but the last layer's {squashed[0]} makes probabilities; "
                "use a Keras name ('sparse_categorical_crossentropy', 'binary_crossentropy'), which "
                "takes probabilities, or leave the activation out"
            )
        return loss_fn

    def _build_for(self, x: np.ndarray) -> None:
        if not self.built_all():
            with no_grad():
                self(x[:1])

    def _fit_epoch(self, x: np.ndarray, y: np.ndarray, run: _Run, epoch: int, history: History) -> None:
        """One pass over (x, y), recording the epoch's mean loss (and accuracy) in history."""
        self.train()
        totals = _Totals()
        steps = -(-len(x) // run.batch_size)
        bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{run.epochs}", disable=run.verbose == 0, leave=True)
        batches = data.batches(x, y, batch_size=run.batch_size, shuffle=run.shuffle)
        for step, (xb, yb) in enumerate(batches, 1):
            pred, mask = self.forward_with_mask(xb)
            value = _loss_value(run.loss_fn, pred, yb, mask)
            if not np.isfinite(value.item()):
                bar.close()
                run.put_back_last_finite()
                raise FloatingPointError(
                    f"fit: the loss became {value.item()} at epoch {epoch + 1}, step {step}; the "
                    "weights are those of the last finite loss (try a smaller learning rate "
                    "or clip_norm)"
                )
            run.optimizer.zero_grad()
            value.backward()
            if run.clip_norm is not None:
                clip_grad_norm(run.params, run.clip_norm)
            run.last_finite = [p.data.copy() for p in run.params]  # these weights gave a finite loss
            run.optimizer.step()
            totals.add(value.item(), len(xb), *self._hits(run.loss_fn, pred, yb, mask))
            bar.update(1)
            bar.set_postfix(loss=f"{totals.loss:.4f}")
        bar.close()
        for name, value in totals.result(self._reports_accuracy(run.loss_fn)).items():
            history.setdefault(name, []).append(value)

    def built_all(self) -> bool:
        """Whether every layer has its weights."""
        return not list(self.unbuilt_layers())

    def _reports_accuracy(self, loss_fn: losses.LossFunction) -> bool:
        """Accuracy goes with a classification loss, unless compile was given no metrics."""
        return losses.is_classification(loss_fn) and self.metrics != []

    def _hits(self, loss_fn, pred: Tensor, y: Any, mask: np.ndarray | None) -> tuple[int, int]:
        """Right predictions and predictions made: one per label (a model that classifies
        every time step makes batch * time of them), padded steps left out."""
        if not self._reports_accuracy(loss_fn):
            return 0, 0
        labels = losses.sparse_labels(pred, y)
        right = pred.data.argmax(axis=-1) == labels
        if mask is None:
            return int(np.sum(right)), labels.size
        return int(np.sum(right & mask)), int(np.sum(mask))

    def predict(self, x: Any, batch_size: int | None = 32) -> np.ndarray:
        """Outputs for ``x`` in evaluation mode, batch by batch, as one numpy array."""
        x = np.asarray(x)
        if len(x) == 0:
            raise ValueError("predict: got no samples")
        batch_size = positive_int("predict", "batch_size", 32 if batch_size is None else batch_size)
        was_training = self.training
        try:
            self.eval()
            with no_grad():
                outs = [self(xb).data for (xb,) in data.batches(x, batch_size=batch_size, shuffle=False)]
        finally:
            self.train(was_training)
        return np.concatenate(outs)

    def evaluate(
        self,
        x: Any,
        y: Any,
        *,
        loss: str | losses.LossFunction | None = None,
        batch_size: int | None = 32,
        return_dict: bool = False,
    ) -> float | list[float] | dict[str, float]:
        """The loss (and accuracy, as ``fit`` reports it) over (x, y) in evaluation mode, as
        Keras returns them: the loss alone, or [loss, accuracy]; by name with
        ``return_dict=True``.  The loss is the mean of the batches' losses weighted by their
        sizes, Keras's way; padded steps count for nothing.  A ``loss`` given here becomes
        the model's once evaluate succeeds."""
        x, y = _samples(x, y, "evaluate")
        if loss is None and self.loss is None:
            raise ValueError("evaluate: give a loss (or compile or fit first)")
        loss_fn = self._loss_for(loss, "evaluate")
        batch_size = positive_int("evaluate", "batch_size", 32 if batch_size is None else batch_size)
        result = self._evaluate_all(x, y, loss_fn, batch_size)
        self.loss = loss_fn
        if return_dict:
            return result
        values = list(result.values())
        return values[0] if len(values) == 1 else values

    def _evaluate_all(
        self, x: Any, y: Any, loss_fn: losses.LossFunction, batch_size: int
    ) -> dict[str, float]:
        was_training = self.training
        totals = _Totals()
        try:
            self.eval()
            with no_grad():
                for xb, yb in data.batches(x, y, batch_size=batch_size, shuffle=False):
                    pred, mask = self.forward_with_mask(xb)
                    value = _loss_value(loss_fn, pred, yb, mask).item()
                    totals.add(value, len(xb), *self._hits(loss_fn, pred, yb, mask))
        finally:
            self.train(was_training)
        return totals.result(self._reports_accuracy(loss_fn))


@dataclass
class _Run:
    """What one call of fit trains with, and the weights of its last finite loss."""

    loss_fn: losses.LossFunction
    optimizer: Optimizer
    batch_size: int
    shuffle: bool
    clip_norm: float | None
    verbose: int
    epochs: int
    params: list[Tensor]
    last_finite: list[np.ndarray] | None = None

    def put_back_last_finite(self) -> None:
        """The weights that gave the last finite loss, back in place (none before the first)."""
        if self.last_finite is not None:
            for p, before in zip(self.params, self.last_finite, strict=True):
                np.copyto(p.data, before)
                p.mark_modified()


class _Totals:
    """Running sums over batches: the loss weighted by batch size (Keras's loss tracker), and
    right and made predictions (Keras's accuracy over every counted label)."""

    def __init__(self) -> None:
        self.weighted_loss, self.samples, self.right, self.made = 0.0, 0, 0, 0

    def add(self, loss: float, samples: int, right: int, made: int) -> None:
        self.weighted_loss += loss * samples
        self.samples += samples
        self.right, self.made = self.right + right, self.made + made

    @property
    def loss(self) -> float:
        return self.weighted_loss / self.samples

    def result(self, with_accuracy: bool) -> dict[str, float]:
        out = {"loss": self.loss}
        if with_accuracy:
            out["accuracy"] = self.right / self.made if self.made else 0.0
        return out


def _loss_value(loss_fn: losses.LossFunction, pred: Any, y: Any, mask: np.ndarray | None) -> Tensor:
    return loss_fn(pred, y) if mask is None else loss_fn(pred, y, mask=mask)


def _samples(x: Any, y: Any, owner: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError(f"{owner}: x and y must be arrays of samples, got shapes {x.shape} and {y.shape}")
    if len(x) != len(y):
        raise ValueError(f"{owner}: x has {len(x)} samples but y has {len(y)}")
    if len(x) == 0:
        raise ValueError(f"{owner}: got no samples")
    return x, y


def _validation_pair(validation_data: Any) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
        raise ValueError(
            "fit: validation_data must be a pair (x_val, y_val) (sample weights are not supported), "
            f"got {type(validation_data).__name__}"
            + (f" of {len(validation_data)} items" if isinstance(validation_data, tuple | list) else "")
        )
    return _samples(*validation_data, "fit: validation_data")


def _validation_for_fit(
    x: np.ndarray, y: np.ndarray, validation_data: Any, validation_split: float
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """(x, y) to train on and the validation pair, or None without validation."""
    if validation_data is not None:
        return x, y, _validation_pair(validation_data)
    if validation_split:
        return _split_off(x, y, validation_split)
    return x, y, None


def _split_off(x: np.ndarray, y: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Keras's validation_split: the last ``fraction`` of the samples, before any shuffling."""
    if isinstance(fraction, bool) or not 0 <= fraction < 1:
        raise ValueError(f"fit: validation_split must be a fraction in [0, 1), got {fraction!r}")
    split_at = int(np.floor(len(x) * (1 - fraction)))
    if split_at == 0 or split_at == len(x):
        raise ValueError(
            f"fit: validation_split={fraction} of {len(x)} samples leaves {split_at} to train on and "
            f"{len(x) - split_at} to validate; both need at least one"
        )
    return x[:split_at], y[:split_at], (x[split_at:], y[split_at:])
