"""The two switches that govern recording: ``no_grad`` and ``detect_anomaly``.

They sit apart from ``Function`` and ``Tensor`` because both read them (an op checks whether
to record itself, an in-place write whether the graph could be hurt, the engine whether to
check each gradient), and a module that imports nothing of minigrad breaks no import circle.
PyTorch keeps them apart for the same reason (``torch.autograd.grad_mode``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

# Read directly (``grad_mode.recording``) by the code that runs once per op.
recording = True
anomaly_checks = False
# In-place changes made to any tensor so far (``Version.bump``): an op notes it when recorded,
# and if it has not moved by the op's backward, no input or output of the op was changed.
changes_in_place = 0


@contextmanager
def no_grad() -> Iterator[None]:
    """Inside this block no op is recorded, so no graph is built and nothing can backprop."""
    global recording
    previous, recording = recording, False
    try:
        yield
    finally:
        recording = previous


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()``."""
    return recording


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Inside this block the first op whose forward or backward makes NaN or inf raises."""
    global anomaly_checks
    previous, anomaly_checks = anomaly_checks, True
    try:
        yield
    finally:
        anomaly_checks = previous
