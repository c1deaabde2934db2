"""Trusted numerical core of the theory: spectra compressed to distinct eigenvalues, and kappa.

Every sum of the deterministic equivalents has the form ``sum_j f(s_j) * weight_j``
with a weight of ``1`` or ``w0_j**2``, so a spectrum is reduced once to its
distinct eigenvalues ``s_u`` with multiplicities ``c_u`` and teacher energies
``q_u = sum_{j: s_j = s_u} w0_j**2``.  An isotropic spectrum with a million
directions then costs as much as one with a single direction.

Nothing here validates its input: the public functions in :mod:`kernelcollapse.theory`
do that once.

Speed.  A grid of ``P`` points on a spectrum of ``u`` distinct eigenvalues costs
a few passes over ``P x u`` pairs; at ``P = u = 10**4`` that is ``10**8`` pairs a
pass, and numpy passes are memory-bound unless each temporary stays in cache.
So every pass runs over blocks of :func:`block_rows` points, computed in place
into reused buffers, and all the sums of a pass are read off the same buffers
(:func:`degrees_of_freedom`, :func:`downstream_blocks`); and :func:`kappa`
starts Newton from a cubic interpolation so accurate that one verifying pass
finishes almost every point.  The sums stay exact sums over the whole
spectrum: nothing is interpolated but the start of Newton's method.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# Points x eigenvalues in one block temporary: 1 MiB, so the buffers of a pass stay in cache
# (1 MiB L2 per core, 32 MiB L3 on the 2-core EPYC this was tuned on).  The old 32 MiB chunks
# were 4x slower; blocks of one row of 10**4 eigenvalues pay numpy's per-call overhead (2x).
BLOCK_ELEMENTS = 1 << 17

_MAX_ITER = 200


class Spectrum(NamedTuple):
    """A covariance spectrum reduced to its distinct eigenvalues (or to quadrature nodes,
    :mod:`kernelcollapse.theory._quadrature`).

    s : (u,) distinct eigenvalues (nodes), ascending.
    c : (u,) multiplicities (weights of the multiplicity measure).
    q : (u,) teacher energy per distinct eigenvalue (zeros when no teacher was given).
    inverse : (d,) index of each original eigenvalue in ``s`` (empty for quadrature nodes).
    dim : the dimension ``d``, exactly (the sum of ``c`` in floating point may not be).
    """

    s: np.ndarray
    c: np.ndarray
    q: np.ndarray
    inverse: np.ndarray
    dim: int

    @property
    def d(self) -> int:
        return self.dim

    @property
    def trace(self) -> float:
        return float(self.c @ self.s)


def compress(eigvals: np.ndarray, w0: np.ndarray | None = None) -> Spectrum:
    s, inverse, counts = np.unique(eigvals, return_inverse=True, return_counts=True)
    if w0 is None:
        q = np.zeros_like(s)
    else:
        q = np.bincount(inverse, weights=w0 * w0, minlength=s.size)
    return Spectrum(s, counts.astype(np.float64), q, inverse, int(eigvals.size))


def block_rows(u: int) -> int:
    """Points per block so that a ``(points, u)`` temporary holds about BLOCK_ELEMENTS."""
    return max(1, BLOCK_ELEMENTS // max(u, 1))


def degrees_of_freedom(kappa: np.ndarray, spec: Spectrum) -> tuple[np.ndarray, np.ndarray]:
    """``df1`` and ``df2`` at every entry of a 1-D ``kappa``, both from one pass.

    ``df2`` is the square of the terms of ``df1``, so each block computes
    ``r = s/(s+kappa)`` once, in place, and reads both sums off ``[r, r**2]``.
    """
    s, c = spec.s, spec.c
    f1 = np.empty(kappa.shape)
    f2 = np.empty(kappa.shape)
    step = block_rows(s.size)
    r_buf = np.empty((min(step, kappa.size), s.size))
    r2_buf = np.empty_like(r_buf)
    for i in range(0, kappa.size, step):
        k = kappa[i : i + step, None]
        r, r2 = r_buf[: k.shape[0]], r2_buf[: k.shape[0]]
        np.add(s, k, out=r)
        np.divide(s, r, out=r)
        np.multiply(r, r, out=r2)
        np.matmul(r, c, out=f1[i : i + step])
        np.matmul(r2, c, out=f2[i : i + step])
    return f1, f2


def df1(kappa: np.ndarray, spec: Spectrum) -> np.ndarray:
    return degrees_of_freedom(kappa, spec)[0]


def df2(kappa: np.ndarray, spec: Spectrum) -> np.ndarray:
    return degrees_of_freedom(kappa, spec)[1]


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
    narrows every bracket to one grid cell and gives a start accurate enough for
    a single Newton step (see :func:`_tabulated_start`).
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
    x = _midpoint(lo, hi)
    if idx.size >= _TABULATE_MIN_POINTS:
        x, lo, hi = _tabulated_start(lam, T, lo, hi, spec)
    out[idx] = _newton(lam, T, lo, hi, x, spec)
    return out


def _midpoint(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The geometric mean of the bracket, as a product of square roots: ``sqrt(lo * hi)``
    underflows to 0 for brackets below about 1e-162 (``lam = 1e-300``), and ``kappa = 0``
    then divides by zero in ``T lam / kappa``."""
    return np.sqrt(lo) * np.sqrt(hi)


# Tabulating df1 costs one pass over (nodes x eigenvalues); worth it from this many points.
_TABULATE_MIN_POINTS = 32
# Node spacing in log(kappa): the cubic start is then within (spacing^4 / 384 = 2e-9) of the
# root in log(kappa), under the 1e-8 step that _newton accepts as converged.
_NODE_SPACING = 0.03


def _tabulated_start(lam, T, lo, hi, spec: Spectrum):
    """Bracket each root between two nodes of a log grid and interpolate a start inside.

    ``df1`` and its derivative ``d df1 / d log(kappa) = -(df1 - df2)`` are exact at
    the nodes, so the cubic Hermite interpolant of ``df1`` in ``t = log(kappa)``
    has error at most ``h^4/384 * max|df1''''|``.  Every term ``s/(s+e^t)`` of
    ``df1`` is a logistic function of ``t`` whose fourth derivative is bounded by
    its first, and all the first derivatives have the same sign, so the error is
    below ``h^4/384`` times the slope of ``g``: the root of the interpolated ``g``
    is that close to the true root in ``log(kappa)``.  Newton then needs one pass
    over the spectrum, not three.  The node count grows with the span of the
    brackets but stays below a quarter of the points, so the table never costs
    more than a quarter of a Newton pass (a wider span just leaves a second pass).
    """
    x, new_lo, new_hi = _midpoint(lo, hi), lo.copy(), hi.copy()
    span = np.log(hi.max() / lo.min())
    if not 0 < span < np.inf:  # one bracket for all, or a bound beyond float64 range
        return x, new_lo, new_hi
    n_nodes = int(min(np.ceil(span / _NODE_SPACING) + 1, lam.size // 4))
    nodes = np.geomspace(lo.min(), hi.max(), n_nodes)
    f1, f2 = degrees_of_freedom(nodes, spec)
    df1_dt = f2 - f1
    step = max(1, (1 << 20) // nodes.size)  # (points, nodes) comparisons: 8 MiB at a time
    for i in range(0, lam.size, step):
        sl = slice(i, i + step)
        Ti, li = T[sl, None], lam[sl, None]
        g = f1 - Ti + Ti * li / nodes  # decreasing along the nodes
        k = np.count_nonzero(g >= 0, axis=1)  # first node with g < 0
        inner = (k > 0) & (k < nodes.size)
        kk = np.clip(k, 1, nodes.size - 1)
        rows = np.arange(g.shape[0])
        g_lo, g_hi = g[rows, kk - 1], g[rows, kk]
        a, b = nodes[kk - 1], nodes[kk]
        h = np.log(b / a)
        ends = (f1[kk - 1], f1[kk], df1_dt[kk - 1], df1_dt[kk])
        u = _hermite_root(Ti[:, 0] * li[:, 0], Ti[:, 0], a, h, ends, g_lo / (g_lo - g_hi))
        new_lo[sl] = np.where(inner, np.maximum(lo[sl], a), lo[sl])
        new_hi[sl] = np.where(inner, np.minimum(hi[sl], b), hi[sl])
        x[sl] = np.where(inner, a * np.exp(u * h), _midpoint(new_lo[sl], new_hi[sl]))
    x = np.clip(x, new_lo, new_hi)
    return x, new_lo, new_hi


def _hermite_root(tlam, T, a, h, ends, u):
    """Root ``u`` in [0, 1] of ``H(u) + tlam/(a e^(h u)) - T``, ``H`` the cubic Hermite of df1.

    ``ends = (F0, F1, D0, D1)``: df1 at the cell ends ``a`` and ``a e^h`` and its
    derivatives in ``log(kappa)``; ``u`` is the start (linear interpolation of g).
    A handful of Newton steps on this scalar function per point cost nothing next
    to one pass over the spectrum; the bracket [0, 1] keeps them inside the cell.
    """
    F0, F1, D0, D1 = ends
    hD0, hD1, dF = h * D0, h * D1, F1 - F0
    for _ in range(6):
        u2 = u * u
        # H = F0 + u*hD0 + u^2*(3dF - 2hD0 - hD1) + u^3*(hD0 + hD1 - 2dF), the Hermite form.
        c2 = 3 * dF - 2 * hD0 - hD1
        c3 = hD0 + hD1 - 2 * dF
        term = tlam / a * np.exp(-h * u)
        g = F0 + u * hD0 + u2 * c2 + u2 * u * c3 + term - T
        dg = hD0 + 2 * u * c2 + 3 * u2 * c3 - h * term
        with np.errstate(divide="ignore", invalid="ignore"):
            new = u - g / dg
        u = np.clip(np.where(np.isfinite(new), new, u), 0.0, 1.0)
    return u


def _newton(lam, T, lo, hi, x, spec: Spectrum) -> np.ndarray:
    """Safeguarded Newton in log(kappa); each iteration passes only over unconverged points."""
    x, lo, hi = x.copy(), lo.copy(), hi.copy()
    tlam = T * lam
    active = np.arange(x.size)
    for _ in range(_MAX_ITER):
        xa, la, ha, Ta, tla = x[active], lo[active], hi[active], T[active], tlam[active]
        f1, f2 = degrees_of_freedom(xa, spec)
        g = f1 + tla / xa - Ta
        slope = f1 - f2 + tla / xa  # = -dg/dlog(kappa) > 0
        pos = g > 0
        la = np.where(pos, xa, la)
        ha = np.where(pos, ha, xa)
        step = np.clip(g / slope, -50.0, 50.0)
        newton = xa * np.exp(step)
        # Not strict: a start at the root to rounding gives a step that rounds to x
        # itself, which is also the new end of the bracket.
        inside = (newton >= la) & (newton <= ha)
        x[active] = np.where(inside, newton, _midpoint(la, ha))
        lo[active], hi[active] = la, ha
        # Newton in log(kappa) converges quadratically with a constant of order one
        # (g''/g' is bounded by 1 for these sums), so after a step below 1e-8 the
        # error is at rounding level; a collapsed bracket means the same.
        done = (inside & (np.abs(step) <= 1e-8)) | (ha <= la * (1 + 1e-15))
        active = active[~done]
        if active.size == 0:
            break
    return x


def products(a: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``a @ weights.T`` for a block ``a`` (rows, u) and C-ordered ``weights`` (k, u).

    For one to three weight rows, separate matrix-vector products are twice as
    fast as OpenBLAS's matrix product on these thin shapes (measured at u = 10**4).
    """
    if weights.shape[0] > 3:
        return a @ weights.T
    out = np.empty((weights.shape[0], a.shape[0]))
    for j, w in enumerate(weights):
        np.matmul(a, w, out=out[j])
    return out.T


def downstream_blocks(kappa: np.ndarray, spec: Spectrum):
    """Yield ``(rows, M, M**2, M/(s+kappa))`` per block of a 1-D ``kappa``, ``M = s/(s+kappa)``.

    The sums of the downstream error are matrix products of these three arrays
    with a few weight vectors, so one pass computes them all.  ``M`` and
    ``M/(s+kappa)`` are quotients, not products with ``1/(s+kappa)``, so that
    ``kappa = 0`` gives ``M = 1`` and ``1/s`` exactly.  The buffers are reused:
    each block's arrays are overwritten by the next one.
    """
    s = spec.s
    step = block_rows(s.size)
    bufs = np.empty((3, min(step, kappa.size), s.size))
    for i in range(0, kappa.size, step):
        k = kappa[i : i + step, None]
        M, M2, sk = bufs[:, : k.shape[0]]
        np.add(s, k, out=sk)
        np.divide(s, sk, out=M)
        np.divide(M, sk, out=sk)
        np.multiply(M, M, out=M2)
        yield slice(i, i + k.shape[0]), M, M2, sk
