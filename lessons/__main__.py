"""python -m lessons [book [--out DIR] | pages [--out DIR] | list | run N]: run every lesson
once, each in a Jupyter kernel, checking its claims and writing the book (an HTML page and
an executed notebook per lesson, ``lesson_book/`` unless told); or lay out the book's pages
again from the notebooks a run executed; or list the lessons; or run one as a plain script."""

from __future__ import annotations

import runpy
import sys
import time
from pathlib import Path

from lessons import results
from lessons.book import banner, describe
from lessons.report import ClaimFailed, output_dir

HERE = Path(__file__).resolve().parent


def lesson_files() -> list[Path]:
    return sorted(HERE.glob("l[0-9][0-9]_*.py"))


def heading(path: Path) -> str:
    """The lesson's title: the first line of its module docstring."""
    return describe(path)["title"]


def run(path: Path) -> float:
    """Run one lesson, save what it exposes for its tests, and return the seconds it took."""
    print(banner(path))
    start = time.perf_counter()
    names = runpy.run_path(str(path), run_name="__main__")
    if "RESULTS" in names:
        results.save(path.stem, names["RESULTS"], output_dir())
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    files = lesson_files()
    if argv[:1] == ["list"]:
        for i, path in enumerate(files):
            print(f"{i}  {path.stem:<28} {heading(path)}")
        return 0
    if not argv or (
        argv[0] in ("book", "pages") and (len(argv) == 1 or (len(argv) == 3 and argv[1] == "--out"))
    ):
        out = Path(argv[2]) if len(argv) == 3 else Path("lesson_book")
        return build_book(files, out, run_lessons=not argv or argv[0] == "book")
    if argv[:1] == ["run"] and len(argv) == 2 and argv[1].isdigit() and int(argv[1]) < len(files):
        try:
            run(files[int(argv[1])])
        except ClaimFailed as failure:
            print(f"\n{files[int(argv[1])].stem}: a claim did not hold: {failure}", file=sys.stderr)
            return 1
        return 0
    print(
        "usage: python -m lessons [book [--out DIR] | pages [--out DIR] | list | run N]"
        f" with N in 0..{len(files) - 1}",
        file=sys.stderr,
    )
    return 2


def build_book(files: list[Path], out: Path, run_lessons: bool = True) -> int:
    """Run every lesson and write the book, or (``run_lessons=False``) write its pages again
    from the notebooks already executed in ``out/notebooks``."""
    missing = 'the lessons and their book need the lessons extra: python -m pip install -e ".[lessons]"'
    try:
        from lessons.book import BookError, build
        from lessons.pages import render
    except ImportError as error:  # pragma: no cover - the message names the fix
        print(f"{missing} ({error.name} is missing)", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        if run_lessons:
            seconds = build(files, out)
        else:
            render(files, out)
            seconds = {"pages": time.perf_counter() - start}
    except ImportError as error:
        print(f"{missing} ({error.name} is missing)", file=sys.stderr)
        return 2
    except BookError as failure:
        print(f"\nthe book was not built: {failure}", file=sys.stderr)
        return 1
    print("\n##### summary")
    for name, taken in seconds.items():
        done = "every claim held" if name != "pages" else "the book laid out"
        print(f"{name:<28} {done:<17}  {taken:6.1f} s")
    print(f"{'all, with the book':<28} {'':<17}  {time.perf_counter() - start:6.1f} s")
    print(f"\nthe book is in {out}/index.html; the executed notebooks in {out}/notebooks/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
