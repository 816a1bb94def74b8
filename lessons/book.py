"""The lessons as a book: each executed once in a Jupyter kernel, then laid out by Sphinx.

``python -m lessons`` (or ``python -m lessons book [--out DIR]``; the ``lessons`` extra brings
the tools: jupytext reads the percent-format lessons, nbclient runs them, Sphinx with myst-nb
and sphinx-book-theme lays them out) runs every lesson once, printing as it goes, and writes to
``DIR`` (``lesson_book/`` unless told)

* ``DIR/notebooks/<lesson>.ipynb``: the executed notebooks, to open in Jupyter;
* ``DIR/index.html``: the contents, each lesson's title, its article and what it reproduces;
* ``DIR/<lesson>.html``: prose, rendered math, code, outputs and figures, with the lessons in
  a sidebar, previous and next by title, and a search page (``lessons/pages.py`` builds them
  from the executed notebooks, without running a lesson again).

A lesson whose claim fails stops the build with the lesson and the claim named.  The cell
that sets ``RESULTS`` (what the project's tests check) is tagged ``remove-cell``, so the
pages leave it out while the notebook keeps it.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAILED_CLAIM = re.compile(r"ClaimFailed: (.*)")
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
SETS_RESULTS = re.compile(r"^RESULTS\s*=", re.MULTILINE)
MACHINERY_TAG = "remove-cell"  # myst-nb leaves a cell so tagged out of the page


class BookError(RuntimeError):
    """A lesson could not be executed (its claim, or its code, failed)."""


def describe(path: Path) -> dict[str, str]:
    """A lesson's title, article and summary, from its module docstring."""
    doc = path.read_text(encoding="utf-8").split('"""')[1].strip()
    title, _, rest = doc.partition("\n")
    paragraphs = [p.strip().replace("\n", " ") for p in rest.strip().split("\n\n") if p.strip()]
    article = next((p for p in paragraphs if p.startswith(("Article:", "After the articles", "For "))), "")
    summary = next((p for p in paragraphs if p != article), "")
    return {"title": title.strip(), "article": article, "summary": summary}


def banner(path: Path) -> str:
    """The line printed before a lesson runs: its module name and title."""
    return f"\n##### {path.stem}: {describe(path)['title']}"


def _notebook(path: Path):
    """The lesson as a notebook, its module docstring turned into the opening prose."""
    import jupytext
    import nbformat

    notebook = jupytext.read(path)
    first = notebook.cells[0]
    if first.cell_type == "code" and first.source.lstrip().startswith('"""'):
        info = describe(path)
        prose = f"# {info['title'].rstrip('.')}\n\n{info['article']}\n\n{info['summary']}"
        notebook.cells[0] = nbformat.v4.new_markdown_cell(prose)
    for cell in notebook.cells:
        if cell.cell_type == "code" and SETS_RESULTS.search(cell.source):
            tags = cell.metadata.setdefault("tags", [])
            if MACHINERY_TAG not in tags:
                tags.append(MACHINERY_TAG)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def _echo_printed(cell, cell_index: int, execute_reply) -> None:
    """Print what a cell printed, as the lesson run as a script would (nbclient's hook)."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            print(output["text"], end="", flush=True)


def execute(path: Path, kernel_env: dict[str, str]):
    """Run a lesson in a fresh Jupyter kernel and return the executed notebook.

    One more cell, dropped again afterwards, saves the lesson's RESULTS for its tests, so
    that building the book is the lesson's one run."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from traitlets.config import Config

    notebook = _notebook(path)
    notebook.cells.append(
        nbformat.v4.new_code_cell(
            'if "RESULTS" in globals():\n'
            "    from lessons import report, results\n\n"
            f"    results.save({path.stem!r}, RESULTS, report.output_dir())"
        )
    )
    try:
        with tempfile.TemporaryDirectory() as sockets:  # the kernel talks over local sockets
            local = Config({"KernelManager": {"transport": "ipc", "ip": str(Path(sockets) / "kernel")}})
            NotebookClient(
                notebook,
                config=local,
                kernel_name="python3",
                timeout=1200,
                resources={"metadata": {"path": str(ROOT)}},
                on_cell_executed=_echo_printed,
            ).execute(env=kernel_env)
    except CellExecutionError as error:
        text = ANSI_COLOUR.sub("", str(error))  # the kernel colours its tracebacks
        claim = FAILED_CLAIM.search(text)
        reason = f"the claim did not hold: {claim.group(1)}" if claim else text.strip().splitlines()[-1]
        raise BookError(f"{path.stem}: {reason}") from None
    notebook.cells.pop()
    return notebook


def build(lessons: list[Path], out: Path) -> dict[str, float]:
    """Execute every lesson once and write the book into ``out``.

    Each lesson prints as it runs; its pictures and saved RESULTS go to the lessons' output
    folder (``MINIGRAD_LESSON_OUTPUT``, else ``lesson_output/``), as when it runs as a
    script.  Returns the seconds each lesson took, by name, and the pages' (``pages``)."""
    import nbformat

    from lessons.pages import render
    from lessons.report import output_dir

    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    kernel_env = {**os.environ, "MINIGRAD_LESSON_OUTPUT": str(output_dir().resolve())}
    seconds = {}
    for path in lessons:
        print(banner(path), flush=True)
        start = time.perf_counter()
        notebook = execute(path, kernel_env)
        seconds[path.stem] = time.perf_counter() - start
        nbformat.write(notebook, out / "notebooks" / f"{path.stem}.ipynb")
    start = time.perf_counter()
    render(lessons, out)
    seconds["pages"] = time.perf_counter() - start
    return seconds
