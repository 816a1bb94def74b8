"""The lessons' book: executed notebooks and Sphinx pages, checked as files and in a real browser."""

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
pytest.importorskip("myst_nb")
from lessons.book import BookError, build

ROOT = Path(__file__).resolve().parent.parent
SMALL = ("l00_reverse_mode", "l06_gru")
PHONE = 390  # px: a phone's width, at which no page may scroll sideways
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
    assert (output / "gru_gates_by_hand.png").is_file()  # pictures go where a script run puts them
    assert results.load("l06_gru", output)["x_test"].size  # the one run saved what tests read
    index = (out / "index.html").read_text()
    assert all(f'href="{stem}.html"' in index and f'href="notebooks/{stem}.ipynb"' in index for stem in SMALL)
    assert "Reverse mode from scratch" in index and "Cho et al." in index  # titles and articles
    for stem in SMALL:
        text = (out / f"{stem}.html").read_text()
        assert "<h1" in text and "[ok]" in text and "[FAILED]" not in text  # prose and verdicts
        notebook = json.loads((out / "notebooks" / f"{stem}.ipynb").read_text())
        assert notebook["cells"][0]["cell_type"] == "markdown"  # the docstring became prose
        assert "results.save" not in json.dumps(notebook)  # the saving cell is not the reader's
        assert any(cell.get("outputs") for cell in notebook["cells"] if cell["cell_type"] == "code")
        results_cells = [c for c in notebook["cells"] if "".join(c["source"]).count("RESULTS = {")]
        assert [c["metadata"]["tags"] for c in results_cells] == [["remove-cell"]]
        assert "RESULTS" not in text  # the notebook keeps the cell, the page leaves it out
        assert f'href="notebooks/{stem}.ipynb"' in text  # the page links its executed notebook
    memory = (out / "l06_gru.html").read_text()
    assert memory.count('<img alt="') >= 2  # the figures
    title = re.search(r"<title>(.*?)</title>", memory).group(1)
    assert title.startswith("2. Gated recurrent units")  # numbered, from the lesson's title
    reverse = (out / "l00_reverse_mode.html").read_text()
    next_link = re.search(
        r'<a class="right-next"\s+href="([^"]+)".*?prev-next-title">(.*?)</p>', reverse, re.S
    )
    next_title = re.sub(r"<[^>]+>", "", next_link.group(2))
    assert (next_link.group(1), next_title) == ("l06_gru.html", title.split(" &#8212;")[0])  # by title


def test_the_page_hides_the_machinery_the_notebook_printed(small_book):
    out, output = small_book
    for stem in SMALL:
        page = (out / f"{stem}.html").read_text()
        assert "PosixPath" not in page
        assert str(output) not in page and str(ROOT) not in page  # the build's folders
    assert "rnn_3_steps.dot" in (out / "l00_reverse_mode.html").read_text()  # the file's name stays
    assert not (out / "genindex.html").exists()  # no index entries, so no empty index page


def test_a_failing_claim_stops_the_book_naming_the_lesson_and_the_claim(tmp_path):
    lesson = tmp_path / "l98_broken.py"
    lesson.write_text(
        '"""A broken lesson.\n\nFor the test."""\n\n# %%\nfrom lessons.report import check\n\n'
        'check("two is three", 2 == 3)\n'
    )
    with pytest.raises(BookError, match="l98_broken: the claim did not hold: two is three"):
        build([lesson], tmp_path / "book")


def test_a_lessons_table_math_and_figure_reach_its_page(tmp_path, monkeypatch):
    """A lesson made here: its table becomes an HTML table, its TeX a math element, its
    figure an image whose alt text report.plot wrote, and a plot as the last expression of
    a cell prints nothing."""
    monkeypatch.setenv("MINIGRAD_LESSON_OUTPUT", str(tmp_path / "output"))
    lesson = tmp_path / "l97_made_here.py"
    lesson.write_text(
        '"""A lesson made here.\n\nFor the test."""\n\n'
        "# %% [markdown]\n# # The step\n#\n# $$h_t = \\tanh(x_t W + h_{t-1} U + b)$$\n\n"
        "# %%\nfrom lessons.report import plot, table\n\n"
        'table("accuracy by length", ["length", "accuracy"], [[2, 0.975], [10, 0.5]])\n'
        'plot("line.png", "a rising line", [0, 1], {"loss": [0.0, 1.0]}, "epoch", "loss")\n'
    )
    build([lesson], tmp_path / "book")
    page = (tmp_path / "book" / "l97_made_here.html").read_text()
    assert '<table class="lesson-table">' in page and '<td class="number">0.975</td>' in page
    assert re.search(r'<div class="math[^"]*">\s*\\\[h_t = \\tanh', page)
    assert 'alt="a rising line: loss against epoch, one line each for loss"' in page
    assert "PosixPath" not in page
    article = page[page.index("<article") : page.index("</article>")]
    assert re.findall(r"<h([1-6])[ >]", article) == ["1", "2"]  # the lesson's heading under its title
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "book",
        "l97_made_here.py",
        "output",
    ]  # nothing beside


def whole_book() -> Path | None:
    """The book ``python -m lessons`` wrote into the clone, if it holds every lesson."""
    book = ROOT / "lesson_book"
    pages = [book / "index.html", book / "searchindex.js", *(book / f"{p.stem}.html" for p in lesson_files())]
    return book if all(page.is_file() for page in pages) else None


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve(folder: Path) -> tuple[str, http.server.ThreadingHTTPServer]:
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


# In the page: math left as TeX (outside code), math elements MathJax did not render, figures
# that did not load or have no alt text, and how wide the document is.
PAGE_CHECKS = """() => {
    const text = document.body.cloneNode(true);
    text.querySelectorAll("pre, code, script, style, mjx-container").forEach(e => e.remove());
    const raw = ["$$", "\\\\(", "\\\\[", "\\\\begin{"].filter(d => text.textContent.includes(d));
    const unrendered = [...document.querySelectorAll(".math")].filter(m => !m.querySelector("mjx-container"));
    const images = [...document.querySelectorAll("img")];
    return {
        raw: raw,
        unrendered: unrendered.length,
        rendered: document.querySelectorAll("mjx-container").length,
        images: images.map(i => ({area: i.naturalWidth * i.naturalHeight, alt: i.getAttribute("alt") || ""})),
        width: document.documentElement.scrollWidth,
    };
}"""


def _check_page(page, name: str) -> tuple[list[str], int]:
    """Problems of the page loaded in ``page``, and its number of figures."""
    if page.evaluate("typeof MathJax !== 'undefined' && !!MathJax.startup"):
        page.evaluate("MathJax.startup.promise")
    seen = page.evaluate(PAGE_CHECKS)
    problems = [f"{name}: TeX left as text: {seen['raw']}"] if seen["raw"] else []
    if seen["unrendered"]:
        problems.append(f"{name}: {seen['unrendered']} math elements not rendered")
    for i, image in enumerate(seen["images"]):
        if image["area"] == 0:
            problems.append(f"{name}: image {i} has no size")
        if not image["alt"].strip() or re.fullmatch(r"\S+\.(png|svg|jpe?g|gif)", image["alt"]):
            problems.append(f"{name}: image {i} has no alt text")
    return problems, len(seen["images"])


def _check_links(page, base: str, name: str, visited: set, to_visit: list, seen: dict) -> list[str]:
    """Problems of the links of the page loaded in ``page``.  Pages to visit join
    ``to_visit``; ``seen`` holds the addresses that answered and, under "#", the fragments
    that other pages' links name, as (page, fragment, linking page), for ``_check_fragments``."""
    problems = []
    for link in page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
        if not link.startswith(base):
            continue
        address, _, fragment = link.partition("#")
        target = address[len(base) + 1 :].partition("?")[0]
        if not target or target == name:
            if fragment and page.locator(f'[id="{fragment}"]').count() != 1:
                problems.append(f"{name}: #{fragment} names no element")
            continue
        if fragment:
            seen["#"].add((target, fragment, name))
        if address in seen:
            continue
        if not page.request.get(address).ok:
            problems.append(f"{name}: {target} does not resolve")
            continue
        seen[address] = True
        if target.endswith(".html") and target not in visited and target not in to_visit:
            to_visit.append(target)
    return problems


def _check_fragments(seen: dict, ids: dict) -> list[str]:
    """Links into other pages whose #fragment names no element there (pages visited only)."""
    return [
        f"{name}: {target}#{fragment} names no element"
        for target, fragment, name in sorted(seen["#"])
        if target in ids and fragment not in ids[target]
    ]


def browse(book: Path, chromium: str, only: str | None = None) -> tuple[set[str], int, list[str]]:
    """Open every page reachable from the book's contents (or the page ``only``) in headless
    Chromium, at desktop width and at a phone's.

    Returns the pages visited, the number of figures seen and every problem found: a page
    that does not load or throws a script error, a request for anything not on 127.0.0.1
    (refused, as offline), TeX left unrendered, a figure with no size or no alt text, a link
    inside the book that does not resolve (to a page that answers, or to an element of the
    page for a #fragment), a page wider than a phone's screen."""
    from playwright.sync_api import sync_playwright

    base, server = serve(book)
    visited, figures, problems, seen, ids = set(), 0, [], {"#": set()}, {}
    to_visit = [only] if only else ["search.html", "index.html"]
    try:
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            desktop = browser.new_page(viewport={"width": 1280, "height": 900})
            phone = browser.new_page(viewport={"width": PHONE, "height": 844})
            for page in (desktop, phone):
                page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
                page.route(
                    re.compile(r"^(?!http://127\.0\.0\.1[:/])"),
                    lambda route: (
                        problems.append(f"request leaves the book: {route.request.url}"),
                        route.abort(),
                    ),
                )
            while to_visit:
                name = to_visit.pop()
                visited.add(name)
                response = desktop.goto(f"{base}/{name}", wait_until="load")
                if response is None or not response.ok:
                    problems.append(f"{name} does not load")
                    continue
                found, images = _check_page(desktop, name)
                problems += found
                figures += images
                problems += _check_links(desktop, base, name, visited, [] if only else to_visit, seen)
                ids[name] = set(desktop.eval_on_selector_all("[id]", "nodes => nodes.map(n => n.id)"))
                phone.goto(f"{base}/{name}", wait_until="load")
                width = phone.evaluate("document.documentElement.scrollWidth")
                if width > PHONE:
                    problems.append(f"{name}: {width} px wide at {PHONE} px")
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return visited, figures, problems + _check_fragments(seen, ids)


def search(book: Path, chromium: str, word: str) -> list[str]:
    """The pages the book's own search page lists for ``word``, in Chromium."""
    from playwright.sync_api import sync_playwright

    base, server = serve(book)
    try:
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            page = browser.new_page()
            page.route(re.compile(r"^(?!http://127\.0\.0\.1[:/])"), lambda route: route.abort())
            page.goto(f"{base}/search.html?q={word}", wait_until="load")
            page.wait_for_function("() => (document.querySelector('.search-summary') || {}).textContent")
            found = page.eval_on_selector_all(
                "ul.search li a", "links => links.map(a => a.getAttribute('href'))"
            )
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return [link.partition("?")[0].partition("#")[0] for link in found]


def word_of_one_lesson(book: Path) -> tuple[str, str]:
    """A word of one lesson's prose that no other page of the book holds: (word, lesson)."""
    texts = {path.stem: path.read_text().lower() for path in (book / "notebooks").glob("*.ipynb")}
    others = [
        p.read_text().lower() for p in book.glob("*.html") if p.stem not in texts and p.stem != "search"
    ]
    for stem, notebook in sorted(texts.items()):
        prose = " ".join(
            "".join(c["source"]) for c in json.loads(notebook)["cells"] if c["cell_type"] == "markdown"
        )
        prose = re.sub(r"\$[^$]*\$|`[^`]*`|\([^)]*\)", " ", prose)
        for word in sorted(set(re.findall(r"\b[a-z]{8,}\b", prose))):
            if not any(word in text for other, text in texts.items() if other != stem) and not any(
                word in text for text in others
            ):
                return word, stem
    raise AssertionError("every word of the lessons' prose is in two of them")


@pytest.fixture(scope="module")
def chromium() -> str:
    pytest.importorskip("playwright.sync_api", reason="the dev extra brings playwright")
    found = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    if found is None:
        pytest.skip("no Chromium here: .ci/run installs Debian's (apt-get install chromium)")
    return found


def the_book(small_book) -> Path:
    return whole_book() or small_book[0]  # the main job's whole book, else the one built here


def test_every_page_figure_formula_and_link_of_the_book_works_offline_and_on_a_phone(small_book, chromium):
    book = the_book(small_book)
    visited, figures, problems = browse(book, chromium)
    assert problems == []
    lessons = {f"{p.stem}.html" for p in lesson_files() if (book / f"{p.stem}.html").is_file()}
    assert lessons | {"index.html", "search.html"} <= visited  # every page is reachable from the contents
    assert {"notation.html", "course_grading.html"} & visited == {  # the pages lessons/ holds
        f"{name}.html"
        for name in ("notation", "course_grading")
        if (ROOT / "lessons" / f"{name}.md").is_file()
    }
    assert figures >= 2


def test_the_books_search_finds_a_word_of_one_lesson_and_not_a_made_up_one(small_book, chromium):
    book = the_book(small_book)
    word, lesson = word_of_one_lesson(book)
    assert f"{lesson}.html" in search(book, chromium, word)
    assert search(book, chromium, "qzxjvwkq") == []


def test_no_page_of_the_book_loads_anything_from_a_network(small_book):
    book = the_book(small_book)
    for page in book.rglob("*.html"):
        assets = re.findall(
            r'<(?:script|link|img)[^>]+(?:src|href)="((?:https?:)?//[^"]+)"', page.read_text()
        )
        assert assets == [], page.name


def test_the_browser_check_finds_each_kind_of_problem(small_book, chromium, tmp_path):
    book = tmp_path / "book"
    shutil.copytree(small_book[0], book)
    page = book / "l00_reverse_mode.html"
    page.write_text(
        page.read_text().replace(
            "</body>",
            '<img src="data:image/png;base64,AAAA" alt="a broken figure"><a href="gone.html">gone</a>'
            '<a href="#nowhere">x</a><p class="mathjax_ignore">$$x^2$$</p><img src="_static/file.png">'
            '<div style="width:2000px">wide</div><script src="http://example.invalid/x.js"></script></body>',
            1,
        )
    )
    _, _, problems = browse(book, chromium, only=page.name)
    images = page.read_text().count("<img")
    assert sorted(set(problems)) == [  # the refused request is met at each of the two widths
        "l00_reverse_mode.html: #nowhere names no element",
        f"l00_reverse_mode.html: 2000 px wide at {PHONE} px",
        "l00_reverse_mode.html: TeX left as text: ['$$']",
        "l00_reverse_mode.html: gone.html does not resolve",
        f"l00_reverse_mode.html: image {images - 2} has no size",
        f"l00_reverse_mode.html: image {images - 1} has no alt text",
        "request leaves the book: http://example.invalid/x.js",
    ]


def test_a_table_prints_as_aligned_text_outside_a_notebook_and_refuses_a_short_row(capsys):
    from lessons.report import table

    table("accuracy by length", ["length", "model"], [[2, "attention"], [10, "C"]])
    assert capsys.readouterr().out.splitlines() == [
        "accuracy by length",
        "length  model",
        "------  ---------",
        "     2  attention",
        "    10  C",
    ]
    with pytest.raises(ValueError, match="every row needs 2 cells"):
        table("broken", ["a", "b"], [[1]])
    assert capsys.readouterr().out == ""  # a failed call prints nothing
