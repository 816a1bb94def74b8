"""What the assignments' checklists share: the command that reruns public checks, the refused autograds."""

from __future__ import annotations

from collections.abc import Sequence

from minigrad.testing.grading import Checklist

AUTOGRADS = ("torch", "jax", "jaxlib", "tensorflow", "autograd")
HAND_WRITTEN = "this assignment asks for a backward written by hand, not another library's autograd"


def checklist_for(
    name: str, forbidden: Sequence[str] = (), refuse_imports: Sequence[str] = (), refuse_reason: str = ""
) -> Checklist:
    """An empty checklist whose failures tell the student the command that reruns a public check."""
    reproduce = 'python -m minigrad.testing.grading check {file} --only "{check}"'
    return Checklist(forbidden, refuse_imports, refuse_reason, reproduce)
