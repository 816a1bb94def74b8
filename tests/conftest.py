import os

import pytest

from layers import fused
from minigrad import kernels


@pytest.fixture(scope="session", autouse=True)
def compiled_kernels():
    """Compile (or load) every Numba kernel once, before the first test, so that no property
    test's first example pays for compilation."""
    kernels.warm_up()
    fused.warm_up()


@pytest.fixture(scope="session")
def keras():
    """Keras 3 on PyTorch's backend, in float64 (skips the test where it is not installed)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    return keras
