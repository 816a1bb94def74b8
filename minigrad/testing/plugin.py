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

from minigrad.testing.profiles import PROFILES, chosen_profile, load_profile


def pytest_configure(config: Any) -> None:
    if config.getoption("hypothesis_profile", default=None) or chosen_profile() not in PROFILES:
        return
    load_profile()
