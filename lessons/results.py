"""What each lesson exposes to its tests, saved by the runner so that a lesson runs once.

A lesson ends with ``RESULTS = {...}``: the numbers, arrays and strings its tests check.
``python -m lessons`` saves them as JSON in ``<output folder>/results/<lesson>.json`` with a
fingerprint of the code that made them (every source and data file of minigrad, layers and
lessons).  The tests read a saved file only when its fingerprint is the code's current one,
and run the lesson themselves otherwise, so a result is never stale.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("minigrad", "layers", "lessons")


def fingerprint() -> str:
    """A hash of every .py and .tsv file of the packages, of the kernel choice and of the
    rounding perturbation (``MINIGRAD_INIT_NUDGE``)."""
    float_path = f"{os.environ.get('MINIGRAD_JIT', '1')} {os.environ.get('MINIGRAD_INIT_NUDGE', '0')}"
    digest = hashlib.sha256(float_path.encode())
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*")):
            if path.suffix in (".py", ".tsv") and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(ROOT)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(key): _encode(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"RESULTS can hold numbers, strings, arrays, lists and dicts, not {type(value).__name__}")


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"array", "dtype"}:
            return np.array(value["array"], dtype=value["dtype"])
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def save(stem: str, results: dict[str, Any], folder: Path) -> Path:
    """Write a lesson's RESULTS with the current fingerprint."""
    path = folder / "results" / f"{stem}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"fingerprint": fingerprint(), "results": _encode(results)}), encoding="utf-8")
    return path


def load(stem: str, folder: Path) -> dict[str, Any] | None:
    """A lesson's saved RESULTS, or None when there are none or the code has changed since."""
    path = folder / "results" / f"{stem}.json"
    if not path.is_file():
        return None
    saved = json.loads(path.read_text(encoding="utf-8"))
    return _decode(saved["results"]) if saved.get("fingerprint") == fingerprint() else None
