"""A pytest plugin that gives minigrad's hypothesis profiles to the tests that use minigrad.

It is registered through the ``pytest11`` entry point of the installed package, so a test
file of your own that imports ``minigrad.testing`` needs no conftest: gradient checks are
slow next to hypothesis's default 200 ms deadline, and the profiles have none.  They apply
to minigrad's own tests and to test modules that import ``minigrad.testing``; every other
test keeps the settings its project chose (hypothesis's defaults unless it chose).

``@given`` takes hypothesis's default settings when its module is imported, so the plugin
loads minigrad's profile while such a module is collected and restores the previous one
after.  A profile chosen on the command line (``--hypothesis-profile``) wins, and so does a
``HYPOTHESIS_PROFILE`` that names a profile of your own.  Without hypothesis installed the
plugin does nothing.
"""

from __future__ import annotations

import ast
import contextlib
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

_SOURCE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding minigrad/ and tests/


def _active(config: Any) -> bool:
    """True when hypothesis is installed and nobody chose another profile."""
    try:
        from minigrad.testing.profiles import PROFILES, chosen_profile
    except ModuleNotFoundError as missing:
        if missing.name != "hypothesis":
            raise
        return False
    return not config.getoption("hypothesis_profile", default=None) and chosen_profile() in PROFILES


def _imports_minigrad_testing(path: Path) -> bool:
    """Whether the module at ``path`` imports minigrad.testing (or a module of it)."""
    try:
        tree = ast.parse(path.read_bytes(), str(path))
    except (OSError, SyntaxError, ValueError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(_is_testing(a.name) for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if _is_testing(node.module) or (
                node.module == "minigrad" and any(a.name == "testing" for a in node.names)
            ):
                return True
    return False


def _is_testing(module: str) -> bool:
    return module == "minigrad.testing" or module.startswith("minigrad.testing.")


def _own_tests(config: Any) -> bool:
    """Whether this pytest run is minigrad's own (its root is minigrad's source folder)."""
    return Path(config.rootpath).resolve() == _SOURCE_ROOT


@contextlib.contextmanager
def _minigrad_profile() -> Iterator[None]:
    from hypothesis import settings

    from minigrad.testing.profiles import load_profile

    # get_current_profile_name is recent hypothesis; _current_profile is where older ones keep it
    current = getattr(settings, "get_current_profile_name", None)
    previous = current() if current else settings._current_profile
    load_profile()
    try:
        yield
    finally:
        settings.load_profile(previous)


def pytest_configure(config: Any) -> None:
    config._minigrad_profile = _active(config)  # one decision for the whole run
    if config._minigrad_profile and _own_tests(config):
        from minigrad.testing.profiles import load_profile

        load_profile()


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: Any) -> Generator[None, Any, Any]:
    """Collect (import) a test module that imports minigrad.testing under minigrad's profile."""
    config = collector.config
    ours = (
        getattr(config, "_minigrad_profile", False)
        and not _own_tests(config)
        and isinstance(collector, pytest.Module)
        and _imports_minigrad_testing(Path(collector.path))
    )
    if not ours:
        return (yield)
    with _minigrad_profile():
        return (yield)


def pytest_report_header(config: Any) -> str | None:
    """One line at the top of the run: which profile, and how to choose another."""
    if not getattr(config, "_minigrad_profile", False):
        return None
    from hypothesis import settings

    from minigrad.testing.profiles import chosen_profile, registered_name

    name = chosen_profile()
    examples = settings.get_profile(registered_name(name)).max_examples
    scope = "minigrad's tests" if _own_tests(config) else "test modules that import minigrad.testing"
    return (
        f"minigrad: hypothesis profile {name!r} ({examples} examples a property) for {scope}; "
        "HYPOTHESIS_PROFILE=ci (50, derandomized), dev (100) or thorough (500) picks another"
    )
