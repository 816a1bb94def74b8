import pytest

from minigrad import kernels


@pytest.fixture(scope="session", autouse=True)
def compiled_kernels():
    """Compile (or load) every Numba kernel once, before the first test, so that no property
    test's first example pays for compilation."""
    kernels.warm_up()
