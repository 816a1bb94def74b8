"""python -m lessons book: executed notebooks and pages (skipped without the book extra)."""

import json
import os
import re

import pytest

from lessons.__main__ import lesson_files

pytest.importorskip("nbclient")
pytest.importorskip("jupytext")
pytest.importorskip("nbconvert")
from lessons.book import BookError, build


def test_a_book_of_two_lessons_has_pages_notebooks_figures_and_links(tmp_path, monkeypatch):
    monkeypatch.delenv("MINIGRAD_LESSON_OUTPUT", raising=False)
    chosen = [p for p in lesson_files() if p.stem in ("l00_reverse_mode", "l02_rnn_memory")]
    written = build(chosen, tmp_path)
    assert "MINIGRAD_LESSON_OUTPUT" not in os.environ  # the kernels' setting is theirs alone
    assert (tmp_path / "figures" / "gradient_norms.png").is_file()
    index = (tmp_path / "index.html").read_text()
    assert written[0].name == "index.html" and all(f'href="{p.stem}.html"' in index for p in chosen)
    assert "Reverse mode from scratch" in index and "Morvan" in index  # titles and articles
    for page in chosen:
        text = (tmp_path / f"{page.stem}.html").read_text()
        assert "<h1" in text and "[ok]" in text and "[FAILED]" not in text  # prose and verdicts
        for target in re.findall(r'<nav class="book-nav".*?</nav>', text)[0].split('href="')[1:]:
            assert (tmp_path / target.split('"')[0]).is_file()  # every link resolves
        notebook = json.loads((tmp_path / "notebooks" / f"{page.stem}.ipynb").read_text())
        assert notebook["cells"][0]["cell_type"] == "markdown"  # the docstring became prose
        assert any(cell.get("outputs") for cell in notebook["cells"] if cell["cell_type"] == "code")
    memory = (tmp_path / "l02_rnn_memory.html").read_text()
    assert memory.count('src="data:image/png;base64,') >= 2  # the figures, inline


def test_a_failing_claim_stops_the_book_naming_the_lesson_and_the_claim(tmp_path):
    lesson = tmp_path / "l98_broken.py"
    lesson.write_text(
        '"""A broken lesson.\n\nFor the test."""\n\n# %%\nfrom lessons.report import check\n\n'
        'check("two is three", 2 == 3)\n'
    )
    with pytest.raises(BookError, match="l98_broken: the claim did not hold: two is three"):
        build([lesson], tmp_path / "book")
