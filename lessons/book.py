"""The lessons as a book: each executed in a Jupyter kernel, written as a notebook and a page.

``python -m lessons book [--out DIR]`` (needs the ``book`` extra: jupytext reads the
percent-format lessons, nbclient runs them, nbconvert renders them) writes

* ``DIR/index.html``: the contents, each lesson's title, its article and what it reproduces;
* ``DIR/<lesson>.html``: prose, code, outputs and figures, with links to the previous and
  next lessons and back to the contents;
* ``DIR/notebooks/<lesson>.ipynb``: the executed notebooks, to open in Jupyter.

A lesson whose claim fails stops the build with the lesson and the claim named.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAILED_CLAIM = re.compile(r"ClaimFailed: (.*)")
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


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


def _notebook(path: Path):
    """The lesson as a notebook, its module docstring turned into the opening prose."""
    import jupytext
    import nbformat

    notebook = jupytext.read(path)
    first = notebook.cells[0]
    if first.cell_type == "code" and first.source.lstrip().startswith('"""'):
        info = describe(path)
        prose = f"# {info['title']}\n\n{info['article']}\n\n{info['summary']}"
        notebook.cells[0] = nbformat.v4.new_markdown_cell(prose)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def _navigation(lessons: list[Path], index: int) -> str:
    links = ['<a href="index.html">contents</a>']
    if index > 0:
        links.insert(0, f'<a href="{lessons[index - 1].stem}.html">previous: {lessons[index - 1].stem}</a>')
    if index + 1 < len(lessons):
        links.append(f'<a href="{lessons[index + 1].stem}.html">next: {lessons[index + 1].stem}</a>')
    return '<nav class="book-nav" style="margin:1em 2em">' + " | ".join(links) + "</nav>"


def build(lessons: list[Path], out: Path) -> list[Path]:
    """Execute every lesson and write the book into ``out``; returns the pages written."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbconvert import HTMLExporter

    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    kernel_env = {**os.environ, "MINIGRAD_LESSON_OUTPUT": str(out / "figures")}  # this process's stays
    exporter = HTMLExporter(template_name="lab")
    pages = []
    for index, path in enumerate(lessons):
        notebook = _notebook(path)
        client = NotebookClient(
            notebook, timeout=1200, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
        )
        try:
            client.execute(env=kernel_env)
        except CellExecutionError as error:
            text = ANSI_COLOUR.sub("", str(error))  # the kernel colours its tracebacks
            claim = FAILED_CLAIM.search(text)
            reason = f"the claim did not hold: {claim.group(1)}" if claim else text.strip().splitlines()[-1]
            raise BookError(f"{path.stem}: {reason}") from None
        nbformat.write(notebook, out / "notebooks" / f"{path.stem}.ipynb")
        body, _ = exporter.from_notebook_node(notebook)
        nav = _navigation(lessons, index)
        opening = re.search(r"<body[^>]*>", body)
        if opening is not None:
            body = body[: opening.end()] + nav + body[opening.end() :]
        body = body.replace("</body>", nav + "</body>", 1)
        page = out / f"{path.stem}.html"
        page.write_text(body, encoding="utf-8")
        pages.append(page)
        print(f"wrote {page}")
    rows = []
    for path in lessons:
        info = {k: html.escape(v) for k, v in describe(path).items()}
        rows.append(
            f'<li><a href="{path.stem}.html">{info["title"]}</a><br><em>{info["article"]}</em>'
            f"<br>{info['summary']}</li>"
        )
    index_page = out / "index.html"
    index_page.write_text(
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>minigrad: the lessons</title></head>'
        '<body style="max-width:50em;margin:2em auto;font-family:sans-serif">'
        "<h1>minigrad: recurrent networks from first principles</h1><ol>"
        + "\n".join(rows)
        + "</ol></body></html>\n",
        encoding="utf-8",
    )
    return [index_page, *pages]
