"""Input validation shared by the public functions (one place, clear messages)."""

from __future__ import annotations

import numbers

import numpy as np


def as_float_array(name: str, value) -> np.ndarray:
    """``value`` as a float64 array, or a TypeError naming ``name``."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a number or an array of numbers, got {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or an array of numbers, got {value!r}") from None
    return arr


def _describe(arr: np.ndarray, bad: np.ndarray) -> str:
    """The first offending value, for the message."""
    first = arr[bad].flat[0].item() if arr.ndim else arr.item()
    where = "" if arr.ndim == 0 else f" (at index {tuple(int(i) for i in np.argwhere(bad)[0])})"
    return f"{first!r}{where}"


def check_finite(name: str, arr: np.ndarray) -> np.ndarray:
    bad = ~np.isfinite(arr)
    if np.any(bad):
        raise ValueError(f"{name} must be finite, got {_describe(arr, bad)}")
    return arr


def nonnegative(name: str, value) -> np.ndarray:
    arr = check_finite(name, as_float_array(name, value))
    bad = arr < 0
    if np.any(bad):
        raise ValueError(f"{name} must be >= 0, got {_describe(arr, bad)}")
    return arr


def positive(name: str, value) -> np.ndarray:
    arr = check_finite(name, as_float_array(name, value))
    bad = arr <= 0
    if np.any(bad):
        raise ValueError(f"{name} must be > 0, got {_describe(arr, bad)}")
    return arr


def probability(name: str, value) -> np.ndarray:
    arr = check_finite(name, as_float_array(name, value))
    bad = (arr < 0) | (arr > 1)
    if np.any(bad):
        raise ValueError(f"{name} must lie in [0, 1], got {_describe(arr, bad)}")
    return arr


def nonnegative_integer(name: str, value) -> np.ndarray:
    """Integer-valued array (``2`` and ``2.0`` accepted, ``2.5`` and ``-1`` refused)."""
    return _integers(name, value, minimum=0, expected="a non-negative integer")


def positive_integer(name: str, value) -> np.ndarray:
    """Integer-valued array of values ``>= 1`` (``2`` and ``2.0`` accepted)."""
    return _integers(name, value, minimum=1, expected="an integer >= 1")


def _integers(name: str, value, *, minimum: int, expected: str) -> np.ndarray:
    arr = check_finite(name, as_float_array(name, value))
    bad = (arr < minimum) | (arr != np.round(arr))
    if np.any(bad):
        raise ValueError(f"{name} must be {expected}, got {_describe(arr, bad)}")
    return arr.astype(np.int64)


def scalar(name: str, value, *, check) -> float:
    arr = check(name, value)
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got an array of shape {arr.shape}")
    return float(arr)


def spectrum(eigvals, w0=None) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate covariance eigenvalues (1-D, positive, finite) and teacher coefficients."""
    s = as_float_array("eigvals", eigvals)
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"eigvals must be a non-empty 1-D array, got shape {s.shape}")
    check_finite("eigvals", s)
    bad = s <= 0
    if np.any(bad):
        raise ValueError(
            f"eigvals must be > 0 (covariance eigenvalues), got {_describe(s, bad)}; "
            "drop zero directions, they carry no signal"
        )
    if w0 is None:
        return s, None
    w = as_float_array("w0", w0)
    if w.shape != s.shape:
        raise ValueError(
            f"w0 must have the same shape as eigvals {s.shape} (teacher coefficients in the "
            f"eigenbasis), got shape {w.shape}"
        )
    check_finite("w0", w)
    return s, w


def integer(name: str, value, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def plain(x) -> str:
    """``x`` as a user writes it: ``0.5`` or ``3``, never ``np.float64(0.5)`` (validated
    arrays are float64, so an integral value prints as the integer it was given as)."""
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return repr(int(x))
    return repr(x)


def broadcast(**arrays: np.ndarray) -> tuple[tuple[int, ...], dict[str, np.ndarray]]:
    """The common numpy-broadcast shape of validated arrays and each of them flattened to it.

    Raises ValueError naming the arguments and their shapes when they do not broadcast, and
    naming an empty one (an empty grid has no points to compute).
    """
    for name, arr in arrays.items():
        if arr.size == 0:
            raise ValueError(f"{name} is empty (shape {arr.shape}); give at least one value")
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {a.shape}" for k, a in arrays.items() if a.ndim)
        raise ValueError(f"the array arguments must broadcast together (numpy rules: trailing "
                         f"axes equal or 1), got shapes {shapes}; for an outer grid give them "
                         "separate axes, e.g. n=[[0], [1], [2]] with lam=[0.1, 1] for a "
                         "(3, 2) grid"
                         ) from None
    return shape, {k: np.broadcast_to(a, shape).ravel() for k, a in arrays.items()}
