r"""The downstream test error at given effective regularisations: the trusted core of the theory.

With ``kappa`` given (solved from ``lam`` by :func:`kernelcollapse.theory._fit.solve_kappa`, or set
directly by the optimiser, which then reads ``lam`` off), every point is one pass over the
compressed spectrum.  Per point the formula of :mod:`kernelcollapse.theory._fit`, summed against
``s``:

.. math::

    E = \kappa^2 \textstyle\sum W q \,/\, (1 - \rho) + \sigma^2 \rho / (1 - \rho)
        + \text{collapse},

    \text{collapse} = -2 p g \kappa \sum M^2 b + p^2 g^2 \sum s M^2 S
        + \frac{\rho}{\phi (1 - \rho)} \Big\{-2 p g \kappa \big[\phi \sum M^2 b
        - g \sum M b\big] + g^2 \big[p^2 \big(\phi \sum s M^2 S - 2 g \sum s M S\big)
        + p \sum s S\big]\Big\},

with ``q`` the teacher energy, ``b`` and ``S`` the generator's group totals
(:func:`kernelcollapse.theory._chain.totals`), ``M = s/(s+kappa)``, ``W = s/(s+kappa)^2`` and the
gains ``g, phi`` and ``rho = phi df2 / T`` of :func:`theory._fit.gains`.  The first two
terms are the clean bias and variance (the error with the same rows and weights had the
synthetic labels been clean); the collapse is computed from ``b`` and ``S`` alone, so it is 0
at ``n = 0`` without cancellation.

Speed: the sums are products of the blocks ``M``, ``M^2`` and ``W`` (one pass over
``points x eigenvalues``) with a few weight vectors.  When many points share an effective
regularisation (a grid of ``n`` at each ``(lam, T)``), one product per distinct ``kappa``
serves all the generator rows at once (up to :data:`FEW_GENERATOR_ROWS` of them); when the
points' ``kappa`` are mostly distinct (the optimiser's steps), each point takes the seven sums
of its own generator row in one pass.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from kernelcollapse.theory import _fit
from kernelcollapse.theory import _spectral as _sp

# Up to this many generator rows, one matrix product per block serves every pair.
FEW_GENERATOR_ROWS = 256


class Points(NamedTuple):
    """Flat per-point arrays of one evaluation (all of length ``m``)."""

    kappa: np.ndarray
    T: np.ndarray
    p: np.ndarray
    weight: np.ndarray
    sigma: np.ndarray
    gen: np.ndarray  # generator row of the point, -1 for clean labels (n = 0)


class ErrorParts(NamedTuple):
    """The test error and its parts at given effective regularisations (flat arrays, one entry
    per point; :meth:`kernelcollapse.theory.Evaluator.at_kappa`).

    Attributes
    ----------
    total, bias, variance, collapse : ndarray
        As in :class:`kernelcollapse.theory.ErrorDecomposition`.
    lam : ndarray
        The penalty that has these ``kappa``.
    cross : ndarray
        ``E <w_fit - w0, w_n - w0>_Sigma = p g sum s M S - kappa sum M b`` (from
        ``E[R^-1 omega A] = p g M`` and ``lam E[R^-1] = kappa (Sigma + kappa)^-1``).
    shift : ndarray
        ``E ||w_n - w0||^2_Sigma``.  The error against the labels' own mixture of targets,
        which cross-validation on them minimises, is ``total - 2 p cross + p shift``.
    """

    total: np.ndarray
    bias: np.ndarray
    variance: np.ndarray
    collapse: np.ndarray
    lam: np.ndarray
    cross: np.ndarray
    shift: np.ndarray


def evaluate(spec: _sp.Spectrum, pts: Points, b_rows: np.ndarray,
             S_rows: np.ndarray) -> ErrorParts:
    """Test error and its parts at every point; ``b_rows, S_rows`` of shape ``(R, u)``."""
    keys, inv = np.unique(pts.kappa, return_inverse=True)
    inv = inv.reshape(-1)
    R = b_rows.shape[0]
    sS_rows = spec.s * S_rows
    has = pts.gen >= 0
    shared_cost = keys.size * (3 + (4 if np.any(b_rows) else 2) * R)
    if R <= FEW_GENERATOR_ROWS and shared_cost < 7 * pts.kappa.size:
        sums = _shared_sums(spec, keys, inv, pts.gen, b_rows, sS_rows)
    else:
        sums = _point_sums(spec, pts.kappa, pts.gen, b_rows, sS_rows)
    f1, f2, Wq, Mb, MsS, M2b, M2sS = sums
    k, T, p = pts.kappa, pts.T, pts.p
    gn = _fit.gains(f1 / T, p, pts.weight)
    g, phi = gn.g, gn.phi
    rho = phi * f2 / T
    bias = k * k * Wq / (1.0 - rho)
    var = pts.sigma**2 * rho / (1.0 - rho)
    sS = np.where(has, sS_rows.sum(axis=1)[np.maximum(pts.gen, 0)] if R else 0.0, 0.0)
    inner = (-2.0 * p * g * k * (phi * M2b - g * Mb)
             + g * g * (p * p * (phi * M2sS - 2.0 * g * MsS) + p * sS))
    coll = -2.0 * p * g * k * M2b + (p * g) ** 2 * M2sS + rho / (phi * (1.0 - rho)) * inner
    coll = np.where(has, coll, 0.0)
    cross = np.where(has, p * g * MsS - k * Mb, 0.0)
    return ErrorParts(bias + var + coll, bias, var, coll, k * gn.lam_over_kappa, cross,
                 np.where(has, sS, 0.0))


def _shared_sums(spec, keys, inv, gen, b_rows, sS_rows):
    """The seven sums per point from one product per distinct ``kappa`` with every row (the
    rows ``b`` only when some are nonzero: least-squares generators are unbiased)."""
    c, q = spec.c, spec.q
    R = b_rows.shape[0]
    biased = bool(np.any(b_rows))
    stack = np.vstack([c[None, :], sS_rows] + ([b_rows] if biased else []))
    k = stack.shape[0]
    per_key = np.empty((keys.size, 2 * k + 1))
    for rows, M, M2, W in _sp.downstream_blocks(keys, spec):
        per_key[rows, :k] = _sp.products(M, stack)
        per_key[rows, k:2 * k] = _sp.products(M2, stack)
        per_key[rows, -1] = W @ q
    r = np.maximum(gen, 0)
    has = gen >= 0

    def col(j):
        return np.where(has, per_key[inv, j], 0.0) if R else np.zeros(gen.size)

    MsS, M2sS = col(1 + r), col(k + 1 + r)
    Mb, M2b = (col(1 + R + r), col(k + 1 + R + r)) if biased else (0.0, 0.0)
    return [per_key[inv, 0], per_key[inv, k], per_key[inv, -1], Mb, MsS, M2b, M2sS]


def _point_sums(spec, kappa, gen, b_rows, sS_rows):
    """The seven sums per point, each point with its own generator row.  The points are taken
    row by row (the optimiser's steps share a few rows): per block, the products of ``M`` and
    ``M^2`` with ``[c, b_r, sS_r]`` and of ``W`` with ``q``, in place into reused buffers."""
    s, c, q = spec.s, spec.c, spec.q
    zero = np.zeros((1, s.size))
    b_all = np.vstack([b_rows, zero])  # row -1: clean labels
    sS_all = np.vstack([sS_rows, zero])
    out = np.empty((7, kappa.size))
    rows, inverse = np.unique(gen, return_inverse=True)
    inverse = inverse.reshape(-1)
    for r_i, r in enumerate(rows):
        pts = np.flatnonzero(inverse == r_i)
        stack = np.vstack([c, b_all[r], sS_all[r]])
        for rows_, M, M2, W in _sp.downstream_blocks(kappa[pts], spec):
            idx = pts[rows_]
            by_m = _sp.products(M, stack)
            by_m2 = _sp.products(M2, stack)
            out[0, idx], out[3, idx], out[4, idx] = by_m.T
            out[1, idx], out[5, idx], out[6, idx] = by_m2.T
            out[2, idx] = W @ q
    return list(out)
