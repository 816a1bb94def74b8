"""python -m assignments: list, hand out, check and grade the course assignments."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assignments import ASSIGNMENTS, checklist, source
from assignments.autograder import write_autograder
from assignments.classroom import grade_all
from assignments.handout import write_handout
from minigrad.testing.grading import DEFAULT_BUDGET, CheckResult, SandboxError, feedback, write_results


def show(result: CheckResult) -> None:
    print(feedback([result], "").split("\n", 2)[2], end="", flush=True)


def _grading_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--time-limit", type=float, default=None, help="seconds per check (overrides each check's own)"
    )
    command.add_argument(
        "--budget",
        type=float,
        default=DEFAULT_BUDGET,
        help=f"seconds per submission (default {DEFAULT_BUDGET:g})",
    )


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m assignments", description=__doc__)
    verbs = top.add_subparsers(dest="verb", required=True)
    verbs.add_parser("list", help="name the assignments and what each asks for")
    handout = verbs.add_parser("handout", help="write the students' copies (solutions replaced by stubs)")
    handout.add_argument("outdir", type=Path)
    handout.add_argument("--format", choices=("py", "ipynb"), default="py", help="Python files or notebooks")
    for verb, text in (
        ("check", "run the public checks on a submission (.py or .ipynb)"),
        ("grade", "run public and hidden checks and write Gradescope's results.json"),
    ):
        command = verbs.add_parser(verb, help=text)
        command.add_argument("name", help="the assignment, e.g. gru_cell")
        command.add_argument("submission", type=Path, help="the student's file, e.g. gru_cell.py")
        _grading_options(command)
        if verb == "grade":
            command.add_argument("--results", type=Path, required=True, help="where to write results.json")
    batch = verbs.add_parser("grade-all", help="grade a class: a folder of submissions, a gradebook")
    batch.add_argument("name")
    batch.add_argument(
        "submissions", type=Path, help="one file or folder per student, named by the student's id"
    )
    batch.add_argument(
        "--gradebook", type=Path, required=True, help="the CSV to write: id, each check, total"
    )
    batch.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results and feedback per student (default: beside the gradebook)",
    )
    batch.add_argument(
        "--jobs", type=int, default=None, help="submissions graded at once (default: the cores)"
    )
    _grading_options(batch)
    autograder = verbs.add_parser("autograder", help="write a Gradescope autograder folder and zip")
    autograder.add_argument("name")
    autograder.add_argument("outdir", type=Path)
    return top


def _refuse(args: argparse.Namespace) -> str | None:
    """What is wrong with the arguments, checked before anything is written."""
    if getattr(args, "name", None) is not None and args.name not in ASSIGNMENTS:
        return f"there is no assignment {args.name!r}; the assignments are {', '.join(ASSIGNMENTS)}"
    for option in ("time_limit", "budget"):
        value = getattr(args, option, None)
        if value is not None and not value > 0:
            return f"--{option.replace('_', '-')} must be a positive number of seconds, got {value}"
    if args.verb == "check" and not args.submission.is_file():
        return f"there is no file {args.submission}"
    if args.verb == "grade-all" and not args.submissions.is_dir():
        return f"there is no folder {args.submissions}"
    if args.verb == "grade-all" and args.jobs is not None and args.jobs < 1:
        return f"--jobs must be at least 1, got {args.jobs}"
    return None


def _grade_one(args: argparse.Namespace) -> int:
    grading = args.verb == "grade"
    if grading and not args.submission.is_file():
        print(f"there is no file {args.submission}", file=sys.stderr)
    kind = "public and hidden" if grading else "public"
    print(f"{args.name}: {kind} checks of {args.submission}")
    results = checklist(args.name).run(
        args.submission, hidden=grading, time_limit=args.time_limit, budget=args.budget, on_result=show
    )
    score, most = sum(r.points for r in results), sum(r.max_points for r in results)
    print(
        f"score: {score:g}/{most:g}" + ("" if grading else " on the public checks (grading adds hidden ones)")
    )
    if grading:
        write_results(results, args.results)
        print(f"wrote {args.results}")
        return 0
    return 0 if all(r.passed for r in results) else 1


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    problem = _refuse(args)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    if args.verb == "list":
        for name, text in ASSIGNMENTS.items():
            print(f"{name:<10} {text}  ({checklist(name).max_points():g} points)")
        return 0
    if args.verb == "handout":
        for path in write_handout(args.outdir, {n: source(n) for n in ASSIGNMENTS}, ASSIGNMENTS, args.format):
            print(f"wrote {path}")
        return 0
    if args.verb == "autograder":
        archive = write_autograder(args.name, args.outdir)
        print(f"wrote {args.outdir}/setup.sh, run_autograder and source/; upload {archive} to Gradescope")
        return 0
    try:
        if args.verb == "grade-all":
            out = args.out or args.gradebook.parent / f"{args.name}-results"
            return grade_all(
                args.name, args.submissions, args.gradebook, out, args.jobs, args.time_limit, args.budget
            )
        return _grade_one(args)
    except SandboxError as error:
        print(error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
