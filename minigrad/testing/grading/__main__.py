"""python -m minigrad.testing.grading check FILE: run the public checks stored beside a student's file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from minigrad.testing.grading.public import load_public_checks
from minigrad.testing.grading.results import feedback


def main(argv: list[str]) -> int:
    top = argparse.ArgumentParser(prog="python -m minigrad.testing.grading", description=__doc__)
    verbs = top.add_subparsers(dest="verb", required=True)
    check = verbs.add_parser("check", help="run the public checks on your file (.py or .ipynb)")
    check.add_argument("submission", type=Path, help="your file, e.g. gru_cell.py")
    check.add_argument("--checks", type=Path, help="the checks file (default: NAME.checks.json beside it)")
    check.add_argument("--only", action="append", default=[], help="run only the check of this name")
    args = top.parse_args(argv)
    stored = args.checks or args.submission.with_name(f"{args.submission.stem}.checks.json")
    if not args.submission.is_file():
        print(f"there is no file {args.submission}", file=sys.stderr)
        return 2
    try:
        checklist = load_public_checks(stored)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    results = checklist.run(args.submission, hidden=False, only=args.only)
    print(feedback(results, f"public checks of {args.submission.name}"), end="")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
