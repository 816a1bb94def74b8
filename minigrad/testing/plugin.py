"""A pytest plugin that loads minigrad's hypothesis profiles in every pytest run.

It is registered through the ``pytest11`` entry point of the installed package, so a test
file of your own that uses ``minigrad.testing`` needs no conftest: gradient checks are slow
next to hypothesis's default 200 ms deadline, and the profiles have none.  A profile chosen
on the command line (``--hypothesis-profile``) wins, and so does a ``HYPOTHESIS_PROFILE``
that names a profile of your own; otherwise that variable or ``CI`` picks one of minigrad's
(see ``minigrad.testing.profiles``).
"""

from __future__ import annotations

from typing import Any

from hypothesis import settings

from minigrad.testing.profiles import PROFILES, chosen_profile, load_profile


def _ours(config: Any) -> bool:
    return not config.getoption("hypothesis_profile", default=None) and chosen_profile() in PROFILES


def pytest_configure(config: Any) -> None:
    if _ours(config):
        load_profile()


def pytest_report_header(config: Any) -> str | None:
    """One line at the top of the run: which profile, and how to choose another."""
    if not _ours(config):
        return None
    name = chosen_profile()
    examples = settings.get_profile(name).max_examples
    return (
        f"minigrad: hypothesis profile {name!r} ({examples} examples a property); "
        "HYPOTHESIS_PROFILE=ci (50, derandomized), dev (100) or thorough (500) picks another"
    )
