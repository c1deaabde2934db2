r"""The downstream test error at given effective regularisations: the trusted core of the theory.

With ``kappa`` given (solved from ``lam`` by :func:`kernelcollapse._fit.solve_kappa`, or set
directly by the optimiser, which then reads ``lam`` off), every point is one pass over the
compressed spectrum.  Per point the formula of :mod:`kernelcollapse._fit`, summed against
``s``:

.. math::

    E = \kappa^2 \textstyle\sum W q \,/\, (1 - \rho) + \sigma^2 \rho / (1 - \rho)
        + \text{collapse},

    \text{collapse} = -2 p g \kappa \sum M^2 b + p^2 g^2 \sum s M^2 S
        + \frac{\rho}{\phi (1 - \rho)} \Big\{-2 p g \kappa \big[\phi \sum M^2 b
        - g \sum M b\big] + g^2 \big[p^2 \big(\phi \sum s M^2 S - 2 g \sum s M S\big)
        + p \sum s S\big]\Big\},

with ``q`` the teacher energy, ``b`` and ``S`` the generator's group totals
(:func:`kernelcollapse._chain.totals`), ``M = s/(s+kappa)``, ``W = s/(s+kappa)^2`` and the
gains ``g, phi`` and ``rho = phi df2 / T`` of :func:`kernelcollapse._fit.gains`.  The first two
terms are the clean bias and variance (the error with the same rows and weights had the
synthetic labels been clean); the collapse is computed from ``b`` and ``S`` alone, so it is 0
at ``n = 0`` without cancellation.

Speed: the sums are matrix products of the blocks ``M``, ``M^2`` and ``W`` (one pass over
``points x eigenvalues``, :func:`kernelcollapse._spectral.downstream_blocks`) with a few stacked
weight vectors; up to :data:`FEW_GENERATOR_ROWS` generator rows every point's product serves
all of them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from kernelcollapse import _fit
from kernelcollapse import _spectral as _sp

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


class Parts(NamedTuple):
    total: np.ndarray
    bias: np.ndarray
    variance: np.ndarray
    collapse: np.ndarray
    lam: np.ndarray  # the penalty that has these kappa


def evaluate(spec: _sp.Spectrum, pts: Points, b_rows: np.ndarray, S_rows: np.ndarray) -> Parts:
    """Test error and its parts at every point; ``b_rows, S_rows`` of shape ``(R, u)``."""
    s, c, q = spec.s, spec.c, spec.q
    m = pts.kappa.size
    keys, inv = np.unique(pts.kappa, return_inverse=True)
    inv = inv.reshape(-1)
    R = b_rows.shape[0]
    few = R <= FEW_GENERATOR_ROWS
    sS_rows = s * S_rows
    if few:
        stack = np.vstack([c[None, :], b_rows, sS_rows])  # with M and with M^2
    else:
        stack = c[None, :]
    per_key = np.empty((keys.size, 2 + (2 * 2 * R if few else 0) + 1))
    for rows, M, M2, W in _sp.downstream_blocks(keys, spec):
        by_m = _sp.products(M, stack)
        by_m2 = _sp.products(M2, stack)
        per_key[rows, 0] = by_m[:, 0]  # df1
        per_key[rows, 1] = by_m2[:, 0]  # df2
        per_key[rows, -1] = W @ q
        if few:
            per_key[rows, 2:2 + 2 * R] = by_m[:, 1:]
            per_key[rows, 2 + 2 * R:2 + 4 * R] = by_m2[:, 1:]
    f1, f2, Wq = per_key[inv, 0], per_key[inv, 1], per_key[inv, -1]
    k, T, p = pts.kappa, pts.T, pts.p
    gn = _fit.gains(f1 / T, p, pts.weight)
    g, phi = gn.g, gn.phi
    rho = phi * f2 / T
    bias = k * k * Wq / (1.0 - rho)
    var = pts.sigma**2 * rho / (1.0 - rho)
    coll = np.zeros(m)
    has = pts.gen >= 0
    if np.any(has):
        i, r = np.flatnonzero(has), pts.gen[has]
        if few:
            Mb = per_key[inv[i], 2 + r]
            MsS = per_key[inv[i], 2 + R + r]
            M2b = per_key[inv[i], 2 + 2 * R + r]
            M2sS = per_key[inv[i], 2 + 3 * R + r]
        else:
            Mb, MsS, M2b, M2sS = _pair_sums(spec, keys[inv[i]], b_rows[r], sS_rows[r])
        sS = sS_rows.sum(axis=1)[r]
        kk, pp, gg, ph, rh = k[i], p[i], g[i], phi[i], rho[i]
        inner = (-2.0 * pp * gg * kk * (ph * M2b - gg * Mb)
                 + gg * gg * (pp * pp * (ph * M2sS - 2.0 * gg * MsS) + pp * sS))
        coll[i] = (-2.0 * pp * gg * kk * M2b + (pp * gg) ** 2 * M2sS
                   + rh / (ph * (1.0 - rh)) * inner)
    return Parts(bias + var + coll, bias, var, coll, k * gn.lam_over_kappa)


def _pair_sums(spec, kappa, b, sS):
    """``M b, M sS, M^2 b, M^2 sS`` for each (point, generator row) pair, row by row: with many
    generator rows a product with all of them would waste most of its columns."""
    out = np.empty((4, kappa.size))
    step = _sp.block_rows(spec.s.size)
    for i in range(0, kappa.size, step):
        sl = slice(i, i + step)
        M = spec.s / (spec.s + kappa[sl, None])
        M2 = M * M
        out[0, sl] = np.einsum("pu,pu->p", M, b[sl])
        out[1, sl] = np.einsum("pu,pu->p", M, sS[sl])
        out[2, sl] = np.einsum("pu,pu->p", M2, b[sl])
        out[3, sl] = np.einsum("pu,pu->p", M2, sS[sl])
    return out
