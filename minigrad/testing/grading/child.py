"""The sandboxed child: loads the submission, runs the probes on the cases, writes plain data.

Run by the grader as ``python -I -m minigrad.testing.grading.child FOLDER`` in a fresh folder
holding the submission, ``request.json`` (what to call) and ``inputs.npz`` (the arrays).
It writes ``reply.json`` (errors, facts) and ``outputs.npz`` (arrays, no pickles) there and
decides nothing: whatever it writes, the grader checks it against the reference.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import resource
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from minigrad.testing.grading.probes import PROBES
from minigrad.testing.grading.watch import forbidding

MESSAGE_LIMIT = 4000  # characters of an error message kept
FILE_LIMIT = 256 * 2**20  # bytes the child may write in one file
MEMORY_LIMIT = 4 * 2**30  # bytes of address space the child may take once the submission runs


class LoadError(Exception):
    """The submission could not be loaded (an error on import; the grader refused syntax errors)."""


class _RefuseImports(importlib.abc.MetaPathFinder):
    """Refuses, with the reason, the packages an assignment forbids (another autograd, say)."""

    def __init__(self, names: Sequence[str], reason: str) -> None:
        self.names, self.reason = set(names), reason

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname.split(".")[0] in self.names:
            raise ImportError(f"importing {fullname} is not allowed here: {self.reason}")


def describe_error(error: BaseException, path: Path) -> str:
    """An exception told as a student needs it: what, and where in their file (no other file)."""
    if isinstance(error, LoadError | AssertionError):
        text = str(error)
    else:
        where = ""
        for frame, line in traceback.walk_tb(error.__traceback__):
            if Path(frame.f_code.co_filename) == path:
                where = f" (in {frame.f_code.co_name}, line {line} of {path.name})"
        if isinstance(error, NotImplementedError):
            text = f"not written yet: NotImplementedError raised{where}"
        elif isinstance(error, SystemExit):
            text = f"the submission called exit({error.code}){where}"
        else:
            text = f"{type(error).__name__}: {str(error) or '(no message)'}{where}"
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + " ..."


def load_submission(path: Path) -> ModuleType:
    """Import the file at ``path`` as the module ``submission_<stem>``; LoadError says what
    went wrong."""
    name = f"submission_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LoadError(f"{path.name} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as error:  # anything the file does on import
        raise LoadError(f"{path.name} fails when imported: {describe_error(error, path)}") from None
    return module


def _code_files(value: Any) -> set[str]:
    """The files the code of a function (or property, static or class method) was compiled from."""
    for attribute in ("__func__", "fget"):
        value = getattr(value, attribute, value)
    code = getattr(value, "__code__", None)
    return {code.co_filename} if code is not None else set()


def definition(module: ModuleType, name: str, allowed_bases: Sequence[str]) -> dict[str, Any]:
    """Where ``module.name`` comes from: its module, the files of its code, its outside bases."""
    value = getattr(module, name, None)
    if value is None:
        return {"kind": "missing"}
    if isinstance(value, type):
        files, modules, foreign = set(), set(), []
        for cls in value.__mro__:
            qualified = f"{cls.__module__}.{cls.__qualname__}"
            if cls is object or qualified in allowed_bases:
                continue
            modules.add(cls.__module__)
            if cls.__module__ != module.__name__:
                foreign.append(qualified)
            for member in vars(cls).values():
                files |= _code_files(member)
        return {"kind": "class", "modules": sorted(modules), "files": sorted(files), "foreign": foreign}
    files = _code_files(value)
    kind = "function" if files else "other"
    return {"kind": kind, "modules": [getattr(value, "__module__", None) or ""], "files": sorted(files)}


def _locations(modules: Sequence[str]) -> list[str]:
    """The source file, or the folder of a package, of each module named that can be found."""
    places = []
    for name in modules:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin is not None:
            origin = Path(spec.origin)
            places.append(str(origin.parent) + os.sep if spec.submodule_search_locations else str(origin))
    return places


def _checked_outputs(arrays: dict[str, np.ndarray], index: int) -> dict[str, np.ndarray]:
    kept = {}
    for name, array in arrays.items():
        array = np.asarray(array)
        if array.dtype.kind not in "biuf":
            raise AssertionError(f"{name} is not an array of numbers")
        kept[f"{index}.{name}"] = np.array(array, copy=True)
    return kept


def run_cases(request: dict[str, Any], folder: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Load the submission and run every case; stops at the first case that raises."""
    path = folder / request["submission"]
    reply: dict[str, Any] = {"cases": []}
    arrays: dict[str, np.ndarray] = {}
    with np.load(folder / "inputs.npz", allow_pickle=False) as stored:
        inputs = {key: stored[key] for key in stored.files}
    try:
        module = load_submission(path)
    except BaseException as error:
        reply["load_error"] = describe_error(error, path)
        return reply, arrays
    allowed = request.get("allowed_bases", [])
    reply["definitions"] = {n: definition(module, n, allowed) for n in request.get("names", [])}
    seen: list[str] = []
    evaded: list[str] = []
    with forbidding(_locations(request.get("forbidden", [])), path, seen, evaded):
        for k, case in enumerate(request["cases"]):
            own = {name: inputs[f"{k}.{name}"] for name in case["inputs"]}
            try:
                outputs, facts = PROBES[case["probe"]](module, case["params"], own)
                arrays.update(_checked_outputs(outputs, k))
                reply["cases"].append({"error": None, "facts": facts})
            except BaseException as error:
                reply["cases"].append({"error": describe_error(error, path), "facts": {}})
                break
    reply["forbidden_ran"] = seen[0] if seen else None
    reply["evaded_watch"] = evaded[0] if evaded else None
    refused = set(request.get("refuse_imports", []))
    reply["imported"] = sorted(refused & {name.split(".")[0] for name in sys.modules})
    return reply, arrays


def main(folder: Path) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))  # numpy is loaded already
    request = json.loads((folder / "request.json").read_text(encoding="utf-8"))
    if request.get("refuse_imports"):
        sys.meta_path.insert(0, _RefuseImports(request["refuse_imports"], request["refuse_reason"]))
    warnings.simplefilter("ignore")
    np.seterr(divide="warn", over="warn", under="ignore", invalid="warn")
    reply, arrays = run_cases(request, folder)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a submission may have replaced or closed them
            pass
    np.savez(folder / "outputs.npz", **arrays)
    (folder / "reply.json").write_text(json.dumps(reply), encoding="utf-8")
    os._exit(0)  # no interpreter shutdown: nothing the submission registered runs after this


if __name__ == "__main__":
    main(Path(sys.argv[1]))
