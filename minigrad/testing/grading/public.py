"""The public checks as a file of fixed cases and expected values, for a student's own machine.

The handout holds ``NAME.checks.json``: each public check with its cases, their inputs and
the expected outputs, computed by the teacher's reference when the handout was written.  A
student's ``check`` compares with those values; no reference code, solution or hidden check
is in the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from minigrad.testing.grading.cases import case_from_json, case_to_json
from minigrad.testing.grading.checklist import Checklist

FORMAT = "minigrad public checks 1"


def public_checks(checklist: Checklist, assignment: str) -> dict[str, Any]:
    """The public checks of ``checklist`` with their cases built now, as JSON."""
    checks = []
    for check in checklist.checks:
        if not check.hidden:
            cases = [case_to_json(case) for case in check.cases()]
            checks.append({"name": check.name, "points": check.points, "names": list(check.names),
                           "time_limit": check.time_limit, "cases": cases})  # fmt: skip
    return {
        "format": FORMAT,
        "assignment": assignment,
        "forbidden": list(checklist.forbidden),
        "refuse_imports": list(checklist.refuse_imports),
        "refuse_reason": checklist.refuse_reason,
        "reproduce": checklist.reproduce,
        "checks": checks,
    }


def load_public_checks(path: str | Path) -> Checklist:
    """The checklist stored in ``path`` by ``public_checks``; a clear error for any other file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} cannot be read as a checks file: {error}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a minigrad checks file (format {FORMAT!r})")
    checklist = Checklist(data["forbidden"], data["refuse_imports"], data["refuse_reason"], data["reproduce"])
    for check in data["checks"]:
        cases = [case_from_json(c) for c in check["cases"]]
        checklist.add(check["name"], check["points"], lambda cases=cases: cases, check["names"],
                      time_limit=check["time_limit"])  # fmt: skip
    return checklist
