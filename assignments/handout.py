"""The student's copy of an assignment: every solution region replaced by a stub."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = "raise NotImplementedError  # your code here"
_MARKER = re.compile(r"^(\s*)(### (?:BEGIN|END) SOLUTION)\s*$")


def strip_solutions(text: str, name: str = "source") -> str:
    """``text`` with each line from BEGIN SOLUTION to END SOLUTION replaced by one stub line
    at the marker's indentation.  Unbalanced or nested markers are a ValueError."""
    out: list[str] = []
    inside_from: int | None = None
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        found = _MARKER.match(line)
        if found is None:
            if inside_from is None:
                out.append(line)
            continue
        indent, marker = found.groups()
        if marker == BEGIN:
            if inside_from is not None:
                raise ValueError(
                    f"{name}, line {number}: {BEGIN} inside the region opened at line {inside_from}"
                )
            inside_from = number
            out.append(f"{indent}{STUB}\n")
        else:
            if inside_from is None:
                raise ValueError(f"{name}, line {number}: {END} with no {BEGIN} before it")
            inside_from = None
    if inside_from is not None:
        raise ValueError(f"{name}, line {inside_from}: {BEGIN} is never closed")
    return "".join(out)


def solution_lines(text: str) -> list[str]:
    """The non-blank lines inside the solution regions of ``text``, stripped."""
    lines, inside = [], False
    for line in text.splitlines():
        found = _MARKER.match(line)
        if found is not None:
            inside = found.group(2) == BEGIN
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


STUDENT_README = """# Assignments

Each assignment is one file here ({kind}).  Read it from the top: the prose explains what to
build, and every `raise NotImplementedError  # your code here` is a place for your code.
Keep the names and signatures as they are, and write your code in the file itself: the
grader grades what the file defines.

Check your work as often as you like (it needs minigrad installed):

    python -m minigrad.testing.grading check NAME{suffix}

for example `python -m minigrad.testing.grading check gru_cell{suffix}`.  It runs the public
checks stored in `NAME.checks.json`: fixed cases and the values they must give.  Each check
prints its verdict and, when it fails, what went wrong, on which inputs, and the command
that reruns it.  Your grade also counts hidden checks: other random cases, more of them,
and edge cases (a batch of one, one unit, float32 inputs, large values).  Code that passes
the public checks because it is right, rather than because it fits them, passes those too.

The assignments:

{listing}
"""


def notebook(text: str) -> str:
    """A percent-format source as a Jupyter notebook (JSON), with jupytext as the lessons use it."""
    try:
        import jupytext
    except ImportError:
        raise SystemExit('notebook handouts need jupytext: python -m pip install -e ".[lessons]"') from None

    return jupytext.writes(jupytext.reads(text, fmt="py:percent"), fmt="ipynb")


def write_handout(
    folder: Path, sources: dict[str, Path], descriptions: dict[str, str], kind: str = "py"
) -> list[Path]:
    """Write each assignment's student copy (.py or .ipynb), its public checks (fixed cases and
    expected values, computed now) and the students' README into ``folder``."""
    from minigrad.testing.grading.public import public_checks

    folder.mkdir(parents=True, exist_ok=True)
    stripped = {
        name: strip_solutions(path.read_text(encoding="utf-8"), path.name) for name, path in sources.items()
    }
    written = []
    for name, text in stripped.items():
        target = folder / f"{name}.{kind}"
        target.write_text(notebook(text) if kind == "ipynb" else text, encoding="utf-8")
        checks = importlib.import_module(f"assignments.checks.{name}").checklist
        stored = folder / f"{name}.checks.json"
        stored.write_text(json.dumps(public_checks(checks, name)) + "\n", encoding="utf-8")
        written += [target, stored]
    listing = "\n".join(f"- `{name}.{kind}`: {descriptions[name]}" for name in sources)
    readme = folder / "README.md"
    kinds = {"py": "a Python file", "ipynb": "a Jupyter notebook"}
    readme.write_text(
        STUDENT_README.format(listing=listing, kind=kinds[kind], suffix=f".{kind}"), encoding="utf-8"
    )
    return [*written, readme]
