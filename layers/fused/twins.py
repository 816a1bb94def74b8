"""The fused kernels' twins: each whole-sequence kernel as compiled loops and as plain numpy.

``TWINS`` maps each kernel's name to its ``(numba, numpy)`` pair, so that the tests can check
that the two agree; ``twin`` registers a pair and returns the one that ``MINIGRAD_JIT``
chooses (``minigrad.kernels.JIT``), as minigrad's own kernels do.
"""

from __future__ import annotations

from collections.abc import Callable

from minigrad.kernels import JIT

TWINS: dict[str, tuple[Callable, Callable]] = {}


def twin(name: str, jitted: Callable, plain: Callable) -> Callable:
    """Register ``jitted`` and ``plain`` under ``name`` in ``TWINS``; return the chosen one."""
    TWINS[name] = (jitted, plain)
    return jitted if JIT else plain
