"""A student's submission read once, before any of it runs: a .py file or a notebook's code cells.

The grader keeps the bytes it read and hands every check a fresh copy, so a file that
rewrites itself changes nothing for the next check.  What the file defines and imports at
its top level is read from its syntax tree, without running it.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

SIZE_LIMIT = 2 * 2**20  # bytes of a submitted file


class SubmissionError(Exception):
    """The submission cannot be read (no file, too large, not a .py or .ipynb file)."""


@dataclass(frozen=True)
class Submission:
    """The source of a submission, under the file name the child imports it by."""

    name: str
    source: str

    def defined(self) -> set[str]:
        """Names bound by a def or class statement at the file's top level."""
        tree = ast.parse(self.source)
        kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        return {node.name for node in tree.body if isinstance(node, kinds)}

    def imported(self) -> set[str]:
        """The top-level packages the file imports anywhere (import and from-import statements)."""
        found = set()
        for node in ast.walk(ast.parse(self.source)):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
        return found

    def syntax_error(self) -> str | None:
        try:
            compile(self.source, self.name, "exec", dont_inherit=True)
        except SyntaxError as error:
            line = (error.text or "").strip()
            return f"{self.name} has a syntax error at line {error.lineno}: {error.msg}\n    {line}"
        except ValueError as error:  # null bytes
            return f"{self.name} cannot be compiled: {error}"
        return None


def notebook_code(text: str, name: str) -> str:
    """The code cells of a notebook (.ipynb JSON) as one Python file; IPython's ``%`` and ``!``
    lines become comments."""
    try:
        cells = json.loads(text)["cells"]
    except (ValueError, KeyError, TypeError):
        raise SubmissionError(f"{name} is not a Jupyter notebook (no cells in its JSON)") from None
    chunks = []
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            chunks.append(re.sub(r"(?m)^(\s*)([%!])", r"\1# \2", source))
    return "# %%\n" + "\n\n# %%\n".join(chunks) + "\n"


def read_submission(path: str | Path) -> Submission:
    """The submission at ``path``; a notebook becomes the Python file of its code cells."""
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"there is no file {path}")
    if path.suffix not in (".py", ".ipynb"):
        raise SubmissionError(f"{path.name} is neither a Python file (.py) nor a notebook (.ipynb)")
    if path.stat().st_size > SIZE_LIMIT:
        raise SubmissionError(f"{path.name} is larger than {SIZE_LIMIT // 2**20} MB")
    text = path.read_bytes().decode("utf-8", errors="replace")
    stem = re.sub(r"\W", "_", path.stem)
    stem = stem if stem.isidentifier() else f"submission_{stem}"
    if path.suffix == ".ipynb":
        text = notebook_code(text, path.name)
    return Submission(f"{stem}.py", text)
