r"""The ridge penalty that minimises the predicted test error, with and without synthetic data.

* :func:`optimal_lambda`: bounded search on ``log lam`` of the deterministic-equivalent
  error :func:`kernelcollapse.theory.test_error`, broadcast over ``T``, ``T0``, ``n``, ...;
* :func:`optimal_weight`: the penalty and the weight of the synthetic rows, jointly;
* :func:`fit_exponent`: the empirical exponent ``ell`` of ``lam*(T) ~ T^-ell``, to compare with
  :func:`kernelcollapse.theory.scaling.optimal_exponent` and ``critical_exponent``.

Tuning on a practitioner's data is :func:`kernelcollapse.tuning.recommend`.

The ridge normalisation is the library's: ``w = (X'X/T + lam I)^-1 X'y/T``.  In scikit-learn's
``Ridge(alpha)`` (loss ``||y - Xw||^2 + alpha ||w||^2``) that is ``alpha = T * lam``.

References
----------
E. Dohmatob, Y. Feng, J. Kempe. *Model Collapse Demystified: The Case of Regression.*
NeurIPS 2024, arXiv:2402.07712 (Section 5: adaptive regularisation).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from kernelcollapse._util import memory as _memory
from kernelcollapse._util import validate as v
from kernelcollapse._util.blas import uses_one_blas_thread

__all__ = ["ExponentFit", "OptimalLambda", "OptimalWeight", "fit_exponent", "optimal_lambda",
           "optimal_weight"]

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


class ExponentFit(NamedTuple):
    """``lam ~ prefactor * T^(-exponent)``, least squares in log-log.

    ``residual`` is the largest absolute deviation of ``log lam`` from the fitted line
    (curvature, or a finite-size effect, shows up there).
    """

    exponent: float
    prefactor: float
    residual: float


# ----------------------------------------------------------------------------------------------
# optimal_lambda
# ----------------------------------------------------------------------------------------------


@uses_one_blas_thread
def optimal_lambda(eigvals: ArrayLike, w0: ArrayLike, *, T: ArrayLike, T0: ArrayLike,
                   n: ArrayLike, sigma: ArrayLike, sigma0: ArrayLike, lam0: ArrayLike = 0.0,
                   p: ArrayLike = 1.0, mode: str = "replace", fresh: ArrayLike = 0.0,
                   weight: ArrayLike = 1.0, lam_bounds: tuple[float, float] | None = None,
                   points_per_decade: int = 8, flat_rtol: float = 1e-6,
                   xtol: float = 1e-7) -> OptimalLambda:
    r"""The ridge penalty minimising the deterministic-equivalent test error.

    .. math::  \lambda^* = \arg\min_{\lambda_{lo} \le \lambda \le \lambda_{hi}}
               E_{test}(\lambda;\ T, T_0, n, \sigma, \sigma_0, \lambda_0, p, \ldots)

    with ``E_test`` from :func:`kernelcollapse.theory.test_error`, for every point of the
    broadcast grid of the other arguments at once.

    The search runs in ``log kappa``, the effective regularisation: the error is an explicit
    function of ``kappa`` and ``lam = lam(kappa)`` is explicit and increasing, so a point costs
    one pass over the spectrum and no root solve.  A coarse grid (``points_per_decade`` per
    decade of ``kappa``, between ``kappa`` of the two bounds, common to every point of the
    broadcast grid so that its spectral sums are shared) is evaluated in one pass; around the
    best node, Newton steps on finite differences (golden-section steps where the curvature is
    not positive) in the bracket of its two neighbours.  The better of the refined point and
    the best node is returned, so ``error`` never exceeds the coarse minimum.  A minimum at a bound
    and a flat region are reported by the flags of :class:`OptimalLambda`.  A second, narrower
    local minimum between grid points can be missed: raise ``points_per_decade`` if the curve
    may be wiggly.  :meth:`kernelcollapse.PreparedProblem.optimal_lambda` reuses one prepared
    problem across calls.

    Parameters
    ----------
    eigvals : array_like, shape (d,)
        Covariance eigenvalues, ``> 0``.
    w0 : array_like, shape (d,)
        Teacher coefficients in the eigenbasis.
    T, T0, n, sigma, sigma0, lam0, p, mode, fresh, weight
        As in :func:`kernelcollapse.theory.test_error` (broadcast).
    lam_bounds : (float, float), optional
        Search interval ``0 < lo < hi``.  Default ``(1e-10, 1e2) * max(eigvals)``.
    points_per_decade : int, default 8
        Density of the coarse grid (``>= 2``).
    flat_rtol : float, default 1e-6
        Relative tolerance defining the near-optimal set (flags, ``near_lo``/``near_hi``).
    xtol : float, default 1e-7
        Accuracy of the refinement in ``log kappa``; ``log lam`` is at least as accurate up to
        the factor ``d log lam / d log kappa = 1 + (df1 - df2)/(T - df1) >= 1``.

    Returns
    -------
    OptimalLambda
        Fields of the broadcast shape of the arguments (0-d arrays for scalar input).

    References
    ----------
    Dohmatob, Feng & Kempe (2024), Section 5 (adaptive regularisation); J. Kiefer,
    *Sequential minimax search for a maximum*, Proc. AMS 4 (1953) (golden section).
    """
    from kernelcollapse.theory._prepared import prepare

    return prepare(eigvals, w0).optimal_lambda(
        T=T, T0=T0, n=n, sigma=sigma, sigma0=sigma0, lam0=lam0, p=p, mode=mode, fresh=fresh,
        weight=weight, lam_bounds=lam_bounds, points_per_decade=points_per_decade,
        flat_rtol=flat_rtol, xtol=xtol)


def _optimal_lambda(prob, *, T, T0, n, sigma, sigma0, lam0=0.0, p=1.0, mode="replace",
                    fresh=0.0, weight=1.0, lam_bounds=None, points_per_decade=8, flat_rtol=1e-6,
                    xtol=1e-7) -> OptimalLambda:
    """:func:`optimal_lambda` on a :class:`kernelcollapse.PreparedProblem`."""
    lo, hi = _bounds(lam_bounds, float(prob.eigvals.max()))
    ppd = v.integer("points_per_decade", points_per_decade, minimum=2)
    flat_rtol = v.scalar("flat_rtol", flat_rtol, check=v.nonnegative)
    xtol = v.scalar("xtol", xtol, check=v.positive)
    g = prob._grid(T=T, T0=T0, n=n, lam=lo, lam0=lam0, p=p, fresh=fresh, weight=weight,
                   sigma=sigma, sigma0=sigma0, mode=mode)
    gen, b_rows, S_rows = prob._generator_rows(g)

    def evaluate(log_kappa, cols):  # log_kappa: the points cols, repeated
        sub = np.tile(cols, log_kappa.size // cols.size)
        at = g._replace(**{k: getattr(g, k)[sub] for k in ("T", "p", "weight", "sigma")})
        return prob._evaluate(np.exp(log_kappa), at, gen[sub], b_rows, S_rows)

    nodes, err, lam_grid, last = _coarse_nodes(prob, evaluate, g, lo=lo, hi=hi, ppd=ppd)
    lam, error = _refine(evaluate, nodes, lam_grid, err, last=last, xtol=xtol)
    flags = _near_set(prob, evaluate, g, lam_grid, err, last, lam, error, lo=lo, ppd=ppd,
                      flat_rtol=flat_rtol)
    return OptimalLambda(*(x.reshape(g.shape) for x in (lam, error) + flags))


# Peak bytes per coarse search node and point (tracemalloc: about 285), with room: the nodes,
# their errors and penalties, and the evaluation's parts (tests/test_memory_guard.py).
BYTES_PER_NODE = 320


def _coarse_nodes(prob, evaluate, g, *, lo: float, hi: float, ppd: int):
    """The coarse search nodes in ``log kappa`` with their errors and penalties, each of shape
    ``(rows, m)``, ordered in every column, and each column's last row (the rows after it
    repeat it).

    ``kappa`` of the bounds is solved per distinct downstream fit (two root solves each), and
    between them every column takes the points of one ``log kappa`` grid common to all columns
    (``ppd`` points per decade over the widest range): the spectral sums are computed once per
    grid point for every ``T``, ``p`` and weight, with no root solve.  The error is a smooth
    explicit function of ``log kappa``, the search's variable.
    """
    m = g.T.size
    cols = np.arange(m)
    ends = np.log(prob._kappa(np.repeat([lo, hi], m), np.tile(g.T, 2), np.tile(g.p, 2),
                              np.tile(g.weight, 2))).reshape(2, m)
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


def _near_set(prob, evaluate, g, lam_grid, err, last, lam, error, *, lo, ppd, flat_rtol):
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
        kappa = prob._kappa(pts, g.T[col], g.p[col], g.weight[col])
        hit = evaluate(np.log(kappa), col).total <= thr[col]
        if lower:
            np.minimum.at(near_lo, col[hit], pts[hit])
        else:
            np.maximum.at(near_hi, col[hit], pts[hit])
    return at_lower, at_upper, flat, near_lo, near_hi


def _bounds(lam_bounds, s_max: float) -> tuple[float, float]:
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
_MIN_WEIGHT = 1e-3


@uses_one_blas_thread
def optimal_weight(eigvals: ArrayLike, w0: ArrayLike, *, T: ArrayLike, T0: ArrayLike,
                   n: ArrayLike, sigma: ArrayLike, sigma0: ArrayLike, p: ArrayLike,
                   lam0: ArrayLike = 0.0, mode: str = "replace", fresh: ArrayLike = 0.0,
                   max_weight: float = 10.0, lam_bounds: tuple[float, float] | None = None,
                   points_per_decade: int = 8, wtol: float = 1e-4) -> OptimalWeight:
    r"""How much to trust synthetic rows: the penalty and the weight of the synthetic rows that
    jointly minimise the deterministic-equivalent test error.

    .. math::  (\lambda^*, \omega^*) = \arg\min_{\lambda, \ 0 \le \omega \le
               \omega_{max}} E_{test}(\lambda, \omega;\ T, T_0, n, p, \ldots)

    where the downstream loss weighs the synthetic rows (a fraction ``p``) by ``omega``
    (:func:`kernelcollapse.theory.test_error`, argument ``weight``).  For each weight the best
    penalty is :func:`optimal_lambda`'s; the weight is searched on a grid (``0`` and
    log-spaced values from ``1e-3`` to ``max_weight``) and refined by golden section in
    ``log omega`` between the best grid point's neighbours (linearly next to ``0``), to
    ``wtol`` relative.  Also returned: the two corners a practitioner would otherwise choose
    between, counting synthetic rows like real ones (``omega = 1``) and dropping them
    (``omega = 0``).  With ``p = 1`` every row is synthetic and a common weight is the same as
    a rescaled penalty, so the weight is reported as 1.

    Parameters
    ----------
    eigvals, w0 : array_like, shape (d,)
    T, T0, n, sigma, sigma0, p, lam0, mode, fresh
        As in :func:`kernelcollapse.theory.test_error` (broadcast).
    max_weight : float, default 10.0
        Upper bound of the weight search (``> 1e-3``).
    lam_bounds, points_per_decade
        As in :func:`optimal_lambda`.
    wtol : float, default 1e-4
        Relative accuracy of the weight.

    Returns
    -------
    OptimalWeight
    """
    from kernelcollapse.theory._prepared import prepare

    prob = prepare(eigvals, w0)
    max_weight = v.scalar("max_weight", max_weight, check=v.positive)
    if max_weight <= _MIN_WEIGHT:
        raise ValueError(f"max_weight must be > {_MIN_WEIGHT}, got {v.plain(max_weight)}")
    wtol = v.scalar("wtol", wtol, check=v.positive)
    kw = dict(T=T, T0=T0, n=n, sigma=sigma, sigma0=sigma0, lam0=lam0, mode=mode, fresh=fresh,
              lam_bounds=lam_bounds, points_per_decade=points_per_decade)
    p = v.probability("p", p)
    shape, flat = v.broadcast(p=p, **{k: v.as_float_array(k, kw[k])
                                      for k in ("T", "T0", "n", "sigma", "sigma0", "lam0",
                                                "fresh")})
    flat_kw = {**kw, **{k: flat[k] for k in flat if k != "p"}}
    pf = flat["p"]
    some_real = pf < 1

    def best(weight):  # weight: (..., m) broadcasting against the flat points
        return prob.optimal_lambda(p=pf, weight=weight, **flat_kw)

    ones = best(1.0)
    dropped = best(np.where(some_real, 0.0, 1.0))
    decades = math.log10(max_weight / _MIN_WEIGHT)
    grid = np.r_[0.0, np.geomspace(_MIN_WEIGHT, max_weight,
                                   int(math.ceil(decades * _WEIGHTS_PER_DECADE)) + 1)]
    # p = 1 rows: weight 0 is undefined there and every weight is equivalent; keep 1.
    W = np.where(some_real[None, :], grid[:, None], 1.0)
    coarse = best(W)
    m, K = pf.size, grid.size
    i = np.argmin(coarse.error, axis=0)
    cols = np.arange(m)
    # golden section in u = log(weight), with weight 0 stood in for by the grid's first
    # positive weight divided by 10 (the error is continuous at 0)
    u = np.log(np.maximum(grid, _MIN_WEIGHT / 10))
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


# ----------------------------------------------------------------------------------------------
# fit_exponent
# ----------------------------------------------------------------------------------------------


def fit_exponent(T: ArrayLike, lam: ArrayLike) -> ExponentFit:
    r"""Empirical exponent of ``lam*(T) ~ prefactor * T^(-exponent)``.

    Least-squares slope of ``-log lam`` against ``log T``: compare with ``ell*``
    (:func:`kernelcollapse.theory.scaling.optimal_exponent`) and ``ell_crit``.

    Parameters
    ----------
    T : array_like, shape (k,)
        Sample sizes, ``> 0``, at least two distinct.
    lam : array_like, shape (k,)
        Penalties (e.g. ``optimal_lambda(...).lam``), ``> 0``.  Drop the points flagged
        ``at_lower``/``at_upper`` first: a penalty pinned to a bound carries no slope.

    Returns
    -------
    ExponentFit
    """
    T = v.positive("T", T)
    lam = v.positive("lam", lam)
    if T.ndim != 1 or T.shape != lam.shape:
        raise ValueError(f"T and lam must be 1-D of the same length, got shapes {T.shape} and "
                         f"{lam.shape}")
    if np.unique(T).size < 2:
        raise ValueError(f"T must hold at least two distinct values, got "
                         f"{[v.plain(x) for x in T]}")
    x, y = np.log(T), np.log(lam)
    slope, intercept = np.polyfit(x, y, 1)
    resid = float(np.max(np.abs(y - (slope * x + intercept))))
    return ExponentFit(float(-slope), float(np.exp(intercept)), resid)
