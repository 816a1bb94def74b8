"""Grading course assignments: verdicts decided where no student code ran.

- ``checklist``: the scored checks of an assignment, and running them on a submission;
- ``cases``: the inputs sent to the student's code and what each output must be (drawn by
  hypothesis in the grader);
- ``isolation``: the sandboxed child that runs the student's code and returns plain data;
- ``probes``: what that child does with the student's code (it decides nothing);
- ``verdicts``: the comparisons, in the grader, with the reference's values and gradients;
- ``submissions``: a .py file or a notebook's code cells, read once before anything runs;
- ``results``: Gradescope's results.json, feedback, a class's gradebook;
- ``public``: the public checks as fixed cases and expected values, for the students.

``python -m minigrad.testing.grading check FILE`` runs the public checks stored beside a
student's file.
"""

from minigrad.testing.grading.cases import Case, Expect, draw, drawn_cases
from minigrad.testing.grading.checklist import (
    DEFAULT_BUDGET,
    DEFAULT_TIME_LIMIT,
    Check,
    Checklist,
    CheckResult,
)
from minigrad.testing.grading.isolation import OUTPUT_LIMIT, Sandbox, SandboxError
from minigrad.testing.grading.results import feedback, gradescope_results, write_gradebook, write_results

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_TIME_LIMIT",
    "OUTPUT_LIMIT",
    "Case",
    "Check",
    "CheckResult",
    "Checklist",
    "Expect",
    "Sandbox",
    "SandboxError",
    "draw",
    "drawn_cases",
    "feedback",
    "gradescope_results",
    "write_gradebook",
    "write_results",
]
