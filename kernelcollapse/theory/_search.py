"""The searches behind the optimal penalty and weight (:meth:`PreparedProblem.optimal_lambda`,
:meth:`PreparedProblem.optimal_weight`): bounded one-dimensional minimisation of the
deterministic-equivalent error on an :class:`Evaluator`, and the golden-section search of the
weight around it."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from kernelcollapse._util import memory as _memory
from kernelcollapse._util import validate as v

_GOLDEN_STEP = (3.0 - math.sqrt(5.0)) / 2.0  # 0.382...: golden-section step into a side


class OptimalLambda(NamedTuple):
    """Result of :func:`optimal_lambda`; every field has the broadcast shape of the inputs.

    Attributes
    ----------
    lam : ndarray
        The minimising penalty (within the bounds).
    error : ndarray
        Predicted test error at ``lam`` (never above the smallest error on the search grid).
    at_lower, at_upper : ndarray of bool
        The near-optimal set (errors within ``flat_rtol`` of ``error``) reaches the lower /
        upper bound: the true optimum may lie at or beyond it (for instance
        ``lam -> 0`` for noiseless, well-determined problems, or ``lam -> inf``, the zero
        predictor, when the labels are mostly noise).  Widen ``lam_bounds`` to see further.
    flat : ndarray of bool
        Every search point is near-optimal: the error does not depend on ``lam`` (to
        ``flat_rtol``).
    near_lo, near_hi : ndarray
        Smallest and largest ``lam`` whose error is within ``flat_rtol`` of ``error``, at the
        resolution of ``points_per_decade`` in ``lam`` (``lam`` itself where the bottom is
        sharper): the width of a flat bottom.
    """

    lam: np.ndarray
    error: np.ndarray
    at_lower: np.ndarray
    at_upper: np.ndarray
    flat: np.ndarray
    near_lo: np.ndarray
    near_hi: np.ndarray



def search_lambda(ev, lo: float, hi: float, *, ppd: int, flat_rtol: float,
                  xtol: float) -> OptimalLambda:
    """The penalty in ``[lo, hi]`` minimising the error of every point of the evaluator ``ev``
    (:class:`kernelcollapse.theory.Evaluator`); the arguments are validated by the caller."""
    def evaluate(log_kappa, cols):  # log_kappa: the points cols, repeated
        return ev.at_kappa(np.exp(log_kappa), np.tile(cols, log_kappa.size // cols.size))

    nodes, err, lam_grid, last = _coarse_nodes(ev, evaluate, lo=lo, hi=hi, ppd=ppd)
    lam, error = _refine(evaluate, nodes, lam_grid, err, last=last, xtol=xtol)
    flags = _near_set(ev, evaluate, lam_grid, err, last, lam, error, lo=lo, ppd=ppd,
                      flat_rtol=flat_rtol)
    return OptimalLambda(*(x.reshape(ev.shape) for x in (lam, error) + flags))


# Peak bytes per coarse search node and point (tracemalloc: about 285), with room: the nodes,
# their errors and penalties, and the evaluation's parts (tests/test_memory_guard.py).
BYTES_PER_NODE = 320


def _coarse_nodes(ev, evaluate, *, lo: float, hi: float, ppd: int):
    """The coarse search nodes in ``log kappa`` with their errors and penalties, each of shape
    ``(rows, m)``, ordered in every column, and each column's last row (the rows after it
    repeat it).

    ``kappa`` of the bounds is solved per distinct downstream fit (two root solves each), and
    between them every column takes the points of one ``log kappa`` grid common to all columns
    (``ppd`` points per decade over the widest range): the spectral sums are computed once per
    grid point for every ``T``, ``p`` and weight, with no root solve.  The error is a smooth
    explicit function of ``log kappa``, the search's variable.
    """
    m = ev.size
    cols = np.arange(m)
    ends = np.log(ev.kappa(np.repeat([lo, hi], m), np.tile(cols, 2))).reshape(2, m)
    span = ends[1].max() - ends[0].min()
    rows = max(3, int(math.ceil(span / math.log(10.0) * ppd)) + 1)
    _memory.check_machine(f"optimal_lambda with points_per_decade = {ppd} ({rows + 2} search "
                          f"nodes for each of {m} points)", BYTES_PER_NODE * (rows + 2) * m,
                          "use a smaller points_per_decade (the default 8, refined by a "
                          "parabolic search, finds the optimum to xtol)")
    common = np.linspace(ends[0].min(), ends[1].max(), rows)
    inside = (common[:, None] > ends[0]) & (common[:, None] < ends[1])
    nodes = np.sort(np.vstack([ends[0], np.where(inside, common[:, None], np.inf), ends[1]]),
                    axis=0)
    last = inside.sum(axis=0) + 1
    nodes = np.where(np.isinf(nodes), ends[1], nodes)  # the copies of kappa(hi)
    parts = evaluate(nodes.ravel(), cols)
    return nodes, parts.total.reshape(nodes.shape), parts.lam.reshape(nodes.shape), last


def _near_set(ev, evaluate, lam_grid, err, last, lam, error, *, lo, ppd, flat_rtol):
    """``at_lower, at_upper, flat, near_lo, near_hi`` (see :class:`OptimalLambda`): the
    penalties whose error is within ``flat_rtol`` of the optimum ``error``, among the coarse
    nodes, the optimum ``lam`` itself, and the points of a grid of ``ppd`` per decade of
    ``lam`` from ``lo`` in the gaps next to the ends of that set.

    The nodes are spaced in ``kappa``, and ``lam`` moves faster than ``kappa`` (much faster
    next to the interpolation threshold, where ``lam`` spans decades while ``kappa`` barely
    moves): the grid in ``lam`` (a root solve per point) resolves the ends of the near-optimal
    range in ``lam`` where a gap between nodes is wider.
    """
    G, m = err.shape
    cols = np.arange(m)
    thr = error + flat_rtol * np.abs(error)
    real = np.arange(G)[:, None] <= last
    near = (err <= thr) & real
    at_lower, at_upper = near[0], near[last, cols]
    flat = np.all(near | ~real, axis=0)
    near_lam = np.where(near, lam_grid, np.nan)
    near_lo = np.nanmin(np.vstack([near_lam, lam]), axis=0)  # the optimum is near-optimal
    near_hi = np.nanmax(np.vstack([near_lam, lam]), axis=0)
    # the gap below near_lo (to the largest node under it) and above near_hi
    below = np.where(real & (lam_grid < near_lo), lam_grid, -np.inf).max(axis=0)
    above = np.where(real & (lam_grid > near_hi), lam_grid, np.inf).min(axis=0)
    step = math.log(10.0) / ppd
    for lower, (a, b) in ((True, (below, near_lo)), (False, (near_hi, above))):
        with np.errstate(divide="ignore", invalid="ignore"):
            pa, pb = np.log(a / lo) / step, np.log(b / lo) / step
        ok = np.isfinite(pa) & np.isfinite(pb)
        k0 = np.where(ok, np.floor(np.where(ok, pa, 0.0) + 1e-9) + 1, 0).astype(np.int64)
        count = np.where(ok, np.maximum(np.ceil(np.where(ok, pb, 0.0) - 1e-9) - k0, 0),
                         0).astype(np.int64)
        if not count.any():
            continue
        col = np.repeat(cols, count)
        k = k0[col] + np.arange(col.size) - np.repeat(np.cumsum(count) - count, count)
        pts = lo * np.exp(k * step)
        kappa = ev.kappa(pts, col)
        hit = evaluate(np.log(kappa), col).total <= thr[col]
        if lower:
            np.minimum.at(near_lo, col[hit], pts[hit])
        else:
            np.maximum.at(near_hi, col[hit], pts[hit])
    return at_lower, at_upper, flat, near_lo, near_hi


def penalty_bounds(lam_bounds, s_max: float) -> tuple[float, float]:
    """The search interval of the penalty: ``lam_bounds`` checked, or the default
    ``(1e-10, 1e2) * s_max``."""
    if lam_bounds is None:
        return 1e-10 * s_max, 1e2 * s_max
    b = v.as_float_array("lam_bounds", lam_bounds)
    if b.shape != (2,) or not np.all(np.isfinite(b)) or not 0 < b[0] < b[1]:
        raise ValueError(f"lam_bounds must be (lo, hi) with 0 < lo < hi, finite, got "
                         f"{[v.plain(x) for x in np.ravel(lam_bounds)]}")
    return float(b[0]), float(b[1])


# Parabolic refinement: spacing floor of the finite-difference parabola in log kappa (rounding
# of the error, ~1e-15 relative, then moves the vertex by ~1e-15 / 1e-6 = 1e-9) and the most
# iterations (each one evaluation of 3 m points; convergence is quadratic, 3-5 suffice).
_MIN_SPACING = 1e-6
_MAX_ITER = 40


def _refine(evaluate, log_kappa, lam_grid, err, *, last, xtol):
    """Refine the grid minimum of each column of ``err`` (``(G, m)``, at the nodes
    ``log_kappa``, whose penalties are ``lam_grid``) in ``log kappa``.  A column's nodes end
    at its row ``last``; rows after it repeat the last node.

    Each iteration evaluates the error at ``x - h, x, x + h`` for all ``m`` columns in one call
    (``evaluate(log_kappa, cols)`` returns the :class:`kernelcollapse.theory._error.Parts` of the
    columns ``cols`` at ``log_kappa``, the columns repeated) and moves ``x`` to
    the vertex of the parabola through them, with ``h`` shrinking with the step: Newton's
    method on finite differences, converging quadratically on these smooth curves.  The
    vertex is kept inside the bracket of the grid neighbours, which unimodality shrinks as
    points are evaluated; where the curvature is not positive a golden-section step into the
    larger side is taken instead.  The best point evaluated is kept.
    """
    cols = np.arange(err.shape[1])
    i = np.minimum(np.argmin(err, axis=0), last)
    e_grid = err[i, cols]
    a = log_kappa[np.maximum(i - 1, 0), cols]
    b = log_kappa[np.minimum(i + 1, last), cols]
    # Start strictly inside the bracket (a grid minimum at a bound is one of its ends), and
    # keep every evaluated point inside it: the search never leaves the bounds.
    x = np.where((i == 0) | (i == last), 0.5 * (a + b), log_kappa[i, cols])
    h = np.minimum(0.25 * (b - a), np.minimum(x - a, b - x))
    best_x, best_f, best_lam = x.copy(), e_grid.copy(), lam_grid[i, cols]
    active = (b - a > xtol) & (h > 0)
    for _ in range(_MAX_ITER):
        if not np.any(active):
            break
        idx = np.flatnonzero(active)
        xa, ha = x[idx], h[idx]
        parts = evaluate(np.concatenate([xa - ha, xa, xa + ha]), idx)
        fl, f0, fr = np.split(parts.total, 3)
        lams = np.split(parts.lam, 3)
        # the best point so far
        for xs, fs, ls in ((xa - ha, fl, lams[0]), (xa, f0, lams[1]), (xa + ha, fr, lams[2])):
            win = fs < best_f[idx]
            best_x[idx] = np.where(win, xs, best_x[idx])
            best_lam[idx] = np.where(win, ls, best_lam[idx])
            best_f[idx] = np.where(win, fs, best_f[idx])
        # unimodality: the minimum lies on the lower side of the triple's middle
        lo, hi = a[idx], b[idx]
        lo = np.where(fr < f0, np.maximum(lo, xa), np.where(fl < f0, lo, np.maximum(lo, xa - ha)))
        hi = np.where(fl < f0, np.minimum(hi, xa), np.where(fr < f0, hi, np.minimum(hi, xa + ha)))
        curv = fl - 2.0 * f0 + fr
        with np.errstate(divide="ignore", invalid="ignore"):
            vertex = xa - 0.5 * ha * (fr - fl) / curv
        golden = np.where(xa - lo > hi - xa, xa - _GOLDEN_STEP * (xa - lo),
                          xa + _GOLDEN_STEP * (hi - xa))
        ok = (curv > 0) & (vertex > lo) & (vertex < hi)
        new = np.where(ok, vertex, golden)
        step = np.abs(new - xa)
        x[idx], a[idx], b[idx] = new, lo, hi
        h[idx] = np.minimum(np.clip(0.5 * step, _MIN_SPACING, 0.25 * (hi - lo) + _MIN_SPACING),
                            np.minimum(new - lo, hi - new))
        active[idx] = (step > xtol) & (hi - lo > xtol) & (h[idx] > 0)
    better = best_f < e_grid
    return (np.where(better, best_lam, lam_grid[i, cols]),
            np.where(better, best_f, e_grid))



class OptimalWeight(NamedTuple):
    """Result of :func:`optimal_weight`; every field has the broadcast shape of the inputs.

    Attributes
    ----------
    lam, weight : ndarray
        The jointly optimal penalty and weight ``omega`` of the synthetic rows.
    error : ndarray
        Predicted test error there.
    lam_unweighted, error_unweighted : ndarray
        The corner ``omega = 1`` (synthetic rows counted like real ones) at its best ``lam``.
    lam_dropped, error_dropped : ndarray
        The corner ``omega = 0`` (synthetic rows dropped) at its best ``lam``; NaN where
        ``p = 1`` (no real rows would be left).
    at_upper : ndarray of bool
        The optimal weight is at the upper bound of the search (raise ``max_weight``).
    """

    lam: np.ndarray
    weight: np.ndarray
    error: np.ndarray
    lam_unweighted: np.ndarray
    error_unweighted: np.ndarray
    lam_dropped: np.ndarray
    error_dropped: np.ndarray
    at_upper: np.ndarray


# Weights of the coarse search: 0, then log-spaced (this many per decade) up to max_weight.
_WEIGHTS_PER_DECADE = 6
MIN_WEIGHT = 1e-3



def search_weight(best, pf: np.ndarray, shape: tuple[int, ...], *, max_weight: float,
                  wtol: float) -> OptimalWeight:
    """The weight of the synthetic rows in ``[0, max_weight]`` and its penalty minimising the
    error, for the flat points of synthetic fractions ``pf`` (the grid's ``shape``);
    ``best(weight)`` is the :class:`OptimalLambda` of the points at that weight (broadcast
    ``(..., m)``).  The arguments are validated by the caller."""
    some_real = pf < 1

    ones = best(1.0)
    dropped = best(np.where(some_real, 0.0, 1.0))
    decades = math.log10(max_weight / MIN_WEIGHT)
    grid = np.r_[0.0, np.geomspace(MIN_WEIGHT, max_weight,
                                   int(math.ceil(decades * _WEIGHTS_PER_DECADE)) + 1)]
    # p = 1 rows: weight 0 is undefined there and every weight is equivalent; keep 1.
    W = np.where(some_real[None, :], grid[:, None], 1.0)
    coarse = best(W)
    m, K = pf.size, grid.size
    i = np.argmin(coarse.error, axis=0)
    cols = np.arange(m)
    # golden section in u = log(weight), with weight 0 stood in for by the grid's first
    # positive weight divided by 10 (the error is continuous at 0)
    u = np.log(np.maximum(grid, MIN_WEIGHT / 10))
    a, b = u[np.maximum(i - 1, 0)], u[np.minimum(i + 1, K - 1)]
    steps = max(1, math.ceil(math.log(wtol / max(float(np.max(b - a)), wtol))
                             / math.log(1 - _GOLDEN_STEP)))
    c, d = b - (1 - _GOLDEN_STEP) * (b - a), a + (1 - _GOLDEN_STEP) * (b - a)
    fc, fd = best(np.where(some_real, np.exp(c), 1.0)), best(np.where(some_real, np.exp(d), 1.0))
    for _ in range(steps):
        left = fc.error < fd.error
        a, b = np.where(left, a, c), np.where(left, d, b)
        c_old, d_old, fc_old, fd_old = c, d, fc, fd
        c = np.where(left, b - (1 - _GOLDEN_STEP) * (b - a), d_old)
        d = np.where(left, c_old, a + (1 - _GOLDEN_STEP) * (b - a))
        new = best(np.where(some_real, np.exp(np.where(left, c, d)), 1.0))
        fc = OptimalLambda(*(np.where(left, x, y) for x, y in zip(new, fd_old)))
        fd = OptimalLambda(*(np.where(left, y, x) for x, y in zip(new, fc_old)))
    x_ref = np.where(fc.error < fd.error, c, d)
    f_ref = np.where(fc.error < fd.error, fc.error, fd.error)
    l_ref = np.where(fc.error < fd.error, fc.lam, fd.lam)
    e_grid = coarse.error[i, cols]
    refined = f_ref < e_grid
    weight = np.where(refined, np.exp(x_ref), grid[i])
    weight = np.where(some_real, weight, 1.0)
    lam = np.where(refined, l_ref, coarse.lam[i, cols])
    error = np.where(refined, f_ref, e_grid)
    nan = np.full(m, np.nan)
    out = (lam, weight, error, ones.lam, ones.error,
           np.where(some_real, dropped.lam, nan), np.where(some_real, dropped.error, nan),
           some_real & (i == K - 1))
    return OptimalWeight(*(np.asarray(x).reshape(shape) for x in out))
