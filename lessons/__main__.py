"""python -m lessons [book [--out DIR] | list | run N]: run every lesson once, each in a
Jupyter kernel, checking its claims and writing the book (an HTML page and an executed
notebook per lesson, ``lesson_book/`` unless told); or list the lessons; or run one as a
plain script."""

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
    if not argv or (argv[0] == "book" and (len(argv) == 1 or (len(argv) == 3 and argv[1] == "--out"))):
        return build_book(files, Path(argv[2]) if len(argv) == 3 else Path("lesson_book"))
    if argv[:1] == ["run"] and len(argv) == 2 and argv[1].isdigit() and int(argv[1]) < len(files):
        try:
            run(files[int(argv[1])])
        except ClaimFailed as failure:
            print(f"\n{files[int(argv[1])].stem}: a claim did not hold: {failure}", file=sys.stderr)
            return 1
        return 0
    print(
        f"usage: python -m lessons [book [--out DIR] | list | run N] with N in 0..{len(files) - 1}",
        file=sys.stderr,
    )
    return 2


def build_book(files: list[Path], out: Path) -> int:
    missing = 'the lessons run in Jupyter kernels: python -m pip install -e ".[lessons]"'
    try:
        from lessons.book import BookError, build
    except ImportError as error:  # pragma: no cover - the message names the fix
        print(f"{missing} ({error.name} is missing)", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        seconds = build(files, out)
    except ImportError as error:
        print(f"{missing} ({error.name} is missing)", file=sys.stderr)
        return 2
    except BookError as failure:
        print(f"\nthe book was not built: {failure}", file=sys.stderr)
        return 1
    print("\n##### summary")
    for name, taken in seconds.items():
        print(f"{name:<28} every claim held   {taken:6.1f} s")
    print(f"{'all, with the book':<28} {'':<17}  {time.perf_counter() - start:6.1f} s")
    print(f"\nthe book is in {out}/index.html; the executed notebooks in {out}/notebooks/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
