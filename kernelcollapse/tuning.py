r"""Tuning on a practitioner's data: the penalty and the weight of synthetic rows, recommended
from the labels the user actually has.

:func:`recommend` takes a feature matrix ``X`` and the training labels ``y`` as they are: a
fraction ``p`` of them (or the rows of a boolean mask ``synthetic``) produced by the ``n``-th
generation of a chain of generators, the rest real.  It estimates the problem (spectrum,
teacher energy, noise) from those labels while accounting for what the chain adds to the
synthetic ones, then asks the theory (:mod:`kernelcollapse.theory`) for the penalty and the
weight of the synthetic rows that minimise the test error, and for the error of the
alternatives a practitioner would otherwise pick.  An optional small clean pilot set
(``X_clean``, ``y_clean``) calibrates the estimates.

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

from kernelcollapse import _chain, _fit
from kernelcollapse import _validate as v
from kernelcollapse.optimize import _bounds, optimal_weight
from kernelcollapse.prepared import check_mode, prepare

__all__ = ["Recommendation", "recommend"]

# Directions per bin of the energy estimate (equal energy within a bin of similar eigenvalues):
# enough to average the per-direction noise, few enough to follow the spectrum's shape.
_BIN_SIZE = 12
# Fixed-point iterations between the energy estimate and the chain it implies.
_ITERATIONS = 6
# Residual degrees of freedom from which the noise is read off the least-squares residual.
_MIN_RESIDUAL_DOF = 10


class Recommendation(NamedTuple):
    """Result of :func:`recommend` (penalties in the library's normalisation
    ``(X'X/T + lam I)^-1 X'y/T``; scikit-learn's ``Ridge(alpha)`` has ``alpha = T lam``).

    Attributes
    ----------
    lam : float
        Recommended penalty.
    weight : float
        Recommended loss weight of the synthetic rows (1 when every row, or none, is synthetic).
    error : float
        Predicted test error ``E ||w - w0||_Sigma^2`` at ``(lam, weight)``.
    lam_clean, error_clean_choice : float
        The penalty clean-data theory (``n = 0``) would pick, and its predicted error here.
    lam_cv, error_cv : float
        The penalty cross-validation on the training labels would pick (the minimiser of the
        error against the labels' own targets, as the theory predicts it), and its error.
    lam_unweighted, error_unweighted : float
        Synthetic rows counted like real ones (``weight = 1``) at their best penalty.
    lam_dropped, error_dropped : float
        Synthetic rows dropped (``weight = 0``) at the best penalty; NaN when ``p = 1``.
    loss : float
        ``error_clean_choice - error``: what ignoring the collapse costs.
    eigvals, w0 : ndarray, shape (k,)
        The plug-in spectrum (``k`` = rank of the data) and teacher coefficients used.
    sigma : float
        The label noise used (given, or estimated).
    sigma_estimated : bool
        Whether ``sigma`` was estimated.
    p : float
        Fraction of synthetic rows used.
    at_bound : bool
        The recommended penalty lies at a bound of the search (widen ``lam_bounds``).
    """

    lam: float
    weight: float
    error: float
    lam_clean: float
    error_clean_choice: float
    lam_cv: float
    error_cv: float
    lam_unweighted: float
    error_unweighted: float
    lam_dropped: float
    error_dropped: float
    loss: float
    eigvals: np.ndarray
    w0: np.ndarray
    sigma: float
    sigma_estimated: bool
    p: float
    at_bound: bool


def recommend(X: ArrayLike, y: ArrayLike | None = None, *, n: int, T0: float, sigma0: float,
              lam0: float = 0.0, mode: str = "replace", fresh: float = 0.0,
              p: float | None = None, synthetic: ArrayLike | None = None,
              X_clean: ArrayLike | None = None, y_clean: ArrayLike | None = None,
              sigma: float | None = None, T: float | None = None, center: bool = True,
              signal: float = 1.0, lam_bounds: tuple[float, float] | None = None,
              max_weight: float = 10.0) -> Recommendation:
    r"""Recommend the ridge penalty and the weight of the synthetic rows, from the training
    labels as they are.

    The user will train ridge regression on ``X`` (``T`` rows, ``d`` columns) with labels ``y``
    of which the rows in ``synthetic`` (or a fraction ``p``) come from the ``n``-th generation
    of a chain of generators (ridge ``lam0``, ``T0`` samples per fit, label noise ``sigma0``,
    workflow ``mode`` and ``fresh`` as in :func:`kernelcollapse.theory.test_error`) and the
    rest are real.  The problem is estimated from the data, then
    :func:`kernelcollapse.optimize.optimal_weight` gives the penalty and the weight.

    Estimation, in the sample eigenbasis of the centred ``X`` (``X'X/T = V diag(s) V'``, the
    plug-in spectrum, rank ``k``), with ``b = V'X'y/T``:

    .. math::  b = (\mathrm{diag}(s) + A\, \mathrm{diag}(c))\, w_0 + A\, \eta + X'\varepsilon/T,

    where ``A = X_s'X_s/T`` over the synthetic rows (``p diag(s)`` in expectation when only
    ``p`` is known), ``c`` and ``v`` the mean offset and variance of the chain
    (:func:`kernelcollapse.theory.generator_moments`, on the plug-in problem) and ``eta`` the
    chain's zero-mean deviation.  Hence the debiased coefficients ``z = (diag(s) + A diag(c))^{-1}
    b`` with covariance ``C = G^{-1}(A diag(v) A + sigma^2 diag(s)/T)G^{-T}`` give the unbiased
    energies ``z_j^2 - C_jj``; these are averaged over bins of ``12`` neighbouring eigenvalues
    (the theory reads the teacher only through smooth sums over the spectrum) and clipped at 0
    after averaging, which removes most of the positive-part bias.  The noise: from the
    least-squares residual, minus what the chain adds to it
    (``E RSS = sigma^2 (T - k) + T tr((A - A S^{-1} A) E delta delta')``), when at least 10
    residual degrees of freedom remain; otherwise (``T <= d``) from the floor of the
    projections: ``b_j^2 / s_j`` is fitted by a power law in ``s_j`` plus the constant
    ``sigma^2 / T`` (the noise is what the signal's decay leaves in the small eigenvalues), and
    a flat spectrum, where the two cannot be told apart, is refused with a request for
    ``sigma``.  The chain depends on the energies, so the two are iterated to a fixed point.

    With a clean pilot set, the fits on the training data at a grid of penalties are scored on
    it: the observed errors are, to first order, linear in the scale of the teacher energy and
    in ``sigma^2``, which are fitted (non-negative least squares) so that the theory matches
    them before the search.

    Alternatives reported: the penalty of clean-data theory, the penalty cross-validation on
    the training labels would pick (predicted: the minimiser of the error against the labels'
    own mixture of targets, ``E (1 - p)||w - w0||^2 + p ||w - w_n||^2``), the best penalty
    with the synthetic rows counted like real ones and with them dropped.

    Parameters
    ----------
    X : array_like, shape (T, d)
        Feature matrix of the training rows.
    y : array_like, shape (T,), optional
        The training labels, synthetic rows included.  Without labels the teacher is a flat
        prior ``w0_j^2 = signal / sum_j s_j`` and ``sigma`` is required.
    n : int
        Generation of the synthetic labels, ``>= 1``.
    T0 : float
        Samples per generator fit, ``> 0``.
    sigma0 : float
        Label noise of each generator, ``>= 0``.
    lam0, mode, fresh
        The generators, as in :func:`kernelcollapse.theory.test_error`.
    p : float, optional
        Fraction of synthetic rows, in ``[0, 1]`` (default 1, or the mask's fraction).
    synthetic : array_like of bool, shape (T,), optional
        Which rows are synthetic; ``p`` must then agree with it.
    X_clean, y_clean : array_like, shapes (m, d) and (m,), optional
        A small clean pilot set (real labels), used to calibrate the estimates.
    sigma : float, optional
        Label noise of the real labels; estimated when omitted.
    T : float, optional
        Downstream sample size for the theory; default the rows of ``X``.
    center : bool, default True
        Centre the columns (an unpenalised intercept); ``False``: a model without intercept.
    signal : float, default 1.0
        ``Var(x . w0)`` of the flat prior (only without ``y``).
    lam_bounds : (float, float), optional
        Passed to the searches.
    max_weight : float, default 10.0
        Upper bound of the weight search.

    Returns
    -------
    Recommendation

    Raises
    ------
    ValueError
        Bad shapes or values (a mask of the wrong length or not boolean, ``p`` that
        contradicts the mask, a pilot with another number of columns, NaN or infinite values,
        a rank-0 ``X``), ``sigma`` missing without labels, or a noise that the labels cannot
        determine (``T <= d`` with a flat spectrum).
    """
    X = _matrix("X", X)
    rows, cols = X.shape
    n = v.integer("n", n, minimum=1)
    T0 = v.scalar("T0", T0, check=v.positive)
    sigma0 = v.scalar("sigma0", sigma0, check=v.nonnegative)
    lam0 = v.scalar("lam0", lam0, check=v.nonnegative)
    fresh = v.scalar("fresh", fresh, check=v.probability)
    mode = check_mode(mode)
    signal = v.scalar("signal", signal, check=v.positive)
    max_weight = v.scalar("max_weight", max_weight, check=v.positive)
    T = float(rows) if T is None else v.scalar("T", T, check=v.positive)
    mask, p = _mask_and_fraction(synthetic, p, rows)
    if y is not None:
        y = v.check_finite("y", v.as_float_array("y", y))
        if y.shape != (rows,):
            raise ValueError(f"y must have shape ({rows},) to match X, got {y.shape}")
    if sigma is not None:
        sigma = v.scalar("sigma", sigma, check=v.nonnegative)
    elif y is None:
        raise ValueError("sigma (the label noise) is required when no labels y are given")
    pilot = _pilot_set(X_clean, y_clean, cols)

    mean = X.mean(axis=0) if center else np.zeros(cols)
    Xc = X - mean
    s, V = _spectrum(Xc)
    k = s.size
    chain = dict(T0=T0, lam0=lam0, sigma0=sigma0, mode=mode, fresh=fresh)
    estimated = sigma is None
    if y is None:
        q = np.full(k, signal / s.sum())
        b = None
    else:
        yc = y - y.mean() if center else y
        Z = Xc @ V  # the rows in the sample eigenbasis: Z'Z/T = diag(s)
        b = Z.T @ yc / rows
        A = p * np.diag(s) if mask is None else Z[mask].T @ Z[mask] / rows
        q, sigma = _estimate(s, b, A, Z, yc, rows, n, chain, sigma, mask)
        if pilot is not None:
            Xp, yp = pilot
            Zp = (Xp - mean) @ V
            yp = yp - (y.mean() if center else 0.0)
            q, sigma = _calibrate(s, q, sigma, Z, yc, Zp, yp, rows, n, p, chain, mask)
    w0 = np.sqrt(q)
    prob = prepare(s, w0)
    kw = dict(T=T, n=n, sigma=sigma, p=p, **chain)
    lo, hi = _bounds(lam_bounds, float(s.max()))
    if y is None:
        return _from_theory(prob, kw, lam_bounds, max_weight, estimated)
    objective = _Objective(prob, kw, Z, yc, mask, sigma, lo, hi, cols)
    best = objective.best(max_weight)
    ones = objective.best_lam(1.0)
    dropped = objective.best_lam(0.0) if mask is not None and 0 < mask.sum() < rows else None
    lam_clean = float(prob.optimal_lambda(**{**kw, "n": 0}, lam_bounds=lam_bounds).lam)
    cv = objective.cv_choice()
    at_clean = float(objective.error(lam_clean, 1.0))
    nan = float("nan")
    return Recommendation(
        lam=best.lam, weight=best.weight, error=best.error, lam_clean=lam_clean,
        error_clean_choice=at_clean, lam_cv=cv.lam, error_cv=cv.error,
        lam_unweighted=ones.lam, error_unweighted=ones.error,
        lam_dropped=dropped.lam if dropped else nan,
        error_dropped=dropped.error if dropped else nan, loss=at_clean - best.error,
        eigvals=s, w0=w0, sigma=float(sigma), sigma_estimated=estimated, p=p,
        at_bound=bool(best.lam <= lo * (1 + 1e-9) or best.lam >= hi * (1 - 1e-9)))


# ----------------------------------------------------------------------------------------------
# input
# ----------------------------------------------------------------------------------------------


def _matrix(name: str, value) -> np.ndarray:
    arr = v.check_finite(name, v.as_float_array(name, value))
    if arr.ndim != 2 or arr.shape[0] < 2 or arr.shape[1] < 1:
        raise ValueError(f"{name} must be a 2-D array with at least 2 rows and 1 column, got "
                         f"shape {arr.shape}")
    return arr


def _mask_and_fraction(synthetic, p, rows: int) -> tuple[np.ndarray | None, float]:
    if synthetic is None:
        return None, 1.0 if p is None else v.scalar("p", p, check=v.probability)
    mask = np.asarray(synthetic)
    if mask.dtype != np.bool_:
        raise ValueError(f"synthetic must be a boolean mask (True for synthetic rows), got "
                         f"dtype {mask.dtype}")
    if mask.shape != (rows,):
        raise ValueError(f"synthetic must have shape ({rows},) to match X, got {mask.shape}")
    frac = float(mask.mean())
    if p is not None:
        p = v.scalar("p", p, check=v.probability)
        if abs(p - frac) > 0.5 / rows:
            raise ValueError(f"p={v.plain(p)} contradicts the mask synthetic, which marks "
                             f"{int(mask.sum())} of {rows} rows (p = {frac:.6g}); give one "
                             "of them")
    return mask, frac


def _pilot_set(X_clean, y_clean, cols: int):
    if X_clean is None and y_clean is None:
        return None
    if X_clean is None or y_clean is None:
        raise ValueError("give both X_clean and y_clean for a clean pilot set, or neither")
    Xp = _matrix("X_clean", X_clean)
    if Xp.shape[1] != cols:
        raise ValueError(f"X_clean must have the {cols} columns of X, got {Xp.shape[1]}")
    yp = v.check_finite("y_clean", v.as_float_array("y_clean", y_clean))
    if yp.shape != (Xp.shape[0],):
        raise ValueError(f"y_clean must have shape ({Xp.shape[0]},) to match X_clean, got "
                         f"{yp.shape}")
    return Xp, yp


def _spectrum(Xc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nonzero eigenvalues of ``Xc'Xc/T`` (descending) and their eigenvectors ``(d, k)``."""
    rows = Xc.shape[0]
    _, sv, Vt = np.linalg.svd(Xc / math.sqrt(rows), full_matrices=False)
    keep = sv > sv.max(initial=0.0) * max(Xc.shape) * np.finfo(float).eps
    if not np.any(keep):
        raise ValueError("X has rank 0 (after centring): every column is constant")
    return sv[keep] ** 2, Vt[keep].T


# ----------------------------------------------------------------------------------------------
# estimation
# ----------------------------------------------------------------------------------------------


def _chain_moments(s, q, n, chain) -> tuple[np.ndarray, np.ndarray]:
    """Mean offset ``c`` and variance ``v`` of ``w_n`` per sample direction (plug-in)."""
    prob = prepare(s, np.sqrt(q))
    setting = _chain.Setting(chain["T0"], chain["lam0"], chain["sigma0"], chain["fresh"],
                             chain["mode"])
    prob._check_chain(setting, np.array([n]))
    st = _chain.states(prob._spec, setting, [n])
    inv = prob._spec.inverse
    return st.c[0, inv], st.v[0, inv]


def _binned(s: np.ndarray, q_raw: np.ndarray) -> np.ndarray:
    """Mean of the unbiased energies over bins of neighbouring eigenvalues, clipped at 0."""
    order = np.argsort(-s)
    out = np.empty_like(q_raw)
    k = s.size
    edges = np.unique(np.r_[np.arange(0, k, _BIN_SIZE), k])
    for a, b in zip(edges[:-1], edges[1:]):
        idx = order[a:b]
        out[idx] = max(float(np.mean(q_raw[idx])), 0.0)
    return out


def _estimate(s, b, A, Z, yc, rows, n, chain, sigma, mask):
    """Teacher energies per direction and the noise.

    The noise first, from labels whose teacher is one fixed vector, so that no estimate of the
    chain feeds back into it (:func:`_noise`).  Then the energies: from the real rows alone
    when a mask leaves at least ``k + 10`` of them (clean least squares); otherwise from all
    rows, as least squares (minimum norm when ``T <= k``) in the sample basis, whose
    coefficients have mean ``(1 + p c) w0`` and second moment ``(1 + p c)^2 w0^2 + p^2 v' +
    beta / (T s)``, ``beta = sigma^2 + p (1 - p) sum s S`` (the label noise and the mixing of
    the two teachers, exact in the sample basis given the design), ``v' = (T - k - 1) v / T``
    the chain's variance in the sample basis; directions where the chain has forgotten the
    teacher (``(1 + p c)^2 < 0.1``) get the power law fitted to the others.  Iterated with the
    chain they imply."""
    k = s.size
    q = _binned(s, b**2 / s**2)  # first guess: as if the labels were clean and noiseless
    c, var = _chain_moments(s, q, n, chain)
    sig2 = sigma**2 if sigma is not None else _noise(s, b, A, Z, yc, rows, var, mask, chain)
    if mask is not None and int((~mask).sum()) - k - 1 >= _MIN_RESIDUAL_DOF:
        Zr, yr = Z[~mask], yc[~mask]
        G = Zr.T @ Zr
        z = np.linalg.solve(G, Zr.T @ yr)
        return _binned(s, z * z - sig2 * np.diag(np.linalg.inv(G))), math.sqrt(sig2)
    p = float(A.trace() / s.sum())  # the synthetic share of the Gram (p, or the mask's)
    z = b / s
    # The chain's variance is ~ Sigma^-1 in the population basis; in the sample basis its
    # diagonal is (T - k - 1) / T times 1/s on average (the mean of an inverse Wishart
    # matrix), not 1/s: the sample's small eigenvalues are too small.
    shrink = (rows - k - 1) / rows if rows > k + 1 else 1.0
    for _ in range(_ITERATIONS):
        S = c * c * q + var
        beta = sig2 + p * (1.0 - p) * float(s @ S)
        gain = (1.0 + p * c) ** 2
        raw = (z * z - p * p * shrink * var - beta / (rows * s)) / np.maximum(gain, 1e-12)
        q = _extrapolated(s, _binned(s, raw), gain >= 0.1)
        c, var = _chain_moments(s, q, n, chain)
    return q, math.sqrt(max(sig2, 0.0))


def _extrapolated(s: np.ndarray, q: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``q`` with the unknown directions filled by the power law ``s q = a s^gamma`` fitted
    (least squares in log-log) to the known directions of positive energy."""
    if np.all(known):
        return q
    ok = known & (q > 0)
    out = q.copy()
    if ok.sum() >= 2 and np.ptp(np.log(s[ok])) > 0:
        gamma, log_a = np.polyfit(np.log(s[ok]), np.log(s[ok] * q[ok]), 1)
        out[~known] = np.exp(log_a + gamma * np.log(s[~known])) / s[~known]
    else:
        out[~known] = 0.0
    return out


def _noise(s, b, A, Z, yc, rows, var, mask, chain) -> float:
    """``sigma^2`` of the labels, by the first that applies: the least-squares residual of the
    real rows (a mask with at least ``k + 10`` of them), of every row when all are synthetic
    (their teacher is then the fixed ``w_n``), of every row less the chain's exact part for
    unbiased (least-squares) generators; otherwise the floor of the projections
    (:func:`_noise_floor`)."""
    k = s.size
    n_real = rows if mask is None and np.all(A == 0) else (
        int((~mask).sum()) if mask is not None else None)
    if mask is not None and n_real - k - 1 >= _MIN_RESIDUAL_DOF:
        Zr, yr = Z[~mask], yc[~mask]
        coef, *_ = np.linalg.lstsq(Zr, yr, rcond=None)
        r = yr - Zr @ coef
        return float(r @ r) / (n_real - k)
    dof = rows - k - 1
    all_synthetic = np.allclose(A, np.diag(s)) if mask is None else bool(mask.all())
    unbiased = chain["lam0"] == 0 and chain["T0"] > k + 1
    if dof >= _MIN_RESIDUAL_DOF and (all_synthetic or unbiased or not np.any(A)):
        rss = float(yc @ yc) - rows * float(b @ (b / s))
        part = 0.0
        if not all_synthetic and np.any(A):
            # E RSS = sigma^2 (T - k) + T tr((A - A S^-1 A) diag(v)): the chain's variance that
            # the fit cannot absorb (its mean is w0: unbiased).
            part = rows * float(np.diag(A - (A / s[None, :]) @ A) @ var)
        return max(rss - part, 0.0) / dof
    if mask is not None and n_real >= 20:
        Zr, yr = Z[~mask], yc[~mask]
        br = Zr.T @ yr / n_real
        sr = np.einsum("ij,ij->j", Zr, Zr) / n_real
        return _noise_floor(sr, br, np.zeros((k, k)), var, n_real)
    return _noise_floor(s, b, A, var, rows)


def _noise_floor(s, b, A, var, rows) -> float:
    """``sigma^2`` from the floor of ``u_j = (b_j^2 - (A diag(v) A)_jj) / s_j``: the maximum
    likelihood fit of ``u_j ~ (a s_j^gamma + sigma^2 / T) chi2_1`` (a power-law signal over a
    flat noise floor), started from the median of the smaller half of the ``u_j`` (the median
    of ``chi2_1`` is 0.455 times its mean)."""
    from scipy.optimize import minimize

    u = (b * b - np.einsum("ij,j,ij->i", A, var, A)) / s
    if np.ptp(np.log(s)) < 1e-6:
        raise ValueError("cannot separate the label noise from the signal: T <= d and the "
                         "sample spectrum is flat; pass sigma (the noise of the real labels)")
    order = np.argsort(-s)
    ls = np.log(s / s.max())
    scale = max(float(np.mean(np.abs(u))), np.finfo(float).tiny)
    uu = np.maximum(u / scale, 0.0)
    tail = order[s.size // 2:]
    noise0 = max(float(np.median(uu[tail])) / 0.455, 1e-8)
    head = order[:max(1, s.size // 5)]
    a0 = max(float(np.mean(uu[head])) - noise0, 1e-8)

    def nll(theta):
        log_a, gamma, log_n = theta
        m = np.exp(log_a + gamma * ls) + np.exp(log_n)
        return float(np.sum(np.log(m) + uu / m))

    res = minimize(nll, np.array([math.log(a0), 1.0, math.log(noise0)]), method="L-BFGS-B",
                   bounds=[(-60.0, 60.0), (0.0, 6.0), (-60.0, 60.0)])
    floor = math.exp(res.x[2]) * scale
    if not np.isfinite(floor) or floor <= 1e-10 * scale:
        raise ValueError("cannot estimate the label noise from these labels (T <= d and no "
                         "noise floor in the projections); pass sigma")
    return floor * rows


def _calibrate(s, q, sigma, Z, yc, Zp, yp, rows, n, p, chain, mask):
    """Fit the teacher-energy scale and the noise so that the theory's errors match the pilot
    set's errors of the fits on the training data over a grid of penalties."""
    lams = s.max() * np.logspace(-6, 1, 24)
    b = Z.T @ yc / rows
    coef = b[None, :] / (s[None, :] + lams[:, None])  # ridge coefficients, sample basis
    observed = np.mean((yp[:, None] - Zp @ coef.T) ** 2, axis=0)  # error + sigma^2

    def predicted(scale, sig2):
        prob = prepare(s, np.sqrt(scale * q))
        return np.asarray(prob.test_error(T=rows, n=n, lam=lams, sigma=math.sqrt(sig2), p=p,
                                          **chain).total) + sig2

    base = predicted(0.0, 0.0)
    by_q = predicted(1.0, 0.0) - base
    by_sig = predicted(0.0, 1.0) - base
    from scipy.optimize import nnls

    M = np.stack([by_q, by_sig], axis=1)
    w = 1.0 / np.maximum(observed, np.finfo(float).tiny)  # relative residuals
    (scale, sig2), _ = nnls(M * w[:, None], (observed - base) * w)
    if scale <= 0:
        return q, sigma
    return scale * q, math.sqrt(sig2)


# ----------------------------------------------------------------------------------------------
# the choice: cross-validation on the labels as they are, corrected by the theory
# ----------------------------------------------------------------------------------------------


class _Choice(NamedTuple):
    lam: float
    weight: float
    error: float


# Penalties per decade of the grid each weight's leave-one-out curve is evaluated on, and
# golden-section steps in log lam around its minimum (to 1e-3 relative).
_LAMS_PER_DECADE = 6
_LAM_STEPS = 18
# Weights tried: 0, then log-spaced from 1e-2 to max_weight; golden-section steps in between.
_WEIGHTS_PER_DECADE = 4
_WEIGHT_STEPS = 12


class _Objective:
    r"""The estimated test error of the fit with penalty ``lam`` and synthetic weight ``w``:

    .. math::  \hat E(\lambda, \omega) = \mathrm{LOO}(\lambda, \omega) - \sigma^2
               + 2 p\, \mathrm{cross}(\lambda, \omega) - p\, \mathrm{shift},

    ``LOO`` the leave-one-out error of the fit on the training labels (exact for weighted
    ridge: residual ``r_i / (1 - H_ii)``), which estimates the error against the labels' own
    mixture of targets plus the noise, and ``2 p cross - p shift`` the theory's difference
    between that and the error against the truth (:class:`kernelcollapse._error.Parts`).  The
    data decide the bias and variance of the fit (no plug-in spectrum there), the theory only
    what the synthetic targets change."""

    def __init__(self, prob, kw, Z, yc, mask, sigma, lo, hi, d: int):
        self.prob, self.kw, self.Z, self.yc, self.mask = prob, kw, Z, yc, mask
        self.sig2 = float(sigma) ** 2
        self.lo, self.hi = lo, hi
        self._decomposed: dict[float, tuple] = {}
        setting = _chain.Setting(kw["T0"], kw["lam0"], kw["sigma0"], kw["fresh"], kw["mode"])
        # Least-squares generators on T0 > d + 1 rows (d the number of features): unbiased,
        # with the exact variance sigma0^2 h_n Sigma^-1 (kernelcollapse._chain.exact_h).
        self.h = None
        if setting.lam0 == 0 and setting.T0 > d + 1:
            self.h = float(setting.sigma0**2 * _chain.exact_h(setting, d,
                                                               np.array([kw["n"]]))[0])
        self.d = d

    def _decompose(self, w: float):
        """Eigen-decomposition of ``Z' Omega Z / T`` for the weight ``w``, cached."""
        hit = self._decomposed.get(w)
        if hit is None:
            T = self.Z.shape[0]
            om = np.ones(T) if self.mask is None else np.where(self.mask, w, 1.0)
            Zw = self.Z * om[:, None]
            e, Q = np.linalg.eigh(Zw.T @ self.Z / T)
            ZQ = self.Z @ Q
            hit = (np.maximum(e, 0.0), ZQ, (ZQ * om[:, None]).T @ self.yc / T,
                   (ZQ * ZQ) * om[:, None] / T)
            self._decomposed[w] = hit
        return hit

    def loo(self, lams, w: float, *, dof: bool = False):
        e, ZQ, c, H_parts = self._decompose(w)
        inv = 1.0 / (e[:, None] + lams[None, :])  # (k, L)
        resid = self.yc[:, None] - ZQ @ (c[:, None] * inv)
        lever = H_parts @ inv
        out = np.mean((resid / (1.0 - lever)) ** 2, axis=0)
        return (out, lever.sum(axis=0)) if dof else out

    def correction(self, lams, w: float, df=None) -> np.ndarray:
        prob, kw = self.prob, self.kw
        if self.h is not None:
            # cross = p g sigma0^2 h df1(kappa), and df1(kappa) of the population is the fit's
            # own degrees of freedom tr(R^-1 X' Omega X / T) (leave-one-out identity), read off
            # the data: no plug-in spectrum.
            if df is None:
                _, df = self.loo(lams, w, dof=True)
            p, T = kw["p"], self.Z.shape[0]
            g = _fit.gains(df / T, p, w).g
            return 2.0 * p * p * g * self.h * df - p * self.h * self.d
        g = prob._grid(**{**kw, "lam": lams, "weight": w})
        gen, b_rows, S_rows = prob._generator_rows(g)
        parts = prob._evaluate(prob._kappa(g.lam, g.T, g.p, g.weight), g, gen, b_rows,
                               S_rows)
        return 2.0 * g.p * parts.cross - g.p * parts.shift

    def error(self, lams, w: float):
        lams = np.atleast_1d(np.asarray(lams, dtype=np.float64))
        loo, df = self.loo(lams, w, dof=True)
        out = loo - self.sig2 + self.correction(lams, w, df)
        return out if out.size > 1 else float(out[0])

    def best_lam(self, w: float) -> _Choice:
        decades = math.log10(self.hi / self.lo)
        grid = np.geomspace(self.lo, self.hi, int(math.ceil(decades * _LAMS_PER_DECADE)) + 1)
        err = self.error(grid, w)
        i = int(np.argmin(err))
        a, b = math.log(grid[max(i - 1, 0)]), math.log(grid[min(i + 1, grid.size - 1)])
        x, fx = _golden(lambda t: self.error(math.exp(t), w), a, b, _LAM_STEPS)
        if fx < err[i]:
            return _Choice(math.exp(x), w, fx)
        return _Choice(float(grid[i]), w, float(err[i]))

    def best(self, max_weight: float) -> _Choice:
        if self.mask is None or not 0 < self.mask.sum() < self.mask.size:
            return self.best_lam(1.0)  # the rows cannot be weighted, or all weigh alike
        decades = math.log10(max_weight / 1e-2)
        weights = np.r_[0.0, np.geomspace(1e-2, max_weight,
                                          int(math.ceil(decades * _WEIGHTS_PER_DECADE)) + 1)]
        tried = [self.best_lam(float(w)) for w in weights]
        i = int(np.argmin([c.error for c in tried]))
        lo = math.log(max(weights[max(i - 1, 0)], 1e-3))
        hi = math.log(weights[min(i + 1, weights.size - 1)])
        memo: dict[float, _Choice] = {}

        def f(t):
            memo[t] = self.best_lam(math.exp(t))
            return memo[t].error

        t, ft = _golden(f, lo, hi, _WEIGHT_STEPS)
        return memo[t] if ft < tried[i].error else tried[i]

    def cv_choice(self) -> _Choice:
        """What cross-validation on the training labels picks (weight 1): the minimiser of
        the leave-one-out error itself, and its estimated error against the truth."""
        decades = math.log10(self.hi / self.lo)
        grid = np.geomspace(self.lo, self.hi, int(math.ceil(decades * _LAMS_PER_DECADE)) + 1)
        loo = self.loo(grid, 1.0)
        i = int(np.argmin(loo))
        a, b = math.log(grid[max(i - 1, 0)]), math.log(grid[min(i + 1, grid.size - 1)])
        t, _ = _golden(lambda t: float(self.loo(np.array([math.exp(t)]), 1.0)[0]), a, b,
                       _LAM_STEPS)
        lam = math.exp(t)
        return _Choice(lam, 1.0, self.error(lam, 1.0))


def _golden(f, a: float, b: float, steps: int) -> tuple[float, float]:
    """Golden-section minimisation of ``f`` on ``[a, b]``: ``(x, f(x))`` of the best point."""
    g = (math.sqrt(5.0) - 1.0) / 2.0
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(steps):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(d)
    return (c, fc) if fc < fd else (d, fd)


def _from_theory(prob, kw, lam_bounds, max_weight, estimated) -> Recommendation:
    """Without labels: the theory alone, on the flat prior."""
    best = optimal_weight(prob.eigvals, prob.w0, max_weight=max_weight,
                          lam_bounds=lam_bounds, **kw)
    clean = prob.optimal_lambda(**{**kw, "n": 0}, lam_bounds=lam_bounds)
    at_clean = float(prob.test_error(lam=float(clean.lam), **kw).total)
    lo, hi = _bounds(lam_bounds, float(prob.eigvals.max()))
    lam = float(best.lam)
    nan = float("nan")
    return Recommendation(
        lam=lam, weight=float(best.weight), error=float(best.error),
        lam_clean=float(clean.lam), error_clean_choice=at_clean, lam_cv=nan, error_cv=nan,
        lam_unweighted=float(best.lam_unweighted), error_unweighted=float(best.error_unweighted),
        lam_dropped=float(best.lam_dropped), error_dropped=float(best.error_dropped),
        loss=at_clean - float(best.error), eigvals=prob.eigvals, w0=prob.w0,
        sigma=float(kw["sigma"]), sigma_estimated=estimated, p=kw["p"],
        at_bound=bool(lam <= lo * (1 + 1e-9) or lam >= hi * (1 - 1e-9)))
