"""Checkpoints: ``save`` and ``load`` of named numpy arrays in one ``.npz`` file.

A checkpoint holds arrays only and is read with ``allow_pickle=False``, so opening one can
never run code.  Writing goes to a temporary file in the same folder that then replaces the
target in one step (``os.replace``): a crash mid-save leaves the previous checkpoint whole.
The temporary file is removed when the save fails; one left by a process that was killed
(SIGKILL, power loss) is removed by the next save to the same path.

Each array is stored as the member ``<name>.npy``, as ``np.savez`` does, with the name
percent-encoded as in a URL (``%`` , ``/``, ``\\``, NUL, spaces and non-ASCII characters
become ``%XX``), so that every name comes back exactly: names made of letters, digits and
``._-~`` (every Module's) are stored as they are, and ``np.load`` reads them too.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, unquote

import numpy as np

from minigrad.tensor import Tensor

try:  # POSIX: a writer holds a lock on its temporary file, so that other saves can tell
    import fcntl  # a live writer's file from one left by a killed process
except ImportError:  # Windows: an open file cannot be deleted, which protects a live writer
    fcntl = None  # type: ignore[assignment]

_TEMPORARY_TOKEN = re.compile(r"[A-Za-z0-9_]+")


def _arrays_of(obj: Any) -> dict[str, np.ndarray]:
    if hasattr(obj, "state_dict"):
        obj = obj.state_dict()
    if not isinstance(obj, Mapping):
        raise TypeError(
            f"save: expected a Module, an optimizer or a dict of arrays, got {type(obj).__name__}"
        )
    arrays = {}
    for key, value in obj.items():
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
        if not isinstance(key, str) or array.dtype.kind not in "biuf":
            raise TypeError(
                f"save: entry {key!r} must be a numeric array under a string name, got {array.dtype}"
            )
        arrays[key] = array
    return arrays


def entry_problems(expected: Mapping[str, tuple[int, ...]], values: Mapping[str, Any]) -> list[str]:
    """What is wrong with named arrays against the expected names and shapes: every missing,
    unexpected, wrongly shaped or non-numeric entry, each described in words."""
    problems = [f"missing {name!r}" for name in expected if name not in values]
    problems += [f"unexpected {name!r}" for name in values if name not in expected]
    for name, shape in expected.items():
        if name in values:
            array = np.asarray(values[name])
            if array.shape != tuple(shape):
                problems.append(f"{name!r} has shape {array.shape}, expected {tuple(shape)}")
            elif array.dtype.kind not in "biuf":
                problems.append(f"{name!r} has dtype {array.dtype}, expected numbers")
    return problems


def _member_name(key: str) -> str:
    return quote(key, safe="", errors="surrogatepass") + ".npy"


def _key_of(member: str) -> str:
    return unquote(member.removesuffix(".npy"), errors="surrogatepass")


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write a Module's or optimizer's ``state_dict()``, or a dict of arrays, to ``path``.

    The file gets the permissions any new file gets (0644 under the usual umask 022), or
    keeps those of the checkpoint it replaces, as ``np.save`` and ``torch.save`` do.
    """
    path = Path(path)
    arrays = _arrays_of(obj)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"save: the folder {str(path.parent)!r} does not exist; create it first")
    if path.is_dir():
        raise IsADirectoryError(f"save: {str(path)!r} is a folder; give a file name such as model.npz")
    _remove_abandoned_temporaries(path)
    with _temporary_beside(path) as (f, temporary):
        # each array written as np.savez would, but by name, so that no key (such as
        # "allow_pickle" or "file") is taken for one of savez's own arguments
        with zipfile.ZipFile(f, "w", allowZip64=True) as archive:
            for key, array in arrays.items():
                with archive.open(_member_name(key), "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, array, allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())
        if fcntl is not None:  # replaced while still locked: no other save can take it for abandoned
            os.replace(temporary, path)
    if fcntl is None:  # Windows cannot replace a file that is still open
        os.replace(temporary, path)


@contextmanager
def _temporary_beside(path: Path) -> Iterator[tuple[IO[bytes], Path]]:
    """A new, locked temporary file next to ``path``, removed if the block fails."""
    kept_mode = stat.S_IMODE(path.stat().st_mode) if path.is_file() else None
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        handle = os.open(temporary, flags, 0o666 if kept_mode is None else kept_mode)  # less the umask
        if fcntl is None:
            break
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            if os.path.samestat(os.fstat(handle), os.stat(temporary)):
                break
        except FileNotFoundError:  # another save took it for abandoned before it was locked
            pass
        os.close(handle)
    try:
        if kept_mode is not None and hasattr(os, "fchmod"):
            os.fchmod(handle, kept_mode)  # exactly the replaced file's mode, whatever the umask
        with os.fdopen(handle, "wb") as f:
            yield f, temporary
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _remove_abandoned_temporaries(path: Path) -> None:
    """Delete temporary files of earlier saves to ``path`` whose writer is gone (killed
    mid-save); a save still running holds a lock on its file and keeps it."""
    prefix = f".{path.name}."
    for entry in os.scandir(path.parent):
        if not (entry.name.startswith(prefix) and entry.name.endswith(".tmp")):
            continue
        token = entry.name[len(prefix) : -len(".tmp")]
        if not _TEMPORARY_TOKEN.fullmatch(token) or not entry.is_file(follow_symlinks=False):
            continue
        if fcntl is None:
            try:
                os.unlink(entry.path)  # fails while a live save has it open
            except OSError:
                pass
            continue
        try:
            handle = os.open(entry.path, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(entry.path)
        except OSError:  # locked by a live save, or removed meanwhile
            pass
        finally:
            os.close(handle)


def load(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a checkpoint written by ``save`` into a dict of arrays (never unpickling anything).

    A damaged or truncated file is a ValueError naming the file and, where the damage lies
    in one array, that array's name.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load: no checkpoint at {str(path)!r}")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ValueError(
            f"load: {str(path)!r} is not a readable .npz checkpoint: the file is truncated, damaged "
            f"or not a zip archive ({error})"
        ) from None
    with archive:
        arrays: dict[str, np.ndarray] = {}
        for info in archive.infolist():
            key = _key_of(info.filename)
            if not info.filename.endswith(".npy"):
                raise ValueError(f"load: {str(path)!r} holds {info.filename!r}, which is not an array (.npy)")
            if key in arrays:
                raise ValueError(f"load: {str(path)!r} holds the array {key!r} twice")
            arrays[key] = _read_member(archive, info, f"load: {str(path)!r}: the array {key!r}")
    return arrays


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, owner: str) -> np.ndarray:
    try:
        with archive.open(info) as member:
            return np.lib.format.read_array(member, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        if _holds_objects(archive, info):
            raise ValueError(f"{owner} holds pickled objects, which are refused") from None
        raise ValueError(f"{owner} is damaged or truncated ({error})") from None


def _holds_objects(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Whether the member's header, read alone, declares an object (pickled) array."""
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    try:
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            _, _, dtype = readers[version](member)
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error):
        return False
    return dtype.hasobject
