"""Keras's optimizers: Keras's names, defaults and update rules, for ``Sequential.compile``.

``compile(optimizer="rmsprop")`` means what it means in Keras, not in PyTorch: the learning
rate 1e-3, and epsilon inside the square root.  As in Keras, an optimizer is made without
weights (``RMSprop(learning_rate=0.01)``) and ``fit`` gives it the model's trainable weights.
minigrad's own ``minigrad.optim`` keeps PyTorch's names, defaults and rules.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from minigrad.optim import Optimizer, check_setting, checked_params
from minigrad.tensor import Tensor


class KerasOptimizer(Optimizer):
    """Base class: the settings now, the weights later through ``build``; the step count
    (Keras's ``iterations``) is shared by every weight."""

    def __init__(self, learning_rate: float) -> None:
        check_setting(type(self).__name__, "lr", learning_rate)
        self.lr = learning_rate
        self.params: list[Tensor] = []
        self.state: list[dict[str, np.ndarray]] = []
        self.steps = 0

    @property
    def learning_rate(self) -> float:
        return self.lr

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        check_setting(type(self).__name__, "lr", value)
        self.lr = value

    @property
    def iterations(self) -> int:
        """The number of steps taken (Keras's name)."""
        return self.steps

    def build(self, params: Iterable[Tensor]) -> None:
        """Hold ``params`` too: those not held yet join with fresh running arrays, those
        already held keep theirs."""
        held = {id(p) for p in self.params}
        new = [p for p in checked_params(type(self).__name__, params) if id(p) not in held]
        self.params += new
        self.state += [self.initial_state(p) for p in new]

    def step(self) -> None:
        if not self.params:
            raise ValueError(
                f"{type(self).__name__}.step: no weights yet; give it to Sequential.compile, or "
                "call build(weights) first"
            )
        super().step()


class SGD(KerasOptimizer):
    """m = momentum m - lr g;  p += m (Nesterov: p += momentum m - lr g); p -= lr g without
    momentum."""

    hyper = ("lr", "momentum")
    slots = ("momentum_buffer",)

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(learning_rate)
        check_setting("SGD", "momentum", momentum)
        self.momentum, self.nesterov = momentum, bool(nesterov)

    def update(self, param, grad, state):
        if self.momentum == 0:
            param -= self.lr * grad
            return
        m = state["momentum_buffer"]
        m *= self.momentum
        m -= self.lr * grad
        param += self.momentum * m - self.lr * grad if self.nesterov else m


class Adam(KerasOptimizer):
    """m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    p -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + epsilon): Keras's epsilon is added to
    sqrt(v), not to PyTorch's bias-corrected sqrt(v_hat)."""

    hyper = ("lr", "beta_1", "beta_2", "epsilon")
    slots = ("m", "v")

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7) -> None:  # fmt: skip
        super().__init__(learning_rate)
        for name, value in (("beta_1", beta_1), ("beta_2", beta_2), ("epsilon", epsilon)):
            check_setting("Adam", name, value)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def update(self, param, grad, state):
        m, v = state["m"], state["v"]
        m *= self.beta_1
        m += (1 - self.beta_1) * grad
        v *= self.beta_2
        v += (1 - self.beta_2) * grad * grad
        alpha = self.lr * np.sqrt(1 - self.beta_2**self.steps) / (1 - self.beta_1**self.steps)
        param -= m * alpha / (np.sqrt(v) + self.epsilon)


class RMSprop(KerasOptimizer):
    """s = rho s + (1 - rho) g^2;  step = lr g / sqrt(s + epsilon) (epsilon inside the root);
    centered: s - a^2 in place of s, with a = rho a + (1 - rho) g;  with momentum:
    b = momentum b + step and p -= b, else p -= step."""

    hyper = ("lr", "rho", "momentum", "epsilon")
    slots = ("velocity", "momentum_buffer", "average_gradient")

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False) -> None:  # fmt: skip
        super().__init__(learning_rate)
        for name, value in (("rho", rho), ("momentum", momentum), ("epsilon", epsilon)):
            check_setting("RMSprop", name, value)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, bool(centered)

    def update(self, param, grad, state):
        velocity = state["velocity"]
        velocity *= self.rho
        velocity += (1 - self.rho) * grad * grad
        denominator = velocity + self.epsilon
        if self.centered:
            average = state["average_gradient"]
            average *= self.rho
            average += (1 - self.rho) * grad
            denominator -= average * average
        increment = self.lr * grad / np.sqrt(denominator)
        if self.momentum > 0:
            buffer = state["momentum_buffer"]
            buffer *= self.momentum
            buffer += increment
            increment = buffer
        param -= increment


class Adagrad(KerasOptimizer):
    """s += g^2 (s starting at initial_accumulator_value);  p -= lr g / sqrt(s + epsilon)."""

    hyper = ("lr", "epsilon")
    slots = ("accumulator",)

    def __init__(self, learning_rate: float = 0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7) -> None:  # fmt: skip
        super().__init__(learning_rate)
        check_setting("Adagrad", "epsilon", epsilon)
        if not 0 <= initial_accumulator_value < np.inf:
            raise ValueError(
                f"Adagrad: initial_accumulator_value must be a finite number >= 0, got "
                f"{initial_accumulator_value}"
            )
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def initial_state(self, param: Tensor) -> dict[str, np.ndarray]:
        return {"accumulator": np.full_like(param.data, self.initial_accumulator_value)}

    def update(self, param, grad, state):
        accumulator = state["accumulator"]
        accumulator += grad * grad
        param -= self.lr * grad / np.sqrt(accumulator + self.epsilon)


# the names Keras's compile takes: lower case, and the class names
OPTIMIZERS: dict[str, type[KerasOptimizer]] = {
    **{cls.__name__.lower(): cls for cls in (SGD, Adam, RMSprop, Adagrad)},
    **{cls.__name__: cls for cls in (SGD, Adam, RMSprop, Adagrad)},
}


def get(optimizer: str | Optimizer, owner: str) -> Optimizer:
    """A new Keras optimizer with Keras's defaults for a name, or the optimizer given."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str) and optimizer in OPTIMIZERS:
        return OPTIMIZERS[optimizer]()
    if isinstance(optimizer, str):
        raise ValueError(
            f"{owner}: unknown optimizer {optimizer!r}; expected one of "
            f"{', '.join(name for name in OPTIMIZERS if name.islower())}"
        )
    raise ValueError(f"{owner}: optimizer must be an optimizer or its name, got {type(optimizer).__name__}")
