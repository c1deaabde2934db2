"""Memory checks before any work: what a request needs against its budget and the machine.

A request that cannot fit is refused at once with the estimate and the limit in the message,
instead of a numpy ``MemoryError`` traceback minutes later or a machine swapping in silence.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["available", "check", "check_machine", "describe"]


def describe(nbytes: float) -> str:
    """``nbytes`` for a message: ``"7.45 GiB (8000000000 bytes)"``."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= size:
            return f"{nbytes / size:.3g} {unit} ({int(nbytes)} bytes)"
    return f"{int(nbytes)} bytes"


def available() -> float | None:
    """Memory this process can still take, in bytes: the system's available memory, capped by
    a cgroup (container) limit; ``None`` where neither can be read."""
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(float(line.split()[1]) * 1024)
                break
    except (OSError, ValueError, IndexError):
        pass
    if not found:
        try:
            found.append(float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")))
        except (AttributeError, ValueError, OSError):
            pass
    try:  # cgroup v2: the container's limit minus what it uses
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = float(Path("/sys/fs/cgroup/memory.current").read_text())
            found.append(max(0.0, float(limit) - used))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def check(what: str, *, held: float, per_unit: float, unit: str, budget: float,
          hint: str, unit_hint: str = "") -> None:
    """Refuse (ValueError) a request whose ``held`` bytes (kept for the whole call) plus one
    ``unit`` of working memory (``per_unit`` bytes) exceed ``budget``, or whose ``held`` bytes
    exceed the memory available on the machine.  ``hint`` ends the message, ``unit_hint``
    instead when one unit alone exceeds the budget."""
    need = held + per_unit
    parts = f"{describe(held)} for its results"
    if per_unit:
        parts += f" and {describe(per_unit)} of working memory for one {unit}"
    if need > budget:
        raise ValueError(f"{what} needs about {parts}, beyond memory_budget = "
                         f"{describe(budget)}; {unit_hint if per_unit > budget else hint}")
    free = available()
    if free is not None and held > free:
        raise ValueError(f"{what} needs about {describe(held)} for its results, beyond the "
                         f"{describe(free)} of memory available on this machine; {hint}")


def check_machine(what: str, nbytes: float, hint: str) -> None:
    """Refuse (ValueError) a request of about ``nbytes`` bytes beyond the memory available on
    the machine, before it allocates: the calls without a ``memory_budget`` (the theory, the
    optimizer, the built-in problems) would otherwise grow until the kernel kills them."""
    free = available()
    if free is not None and nbytes > free:
        raise ValueError(f"{what} needs about {describe(nbytes)} of memory, beyond the "
                         f"{describe(free)} available on this machine; {hint}")
