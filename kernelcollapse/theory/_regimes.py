"""Which settings have an infinite or undefined test error, and which the theory covers.

One place for both the theory and the simulator (:func:`check_finite` is shared, so that
``simulate`` and ``test_error`` refuse the same singular inputs with the same message);
:func:`check_covered` adds the theory's own limits.  All inputs are flat, broadcast arrays of
equal length (``n`` integers); ``synthetic`` is the number of downstream rows labelled by the
generator (``p T``, or the simulator's rounded count).
"""

from __future__ import annotations

import numpy as np

from kernelcollapse._util.validate import plain

__all__ = ["check_chain", "check_chain_covered", "check_covered", "check_downstream",
           "check_finite"]


def _first(mask, **cols) -> str:
    """The columns at the first point of ``mask``; a scalar column (one setting for every
    point, as the chain's callers pass ``fresh``) stands for every point."""
    i = int(np.flatnonzero(mask)[0])
    return ", ".join(f"{k}={plain(np.broadcast_to(v, np.shape(mask))[i])}"
                     for k, v in cols.items())


def _near_interpolation(rows, d: int):
    """``d - 1 <= rows <= d + 1``: the least-squares error is infinite there (the mean of an
    inverse Wishart matrix with ``|rows - d| - 1 <= 0`` degrees of freedom to spare)."""
    return (rows >= d - 1) & (rows <= d + 1)


def check_finite(d: int, *, T: np.ndarray, T0: np.ndarray, n: np.ndarray, lam: np.ndarray,
                 lam0: np.ndarray, p: np.ndarray, weight: np.ndarray, fresh: np.ndarray,
                 sigma: np.ndarray, sigma0: np.ndarray, synthetic: np.ndarray,
                 mode: str) -> None:
    """Raise ValueError where the true expected test error is infinite or undefined.

    The check shared by the theory and the simulator, so that both refuse the same settings
    with the same message.  All arguments but ``d`` and ``mode`` are flat arrays of equal
    length, one entry per point, with the meanings of :func:`kernelcollapse.theory.test_error`;
    ``synthetic`` is the number of downstream rows labelled by the generator (``p T``, or the
    simulator's rounded count).
    """
    check_downstream(d, T=T, n=n, lam=lam, weight=weight, sigma=sigma, synthetic=synthetic)
    check_chain(d, T0=T0, n=n, lam0=lam0, sigma0=sigma0, fresh=fresh, mode=mode)


def check_downstream(d: int, *, T, n, lam, weight, sigma, synthetic) -> None:
    """The downstream fit's part of :func:`check_finite`."""
    gen = np.asarray(n) > 0
    bad = (weight == 0) & (synthetic >= T)
    if np.any(bad):
        raise ValueError("weight = 0 with every downstream row synthetic (p = 1) leaves no "
                         f"training rows ({_first(bad, weight=weight)}); use weight > 0 or "
                         "p < 1")
    rows = np.where(weight == 0, T - synthetic, T)
    # Labels that are not an exact linear function of x: noise, or two teachers mixed.
    noisy = (sigma > 0) | (gen & (synthetic > 0) & (synthetic < T) & (weight > 0))
    bad = (lam == 0) & _near_interpolation(rows, d) & noisy
    if np.any(bad):
        raise ValueError(
            f"least squares downstream (lam = 0) with d - 1 <= T <= d + 1 = {d + 1} (d = {d}) "
            f"has infinite expected test error, got {_first(bad, T=T, lam=lam)}; use lam > 0 "
            "or a T further from d")


def check_chain(d: int, *, T0, n, lam0, sigma0, fresh, mode: str) -> None:
    """The generator chain's part of :func:`check_finite`."""
    n = np.asarray(n)
    gen = n > 0
    bad = gen & (fresh > 0) & (mode == "accumulate")
    if np.any(bad):
        raise ValueError(f"fresh real rows per generation are defined for mode='replace' only, "
                         f"got mode='accumulate' with {_first(bad, fresh=fresh)}")
    steps = gen & (lam0 == 0) & (sigma0 > 0)
    if mode == "accumulate":  # generation j fits all j T0 rows so far
        j = np.arange(1, int(n.max(initial=0)) + 1)
        hit = _near_interpolation(np.asarray(T0, float)[:, None] * j[None, :], d) & (
            j[None, :] <= n[:, None])
        bad = steps & hit.any(axis=1)
        what = "every generation's j T0 rows (accumulate)"
    else:
        bad = steps & _near_interpolation(T0, d)
        what = "T0"
    if np.any(bad):
        raise ValueError(
            f"least-squares generators (lam0 = 0) with noise need {what} outside "
            f"[d - 1, d + 1] = [{d - 1}, {d + 1}] (infinite expected error there), got "
            f"{_first(bad, T0=T0, n=n)}; use lam0 > 0 or another T0")


def check_covered(d: int, *, T, T0, n, lam, lam0, weight, synthetic, mode: str) -> None:
    """Raise ValueError where no formula of the theory applies (the simulator still runs)."""
    rows = np.where(weight == 0, T - synthetic, T)
    bad = (lam == 0) & (rows == d)
    if np.any(bad):
        raise ValueError(f"least squares downstream (lam = 0) with T = d = {d} training rows is "
                         "singular in the deterministic equivalent; use lam > 0 or T != d")
    check_chain_covered(d, T0=T0, n=n, lam0=lam0, mode=mode)


def check_chain_covered(d: int, *, T0, n, lam0, mode: str) -> None:
    """The generator chain's part of :func:`check_covered`."""
    bad = (mode == "accumulate") & (np.asarray(n) > 1) & ~((lam0 == 0) & (T0 > d + 1))
    if np.any(bad):
        raise ValueError(
            "mode='accumulate' is covered for least-squares generators (lam0 = 0) with "
            f"T0 > d + 1 = {d + 1} (exact), got {_first(bad, lam0=lam0, T0=T0, n=n)}; ridge or "
            "over-parametrised accumulating generators have no formula here (simulate them)")
