"""Closed-form and deterministic-equivalent test errors under model collapse.

Conventions (``docs/theory/setting.rst``, following Dohmatob, Feng & Kempe 2024):
features ``x ~ N(0, Sigma)`` with ``Sigma = diag(s)`` in its eigenbasis; teacher
``w0``; generation ``k+1`` is a ridge fit ``(X'X/T0 + lam0 I)^-1 X'Y/T0`` on ``T0``
fresh samples labelled by generation ``k`` plus ``N(0, sigma0^2)`` noise
(``lam0 = 0``: least squares, minimum norm when ``T0 < d``); the downstream model
is a ridge fit ``(X'X/T + lam I)^-1 X'Y/T`` on ``T`` samples labelled by
generation ``n`` plus ``N(0, sigma^2)`` noise.  The *test error* is the excess
risk against the clean labels,

.. math::  E_{test} = E\\, \\|\\hat w_{pred} - w_0\\|_\\Sigma^2 .

Notation, used throughout:

``kappa``
    the effective regularisation ``kappa(lam, T)``, the positive root of
    ``kappa - lam = kappa * df1(kappa) / T``;
``df1, df2``
    ``df1(k) = sum_j s_j/(s_j+k)``, ``df2(k) = sum_j s_j^2/(s_j+k)^2``, the
    degrees of freedom.

References
----------
E. Dohmatob, Y. Feng, J. Kempe. *Model Collapse Demystified: The Case of
Regression.* NeurIPS 2024, arXiv:2402.07712.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from kernelcollapse._util import validate as v
from kernelcollapse._util.arrays import unique_rows
from kernelcollapse._util.docs import fill
from kernelcollapse.theory import _chain
from kernelcollapse.theory import _spectral as _sp
from kernelcollapse.theory._prepared import (
    CollapseLimit,
    ErrorDecomposition,
    GeneratorMoments,
    PreparedProblem,
    _out,
    check_mode,
    prepare,
)
from kernelcollapse.theory._problems import Problem, isotropic, power_law
from kernelcollapse.theory._process import PARAMETERS

__all__ = [
    "CollapseLimit",
    "ErrorDecomposition",
    "GeneratorMoments",
    "PreparedProblem",
    "Problem",
    "collapse_limit",
    "df1",
    "df2",
    "exact_ols_error",
    "generator_moments",
    "isotropic",
    "kappa",
    "power_law",
    "prepare",
    "test_error",
]


# ----------------------------------------------------------------------------------------------
# Effective regularisation and degrees of freedom
# ----------------------------------------------------------------------------------------------


def kappa(lam: ArrayLike, eigvals: ArrayLike, T: ArrayLike) -> np.float64 | np.ndarray:
    """Effective regularisation of ridge regression with ``T`` samples.

    The unique positive root of

    .. math::  \\kappa - \\lambda = \\frac{\\kappa}{T}\\,\\mathrm{df}_1(\\kappa),
               \\qquad \\mathrm{df}_1(\\kappa) = \\sum_j \\frac{s_j}{s_j + \\kappa}.

    For ``lam = 0``: ``kappa = 0`` when ``T >= d``, and the root of
    ``df1(kappa) = T`` when ``T < d`` (the minimum-norm interpolator).

    Parameters
    ----------
    lam : float or array_like
        Ridge penalty, ``>= 0``.
    eigvals : array_like, shape (d,)
        Covariance eigenvalues, ``> 0``.
    T : float or array_like
        Number of samples, ``> 0``; broadcasts against ``lam``.

    Returns
    -------
    kappa : float or ndarray, shape ``broadcast(lam, T)``

    Notes
    -----
    Solved by Newton's method in ``log kappa`` safeguarded by a bracket, all grid
    points at once, from a start interpolated in a table of ``df1`` (for 32
    points or more); equal eigenvalues are merged first, so ``d = 10**6``
    isotropic directions cost as much as one.  Accurate to a few ulps of the equation for
    ``lam`` from 0 (or ``1e-12``) upwards.

    References
    ----------
    Dohmatob, Feng & Kempe (2024), eq. for ``kappa`` in Section 4; A. Bach, *High-dimensional
    analysis of double descent for linear regression with random projections* (2024).
    """
    s, _ = v.spectrum(eigvals)
    lam = v.nonnegative("lam", lam)
    T = v.positive("T", T)
    lam, T = np.broadcast_arrays(lam, T)
    return _out(_sp.kappa(lam.ravel(), T.ravel(), _sp.compress(s)), lam.shape)


def df1(kappa: ArrayLike, eigvals: ArrayLike) -> np.float64 | np.ndarray:
    """First degrees of freedom ``df1(kappa) = sum_j s_j / (s_j + kappa)``.

    Parameters
    ----------
    kappa : float or array_like, ``>= 0``
    eigvals : array_like, shape (d,), ``> 0``

    Returns
    -------
    float or ndarray, shape of ``kappa``
    """
    s, _ = v.spectrum(eigvals)
    k = v.nonnegative("kappa", kappa)
    return _out(_sp.df1(k.ravel(), _sp.compress(s)), k.shape)


def df2(kappa: ArrayLike, eigvals: ArrayLike) -> np.float64 | np.ndarray:
    """Second degrees of freedom ``df2(kappa) = sum_j s_j^2 / (s_j + kappa)^2``.

    Parameters
    ----------
    kappa : float or array_like, ``>= 0``
    eigvals : array_like, shape (d,), ``> 0``

    Returns
    -------
    float or ndarray, shape of ``kappa``
    """
    s, _ = v.spectrum(eigvals)
    k = v.nonnegative("kappa", kappa)
    return _out(_sp.df2(k.ravel(), _sp.compress(s)), k.shape)



# ----------------------------------------------------------------------------------------------
# (A) exact least squares
# ----------------------------------------------------------------------------------------------


def exact_ols_error(d: int, *, T: ArrayLike, T0: ArrayLike, n: ArrayLike, sigma: float,
                    sigma0: float, mode: str = "replace",
                    fresh: ArrayLike = 0.0) -> np.float64 | np.ndarray:
    r"""Exact test error of least squares trained on n-th generation labels, formula (A).

    .. math::  E_{test} = \sigma^2 \frac{d}{T - d - 1} + \sigma_0^2\, d\, h_n,

    with, for the generators' workflow:

    * ``mode="replace"``: ``h_n = n / (T0 - d - 1)`` (the mean of an inverse Wishart matrix),
      so the error is ``E_clean + n Delta``;
    * ``mode="accumulate"`` (every generation refits on all the data so far):
      ``h_n = sum_{j=1}^n 1 / (j (j T0 - d - 1))``: the increments are orthogonal and the
      ``j``-th one is ``S_j^{-1} X_j' E_j``, with ``S_j`` the Gram matrix of all ``j T0`` rows
      and ``j`` exchangeable blocks.  Since ``j T0 - d - 1 >= j (T0 - d - 1)``, the collapse
      stays below ``pi^2 / 6`` times that of one generation, whatever ``n``;
    * ``fresh = q > 0`` (replace, each generation's ``T0`` rows include ``q T0`` real rows
      labelled by the truth): ``h_n = (1 - r^n) / ((1 - r)(T0 - d - 1))``, with the exact
      contraction ``r = E tr(P P') / d`` of ``P = (Z'Z)^{-1} Z_s' Z_s`` over the ``m = (1 - q)
      T0`` synthetic rows, ``r = (m a + m (m - 1) b) / d``,
      ``a = d (d + 2)(T0 - 2) / (T0 (T0 + 2)(T0 - d - 1))``, ``b = (d - T0 a) / (T0 (T0 - 1))``.

    Exact for Gaussian features with any covariance and any teacher, with least squares
    everywhere (``lam = lam0 = 0``) and ``q T0`` an integer.

    Parameters
    ----------
    d : int
        Dimension, ``>= 1``.
    T, T0 : float or array_like
        Downstream and generator sample sizes, ``> d + 1`` (``T0`` only where ``n > 0``).
    n : int or array_like of int
        Generation, ``>= 0``.
    sigma, sigma0 : float
        Label-noise levels of the downstream data and of the generators, ``>= 0``.
    mode : {"replace", "accumulate"}, default "replace"
        The generators' data workflow.
    fresh : float or array_like, default 0.0
        Fraction of real rows in each generation's data, in ``[0, 1]`` (replace only).

    Returns
    -------
    float or ndarray, shape ``broadcast(T, T0, n, fresh)``

    Examples
    --------
    >>> import numpy as np, kernelcollapse as kc
    >>> d, T, T0, sigma, sigma0 = 20, 100, 200, 0.5, 1.0
    >>> err = kc.exact_ols_error(d, T=T, T0=T0, n=[0, 1, 5], sigma=sigma, sigma0=sigma0)
    >>> clean, delta = sigma**2 * d / (T - d - 1), sigma0**2 * d / (T0 - d - 1)
    >>> bool(np.allclose(err, clean + np.array([0, 1, 5]) * delta))  # E_clean + n * Delta
    True

    References
    ----------
    Dohmatob, Feng & Kempe (2024), Theorem 4.1 (replace).  M. Gerstgrasser et al., *Is Model
    Collapse Inevitable?*, arXiv:2404.01413 (2024), and A. Dey, D. Donoho, *Universality of the
    pi^2/6 pathway in avoiding model collapse*, arXiv:2410.22812 (2024) (accumulate); the
    accumulate and fresh-data formulas are derived in ``docs/theory/workflows.rst``.
    """
    d = v.integer("d", d, minimum=1)
    mode = check_mode(mode)
    sigma = v.scalar("sigma", sigma, check=v.nonnegative)
    sigma0 = v.scalar("sigma0", sigma0, check=v.nonnegative)
    shape, g = v.broadcast(T=v.sample_size("T", T), T0=v.sample_size("T0", T0),
                           n=v.nonnegative_integer("n", n), fresh=v.probability("fresh", fresh))
    T, T0, n, fresh = g["T"], g["T0"], g["n"], g["fresh"]
    if np.any(T <= d + 1):
        raise ValueError(
            f"exact_ols_error needs T > d + 1 = {d + 1} (the least-squares error is infinite "
            f"otherwise), got T={v.plain(T[T <= d + 1][0])}; use test_error with a ridge lam > 0"
        )
    bad = (n > 0) & (T0 <= d + 1)
    if np.any(bad):
        raise ValueError(
            f"exact_ols_error needs T0 > d + 1 = {d + 1} for n > 0 (least-squares generators), "
            f"got T0={v.plain(T0[bad][0])}; use test_error with lam0 > 0 or T0 < d")
    if mode == "accumulate" and np.any((n > 0) & (fresh > 0)):
        raise ValueError("fresh real rows per generation are defined for mode='replace' only")
    h = np.zeros(T.size)
    has = n > 0  # n = 0 never reads T0, which may then be <= d + 1
    keys, inv = unique_rows(T0[has], fresh[has])
    for i, (t0, q) in enumerate(keys):
        rows = np.flatnonzero(has)[inv == i]
        setting = _chain.Setting(float(t0), 0.0, 1.0, float(q), mode)
        h[rows] = _chain.exact_h(setting, d, n[rows])
    return _out(sigma**2 * d / (T - d - 1) + sigma0**2 * d * h, shape)


# ----------------------------------------------------------------------------------------------
# Deterministic equivalents: (B), (C), (D) and their extensions
# ----------------------------------------------------------------------------------------------


def test_error(eigvals: ArrayLike, w0: ArrayLike, *, T: ArrayLike, T0: ArrayLike, n: ArrayLike,
               lam: ArrayLike, sigma: ArrayLike, sigma0: ArrayLike, lam0: ArrayLike = 0.0,
               p: ArrayLike = 1.0, mode: str = "replace", fresh: ArrayLike = 0.0,
               weight: ArrayLike = 1.0) -> ErrorDecomposition:
    r"""Deterministic-equivalent test error of ridge trained on n-th generation labels.

    The downstream ridge sees ``T`` rows, a fraction ``p`` labelled by the n-th generator
    ``w_n`` (the *synthetic* rows, weighted ``omega = weight`` in the squared loss) and the
    rest by the truth ``w0``, all with noise ``sigma``.  With the effective regularisation
    ``kappa``, ``M = s/(s+kappa)``, ``W = s/(s+kappa)^2``, the row gains ``g, phi`` and
    ``rho = phi df2/T`` (:mod:`kernelcollapse.theory._fit`; for unweighted rows ``g = phi = 1``,
    ``kappa = kappa(lam, T)`` and ``rho = df2/T``):

    .. math::

        E_{test} \approx \frac{\kappa^2 \sum_j W_j w_{0,j}^2 + \sigma^2 \rho}{1 - \rho}
            - 2 p g \kappa \sum_j M_j^2 b_j + p^2 g^2 \sum_j s_j M_j^2 S_j
            + \frac{\rho}{\phi (1 - \rho)} \Big\{-2 p g \kappa \sum_j (\phi M_j^2 - g M_j)
            b_j + g^2 \sum_j s_j \big[p^2 (\phi M_j^2 - 2 g M_j) + p\big] S_j\Big\},

    where ``b_j = w0_j E(w_n - w0)_j`` and ``S_j = E (w_n - w0)_j^2`` are the generator's
    moments (:func:`generator_moments`).  For ``p = 1`` (or ``weight = 1``) this is note (C)
    of the theory, for least-squares generators (B), ``E = Bias + Var + n Delta``, and with
    ``p < 1`` (D).  The generator moments follow the chain of note (C) for ``mode="replace"``,
    the exact least-squares formulas of :func:`exact_ols_error` for ``lam0 = 0`` with
    ``T0 > d + 1`` (all modes), and the same one-fit map with a synthetic fraction ``1 -
    fresh`` for ridge generators with fresh real rows.

    Parameters
    ----------
    eigvals : array_like, shape (d,)
        Covariance eigenvalues ``s_j > 0``.
    w0 : array_like, shape (d,)
        Teacher coefficients in the eigenbasis.
    T : float or array_like
        Downstream sample size, ``>= 1``.  The theory takes real sizes (its formulas are
        analytic in ``T`` and ``T0``: a real size lies between two integers, as in a scaling
        law); :func:`kernelcollapse.simulate` takes integers.  Sizes below one row are refused.
    T0 : float or array_like
        Samples per generator fit, ``>= 1`` (real, like ``T``).  With ``lam0 = 0`` and
        ``sigma0 > 0`` it must avoid ``d - 1 <= T0 <= d + 1`` (infinite expected error).
    {process.n,lam,sigma,sigma0,lam0,p,mode,fresh,weight}

    Returns
    -------
    ErrorDecomposition
        ``total, bias, variance, collapse``, each of shape ``broadcast(T, T0, n, lam,
        sigma, sigma0, lam0, p, fresh, weight)`` (NumPy float64 scalars for scalar input).
        ``bias`` and ``variance`` are the clean parts (the same rows and weights with clean
        labels); ``collapse`` is the rest.

    Raises
    ------
    ValueError
        Bad values or shapes (naming the argument); settings whose true error is infinite or
        undefined (least squares within one row of interpolation, ``weight = 0`` with
        ``p = 1``); combinations no formula covers (``mode="accumulate"`` with ridge or
        over-parametrised generators, ``fresh > 0`` with accumulate).

    Notes
    -----
    Deterministic equivalents: exact as ``d, T, T0 -> infinity`` proportionally; at
    ``d ~ 100`` they agree with Monte-Carlo within 1-2% (tests/test_simulator.py,
    tests/test_mixed.py).  Each distinct downstream fit and generator chain is solved once,
    so a whole figure grid is one call; :func:`prepare` keeps the chains across calls.

    Examples
    --------
    >>> import numpy as np, kernelcollapse as kc
    >>> eigvals, w0 = kc.isotropic(50)
    >>> err = kc.test_error(eigvals, w0, T=200, T0=400, n=[0, 1, 2, 3], lam=0.1, sigma=0.5,
    ...                     sigma0=0.5)
    >>> err.total.shape
    (4,)
    >>> steps = np.diff(err.total)  # each generation adds the same amount
    >>> bool(np.allclose(steps, steps[0]) and steps[0] > 0)
    True

    References
    ----------
    Dohmatob, Feng & Kempe (2024), Theorems 4.2 and 4.3 (ridge, power laws); the theory
    docs (``docs/theory``) for (C), (D), and the mixed, weighted and fresh-data extensions.
    """
    return prepare(eigvals, w0).test_error(T=T, T0=T0, n=n, lam=lam, sigma=sigma,
                                           sigma0=sigma0, lam0=lam0, p=p, mode=mode,
                                           fresh=fresh, weight=weight)


# pytest collects module-level functions named test_*; this one is library code.
test_error.__test__ = False
test_error.__doc__ = fill(test_error.__doc__, PARAMETERS)


def generator_moments(eigvals: ArrayLike, w0: ArrayLike, *, T0: float, n: ArrayLike,
                      sigma0: float, lam0: float = 0.0, mode: str = "replace",
                      fresh: float = 0.0) -> GeneratorMoments:
    r"""Mean and variance of each coefficient of the n-th generator ``w_n``, note (C).

    .. math::  E[w_{n,j}] = (1 + c_{n,j}) w_{0,j}, \qquad \mathrm{Var}[w_{n,j}] = v_{n,j},

    with ``1 + c_n = M0^n``, ``M0 = s/(s+kappa0)`` in replace mode: the directions with small
    eigenvalues (the tails) vanish first.  With fresh real rows the mean offset follows
    ``c_{k+1} = (M0 - 1) + (1 - fresh) M0 c_k``.  Deterministic equivalent, like
    :func:`test_error`; exact for least-squares generators with ``T0 > d + 1`` (unbiased,
    ``v_n = sigma0^2 h_n / s`` with ``h_n`` of :func:`exact_ols_error`).

    Parameters
    ----------
    eigvals, w0 : array_like, shape (d,)
    T0 : float
        Samples per generator fit, ``> 0`` (not in ``[d - 1, d + 1]`` when ``lam0 = 0``).
    n : int or 1-D array_like of int
        Generations, ``>= 0``.
    sigma0 : float
        Generator label noise, ``>= 0``.
    lam0 : float, default 0.0
        Generator ridge, ``>= 0``.
    mode : {"replace", "accumulate"}, default "replace"
    fresh : float, default 0.0
        Fraction of real rows per generation (replace only).

    Returns
    -------
    GeneratorMoments
        ``mean`` and ``var`` of shape ``(d,)`` for scalar ``n``, ``(len(n), d)`` otherwise.

    Examples
    --------
    >>> import numpy as np, kernelcollapse as kc
    >>> eigvals, w0 = kc.isotropic(20)
    >>> m = kc.generator_moments(eigvals, w0, T0=100, n=3, sigma0=1.0)
    >>> bool(np.allclose(m.mean, w0))  # least squares is unbiased
    True
    >>> bool(np.allclose(m.var, 3 * 1.0**2 / (100 - 20 - 1)))  # n sigma0^2 / (T0 - d - 1)
    True
    """
    return prepare(eigvals, w0).generator_moments(T0=T0, n=n, sigma0=sigma0, lam0=lam0,
                                                  mode=mode, fresh=fresh)


def collapse_limit(eigvals: ArrayLike, w0: ArrayLike, *, T0: float, sigma0: float,
                   lam0: float = 0.0, mode: str = "replace", fresh: float = 0.0,
                   T: ArrayLike | None = None, lam: ArrayLike | None = None,
                   sigma: ArrayLike = 0.0, p: ArrayLike = 1.0,
                   weight: ArrayLike = 1.0) -> CollapseLimit:
    r"""The generator chain and the downstream test error as ``n -> infinity``.

    How much fresh real data keeps the error bounded, and at what level.  Replace mode is a
    linear recursion of the chain's moments with a constant map per generation; its spectral
    radius (``contraction``) decides:

    * least squares (``T0 > d + 1``): the variance contracts by the exact ``r(fresh)`` of
      :func:`exact_ols_error` per generation, ``r(0) = 1`` (replace grows linearly without
      bound), and the limit is ``sigma0^2 / ((1 - r)(T0 - d - 1) s)`` per coordinate when
      ``r < 1``.  For ``T0 < 1.5 d`` or so, small fresh fractions are not enough
      (``r(q) > 1``): ``min_fresh`` is the threshold, bounded for every ``fresh`` above it
      (``min_fresh = 0`` with ``r(0) = 1``: any positive fraction, not none);
    * ridge or over-parametrised generators: the fixed point of the affine map of
      :func:`test_error`'s chain (the mean offset tends to ``(M0 - 1)/(1 - (1 - fresh) M0)``).

    Accumulate mode (least squares) is always bounded: ``h_inf = (psi(1) - psi(1 - a/T0))/a``
    with ``a = d + 1``, below ``pi^2/6`` times one generation.

    Parameters
    ----------
    eigvals, w0 : array_like, shape (d,)
    T0, sigma0, lam0, mode, fresh : float, str
        The generators, as in :func:`test_error` (scalars).
    T, lam : array_like, optional
        Downstream sample size and ridge: give both to get the downstream limit ``error``.
    sigma, p, weight : array_like, optional
        Downstream noise, synthetic fraction and weight, as in :func:`test_error`.

    Returns
    -------
    CollapseLimit

    Examples
    --------
    >>> import kernelcollapse as kc
    >>> eigvals, w0 = kc.isotropic(50)
    >>> kc.collapse_limit(eigvals, w0, T0=100, sigma0=1.0).bounded  # least squares drifts away
    False
    >>> lim = kc.collapse_limit(eigvals, w0, T0=100, sigma0=1.0, lam0=0.1)  # a ridge chain
    >>> lim.bounded, bool(lim.contraction < 1)
    (True, True)
    """
    return prepare(eigvals, w0).collapse_limit(T0=T0, sigma0=sigma0, lam0=lam0, mode=mode,
                                               fresh=fresh, T=T, lam=lam, sigma=sigma, p=p,
                                               weight=weight)
