"""Hypothesis profiles: "ci" is reproducible and quick, "dev" explores more.

``load_profile()`` picks the profile named by the environment variable
``HYPOTHESIS_PROFILE``; without it, "ci" when the variable ``CI`` is set, else "dev".
The pytest plugin in ``minigrad.testing.plugin`` calls it at the start of every pytest run.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILES = ("ci", "dev", "thorough")

settings.register_profile(
    "ci",
    max_examples=50,
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile("thorough", max_examples=500, deadline=None)


def chosen_profile() -> str:
    """The profile the environment asks for: HYPOTHESIS_PROFILE, else "ci" under CI, else "dev"."""
    return os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")


def load_profile() -> str:
    """Load the profile the environment asks for and return its name."""
    name = chosen_profile()
    if name not in PROFILES:
        raise ValueError(f"HYPOTHESIS_PROFILE={name!r} is not one of minigrad's profiles {PROFILES}")
    settings.load_profile(name)
    return name
