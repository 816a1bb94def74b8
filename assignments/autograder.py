"""A Gradescope autograder for one assignment: setup.sh, run_autograder and the project's source."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder's image.
set -euo pipefail
cd /autograder/source
python3 -m pip install ./minigrad
# compile every Numba kernel now, so that no submission's time limit pays for it
python3 -c "from minigrad import kernels; from layers import fused; kernels.warm_up(); fused.warm_up()"
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for each submission; it writes results/results.json.
set -uo pipefail
root="${{AUTOGRADER_ROOT:-/autograder}}"
submission="$root/submission/{name}.py"
if [ ! -f "$submission" ]; then
  # a file under another name is graded when it is the only Python file submitted
  found=$(find "$root/submission" -maxdepth 1 -name '*.py' | head -n 2)
  if [ "$(printf '%s\\n' "$found" | grep -c .)" = 1 ]; then submission="$found"; fi
fi
mkdir -p "$root/results"
python3 -m assignments grade {name} "$submission" --results "$root/results/results.json"
"""

# what of the project the autograder installs
PROJECT_PARTS = ("pyproject.toml", "README.md", "minigrad", "layers", "assignments")


def project_root() -> Path:
    root = Path(__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        raise FileNotFoundError(
            f"no pyproject.toml in {root}: build the autograder from a clone of minigrad "
            "(installed with pip install -e), not from an installed copy"
        )
    return root


def write_autograder(name: str, folder: Path) -> Path:
    """Write ``setup.sh``, ``run_autograder`` and ``source/minigrad`` into ``folder``, and
    ``autograder.zip`` holding them, to upload to Gradescope.  Returns the zip's path."""
    root = project_root()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "setup.sh").write_text(SETUP, encoding="utf-8")
    (folder / "run_autograder").write_text(RUN.format(name=name), encoding="utf-8")
    for script in ("setup.sh", "run_autograder"):
        (folder / script).chmod(0o755)
    copy = folder / "source" / "minigrad"
    if copy.exists():
        shutil.rmtree(copy)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")
    for part in PROJECT_PARTS:
        path = root / part
        if path.is_dir():
            shutil.copytree(path, copy / part, ignore=ignore)
        else:
            copy.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copy / part)
    archive = folder / "autograder.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for script in ("setup.sh", "run_autograder"):
            info = zipfile.ZipInfo(script)
            info.external_attr = 0o755 << 16
            bundle.writestr(info, (folder / script).read_text(encoding="utf-8"))
        for path in sorted(copy.rglob("*")):
            if path.is_file():
                bundle.write(path, Path("source") / path.relative_to(folder / "source"))
    return archive
