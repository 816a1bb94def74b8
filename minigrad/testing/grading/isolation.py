"""Running a submission in a sandboxed child that returns plain data only.

Each check gets a fresh child: ``python -I`` (no user site, no environment variables, no
script or working folder on the import path) in a fresh temporary folder that holds only
the submission and the inputs, in a session of its own.  The grader

- reads what it prints through a pipe, with a deadline, keeping the first ``OUTPUT_LIMIT`` bytes;
- ends the child's whole process group when the check is over or its time is up, and then
  every process that escaped the group: the grader is a child subreaper (Linux), so orphans
  of the check come back to it and are ended too;
- reads back ``reply.json`` and ``outputs.npz`` (no pickles), size-capped, and deletes the folder.

Run as root (as Gradescope's autograder and most CI machines are), the child runs as an
unprivileged user, ``nobody`` unless ``MINIGRAD_SANDBOX_USER`` names another, who cannot
read the grader's files (its checks, references, solutions) nor write its results; that
user must be able to run the Python interpreter.  ``MINIGRAD_SANDBOX_USER=""`` runs the
child as the grader's own user, for a machine that is itself the sandbox.
"""

from __future__ import annotations

import ctypes
import io
import json
import os
import pwd
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

OUTPUT_LIMIT = 4000  # bytes of printed output kept per check
REPLY_LIMIT = 4 * 2**20  # bytes of reply.json read
OUTPUTS_LIMIT = 256 * 2**20  # bytes of outputs.npz read
_GRACE = 0.2  # seconds to drain the output pipe once the child has ended
_PR_SET_CHILD_SUBREAPER = 36


class SandboxError(RuntimeError):
    """The sandbox cannot be set up as asked (a user who cannot run Python, say)."""


@dataclass(frozen=True)
class ChildReport:
    """What came back from one child: its reply and arrays (None when it wrote none)."""

    reply: dict[str, Any] | None
    arrays: dict[str, np.ndarray]
    folder: Path
    output: str
    seconds: float
    timed_out: bool
    exit_code: int | None
    problem: str = ""


@dataclass(frozen=True)
class Sandbox:
    """Where and as whom the child runs.

    Parameters
    ----------
    user : str or None
        The unprivileged user the child runs as (the grader must be root), or None for the
        grader's own user.
    python : str
        The interpreter; it must be able to import minigrad.
    """

    user: str | None = None
    python: str = field(default_factory=lambda: sys.executable)

    @classmethod
    def from_environment(cls) -> Sandbox:
        """``nobody`` (or ``MINIGRAD_SANDBOX_USER``) when the grader is root, else its own user."""
        if os.geteuid() != 0:
            return cls(user=None)
        chosen = os.environ.get("MINIGRAD_SANDBOX_USER", "nobody")
        return cls(user=chosen or None)

    def ids(self) -> tuple[int, int] | None:
        if self.user is None:
            return None
        if os.geteuid() != 0:
            raise SandboxError(f"running student code as {self.user!r} needs the grader to run as root")
        try:
            entry = pwd.getpwnam(self.user)
        except KeyError:
            raise SandboxError(f"there is no user {self.user!r} to run student code as") from None
        return entry.pw_uid, entry.pw_gid

    def verify(self) -> None:
        """Fail with the reason unless the sandbox user can run the interpreter and import minigrad."""
        key = (self.user, self.python)
        if self.user is None or key in _VERIFIED:
            return
        uid, gid = self.ids()  # type: ignore[misc]
        test = [self.python, "-I", "-c", "import minigrad.testing.grading.child"]
        folder = Path(tempfile.mkdtemp(prefix="minigrad-check-"))
        try:
            os.chown(folder, uid, gid)
            run = subprocess.run(
                test, user=uid, group=gid, extra_groups=[], cwd=folder, env=_environment(folder),
                capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            problem = run.stderr.strip().splitlines()[-1:] if run.returncode else []
        except (OSError, subprocess.SubprocessError) as error:
            problem = [str(error)]
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if problem:
            raise SandboxError(
                f"student code runs as the user {self.user!r}, who cannot run {self.python} with minigrad "
                f"({problem[0]}).  Install Python and minigrad where every user can read them (as "
                "Gradescope's /usr/bin/python3 is), name another user in MINIGRAD_SANDBOX_USER, or set "
                "MINIGRAD_SANDBOX_USER='' to run student code as the grader's own user."
            )
        _VERIFIED.add(key)

    def run(
        self,
        files: dict[str, bytes],
        request: dict[str, Any],
        inputs: dict[str, np.ndarray],
        time_limit: float,
    ) -> ChildReport:
        """Write ``files``, the request and the inputs into a fresh folder, run the child there."""
        self.verify()
        ids = self.ids()
        _set_subreaper(True)  # for this check only: the host process is left as it was
        folder = Path(tempfile.mkdtemp(prefix="minigrad-check-"))
        try:
            for name, data in files.items():
                (folder / name).write_bytes(data)
            (folder / "request.json").write_text(json.dumps(request), encoding="utf-8")
            np.savez(folder / "inputs.npz", **inputs)
            if ids is not None:
                for path in (folder, *folder.iterdir()):
                    os.chown(path, *ids)
            return self._child(folder, ids, time_limit)
        finally:
            _set_subreaper(False)
            shutil.rmtree(folder, ignore_errors=True)

    def _child(self, folder: Path, ids: tuple[int, int] | None, time_limit: float) -> ChildReport:
        command = [self.python, "-I", "-m", "minigrad.testing.grading.child", str(folder)]
        drop: dict[str, Any] = {"user": ids[0], "group": ids[1], "extra_groups": []} if ids else {}
        start = time.monotonic()
        child = subprocess.Popen(
            command, cwd=folder, env=_environment(folder), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True, close_fds=True, **drop,
        )  # fmt: skip
        born = _start_ticks(child.pid)
        output, timed_out = _read_until(child, start + time_limit)
        _end_group(child)
        _end_orphans(born)
        seconds = time.monotonic() - start
        reply, arrays, problem = (None, {}, "") if timed_out else _read_reply(folder)
        return ChildReport(reply, arrays, folder, output, seconds, timed_out, child.returncode, problem)


_VERIFIED: set[tuple[str | None, str]] = set()


def _environment(folder: Path) -> dict[str, str]:
    """A small, fixed environment: no PYTHONPATH, numpy's kernels (no compiling), one thread."""
    return {
        "PATH": os.defpath,
        "HOME": str(folder),
        "LANG": "C.UTF-8",
        "MINIGRAD_JIT": "0",
        "NUMBA_CACHE_DIR": str(folder),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def _set_subreaper(on: bool) -> None:
    """While on, orphaned descendants of this process become its children, so they can be ended."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0)


def _read_until(child: subprocess.Popen[bytes], deadline: float) -> tuple[str, bool]:
    """The child's output up to OUTPUT_LIMIT bytes, read until it ends or the deadline passes."""
    assert child.stdout is not None
    kept, dropped = bytearray(), 0
    selector = selectors.DefaultSelector()
    selector.register(child.stdout, selectors.EVENT_READ)
    timed_out, ended_at = False, None
    try:
        while True:
            now = time.monotonic()
            if ended_at is None and child.poll() is not None:
                ended_at = now
            if ended_at is not None and now > ended_at + _GRACE:
                break  # something that outlived the child holds the pipe open
            if ended_at is None and now >= deadline:
                timed_out = True
                break
            if not selector.select(timeout=min(0.05, max(deadline - now, 0.0))):
                continue
            chunk = os.read(child.stdout.fileno(), 65536)
            if not chunk:
                child.wait(max(deadline - time.monotonic(), 0.01))
                break
            room = max(OUTPUT_LIMIT - len(kept), 0)
            kept += chunk[:room]
            dropped += len(chunk) - min(room, len(chunk))
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        selector.close()
        child.stdout.close()
    text = kept.decode("utf-8", errors="replace")
    return text + (f"\n... ({dropped} more bytes of output cut)" if dropped else ""), timed_out


def _end_group(child: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's process group (its session's first group) and reap the child."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child.wait()


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _start_ticks(pid: int) -> int:
    fields = _stat(pid)
    return int(fields[19]) if fields else 0


def _end_orphans(born: int) -> None:
    """End every process that came back to this one (as subreaper) since the child was born."""
    if not Path("/proc/self/stat").exists():
        return
    me = os.getpid()
    for _ in range(100):  # each round ends one generation of escaped descendants
        found = []
        for entry in os.listdir("/proc"):
            fields = _stat(entry) if entry.isdigit() else None
            if fields and int(fields[1]) == me and int(fields[19]) >= born:
                found.append(int(entry))
        if not found:
            return
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


def _read_capped(path: Path, limit: int) -> bytes | None:
    """The bytes of a regular file (never through a link) of at most ``limit`` bytes, or None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not (info.st_mode & 0o170000 == 0o100000) or info.st_size > limit:
            return None
        return file.read(limit + 1)[:limit]


def _read_reply(folder: Path) -> tuple[dict[str, Any] | None, dict[str, np.ndarray], str]:
    raw = _read_capped(folder / "reply.json", REPLY_LIMIT)
    if raw is None:
        return None, {}, ""
    try:
        reply = json.loads(raw)
    except ValueError:
        return None, {}, "the check's process wrote a reply that is not JSON"
    if not isinstance(reply, dict):
        return None, {}, "the check's process wrote a reply that is not a JSON object"
    data = _read_capped(folder / "outputs.npz", OUTPUTS_LIMIT)
    if data is None:
        return None, {}, "the check's process wrote no readable outputs (too large, or not a file)"
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
    except Exception as error:  # a damaged or forged archive
        return None, {}, f"the check's process wrote outputs that cannot be read ({type(error).__name__})"
    return reply, arrays, ""
