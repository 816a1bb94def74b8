"""Scored checks of a student's submission, each in a process of its own, with a time limit.

A teacher writes a ``Checklist``; each check is a function that takes the student's module,
loaded from their file, and fails by raising (an ``AssertionError`` with a message the
student can act on, usually)::

    checklist = Checklist(forbidden=("layers",))

    @checklist.check(points=2)
    def mul_forward(submission):
        Mul = require(submission, "Mul")
        ...

    results = checklist.run("student/ops.py")
    write_results(results, "results.json")  # Gradescope's format

Every check runs in a fresh child process (a fork of the grader) that loads the file anew:

- a check that does not finish within its time limit is stopped and loses its points;
- what the submission changes (numpy's error settings, minigrad's grad mode, globals) is
  gone for the next check;
- an exception anywhere in the submission, a syntax error, a missing name or ``exit()``
  is a failed check with a readable message, never a crash of the grader;
- what the submission prints is kept, up to ``OUTPUT_LIMIT`` characters.

Checks are scored separately: one failure never hides another.  Forking needs Linux or
macOS, which is where Gradescope and most course machines run.
"""

from __future__ import annotations

import importlib.util
import io
import json
import multiprocessing
import os
import sys
import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from minigrad import ops
from minigrad.function import Function
from minigrad.tensor import Tensor

OUTPUT_LIMIT = 4000  # characters of printed output and of a message kept per check
DEFAULT_TIME_LIMIT = 60.0  # seconds per check

# the primitive ops a "primitives only" check accepts: the Function classes of minigrad.ops
PRIMITIVES = frozenset(
    cls
    for cls in vars(ops).values()
    if isinstance(cls, type) and issubclass(cls, Function) and cls is not Function
)


class SubmissionError(Exception):
    """The submission could not be loaded (no file, a syntax error, an error on import)."""


@dataclass(frozen=True)
class Check:
    """One scored check.

    Parameters
    ----------
    name : str
        What the student sees, e.g. "Mul: gradients (hypothesis)".
    points : float
        What passing is worth.
    function : callable
        ``function(submission_module)``; returns to pass, raises to fail.
    hidden : bool
        Hidden checks run only when grading (Gradescope shows them after the due date).
    time_limit : float
        Seconds before the check is stopped and fails.
    """

    name: str
    points: float
    function: Callable[[ModuleType], None]
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


class Checklist:
    """The scored checks of one assignment.

    Parameters
    ----------
    forbidden : sequence of str
        Modules (or packages) whose code the submission must not run, e.g. ``"layers"`` (the
        reference cells) or ``"minigrad.ops"`` (for an assignment that writes the ops).  A
        check fails when code of theirs runs while the submission's own code is on the call
        stack: this catches reuse of a reference however it was reached, though not a
        determined attacker (who can also read files).
    """

    def __init__(self, forbidden: Sequence[str] = ()) -> None:
        self.checks: list[Check] = []
        self.forbidden = tuple(forbidden)

    def add(
        self,
        name: str,
        points: float,
        function: Callable[[ModuleType], None],
        hidden: bool = False,
        time_limit: float = DEFAULT_TIME_LIMIT,
    ) -> None:
        """Add a check (see ``Check`` for the parameters)."""
        if points <= 0 or not np.isfinite(points):
            raise ValueError(f"check {name!r}: points must be a positive number, got {points}")
        if any(c.name == name for c in self.checks):
            raise ValueError(f"check {name!r} is already in the checklist")
        self.checks.append(Check(name, float(points), function, hidden, float(time_limit)))

    def check(
        self,
        points: float,
        name: str | None = None,
        hidden: bool = False,
        time_limit: float = DEFAULT_TIME_LIMIT,
    ) -> Callable[[Callable[[ModuleType], None]], Any]:
        """Decorator form of ``add``; the name defaults to the function's name."""

        def register(function: Callable[[ModuleType], None]) -> Callable[[ModuleType], None]:
            self.add(name or function.__name__, points, function, hidden, time_limit)
            return function

        return register

    def max_points(self, hidden: bool = True) -> float:
        return sum(c.points for c in self.checks if hidden or not c.hidden)

    def run(
        self,
        submission: str | Path,
        hidden: bool = True,
        time_limit: float | None = None,
        on_result: Callable[[CheckResult], None] | None = None,
    ) -> list[CheckResult]:
        """Grade the file ``submission``: every public check, and the hidden ones if ``hidden``.

        ``time_limit`` replaces every check's own limit when given.  ``on_result`` is called
        with each result as it comes (to print progress).  A submission that cannot be loaded
        fails every check with the reason, without running them.
        """
        path = Path(submission).resolve()
        chosen = [c for c in self.checks if hidden or not c.hidden]
        load = Check("load the submission", 1.0, lambda module: None, time_limit=time_limit or 30.0)
        loaded = _run_isolated(load, path, self.forbidden)
        results = []
        for check in chosen:
            if loaded.passed:
                limit = time_limit if time_limit is not None else check.time_limit
                result = _run_isolated(
                    Check(check.name, check.points, check.function, check.hidden, limit), path, self.forbidden
                )
            else:
                result = CheckResult(
                    check.name, 0.0, check.points, check.hidden, False, loaded.message, loaded.output, 0.0
                )
            results.append(result)
            if on_result is not None:
                on_result(result)
        return results


def load_submission(path: str | Path) -> ModuleType:
    """Import the file at ``path`` as a fresh module; SubmissionError says what went wrong."""
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"there is no file {path}")
    name = f"submission_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SubmissionError(f"{path} cannot be imported as a Python module (is it a .py file?)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        raise SubmissionError(
            f"{path.name} has a syntax error at line {error.lineno}: {error.msg}\n"
            f"    {(error.text or '').strip()}"
        ) from None
    except BaseException as error:  # anything the file does on import
        raise SubmissionError(f"{path.name} fails when imported: {describe_error(error, path)}") from None
    return module


def require(submission: ModuleType, name: str) -> Any:
    """``submission.name``, or an AssertionError saying the assignment asks for it."""
    if not hasattr(submission, name):
        raise AssertionError(f"the submission defines no {name!r}; the assignment asks for it by that name")
    return getattr(submission, name)


def describe_error(error: BaseException, path: Path) -> str:
    """An exception told as a student needs it: what, and where in their file."""
    if isinstance(error, SubmissionError | AssertionError):
        return str(error)
    where = ""
    for frame, line in traceback.walk_tb(error.__traceback__):
        if Path(frame.f_code.co_filename) == path:
            where = f" (in {frame.f_code.co_name}, line {line} of {path.name})"
    if isinstance(error, NotImplementedError):
        return f"not written yet: NotImplementedError raised{where}"
    if isinstance(error, SystemExit):
        return f"the submission called exit({error.code}){where}"
    text = str(error) or "(no message)"
    return f"{type(error).__name__}: {text}{where}"


def _clip(text: str) -> str:
    return (
        text
        if len(text) <= OUTPUT_LIMIT
        else text[:OUTPUT_LIMIT] + f"\n... ({len(text) - OUTPUT_LIMIT} more characters cut)"
    )


def _run_isolated(check: Check, path: Path, forbidden: Sequence[str]) -> CheckResult:
    """Run one check in a forked child with its output captured and its time limited."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    read_fd, write_fd = os.pipe()
    printed = _BoundedReader(read_fd)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    child = context.Process(target=_child, args=(check, path, forbidden, sender, write_fd), daemon=True)
    start = time.perf_counter()
    with warnings.catch_warnings():  # Python 3.12+ warns about forking a process with threads
        warnings.simplefilter("ignore", DeprecationWarning)
        child.start()
    os.close(write_fd)
    sender.close()
    printed.start()
    child.join(check.time_limit)
    timed_out = child.is_alive()
    if timed_out:
        child.kill()
        child.join()
    seconds = time.perf_counter() - start
    verdict = None
    if not timed_out and receiver.poll():
        try:
            verdict = receiver.recv()
        except EOFError:  # the child ended (os._exit, a crash) before sending
            pass
    receiver.close()
    printed.join()
    if timed_out:
        passed, message = (
            False,
            f"did not finish within {check.time_limit:g} s (an endless loop, or far too slow)",
        )
    elif verdict is None:
        passed, message = False, f"the check's process ended without a verdict (exit code {child.exitcode})"
    else:
        passed, message = verdict
    points = check.points if passed else 0.0
    return CheckResult(
        check.name, points, check.points, check.hidden, passed, message, printed.text(), seconds
    )


class _BoundedReader(threading.Thread):
    """Reads a pipe to its end, keeping the first OUTPUT_LIMIT bytes and counting the rest."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd, self.kept, self.dropped = fd, bytearray(), 0

    def run(self) -> None:
        with os.fdopen(self.fd, "rb") as pipe:
            while chunk := pipe.read1(65536):
                room = max(OUTPUT_LIMIT - len(self.kept), 0)
                self.kept += chunk[:room]
                self.dropped += len(chunk) - min(room, len(chunk))

    def text(self) -> str:
        text = self.kept.decode("utf-8", errors="replace")
        return text + (f"\n... ({self.dropped} more bytes of output cut)" if self.dropped else "")


def _child(check: Check, path: Path, forbidden: Sequence[str], sender: Any, write_fd: int) -> None:
    """In the child: capture output, start from default global state, load, check, report."""
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), line_buffering=True)
    sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", closefd=False), line_buffering=True)
    warnings.resetwarnings()
    warnings.simplefilter("ignore")
    np.seterr(divide="warn", over="warn", under="ignore", invalid="warn")
    try:
        module = load_submission(path)
        with _forbidding(_locations(forbidden), path):
            check.function(module)
        verdict = (True, "")
    except BaseException as error:
        verdict = (False, _clip(describe_error(error, path)))
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a submission may have replaced or closed them
            pass
    sender.send(verdict)
    sender.close()


def _locations(modules: Sequence[str]) -> list[str]:
    """The source file, or the folder of a package, of each module named."""
    places = []
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ValueError(f"forbidden module {name!r} cannot be found")
        origin = Path(spec.origin)
        places.append(str(origin.parent) + os.sep if spec.submodule_search_locations else str(origin))
    return places


@contextmanager
def _forbidding(places: list[str], path: Path) -> Iterator[None]:
    """Fail the check when code from ``places`` runs with the submission's code on the stack."""
    if not places:
        yield
        return
    own, prefixes = str(path), tuple(places)
    depth = 0  # how many of the submission's frames are on the stack
    seen: list[str] = []

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal depth
        if event == "call":
            callee = frame.f_code.co_filename
            if callee == own:
                depth += 1
            elif depth and not seen and callee.startswith(prefixes):
                place = next(p for p in places if callee.startswith(p))
                where = os.path.relpath(callee, os.path.dirname(place.rstrip(os.sep)))
                seen.append(f"{getattr(frame.f_code, 'co_qualname', frame.f_code.co_name)} of {where}")
        elif event == "return" and frame.f_code.co_filename == own:
            depth -= 1

    previous = sys.getprofile()
    sys.setprofile(hook)
    try:
        yield
    except BaseException:
        if not seen:
            raise
    finally:
        sys.setprofile(previous)
    if seen:  # said first, even when the borrowed code then failed in some other way
        raise AssertionError(
            f"your code ran {seen[0]}, which this assignment asks you to write yourself "
            "(build it from the allowed primitives instead of reusing the reference)"
        )


def primitives_only(output: Tensor | Sequence[Tensor], allowed: frozenset[type] = PRIMITIVES) -> None:
    """Walk the graph that made ``output`` and fail on any op that is not a minigrad primitive.

    A fused op (a whole recurrent layer, a fused loss) or an op of the student's own making
    is named in the message.
    """
    stack = list(output) if isinstance(output, Sequence) else [output]
    seen: set[int] = set()
    others: set[str] = set()
    while stack:
        tensor = stack.pop()
        if id(tensor) in seen or not isinstance(tensor, Tensor):
            continue
        seen.add(id(tensor))
        fn = tensor.grad_fn
        if fn is not None:
            if type(fn) not in allowed:
                others.add(f"{type(fn).__module__}.{type(fn).__name__}")
            stack.extend(fn.parents)
    if others:
        raise AssertionError(
            f"the result was computed with {', '.join(sorted(others))}, which is not one of minigrad's "
            "primitive ops (minigrad.ops: add, mul, matmul, sigmoid, tanh, getitem, ...); build it from those"
        )


def describe_case(case: Any) -> str:
    """A drawn example told by its shapes (arrays) or values (numbers), for failure messages."""
    if isinstance(case, Mapping):
        return ", ".join(f"{name} {describe_case(value)}" for name, value in case.items())
    if isinstance(case, np.ndarray | Tensor):
        return f"{case.dtype} {tuple(case.shape)}"
    return repr(case)


def prove(
    property_fn: Callable[[Any], None], strategy: st.SearchStrategy[Any], examples: int, seed: int
) -> None:
    """Run ``property_fn(case)`` on ``examples`` cases that hypothesis draws from ``strategy``.

    The same seed draws the same cases, so a student's run is repeatable; a grader's hidden
    checks use other seeds and more examples.  An AssertionError names the case it failed on
    (``describe_case``); other exceptions pass through as they are.
    """

    @hypothesis_seed(seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        report_multiple_bugs=False,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        try:
            property_fn(case)
        except AssertionError as error:
            raise AssertionError(f"{error}\n  on the case: {describe_case(case)}") from None

    run()


def gradescope_results(results: Sequence[CheckResult]) -> dict[str, Any]:
    """The results in Gradescope's ``results.json`` format."""
    tests = []
    for r in results:
        output = "passed" if r.passed else r.message
        if r.output:
            output += f"\n\nwhat your code printed:\n{r.output}"
        tests.append(
            {
                "name": r.name,
                "score": r.points,
                "max_score": r.max_points,
                "status": "passed" if r.passed else "failed",
                "output": output,
                "visibility": "after_due_date" if r.hidden else "visible",
            }
        )
    return {
        "score": sum(r.points for r in results),
        "execution_time": round(sum(r.seconds for r in results), 3),
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def write_results(results: Sequence[CheckResult], path: str | Path) -> None:
    """Write Gradescope's ``results.json`` (the folder is made if missing)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(gradescope_results(results), indent=2) + "\n", encoding="utf-8")
