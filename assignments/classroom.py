"""Grading a whole class: one submission per student, graded in parallel, and a gradebook.

A student is a file (``alice.py``, ``alice.ipynb``) or a folder (``alice/``, holding the
assignment's file, or else its only .py or .ipynb file) in the submissions folder, named by
the student's id.  Each student's ``results.json`` and ``feedback.txt`` go to
``OUT/<id>/``; a student whose results are there already is not graded again, so an
interrupted run picks up where it stopped.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from assignments import checklist
from minigrad.testing.grading import feedback, write_gradebook
from minigrad.testing.grading.results import gradescope_results, write_atomically

KINDS = (".py", ".ipynb")


def find_submissions(folder: Path, name: str) -> dict[str, Path | None]:
    """Each student's id and file (None for a folder with no file to grade)."""
    found: dict[str, Path | None] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix in KINDS:
            found[entry.stem] = entry
        elif entry.is_dir():
            named = [entry / f"{name}{kind}" for kind in KINDS if (entry / f"{name}{kind}").is_file()]
            files = named or sorted(p for p in entry.iterdir() if p.is_file() and p.suffix in KINDS)
            found[entry.name] = files[0] if len(files) == 1 or named else None
    return found


def grade_student(
    name: str, student: str, path: Path | None, out: Path, time_limit: float | None, budget: float
) -> dict:
    """Grade one student; write results.json (last, so that its presence means done) and feedback."""
    checks = checklist(name)
    target = path if path is not None else out / student / "no submission"
    results = checks.run(target, time_limit=time_limit, budget=budget)
    write_atomically(out / student / "feedback.txt", feedback(results, f"{name}, {student}"))
    data = gradescope_results(results)
    write_atomically(out / student / "results.json", json.dumps(data, indent=2) + "\n")
    return data


def grade_all(
    name: str,
    folder: Path,
    gradebook: Path,
    out: Path,
    jobs: int | None = None,
    time_limit: float | None = None,
    budget: float = 480.0,
) -> int:
    """Grade every student in ``folder`` not graded yet, then write the gradebook of all of them."""
    start = time.monotonic()
    students = find_submissions(folder, name)
    done = {s: out / s / "results.json" for s in students if (out / s / "results.json").is_file()}
    todo = [s for s in students if s not in done]
    print(f"{name}: {len(students)} students, {len(done)} graded before, {len(todo)} to grade")
    rows = {s: json.loads(path.read_text(encoding="utf-8")) for s, path in done.items()}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {s: pool.submit(grade_student, name, s, students[s], out, time_limit, budget) for s in todo}
        for student, future in futures.items():
            rows[student] = future.result()
            print(f"  {student}: {rows[student]['score']:g}", flush=True)
    write_gradebook(gradebook, [c.name for c in checklist(name).checks], rows)
    print(f"wrote {gradebook} ({len(rows)} students) and {out}/<id>/ in {time.monotonic() - start:.1f} s")
    return 0
