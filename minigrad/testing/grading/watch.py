"""Watching the submission run: the first code of a forbidden reference it reaches, and any
attempt to run code out of the watch's sight.

The watch is a profile function (``sys.setprofile``): it sees every Python call, and notes the
first one into a forbidden place made while the submission's code is on the stack.  Running
in the submission's own process, it could be switched off, so four things guard it:

* ``sys.setprofile`` and ``threading.setprofile`` are taken when this module is imported,
  before any submission code runs: a submission that replaces them changes nothing here;
* an audit hook (``sys.addaudithook``; Python code cannot remove one) sees every call of the
  real ``sys.setprofile``: one made while the submission runs, other than by a new thread
  taking the watch, is noted as switching the watch off;
* threads get the watch too: threading's (through ``threading.setprofile``, checked each time
  the submission's code is called) and raw ones (``_thread.start_new_thread`` is wrapped while
  the watch runs);
* the audit hook notes any process started (``subprocess``, ``os.system``, ``os.fork``,
  ``os.exec*``, ``os.posix_spawn``, ``os.spawn*``): code run there is out of sight.

What it notes fails the check.  It cannot prove that no reference ran: code in the
submission's process can also forge the child's whole reply, with numbers a reference computed,
or carry a reference's source copied in.  The numbers are judged in the grader's process, so a
forged reply earns marks only with right numbers; reuse that hides this well is for a teacher's
reading of the code, as copying is.
"""

from __future__ import annotations

import _thread
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

_SET_PROFILE = sys.setprofile
_SET_THREAD_PROFILE, _GET_THREAD_PROFILE = threading.setprofile, threading.getprofile
_START_THREAD = _thread.start_new_thread
PROCESS_EVENTS = (
    "subprocess.Popen",
    "os.system",
    "os.fork",
    "os.forkpty",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
)
GRADER = str(Path(__file__).parent) + os.sep  # this package's own code is not a reference


class _Watch:
    """The state the audit hook reads: whether a submission is being watched, and how it
    evaded the watch."""

    def __init__(self) -> None:
        self.evaded: list[str] | None = None  # a list while watching
        self.hook: Any = None  # the profile function while watching
        self.own_switch = False  # the grader itself is setting the profile function

    def note(self, what: str) -> None:
        if self.evaded is not None and not self.evaded:
            self.evaded.append(what)

    def audit(self, event: str, args: tuple[Any, ...]) -> None:
        if self.evaded is None or self.own_switch:
            return
        if event == "sys.setprofile" and not _called_by_thread_start():
            self.note("switched off the grader's watch (sys.setprofile)")
        elif event.startswith(PROCESS_EVENTS):
            self.note(f"started a process ({event}), where the grader cannot watch it")


_WATCH = _Watch()
sys.addaudithook(_WATCH.audit)


def _called_by_thread_start() -> bool:
    """Whether sys.setprofile was called to give a new thread the watch (by threading, or by
    ``_watched_start``)."""
    code = sys._getframe(2).f_code  # above this function and _Watch.audit: sys.setprofile's caller
    starters = ((threading.__file__, "_bootstrap_inner"), (__file__, "watched"))
    return (code.co_filename, code.co_name) in starters


def _watched_start(function: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None) -> int:
    """``_thread.start_new_thread`` whose thread runs ``function`` under the watch."""
    hook = _WATCH.hook

    def watched() -> None:
        _SET_PROFILE(hook)
        function(*args, **(kwargs or {}))

    return _START_THREAD(watched, ())


@contextmanager
def forbidding(places: list[str], path: Path, seen: list[str], evaded: list[str]) -> Iterator[None]:
    """Note in ``seen`` the first code from ``places`` that runs with the submission's code
    (the file ``path``) on the stack, and in ``evaded`` the first attempt to run code out of
    the watch's sight."""
    if not places:
        yield
        return
    own, prefixes = str(path), tuple(places)
    depth = 0  # how many of the submission's frames are on the stack

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal depth
        if event == "call":
            callee = frame.f_code.co_filename
            if callee == own:
                depth += 1
                if _GET_THREAD_PROFILE() is not hook:
                    _WATCH.note("switched off the grader's watch of threads (threading.setprofile)")
            elif depth and not seen and callee.startswith(prefixes) and not callee.startswith(GRADER):
                place = next(p for p in places if callee.startswith(p))
                where = os.path.relpath(callee, os.path.dirname(place.rstrip(os.sep)))
                seen.append(f"{getattr(frame.f_code, 'co_qualname', frame.f_code.co_name)} of {where}")
        elif event == "return" and frame.f_code.co_filename == own:
            depth -= 1

    _switch(hook)
    _WATCH.evaded, _WATCH.hook = evaded, hook
    try:
        yield
    finally:
        _WATCH.evaded = _WATCH.hook = None
        _switch(None)


def _switch(hook: Any) -> None:
    """Set (or clear, with None) the profile function of this thread and of threads started
    later, and wrap (or unwrap) the raw thread start."""
    _WATCH.own_switch = True
    try:
        _SET_THREAD_PROFILE(hook)
        _SET_PROFILE(hook)
        start = _START_THREAD if hook is None else _watched_start
        _thread.start_new_thread = threading._start_new_thread = start
    finally:
        _WATCH.own_switch = False
