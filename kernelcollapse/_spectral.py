"""Trusted numerical core of the theory: spectra compressed to distinct eigenvalues, and kappa.

Every sum of the deterministic equivalents has the form ``sum_j f(s_j) * weight_j``
with a weight of ``1`` or ``w0_j**2``, so a spectrum is reduced once to its
distinct eigenvalues ``s_u`` with multiplicities ``c_u`` and teacher energies
``q_u = sum_{j: s_j = s_u} w0_j**2``.  An isotropic spectrum with a million
directions then costs as much as one with a single direction.

Nothing here validates its input: the public functions in :mod:`kernelcollapse.theory`
do that once.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# Largest number of (point, eigenvalue) pairs held in one temporary array (32 MiB of float64).
CHUNK_ELEMENTS = 1 << 22

_MAX_ITER = 200


class Spectrum(NamedTuple):
    """A covariance spectrum reduced to its distinct eigenvalues.

    s : (u,) distinct eigenvalues, ascending.
    c : (u,) multiplicities.
    q : (u,) teacher energy per distinct eigenvalue (zeros when no teacher was given).
    inverse : (d,) index of each original eigenvalue in ``s``.
    """

    s: np.ndarray
    c: np.ndarray
    q: np.ndarray
    inverse: np.ndarray

    @property
    def d(self) -> int:
        return int(self.c.sum())

    @property
    def trace(self) -> float:
        return float(self.c @ self.s)


def compress(eigvals: np.ndarray, w0: np.ndarray | None = None) -> Spectrum:
    s, inverse, counts = np.unique(eigvals, return_inverse=True, return_counts=True)
    if w0 is None:
        q = np.zeros_like(s)
    else:
        q = np.bincount(inverse, weights=w0 * w0, minlength=s.size)
    return Spectrum(s, counts.astype(np.float64), q, inverse)


def chunk_size(u: int) -> int:
    return max(1, CHUNK_ELEMENTS // max(u, 1))


def weighted_sum(kappa: np.ndarray, spec: Spectrum, fn) -> np.ndarray:
    """``sum_u c_u * fn(s_u, kappa)`` for every entry of a 1-D ``kappa``, in chunks."""
    out = np.empty(kappa.shape, dtype=np.float64)
    step = chunk_size(spec.s.size)
    for i in range(0, kappa.size, step):
        k = kappa[i : i + step, None]
        out[i : i + step] = fn(spec.s, k) @ spec.c
    return out


def df1(kappa: np.ndarray, spec: Spectrum) -> np.ndarray:
    return weighted_sum(kappa, spec, lambda s, k: s / (s + k))


def df2(kappa: np.ndarray, spec: Spectrum) -> np.ndarray:
    return weighted_sum(kappa, spec, lambda s, k: (s / (s + k)) ** 2)


def kappa(lam: np.ndarray, T: np.ndarray, spec: Spectrum) -> np.ndarray:
    """Solve ``kappa - lam = kappa * df1(kappa) / T`` for 1-D arrays ``lam``, ``T`` of equal size.

    Written as ``g(kappa) = df1(kappa) + T*lam/kappa - T = 0``: ``g`` is strictly
    decreasing on ``kappa > 0``, so the root is unique and lies in the bracket

    * ``lo = max(lam, s_min * (d - T)_+ / T)``  (``g(lo) >= 0``),
    * ``hi = lam + trace / T``                   (``g(hi) < 0`` since ``df1(k) < trace/k``).

    With ``lam = 0`` and ``T >= d`` the bracket collapses to ``kappa = 0``.  The root is
    found by Newton's method in ``log kappa``, falling back to bisection in
    ``log kappa`` whenever a step leaves the bracket, so it converges for ``lam``
    down to 0 and ``d`` up to millions of directions.  For many points at once,
    ``df1`` is first tabulated on a log grid (exact values at the nodes), which
    narrows every bracket to one grid cell and leaves two or three Newton steps.
    """
    lam = np.asarray(lam, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    out = np.zeros(lam.shape, dtype=np.float64)
    d, s_min = spec.d, float(spec.s[0])
    idx = np.flatnonzero(~((lam == 0) & (T >= d)))
    if idx.size == 0:
        return out
    lam, T = lam[idx], T[idx]
    lo = np.maximum(lam, s_min * np.maximum(d - T, 0.0) / T)
    hi = lam + spec.trace / T
    x = np.sqrt(lo * hi)
    if idx.size >= _TABULATE_MIN_POINTS:
        x, lo, hi = _tabulated_start(lam, T, lo, hi, spec)
    step = chunk_size(spec.s.size)
    for i in range(0, idx.size, step):
        sl = slice(i, i + step)
        out[idx[sl]] = _newton(lam[sl], T[sl], lo[sl], hi[sl], x[sl], spec)
    return out


# Tabulating df1 costs _GRID_NODES passes over the spectrum; worth it from this many points.
_TABULATE_MIN_POINTS = 256
_GRID_NODES = 1024


def _tabulated_start(lam, T, lo, hi, spec: Spectrum):
    """Bracket each root between two nodes of a log grid where df1 is computed exactly."""
    nodes = np.geomspace(lo.min(), hi.max(), min(_GRID_NODES, lam.size // 4))
    f1 = df1(nodes, spec)
    x, new_lo, new_hi = np.empty_like(lam), lo.copy(), hi.copy()
    step = max(1, CHUNK_ELEMENTS // nodes.size)
    for i in range(0, lam.size, step):
        sl = slice(i, i + step)
        Ti, li = T[sl, None], lam[sl, None]
        g = f1 + Ti * li / nodes - Ti  # decreasing along the nodes
        k = np.count_nonzero(g >= 0, axis=1)  # first node with g < 0
        inner = (k > 0) & (k < nodes.size)
        kk = np.clip(k, 1, nodes.size - 1)
        rows = np.arange(g.shape[0])
        g_lo, g_hi = g[rows, kk - 1], g[rows, kk]
        # Linear interpolation of g in log kappa inside the cell.
        frac = g_lo / (g_lo - g_hi)
        guess = nodes[kk - 1] * (nodes[kk] / nodes[kk - 1]) ** frac
        new_lo[sl] = np.where(inner, np.maximum(lo[sl], nodes[kk - 1]), lo[sl])
        new_hi[sl] = np.where(inner, np.minimum(hi[sl], nodes[kk]), hi[sl])
        x[sl] = np.where(inner, guess, np.sqrt(new_lo[sl] * new_hi[sl]))
    x = np.clip(x, new_lo, new_hi)
    return x, new_lo, new_hi


def _newton(lam, T, lo, hi, x, spec: Spectrum) -> np.ndarray:
    s, c = spec.s, spec.c
    tlam = T * lam
    done = np.zeros(x.shape, dtype=bool)
    for _ in range(_MAX_ITER):
        r = s / (s + x[:, None])
        f1 = r @ c
        g = f1 + tlam / x - T
        slope = f1 - (r * r) @ c + tlam / x  # = -dg/dlog(kappa) > 0
        pos = g > 0
        lo = np.where(pos, x, lo)
        hi = np.where(pos, hi, x)
        step = np.clip(g / slope, -50.0, 50.0)
        newton = x * np.exp(step)
        inside = (newton > lo) & (newton < hi)
        x = np.where(done, x, np.where(inside, newton, np.sqrt(lo * hi)))
        # Newton in log(kappa) converges quadratically with a constant of order one
        # (g''/g' is bounded by 1 for these sums), so after a step below 1e-8 the
        # error is at rounding level; a collapsed bracket means the same.
        done |= (inside & (np.abs(step) <= 1e-8)) | (hi <= lo * (1 + 1e-15))
        if done.all():
            break
    return x
