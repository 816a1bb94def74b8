"""A Gradescope autograder for one assignment: setup.sh, run_autograder and what the grader needs.

The bundle holds the project (to install minigrad) and the assignments' checks, but no
solution.  ``run_autograder`` locks the autograder's folder to root before grading: the
student's code runs as an unprivileged user (see ``minigrad.testing.grading.isolation``),
who can neither read the checks, references and hidden seeds nor write the results.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from assignments import ASSIGNMENTS

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (the zip is in
# /autograder/source).
set -euo pipefail
root="${AUTOGRADER_ROOT:-/autograder}"
# minigrad with what the grader needs (hypothesis draws the cases), for every user: student
# code runs as an unprivileged user, who must be able to run python3 and import minigrad
python3 -m pip install "$root/source[grading]"
# fail now, not on every submission, if that user cannot run it
python3 -c "from minigrad.testing.grading import Sandbox; Sandbox.from_environment().verify()"
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this, as root, for each submission; it writes results/results.json.
set -uo pipefail
root="${{AUTOGRADER_ROOT:-/autograder}}"
# only root may read the checks and write the results: student code runs as another user
chmod 700 "$root"
submission="$root/submission/{name}.py"
for other in "$root/submission/{name}.ipynb" "$root"/submission/*.py "$root"/submission/*.ipynb; do
  # a notebook, or a file under another name when it is the only one submitted
  if [ ! -f "$submission" ] && [ -f "$other" ]; then submission="$other"; fi
done
mkdir -p "$root/results"
# -P: nothing in the working folder is imported; the grader comes from source/ alone
PYTHONPATH="$root/source" python3 -P -m assignments grade {name} "$submission" \\
  --results "$root/results/results.json"
"""

# what of the project the bundle holds: enough to install minigrad, and the grader's side
PROJECT_PARTS = ("pyproject.toml", "README.md", "minigrad", "layers")
GRADER_PARTS = ("__init__.py", "__main__.py", "autograder.py", "classroom.py", "handout.py", "checks")


def project_root() -> Path:
    root = Path(__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        raise FileNotFoundError(f"no pyproject.toml in {root}: build the autograder from a clone of minigrad")
    return root


def _copy(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(
            source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")
        )
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def write_autograder(name: str, folder: Path) -> Path:
    """Write ``autograder.zip`` into ``folder``, to upload to Gradescope, and beside it
    ``source/``, what Gradescope unzips into /autograder/source: ``setup.sh``,
    ``run_autograder``, the project and the checks.  Returns the zip's path."""
    root = project_root()
    source = folder / "source"
    if source.exists():
        shutil.rmtree(source)
    source.mkdir(parents=True)
    (source / "setup.sh").write_text(SETUP, encoding="utf-8")
    (source / "run_autograder").write_text(RUN.format(name=name), encoding="utf-8")
    for part in PROJECT_PARTS:
        _copy(root / part, source / part)
    for part in GRADER_PARTS:
        _copy(root / "assignments" / part, source / "assignments" / part)
    leaked = [n for n in ASSIGNMENTS if (source / "assignments" / f"{n}.py").exists()]
    if leaked:
        raise RuntimeError(f"the bundle would hold the solutions of {leaked}")
    archive = folder / "autograder.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo.from_file(path, path.relative_to(source))
                info.external_attr = (0o755 if path.name in ("setup.sh", "run_autograder") else 0o644) << 16
                bundle.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return archive


def unpack(archive: Path, root: Path) -> Path:
    """Lay out Gradescope's folders under ``root`` as its harness does: the zip in ``source/``
    (scripts executable), an empty ``submission/``.  Returns ``root / "source"``."""
    source = root / "source"
    with zipfile.ZipFile(archive) as bundle:
        for info in bundle.infolist():
            bundle.extract(info, source)
            (source / info.filename).chmod(info.external_attr >> 16 or 0o644)
    (root / "submission").mkdir(parents=True, exist_ok=True)
    return source
