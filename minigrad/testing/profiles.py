"""Hypothesis profiles: "ci" is reproducible and quick, "dev" explores more.

``load_profile()`` picks the profile named by the environment variable
``HYPOTHESIS_PROFILE``; without it, "ci" when the variable ``CI`` is set, else "dev".  They
are registered with hypothesis as "minigrad-ci", "minigrad-dev" and "minigrad-thorough", so
that hypothesis's own "ci" profile, which other projects load, stays as it is.  The pytest
plugin in ``minigrad.testing.plugin`` applies them to minigrad's tests and to test modules
that import ``minigrad.testing``, and to no other.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILES = ("ci", "dev", "thorough")


def registered_name(name: str) -> str:
    """The name under which hypothesis knows one of minigrad's profiles."""
    return f"minigrad-{name}"


settings.register_profile(
    registered_name("ci"),
    max_examples=50,
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(registered_name("dev"), max_examples=100, deadline=None)
settings.register_profile(registered_name("thorough"), max_examples=500, deadline=None)


def chosen_profile() -> str:
    """The profile the environment asks for: HYPOTHESIS_PROFILE, else "ci" under CI, else "dev"."""
    return os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")


def load_profile() -> str:
    """Make the profile the environment asks for hypothesis's default and return its name."""
    name = chosen_profile()
    if name not in PROFILES:
        raise ValueError(f"HYPOTHESIS_PROFILE={name!r} is not one of minigrad's profiles {PROFILES}")
    settings.load_profile(registered_name(name))
    return name
