"""One BLAS thread inside the library's heavy calls, scoped: restored when the last one returns.

On CPU, jaxlib's LAPACK kernels (Cholesky, eigh, triangular solves) are scipy's, reached
through ``scipy.linalg.cython_lapack``, so they run on the OpenBLAS that scipy bundles; numpy
bundles another.  XLA already runs one program per core (and the simulator one chunk of seeds
per core), and each LAPACK call made from those threads would start OpenBLAS's own threads on
top: the cores are oversubscribed and every call slows down.  The numpy work of the theory and
of the tuning (many small products and factorisations) loses the same way on a busy machine.

OpenBLAS's limit (``openblas_set_num_threads``, set through threadpoolctl) is process-wide, so
it is taken once, when the first of any number of nested or concurrent library calls starts,
and the settings found then are put back when the last of them returns.  Setting and restoring
happen in one short-lived holder thread: threadpoolctl lets only the thread that set a limit
change it again (its "controlling thread"), and the call that started the limit need not be
the one that ends last.  When the user holds a threadpoolctl limit of their own at that moment,
threadpoolctl keeps theirs and the library's call runs under it.  An OpenBLAS built on OpenMP
keeps its limits per thread, which no holder can set for XLA's threads; the pip wheels of
numpy and scipy use pthreads.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

__all__ = ["one_blas_thread", "uses_one_blas_thread"]

F = TypeVar("F", bound=Callable)

_lock = threading.Lock()
_depth = 0  # library calls now inside the limit, all threads together
_holder: _Holder | None = None
_controller = None  # threadpoolctl's view of the loaded libraries, with len(sys.modules) then
_modules_seen = -1


def _controller_now():
    global _controller, _modules_seen
    # scipy's OpenBLAS is loaded by jaxlib's first LAPACK call; load it first so that the
    # limit reaches it even in a fresh process (threadpoolctl only sees loaded libraries).
    import scipy.linalg.cython_lapack  # noqa: F401
    from threadpoolctl import ThreadpoolController

    # Scanning the loaded libraries costs about a millisecond, more than many theory calls; a
    # new BLAS comes with a newly imported extension module, so a scan is redone only when
    # the modules changed.
    if _controller is None or len(sys.modules) != _modules_seen:
        _controller, _modules_seen = ThreadpoolController(), len(sys.modules)
    return _controller


class _Holder:
    """A thread that sets the limit, waits, and restores the settings it found."""

    def __init__(self, controller) -> None:
        self._release = threading.Event()
        ready = threading.Event()
        self._error: BaseException | None = None

        def hold() -> None:
            try:
                with controller.limit(limits=1, user_api="blas"):
                    ready.set()
                    self._release.wait()
            except BaseException as exc:  # handed to the caller, which raises it
                self._error = exc
                ready.set()

        self._thread = threading.Thread(target=hold, name="kernelcollapse-blas", daemon=True)
        self._thread.start()
        ready.wait()
        if self._error is not None:
            raise self._error

    def release(self) -> None:
        self._release.set()
        self._thread.join()
        if self._error is not None:
            raise self._error


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Context manager: every BLAS library of the process at one thread inside; the previous
    settings back when the last concurrent or nested scope exits."""
    global _depth, _holder
    with _lock:
        if _depth == 0:
            _holder = _Holder(_controller_now())
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                holder, _holder = _holder, None
                holder.release()


def uses_one_blas_thread(fn: F) -> F:
    """Decorator: run ``fn`` inside :func:`one_blas_thread`."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with one_blas_thread():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
