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

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from kernelcollapse._util import validate as v
from kernelcollapse._util.blas import uses_one_blas_thread
from kernelcollapse.theory._prepared import prepare
from kernelcollapse.theory._search import OptimalLambda, OptimalWeight

__all__ = ["ExponentFit", "OptimalLambda", "OptimalWeight", "fit_exponent", "optimal_lambda",
           "optimal_weight"]

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

    Examples
    --------
    >>> import kernelcollapse as kc
    >>> eigvals, w0 = kc.power_law(200, 1.5, 0.5)
    >>> opt = kc.optimal_lambda(eigvals, w0, T=400, T0=400, n=[0, 5], sigma=0.5, sigma0=0.5)
    >>> bool(opt.lam[1] > opt.lam[0])  # synthetic labels call for a larger penalty
    True

    References
    ----------
    Dohmatob, Feng & Kempe (2024), Section 5 (adaptive regularisation); J. Kiefer,
    *Sequential minimax search for a maximum*, Proc. AMS 4 (1953) (golden section).
    """
    return prepare(eigvals, w0).optimal_lambda(
        T=T, T0=T0, n=n, sigma=sigma, sigma0=sigma0, lam0=lam0, p=p, mode=mode, fresh=fresh,
        weight=weight, lam_bounds=lam_bounds, points_per_decade=points_per_decade,
        flat_rtol=flat_rtol, xtol=xtol)


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

    Examples
    --------
    >>> import kernelcollapse as kc
    >>> eigvals, w0 = kc.isotropic(50)
    >>> best = kc.optimal_weight(eigvals, w0, T=200, T0=400, n=5, sigma=0.5, sigma0=1.0, p=0.5)
    >>> bool(0 < best.weight < 1)  # trust the synthetic half less than the real one ...
    True
    >>> bool(best.error < min(best.error_unweighted, best.error_dropped))  # ... but keep it
    True
    """
    return prepare(eigvals, w0).optimal_weight(
        T=T, T0=T0, n=n, sigma=sigma, sigma0=sigma0, p=p, lam0=lam0, mode=mode, fresh=fresh,
        max_weight=max_weight, lam_bounds=lam_bounds, points_per_decade=points_per_decade,
        wtol=wtol)


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
