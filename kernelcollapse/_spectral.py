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
    down to 0 and ``d`` up to millions of directions.
    """
    lam = np.asarray(lam, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    out = np.zeros(lam.shape, dtype=np.float64)
    d, s_min = spec.d, float(spec.s[0])
    active = ~((lam == 0) & (T >= d))
    idx = np.flatnonzero(active)
    step = chunk_size(spec.s.size)
    for i in range(0, idx.size, step):
        sel = idx[i : i + step]
        out[sel] = _kappa_chunk(lam[sel], T[sel], spec, d, s_min)
    return out


def _kappa_chunk(lam, T, spec: Spectrum, d: int, s_min: float) -> np.ndarray:
    s, c = spec.s, spec.c
    lo = np.maximum(lam, s_min * np.maximum(d - T, 0.0) / T)
    hi = lam + spec.trace / T
    x = np.sqrt(lo * hi)
    tlam = T * lam
    done = np.zeros(x.shape, dtype=bool)
    for _ in range(_MAX_ITER):
        r = s / (s + x[:, None])
        f1 = r @ c
        g = f1 + tlam / x - T
        slope = (r * (1.0 - r)) @ c + tlam / x  # = -dg/dlog(kappa) > 0
        pos = g > 0
        lo = np.where(pos, x, lo)
        hi = np.where(pos, hi, x)
        # g is a difference of terms of size ~T: below a few ulps of them it is noise.
        scale = f1 + T + tlam / x
        done |= np.abs(g) <= 8 * np.finfo(float).eps * scale
        newton = x * np.exp(np.clip(g / slope, -50.0, 50.0))
        inside = (newton > lo) & (newton < hi)
        x_new = np.where(inside, newton, np.sqrt(lo * hi))
        done |= np.abs(x_new - x) <= 4 * np.finfo(float).eps * x
        x = np.where(done, x, x_new)
        if done.all():
            break
    return x
