"""Closed-form and deterministic-equivalent test errors under model collapse.

Conventions (``../shared/theory-notes.md``, following Dohmatob, Feng & Kempe 2024):
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

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from kernelcollapse import _chain
from kernelcollapse import _spectral as _sp
from kernelcollapse import _validate as v
from kernelcollapse.problems import Problem, isotropic, power_law

__all__ = [
    "ErrorDecomposition",
    "GeneratorMoments",
    "Problem",
    "df1",
    "df2",
    "exact_ols_error",
    "generator_moments",
    "isotropic",
    "kappa",
    "power_law",
    "test_error",
]

# Generator rows (one per distinct (lam0, T0, n)) are held in memory at once.
_MAX_GENERATOR_ELEMENTS = 1 << 25
# Up to this many generator rows, one matrix product per block serves every pair.
_FEW_GENERATOR_ROWS = 256


class ErrorDecomposition(NamedTuple):
    """Test error and its parts, arrays of the broadcast shape of the inputs.

    total : expected test error ``E ||w_pred - w0||_Sigma^2``.
    bias : the clean (``n = 0``) bias.
    variance : the clean (``n = 0``) variance from the downstream label noise.
    collapse : ``total - bias - variance``: what the synthetic labels add.
    """

    total: np.ndarray
    bias: np.ndarray
    variance: np.ndarray
    collapse: np.ndarray


class GeneratorMoments(NamedTuple):
    """Per-coordinate mean and variance of the n-th generator ``w_n``, shape ``(..., d)``."""

    mean: np.ndarray
    var: np.ndarray


def _out(x: np.ndarray, shape: tuple[int, ...]):
    x = x.reshape(shape)
    return x[()] if x.ndim == 0 else x


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
    points at once, from a start interpolated in a table of ``df1`` (for 256
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
                    sigma0: float) -> np.float64 | np.ndarray:
    """Exact test error of least squares trained on n-th generation labels, formula (A).

    .. math::  E_{test} = \\sigma^2 \\frac{d}{T - d - 1}
               + n\\, \\sigma_0^2 \\frac{d}{T_0 - d - 1}

    Exact for Gaussian features with any covariance and any teacher (the mean of
    an inverse Wishart matrix), with least squares everywhere
    (``lam = lam0 = 0``).  It is linear in ``n``: ``E_clean + n * Delta``.

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

    Returns
    -------
    float or ndarray, shape ``broadcast(T, T0, n)``

    References
    ----------
    Dohmatob, Feng & Kempe (2024), Theorem 4.1.
    """
    d = v.integer("d", d, minimum=1)
    T = v.positive("T", T)
    T0 = v.positive("T0", T0)
    n = v.nonnegative_integer("n", n)
    sigma = v.scalar("sigma", sigma, check=v.nonnegative)
    sigma0 = v.scalar("sigma0", sigma0, check=v.nonnegative)
    T, T0, n = np.broadcast_arrays(T, T0, n)
    if np.any(T <= d + 1):
        raise ValueError(
            f"exact_ols_error needs T > d + 1 = {d + 1} (the least-squares error is infinite "
            f"otherwise), got T={v.plain(T[T <= d + 1].flat[0])}; use test_error with a ridge "
            f"lam > 0"
        )
    bad = (n > 0) & (T0 <= d + 1)
    if np.any(bad):
        raise ValueError(
            f"exact_ols_error needs T0 > d + 1 = {d + 1} for n > 0 (least-squares generators), "
            f"got T0={v.plain(T0[bad].flat[0])}; use test_error with lam0 > 0 or T0 < d"
        )
    # n = 0 never reads T0, so a T0 <= d + 1 there must not produce a division by zero.
    delta = np.where(n > 0, sigma0**2 * d / np.where(n > 0, T0 - d - 1, 1.0), 0.0)
    return _out(sigma**2 * d / (T - d - 1) + n * delta, T.shape)


# ----------------------------------------------------------------------------------------------
# (B), (C), (D) deterministic equivalents
# ----------------------------------------------------------------------------------------------


def test_error(eigvals: ArrayLike, w0: ArrayLike, *, T: ArrayLike, T0: ArrayLike, n: ArrayLike,
               lam: ArrayLike, sigma: float, sigma0: float, lam0: ArrayLike = 0.0,
               p: ArrayLike = 1.0) -> ErrorDecomposition:
    """Deterministic-equivalent test error of ridge trained on n-th generation labels.

    Implements (C) of the theory notes, which contains (B), and (D) for mixed data.
    With ``kappa = kappa(lam, T)``, ``M = s/(s+kappa)``, ``e = T - df2(kappa)`` and
    ``Q = s M^2 + df2 kappa^2 s / ((s+kappa)^2 e)``:

    .. math::

        E_{test} \\approx \\sum_j Q_j (a_{n,j}^2 + g_{n,j})
                 - 2\\sum_j s_j M_j w_{0,j} a_{n,j} + \\sum_j s_j w_{0,j}^2
                 + \\sigma^2 \\frac{\\mathrm{df}_2}{e},

    where the n-th generator has mean ``a_n = M0^n w0`` and per-coordinate
    variance ``g_n`` from the recursion of note (C)
    (``t_k = sum_j W0_j (a_k,j^2 + g_k,j)``,
    ``g_{k+1} = M0^2 g_k + t_k D0 + N0``) with the generator constants
    ``kappa0 = kappa(lam0, T0)``, ``M0 = s/(s+kappa0)``, ``W0 = s/(s+kappa0)^2``,
    ``e0 = T0 - df2(kappa0)``, ``D0 = kappa0^2 W0/e0``, ``N0 = sigma0^2 W0/e0``.
    Least-squares generators with ``T0 > d + 1`` use the exact finite-sample
    constants ``W0 = 1/s``, ``D0 = 0``, ``e0 = T0 - d - 1``, for which (C) reduces
    to (B): ``E = Bias + Var + n * Delta``.

    With a fraction ``p`` of the downstream labels synthetic (least-squares
    generators only), formula (D):

    .. math::  E_{test} \\approx Bias + Var + p^2 n \\Delta
               + p (1 - p)\\, U \\frac{\\mathrm{df}_2}{T - \\mathrm{df}_2},
               \\qquad U = n \\sigma_0^2 \\frac{d}{T_0 - d - 1}.

    Parameters
    ----------
    eigvals : array_like, shape (d,)
        Covariance eigenvalues ``s_j > 0``.
    w0 : array_like, shape (d,)
        Teacher coefficients in the eigenbasis.
    T : float or array_like
        Downstream sample size, ``> 0``.
    T0 : float or array_like
        Samples per generator fit, ``> 0``.  With ``lam0 = 0`` it must avoid
        ``d <= T0 <= d + 1`` (where least squares has infinite error).
    n : int or array_like of int
        Generation of the labels, ``>= 0``; ``n = 0`` is clean data.
    lam : float or array_like
        Downstream ridge, ``>= 0``; ``lam = 0`` needs ``T != d``.
    sigma, sigma0 : float
        Label noise of the downstream data and of each generator, ``>= 0``.
    lam0 : float or array_like, default 0.0
        Generator ridge, ``>= 0``.
    p : float or array_like, default 1.0
        Fraction of downstream labels that are synthetic, in ``[0, 1]``.  ``p < 1``
        (with ``n > 0``) requires least-squares generators with ``T0 > d + 1``.

    Returns
    -------
    ErrorDecomposition
        ``total, bias, variance, collapse``, each of shape
        ``broadcast(T, T0, n, lam, lam0, p)`` (NumPy float64 scalars for scalar
        input).  ``bias`` and ``variance`` are the clean parts; ``collapse`` is
        the rest.

    Notes
    -----
    Deterministic equivalents: exact as ``d, T, T0 -> infinity`` proportionally;
    at ``d ~ 100`` they agree with Monte-Carlo within 1-2%.  ``lam = 0`` with
    ``T > d`` has variance ``sigma^2 d/(T-d)`` where the exact formula (A) has
    ``d/(T-d-1)``.  Each distinct ``(lam, T)`` and ``(lam0, T0, n)`` is solved once,
    so a whole figure grid is one call.

    References
    ----------
    Dohmatob, Feng & Kempe (2024), Theorems 4.2 and 4.3 (ridge, power laws);
    theory notes (C) for general generators and (D) for mixed data.
    """
    s, w = v.spectrum(eigvals, w0)
    T = v.positive("T", T)
    T0 = v.positive("T0", T0)
    n = v.nonnegative_integer("n", n)
    lam = v.nonnegative("lam", lam)
    lam0 = v.nonnegative("lam0", lam0)
    p = v.probability("p", p)
    sigma = v.scalar("sigma", sigma, check=v.nonnegative)
    sigma0 = v.scalar("sigma0", sigma0, check=v.nonnegative)
    shape = np.broadcast_shapes(T.shape, T0.shape, n.shape, lam.shape, lam0.shape, p.shape)
    T, T0, n, lam, lam0, p = (np.broadcast_to(x, shape).ravel() for x in (T, T0, n, lam, lam0, p))
    d = s.size
    _check_regimes(d, T=T, T0=T0, n=n, lam=lam, lam0=lam0, p=p)
    parts = _test_error_core(_sp.compress(s, w), T, T0, n, lam, lam0, p, sigma, sigma0)
    total = parts[0]
    if not np.all(np.isfinite(total)):
        i = int(np.flatnonzero(~np.isfinite(total))[0])
        raise ValueError(
            f"test_error is not finite at T={v.plain(T[i])}, T0={v.plain(T0[i])}, "
            f"n={v.plain(n[i])}, lam={v.plain(lam[i])}, lam0={v.plain(lam0[i])}: inputs beyond "
            f"float64 range (e.g. an extreme eigenvalue ratio)"
        )
    return ErrorDecomposition(*(_out(x, shape) for x in parts))


# pytest collects module-level functions named test_*; this one is library code.
test_error.__test__ = False


def _check_regimes(d, *, T, T0, n, lam, lam0, p) -> None:
    """Refuse the points where the formulas are infinite or do not hold."""
    bad = (lam == 0) & (T == d)
    if np.any(bad):
        raise ValueError(
            f"least squares downstream (lam = 0) with T = d = {d} has infinite test error; "
            "use lam > 0 or T != d"
        )
    bad = (n > 0) & (lam0 == 0) & (T0 >= d) & (T0 <= d + 1)
    if np.any(bad):
        raise ValueError(
            f"least-squares generators (lam0 = 0) need T0 > d + 1 = {d + 1} or T0 < d = {d}, "
            f"got T0={v.plain(T0[bad][0])}; use lam0 > 0"
        )
    bad = (n > 0) & (p < 1) & ~((lam0 == 0) & (T0 > d + 1))
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"a mixed fraction p < 1 (got p={v.plain(p[i])}) is covered by formula (D) only for "
            f"least-squares generators, lam0 = 0 with T0 > d + 1 = {d + 1}; "
            f"got lam0={v.plain(lam0[i])}, T0={v.plain(T0[i])}"
        )


def _test_error_core(spec, T, T0, n, lam, lam0, p, sigma, sigma0):
    """Trusted core on flat, validated arrays; returns (total, bias, variance, collapse)."""
    m = T.size
    d = spec.d
    s, c, q = spec.s, spec.c, spec.q

    # Generator side: one row per distinct (lam0, T0, n) with n > 0.
    has_gen = n > 0
    gen_keys, gen_inv = _chain.unique_rows(lam0[has_gen], T0[has_gen], n[has_gen].astype(float))
    gen_idx = np.full(m, -1)
    gen_idx[has_gen] = gen_inv
    if gen_keys.shape[0] * s.size > _MAX_GENERATOR_ELEMENTS:
        raise ValueError(
            f"{gen_keys.shape[0]} distinct (lam0, T0, n) combinations with {s.size} distinct "
            "eigenvalues exceed the memory budget of one call; split the grid into several calls"
        )
    ag_rows, b_rows = _chain.generator_rows(spec, gen_keys, sigma0)

    # Downstream side: one row per distinct (lam, T).
    down_keys, down_idx = _chain.unique_rows(lam, T)
    k_all = _sp.kappa(down_keys[:, 0], down_keys[:, 1], spec)

    bias = np.empty(m)
    var = np.empty(m)
    coll = np.zeros(m)
    f2_pt = np.empty(m)
    order = np.argsort(down_idx, kind="stable")
    bounds = np.searchsorted(down_idx[order], np.arange(down_keys.shape[0] + 1))
    # One pass over the spectrum: every sum is a product of M^2, M/(s+kappa) or M with
    # fixed weights.  f2 = M^2.c and the bias needs (M/(s+kappa)).q; splitting
    # Q.ag = M^2.(s ag) + (f2/e) kappa^2 (M/(s+kappa)).ag lets the collapse share those
    # products instead of building Q, which would need f2 first (a second pass).
    few = ag_rows.shape[0] <= _FEW_GENERATOR_ROWS
    w_m2 = np.vstack([c, s * ag_rows]) if few else c[None, :]
    w_sk = np.vstack([q, ag_rows]) if few else q[None, :]
    w_m = s * b_rows if few and np.any(b_rows) else None
    for rows, M, M2, sk in _sp.downstream_blocks(k_all, spec):
        k = k_all[rows]
        Td = down_keys[rows, 1]
        by_m2 = _sp.products(M2, w_m2)
        by_sk = _sp.products(sk, w_sk)
        f2 = by_m2[:, 0]
        e = Td - f2
        bias_d = (k**2) * by_sk[:, 0] * Td / e
        var_d = sigma**2 * f2 / e
        pts = order[bounds[rows.start] : bounds[rows.stop]]
        here = down_idx[pts] - rows.start
        bias[pts] = bias_d[here]
        var[pts] = var_d[here]
        f2_pt[pts] = f2[here]
        gen = gen_idx[pts] >= 0
        if not np.any(gen):
            continue
        d_rows, g_rows = here[gen], gen_idx[pts[gen]]
        alpha_k2 = (f2 / e) * k**2
        if few:
            pair = by_m2[:, 1:] + alpha_k2[:, None] * by_sk[:, 1:]
            if w_m is not None:
                pair -= 2.0 * _sp.products(M, w_m)
            coll[pts[gen]] = pair[d_rows, g_rows]
        else:
            # Many generator rows: a product with all of them would waste most of its
            # columns, so each (downstream, generator) pair gets its own dot product.
            Q = s * M2 + alpha_k2[:, None] * sk
            coll[pts[gen]] = np.einsum("pu,pu->p", Q[d_rows], ag_rows[g_rows]) - 2.0 * np.einsum(
                "pu,pu->p", s * M[d_rows], b_rows[g_rows]
            )

    # (D): the synthetic fraction scales the (B) collapse by p^2 and adds a cross term.
    mixed = has_gen & (p < 1)
    if np.any(mixed):
        U = n[mixed] * sigma0**2 * d / (T0[mixed] - d - 1)
        cross = p[mixed] * (1 - p[mixed]) * U * f2_pt[mixed] / (T[mixed] - f2_pt[mixed])
        coll[mixed] = p[mixed] ** 2 * coll[mixed] + cross
    return bias + var + coll, bias, var, coll


def generator_moments(eigvals: ArrayLike, w0: ArrayLike, *, T0: float, n: ArrayLike, sigma0: float,
                      lam0: float = 0.0) -> GeneratorMoments:
    """Mean and variance of each coefficient of the n-th generator ``w_n``, note (C).

    .. math::  E[w_{n,j}] = M_{0,j}^n w_{0,j}, \\qquad
               \\mathrm{Var}[w_{n,j}] = g_{n,j},

    with ``M0 = s/(s+kappa0)``: the directions with small eigenvalues (the tails)
    vanish first.  Deterministic equivalent, like :func:`test_error`.

    Parameters
    ----------
    eigvals, w0 : array_like, shape (d,)
    T0 : float
        Samples per generator fit, ``> 0`` (not in ``[d, d + 1]`` when ``lam0 = 0``).
    n : int or 1-D array_like of int
        Generations, ``>= 0``.
    sigma0 : float
        Generator label noise, ``>= 0``.
    lam0 : float, default 0.0
        Generator ridge, ``>= 0``.

    Returns
    -------
    GeneratorMoments
        ``mean`` and ``var`` of shape ``(d,)`` for scalar ``n``, ``(len(n), d)`` otherwise.
    """
    s, w = v.spectrum(eigvals, w0)
    T0 = v.scalar("T0", T0, check=v.positive)
    lam0 = v.scalar("lam0", lam0, check=v.nonnegative)
    sigma0 = v.scalar("sigma0", sigma0, check=v.nonnegative)
    n = v.nonnegative_integer("n", n)
    if n.ndim > 1:
        raise ValueError(f"n must be a scalar or 1-D, got shape {n.shape}")
    d = s.size
    if lam0 == 0 and d <= T0 <= d + 1:
        raise ValueError(
            f"least-squares generators (lam0 = 0) need T0 > d + 1 = {d + 1} or T0 < d = {d}, "
            f"got T0={v.plain(T0)}; use lam0 > 0"
        )
    spec = _sp.compress(s, w)
    ns = np.atleast_1d(n)
    _, _, g, logM0 = _chain.recursion(spec, lam0, T0, sigma0, ns)
    inv = spec.inverse
    mean = np.exp(ns[:, None] * logM0[inv]) * w
    var = g[:, inv]
    if n.ndim == 0:
        return GeneratorMoments(mean[0], var[0])
    return GeneratorMoments(mean, var)
