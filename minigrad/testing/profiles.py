"""Hypothesis profiles: "ci" is reproducible and quick, "dev" explores more.

``load_profile()`` picks the profile named by the environment variable
``HYPOTHESIS_PROFILE``; without it, "ci" when the variable ``CI`` is set, else "dev".
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

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


def load_profile() -> str:
    """Load the profile the environment asks for and return its name."""
    name = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
    settings.load_profile(name)
    return name
