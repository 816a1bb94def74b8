"""The book's pages: from the executed notebooks to a Sphinx site, with no lesson run again.

``render`` lays out a Sphinx source folder (the contents page, one notebook per lesson, the
notation and the course documentation when ``lessons/`` holds them, the figures the prose
refers to) and runs Sphinx's HTML builder with ``lessons/book_theme/conf.py``, so that a
lesson's page is ``<out>/<lesson>.html`` beside its notebook ``<out>/notebooks/<lesson>.ipynb``.

What the reader's copy of a notebook gets, and the downloadable one does not: every code cell
foldable (myst-nb's ``hide-input`` tag, its fold opened by the book's configuration), the
lesson's own headings one level under its title, a link to the executed notebook, each
figure's alt text read from the description its PNG carries (``report.save`` writes it), and
printed paths without the build machine's folders (the lessons' output folder, the clone).
"""

from __future__ import annotations

import base64
import copy
import importlib.metadata
import io
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

from lessons.book import ANSI_COLOUR, BookError, describe

HERE = Path(__file__).resolve().parent
THEME = HERE / "book_theme"
# MyST Markdown pages of lessons/ that join the book, under "Reference", whenever they exist
REFERENCE_PAGES = ("notation", "course_grading")
FIGURES = "figures"  # pictures the lessons' Markdown shows: ![alt](figures/name.svg)
FOLD_TAG = "hide-input"
ATX_HEADING = re.compile(r"(#{1,6})(?=\s|$)")


def mathjax_folder() -> Path:
    """MathJax 3's files, as the ``sphinx-mathjax-offline`` distribution ships them."""
    try:
        distribution = importlib.metadata.distribution("sphinx-mathjax-offline")
    except importlib.metadata.PackageNotFoundError:
        raise BookError('MathJax is missing: python -m pip install -e ".[lessons]"') from None
    return Path(distribution.locate_file("sphinx-mathjax-offline/static/mathjax"))


def _heading_levels(text: str) -> list[int | None]:
    """Each line's heading level (``# A`` is 1), None for other lines and inside code fences."""
    levels, fenced = [], False
    for line in text.split("\n"):
        if line.startswith(("```", "~~~")):
            fenced = not fenced
        heading = None if fenced else ATX_HEADING.match(line)
        levels.append(len(heading.group(1)) if heading else None)
    return levels


def _headings_under_title(cells: list) -> None:
    """Move the lesson's headings down so that its title is the page's only top heading."""
    markdown = [cell for cell in cells if cell.cell_type == "markdown"]
    levels = [level for cell in markdown for level in _heading_levels(cell.source) if level]
    shift = 2 - min(levels, default=2)
    if shift <= 0:
        return
    for cell in markdown:
        lines = cell.source.split("\n")
        for i, level in enumerate(_heading_levels(cell.source)):
            if level:
                lines[i] = "#" * shift + lines[i]
        cell.source = "\n".join(lines)


def _figure_descriptions(cell) -> list[str]:
    """The ``Description`` each PNG output of a cell carries (its alt text)."""
    from PIL import Image

    found = []
    for output in cell.get("outputs", []):
        png = output.get("data", {}).get("image/png")
        if png:
            with Image.open(io.BytesIO(base64.b64decode(png))) as image:
                found.append(image.text.get("Description") or image.text.get("Title") or "")
    return [text for text in found if text]


def _without_build_folders(cell, folders: list[Path]) -> None:
    """Printed text with the build's folders dropped from the paths it names."""
    for output in cell.get("outputs", []):
        for holder, key in ((output, "text"), (output.get("data", {}), "text/plain")):
            if isinstance(holder.get(key), str):
                for folder in folders:
                    holder[key] = (
                        holder[key].replace(f"{folder}{os.sep}", "").replace(str(folder), folder.name)
                    )


def for_the_page(notebook, stem: str, build_folders: list[Path]):
    """The reader's copy of an executed lesson notebook (see the module's docstring);
    ``build_folders`` are the absolute folders to drop from printed paths."""
    import nbformat

    page = copy.deepcopy(notebook)
    _headings_under_title(page.cells[1:])
    for cell in page.cells:
        if cell.cell_type != "code":
            continue
        _without_build_folders(cell, build_folders)
        tags = cell.metadata.setdefault("tags", [])
        if FOLD_TAG not in tags:
            tags.append(FOLD_TAG)
        descriptions = _figure_descriptions(cell)
        if descriptions:
            cell.metadata.setdefault("mystnb", {})["image"] = {"alt": "; ".join(descriptions)}
    link = nbformat.v4.new_markdown_cell(
        f'<p class="notebook-link">This lesson as a Jupyter notebook, executed: '
        f'<a href="notebooks/{stem}.ipynb" download>{stem}.ipynb</a></p>'
    )
    page.cells.insert(1, link)
    return page


def contents_page(lessons: list[Path], references: list[str]) -> str:
    """The book's first page in MyST Markdown: what each lesson reproduces, from which article,
    and the (hidden) tables of contents that make the sidebar and the section numbers."""
    entries = []
    for path in lessons:
        info = describe(path)
        article = f" *{info['article']}*" if info["article"] else ""
        entries.append(
            f"1. **[{info['title']}]({path.stem}.ipynb)**{article} {info['summary']}"
            f' <a href="notebooks/{path.stem}.ipynb" download>(notebook)</a>'
        )
    tocs = [
        "```{toctree}\n:hidden:\n:numbered:\n:caption: Lessons\n\n"
        + "\n".join(p.stem for p in lessons)
        + "\n```"
    ]
    if references:
        tocs.append("```{toctree}\n:hidden:\n:caption: Reference\n\n" + "\n".join(references) + "\n```")
    return (
        "# minigrad: recurrent networks from first principles\n\n"
        "Each lesson reproduces, number by number, what an article about recurrent networks derives "
        "and computes, with minigrad's autograd and layers, and checks every claim it makes: a "
        "verdict `[ok]` follows each, with the values measured and the threshold they were held "
        "against.  Every page was produced by one run of its lesson, and links that run as a notebook.\n\n"
        + "\n".join(entries)
        + "\n\n"
        + "\n\n".join(tocs)
        + "\n"
    )


def _lay_out_sources(lessons: list[Path], notebooks: Path, source: Path) -> None:
    import nbformat

    from lessons.report import output_dir

    build_folders = [output_dir().resolve(), HERE.parent]
    for path in lessons:
        executed = notebooks / f"{path.stem}.ipynb"
        if not executed.is_file():
            raise BookError(f"{path.stem}: no executed notebook in {notebooks}: run python -m lessons")
        nbformat.write(
            for_the_page(nbformat.read(executed, as_version=4), path.stem, build_folders),
            source / executed.name,
        )
    references = [name for name in REFERENCE_PAGES if (HERE / f"{name}.md").is_file()]
    for name in references:
        shutil.copyfile(HERE / f"{name}.md", source / f"{name}.md")
    if (HERE / FIGURES).is_dir():
        shutil.copytree(HERE / FIGURES, source / FIGURES)
    (source / "index.md").write_text(contents_page(lessons, references), encoding="utf-8")


def render(lessons: list[Path], out: Path) -> None:
    """Write the book's HTML into ``out`` from the executed notebooks in ``out/notebooks``.

    Raises BookError naming every warning Sphinx gave (a broken reference, a bad heading),
    so that a flaw in a page stops the build rather than reaching the reader."""
    from sphinx.application import Sphinx

    with tempfile.TemporaryDirectory() as work:
        # the pages are laid out in ``work`` and copied to ``out`` after: myst-nb keeps the
        # notebooks' pictures in a jupyter_execute folder beside its output folder
        source, doctrees, html = Path(work) / "source", Path(work) / "doctrees", Path(work) / "html"
        source.mkdir()
        _lay_out_sources(lessons, out / "notebooks", source)
        problems = io.StringIO()
        with warnings.catch_warnings():  # the theme's use of APIs Sphinx will drop is not the book's
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            app = Sphinx(
                str(source), str(THEME), str(html), str(doctrees), "html",
                status=None, warning=problems, freshenv=True,
            )  # fmt: skip
            app.build()
        shutil.copytree(html, out, dirs_exist_ok=True)
    found = ANSI_COLOUR.sub("", problems.getvalue()).replace(str(source), "").strip()
    if found:
        raise BookError(f"the book's pages have problems:\n{found}")
