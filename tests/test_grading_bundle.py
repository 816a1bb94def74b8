"""The Gradescope bundle, proven as Gradescope runs it, and what a student installs.

Slow (a fresh virtual environment, minigrad installed into it): ``.ci/run`` runs this file
with ``-m slow``.  The bundle is unpacked into Gradescope's folders under a temporary root,
``setup.sh`` installs it into a fresh virtual environment, and ``run_autograder`` grades
submissions.  Run as root, as Gradescope's harness and CI machines are, the student's code
runs as ``nobody``: the virtual environment is made from a Python every user can run.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

import assignments
from assignments.autograder import unpack, write_autograder
from assignments.handout import solution_lines, strip_solutions

pytestmark = pytest.mark.slow

SYSTEM_PYTHON = Path("/usr/bin/python3")


def _interpreter() -> str:
    """A Python that the sandbox user can run, as on Gradescope's image, when we are root."""
    if os.geteuid() == 0 and SYSTEM_PYTHON.exists():
        return str(SYSTEM_PYTHON)
    return sys.executable


@pytest.fixture(scope="module")
def gradescope():
    """Gradescope's /autograder laid out under a temporary root, set up by setup.sh in a fresh venv."""
    root = Path(tempfile.mkdtemp(prefix="gradescope-"))
    root.chmod(0o755)  # the venv in it must be readable by the sandbox user
    try:
        archive = write_autograder("gru_cell", root / "built")
        venv = root / "venv"
        subprocess.run([_interpreter(), "-m", "venv", venv], check=True)
        autograder = root / "autograder"
        unpack(archive, autograder)
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("MINIGRAD_", "PYTHON", "VIRTUAL_ENV"))
        }
        env |= {"AUTOGRADER_ROOT": str(autograder), "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
        setup = subprocess.run(
            ["bash", autograder / "source" / "setup.sh"], env=env, capture_output=True, text=True
        )
        assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
        yield autograder, env
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_autograder(gradescope, source: str) -> dict:
    autograder, env = gradescope
    os.chmod(autograder, 0o755)  # as Gradescope hands it over; run_autograder locks it
    submission = autograder / "submission"
    shutil.rmtree(submission, ignore_errors=True)
    submission.mkdir()
    (submission / "gru_cell.py").write_text(source)
    shutil.rmtree(autograder / "results", ignore_errors=True)
    run = subprocess.run([autograder / "source" / "run_autograder"], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads((autograder / "results" / "results.json").read_text())


def test_the_bundle_gives_the_solution_full_marks(gradescope):
    data = run_autograder(gradescope, assignments.source("gru_cell").read_text())
    failed = [t["output"] for t in data["tests"] if t["status"] != "passed"]
    assert failed == [] and data["score"] == assignments.checklist("gru_cell").max_points() == 13


def test_the_bundle_gives_the_stub_zero(gradescope):
    data = run_autograder(gradescope, strip_solutions(assignments.source("gru_cell").read_text()))
    assert data["score"] == 0 and all("not written yet" in t["output"] for t in data["tests"])


def test_the_bundle_gives_an_import_of_the_solution_zero(gradescope):
    data = run_autograder(gradescope, "from assignments.gru_cell import GRUCell\n")
    assert data["score"] == 0


def test_student_code_cannot_read_the_checks_nor_write_the_results(gradescope):
    if os.geteuid() != 0:
        pytest.skip("student code runs as another user only when the grader runs as root")
    autograder, _ = gradescope
    checks = autograder / "source" / "assignments" / "checks" / "gru_cell.py"
    results = autograder / "results" / "results.json"
    source = strip_solutions(assignments.source("gru_cell").read_text()) + (
        f"\ntry:\n    open({str(checks)!r}).read()\n    print('read the checks')\nexcept OSError:\n    pass\n"
        f"try:\n    open({str(results)!r}, 'w').write('{{}}')\n    print('wrote the results')\n"
        "except OSError:\n    pass\n"
    )
    data = run_autograder(gradescope, source)
    assert data["score"] == 0 and data["tests"]
    assert not any(
        "read the checks" in t["output"] or "wrote the results" in t["output"] for t in data["tests"]
    )


def test_the_package_a_student_installs_holds_no_solution_and_no_check(tmp_path):
    project = tmp_path / "project"
    write_autograder("gru_cell", tmp_path / "built")
    shutil.copytree(tmp_path / "built" / "source", project)  # the project, with the checks in it
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-w",
            tmp_path / "wheel",
            project,
        ],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        text = "\n".join(archive.read(n).decode("utf-8", "replace") for n in names if n.endswith(".py"))
    assert not [n for n in names if n.startswith("assignments/")]
    assert "minigrad/testing/grading/child.py" in names  # the students' public checks run on it
    assert "### BEGIN SOLUTION" not in text and "teacher's source" not in text.lower()
    for name in assignments.ASSIGNMENTS:  # nor a solution's text, nor a hidden check's name
        source = assignments.source(name).read_text()
        regions = re.findall(r"### BEGIN SOLUTION\n(.*?)\n\s*### END SOLUTION", source, re.S)
        blocks = ["\n".join(line.strip() for line in r.splitlines() if line.strip()) for r in regions]
        assert len(blocks) == source.count("### BEGIN SOLUTION") and solution_lines(source)
        flat = "\n".join(line.strip() for line in text.splitlines())
        assert not [b for b in blocks if b.count("\n") >= 2 and b in flat], name
        hidden = [c.name for c in assignments.checklist(name).checks if c.hidden]
        assert not [c for c in hidden if c in text], name
    assert "def reference_backward" not in text and "seed 2" not in text
