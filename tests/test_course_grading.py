"""The course page on grading (lessons/course_grading.md) says what the kit does: its commands
are the command line's, the checks it names are the assignment's, and the outputs it quotes
are what those commands print (run here, slow)."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import assignments
from assignments.__main__ import parser
from assignments.handout import strip_solutions
from tests.grading_support import sandbox_user

ROOT = Path(assignments.__file__).resolve().parent.parent
PAGE = ROOT / "lessons" / "course_grading.md"
VERDICT = re.compile(r"^\[(pass|FAIL)\] (.*?)( \(hidden\))?  (\d+)/(\d+)$")
# the lines of a quoted output that must appear in the real one, word for word (the numbers
# of a wrong element may differ in their last digits from machine to machine)
KEY_LINE = re.compile(r"^(\[(pass|FAIL)\] |score: |wrote |public checks of |gru_cell: |    not written yet|"
                      r"    your code ran|    Reproduce it with: )")  # fmt: skip


def blocks() -> list[tuple[str, str]]:
    """The page's fenced blocks in order: (language, text)."""
    return re.findall(r"^```(\w+)\n(.*?)^```$", PAGE.read_text(), re.MULTILINE | re.DOTALL)


def quoted_runs() -> list[tuple[list[str], list[str]]]:
    """Each command the page quotes an output of (the last line of the bash block before a
    text block), as arguments after ``python``, with the key lines of its output."""
    runs, command = [], None
    for language, text in blocks():
        if language == "bash":
            command = shlex.split(text.strip().splitlines()[-1].split("#")[0])
        elif language == "text" and command is not None:
            runs.append((command[1:], [line for line in text.splitlines() if KEY_LINE.match(line)]))
            command = None
    return runs


def test_the_pages_commands_are_the_command_lines():
    commands = [shlex.split(line.split("#")[0]) for language, text in blocks() if language == "bash"
                for line in text.strip().splitlines()]  # fmt: skip
    ours = [c for c in commands if c[:3] == ["python", "-m", "assignments"]]
    assert len(ours) >= 6 and all(c[:3] == ["python", "-m", "assignments"] or c[2] == "minigrad.testing.grading"
                                  for c in commands)  # fmt: skip
    for command in ours:
        parser().parse_args(command[3:])  # exits (SystemExit) on a command the kit does not take


def test_the_checks_and_points_the_page_quotes_are_the_assignments():
    checks = {c.name: c for c in assignments.checklist("gru_cell").checks}
    quoted = [
        VERDICT.match(line) for _, text in blocks() for line in text.splitlines() if VERDICT.match(line)
    ]
    assert len(quoted) >= 20
    for verdict in quoted:
        passed, name, hidden, points, most = verdict.groups()
        assert name in checks, name
        assert checks[name].hidden == bool(hidden) and float(most) == checks[name].points
        assert float(points) == (checks[name].points if passed == "pass" else 0)
    assert {v.group(2) for v in quoted} == set(checks)  # every check is shown at least once


@pytest.mark.slow
def test_the_outputs_the_page_quotes_are_what_the_commands_print(tmp_path):
    """Run each quoted command on the page's files, made as the page makes them."""
    source = assignments.source("gru_cell").read_text()
    handout = subprocess.run([sys.executable, "-m", "assignments", "handout", tmp_path / "handout"],
                             capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert handout.returncode == 0, handout.stderr
    (tmp_path / "assignments").mkdir()
    (tmp_path / "assignments" / "gru_cell.py").write_text(source)
    (tmp_path / "swapped.py").write_text(
        source.replace("return z * h + (1 - z) * n", "return (1 - z) * h + z * n")
    )
    cheat = next(text for language, text in blocks() if language == "python" and "import layers" in text)
    (tmp_path / "cheat.py").write_text(cheat)
    student = tmp_path / "student"
    student.mkdir()
    (student / "gru_cell.py").write_text(source)
    (student / "gru_cell.checks.json").write_text((tmp_path / "handout" / "gru_cell.checks.json").read_text())
    assert strip_solutions(source) == (tmp_path / "handout" / "gru_cell.py").read_text()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MINIGRAD_SANDBOX_USER": sandbox_user()}
    runs = quoted_runs()
    assert len(runs) == 6
    for command, lines in runs:
        where = student if command[:2] == ["-m", "minigrad.testing.grading"] else tmp_path
        run = subprocess.run([sys.executable, *command], capture_output=True, text=True, cwd=where, env=env)
        printed = run.stdout.splitlines()
        missing = [line for line in lines if line not in printed]
        assert not missing, f"python {shlex.join(command)} printed\n{run.stdout}{run.stderr}\nnot {missing}"
