"""numpy's own BLAS, called from the fused kernels: one thread pool for every product.

The fused kernels make one small product per step inside their time loops; numpy makes the
big ones around them (the input projection, the weights' gradients) and the rest of the
model's.  Numba's ``np.dot`` would call SciPy's BLAS, a second OpenBLAS with a second pool of
worker threads, and after a product a pool's workers spin for a while, taking the cores the
other pool waits for.  So the kernels call ``gemm`` below, which calls the very functions
numpy's ``@`` calls, in the library numpy loaded: one pool, and the same numbers as ``@``.

Finding numpy's BLAS
--------------------
numpy's extension module is linked against its BLAS, so looking a symbol up through the
extension's handle (``dlsym`` searches a library's dependencies) finds the functions numpy
calls, whichever BLAS that is; where that lookup does not reach dependencies (Windows), the
libraries numpy's wheel bundles in ``numpy.libs`` are searched.  The names differ by build:

* ``scipy_cblas_sgemm64_``: numpy >= 2's wheels (SciPy's OpenBLAS build, 64-bit integers);
* ``cblas_sgemm64_``: older wheels' OpenBLAS with 64-bit integers;
* ``cblas_sgemm``: a numpy built against a system BLAS (Debian's, conda's), 32-bit integers.

The first name found wins, and a product through it must equal numpy's ``@`` before it is
used.  Each function's address is then registered with LLVM under a fixed name
(``minigrad_cblas_sgemm``, ...), which is all a compiled kernel refers to: a kernel loaded
from Numba's cache in a new process finds the new process's numpy there.  If no name is
found, ``require()`` (which every fused op calls first) raises an error naming numpy's BLAS.

Like numpy, ``gemm`` calls gemv when the product has one row or one column, and dot when it
is a single number, so that its results are bit-identical to ``@``.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import llvmlite.binding
import numpy as np
from numba import njit, types
from numba.core.errors import TypingError
from numba.extending import overload

# CBLAS's enums
ROW_MAJOR, COL_MAJOR = 101, 102
NO_TRANS, TRANS = 111, 112

# (name pattern, integer type of the interface), in the order they are tried
NAMES = (("scipy_cblas_{}64_", ctypes.c_int64), ("cblas_{}64_", ctypes.c_int64), ("cblas_{}", ctypes.c_int32))
ROUTINES = ("sgemm", "dgemm", "sgemv", "dgemv", "sdot", "ddot")


def _libraries() -> Iterator[ctypes.CDLL]:
    """Where numpy's BLAS may be looked up: numpy's extension (and through it, on POSIX, the
    libraries it links), then the libraries numpy's wheel bundles."""
    from numpy._core import _multiarray_umath as extension

    yield ctypes.CDLL(extension.__file__)
    bundled = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    for path in sorted(bundled.glob("*blas*")):
        yield ctypes.CDLL(str(path))


def _find() -> tuple[dict[str, int], type, ctypes.CDLL] | None:
    """The addresses of ROUTINES under the first naming scheme found, its integer type, and
    the library that answered."""
    for library in _libraries():
        for pattern, integer in NAMES:
            try:
                functions = {r: getattr(library, pattern.format(r)) for r in ROUTINES}
            except AttributeError:
                continue
            if _computes_like_numpy(functions["dgemm"], integer):
                addresses = {r: ctypes.cast(f, ctypes.c_void_p).value for r, f in functions.items()}
                return addresses, integer, library
    return None


def _computes_like_numpy(dgemm, integer: type) -> bool:
    """Whether ``dgemm`` called through this interface gives numpy's (3, 4) x (4, 2) product."""
    a, b = np.arange(12.0).reshape(3, 4) - 5, np.arange(8.0).reshape(4, 2) / 7
    out = np.full((3, 2), np.nan)
    pointer, i = ctypes.c_void_p, integer
    dgemm.restype = None
    dgemm(ctypes.c_int(ROW_MAJOR), ctypes.c_int(NO_TRANS), ctypes.c_int(NO_TRANS), i(3), i(2), i(4),
          ctypes.c_double(1), pointer(a.ctypes.data), i(4), pointer(b.ctypes.data), i(2),
          ctypes.c_double(0), pointer(out.ctypes.data), i(2))  # fmt: skip
    return bool(np.array_equal(out, a @ b))


def _register() -> tuple[str | None, types.Integer, ctypes.CDLL | None]:
    """Register numpy's BLAS routines with LLVM; returns what went wrong (or None), the
    integer type of their interface and the library that holds them."""
    found = _find()
    if found is None:
        blas = np.__config__.CONFIG.get("Build Dependencies", {}).get("blas", {})
        problem = (
            f"the fused layers call numpy's own BLAS, but none of the CBLAS names "
            f"{[pattern.format('sgemm') for pattern, _ in NAMES]} was found in the BLAS numpy "
            f"links ({blas.get('name', 'unknown')} {blas.get('version', '')}) on {sys.platform}; "
            "run these layers with impl='autograd'"
        )
        return problem, types.int64, None
    addresses, integer, library = found
    for routine, address in addresses.items():
        llvmlite.binding.add_symbol(f"minigrad_cblas_{routine}", address)
    return None, types.int64 if integer is ctypes.c_int64 else types.int32, library


PROBLEM, INTEGER, LIBRARY = _register()

# OpenBLAS's thread-count functions, named as its routines are in each build
THREAD_NAMES = ("scipy_openblas_{}_num_threads64_", "openblas_{}_num_threads64_", "openblas_{}_num_threads")


def _thread_count_functions(library: ctypes.CDLL | None) -> tuple[Any, Any] | None:
    """OpenBLAS's (get, set) of its thread count in ``library``, or None (another BLAS)."""
    for pattern in THREAD_NAMES:
        try:
            get, set_ = getattr(library, pattern.format("get")), getattr(library, pattern.format("set"))
        except (AttributeError, TypeError):
            continue
        get.restype, get.argtypes = ctypes.c_int, []
        set_.restype, set_.argtypes = None, [ctypes.c_int]
        return get, set_
    return None


THREAD_COUNT = _thread_count_functions(LIBRARY)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """numpy's BLAS on one thread (the caller's) while a fused time loop runs.

    A step's product is small, (batch, units) by (units, gates*units), and steps follow each
    other: split over two threads, every product waits for the second thread to be scheduled.
    On a machine whose other core is busy that wait is a scheduler's time slice per step, and
    a training step took many times longer at two threads than at one.  The big products
    around the loop (the input projection, the weights' gradients) keep every thread.  With a
    BLAS other than OpenBLAS, nothing is changed."""
    if THREAD_COUNT is None:
        yield
        return
    get, set_ = THREAD_COUNT
    threads = get()
    if threads > 1:
        set_(1)
    try:
        yield
    finally:
        if threads > 1:
            set_(threads)


def require() -> None:
    """Raise a clear error if numpy's BLAS could not be found (see the module's docstring)."""
    if PROBLEM is not None:
        raise RuntimeError(PROBLEM)


def _externals(real: types.Float) -> tuple[types.ExternalFunction, ...]:
    """gemm, gemv and dot in ``real`` (float32 or float64), as Numba sees the C functions.
    Pointers are passed as integers: the same registers in the C calling convention."""
    enum, n, pointer, prefix = types.int32, INTEGER, types.intp, "s" if real == types.float32 else "d"
    gemm = types.void(enum, enum, enum, n, n, n, real, pointer, n, pointer, n, real, pointer, n)
    gemv = types.void(enum, enum, n, n, real, pointer, n, pointer, n, real, pointer, n)
    dot = real(n, pointer, n, pointer, n)
    return tuple(
        types.ExternalFunction(f"minigrad_cblas_{prefix}{routine}", signature)
        for routine, signature in (("gemm", gemm), ("gemv", gemv), ("dot", dot))
    )


EXTERNALS = {types.float32: _externals(types.float32), types.float64: _externals(types.float64)}


def gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray, beta: float) -> None:
    """out = a @ b + beta * out, in place, with numpy's own BLAS; bit-identical to ``a @ b``
    for beta = 0 (out is then only written).

    a : (m, k), b : (k, n), out : (m, n), one dtype, float32 or float64; each with unit stride
    along one axis (C- or Fortran-ordered, or a block of such an array); out along its last.
    Callable from Numba kernels (``cache=True`` too) and from Python.
    """
    _gemm_compiled(a, b, out, beta)


@njit(inline="always")
def _layout(stride_rows: int, stride_columns: int, itemsize: int) -> tuple[int, int]:
    """(order, leading dimension) of a matrix given its strides in bytes, or (0, 0) if
    neither axis has unit stride."""
    if stride_columns == itemsize:
        return ROW_MAJOR, max(stride_rows // itemsize, 1)
    if stride_rows == itemsize:
        return COL_MAJOR, max(stride_columns // itemsize, 1)
    return 0, 0


@overload(gemm)
def _gemm_typed(a, b, out, beta):
    arrays = (a, b, out)
    if not all(isinstance(x, types.Array) and x.ndim == 2 for x in arrays) or not (
        a.dtype == b.dtype == out.dtype and out.dtype in EXTERNALS
    ):
        raise TypingError(
            f"gemm: a, b and out must be 2-D arrays of one dtype, float32 or float64, got {arrays}"
        )
    gemm_, gemv, dot = EXTERNALS[out.dtype]

    def product(a, b, out, beta):
        m, k = a.shape
        n = b.shape[1]
        if b.shape[0] != k or out.shape[0] != m or out.shape[1] != n:
            raise ValueError("gemm: a (m, k), b (k, n) and out (m, n) do not fit")
        size = out.itemsize
        order_a, lda = _layout(a.strides[0], a.strides[1], size)
        order_b, ldb = _layout(b.strides[0], b.strides[1], size)
        order_out, ldc = _layout(out.strides[0], out.strides[1], size)
        if order_a == 0 or order_b == 0 or order_out != ROW_MAJOR:
            raise ValueError("gemm: a and b need unit stride along one axis, out along its last")
        if m == 0 or n == 0:
            return
        if k == 0:  # BLAS would not read a or b; out = beta out, where beta = 0 overwrites
            if beta == 0:
                out[:] = 0
            else:
                out *= beta
        elif m == 1 and n == 1:  # numpy's dot
            value = dot(k, a.ctypes.data, a.strides[1] // size, b.ctypes.data, b.strides[0] // size)
            out[0, 0] = value if beta == 0 else value + beta * out[0, 0]
        elif m == 1:  # numpy's gemv: b^T a, b read as a (k, n) matrix in its own order
            gemv(order_b, TRANS, k, n, 1, b.ctypes.data, ldb, a.ctypes.data, a.strides[1] // size,
                 beta, out.ctypes.data, out.strides[1] // size)  # fmt: skip
        elif n == 1:  # numpy's gemv: a b, a read as a^T, a (k, m) matrix in the other order
            a_order = COL_MAJOR if order_a == ROW_MAJOR else ROW_MAJOR
            gemv(a_order, TRANS, k, m, 1, a.ctypes.data, lda, b.ctypes.data, b.strides[0] // size,
                 beta, out.ctypes.data, out.strides[0] // size)  # fmt: skip
        else:
            trans_a = NO_TRANS if order_a == ROW_MAJOR else TRANS
            trans_b = NO_TRANS if order_b == ROW_MAJOR else TRANS
            gemm_(ROW_MAJOR, trans_a, trans_b, m, n, k, 1, a.ctypes.data, lda, b.ctypes.data, ldb, beta,
                  out.ctypes.data, ldc)  # fmt: skip

    return product


@njit(cache=True)
def _gemm_compiled(a, b, out, beta):
    gemm(a, b, out, beta)
