"""What gradcheck and check_backward require of the values they compare, and the messages
that say which elements failed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np


class Tolerance(NamedTuple):
    """The step of the central differences and the comparison's tolerances: an element passes
    when |analytic - numeric| <= atol + rtol |numeric|."""

    eps: float
    atol: float
    rtol: float


def _index(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()


def require_finite(values: np.ndarray, what: str, max_reported: int) -> None:
    """Raise AssertionError naming the NaN and infinite elements of ``values``, if any."""
    values = np.asarray(values)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        listed = ", ".join(f"{values.flat[i]} at {_index(i, values.shape)}" for i in bad[:max_reported])
        more = f" and {bad.size - max_reported} more" if bad.size > max_reported else ""
        raise AssertionError(f"{what} is not finite at {bad.size} of {values.size} elements: {listed}{more}")


def require_deterministic(
    first: np.ndarray,
    again: Sequence[np.ndarray],
    nondet_tol: float,
    who: str = "gradcheck",
    what: str = "fn",
) -> None:
    """Raise AssertionError when calls at the same inputs differ by more than ``nondet_tol``."""
    for other in again:
        difference = np.abs(other - first)
        if other.shape != first.shape or np.nanmax(difference, initial=0.0) > nondet_tol:
            worst = float(np.nanmax(difference, initial=0.0)) if other.shape == first.shape else np.inf
            raise AssertionError(
                f"{who}: {what} gave different results for the same inputs (by up to {worst:.3g}): it "
                "draws random numbers (dropout?) or keeps state between calls, and central "
                "differences would measure that noise.  To check a random op, fix its randomness "
                f"inside {what}: call minigrad.random.manual_seed(0) at its start, or draw the mask "
                f"once outside {what} and pass it in; for results that differ only by rounding, "
                "allow it with nondet_tol"
            )


def require_match(
    who: str,
    label: str,
    analytic: np.ndarray,
    numeric: np.ndarray,
    tolerance: Tolerance,
    about: str,
    max_reported: int,
    details: Callable[[], str] | None = None,
) -> None:
    """Raise AssertionError listing every element where |analytic - numeric| exceeds
    atol + rtol |numeric| (the worst first, up to ``max_reported``); ``details`` adds text."""
    error = np.abs(analytic - numeric)
    allowed = tolerance.atol + tolerance.rtol * np.abs(numeric)
    excess = (error - allowed).ravel()
    wrong = np.flatnonzero(excess > 0)
    if not wrong.size:
        return
    wrong = wrong[np.argsort(-excess[wrong], kind="stable")]
    lines = [
        f"  index {_index(i, numeric.shape)}: analytic {analytic.flat[i]:.6g}, numeric "
        f"{numeric.flat[i]:.6g}, |difference| {error.flat[i]:.3g} > allowed {allowed.flat[i]:.3g}"
        for i in wrong[:max_reported]
    ]
    if wrong.size > max_reported:
        lines.append(f"  and {wrong.size - max_reported} more")
    message = (
        f"{who}: the gradient of {label} (shape {numeric.shape}) is wrong at {wrong.size} of "
        f"{numeric.size} elements, worst first ({about}; eps {tolerance.eps:g}, atol "
        f"{tolerance.atol:g}, rtol {tolerance.rtol:g}):\n" + "\n".join(lines)
    )
    raise AssertionError(message + (f"\n{details()}" if details else ""))


def format_jacobians(analytic: np.ndarray, numeric: np.ndarray, what: str = "Jacobians") -> str:
    """Both matrices in full, for a failure message."""
    with np.printoptions(precision=6, suppress=True, linewidth=110, threshold=100_000):
        rows = " (row: output element, column: input element)" if what == "Jacobians" else ""
        return f"analytic {what}{rows}:\n{np.asarray(analytic)}\nnumeric:\n{np.asarray(numeric)}"
