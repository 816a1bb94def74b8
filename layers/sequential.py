"""Sequential: layers applied in order, with Keras's summary, fit, predict and evaluate."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
from tqdm import tqdm  # a text bar: it works in a terminal and in a notebook alike

from layers import losses
from layers.bidirectional import Bidirectional
from layers.dense import Dense
from layers.dropout import Dropout
from layers.embedding import Embedding
from layers.module import Module, positive_int
from layers.rnn import RNN
from minigrad import Tensor, data, no_grad
from minigrad.optim import SGD, Adagrad, Adam, Optimizer, RMSprop, clip_grad_norm

OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad}


class History(dict):
    """What ``fit`` returns: per-epoch values by name ("loss", "accuracy", "val_loss", ...).

    It is the dict itself, and ``history.history`` is the same dict, as Keras names it.
    """

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


def _input_size(layer: Dense | RNN | Bidirectional) -> int | None:
    """The features per step a layer expects, or None while it does not know."""
    if isinstance(layer, Bidirectional):
        return _input_size(layer.forward_layer)
    return layer.input_size if isinstance(layer, Dense) else getattr(layer.cell, "input_size", None)


class Sequential(Module):
    """A stack of layers.  An Embedding with ``mask_zero=True`` passes its padding mask to
    the recurrent layer after it, as in Keras.

    x : what the first layer takes -> what the last layer gives
    """

    def __init__(self, layers: list[Module]) -> None:
        if not layers or not all(isinstance(layer, Module) for layer in layers):
            raise ValueError("Sequential: expected a non-empty list of layers")
        build_in_order(layers)
        self.layers = list(layers)
        self.loss: losses.Loss | None = None
        self.optimizer: Optimizer | str | None = None
        self.metrics: list[str] | None = None

    def compile(self, optimizer: Optimizer | str = "adam", loss: str | losses.Loss = "cross_entropy",
                metrics: list[str] | None = None) -> None:  # fmt: skip
        """Keras's ``compile``: what ``fit`` and ``evaluate`` use when not told otherwise.

        optimizer : an Optimizer over ``model.parameters()``, or a name ("adam", "sgd",
            "rmsprop", "adagrad") for one with its default settings, made when the model is built
        loss : a name from ``layers.losses.LOSSES`` or a function (pred, y) -> Tensor
        metrics : None or ["accuracy"] (for a classification loss)
        """
        if isinstance(optimizer, str) and optimizer not in OPTIMIZERS:
            raise ValueError(
                f"compile: unknown optimizer {optimizer!r}; expected one of {', '.join(OPTIMIZERS)}"
            )
        if not isinstance(optimizer, str | Optimizer):
            raise ValueError(
                f"compile: optimizer must be an Optimizer or a name, got {type(optimizer).__name__}"
            )
        loss_fn = losses.get(loss, "compile")
        metrics = list(metrics or [])
        unknown = [m for m in metrics if m != "accuracy"]
        if unknown:
            raise ValueError(f"compile: unknown metrics {unknown}; the one metric is 'accuracy'")
        if metrics and not losses.is_classification(loss_fn):
            raise ValueError(
                "compile: 'accuracy' needs a classification loss "
                "(cross_entropy, sparse_categorical_crossentropy)"
            )
        self.optimizer, self.loss, self.metrics = optimizer, loss_fn, metrics

    def forward(self, x: Any) -> Any:
        mask = None
        for layer in self.layers:
            if isinstance(layer, Embedding):
                mask = layer.compute_mask(x)
                x = layer(x)
            elif isinstance(layer, RNN | Bidirectional):
                x = layer(x, mask=mask)
                mask = mask if layer.return_sequences else None
            else:
                x = layer(x)
        return x

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
        text = [f'Model: "{_snake(type(self).__name__)}"', line,
                f" {'Layer (type)':<28}{'Output Shape':<26}Param #", "=" * 65]  # fmt: skip
        for name, shape, count in rows:
            text.append(f" {name:<28}{shape:<26}{count}")
        text += ["=" * 65, f"Total params: {total}", f"Trainable params: {trainable}",
                 f"Non-trainable params: {total - trainable}", line]  # fmt: skip
        out = "\n".join(text)
        print_fn(out)
        return out

    def _built_input_shape(self) -> tuple[int | None, ...]:
        self.parameters()  # a ValueError naming the layers not built yet
        first = self.layers[0]
        if isinstance(first, Embedding):
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
        loss: str | losses.Loss | None = None,
        optimizer: Optimizer | None = None,
        epochs: int = 1,
        batch_size: int = 32,
        validation_data: tuple[Any, Any] | None = None,
        shuffle: bool = True,
        clip_norm: float | None = None,
        verbose: int = 1,
    ) -> History:
        """Train with mini-batches; returns the History: per-epoch "loss" (and "accuracy" for
        a classification loss), and "val_loss" ("val_accuracy") with ``validation_data``.
        ``loss`` and ``optimizer`` default to those given to ``compile`` (the loss to
        "cross_entropy" without one).

        A non-finite loss stops training with FloatingPointError naming the epoch and step,
        after putting back the weights that gave the last finite loss: those from before the
        last update, which may be the update that broke them (the optimizer's own running
        state is not rolled back).  Before the first finite loss the weights are untouched.
        """
        x, y = np.asarray(x), np.asarray(y)
        if len(x) != len(y):
            raise ValueError(f"fit: x has {len(x)} samples but y has {len(y)}")
        if len(x) == 0:
            raise ValueError("fit: got no samples")
        optimizer = optimizer if optimizer is not None else self.optimizer
        if optimizer is None:
            raise ValueError(
                "fit: give an optimizer, e.g. minigrad.optim.Adam(model.parameters()), or compile first"
            )
        positive_int("fit", "epochs", epochs)
        positive_int("fit", "batch_size", batch_size)
        loss_fn = (
            losses.get(loss, "fit") if loss is not None else self.loss or losses.get("cross_entropy", "fit")
        )
        if isinstance(optimizer, str):  # named in compile: made now, over the built model
            if not self.built_all():
                with no_grad():
                    self(x[:1])
            optimizer = self.optimizer = OPTIMIZERS[optimizer](self.parameters())
        self.loss = loss_fn
        params = self.parameters()
        last_finite = [np.empty_like(p.data) for p in params]  # the weights of the last finite loss
        updated = False
        history = History()
        for epoch in range(1, epochs + 1):
            self.train()
            total, seen, correct, predicted = 0.0, 0, 0, 0
            steps = -(-len(x) // batch_size)
            bar = tqdm(total=steps, desc=f"epoch {epoch}/{epochs}", disable=verbose == 0, leave=True)
            for step, (xb, yb) in enumerate(data.batches(x, y, batch_size=batch_size, shuffle=shuffle), 1):
                pred = self(xb)
                value = self.loss(pred, yb)
                if not np.isfinite(value.item()):
                    if updated:
                        for p, saved in zip(params, last_finite, strict=True):
                            np.copyto(p.data, saved)
                            p.mark_modified()
                    bar.close()
                    raise FloatingPointError(
                        f"fit: the loss became {value.item()} at epoch {epoch}, step {step}; the "
                        "weights are those of the last finite loss (try a smaller learning rate "
                        "or clip_norm)"
                    )
                optimizer.zero_grad()
                value.backward()
                if clip_norm is not None:
                    clip_grad_norm(params, clip_norm)
                for p, saved in zip(params, last_finite, strict=True):
                    np.copyto(saved, p.data)  # these weights gave a finite loss
                optimizer.step()
                updated = True
                total += value.item() * len(xb)
                seen += len(xb)
                hits, count = self._hits(pred, yb)
                correct, predicted = correct + hits, predicted + count
                bar.update(1)
                bar.set_postfix(loss=f"{total / seen:.4f}")
            bar.close()
            self._record(history, "", total / seen, correct / max(predicted, 1))
            if validation_data is not None:
                val = self.evaluate(*validation_data)
                self._record(history, "val_", val["loss"], val.get("accuracy"))
        return history

    def built_all(self) -> bool:
        """Whether every layer has its weights."""
        return not list(self.unbuilt_layers())

    def _is_classifier(self) -> bool:
        return losses.is_classification(self.loss) and self.metrics != []

    def _hits(self, pred: Tensor, y: Any) -> tuple[int, int]:
        """Right predictions and predictions made: one per label, so a model that classifies
        every time step (return_sequences=True) makes batch * time of them."""
        if not self._is_classifier():
            return 0, 0
        labels = np.asarray(y)
        return int(np.sum(pred.data.argmax(axis=-1) == labels)), labels.size

    def _record(self, history: dict, prefix: str, loss: float, accuracy: float | None) -> None:
        history.setdefault(prefix + "loss", []).append(loss)
        if self._is_classifier() and accuracy is not None:
            history.setdefault(prefix + "accuracy", []).append(accuracy)

    def predict(self, x: Any, batch_size: int = 32) -> np.ndarray:
        """Outputs for ``x`` in evaluation mode, batch by batch, as one numpy array."""
        x = np.asarray(x)
        if len(x) == 0:
            raise ValueError("predict: got no samples")
        was_training = self.training
        self.eval()
        with no_grad():
            outs = [self(xb).data for (xb,) in data.batches(x, batch_size=batch_size, shuffle=False)]
        self.train(was_training)
        return np.concatenate(outs)

    def evaluate(
        self, x: Any, y: Any, loss: str | losses.Loss | None = None, batch_size: int = 32
    ) -> dict[str, float]:
        """The loss (and accuracy for cross-entropy) over (x, y) in evaluation mode."""
        x, y = np.asarray(x), np.asarray(y)
        if len(x) != len(y):
            raise ValueError(f"evaluate: x has {len(x)} samples but y has {len(y)}")
        if loss is not None:
            self.loss = losses.get(loss, "evaluate")
        if self.loss is None:
            raise ValueError("evaluate: give a loss (or call fit first)")
        pred = Tensor(self.predict(x, batch_size))
        with no_grad():
            result = {"loss": float(self.loss(pred, y).item())}
        if self._is_classifier():
            hits, count = self._hits(pred, y)
            result["accuracy"] = hits / count
        return result
