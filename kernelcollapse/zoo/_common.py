"""Input validation and small helpers shared by the ``kernelcollapse.zoo`` modules.

Each public function validates its arguments once with these helpers, then calls a
trusted private core.  Messages name the argument, the value and the valid range.
"""

from __future__ import annotations

import numbers

import numpy as np


def integer(name: str, value, *, minimum: int) -> int:
    """``value`` as a Python int ``>= minimum`` (``2`` and ``2.0`` accepted, ``2.5`` refused)."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, numbers.Real)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        if not np.isfinite(value) or value != int(value):
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def real(name: str, value, *, low: float | None = None, high: float | None = None,
         low_open: bool = False) -> float:
    """``value`` as a finite float in ``[low, high]`` (``(low, high]`` if ``low_open``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    lo = "-inf" if low is None else repr(low)
    hi = "inf" if high is None else repr(high)
    valid = f"{'(' if low_open or low is None else '['}{lo}, {hi}{']' if high is not None else ')'}"
    if (not np.isfinite(value) or (low is not None and (value < low or (low_open and value == low)))
            or (high is not None and value > high)):
        raise ValueError(f"{name} must be a finite number in {valid}, got {value!r}")
    return value


def float_vector(name: str, value, *, min_length: int = 1) -> np.ndarray:
    """A 1-D float64 array of finite numbers, length ``>= min_length``."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a sequence of numbers, got {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of numbers, got {value!r}") from None
    if arr.ndim != 1 or arr.size < min_length:
        raise ValueError(
            f"{name} must be a 1-D sequence of at least {min_length} numbers, "
            f"got shape {arr.shape}"
        )
    bad = ~np.isfinite(arr)
    if np.any(bad):
        raise ValueError(f"{name} must be finite, got {arr[bad][0]!r} at index "
                         f"{int(np.argmax(bad))}")
    return arr


def probability_vector(name: str, value, *, min_length: int = 2) -> np.ndarray:
    """Non-negative weights summing to 1 (within 1e-9); renormalised exactly."""
    arr = float_vector(name, value, min_length=min_length)
    if np.any(arr < 0):
        i = int(np.argmax(arr < 0))
        raise ValueError(f"{name} must be >= 0, got {arr[i]!r} at index {i}")
    total = arr.sum()
    if abs(total - 1.0) > 1e-9:
        raise ValueError(f"{name} must sum to 1, got sum {total!r}")
    return arr / total


def frequencies(name: str, value) -> np.ndarray:
    """Frequencies in [0, 1] as a float64 array (any shape)."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a number or an array of numbers, got {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or an array of numbers, "
                        f"got {value!r}") from None
    bad = ~np.isfinite(arr) | (arr < 0) | (arr > 1)
    if np.any(bad):
        raise ValueError(f"{name} must be frequencies in [0, 1], got {arr[bad].flat[0]!r}")
    return arr


def generation_list(name: str, value) -> np.ndarray:
    """Non-negative integer generation indices as an int64 array (any shape)."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be an integer or an array of integers, got {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an integer or an array of integers, "
                        f"got {value!r}") from None
    bad = ~np.isfinite(arr) | (arr < 0) | (arr != np.round(arr))
    if np.any(bad):
        raise ValueError(f"{name} must be non-negative integers, got {arr[bad].flat[0]!r}")
    return arr.astype(np.int64)


def progress_bar(total: int, *, enabled: bool, desc: str):
    """A tqdm progress bar (disabled when ``enabled`` is false)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, leave=False)
