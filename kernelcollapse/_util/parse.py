"""Lists of numbers written as text: ``"0.1,1,10"``, ``"log:1e-4:10:20"``, ``"lin:0:1:5"``.

Shared by the command line (:mod:`kernelcollapse.cli`) and sweep configs
(:mod:`kernelcollapse.sweep`); it sits below both.  Bad text raises ``ValueError``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["int_list", "number_list"]

_FORMS = "comma-separated numbers, 'log:START:STOP:COUNT' or 'lin:START:STOP:COUNT'"


def number_list(text: str) -> np.ndarray:
    """Parse ``"0.1,1,10"``, ``"log:1e-4:10:20"`` (log-spaced) or ``"lin:0:1:5"`` (linear) into
    a non-empty float64 array (an empty list is an error: a grid without points)."""
    text = text.strip()
    spaced = text.startswith(("log:", "lin:"))
    try:
        if spaced:
            kind, a, b, k = text.split(":")
            a, b, k = float(a), float(b), int(k)
            if k < 0 or (kind == "log" and (a <= 0 or b <= 0)):
                raise ValueError
        else:
            items = text.split(",")
            if any(v.strip() for v in items) and not all(v.strip() for v in items):
                # "0.1,,0.2" lost its empty item in silence: a typo, or a value left out
                raise ValueError(f"an empty item in the list {text!r}: write numbers between "
                                 "the commas (e.g. '0.1,0.2')")
            values = np.array([float(v) for v in items if v.strip()], dtype=np.float64)
    except ValueError as exc:
        if str(exc).startswith("an empty item"):
            raise
        raise ValueError(f"expected {_FORMS}, got {text!r}") from None
    if spaced:
        from kernelcollapse._util import memory as _memory

        _memory.check_machine(repr(text), 8 * k, "give a smaller COUNT")
        values = (np.logspace(math.log10(a), math.log10(b), k) if kind == "log"
                  else np.linspace(a, b, k))
    if values.size == 0:
        raise ValueError(f"expected at least one number ({_FORMS}), got {text!r}")
    return values


def int_list(text: str) -> np.ndarray:
    """:func:`number_list` of integer values, as an int64 array."""
    values = number_list(text)
    if not np.all(values == np.round(values)):
        raise ValueError(f"expected integers, got {text!r}")
    # Past 2**63 the cast to int64 wraps round (1e30 became -9.2e18); float64 holds every
    # integer exactly up to 2**53.
    if np.any(np.abs(values) > 2**53):
        raise ValueError(f"expected integers of at most 2**53 = {2**53} in size, got {text!r}")
    return values.astype(np.int64)
