"""The lessons' book: executed notebooks and pages, checked as files and in a real browser."""

import functools
import http.server
import json
import re
import shutil
import threading
from pathlib import Path

import pytest

from lessons import results
from lessons.__main__ import lesson_files

pytest.importorskip("nbclient")
pytest.importorskip("jupytext")
pytest.importorskip("nbconvert")
from lessons.book import BookError, build

ROOT = Path(__file__).resolve().parent.parent
SMALL = ("l00_reverse_mode", "l02_rnn_memory")
CHROMIUM_FLAGS = [  # headless, and no connections of its own on a closed network
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def small_book(tmp_path_factory):
    """A book of two short lessons, built here: (book folder, lesson output folder)."""
    out = tmp_path_factory.mktemp("book")
    output = tmp_path_factory.mktemp("lesson_output")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINIGRAD_LESSON_OUTPUT", str(output))
        build([p for p in lesson_files() if p.stem in SMALL], out)
    return out, output


def test_a_book_of_two_lessons_has_pages_notebooks_figures_links_and_results(small_book):
    out, output = small_book
    assert (output / "gradient_norms.png").is_file()  # pictures go where a script run puts them
    assert results.load("l02_rnn_memory", output)["seeds"]  # the one run saved what tests read
    index = (out / "index.html").read_text()
    assert all(f'href="{stem}.html"' in index and f'href="notebooks/{stem}.ipynb"' in index for stem in SMALL)
    assert "Reverse mode from scratch" in index and "Morvan" in index  # titles and articles
    for stem in SMALL:
        text = (out / f"{stem}.html").read_text()
        assert "<h1" in text and "[ok]" in text and "[FAILED]" not in text  # prose and verdicts
        notebook = json.loads((out / "notebooks" / f"{stem}.ipynb").read_text())
        assert notebook["cells"][0]["cell_type"] == "markdown"  # the docstring became prose
        assert "results.save" not in json.dumps(notebook)  # the saving cell is not the reader's
        assert any(cell.get("outputs") for cell in notebook["cells"] if cell["cell_type"] == "code")
    memory = (out / "l02_rnn_memory.html").read_text()
    assert memory.count('src="data:image/png;base64,') >= 2  # the figures, inline


def test_a_failing_claim_stops_the_book_naming_the_lesson_and_the_claim(tmp_path):
    lesson = tmp_path / "l98_broken.py"
    lesson.write_text(
        '"""A broken lesson.\n\nFor the test."""\n\n# %%\nfrom lessons.report import check\n\n'
        'check("two is three", 2 == 3)\n'
    )
    with pytest.raises(BookError, match="l98_broken: the claim did not hold: two is three"):
        build([lesson], tmp_path / "book")


def whole_book() -> Path | None:
    """The book ``python -m lessons`` wrote into the clone, if it holds every lesson."""
    book = ROOT / "lesson_book"
    pages = [book / "index.html", *(book / f"{p.stem}.html" for p in lesson_files())]
    return book if all(page.is_file() for page in pages) else None


def serve(folder: Path) -> tuple[str, http.server.ThreadingHTTPServer]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # quiet
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def browse(book: Path, chromium: str) -> tuple[set[str], int, list[str]]:
    """Open every page reachable from the book's contents in headless Chromium.

    Returns the pages visited, the number of images seen and every problem found: a page
    that does not load or throws a script error, an image with no natural size, a link
    inside the book that does not resolve (to a page that answers, or to an element of the
    page for a #fragment).  Addresses outside the book are refused, as offline."""
    from playwright.sync_api import sync_playwright

    base, server = serve(book)
    visited, to_visit, figures, problems = set(), ["index.html"], 0, []
    try:
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            page = browser.new_page()
            page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
            page.route(re.compile(r"^https?://(?!127\.0\.0\.1)"), lambda route: route.abort())
            while to_visit:
                name = to_visit.pop()
                visited.add(name)
                response = page.goto(f"{base}/{name}", wait_until="load")
                if response is None or not response.ok:
                    problems.append(f"{name} does not load")
                    continue
                areas = page.eval_on_selector_all(
                    "img", "imgs => imgs.map(i => i.naturalWidth * i.naturalHeight)"
                )
                figures += len(areas)
                problems += [f"{name}: image {i} has no size" for i, area in enumerate(areas) if area == 0]
                for link in page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
                    if not link.startswith(base):
                        continue
                    target, _, fragment = link[len(base) + 1 :].partition("#")
                    if not target or target == name:
                        if fragment and page.locator(f'[id="{fragment}"]').count() != 1:
                            problems.append(f"{name}: #{fragment} names no element")
                    elif not page.request.get(link).ok:
                        problems.append(f"{name}: {target} does not resolve")
                    elif target.endswith(".html") and target not in visited and target not in to_visit:
                        to_visit.append(target)
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return visited, figures, problems


@pytest.fixture(scope="module")
def chromium() -> str:
    pytest.importorskip("playwright.sync_api", reason="the dev extra brings playwright")
    found = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    if found is None:
        pytest.skip("no Chromium here: .ci/run installs Debian's (apt-get install chromium)")
    return found


def test_every_page_figure_and_link_of_the_book_works_in_chromium(small_book, chromium):
    book = whole_book() or small_book[0]  # the main job's whole book, else the one built here
    visited, figures, problems = browse(book, chromium)
    assert problems == []
    pages = {"index.html", *(f"{p.stem}.html" for p in lesson_files() if (book / f"{p.stem}.html").is_file())}
    assert visited == pages  # every page is reachable from the contents
    assert figures >= 2


def test_the_browser_check_finds_a_broken_figure_a_dead_link_and_a_missing_anchor(
    small_book, chromium, tmp_path
):
    book = tmp_path / "book"
    shutil.copytree(small_book[0], book)
    page = book / "l00_reverse_mode.html"
    page.write_text(
        page.read_text().replace(
            "</body>",
            '<img src="data:image/png;base64,AAAA"><a href="gone.html">gone</a><a href="#nowhere">x</a></body>',
            1,
        )
    )
    _, _, problems = browse(book, chromium)
    assert sorted(problems) == [
        "l00_reverse_mode.html: #nowhere names no element",
        "l00_reverse_mode.html: gone.html does not resolve",
        f"l00_reverse_mode.html: image {page.read_text().count('<img') - 1} has no size",
    ]
