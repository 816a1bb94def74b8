"""One thread for the BLAS that the fused kernels call inside their time loops.

Numba's ``np.dot`` calls SciPy's BLAS, while numpy's ``@`` (every other product, and the
fused layers' whole-sequence products) calls numpy's; pip's wheels ship each with its own
OpenBLAS and its own pool of worker threads.  After a product, a pool's workers spin for a
while; on a 2-core machine the other pool's workers then wait for a core, and a training
step that switched pools took 8 ms instead of 3.6 (measured: 50 recurrent products between
two input products).  The products inside the time loop are small (batch x units by units x
gates*units), so SciPy's pool is set to one thread, the caller's: it then never waits.
Where SciPy and numpy share one BLAS library (conda, Debian), nothing is changed.
"""

from __future__ import annotations

import functools
from pathlib import Path


@functools.cache
def use_one_thread_for_step_products() -> tuple[str, ...]:
    """Set SciPy's own BLAS (not numpy's) to one thread; returns the libraries changed.

    The first fused op calls it, once: importing SciPy's BLAS takes about 0.1 s, which a
    program that never runs a fused layer does not pay."""
    import scipy
    import scipy.linalg.cython_blas  # loads the BLAS behind Numba's np.dot
    from threadpoolctl import ThreadpoolController

    scipy_dir = Path(scipy.__file__).resolve().parent
    own = (str(scipy_dir), str(scipy_dir.parent / "scipy.libs"))
    changed = []
    for library in ThreadpoolController().lib_controllers:
        if library.user_api == "blas" and str(Path(library.filepath).resolve()).startswith(own):
            library.set_num_threads(1)
            changed.append(library.filepath)
    return tuple(changed)
