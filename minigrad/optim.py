"""Optimizers and gradient clipping, with PyTorch's names, defaults and update rules (Keras's,
which ``Sequential.compile`` takes by name, are in ``layers.optimizers``).  Every update
happens in place on ``param.data``.

Each optimizer keeps, per parameter, the running quantities its rule needs (``state``), and
``state_dict()`` gives them as a flat dict of numpy arrays, so that ``mg.save`` can write an
optimizer next to its model and training can resume exactly where it stopped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np

from minigrad.serialize import entry_problems
from minigrad.tensor import Tensor

# every optimizer setting: what to call it, its valid range, and that range in words;
# checked by the constructors and again when a saved state is loaded
SETTING_RANGES: dict[str, tuple[str, Any, str]] = {
    "lr": ("the learning rate", lambda v: 0 < v < np.inf, "a positive finite number"),
    "momentum": ("momentum", lambda v: 0 <= v < 1, "in [0, 1)"),
    "beta1": ("beta1", lambda v: 0 <= v < 1, "in [0, 1)"),
    "beta2": ("beta2", lambda v: 0 <= v < 1, "in [0, 1)"),
    "alpha": ("alpha", lambda v: 0 <= v < 1, "in [0, 1)"),
    "rho": ("rho", lambda v: 0 <= v < 1, "in [0, 1)"),
    # Keras's names for the same settings
    "beta_1": ("beta_1", lambda v: 0 <= v < 1, "in [0, 1)"),
    "beta_2": ("beta_2", lambda v: 0 <= v < 1, "in [0, 1)"),
    "epsilon": ("epsilon", lambda v: 0 <= v < np.inf, "a finite number >= 0"),
    # eps keeps a division away from zero
    "eps": ("eps", lambda v: 0 <= v < np.inf, "a finite number >= 0"),
}


def setting_problem(name: str, value: float) -> str | None:
    """What is wrong with ``value`` for the setting ``name``, or None when it is in range."""
    label, holds, words = SETTING_RANGES[name]
    return None if holds(value) else f"{label} must be {words}, got {value}"


def check_setting(owner: str, name: str, value: float) -> None:
    """A ValueError naming ``owner`` when ``value`` is out of the setting's range."""
    problem = setting_problem(name, value)
    if problem is not None:
        raise ValueError(f"{owner}: {problem}")


def checked_params(owner: str, params: Iterable[Tensor]) -> list[Tensor]:
    """``params`` as a list, or a ValueError naming ``owner`` when it is empty, holds a Tensor
    that is not a leaf, or holds one twice (it would be updated twice per step)."""
    params = list(params)
    if not params:
        raise ValueError(f"{owner}: got no parameters to optimize")
    for i, p in enumerate(params):
        if not isinstance(p, Tensor) or not p.is_leaf:
            raise ValueError(
                f"{owner}: parameter {i} is not a leaf Tensor (one made by an op cannot be optimized)"
            )
    if len({id(p) for p in params}) != len(params):
        raise ValueError(f"{owner}: a parameter appears more than once; it would be updated twice per step")
    return params


class Optimizer:
    """Base class: holds the parameters, the hyper-parameters and the per-parameter state."""

    hyper: ClassVar[tuple[str, ...]] = ("lr",)
    slots: ClassVar[tuple[str, ...]] = ()  # names of the per-parameter running arrays

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        self.params = checked_params(type(self).__name__, params)
        check_setting(type(self).__name__, "lr", lr)
        self.lr = lr
        self.steps = 0
        self.state = [self.initial_state(p) for p in self.params]

    def initial_state(self, param: Tensor) -> dict[str, np.ndarray]:
        """The running arrays of a parameter before its first step: zeros, one per slot."""
        return {slot: np.zeros_like(param.data) for slot in self.slots}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: drop them (PyTorch's default), or with ``set_to_none=False``
        fill them with zeros."""
        for p in self.params:
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = np.zeros_like(p.grad)

    def step(self) -> None:
        """Update every parameter that has a gradient.

        Every gradient is checked against its parameter's shape before any update, so a
        mis-shaped one changes nothing; with no gradient at all, nothing happens (as in
        PyTorch) and the step count stays.
        """
        name = type(self).__name__
        for i, p in enumerate(self.params):
            if p.grad is not None and np.shape(p.grad) != p.shape:
                raise ValueError(
                    f"{name}.step: the gradient of parameter {i} has shape {np.shape(p.grad)}, "
                    f"expected {p.shape}; no parameter was updated"
                )
        if all(p.grad is None for p in self.params):
            return
        self.steps += 1
        for p, state in zip(self.params, self.state, strict=True):
            if p.grad is not None:
                self.update(p.data, p.grad, state)
                p.mark_modified()

    def update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        out = {name: np.asarray(getattr(self, name)) for name in (*self.hyper, "steps")}
        for i, state in enumerate(self.state):
            out.update({f"{slot}.{i}": array.copy() for slot, array in state.items()})
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what ``state_dict`` gave; wrong names or shapes, or settings out of their
        range (a ``beta1`` of 1, a negative ``eps``), change nothing."""
        expected = {name: () for name in (*self.hyper, "steps")}
        for i, s in enumerate(self.state):
            expected.update({f"{slot}.{i}": a.shape for slot, a in s.items()})
        problems = entry_problems(expected, state)
        if not problems:  # every entry is there and shaped right: now their values
            for name in self.hyper:
                problem = setting_problem(name, float(np.asarray(state[name]).item()))
                if problem is not None:
                    problems.append(problem)
            if int(np.asarray(state["steps"]).item()) < 0:
                problems.append("steps must be >= 0")
        if problems:
            raise ValueError(f"{type(self).__name__}: cannot load state: " + "; ".join(problems))
        for name in self.hyper:
            setattr(self, name, type(getattr(self, name))(np.asarray(state[name]).item()))
        self.steps = int(np.asarray(state["steps"]).item())
        for i, s in enumerate(self.state):
            for slot in s:
                s[slot][...] = state[f"{slot}.{i}"]


class SGD(Optimizer):
    """v = momentum v + g;  p -= lr v  (plain gradient descent when momentum is 0)."""

    hyper = ("lr", "momentum")
    slots = ("velocity",)

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, momentum: float = 0.0) -> None:
        super().__init__(params, lr)
        check_setting("SGD", "momentum", momentum)
        self.momentum = momentum

    def update(self, param, grad, state):
        velocity = state["velocity"]
        velocity *= self.momentum
        velocity += grad
        param -= self.lr * velocity


class Adam(Optimizer):
    """m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    p -= lr m_hat / (sqrt(v_hat) + eps) with m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t),
    where t counts the steps of this parameter (its ``step`` entry), as PyTorch counts them: a
    parameter that had no gradient in the first steps starts its bias correction at 1."""

    hyper = ("lr", "beta1", "beta2", "eps")
    slots = ("m", "v")

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:  # fmt: skip
        super().__init__(params, lr)
        if len(betas) != 2 or any(
            setting_problem(n, b) for n, b in zip(("beta1", "beta2"), betas, strict=True)
        ):
            raise ValueError(f"Adam: betas must be two numbers in [0, 1), got {betas}")
        check_setting("Adam", "eps", eps)
        self.beta1, self.beta2 = betas
        self.eps = eps

    def initial_state(self, param: Tensor) -> dict[str, np.ndarray]:
        return {**super().initial_state(param), "step": np.zeros(())}

    def update(self, param, grad, state):
        m, v = state["m"], state["v"]
        state["step"] += 1
        t = state["step"].item()  # a Python number, so float32 weights stay float32
        # One scratch array in the weights' memory order serves every step below (the formula
        # written out makes nine temporaries; a Fortran-ordered weight mixed with a C-ordered
        # gradient would make each operation a slow strided loop).
        scratch = np.multiply(grad, 1 - self.beta1, out=np.empty_like(m))
        m *= self.beta1
        m += scratch
        np.multiply(grad, grad, out=scratch)
        scratch *= 1 - self.beta2
        v *= self.beta2
        v += scratch
        # lr m_hat / (sqrt(v_hat) + eps) with the bias corrections as numbers, as PyTorch
        # computes it: (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
        step = np.sqrt(v, out=scratch)
        step /= np.sqrt(1 - self.beta2**t)
        step += self.eps
        np.divide(m, step, out=step)
        step *= self.lr / (1 - self.beta1**t)
        param -= step


class Adagrad(Optimizer):
    """s += g^2;  p -= lr g / (sqrt(s) + eps): each weight's step shrinks with its history."""

    hyper = ("lr", "eps")
    slots = ("sum_squares",)

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-2, *, eps: float = 1e-10) -> None:
        # eps by name only: PyTorch's third argument is lr_decay, which minigrad does not have
        super().__init__(params, lr)
        check_setting("Adagrad", "eps", eps)
        self.eps = eps

    def update(self, param, grad, state):
        state["sum_squares"] += grad * grad
        param -= self.lr * grad / (np.sqrt(state["sum_squares"]) + self.eps)


class RMSprop(Optimizer):
    """s = alpha s + (1 - alpha) g^2;  p -= lr g / (sqrt(s) + eps)."""

    hyper = ("lr", "alpha", "eps")
    slots = ("mean_square",)

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8) -> None:  # fmt: skip
        super().__init__(params, lr)
        check_setting("RMSprop", "alpha", alpha)
        check_setting("RMSprop", "eps", eps)
        self.alpha, self.eps = alpha, eps

    def update(self, param, grad, state):
        s = state["mean_square"]
        s *= self.alpha
        s += (1 - self.alpha) * grad * grad
        param -= self.lr * grad / (np.sqrt(s) + self.eps)


def _with_grads(params: Iterable[Tensor]) -> list[Tensor]:
    return [p for p in params if p.grad is not None]


def clip_grad_norm(params: Iterable[Tensor], max_norm: float) -> float:
    """Scale all gradients together so that their joint L2 norm is at most ``max_norm``.

    Returns the norm before clipping, as PyTorch's ``clip_grad_norm_`` does.  The direction of
    the update is kept; only its length is capped (the cure for exploding gradients).
    """
    if not max_norm > 0:
        raise ValueError(f"clip_grad_norm: max_norm must be positive, got {max_norm}")
    params = _with_grads(params)
    total = float(np.sqrt(sum(_sum_of_squares(p.grad) for p in params)))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for p in params:
            p.grad = p.grad * p.grad.dtype.type(scale)
    return total


def _sum_of_squares(grad: np.ndarray) -> float:
    """sum(grad^2), accumulated in float64 (a float32 sum of many squares loses digits)."""
    flat = grad.astype(np.float64).reshape(-1)
    return float(np.dot(flat, flat))


def clip_grad_value(params: Iterable[Tensor], limit: float) -> None:
    """Clip every gradient element into [-limit, limit] (the threshold rule)."""
    if not limit > 0:
        raise ValueError(f"clip_grad_value: limit must be positive, got {limit}")
    for p in _with_grads(params):
        p.grad = np.clip(p.grad, -limit, limit)
