"""Estimating a practitioner's problem from the labels as they are (trusted core of
:mod:`kernelcollapse.tuning`): the plug-in spectrum, the teacher's energy per direction and the
label noise, with what the generator chain adds to the synthetic labels taken out.

Inputs are validated by :func:`kernelcollapse.tuning.recommend`.  Everything is expressed in
the sample eigenbasis of the centred features, ``Z = Xc V`` with ``Z'Z/T = diag(s)``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from kernelcollapse.exceptions import NoiseUnidentified
from kernelcollapse.theory import prepare

# Directions per bin of the energy estimate (equal energy within a bin of similar eigenvalues):
# enough to average the per-direction noise, few enough to follow the spectrum's shape.
_BIN_SIZE = 12
# Fixed-point iterations between the energy estimate and the chain it implies.
_ITERATIONS = 6
# Residual degrees of freedom from which the noise is read off the least-squares residual.
_MIN_RESIDUAL_DOF = 10
# The noise floor counts as seen when it reaches this fraction of the fitted signal at the
# smallest eigenvalue (on Gaussian data: fits that recovered sigma reached at least 0.3 of it,
# collapsed fits 1e-4 and less).
_FLOOR_SHOWS = 0.1
# Random subsets of the user's rows on which a least-squares generator's covariance is measured
# (chain_rows): the trace's relative standard error falls as 1/sqrt of it.
_SUBSETS = 24


def spectrum(Xc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nonzero eigenvalues of ``Xc'Xc/T`` (descending) and their eigenvectors ``(d, k)``."""
    rows = Xc.shape[0]
    _, sv, Vt = np.linalg.svd(Xc / math.sqrt(rows), full_matrices=False)
    keep = sv > sv.max(initial=0.0) * max(Xc.shape) * np.finfo(float).eps
    if not np.any(keep):
        raise ValueError("X must have rank >= 1 after centring (a column that varies), got "
                         "rank 0: every column is constant")
    return sv[keep] ** 2, Vt[keep].T


# ----------------------------------------------------------------------------------------------
# estimation
# ----------------------------------------------------------------------------------------------


class Chain(NamedTuple):
    """The generators a user describes: the process's generator settings
    (:data:`kernelcollapse.theory.PROCESS`), checked by :func:`kernelcollapse.tuning.recommend`;
    ``chain._asdict()`` passes them to the theory."""

    T0: float
    lam0: float
    sigma0: float
    mode: str
    fresh: float


def chain_moments(s, q, n, chain: Chain, inflation=1.0) -> tuple[np.ndarray, np.ndarray]:
    """Mean offset ``c`` and variance ``v`` of ``w_n`` per sample direction (plug-in), the
    variance times ``inflation`` (a scalar or per direction: the diagonal of
    :func:`chain_rows`'s factor)."""
    offset, var = prepare(s, np.sqrt(q)).chain_moments(
        T0=chain.T0, n=[n], sigma0=chain.sigma0, lam0=chain.lam0, mode=chain.mode,
        fresh=chain.fresh)
    return offset[0], inflation * var[0]


def sample_basis_shrink(rows: int, k: int) -> float:
    """The chain's variance is ~ Sigma^-1 in the population basis; in the sample basis its
    diagonal is ``(T - k - 1) / T`` times ``1/s`` on average (the mean of an inverse Wishart
    matrix), not ``1/s``: the sample's small eigenvalues are too small.  1 for ``T <= k + 1``."""
    return (rows - k - 1) / rows if rows > k + 1 else 1.0


class ChainRows(NamedTuple):
    """What the user's own rows say about a least-squares generator's covariance
    (:func:`chain_rows`), relative to Gaussian rows of the same covariance."""

    factor: np.ndarray  # (k, k): F, with Cov(w_1 - w_0) Sigma = sigma0^2 F / (T0 - k - 1)
    size: int  # the rows per subsample it was measured on (T0, or fewer: see extrapolated)
    extrapolated: float  # the trace's scale from ``size`` rows to T0 (1: measured at T0)
    rel_se: float  # relative standard error of tr(F) over the subsamples
    measured: bool  # False: too few rows to measure (F = I, the Gaussian chain)
    # (B, k): diag F of each subsample, one generator's design each: the spread of their
    # traces is the chain's from one draw of the generators' rows to another (empty when not
    # measured)
    designs: np.ndarray = np.empty((0, 0))


def chain_rows(Z: np.ndarray, T0: int, *, key, subsets: int = _SUBSETS) -> ChainRows:
    r"""The covariance of one least-squares generator fitted on ``T0`` rows like the user's,
    measured on the user's rows (trusted core of :func:`kernelcollapse.tuning.recommend`).

    A least-squares generator with an intercept on rows ``X_S`` (centred on their own mean)
    adds ``(X_S^\top X_S)^{-1} X_S^\top \varepsilon`` to its predecessor, of covariance
    ``sigma0^2 E[(X_S^\top X_S)^{-1}]`` whatever the rows' law.  A random subset ``S`` of
    ``m`` of the user's ``T`` rows is ``m`` independent rows of that law, and the other rows
    ``H`` are independent of them, so that

    .. math::  \hat F = \frac{m - k - 1}{B} \sum_{b=1}^{B} (X_{S_b}^\top X_{S_b})^{-1}
               \hat\Sigma_{H_b}, \qquad \hat\Sigma_H = \frac{X_H^\top X_H}{|H| - 1},

    is unbiased for ``(m - k - 1) E[(X_S^\top X_S)^{-1}] \Sigma`` (about the identity for
    Gaussian rows): the chain's covariance in units of the Gaussian one, as a matrix.
    ``m = T0`` when ``T0 <= T - max(2, T / 10)`` (enough held-out rows for ``Sigma_H``).
    Otherwise ``F`` is measured at the largest such ``m`` and at ``3 m / 4``, and the trace
    follows the fit of ``tr(Sigma E[(X_m^\top X_m)^{-1}]) = a / (m - b)`` through both
    (exact for Gaussian rows, ``a = k``, ``b = k + 1``; ``b`` larger for rows that need many
    samples to fill every direction, such as discrete values), evaluated at ``T0``; where
    ``3 m / 4 < k + 10``, ``b`` comes from the one point with ``a = k`` (the large-``m``
    limit); ``F``'s shape is that at ``m``.

    ``Z``: the centred rows in the sample eigenbasis, shape ``(T, k)``.  ``key``: seed of the
    subsets (a numpy seed).  The derivation and the estimator's variance are in
    ``docs/theory/optimize.rst``.
    """
    rows, k = Z.shape
    top = rows - max(2, -(-rows // 10))
    if top < k + _MIN_RESIDUAL_DOF or not T0 > k + 1:
        return ChainRows(np.eye(k), 0, 1.0, 0.0, False)
    rng = np.random.default_rng(key)
    m = int(min(T0, top))
    F, rel_se, designs = _subsampled(Z, m, subsets, rng)
    scale = 1.0
    if m < T0:
        m2 = (3 * m) // 4
        if m2 >= k + _MIN_RESIDUAL_DOF:
            F2, _, _ = _subsampled(Z, m2, subsets, rng)
            # f(m) = tr F(m) / (m - k - 1) = a / (m - b): two points give b
            f1, f2 = np.trace(F) / (m - k - 1), np.trace(F2) / (m2 - k - 1)
            b = (f2 * m2 - f1 * m) / (f2 - f1) if f2 > f1 else float(k + 1)
            b = float(np.clip(b, -np.inf, m2 - 1.0))
            scale = (m - b) / (T0 - b) * (T0 - k - 1) / (m - k - 1)
        else:
            # no second size: b from the one point with a = k, which the law of large numbers
            # fixes (m E[(X_m'X_m)^-1] -> Sigma^-1), instead of the factor at m: rows that
            # barely fill every direction there (m close to k) make it an overestimate at T0
            f1 = np.trace(F) / (m - k - 1)
            b = float(np.clip(m - k / f1, -np.inf, m - 1.0)) if f1 > 0 else float(k + 1)
            scale = (m - b) / (T0 - b) * (T0 - k - 1) / (m - k - 1)
    return ChainRows(F * scale, m, float(scale), rel_se, True, designs * scale)


def _splits(Z, m: int, subsets: int, rng):
    """``(G_S, Sigma_H, S, H)`` of ``subsets`` random splits of the rows: the Gram of ``m``
    rows centred on their own mean (a generator with an intercept), the covariance of the
    others (independent of them), and the two sets of row indices."""
    rows, k = Z.shape
    total, sums = Z.T @ Z, Z.sum(axis=0)
    h = rows - m
    for _ in range(subsets):
        perm = rng.permutation(rows)
        # one Gram per subset, of the smaller side; the other is the total less it
        small = perm[:m] if m <= h else perm[m:]
        G_small = Z[small].T @ Z[small]
        G_S, G_H = (G_small, total - G_small) if m <= h else (total - G_small, G_small)
        sum_small = Z[small].sum(axis=0)
        sum_S = sum_small if m <= h else sums - sum_small
        mean_S, mean_H = sum_S / m, (sums - sum_S) / h
        yield (G_S - m * np.outer(mean_S, mean_S),
               (G_H - h * np.outer(mean_H, mean_H)) / (h - 1), perm[:m], perm[m:])


def _subsampled(Z, m: int, subsets: int, rng) -> tuple[np.ndarray, float, np.ndarray]:
    r"""``F`` at ``m`` rows per subset (:func:`chain_rows`), the relative standard error of
    its trace from one user sample to another, and each subset's diagonal of ``F``.

    The subsets of one sample overlap, so their scatter (``W / B`` for ``B`` of them) is only
    part of the estimator's variance; the rest is that of its limit over every split, a
    function of the user's rows, whose first-order (Hajek) projection is a sum over rows:
    a row held out enters ``tr(G_S^{-1} Sigma_H)`` through ``alpha_i = x_i' G_S^{-1} x_i /
    (h - 1)``, a row in the subset through Sherman-Morrison, ``-beta_i = -x_i' G_S^{-1}
    Sigma_H G_S^{-1} x_i / (1 - l_i)`` (``l_i = x_i' G_S^{-1} x_i``, the subset's leverage),
    so that the limit's variance is ``T Var_i((h alpha_i - m beta_i) / T)``.  Each row's two
    means over the splits that held it out and that drew it are noisy; their noise variance is
    subtracted."""
    from scipy.linalg import cho_factor, cho_solve

    rows, k = Z.shape
    h = rows - m
    acc = np.zeros((k, k))
    traces = np.empty(subsets)
    diags = np.empty((subsets, k))
    # per row: sums and squares of alpha (held out) and beta (in the subset), and the counts
    held, drawn = np.zeros((3, rows)), np.zeros((3, rows))
    for i, (G_S, Sigma_H, S, H) in enumerate(_splits(Z, m, subsets, rng)):
        inv = cho_solve(cho_factor(G_S), np.eye(k))
        ZS, ZH = Z[S] - Z[S].mean(axis=0), Z[H] - Z[H].mean(axis=0)
        YH, YS = ZH @ inv, ZS @ inv  # rows of G_S^-1 x_i
        one = inv @ Sigma_H
        acc += one
        traces[i] = np.trace(one)
        diags[i] = np.diag(one)
        alpha = np.einsum("ij,ij->i", YH, ZH) / (h - 1)
        lever = np.einsum("ij,ij->i", YS, ZS)
        beta = np.einsum("ij,ij->i", YS @ Sigma_H, YS) / np.maximum(1.0 - lever, 1e-12)
        for store, idx, val in ((held, H, alpha), (drawn, S, beta)):
            store[0, idx] += val
            store[1, idx] += val * val
            store[2, idx] += 1.0
    mean = float(traces.mean())
    if not mean > 0:
        return (m - k - 1) * acc / subsets, np.inf, (m - k - 1) * diags
    within = float(traces.var(ddof=1)) / subsets
    ok = (held[2] >= 2) & (drawn[2] >= 2)
    projection = 0.0
    if ok.sum() >= 3:
        def row_means(store):
            n = store[2, ok]
            mu = store[0, ok] / n
            return mu, np.maximum(store[1, ok] / n - mu * mu, 0.0) / (n - 1)  # var of mu

        a, va = row_means(held)
        b, vb = row_means(drawn)
        psi = (h * a - m * b) / rows
        noise = float(np.mean((h * h * va + m * m * vb) / rows**2))
        projection = max(float(psi.var(ddof=1)) - noise, 0.0) * rows
    rel_se = math.sqrt(within + projection) / mean
    return (m - k - 1) * acc / subsets, rel_se, (m - k - 1) * diags


class RidgeRows(NamedTuple):
    """What the user's own rows say about one ridge generator (:func:`ridge_rows`)."""

    ratio: float  # measured E||w_1 - w_0||^2_Sigma over the theory's, at ``size`` rows
    size: int  # rows per subset it was measured on (T0, or fewer when the rows are few)
    rel_se: float  # relative standard error of the measured energy over the subsets
    measured: bool  # False: too few rows, or nothing to measure (ratio 1, the theory's)
    energy: float = float("nan")  # the measured E||w_1 - w_0||^2_Sigma
    theory: float = float("nan")  # the theory's, for Gaussian rows of the same covariance


def ridge_rows(Z: np.ndarray, T0: int, lam0: float, sigma0: float, q: np.ndarray, *, key,
               subsets: int = _SUBSETS) -> RidgeRows:
    r"""How far one ridge generator fitted on ``T0`` rows like the user's moves from its
    teacher, measured on the user's rows, against the deterministic-equivalent theory the
    chain's formulas use (trusted core of :func:`kernelcollapse.tuning.recommend`).

    A ridge generator with an intercept on rows ``X_S`` (centred on their own mean, ``G_S =
    X_S^	op X_S``, ``M = (G_S + m \lambda_0 I)^{-1}``) fitted to ``X_S w_0 + arepsilon``
    moves by ``w_1 - w_0 = -m\lambda_0 M w_0 + M X_S^	op arepsilon``, so that, for a
    teacher of energies ``q`` per direction with independent signs,

    .. math::  E\|w_1 - w_0\|^2_\Sigma = E\Big[(m\lambda_0)^2 \sum_l q_l (M \Sigma M)_{ll}
               + \sigma_0^2 \operatorname{tr}(\Sigma M G_S M)\Big].

    Both terms are linear in ``Sigma``: with the covariance of the other rows ``Sigma_H``
    (independent of ``S``) in its place, the mean over random subsets is unbiased whatever
    the rows' law.  ``ratio`` is that mean over the theory's value for ``m - 1`` rows (one
    taken by the intercept), ``m = min(T0, T - max(2, T / 10))``: 1 for Gaussian rows up to
    the deterministic equivalent's finite-size error, larger for rows whose ridge fits
    scatter more than Gaussian ones.  ``Z``: the centred rows in the sample eigenbasis, shape
    ``(T, k)``.  ``key``: seed of the subsets.  The derivation is in
    ``docs/theory/optimize.rst``.
    """
    rows, k = Z.shape
    top = rows - max(2, -(-rows // 10))
    m = int(min(T0, top))
    if m < _MIN_RESIDUAL_DOF or not (sigma0 > 0 or np.any(q > 0)):
        return RidgeRows(1.0, 0, 0.0, False)
    s = np.einsum("ij,ij->j", Z, Z) / rows
    rng = np.random.default_rng([key, 2])
    energies = np.empty(subsets)
    pen = m * lam0
    for i, (G_S, Sigma_H, _, _) in enumerate(_splits(Z, m, subsets, rng)):
        g, U = np.linalg.eigh(G_S)
        g = np.maximum(g, 0.0)
        P = U / (g + pen)[None, :]  # M = P U'
        A = U.T @ Sigma_H @ U
        bias = pen**2 * float(q @ np.einsum("la,ab,lb->l", P, A, P))
        noise = sigma0**2 * float(np.diag(A) @ (g / (g + pen) ** 2))
        energies[i] = bias + noise
    measured = float(energies.mean())
    chain = Chain(T0=m - 1, lam0=lam0, sigma0=sigma0, mode="replace", fresh=0.0)
    c, v = chain_moments(s, q, 1, chain)
    theory = float(s @ (c * c * q + v))
    if not (theory > 0 and measured > 0):
        return RidgeRows(1.0, 0, 0.0, False)
    rel_se = float(energies.std(ddof=1) / math.sqrt(subsets) / measured)
    return RidgeRows(measured / theory, m, rel_se, True, measured, theory)


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


def estimate(s, b, A, Z, yc, rows, n, chain, sigma, mask, inflation=1.0):
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
    chain they imply.  ``inflation`` scales the chain's variance per direction (the diagonal
    of :func:`chain_rows`'s factor)."""
    k = s.size
    if mask is not None and int((~mask).sum()) - k - 1 >= _MIN_RESIDUAL_DOF:
        # one least-squares fit of the real rows gives both (the chain plays no part)
        Zr, yr = Z[~mask], yc[~mask]
        G = Zr.T @ Zr
        z = np.linalg.solve(G, Zr.T @ yr)
        if sigma is None:
            r = yr - Zr @ z
            sig2 = float(r @ r) / (yr.size - k)
        else:
            sig2 = sigma**2
        return _binned(s, z * z - sig2 * np.diag(np.linalg.inv(G))), math.sqrt(sig2)
    q = _binned(s, b**2 / s**2)  # first guess: as if the labels were clean and noiseless
    c, var = chain_moments(s, q, n, chain, inflation)
    sig2 = sigma**2 if sigma is not None else _noise(s, b, A, Z, yc, rows, var, mask, chain)
    p = float(A.trace() / s.sum())  # the synthetic share of the Gram (p, or the mask's)
    z = b / s
    shrink = sample_basis_shrink(rows, k)
    for _ in range(_ITERATIONS):
        S = c * c * q + var
        beta = sig2 + p * (1.0 - p) * float(s @ S)
        gain = (1.0 + p * c) ** 2
        raw = (z * z - p * p * shrink * var - beta / (rows * s)) / np.maximum(gain, 1e-12)
        q = _extrapolated(s, _binned(s, raw), gain >= 0.1)
        c, var = chain_moments(s, q, n, chain, inflation)
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
    """``sigma^2`` of the labels when a mask does not leave ``k + 10`` real rows (with that
    many, :func:`estimate` reads it off their least-squares residual), by the first that
    applies: the least-squares residual of every row when all are synthetic
    (their teacher is then the fixed ``w_n``), of every row less the chain's exact part for
    unbiased (least-squares) generators; otherwise the floor of the projections
    (:func:`_noise_floor`)."""
    k = s.size
    n_real = None if mask is None else int((~mask).sum())
    dof = rows - k - 1
    all_synthetic = np.allclose(A, np.diag(s)) if mask is None else bool(mask.all())
    unbiased = chain.lam0 == 0 and chain.T0 > k + 1
    if dof >= _MIN_RESIDUAL_DOF and (all_synthetic or unbiased or not np.any(A)):
        rss = float(yc @ yc) - rows * float(b @ (b / s))
        part = 0.0
        if not all_synthetic and np.any(A):
            # E RSS = sigma^2 (T - k) + T tr((A - A S^-1 A) diag(v)): the chain's variance that
            # the fit cannot absorb (its mean is w0: unbiased).
            part = rows * float(np.diag(A - (A / s[None, :]) @ A) @ var)
        return max(rss - part, 0.0) / dof
    if mask is not None and n_real >= 20:
        # The floor model needs projections on the eigenvectors of the real rows' own Gram:
        # in the basis of all rows their Gram is not diagonal, and its off-diagonal part leaks
        # the leading directions' signal into the tail (sigma came out 1.6-1.8 times too large
        # on Gaussian data at T <= d).
        Zr, yr = Z[~mask], yc[~mask]
        sr, Vr = spectrum(Zr)
        br = (Zr @ Vr).T @ yr / n_real
        return _noise_floor(sr, br, np.zeros((sr.size, sr.size)), np.zeros(sr.size), n_real)
    return _noise_floor(s, b, A, var, rows)


def _noise_floor(s, b, A, var, rows) -> float:
    """``sigma^2`` from the floor of ``u_j = (b_j^2 - (A diag(v) A)_jj) / s_j``: the maximum
    likelihood fit of ``u_j ~ (a s_j^gamma + sigma^2 / T) chi2_1`` (a power-law signal over a
    flat noise floor), started from the median of the smaller half of the ``u_j`` (the median
    of ``chi2_1`` is 0.455 times its mean)."""
    from scipy.optimize import minimize

    u = (b * b - np.einsum("ij,j,ij->i", A, var, A)) / s
    if np.ptp(np.log(s)) < 1e-6:
        raise NoiseUnidentified("cannot separate the label noise from the signal: too few rows "
                                "for a least-squares residual and a flat sample spectrum; "
                                "pass sigma (the noise of the real labels)")
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
    log_a, gamma, log_n = res.x
    if log_n < log_a + gamma * float(ls.min()) - math.log(1.0 / _FLOOR_SHOWS):
        # The fitted floor lies far below the signal even at the smallest eigenvalue: it is
        # not seen in the projections, only extrapolated (such fits gave sigma ~ 1e-3 for 0.5
        # on isotropic features, whose sample spectrum at T <= d is Marchenko-Pastur's).
        raise NoiseUnidentified("cannot estimate the label noise from these labels: too few "
                                "rows for a least-squares residual, and the projections show "
                                "no noise floor under the signal; pass sigma (the noise of "
                                "the real labels)")
    floor = math.exp(log_n) * scale
    # What the chain adds to the floor, subtracted above: a floor below it is not the noise
    # but the error of that subtraction (the chain's variance in the sample basis is only
    # approximately known at T <= d), and such fits gave sigma ~ 1e-6 for 0.5.
    chain_floor = float(np.mean(np.einsum("ij,j,ij->i", A, var, A) / s))
    if not np.isfinite(floor) or floor <= max(1e-10 * scale, chain_floor):
        raise NoiseUnidentified("cannot estimate the label noise from these labels: too few "
                                "rows for a least-squares residual, and the projections show "
                                "no noise floor above what the generator chain adds; pass "
                                "sigma (the noise of the real labels)")
    return floor * rows
