r"""Smooth spectra compressed by Gaussian quadrature, with a posteriori error control.

Every sum of the theory is ``sum_j f(s_j) c_j`` or ``sum_j f(s_j) q_j`` (multiplicities ``c``,
teacher energies ``q``, see :mod:`kernelcollapse.theory._spectral`) with ``f`` a smooth function of
``t = log s``: products of ``M = s/(s + kappa) = 1/(1 + e^{-(t - log kappa)})`` at one or more
``kappa`` (the downstream's, the generators'), of ``1 - M`` and of powers of ``s``.  Such an
``f`` is analytic in the strip ``|Im t| < pi``, so on a short interval of ``t`` it is close to
a polynomial, and a Gauss rule of ``K`` nodes, exact for polynomials of degree ``2K - 1``,
reproduces the sum over the eigenvalues of that interval almost exactly.

The spectrum is cut into bins of width :data:`BIN_WIDTH` in ``log s``.  In each bin, for each of
the two measures ``mu_c = sum_j c_j delta(t - t_j)`` and ``mu_q = sum_j q_j delta(t - t_j)``
restricted to the bin, the Gauss rule of the discrete measure itself is computed: its modified
moments against Chebyshev polynomials on the span of its points (one pass over them), the
recurrence of its orthogonal polynomials by Gautschi's modified Chebyshev algorithm, then the
nodes and weights by Golub-Welsch: nodes inside the bin, positive weights summing to the bin's
mass.  A bin's ``c`` nodes carry ``c > 0, q = 0`` and its ``q`` nodes ``c = 0, q > 0``; a bin
with at most :data:`NODES` points of positive weight keeps them as they are (exact), and so do
the smallest and the largest eigenvalue.  The dimension ``d`` is carried exactly.

Error control (a posteriori).  In every bin the rule of :data:`NODES` nodes is compared with the
rule of ``NODES - 2`` nodes on the integrands ``M^a (1 - M)^b`` of :data:`CHECK_POWERS`, at every
``kappa`` of a grid :data:`CHECK_STEP` apart in ``log kappa`` within 6 of the bin (further away
an integrand is, across the bin, a power of ``s`` times a constant to within ``e^-6``, which the
rules integrate to rounding).  Every bin is allowed the share of :data:`TOLERANCE` of its width
in the whole range of ``log s`` (times the sum over the whole spectrum, not below the rounding
of its own sums, ``32 eps`` of them); failing bins are halved.  The integrands are positive, so
the summed differences bound the error of every sum of the family by ``TOLERANCE`` relative
(plus that rounding, ~7e-15).  The rule used is the larger one, whose error is the checked
difference times about ``rho^-4``, ``rho ~ 25`` the Bernstein-ellipse parameter of a bin of
width 1/4 inside the strip ``|Im t| < pi/2``: the stated bound holds with a wide margin.
:attr:`Quadrature.error` is the check's largest relative difference, all bins summed.  Sums
mixing several ``kappa`` (the generators' chain times the downstream's ``M``) are smooth in the
same strip; they are checked against the exact spectrum in ``tests/test_quadrature.py`` (sums
with a generator's ``M0^n``, test error, optimal penalty and chain limit, on power laws,
random and clustered spectra).

References
----------
G. H. Golub, J. H. Welsch, "Calculation of Gauss quadrature rules", Math. Comp. 23 (1969).
W. Gautschi, *Orthogonal Polynomials: Computation and Approximation*, Oxford (2004), sec. 2.1
(the modified Chebyshev algorithm).  L. N. Trefethen, *Approximation Theory and Approximation
Practice*, SIAM (2013), ch. 19 (Gauss quadrature of analytic functions).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from kernelcollapse.theory import _spectral as _sp

# Nodes per bin and measure (the rule used); the check compares it with NODES - 2 nodes.
NODES = 8
# Initial bin width in log s; bins are halved where the check asks for it (rarely from this
# width: one pass over the spectrum).
BIN_WIDTH = 0.25
# Relative error allowed on every checked sum (all bins together).
TOLERANCE = 1e-13
# Integrands M^a (1 - M)^b of the check, and the spacing of its kappa grid in log kappa.
CHECK_POWERS = ((1, 0), (2, 0), (3, 0), (4, 0), (8, 0), (32, 0), (0, 1), (0, 2), (0, 4),
                (1, 1), (2, 1), (1, 2), (2, 2), (8, 1))
CHECK_STEP = 0.25
_MAX_ROUNDS = 60


class Quadrature(NamedTuple):
    """A spectrum compressed to quadrature nodes.

    spectrum : the nodes, a :class:`kernelcollapse.theory._spectral.Spectrum` (``inverse`` empty).
    bins : number of bins.
    error : the largest relative error of the check (0 when every bin is exact).
    """

    spectrum: _sp.Spectrum
    bins: int
    error: float


class _Rules(NamedTuple):
    """Per bin (rows): nodes ``t`` and weights of the large and the small rule, ``(B, NODES)``
    (the small one padded with zero weights; exact bins have both equal to their points)."""

    t: np.ndarray
    w: np.ndarray
    t_small: np.ndarray
    w_small: np.ndarray


def compress(spec: _sp.Spectrum, *, nodes: int = NODES, bin_width: float = BIN_WIDTH,
             tolerance: float = TOLERANCE, max_nodes: int | None = None) -> Quadrature | None:
    """Gauss rules of ``nodes`` nodes per bin and measure for the exact spectrum ``spec``
    (distinct eigenvalues, ascending), bins halved until the check holds (module docstring).

    Each bin is allowed the share of ``tolerance`` of its width in the whole range of
    ``log s``, so the shares of all bins add up to ``tolerance``.  Returns ``None`` as soon as
    more than ``max_nodes`` nodes would be needed (a spectrum that does not compress)."""
    if spec.s.size <= 2 * nodes + 2:
        return Quadrature(spec._replace(inverse=np.empty(0, np.int64)), 0, 0.0)
    # The smallest and the largest eigenvalue stay exact nodes: the kappa bracket, the top of
    # the chain's contraction and the like read them off the ends of the spectrum.
    ends = spec._replace(s=spec.s[[0, -1]], c=spec.c[[0, -1]], q=spec.q[[0, -1]])
    t, c, q = np.log(spec.s[1:-1]), spec.c[1:-1], spec.q[1:-1]
    lo, hi = float(t[0]), float(t[-1])
    span = max(hi - lo, 1e-300)
    n_bins = max(1, int(np.ceil(span / bin_width)))
    lows = lo + span * np.arange(n_bins) / n_bins
    highs = np.append(lows[1:], hi + 1.0)
    log_kappa = np.arange(lo - _WINDOW, hi + _WINDOW + CHECK_STEP, CHECK_STEP)
    totals = None
    kept: list[tuple[_Rules, _Rules]] = []
    n_kept = 0
    for _ in range(_MAX_ROUNDS):
        if max_nodes is not None and n_kept + 2 * nodes * lows.size > max_nodes:
            return None
        which = np.searchsorted(lows, t, side="right") - 1
        starts = np.flatnonzero(np.r_[True, which[1:] != which[:-1]])
        widths = (np.minimum(highs, hi) - lows)[which[starts]]
        rules = _rules(t, (c, q), starts, nodes)
        checks = [_differences(r, log_kappa) for r in rules]
        if totals is None:  # the sums to hold the errors against: of the first, whole, rule
            totals = [_on_grid(ch.sums, ch, log_kappa.size) for ch in checks]
        bad = np.zeros(starts.size, bool)
        for ch, tot in zip(checks, totals):
            # The share of the bin, but not below the rounding of its own sums (~1e-16 of
            # them), which no split removes: that adds at most _ROUNDING to the bound.
            allowed = np.maximum((tolerance * widths / span)[:, None, None] * tot[ch.index],
                                 _ROUNDING * ch.sums)
            bad |= np.any(ch.valid[:, :, None] & (ch.diff > allowed), axis=(1, 2))
        good = [_take(r, ~bad) for r in rules]
        kept.append(tuple(good))
        n_kept += sum(int(np.count_nonzero(r.w)) for r in good)
        if not bad.any():
            break
        # Halve the failing bins; the points of the others are done.
        b_lo, b_hi = lows[which[starts[bad]]], highs[which[starts[bad]]]
        pending = np.isin(which, which[starts[bad]])
        t, c, q = t[pending], c[pending], q[pending]
        mid = 0.5 * (b_lo + np.minimum(b_hi, hi))
        lows = np.ravel(np.stack([b_lo, mid], axis=1))
        highs = np.ravel(np.stack([mid, b_hi], axis=1))
    else:  # pragma: no cover  (bins of a few points are exact long before)
        raise RuntimeError("quadrature did not converge")
    return _assemble(spec.d, ends, kept, log_kappa)


# Differences below this fraction of a bin's own sum are rounding (of the two rules' sums).
_ROUNDING = 32 * np.finfo(np.float64).eps
# Half-width, in log kappa, of the window of the check around each bin: further away the
# integrands are within e^-6 of a power of s times a constant across the bin, which the rules
# integrate to rounding.
_WINDOW = 6.0


def _take(r: _Rules, rows: np.ndarray) -> _Rules:
    return _Rules(*(a[rows] for a in r))


def _on_grid(per_bin: np.ndarray, ch, size: int) -> np.ndarray:
    """Sum ``per_bin`` (``(B, W, F)``, on each bin's window) onto the whole kappa grid."""
    out = np.zeros((size, per_bin.shape[2]))
    np.add.at(out, ch.index[ch.valid], per_bin[ch.valid])
    return out


def _assemble(d: int, ends: _sp.Spectrum, kept, log_kappa) -> Quadrature:
    """The kept rules and the two exact ``ends`` as one spectrum, and the check's error of
    the whole."""
    c_rules = _Rules(*(np.concatenate([k[0][i] for k in kept]) for i in range(4)))
    q_rules = _Rules(*(np.concatenate([k[1][i] for k in kept]) for i in range(4)))
    error = 0.0
    for r in (c_rules, q_rules):
        ch = _differences(r, log_kappa)
        tot = _on_grid(ch.sums, ch, log_kappa.size)
        err = _on_grid(ch.diff, ch, log_kappa.size)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(tot > 0, err / tot, 0.0)
        error = max(error, float(rel.max(initial=0.0)))
    tc, wc = c_rules.t[c_rules.w > 0], c_rules.w[c_rules.w > 0]
    tq, wq = q_rules.t[q_rules.w > 0], q_rules.w[q_rules.w > 0]
    t = np.concatenate([tc, tq, np.log(ends.s)])
    order = np.argsort(t, kind="stable")
    c = np.concatenate([wc, np.zeros(tq.size), ends.c])[order]
    q = np.concatenate([np.zeros(tc.size), wq, ends.q])[order]
    s = np.exp(t[order])
    s[[0, -1]] = ends.s  # exactly, not through log and exp
    out = _sp.Spectrum(s, c, q, np.empty(0, np.int64), d)
    return Quadrature(out, int(c_rules.t.shape[0]), error)


def _rules(t: np.ndarray, weights: tuple, starts: np.ndarray, n: int) -> list[_Rules]:
    """The Gauss rules of ``n`` and ``n - 2`` nodes of each measure of ``weights`` (arrays over
    the sorted ``t``) in every bin (bins start at ``starts``).  Each measure's polynomials live
    on the span of its own points in the bin (mapped to ``[-1, 1]``): a measure on part of the
    bin (a teacher with no energy below some eigenvalue) would otherwise lose digits."""
    B = starts.size
    sizes = np.diff(np.r_[starts, t.size])
    bin_of = np.repeat(np.arange(B), sizes)
    out = []
    for w in weights:
        pos = w > 0
        n_pos = np.add.reduceat(pos.astype(np.int64), starts)
        big_t, big_w = np.zeros((B, n)), np.zeros((B, n))
        small_t, small_w = np.zeros((B, n)), np.zeros((B, n))
        exact = n_pos <= n
        # Exact bins: their points of positive weight, in order, as the nodes of both rules.
        sel = pos & exact[bin_of]
        count = np.add.reduceat(sel.astype(np.int64), starts)
        col = np.cumsum(sel)[sel] - 1 - (np.cumsum(count) - count)[bin_of[sel]]
        for arr_t, arr_w in ((big_t, big_w), (small_t, small_w)):
            arr_t[bin_of[sel], col] = t[sel]
            arr_w[bin_of[sel], col] = w[sel]
        g = np.flatnonzero(~exact)
        if g.size:
            member = ~exact[bin_of]
            tg, wg = t[member], w[member]
            g_starts = np.r_[0, np.cumsum(sizes[g])[:-1]]
            t_lo = np.minimum.reduceat(np.where(wg > 0, tg, np.inf), g_starts)
            t_hi = np.maximum.reduceat(np.where(wg > 0, tg, -np.inf), g_starts)
            center, half = 0.5 * (t_lo + t_hi), 0.5 * (t_hi - t_lo)
            g_of = np.repeat(np.arange(g.size), sizes[g])
            x = (tg - center[g_of]) / half[g_of]
            alpha, beta = _chebyshev_algorithm(_moments(x, wg, g_starts, 2 * n), n)
            for k, arr_t, arr_w in ((n, big_t, big_w), (n - 2, small_t, small_w)):
                x_nodes, w_nodes = _golub_welsch(alpha[:, :k], beta[:, :k])
                arr_t[g, :k] = np.clip(center[:, None] + half[:, None] * x_nodes,
                                       t_lo[:, None], t_hi[:, None])
                arr_w[g, :k] = w_nodes
        out.append(_Rules(big_t, big_w, small_t, small_w))
    return out


def _moments(x: np.ndarray, w: np.ndarray, starts: np.ndarray, count: int) -> np.ndarray:
    """Modified moments ``nu_k = sum_j w_j pi_k(x_j)`` per bin, ``k < count``, of the monic
    Chebyshev polynomials ``pi_0 = 1``, ``pi_1 = x``, ``pi_{k+1} = x pi_k - b_k pi_{k-1}``
    (``b_1 = 1/2``, ``b_k = 1/4`` after): ``(B, count)``.  Bin by bin, the polynomials as
    rows of one array and the sums as one matrix-vector product."""
    out = np.empty((starts.size, count))
    ends = np.r_[starts[1:], x.size]
    for i, (a, b) in enumerate(zip(starts, ends)):
        xb = x[a:b]
        P = np.empty((count, b - a))
        P[0] = 1.0
        if count > 1:
            P[1] = xb
        for k in range(1, count - 1):
            np.multiply(xb, P[k], out=P[k + 1])
            P[k + 1] -= _CHEB_B[k] * P[k - 1]
        out[i] = P @ w[a:b]
    return out


_CHEB_B = np.array([0.0, 0.5] + [0.25] * 62)


def _chebyshev_algorithm(nu: np.ndarray, n: int):
    """Recurrence coefficients ``alpha_k, beta_k`` (``k < n``, rows: bins) of the monic
    orthogonal polynomials of measures on ``[-1, 1]`` from their modified Chebyshev moments
    ``nu`` (``(B, 2n)``): Gautschi's modified Chebyshev algorithm (2004, Algorithm 2.1), stable
    for such measures.  ``beta_0`` is the mass."""
    B = nu.shape[0]
    L = 2 * n
    alpha, beta = np.zeros((B, n)), np.zeros((B, n))
    sig_prev = np.zeros((B, L + 1))  # sigma_{k-2, l}, index l + 1 (sigma_{., -1} = 0)
    sig = np.zeros((B, L + 1))
    sig[:, 1:] = nu  # sigma_{0, l}
    alpha[:, 0] = nu[:, 1] / nu[:, 0]
    beta[:, 0] = nu[:, 0]
    for k in range(1, n):
        new = np.zeros((B, L + 1))
        ls = np.arange(k, L - k)
        new[:, ls + 1] = (sig[:, ls + 2] - alpha[:, k - 1, None] * sig[:, ls + 1]
                          - beta[:, k - 1, None] * sig_prev[:, ls + 1]
                          + _CHEB_B[ls][None, :] * sig[:, ls])
        alpha[:, k] = new[:, k + 2] / new[:, k + 1] - sig[:, k + 1] / sig[:, k]
        beta[:, k] = new[:, k + 1] / sig[:, k]
        sig_prev, sig = sig, new
    return alpha, beta


def _golub_welsch(alpha: np.ndarray, beta: np.ndarray):
    """Nodes and weights ``(B, k)`` of the Gauss rules with recurrence ``alpha, beta``."""
    k = alpha.shape[1]
    J = np.zeros(alpha.shape + (k,))
    idx = np.arange(k)
    off = np.sqrt(np.maximum(beta[:, 1:], 0.0))
    J[:, idx, idx] = alpha
    J[:, idx[1:], idx[:-1]] = off
    J[:, idx[:-1], idx[1:]] = off
    x_nodes, vecs = np.linalg.eigh(J)
    return x_nodes, beta[:, :1] * vecs[:, 0, :] ** 2


class _Check(NamedTuple):
    """The check of a set of rules: per bin, on its window of the kappa grid (``index``, valid
    where ``valid``), the large rule's sum of every integrand (``sums``, ``(B, W, F)``) and
    its absolute difference from the small rule's (``diff``)."""

    index: np.ndarray
    valid: np.ndarray
    sums: np.ndarray
    diff: np.ndarray


def _differences(r: _Rules, log_kappa: np.ndarray) -> _Check:
    B = r.t.shape[0]
    has = r.w > 0
    t_min = np.where(has, r.t, np.inf).min(axis=1)
    t_max = np.where(has, r.t, -np.inf).max(axis=1)
    t_min, t_max = np.where(np.isfinite(t_min), t_min, 0.0), np.where(np.isfinite(t_max),
                                                                         t_max, 0.0)
    first = np.searchsorted(log_kappa, t_min - _WINDOW)
    last = np.searchsorted(log_kappa, t_max + _WINDOW)
    width = int((last - first).max(initial=0)) + 1
    index = first[:, None] + np.arange(width)[None, :]
    valid = (index <= last[:, None]) & (index < log_kappa.size)
    index = np.minimum(index, log_kappa.size - 1)
    lk = log_kappa[index]  # (B, W)
    F = len(CHECK_POWERS)
    sums = np.empty((B, width, F))
    diff = np.empty_like(sums)
    for rule_t, rule_w, out in ((r.t, r.w, sums), (r.t_small, r.w_small, diff)):
        z = rule_t[:, None, :] - lk[:, :, None]  # (B, W, n): log(s / kappa)
        with np.errstate(over="ignore"):
            M = 1.0 / (1.0 + np.exp(-z))  # s / (s + kappa)
            one_minus = 1.0 / (1.0 + np.exp(z))  # kappa / (s + kappa), no cancellation
        for f, (a, b) in enumerate(CHECK_POWERS):
            out[:, :, f] = np.einsum("bkn,bn->bk", M**a * one_minus**b, rule_w)
    np.abs(sums - diff, out=diff)
    return _Check(index, valid, sums, diff)
