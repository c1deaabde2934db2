"""Float64 for the library's JAX work, scoped: the user's JAX configuration is never touched.

JAX computes in float32 unless ``jax_enable_x64`` is on.  The library's results are float64,
so every public function that runs JAX code runs it inside :func:`float64` (or is decorated
with :func:`uses_float64`): x64 is switched on for the duration of the call, in the calling
thread only, and restored afterwards, whatever the user had set.  Compiled programs are cached
per x64 state, so a function jitted here is compiled once and reused across calls.

The private JAX cores (``_simulator_jax``, ``_random``, ...) assume they run inside such a
scope; they are only called from public functions that open one.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import TypeVar

__all__ = ["float32", "float64", "uses_float64"]

F = TypeVar("F", bound=Callable)


@contextlib.contextmanager
def _x64(enabled: bool) -> Iterator[None]:
    import jax

    scope = getattr(jax, "enable_x64", None)
    if scope is None:  # jax.enable_x64 is new in 0.8; from 0.5.1 (the floor) to 0.7 it was
        # jax.experimental.enable_x64, the same context manager (removed from there in 0.9)
        from jax.experimental import enable_x64 as scope
    with scope(enabled):
        yield


def float64() -> contextlib.AbstractContextManager[None]:
    """Context manager: JAX float64 (x64) on inside, the previous setting restored on exit."""
    return _x64(True)


def float32() -> contextlib.AbstractContextManager[None]:
    """Context manager: JAX x64 off inside (float32 defaults, for the zoo's networks), the
    previous setting restored on exit."""
    return _x64(False)


def uses_float64(fn: F) -> F:
    """Decorator: run ``fn`` inside :func:`float64`."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with float64():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
