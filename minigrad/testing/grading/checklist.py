"""Scored checks of a submission, each run in a sandboxed child and judged in the grader.

A teacher writes a ``Checklist``; each check builds its cases (hypothesis draws them in the
grader, and the reference computes what each output must be)::

    checklist = Checklist(refuse_imports=("torch",))
    checklist.add("Mul: forward", 1, lambda: drawn_cases(pairs, 10, 0, mul_case), names=("Mul",))
    results = checklist.run("student/ops.py")

For each check, the grader sends the cases' inputs to a fresh child (``isolation``), which
loads the submission and returns plain arrays; the grader compares them with the expected
ones (``verdicts``).  Checks are scored separately: one failure never hides another.  Before
anything runs, the grader reads the file once (a notebook's code cells), refuses a syntax
error, an import an assignment forbids, or a graded name the file does not itself define.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minigrad.testing.grading.cases import Case
from minigrad.testing.grading.isolation import ChildReport, Sandbox
from minigrad.testing.grading.submissions import Submission, SubmissionError, read_submission
from minigrad.testing.grading.verdicts import compare, failure, judge_definitions, judge_order

DEFAULT_TIME_LIMIT = 60.0  # seconds per check
DEFAULT_BUDGET = 480.0  # seconds per submission: inside Gradescope's default limit of 10 minutes
BASES = ("minigrad.function.Function",)  # classes a graded class may inherit from


@dataclass(frozen=True)
class Check:
    """One scored check.

    name : what the student sees, e.g. "Mul: gradients"
    points : what passing is worth
    cases : builds the cases (in the grader): inputs and what each output must be
    names : the names of the submission the check grades; each must be defined in its file
    hidden : run only when grading (Gradescope shows them after the due date)
    time_limit : seconds before the check is stopped and fails
    """

    name: str
    points: float
    cases: Callable[[], list[Case]]
    names: tuple[str, ...] = ()
    hidden: bool = False
    time_limit: float = DEFAULT_TIME_LIMIT


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check: points earned, and what the student should read."""

    name: str
    points: float
    max_points: float
    hidden: bool
    passed: bool
    message: str
    output: str
    seconds: float
    skipped: bool = False  # not run: the submission's time budget had run out


class Checklist:
    """The scored checks of one assignment.

    Parameters
    ----------
    forbidden : sequence of str
        Modules whose code the submission must not run (reusing a reference): a check fails
        when their code runs with the submission's code on the call stack.
    refuse_imports : sequence of str
        Packages the submission may not import (another autograd where a backward is asked):
        refused before it runs (its import statements) and while it runs.
    refuse_reason : str
        Why, as the student reads it.
    reproduce : str
        How a student reruns the public checks, e.g. "python -m ... check ops.py".
    """

    def __init__(
        self,
        forbidden: Sequence[str] = (),
        refuse_imports: Sequence[str] = (),
        refuse_reason: str = "",
        reproduce: str = "",
    ) -> None:
        self.checks: list[Check] = []
        self.forbidden = tuple(forbidden)
        self.refuse_imports = tuple(refuse_imports)
        self.refuse_reason = refuse_reason
        self.reproduce = reproduce

    def add(
        self,
        name: str,
        points: float,
        cases: Callable[[], list[Case]],
        names: Sequence[str] = (),
        hidden: bool = False,
        time_limit: float = DEFAULT_TIME_LIMIT,
    ) -> None:
        """Add a check (see ``Check`` for the parameters)."""
        if points <= 0 or not np.isfinite(points):
            raise ValueError(f"check {name!r}: points must be a positive number, got {points}")
        if any(c.name == name for c in self.checks):
            raise ValueError(f"check {name!r} is already in the checklist")
        self.checks.append(Check(name, float(points), cases, tuple(names), hidden, float(time_limit)))

    def max_points(self, hidden: bool = True) -> float:
        return sum(c.points for c in self.checks if hidden or not c.hidden)

    def run(
        self,
        submission: str | Path,
        hidden: bool = True,
        time_limit: float | None = None,
        budget: float = DEFAULT_BUDGET,
        sandbox: Sandbox | None = None,
        on_result: Callable[[CheckResult], None] | None = None,
        only: Sequence[str] = (),
    ) -> list[CheckResult]:
        """Grade the file ``submission`` (.py or .ipynb): the public checks, and the hidden ones
        if ``hidden``; ``only`` keeps the checks so named.

        ``time_limit`` replaces every check's own limit; ``budget`` bounds the whole
        submission (checks left when it runs out fail, marked skipped).  ``on_result`` is
        called with each result as it comes.
        """
        chosen = [c for c in self.checks if (hidden or not c.hidden) and (not only or c.name in only)]
        sandbox = sandbox or Sandbox.from_environment()
        try:
            read = read_submission(submission)
            refusal = self._refusal(read)
        except SubmissionError as error:
            read, refusal = None, str(error)
        start = time.monotonic()
        results = []
        for check in chosen:
            left = budget - (time.monotonic() - start)
            if refusal is not None or read is None:
                result = _result(check, False, refusal or "", "", 0.0)
            elif left <= 0:
                message = f"not run: the time budget of {budget:g} s for this submission ran out"
                result = CheckResult(
                    check.name, 0.0, check.points, check.hidden, False, message, "", 0.0, True
                )
            else:
                limit = min(time_limit if time_limit is not None else check.time_limit, left)
                result = self._run_check(check, read, sandbox, limit)
                if result.message.startswith(f"{read.name} fails when imported"):
                    refusal = result.message  # the file does not load: no use running it again
            results.append(result)
            if on_result is not None:
                on_result(result)
        return results

    def _refusal(self, submission: Submission) -> str | None:
        """Why the file is refused before it runs, or None."""
        problem = submission.syntax_error()
        if problem is not None:
            return problem
        refused = sorted(submission.imported() & set(self.refuse_imports))
        if refused:
            listed = ", ".join(refused)
            return f"{submission.name} imports {listed}, which is not allowed here: {self.refuse_reason}"
        return None

    def _run_check(self, check: Check, submission: Submission, sandbox: Sandbox, limit: float) -> CheckResult:
        missing = [n for n in check.names if n not in submission.defined()]
        if missing:
            message = (
                f"{missing[0]} must be defined in your file with a def or class statement "
                "(the grader grades your own code, not code imported or assigned from elsewhere)"
            )
            return _result(check, False, message, "", 0.0)
        cases = check.cases()
        request = {
            "submission": submission.name,
            "names": list(check.names),
            "allowed_bases": list(BASES),
            "forbidden": list(self.forbidden),
            "refuse_imports": list(self.refuse_imports),
            "refuse_reason": self.refuse_reason,
            "cases": [{"probe": c.probe, "params": c.params, "inputs": list(c.inputs)} for c in cases],
        }
        inputs = {f"{k}.{name}": array for k, c in enumerate(cases) for name, array in c.inputs.items()}
        files = {submission.name: submission.source.encode("utf-8")}
        report = sandbox.run(files, request, inputs, limit)
        passed, message = self._verdict(check, cases, report, submission.name, limit)
        return _result(check, passed, message, report.output, report.seconds)

    def _verdict(
        self, check: Check, cases: list[Case], report: ChildReport, name: str, limit: float
    ) -> tuple[bool, str]:
        """Pass or fail, and why, from what the child sent back."""
        if report.timed_out:
            return False, f"did not finish within {limit:.3g} s (an endless loop, or far too slow)"
        reply = report.reply
        if reply is None:
            extra = f": {report.problem}" if report.problem else ""
            return False, f"the check's process ended without a result (exit code {report.exit_code}){extra}"
        if isinstance(reply.get("load_error"), str):
            return False, reply["load_error"]
        problem = judge_definitions(report, check.names, name)
        if problem is None and reply.get("forbidden_ran"):
            problem = (
                f"your code ran {reply['forbidden_ran']}, which this assignment asks you to write yourself "
                "(build it from the allowed primitives instead of reusing the reference)"
            )
        if problem is None and reply.get("evaded_watch"):
            problem = (
                f"your code {reply['evaded_watch']}; this assignment must see that your code does not "
                "reuse the reference, so it runs only in the grader's sight"
            )
        if problem is None and reply.get("imported"):
            problem = f"your code imported {', '.join(map(str, reply['imported']))}: {self.refuse_reason}"
        if problem is not None:
            return False, problem
        replies = reply.get("cases")
        if not isinstance(replies, list):
            return False, "the check's process sent back no cases"
        for k, case in enumerate(cases):
            problem = self._case_problem(k, case, replies, report)
            if problem is not None:
                return False, failure(case, problem, self._how_to_reproduce(check, name))
        return True, ""

    @staticmethod
    def _case_problem(k: int, case: Case, replies: list, report: ChildReport) -> str | None:
        if k >= len(replies) or not isinstance(replies[k], dict):
            return "no result came back for this case"
        if replies[k].get("error"):
            return str(replies[k]["error"])
        facts = replies[k].get("facts") if isinstance(replies[k].get("facts"), dict) else {}
        for name, expect in case.expect.items():
            got = report.arrays.get(f"{k}.{name}")
            problem = compare(expect, got, facts, name)
            if problem is None and expect.rule == "order" and got is not None:
                problem = judge_order(case.params["graph"], got)
            if problem is not None:
                return problem
        return None

    def _how_to_reproduce(self, check: Check, name: str) -> str:
        if check.hidden:
            return "Call your code on these inputs to see it (hidden checks are not in the public command)."
        if not self.reproduce:
            return ""
        return "Reproduce it with: " + self.reproduce.format(file=name, check=check.name)


def _result(check: Check, passed: bool, message: str, output: str, seconds: float) -> CheckResult:
    points = check.points if passed else 0.0
    return CheckResult(check.name, points, check.points, check.hidden, passed, message, output, seconds)
