r"""The ridge penalty that minimises the predicted test error, with and without synthetic data.

* :func:`optimal_lambda`: bounded search on ``log lam`` of the deterministic-equivalent
  error :func:`kernelcollapse.theory.test_error`, broadcast over ``T``, ``T0``, ``n``, ...;
* :func:`fit_exponent`: the empirical exponent ``ell`` of ``lam*(T) ~ T^-ell``, to compare with
  :func:`kernelcollapse.scaling.optimal_exponent` and ``critical_exponent``;
* :func:`recommend`: the penalty for a user's feature matrix (and labels), with what the
  clean-data choice would cost.

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

from kernelcollapse import _validate as v

__all__ = ["ExponentFit", "OptimalLambda", "Recommendation", "fit_exponent", "optimal_lambda",
           "recommend"]

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0  # 0.618...


class OptimalLambda(NamedTuple):
    """Result of :func:`optimal_lambda`; every field has the broadcast shape of the inputs.

    Attributes
    ----------
    lam : ndarray
        The minimising penalty (within the bounds).
    error : ndarray
        Predicted test error at ``lam`` (never above the smallest error on the search grid).
    at_lower, at_upper : ndarray of bool
        The near-optimal set (errors within ``flat_rtol`` of the minimum on the grid) reaches
        the lower / upper bound: the true optimum may lie at or beyond it (for instance
        ``lam -> 0`` for noiseless, well-determined problems, or ``lam -> inf``, the zero
        predictor, when the labels are mostly noise).  Widen ``lam_bounds`` to see further.
    flat : ndarray of bool
        The whole grid is near-optimal: the error does not depend on ``lam`` (to ``flat_rtol``).
    near_lo, near_hi : ndarray
        Smallest and largest grid ``lam`` whose error is within ``flat_rtol`` of the minimum:
        the width of a flat bottom.
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


class Recommendation(NamedTuple):
    """Result of :func:`recommend`.

    Attributes
    ----------
    lam : float
        Recommended penalty for training on the synthetic labels (library normalisation).
    error : float
        Its predicted test error ``E ||w - w0||_Sigma^2``.
    lam_clean : float
        The penalty clean-data theory (``n = 0``) would pick.
    error_clean_choice : float
        Predicted test error of ``lam_clean`` on the synthetic labels.
    loss : float
        ``error_clean_choice - error >= 0``: what ignoring the collapse costs.
    eigvals, w0 : ndarray, shape (k,)
        The estimated spectrum (``k`` = rank of the data) and teacher coefficients used.
    sigma : float
        The label noise used (given or estimated from the pilot residuals).
    pilot_lam : float or None
        Penalty of the pilot fit (generalised cross-validation), ``None`` without labels.
    search, search_clean : OptimalLambda
        The two searches, with their edge and flat-region flags.
    """

    lam: float
    error: float
    lam_clean: float
    error_clean_choice: float
    loss: float
    eigvals: np.ndarray
    w0: np.ndarray
    sigma: float
    pilot_lam: float | None
    search: OptimalLambda
    search_clean: OptimalLambda


# ----------------------------------------------------------------------------------------------
# optimal_lambda
# ----------------------------------------------------------------------------------------------


def optimal_lambda(eigvals: ArrayLike, w0: ArrayLike, *, T: ArrayLike, T0: ArrayLike,
                   n: ArrayLike, sigma: float, sigma0: float, lam0: ArrayLike = 0.0,
                   p: ArrayLike = 1.0, lam_bounds: tuple[float, float] | None = None,
                   points_per_decade: int = 8, flat_rtol: float = 1e-6,
                   xtol: float = 1e-7) -> OptimalLambda:
    r"""The ridge penalty minimising the deterministic-equivalent test error.

    .. math::  \lambda^* = \arg\min_{\lambda_{lo} \le \lambda \le \lambda_{hi}}
               E_{test}(\lambda;\ T, T_0, n, \sigma, \sigma_0, \lambda_0, p)

    with ``E_test`` from :func:`kernelcollapse.theory.test_error` (notes (B), (C), (D)).

    The search, for every point of the broadcast grid at once: a log-spaced grid of ``lam``
    evaluated in one broadcast call of ``test_error``; around the best grid point a
    golden-section search on ``log lam`` in the bracket of its two neighbours (a fixed number
    of vectorised steps, ``xtol`` in ``log lam``); the better of the refined point and the best
    grid point is returned, so ``error`` never exceeds the grid minimum.  A U-shaped curve is
    refined to ``xtol``; a minimum at a bound and a flat region are reported by the flags of
    :class:`OptimalLambda`.  A second, narrower local minimum between grid points can be
    missed: raise ``points_per_decade`` if the curve may be wiggly.

    Parameters
    ----------
    eigvals : array_like, shape (d,)
        Covariance eigenvalues, ``> 0``.
    w0 : array_like, shape (d,)
        Teacher coefficients in the eigenbasis.
    T, T0 : float or array_like
        Downstream and per-generator sample sizes (broadcast).
    n : int or array_like of int
        Generation of the labels (broadcast); ``0`` is clean data.
    sigma, sigma0 : float
        Label noise of the downstream data and of the generators.
    lam0, p : float or array_like
        Generator ridge and synthetic fraction (broadcast), as in ``test_error``.
    lam_bounds : (float, float), optional
        Search interval ``0 < lo < hi``.  Default ``(1e-10, 1e2) * max(eigvals)``.
    points_per_decade : int, default 8
        Density of the coarse grid (``>= 2``).
    flat_rtol : float, default 1e-6
        Relative tolerance defining the near-optimal set (flags, ``near_lo``/``near_hi``).
    xtol : float, default 1e-7
        Accuracy of the refinement in ``log lam`` (relative accuracy of ``lam``).

    Returns
    -------
    OptimalLambda
        Fields of shape ``broadcast(T, T0, n, lam0, p)`` (0-d arrays for scalar input).

    References
    ----------
    Dohmatob, Feng & Kempe (2024), Section 5 (adaptive regularisation); J. Kiefer,
    *Sequential minimax search for a maximum*, Proc. AMS 4 (1953) (golden section).
    """
    from kernelcollapse import theory

    s, w = v.spectrum(eigvals, w0)
    lo, hi = _bounds(lam_bounds, float(s.max()))
    ppd = v.integer("points_per_decade", points_per_decade, minimum=2)
    flat_rtol = v.scalar("flat_rtol", flat_rtol, check=v.nonnegative)
    xtol = v.scalar("xtol", xtol, check=v.positive)
    arrays = {"T": v.positive("T", T), "T0": v.positive("T0", T0),
              "n": v.nonnegative_integer("n", n), "lam0": v.nonnegative("lam0", lam0),
              "p": v.probability("p", p)}
    shape = np.broadcast_shapes(*(x.shape for x in arrays.values()))
    flat = {k: np.broadcast_to(x, shape).ravel() for k, x in arrays.items()}

    def total(log_lam):  # log_lam: (..., m) broadcasting against the flat inputs
        return np.asarray(theory.test_error(s, w, lam=np.exp(log_lam), sigma=sigma,
                                            sigma0=sigma0, **flat).total)

    decades = math.log10(hi / lo)
    grid = np.linspace(math.log(lo), math.log(hi), max(3, int(math.ceil(decades * ppd)) + 1))
    err = total(grid[:, None])  # (G, m): the whole coarse grid in one call
    res = _refine(total, grid, err, xtol=xtol, flat_rtol=flat_rtol)
    return OptimalLambda(*(x.reshape(shape) for x in res))


def _bounds(lam_bounds, s_max: float) -> tuple[float, float]:
    if lam_bounds is None:
        return 1e-10 * s_max, 1e2 * s_max
    b = v.as_float_array("lam_bounds", lam_bounds)
    if b.shape != (2,) or not np.all(np.isfinite(b)) or not 0 < b[0] < b[1]:
        raise ValueError(f"lam_bounds must be (lo, hi) with 0 < lo < hi, finite, got "
                         f"{lam_bounds!r}")
    return float(b[0]), float(b[1])


def _refine(total, grid, err, *, xtol, flat_rtol):
    """Golden-section refinement around the grid minimum; trusted core, arrays of shape (m,)."""
    G, m = err.shape
    cols = np.arange(m)
    i = np.argmin(err, axis=0)
    e_grid = err[i, cols]
    a = grid[np.maximum(i - 1, 0)]
    b = grid[np.minimum(i + 1, G - 1)]
    steps = max(1, math.ceil(math.log(xtol / (2 * (grid[1] - grid[0]))) / math.log(_GOLDEN)))
    c = b - _GOLDEN * (b - a)
    d = a + _GOLDEN * (b - a)
    f = total(np.stack([c, d]))
    fc, fd = f[0], f[1]
    for _ in range(steps):  # fixed count: every element advances together, same shapes
        left = fc < fd  # the minimum lies in [a, d]
        a, b = np.where(left, a, c), np.where(left, d, b)
        c_old, d_old, fc_old, fd_old = c, d, fc, fd
        c = np.where(left, b - _GOLDEN * (b - a), d_old)
        d = np.where(left, c_old, a + _GOLDEN * (b - a))
        f_new = total(np.where(left, c, d))
        fc = np.where(left, f_new, fd_old)
        fd = np.where(left, fc_old, f_new)
    x_ref = np.where(fc < fd, c, d)
    e_ref = np.minimum(fc, fd)
    better = e_ref < e_grid
    lam = np.exp(np.where(better, x_ref, grid[i]))
    error = np.where(better, e_ref, e_grid)
    near = err <= e_grid + flat_rtol * np.abs(e_grid)  # holds at the grid argmin at least
    first = np.argmax(near, axis=0)
    last = G - 1 - np.argmax(near[::-1], axis=0)
    return (lam, error, near[0], near[-1], np.all(near, axis=0), np.exp(grid[first]),
            np.exp(grid[last]))


# ----------------------------------------------------------------------------------------------
# fit_exponent
# ----------------------------------------------------------------------------------------------


def fit_exponent(T: ArrayLike, lam: ArrayLike) -> ExponentFit:
    r"""Empirical exponent of ``lam*(T) ~ prefactor * T^(-exponent)``.

    Least-squares slope of ``-log lam`` against ``log T``: compare with ``ell*``
    (:func:`kernelcollapse.scaling.optimal_exponent`) and ``ell_crit``.

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
        raise ValueError(f"T must hold at least two distinct values, got {T!r}")
    x, y = np.log(T), np.log(lam)
    slope, intercept = np.polyfit(x, y, 1)
    resid = float(np.max(np.abs(y - (slope * x + intercept))))
    return ExponentFit(float(-slope), float(np.exp(intercept)), resid)


# ----------------------------------------------------------------------------------------------
# recommend
# ----------------------------------------------------------------------------------------------


def recommend(X: ArrayLike, y: ArrayLike | None = None, *, n: int, T0: float, sigma0: float,
              sigma: float | None = None, p: float = 1.0, lam0: float = 0.0,
              T: int | None = None, center: bool = True, signal: float = 1.0,
              lam_bounds: tuple[float, float] | None = None) -> Recommendation:
    r"""Recommend a ridge penalty for training on synthetic labels, from a feature matrix.

    The user has features ``X`` (``T`` rows, ``d`` columns), will train ridge regression
    (library normalisation ``(X'X/T + lam I)^-1 X'y/T``) on labels of which a fraction ``p``
    come from the ``n``-th generation of a chain of least-squares (``lam0 = 0``) or ridge
    generators, each fitted on ``T0`` samples with label noise ``sigma0``.  The theory of
    :func:`kernelcollapse.theory.test_error` is then evaluated on a plug-in estimate of the
    problem, and :func:`optimal_lambda` is run twice: with the synthetic labels, and as
    clean-data theory would (``n = 0``).

    Assumptions, every one of them:

    1. The rows of ``X`` are i.i.d. with a Gaussian-like distribution (the deterministic
       equivalents are exact for Gaussian features, approximate otherwise), and the data
       the generators and the downstream model see have the same distribution as ``X``.
    2. Spectrum: the eigenvalues of the sample covariance ``X'X/T`` after centring the columns
       (``center=True``; the intercept is then fitted separately, unpenalised, and ``y`` is
       centred too) or of the raw second moment (``center=False``: a model without intercept).
       Sample eigenvalues are spread out relative to the population ones when ``d/T`` is not
       small (Marchenko-Pastur); they are used as they are (plug-in).  Directions of zero
       sample variance (rank deficiency, ``T <= d``) are dropped: ``d`` in the theory is the
       rank ``k`` of the data, which matters for the least-squares generators (``T0`` vs ``k``).
    3. Teacher, with labels ``y`` (assumed clean, or at least representative of the target):
       in the sample eigenbasis ``v_j``, ``z_j = v_j'X'y/(T s_j)`` is unbiased for the teacher
       coefficient with variance ``sigma^2/(T s_j)``, so ``s_j z_j^2 - sigma^2/T`` is an unbiased
       estimate of the energy ``s_j w0_j^2``; its positive part is used (which overestimates
       the energy of the pure-noise directions by ``O(sigma^2/T)`` each).
    4. Teacher without labels: a flat prior ``w0_j^2 = signal / sum_j s_j`` (isotropic random
       effects with ``Var(x . w0) = signal``, default 1; in the units of ``y``).  ``sigma`` is
       then required.
    5. Noise, when ``sigma`` is not given: a pilot ridge fit at the penalty chosen by
       generalised cross-validation, ``sigma^2 = RSS / (T - df)`` with ``df = sum s/(s+lam)``.
    6. The downstream sample size is ``T`` (default: the number of rows of ``X``).

    Parameters
    ----------
    X : array_like, shape (T, d)
        Feature matrix.
    y : array_like, shape (T,), optional
        Labels for the pilot fit.
    n : int
        Generation of the synthetic labels, ``>= 1``.
    T0 : float
        Samples per generator fit.
    sigma0 : float
        Label noise of each generator, ``>= 0``.
    sigma : float, optional
        Label noise of the downstream data; estimated from ``y`` when omitted.
    p : float, default 1.0
        Fraction of the downstream labels that are synthetic.
    lam0 : float, default 0.0
        Generator ridge.
    T : int, optional
        Downstream sample size; default ``X.shape[0]``.
    center : bool, default True
        Centre the columns of ``X`` (and ``y``).
    signal : float, default 1.0
        ``Var(x . w0)`` for the flat prior (only without ``y``).
    lam_bounds : (float, float), optional
        Passed to :func:`optimal_lambda`.

    Returns
    -------
    Recommendation

    Raises
    ------
    ValueError
        Bad shapes or values, ``sigma`` missing without labels, or data of rank 0.

    References
    ----------
    Dohmatob, Feng & Kempe (2024), Section 5; G. Golub, M. Heath, G. Wahba, *Generalized
    cross-validation as a method for choosing a good ridge parameter*, Technometrics 21 (1979).
    """
    X = v.check_finite("X", v.as_float_array("X", X))
    if X.ndim != 2 or X.shape[0] < 2 or X.shape[1] < 1:
        raise ValueError(f"X must be a 2-D array with at least 2 rows and 1 column, got shape "
                         f"{X.shape}")
    rows = X.shape[0]
    if y is not None:
        y = v.check_finite("y", v.as_float_array("y", y))
        if y.shape != (rows,):
            raise ValueError(f"y must have shape ({rows},) to match X, got {y.shape}")
    n = v.integer("n", n, minimum=1)
    T0 = v.scalar("T0", T0, check=v.positive)
    sigma0 = v.scalar("sigma0", sigma0, check=v.nonnegative)
    if sigma is not None:
        sigma = v.scalar("sigma", sigma, check=v.nonnegative)
    elif y is None:
        raise ValueError("sigma (the label noise) is required when no labels y are given")
    p = v.scalar("p", p, check=v.probability)
    lam0 = v.scalar("lam0", lam0, check=v.nonnegative)
    T = rows if T is None else v.scalar("T", T, check=v.positive)
    signal = v.scalar("signal", signal, check=v.positive)

    s, Ut, sv = _spectrum(X, center)
    pilot_lam = None
    if y is None:
        w0 = np.full(s.size, math.sqrt(signal / s.sum()))
    else:
        yc = y - y.mean() if center else y
        proj = sv * (Ut @ yc) / math.sqrt(rows)  # b_j = v_j' X'y / T
        pilot_lam, sigma_hat = _pilot(s, proj, float(yc @ yc), rows)
        if sigma is None:
            sigma = sigma_hat
        energy = np.maximum(proj**2 / s - sigma**2 / rows, 0.0)
        w0 = np.sqrt(energy / s)
    kw = dict(T=T, T0=T0, sigma=sigma, sigma0=sigma0, lam0=lam0, p=p, lam_bounds=lam_bounds)
    search = optimal_lambda(s, w0, n=n, **kw)
    clean = optimal_lambda(s, w0, n=0, **kw)
    from kernelcollapse import theory

    err_clean_choice = float(theory.test_error(s, w0, n=n, lam=clean.lam, T=T, T0=T0,
                                               sigma=sigma, sigma0=sigma0, lam0=lam0,
                                               p=p).total)
    err = float(search.error)
    return Recommendation(float(search.lam), err, float(clean.lam), err_clean_choice,
                          err_clean_choice - err, s, w0, float(sigma), pilot_lam, search, clean)


def _spectrum(X: np.ndarray, center: bool):
    """Nonzero eigenvalues of X'X/T (descending), U' (k, T) and singular values of X/sqrt(T)."""
    rows = X.shape[0]
    Xc = X - X.mean(axis=0) if center else X
    U, sv, _ = np.linalg.svd(Xc / math.sqrt(rows), full_matrices=False)
    keep = sv > sv.max(initial=0.0) * max(X.shape) * np.finfo(float).eps
    if not np.any(keep):
        raise ValueError("X has rank 0 (after centring): every column is constant")
    sv = sv[keep]
    return sv**2, U[:, keep].T, sv


def _pilot(s, proj, yy, rows):
    """GCV-chosen pilot penalty and the residual noise estimate, from the eigen-projections."""
    lams = s.max() * np.logspace(-8, 2, 121)
    z = proj[None, :] / (s[None, :] + lams[:, None])  # coefficients in the eigenbasis
    rss = yy - 2 * rows * (z @ proj) + rows * ((z * z) @ s)
    rss = np.maximum(rss, 0.0)
    df = (s[None, :] / (s[None, :] + lams[:, None])).sum(axis=1)
    resid_dof = rows - df
    with np.errstate(divide="ignore", invalid="ignore"):
        gcv = np.where(resid_dof > 0.5, rss / rows / (resid_dof / rows) ** 2, np.inf)
    i = int(np.argmin(gcv))
    if not np.isfinite(gcv[i]):
        raise ValueError("cannot estimate sigma from the labels (no residual degrees of freedom);"
                         " pass sigma")
    return float(lams[i]), math.sqrt(rss[i] / resid_dof[i])
