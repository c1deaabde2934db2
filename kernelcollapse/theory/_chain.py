r"""The generator chain: how the mean and the variance of ``w_k`` evolve over the generations.

Trusted core for :mod:`kernelcollapse.theory` (inputs already validated).  By the symmetry of
the Gaussian design under sign flips of the eigen-coordinates, only per-coordinate moments
matter; within a group of equal eigenvalues every coordinate has

.. math:: E[w_{n,j}] = (1 + c_n) w_{0,j}, \qquad \mathrm{Var}[w_{n,j}] = v_n,

so a chain is two arrays per distinct eigenvalue: the mean offset ``c_n`` and the variance
``v_n``.  The error formulas read them as the group totals ``b = sum_j w0_j (E w_n - w0)_j
= c q`` and ``S = sum_j E (w_n - w0)_j^2 = c^2 q + mult v`` (``q`` the teacher energy and
``mult`` the multiplicity of the group), both exactly 0 at ``n = 0``.

Least-squares generators with ``T0 > d + 1`` (``lam0 = 0``) are exact and unbiased
(``c = 0``), ``v_n = sigma0^2 h_n / s`` with

* replace: ``h_n = n / (T0 - d - 1)`` (the mean of an inverse Wishart matrix);
* accumulate: ``h_n = sum_{j=1}^n 1 / (j (j T0 - d - 1))`` (each increment is
  ``S_j^{-1} X_j' E_j`` with ``S_j`` the Gram of all ``j T0`` rows so far, and the ``j`` blocks
  are exchangeable);
* fresh real rows (a fraction ``q`` of each generation's rows labelled by ``w0``):
  ``h_n = (1 - r^n) / ((1 - r) (T0 - d - 1))`` with the exact contraction
  ``r = E tr(P P') / d`` of ``P = (Z'Z)^{-1} Z_s' Z_s`` (``m = (1 - q) T0`` synthetic rows
  ``Z_s``): ``r = (m a + m (m - 1) b) / d``, ``a = d (d + 2) (T0 - 2) / (T0 (T0 + 2)
  (T0 - d - 1))``, ``b = (d - T0 a) / (T0 (T0 - 1))``.

Other generators (ridge ``lam0 > 0``, or ``T0 < d``) follow the deterministic-equivalent map of
one fit (:mod:`kernelcollapse.theory._fit`, ``weight = 1`` and a synthetic fraction ``1 - q``):
note (C) of the theory for ``q = 0``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from kernelcollapse._util.validate import choice
from kernelcollapse.theory import _spectral as _sp

MODES = ("replace", "accumulate")


def check_mode(mode) -> str:
    """``mode`` if it is one of :data:`MODES`, else a ValueError naming it."""
    return choice("mode", mode, MODES)


class Setting(NamedTuple):
    """One generator setting: the arguments every chain state depends on."""

    T0: float
    lam0: float
    sigma0: float
    fresh: float
    mode: str


def is_exact(setting: Setting, d: int) -> bool:
    """Least-squares generators with ``T0 > d + 1`` (or noiseless with ``T0 >= d``, which
    refit the truth exactly): the exact finite-sample formulas apply."""
    return setting.lam0 == 0.0 and (setting.T0 > d + 1
                                    or setting.T0 >= d and setting.sigma0 == 0.0)


def fresh_contraction(d: int, T0: float, fresh: float) -> float:
    """Exact ``E tr(P P') / d`` of the least-squares step with ``(1 - fresh) T0`` synthetic rows
    (see the module docstring); 1 for ``fresh = 0``, 0 for ``fresh = 1``."""
    m = (1.0 - fresh) * T0
    a = d * (d + 2.0) * (T0 - 2.0) / (T0 * (T0 + 2.0) * (T0 - d - 1.0))
    b = (d - T0 * a) / (T0 * (T0 - 1.0))
    return float((m * a + m * (m - 1.0) * b) / d)


def exact_h(setting: Setting, d: int, ns: np.ndarray) -> np.ndarray:
    """``h_n`` of the exact least-squares chain (module docstring), for ``T0 > d + 1``."""
    T0 = setting.T0
    e0 = T0 - d - 1.0
    if setting.mode == "accumulate":
        j = np.arange(1, int(ns.max()) + 1, dtype=np.float64)
        h = np.concatenate([[0.0], np.cumsum(1.0 / (j * (j * T0 - d - 1.0)))])
        return h[ns]
    if setting.fresh == 0.0:
        return ns / e0
    r = fresh_contraction(d, T0, setting.fresh)
    if r <= 0.0:  # every row real: each generation is a fresh fit on the truth
        return np.minimum(ns, 1) / e0
    # (1 - r^n) / (1 - r) without cancellation near r = 1
    L = np.log(r)
    return np.expm1(ns * L) / np.expm1(L) / e0


class States(NamedTuple):
    """Chain moments per requested generation, arrays ``(len(ns), u)``: the mean offset ``c``
    (accurate near 0), the mean multiplier ``m = 1 + c`` (accurate near 0 too: the tails),
    and the per-coordinate variance ``v``."""

    c: np.ndarray
    m: np.ndarray
    v: np.ndarray


def states(spec: _sp.Spectrum, setting: Setting, ns) -> States:
    """The chain's moments for each generation in ``ns`` (any order, repeats)."""
    ns = np.asarray(ns, dtype=np.int64).reshape(-1)
    u = spec.s.size
    zeros = np.zeros((ns.size, u))
    if ns.size == 0:
        return States(zeros, zeros, zeros)
    if is_exact(setting, spec.d):
        if setting.sigma0 == 0.0:
            return States(zeros, zeros + 1.0, zeros)
        h = exact_h(setting, spec.d, ns)
        return States(zeros, zeros + 1.0, setting.sigma0**2 * h[:, None] / spec.s[None, :])
    return _de_states(spec, setting, ns)


class _Step(NamedTuple):
    """Constants of one deterministic-equivalent generator fit."""

    M: np.ndarray  # s / (s + kappa0)
    W: np.ndarray  # s / (s + kappa0)^2
    kappa: float
    e: float  # T0 - df2(kappa0)
    keep: float  # fraction of synthetic rows, 1 - fresh


def _step_constants(spec: _sp.Spectrum, setting: Setting) -> _Step:
    s = spec.s
    k0 = float(_sp.kappa(np.array([setting.lam0]), np.array([setting.T0]), spec)[0])
    M = s / (s + k0)
    W = M / (s + k0)
    e = setting.T0 - float(spec.c @ (M * M))
    return _Step(M, W, k0, e, 1.0 - setting.fresh)


def _beta(st: _Step, spec: _sp.Spectrum, c: np.ndarray, v: np.ndarray, sigma0: float):
    """``beta_hat`` of :mod:`theory._fit` for unweighted rows, from the group totals."""
    s, q = spec.s, spec.q
    b = c * q
    S = c * c * q + spec.c * v
    k, p, M = st.kappa, st.keep, st.M
    return (k * k * (st.W @ q) + 2.0 * p * k * ((M - M * M) @ b) + sigma0**2
            + (s * (p * p * (M * M - 2.0 * M) + p)) @ S)


def _de_states(spec: _sp.Spectrum, setting: Setting, ns: np.ndarray) -> States:
    st = _step_constants(spec, setting)
    u = spec.s.size
    c, m, v = np.zeros(u), np.ones(u), np.zeros(u)
    want = np.unique(ns)
    out = np.zeros((3, want.size, u))
    slot = {int(k): i for i, k in enumerate(want)}
    M_minus_1 = -st.kappa / (spec.s + st.kappa)  # M - 1 without cancellation
    pM = st.keep * st.M
    for k in range(int(want.max()) + 1):
        if k in slot:
            out[:, slot[k]] = c, m, v
        beta = _beta(st, spec, c, v, setting.sigma0)
        # Both c and m = 1 + c are sums of same-signed terms: each stays accurate near 0.
        c, m = M_minus_1 + pM * c, st.M * (1.0 - st.keep) + pM * m
        v = pM * pM * v + st.W * beta / st.e
    back = np.searchsorted(want, ns)
    return States(*out[:, back])


def totals(spec: _sp.Spectrum, c: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group totals ``b = c q`` and ``S = c^2 q + mult v`` (rows of ``c``, ``v``)."""
    return c * spec.q, c * c * spec.q + spec.c * v


class Limit(NamedTuple):
    """The chain as ``n -> infinity`` (group arrays ``c``, ``v``; ``inf`` when unbounded)."""

    contraction: float
    c: np.ndarray
    v: np.ndarray


def limit(spec: _sp.Spectrum, setting: Setting) -> Limit:
    """Fixed point of the chain, ``n -> infinity``.

    Exact least squares: replace mode contracts the variance by ``r`` (:func:`fresh_contraction`)
    per generation, so ``h_inf = 1 / ((1 - r) (T0 - d - 1))`` when ``r < 1``; accumulate has
    ``h_inf = sum_j 1 / (j (j T0 - a)) = (psi(1) - psi(1 - a / T0)) / a``, ``a = d + 1``
    (partial fractions and the digamma series), below ``pi^2 / 6`` times one generation's
    ``1 / (T0 - d - 1)``.  Otherwise the map ``(c, v) -> (c', v')`` is affine: ``c`` contracts
    by ``(1 - q) M0``, and ``v' = D v + (W0 / e0) (const + w . v)`` with ``D = ((1 - q) M0)^2``
    and ``w = mult s (1 - q) ((1 - q) (M0^2 - 2 M0) + 1) >= 0``, a diagonal plus a rank-one
    non-negative matrix.  Its spectral radius (``contraction``) is below 1 exactly when
    ``max D < 1`` and ``sum (W0 / e0) w / (1 - D) < 1``; the fixed point then follows by
    Sherman-Morrison.
    """
    d, s = spec.d, spec.s
    u = s.size
    unbounded = Limit(np.inf, np.full(u, np.nan), np.full(u, np.inf))
    if is_exact(setting, d):
        e0 = setting.T0 - d - 1.0
        if setting.sigma0 == 0.0:  # every generation refits the truth exactly
            return Limit(0.0, np.zeros(u), np.zeros(u))
        if setting.mode == "accumulate":
            from scipy.special import digamma

            a = d + 1.0
            h = (digamma(1.0) - digamma(1.0 - a / setting.T0)) / a
            return Limit(np.nan, np.zeros(u), setting.sigma0**2 * h / s)
        r = fresh_contraction(d, setting.T0, setting.fresh)
        if r >= 1.0:
            return unbounded._replace(contraction=r, c=np.zeros(u))
        return Limit(r, np.zeros(u), setting.sigma0**2 / ((1.0 - r) * e0 * s))
    st = _step_constants(spec, setting)
    p, M = st.keep, st.M
    D = (p * M) ** 2
    w = spec.c * s * p * (p * (M * M - 2.0 * M) + 1.0)
    a = st.W / st.e
    contraction = _spectral_radius(D, a, w)
    if contraction >= 1.0:
        return unbounded._replace(contraction=contraction)
    c = (M - 1.0) / (1.0 - p * M)
    const = _beta(st, spec, c, np.zeros(u), setting.sigma0)  # beta at v = 0
    secular = float(a @ (w / (1.0 - D)))
    v = a * const / ((1.0 - secular) * (1.0 - D))
    return Limit(contraction, c, v)


def _spectral_radius(D: np.ndarray, a: np.ndarray, w: np.ndarray) -> float:
    """Largest eigenvalue of ``diag(D) + a w'`` (``a, w >= 0``): the root ``x > max D`` of
    ``sum a w / (x - D) = 1`` when ``sum a w / (x - D)`` exceeds 1 just above ``max D``,
    otherwise ``max D``."""
    from scipy.optimize import brentq

    aw = a * w
    top = float(D.max())
    if not np.any(aw > 0):
        return top

    def f(x):
        return float(np.sum(aw / (x - D))) - 1.0

    eps = 1e-12 * max(1.0, top)
    if f(top + eps) <= 0:
        return top
    hi = top + float(aw.sum()) + eps
    return float(brentq(f, top + eps, hi, xtol=1e-15, rtol=1e-13))
