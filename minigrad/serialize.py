"""Checkpoints: ``save`` and ``load`` of named numpy arrays in one ``.npz`` file.

A checkpoint holds arrays only and is read with ``allow_pickle=False``, so opening one can
never run code.  Writing goes to a temporary file in the same folder that then replaces the
target in one step (``os.replace``): a crash mid-save leaves the previous checkpoint whole.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


def _arrays_of(obj: Any) -> dict[str, np.ndarray]:
    if hasattr(obj, "state_dict"):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise TypeError(
            f"save: expected a Module, an optimizer or a dict of arrays, got {type(obj).__name__}"
        )
    arrays = {}
    for key, value in obj.items():
        array = np.asarray(value)
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


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write a Module's or optimizer's ``state_dict()``, or a dict of arrays, to ``path``."""
    path = Path(path)
    arrays = _arrays_of(obj)
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"save: the folder {str(folder)!r} does not exist; create it first")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as f:
            # each array written as np.savez would, but by name, so that no key (such as
            # "allow_pickle" or "file") is taken for one of savez's own arguments
            with zipfile.ZipFile(f, "w", allowZip64=True) as archive:
                for key, array in arrays.items():
                    with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, array, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a checkpoint written by ``save`` into a dict of arrays (never unpickling anything)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load: no checkpoint at {str(path)!r}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"load: {str(path)!r} is not a readable .npz checkpoint (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except ValueError as error:  # an object array would need unpickling
        raise ValueError(f"load: {str(path)!r} holds pickled objects, which are refused: {error}") from None
    except (zipfile.BadZipFile, OSError) as error:
        raise ValueError(f"load: {str(path)!r} is not a readable .npz checkpoint: {error}") from None
