"""Results: Gradescope's results.json, feedback a student reads, and a class's gradebook."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from minigrad.testing.grading.checklist import CheckResult


def gradescope_results(results: Sequence[CheckResult]) -> dict[str, Any]:
    """The results in Gradescope's ``results.json`` format."""
    tests = []
    for r in results:
        output = "passed" if r.passed else r.message
        if r.output:
            output += f"\n\nwhat your code printed:\n{r.output}"
        tests.append(
            {
                "name": r.name,
                "score": r.points,
                "max_score": r.max_points,
                "status": "passed" if r.passed else "failed",
                "output": output,
                "visibility": "after_due_date" if r.hidden else "visible",
            }
        )
    data: dict[str, Any] = {
        "score": sum(r.points for r in results),
        "execution_time": round(sum(r.seconds for r in results), 3),
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    skipped = [r for r in results if r.skipped]
    if skipped:
        data["output"] = (
            f"{skipped[0].message.removeprefix('not run: ')}: {len(skipped)} check(s) were not run."
        )
    return data


def write_atomically(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed over it (the folder is made)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    os.chmod(temporary, 0o644)
    os.replace(temporary, target)


def write_results(results: Sequence[CheckResult], path: str | Path) -> None:
    """Write Gradescope's ``results.json``."""
    write_atomically(path, json.dumps(gradescope_results(results), indent=2) + "\n")


def feedback(results: Sequence[CheckResult], title: str) -> str:
    """The results as a student reads them: score, then each check with what went wrong."""
    score, most = sum(r.points for r in results), sum(r.max_points for r in results)
    lines = [f"{title}: {score:g}/{most:g}", ""]
    for r in results:
        hidden = " (hidden)" if r.hidden else ""
        lines.append(f"[{'pass' if r.passed else 'FAIL'}] {r.name}{hidden}  {r.points:g}/{r.max_points:g}")
        if not r.passed:
            lines += [f"    {line}" for line in r.message.splitlines()]
            if r.output:
                lines.append("    what your code printed (first lines):")
                lines += [f"      {line}" for line in r.output.splitlines()[:5]]
    return "\n".join(lines) + "\n"


def write_gradebook(path: str | Path, check_names: Sequence[str], rows: dict[str, dict[str, Any]]) -> None:
    """A CSV with one row per student: id, each check's points, total (sorted by id)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["id", *check_names, "total"])
        for student in sorted(rows):
            scores = {t["name"]: t["score"] for t in rows[student]["tests"]}
            writer.writerow(
                [student, *(f"{scores.get(n, 0):g}" for n in check_names), f"{rows[student]['score']:g}"]
            )
