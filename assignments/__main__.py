"""python -m assignments: list, hand out, check and grade the course assignments."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assignments import ASSIGNMENTS, checklist, source
from assignments.autograder import write_autograder
from assignments.handout import write_handout
from minigrad.testing.grading import CheckResult, write_results


def show(result: CheckResult) -> None:
    verdict = "pass" if result.passed else "FAIL"
    hidden = " (hidden)" if result.hidden else ""
    score = f"{result.points:g}/{result.max_points:g}"
    print(f"  [{verdict}] {result.name}{hidden}  {score}  ({result.seconds:.1f} s)")
    if not result.passed:
        for line in result.message.splitlines():
            print(f"         {line}")
        if result.output:
            print("         what your code printed (first lines):")
            for line in result.output.splitlines()[:5]:
                print(f"           {line}")
    sys.stdout.flush()


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m assignments", description=__doc__)
    verbs = top.add_subparsers(dest="verb", required=True)
    verbs.add_parser("list", help="name the assignments and what each asks for")
    handout = verbs.add_parser("handout", help="write the students' copies (solutions replaced by stubs)")
    handout.add_argument("outdir", type=Path)
    for verb, text in (
        ("check", "run the public checks on a submission"),
        ("grade", "run public and hidden checks and write Gradescope's results.json"),
    ):
        command = verbs.add_parser(verb, help=text)
        command.add_argument("name", help="the assignment, e.g. gru_cell")
        command.add_argument("submission", type=Path, help="the student's file, e.g. gru_cell.py")
        command.add_argument(
            "--time-limit", type=float, default=None, help="seconds per check (overrides each check's own)"
        )
        if verb == "grade":
            command.add_argument("--results", type=Path, required=True, help="where to write results.json")
    autograder = verbs.add_parser("autograder", help="write a Gradescope autograder folder and zip")
    autograder.add_argument("name")
    autograder.add_argument("outdir", type=Path)
    return top


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.verb == "list":
        for name, text in ASSIGNMENTS.items():
            print(f"{name:<10} {text}  ({checklist(name).max_points():g} points)")
        return 0
    if args.verb == "handout":
        for path in write_handout(args.outdir, {n: source(n) for n in ASSIGNMENTS}, ASSIGNMENTS):
            print(f"wrote {path}")
        return 0
    if args.name not in ASSIGNMENTS:
        print(
            f"there is no assignment {args.name!r}; the assignments are {', '.join(ASSIGNMENTS)}",
            file=sys.stderr,
        )
        return 2
    if args.verb == "autograder":
        archive = write_autograder(args.name, args.outdir)
        print(f"wrote {args.outdir}/setup.sh, run_autograder and source/; upload {archive} to Gradescope")
        return 0
    if args.time_limit is not None and not args.time_limit > 0:
        print(f"--time-limit must be a positive number of seconds, got {args.time_limit}", file=sys.stderr)
        return 2
    grading = args.verb == "grade"
    if not args.submission.is_file():
        print(f"there is no file {args.submission}", file=sys.stderr)
        if not grading:
            return 2
    checks = checklist(args.name)
    kind = "public and hidden" if grading else "public"
    print(f"{args.name}: {kind} checks of {args.submission}")
    results = checks.run(args.submission, hidden=grading, time_limit=args.time_limit, on_result=show)
    score, most = sum(r.points for r in results), sum(r.max_points for r in results)
    print(
        f"score: {score:g}/{most:g}" + ("" if grading else " on the public checks (grading adds hidden ones)")
    )
    if grading:
        write_results(results, args.results)
        print(f"wrote {args.results}")
        return 0
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
