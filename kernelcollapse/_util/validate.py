"""Input validation for the whole package: one place, one style of message.

Each public function validates its arguments once with these helpers, then calls a trusted
private core.  A bad input raises ``TypeError`` (not a number at all) or ``ValueError`` (a number
out of range), naming the argument, its value as a plain number (``0.5``, never
``np.float64(0.5)``; :func:`plain`) and the valid range.  For an array the first offending entry
is shown with its index; a scalar input gets no index.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = [
    "as_float_array",
    "check_finite",
    "directory_path",
    "file_path",
    "frequencies",
    "generation_indices",
    "integer",
    "nonnegative",
    "nonnegative_integer",
    "plain",
    "points",
    "positive",
    "positive_integer",
    "probability",
    "probability_vector",
    "real",
    "require",
    "scalar",
    "sequence",
    "spectrum",
    "vector",
]


def plain(value) -> str:
    """``value`` for a message: numpy scalars and 0-d arrays as the Python number they hold,
    never ``np.float64(0.5)``; validated arrays are float64, so an integral value prints as
    the integer it was given as (``3``, not ``3.0``)."""
    if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
        value = value.item()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return repr(int(value))
    return repr(value)


def _bound(x: float) -> str:
    return format(x, "g")


def require(name: str, value, ok: bool, valid: str) -> None:
    """ValueError ``"{name} must be {valid}, got {value}"`` unless ``ok``."""
    if not ok:
        raise ValueError(f"{name} must be {valid}, got {plain(value)}")


# ---------------------------------------------------------------------------------------------
# Arrays of numbers (any shape; scalars are 0-d arrays)
# ---------------------------------------------------------------------------------------------


_NOT_NUMBERS = (str, bytes, bool, np.bool_)


def _non_number(value) -> list:
    """``[x]`` for the first string, boolean or ``None`` ``x`` in ``value`` (nested lists and
    tuples), else ``[]``: numpy would read ``"3"`` as 3 and ``True`` as 1 without a word."""
    if value is None or isinstance(value, _NOT_NUMBERS):
        return [value]
    if isinstance(value, (list, tuple)):
        for item in value:
            found = _non_number(item)
            if found:
                return found
    return []


def _has_complex(value) -> bool:
    return any(isinstance(x, (complex, np.complexfloating))
               or (isinstance(x, (list, tuple)) and _has_complex(x)) for x in value)


def as_float_array(name: str, value) -> np.ndarray:
    """``value`` as a float64 array, or a TypeError naming ``name``; strings, booleans and
    ``None`` are refused, in lists too (not read as numbers)."""
    what = f"{name} must be a number or an array of numbers"
    found = _non_number(value)
    if found:
        where = "" if found[0] is value else " (in a list)"
        raise TypeError(f"{what}, got {found[0]!r}{where}")
    # Complex numbers: numpy would keep the real part with only a warning.
    if isinstance(value, (complex, np.complexfloating)) or (
            isinstance(value, (list, tuple)) and _has_complex(value)):
        raise TypeError(f"{what} (real), got a complex number")
    if isinstance(value, np.ndarray) and (
            value.dtype.kind in "USbc"
            or (value.dtype.kind == "O" and _non_number(value.ravel().tolist()))):
        raise TypeError(f"{what}, got an array of dtype {value.dtype}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{what}, got {value!r}") from None
    return arr


def _describe(arr: np.ndarray, bad: np.ndarray) -> str:
    """The first offending value, with its index for an array input."""
    if arr.ndim == 0:
        return plain(arr)
    first = arr[bad].flat[0]
    return f"{plain(first)} (at index {tuple(int(i) for i in np.argwhere(bad)[0])})"


def check_finite(name: str, arr: np.ndarray) -> np.ndarray:
    bad = ~np.isfinite(arr)
    if np.any(bad):
        raise ValueError(f"{name} must be finite, got {_describe(arr, bad)}")
    return arr


def _checked(name: str, value, bad: Callable[[np.ndarray], np.ndarray],
             valid: str) -> np.ndarray:
    arr = check_finite(name, as_float_array(name, value))
    mask = bad(arr)
    if np.any(mask):
        raise ValueError(f"{name} must {valid}, got {_describe(arr, mask)}")
    return arr


def nonnegative(name: str, value) -> np.ndarray:
    return _checked(name, value, lambda a: a < 0, "be >= 0")


def positive(name: str, value) -> np.ndarray:
    return _checked(name, value, lambda a: a <= 0, "be > 0")


def sample_size(name: str, value) -> np.ndarray:
    """A number of rows for the theory, any shape: real sizes ``>= 1``.  The formulas are
    analytic in the sizes, so a real size is a point between two integers; below one row
    they still return numbers, which describe no data set."""
    return _checked(name, value, lambda a: a < 1,
                    "be >= 1 (a number of rows; the theory takes real sizes, simulate integers)")


def _outside_unit(a: np.ndarray) -> np.ndarray:
    return (a < 0) | (a > 1)


def probability(name: str, value) -> np.ndarray:
    """A probability in ``[0, 1]``, any shape."""
    return _checked(name, value, _outside_unit, "lie in [0, 1]")


def frequencies(name: str, value) -> np.ndarray:
    """Frequencies in ``[0, 1]``, any shape (:func:`probability`, worded for a list)."""
    return _checked(name, value, _outside_unit, "be frequencies in [0, 1]")


# The largest integer-valued array entry accepted: integers pass through float64, which holds
# every integer up to 2**53 exactly, and beyond 2**63 the cast to int64 wraps round (2**70
# generations became 0, the clean error).
MAX_INTEGER = 2**53


def _integers(name: str, value, *, minimum: int, expected: str) -> np.ndarray:
    arr = _checked(name, value, lambda a: (a < minimum) | (a != np.round(a)), f"be {expected}")
    _checked(name, arr, lambda a: a > MAX_INTEGER,
             f"be {expected} of at most 2**53 = {MAX_INTEGER}")
    return arr.astype(np.int64)


def nonnegative_integer(name: str, value) -> np.ndarray:
    """Integer-valued array (``2`` and ``2.0`` accepted, ``2.5`` and ``-1`` refused)."""
    return _integers(name, value, minimum=0, expected="a non-negative integer")


def positive_integer(name: str, value) -> np.ndarray:
    """Integer-valued array of values ``>= 1`` (``2`` and ``2.0`` accepted)."""
    return _integers(name, value, minimum=1, expected="an integer >= 1")


def generation_indices(name: str, value) -> np.ndarray:
    """Generation indices ``n >= 0`` of any shape, as int64 (a list of generations to report)."""
    return _integers(name, value, minimum=0, expected="non-negative integers")


def scalar(name: str, value, *, check) -> float:
    """``check(name, value)`` (one of the array checks above), required to be a scalar."""
    arr = check(name, value)
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got an array of shape {arr.shape}")
    return float(arr)


def sequence(name: str, value, *, check) -> np.ndarray:
    """``check(name, value)`` as a non-empty 1-D array; a scalar becomes one element."""
    arr = check(name, value)
    if arr.ndim > 1 or arr.size == 0:
        raise ValueError(f"{name} must be a number or a non-empty 1-D sequence of numbers, got "
                         f"shape {arr.shape}")
    return np.atleast_1d(arr)


def vector(name: str, value, *, min_length: int = 1, length: int | None = None) -> np.ndarray:
    """A 1-D float64 array of finite numbers: ``length`` entries, or at least ``min_length``."""
    arr = check_finite(name, as_float_array(name, value))
    if length is not None:
        if arr.shape != (length,):
            raise ValueError(f"{name} must have shape ({length},), got {arr.shape}")
    elif arr.ndim != 1 or arr.size < min_length:
        raise ValueError(f"{name} must be a 1-D sequence of at least {min_length} numbers, got "
                         f"shape {arr.shape}")
    return arr


def probability_vector(name: str, value, *, min_length: int = 2) -> np.ndarray:
    """Non-negative weights summing to 1 (within 1e-9), renormalised exactly."""
    arr = vector(name, value, min_length=min_length)
    bad = arr < 0
    if np.any(bad):
        raise ValueError(f"{name} must be >= 0, got {_describe(arr, bad)}")
    total = arr.sum()
    if abs(total - 1.0) > 1e-9:
        raise ValueError(f"{name} must sum to 1, got sum {plain(total)}")
    return arr / total


def points(name: str, value) -> np.ndarray:
    """A non-empty, finite 2-D float64 array of ``(points, features)``."""
    x = as_float_array(name, value)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-d array (points, features), "
                         f"got shape {x.shape}")
    return check_finite(name, x)


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


# ---------------------------------------------------------------------------------------------
# Python scalars
# ---------------------------------------------------------------------------------------------


def _item(value):
    """A 0-d numpy array as the number it holds (other values unchanged)."""
    return value.item() if isinstance(value, np.ndarray) and value.ndim == 0 else value


def choice(name: str, value, options: tuple) -> str:
    """``value`` if it is one of ``options``, else a ValueError naming them."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def integer(name: str, value, *, minimum: int) -> int:
    """``value`` as a Python int ``>= minimum``: ``2``, ``np.int64(2)`` and ``2.0`` accepted,
    ``2.5`` refused (ValueError), a non-number refused (TypeError)."""
    value = _item(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if not isinstance(value, numbers.Integral) and not (math.isfinite(value)
                                                        and float(value).is_integer()):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {plain(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {plain(value)}")
    return int(value)


def real(name: str, value, *, low: float | None = None, high: float | None = None,
         low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float in ``[low, high]`` (an end is open with ``low_open`` /
    ``high_open``, absent when ``None``)."""
    value = _item(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    x = float(value)
    ok = (math.isfinite(x)
          and (low is None or x > low or (x == low and not low_open))
          and (high is None or x < high or (x == high and not high_open)))
    if not ok:
        lo = "(-inf" if low is None else ("(" if low_open else "[") + _bound(low)
        hi = "inf)" if high is None else _bound(high) + (")" if high_open else "]")
        raise ValueError(f"{name} must be a finite number in {lo}, {hi}, got {plain(x)}")
    return x


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


# ---------------------------------------------------------------------------------------------
# Paths to write to
# ---------------------------------------------------------------------------------------------


def _blocking_ancestor(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` that is not a directory (then nothing can be
    created below it), or ``None``."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def file_path(name: str, path: str | os.PathLike, *, example: str = "results.jsonl") -> Path:
    """``path`` as a file to create or append to: ValueError naming ``name`` when it is a
    directory or lies below a file, before anything is created beside it (a lock file)."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{name} must be a file, got the directory {path}; give a file in it, "
                         f"e.g. {path / example}")
    blocker = _blocking_ancestor(path)
    if blocker is not None:
        raise ValueError(f"{name} must be a file in a directory, got {path}, but {blocker} is a "
                         "file")
    return path


def directory_path(name: str, path: str | os.PathLike) -> Path:
    """``path`` as a directory to create or write into: ValueError naming ``name`` when it (or
    an ancestor) is a file."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{name} must be a directory (created when missing), got the file "
                         f"{path}; give another path")
    blocker = _blocking_ancestor(path)
    if blocker is not None:
        raise ValueError(f"{name} must be a directory (created when missing), got {path}, but "
                         f"{blocker} is a file")
    return path
