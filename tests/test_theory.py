"""Theory engine: exact answers, limits between the formulas, invariances, bad input.

The checks against Monte-Carlo simulation are in tests/test_simulator.py (regimes (A)-(D))
and tests/test_theory_vs_simulation.py ((A) over several sizes, noiseless collapse).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernelcollapse import theory
from kernelcollapse.cli import main as cli_main
from kernelcollapse.theory import _error, _spectral


def isotropic_kappa(lam, T, d):
    """Closed form for s = 1: T k^2 + (T - d - lam T) k - lam T = 0, positive root."""
    b = T - d - lam * T
    root = np.sqrt(b * b + 4 * lam * T * T)
    # The two algebraically equal forms of the root, each free of cancellation on its side.
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, 2 * lam * T / (b + root), (root - b) / (2 * T))


def residual(k, lam, s, T):
    return k - lam - k * np.sum(s / (s + k)) / T


# ------------------------------------------------------------------------------------- kappa


@pytest.mark.parametrize("d", [1, 50, 10**6])
@pytest.mark.parametrize("T", [0.5, 20.0, 2e6])
def test_kappa_isotropic_closed_form(d, T):
    lam = np.array([0.0, 1e-12, 1e-6, 0.1, 10.0])
    got = theory.kappa(lam, np.ones(d), T)
    want = isotropic_kappa(lam, T, d)
    if T >= d:
        want[0] = 0.0
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-300)


def test_kappa_lam_zero_both_regimes_and_continuity():
    s, _ = theory.power_law(300, 1.5, 0.5)
    # T > d: least squares, kappa = 0 and ~ lam * T / (T - d) for tiny lam.
    assert theory.kappa(0.0, s, 600) == 0.0
    np.testing.assert_allclose(theory.kappa(1e-12, s, 600), 1e-12 * 600 / 300, rtol=1e-6)
    # T < d: the minimum-norm interpolator, df1(kappa) = T; tiny lam is a small perturbation.
    k0 = theory.kappa(0.0, s, 100)
    assert k0 > 0
    np.testing.assert_allclose(theory.df1(k0, s), 100, rtol=1e-12)
    np.testing.assert_allclose(theory.kappa(1e-12, s, 100), k0, rtol=1e-6)


def test_kappa_large_power_law_spectrum_solves_equation():
    s, _ = theory.power_law(10**6, 1.2, 0.5)
    lam = np.array([0.0, 1e-12, 1e-4, 1.0])
    T = np.array([[10.0], [1e4]])
    k = theory.kappa(lam, s, T)
    assert k.shape == (2, 4)
    for i in range(2):
        for j in range(4):
            assert abs(residual(k[i, j], lam[j], s, T[i, 0])) <= 1e-10 * k[i, j]


def test_kappa_broadcasts_like_elementwise_calls():
    s, _ = theory.power_law(80, 2.0, 0.3)
    lam = np.logspace(-5, 1, 4)[:, None]
    T = np.array([10.0, 80.0, 500.0])[None, :]
    grid = theory.kappa(lam, s, T)
    loop = np.array([[theory.kappa(a, s, b) for b in T[0]] for a in lam[:, 0]])
    np.testing.assert_allclose(grid, loop, rtol=1e-13)
    assert isinstance(theory.kappa(0.1, s, 10.0), float)


spectra = st.lists(st.floats(1e-4, 1e3), min_size=1, max_size=40).map(np.array)
lams = st.one_of(st.just(0.0), st.just(1e-12), st.floats(1e-9, 1e3))
sizes = st.floats(0.5, 5e3)


@settings(max_examples=150, deadline=None)
@given(s=spectra, lam=lams, T=sizes)
def test_kappa_solves_its_equation(s, lam, T):
    k = theory.kappa(lam, s, T)
    if k == 0.0:
        assert lam == 0.0 and T >= s.size
    else:
        assert abs(residual(k, lam, s, T)) <= 1e-10 * k


@settings(max_examples=100, deadline=None)
@given(s=spectra, lam=lams, T=sizes, factor=st.floats(1.01, 100.0))
def test_kappa_monotone_in_lam_and_T(s, lam, T, factor):
    k = theory.kappa(lam, s, T)
    assert theory.kappa(lam * factor + 1e-9, s, T) >= k
    assert theory.kappa(lam, s, T * factor) <= k * (1 + 1e-12)
    assert k >= lam  # kappa - lam = kappa df1 / T >= 0


def test_df1_df2_direct_sums():
    s = np.array([3.0, 1.0, 1.0, 0.25])
    k = np.array([[0.0], [0.5]])
    np.testing.assert_allclose(theory.df1(k, s), (s / (s + k)).sum(1, keepdims=True))
    np.testing.assert_allclose(theory.df2(k, s), ((s / (s + k)) ** 2).sum(1, keepdims=True))
    assert theory.df1(0.0, s) == 4.0


# --------------------------------------------------------------------------- formula (A)


def test_exact_ols_linear_in_n_and_broadcasts():
    e = theory.exact_ols_error(50, T=[100, 200], T0=300, n=np.arange(4)[:, None],
                               sigma=0.5, sigma0=1.0)
    assert e.shape == (4, 2)
    clean = 0.25 * 50 / (np.array([100, 200]) - 51)
    delta = 50 / (300 - 51)
    np.testing.assert_allclose(e, clean + np.arange(4)[:, None] * delta, rtol=1e-14)


def test_exact_ols_n0_does_not_need_T0():
    assert theory.exact_ols_error(10, T=20, T0=5, n=0, sigma=1.0, sigma0=1.0) == 10 / 9


# ------------------------------------------------------------------ limits between formulas


def formula_B(s, w0, *, T, T0, n, lam, sigma, sigma0):
    """(B) of the notes written out directly (independent of the (C) recursion)."""
    k = theory.kappa(lam, s, T)
    f2 = theory.df2(k, s)
    a = f2 / T
    bias = k**2 * np.sum(s * w0**2 / (s + k) ** 2) / (1 - a)
    var = sigma**2 * a / (1 - a)
    d = s.size
    delta = sigma0**2 / (T0 - d - 1) * (f2 + k**2 * np.sum(1 / (s + k) ** 2) * a / (1 - a))
    return bias, var, n * delta


@pytest.mark.parametrize("T,lam", [(300, 0.01), (80, 0.001), (80, 0.0), (250, 0.0)])
def test_least_squares_generators_reduce_to_B(T, lam):
    s, w0 = theory.power_law(120, 1.5, 0.7)
    res = theory.test_error(s, w0, T=T, T0=400, n=3, lam=lam, sigma=0.4, sigma0=0.9)
    bias, var, coll = formula_B(s, w0, T=T, T0=400, n=3, lam=lam, sigma=0.4, sigma0=0.9)
    np.testing.assert_allclose([res.bias, res.variance, res.collapse], [bias, var, coll],
                               rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(res.total, res.bias + res.variance + res.collapse, rtol=1e-14)


def test_n_zero_is_classical_ridge_for_any_generator():
    s, w0 = theory.power_law(100, 2.0, 0.5)
    for lam0, T0 in [(0.0, 400), (0.0, 50), (0.3, 80)]:
        res = theory.test_error(s, w0, T=150, T0=T0, n=0, lam=0.02, sigma=0.3, sigma0=1.0,
                                lam0=lam0)
        bias, var, _ = formula_B(s, w0, T=150, T0=400, n=0, lam=0.02, sigma=0.3, sigma0=1.0)
        assert res.collapse == 0.0
        np.testing.assert_allclose([res.bias, res.variance], [bias, var], rtol=1e-10)


def test_B_at_lam_zero_is_A_up_to_the_downstream_constant():
    d, T, T0 = 60, 150, 200
    s, w0 = theory.power_law(d, 1.3, 0.5)
    res = theory.test_error(s, w0, T=T, T0=T0, n=np.arange(5), lam=0.0, sigma=0.7, sigma0=1.2)
    exact = theory.exact_ols_error(d, T=T, T0=T0, n=np.arange(5), sigma=0.7, sigma0=1.2)
    np.testing.assert_allclose(res.bias, 0.0, atol=1e-30)
    # (B) has T - d where the exact inverse-Wishart mean has T - d - 1.
    np.testing.assert_allclose(res.variance * (T - d) / (T - d - 1), 0.49 * d / (T - d - 1))
    np.testing.assert_allclose(res.collapse, exact - 0.49 * d / (T - d - 1), rtol=1e-12,
                               atol=1e-12)


def test_isotropic_overparametrised_generator_shrinks_by_T0_over_d():
    d, T0 = 200, 50
    s, w0 = theory.isotropic(d)
    mom = theory.generator_moments(s, w0, T0=T0, n=[0, 1, 4], sigma0=0.0)
    np.testing.assert_allclose(mom.mean, (T0 / d) ** np.array([[0], [1], [4]]) * w0, rtol=1e-12)


def test_collapse_linear_in_n_for_least_squares_generators():
    s, w0 = theory.power_law(90, 1.5, 0.5)
    res = theory.test_error(s, w0, T=[40, 200], T0=300, n=np.arange(6)[:, None], lam=0.05,
                            sigma=0.5, sigma0=1.0)
    np.testing.assert_allclose(res.collapse, np.arange(6)[:, None] * res.collapse[1], rtol=1e-12)


def test_ridge_generator_mean_is_M0_power_n():
    s, w0 = theory.power_law(100, 1.5, 0.5)
    k0 = theory.kappa(0.2, s, 150)
    mom = theory.generator_moments(s, w0, T0=150, n=[3, 0, 3], sigma0=0.5, lam0=0.2)
    np.testing.assert_allclose(mom.mean[0], (s / (s + k0)) ** 3 * w0, rtol=1e-12)
    np.testing.assert_array_equal(mom.mean[1], w0)
    np.testing.assert_array_equal(mom.var[1], 0.0)
    np.testing.assert_array_equal(mom.var[0], mom.var[2])
    assert np.all(mom.var[0] > 0)


def test_noiseless_overparametrised_collapse_rises_to_signal_geometrically():
    """sigma0 = 0, T0 < d: the error rises to ||w0||_Sigma^2 with the gap shrinking like M0_max^n.

    The gap is dominated by the cross term 2 sum s M w0 a_n, linear in the mean
    a_n = M0^n w0, so its ratio tends to the largest M0 (T0/d when isotropic).
    """
    s, w0 = theory.power_law(150, 1.2, 0.5)
    n = np.array([0, 100, 200, 800, 801, 1600, 1601])
    total = theory.test_error(s, w0, T=300, T0=60, n=n, lam=1e-3, sigma=0.0, sigma0=0.0).total
    gap = np.sum(s * w0**2) - total
    assert np.all(np.diff(total) > 0) and gap[-1] > 0
    m0_max = s[0] / (s[0] + theory.kappa(0.0, s, 60))
    np.testing.assert_allclose([gap[4] / gap[3], gap[6] / gap[5]], m0_max, rtol=1e-3)

    s, w0 = theory.isotropic(200)
    total = theory.test_error(s, w0, T=400, T0=50, n=np.arange(8), lam=1e-3, sigma=0.0,
                              sigma0=0.0).total
    gap = 1.0 - total
    np.testing.assert_allclose(gap[4:] / gap[3:-1], 50 / 200, rtol=1e-3)


def test_mixed_fraction_limits():
    s, w0 = theory.power_law(80, 1.5, 0.5)
    kw = dict(T=120, T0=300, n=4, lam=0.01, sigma=0.5, sigma0=1.0)
    full = theory.test_error(s, w0, **kw)
    clean = theory.test_error(s, w0, **{**kw, "n": 0})
    np.testing.assert_allclose(theory.test_error(s, w0, p=1.0, **kw), full)
    np.testing.assert_allclose(theory.test_error(s, w0, p=0.0, **kw).total, clean.total)
    half = theory.test_error(s, w0, p=0.5, **kw)
    assert clean.total < half.total < full.total


def test_mixed_fraction_floor_p_squared_U():
    """(D): as T grows with lam -> 0 the error stays at p^2 U, not at zero."""
    d, T0, n, p, sigma0 = 50, 200, 3, 0.4, 1.0
    s, w0 = theory.isotropic(d)
    res = theory.test_error(s, w0, T=1e9, T0=T0, n=n, lam=1e-12, sigma=1.0, sigma0=sigma0, p=p)
    U = n * sigma0**2 * d / (T0 - d - 1)
    np.testing.assert_allclose(res.total, p**2 * U, rtol=1e-6)


# ---------------------------------------------------------------- shapes and invariances


def test_grid_is_elementwise_and_float64():
    s, w0 = theory.power_law(70, 1.5, 0.5)
    lam = np.logspace(-3, 0, 3)
    n = np.array([0, 2])[:, None, None]
    T = np.array([30.0, 300.0])[:, None]
    grid = theory.test_error(s, w0, T=T, T0=[[50], [400]], n=n, lam=lam, sigma=0.5, sigma0=1.0,
                             lam0=[[0.1], [0.0]])
    assert grid.total.shape == (2, 2, 3)
    assert grid.total.dtype == np.float64
    for i, j, k in np.ndindex(2, 2, 3):
        one = theory.test_error(s, w0, T=T[j, 0], T0=[50, 400][j],
                                n=n[i, 0, 0], lam=lam[k], sigma=0.5, sigma0=1.0,
                                lam0=[0.1, 0.0][j])
        for a, b in zip(grid, one):
            np.testing.assert_allclose(a[i, j, k], b, rtol=1e-12)
    scalar = theory.test_error(s, w0, T=30, T0=50, n=1, lam=0.1, sigma=0.5, sigma0=1.0)
    assert all(isinstance(x, np.float64) for x in scalar)


def test_invariant_to_teacher_signs_and_joint_permutation():
    rng = np.random.default_rng(3)
    s, w0 = theory.power_law(60, 1.5, 0.5)
    kw = dict(T=[40, 200], T0=[30], n=3, lam=0.01, sigma=0.5, sigma0=0.7, lam0=0.05)
    base = theory.test_error(s, w0, **kw).total
    signs = rng.choice([-1.0, 1.0], size=s.size)
    perm = rng.permutation(s.size)
    np.testing.assert_allclose(theory.test_error(s, w0 * signs, **kw).total, base, rtol=1e-12)
    np.testing.assert_allclose(theory.test_error(s[perm], w0[perm], **kw).total, base, rtol=1e-12)


def test_repeated_eigenvalues_merge_exactly():
    """An isotropic block of size 2k behaves like the same spectrum listed twice."""
    s = np.array([2.0, 1.0, 0.5])
    w0 = np.array([0.3, -0.4, 0.5])
    kw = dict(T=5.0, T0=4.0, n=2, lam=0.1, sigma=0.2, sigma0=0.3, lam0=0.1)
    split = theory.test_error(np.repeat(s, 2), np.repeat(w0, 2) / np.sqrt(2), **kw)
    perturbed = theory.test_error(np.repeat(s, 2) * (1 + 1e-9 * np.tile([0, 1], 3)),
                                  np.repeat(w0, 2) / np.sqrt(2), **kw)
    np.testing.assert_allclose(split, perturbed, rtol=1e-7)


# ------------------------------------------------------------------------------ bad input

S, W = theory.power_law(20, 1.5, 0.5)
OK = dict(T=50, T0=60, n=2, lam=0.1, sigma=0.5, sigma0=1.0)


@pytest.mark.parametrize(
    "eigvals,w0,kw,match",
    [
        (np.r_[S[:-1], 0.0], W, {}, "eigvals must be > 0"),
        (np.r_[S[:-1], -1.0], W, {}, "eigvals must be > 0"),
        (np.r_[S[:-1], np.nan], W, {}, "eigvals must be finite"),
        (np.r_[S[:-1], np.inf], W, {}, "eigvals must be finite"),
        (S[None, :], W, {}, "eigvals must be a non-empty 1-D"),
        (S, W[:-1], {}, "w0 must have the same shape"),
        (S, np.r_[W[:-1], np.nan], {}, "w0 must be finite"),
        (S, W, {"T": 0}, "T must be >= 1"),
        (S, W, {"T0": -3}, "T0 must be >= 1"),
        (S, W, {"n": -1}, "n must be a non-negative integer"),
        (S, W, {"n": 1.5}, "n must be a non-negative integer"),
        (S, W, {"lam": -0.1}, "lam must be >= 0"),
        (S, W, {"lam0": [0.1, -1.0]}, "lam0 must be >= 0"),
        (S, W, {"sigma": -1}, "sigma must be >= 0"),
        (S, W, {"sigma0": -1}, "sigma0 must be >= 0"),
        (S, W, {"sigma": [0.1, 0.2], "n": [1, 2, 3]}, "must broadcast together.*sigma \\(2,\\)"),
        (S, W, {"n": []}, "n is empty"),
        (S, W, {"p": 1.5}, r"p must lie in \[0, 1\]"),
        (S, W, {"p": -0.1}, r"p must lie in \[0, 1\]"),
        (S, W, {"T": 20, "lam": 0.0}, r"lam = 0\) with d - 1 <= T <= d \+ 1 = 21"),
        (S, W, {"T": 19, "lam": 0.0}, r"lam = 0\) with d - 1 <= T <= d \+ 1 = 21"),
        (S, W, {"T": 20, "lam": 0.0, "sigma": 0.0}, "T = d = 20 training rows is singular"),
        (S, W, {"T0": 20.5}, r"T0 outside \[d - 1, d \+ 1\] = \[19, 21\]"),
        (S, W, {"T0": 19}, r"T0 outside \[d - 1, d \+ 1\] = \[19, 21\]"),
        (S, W, {"fresh": 1.5}, r"fresh must lie in \[0, 1\]"),
        (S, W, {"weight": -1.0}, "weight must be >= 0"),
        (S, W, {"weight": np.nan}, "weight must be finite"),
        (S, W, {"weight": np.inf}, "weight must be finite"),
        (S, W, {"mode": "mix"}, "mode must be one of"),
        (S, W, {"mode": "accumulate", "lam0": 0.1}, "accumulate.*covered.*lam0=0.1"),
        (S, W, {"mode": "accumulate", "T0": 8}, "accumulate.*covered.*T0=8"),
        (S, W, {"mode": "accumulate", "T0": 10}, "every generation's j T0 rows"),
        (S, W, {"mode": "accumulate", "fresh": 0.2}, "fresh real rows.*'replace' only"),
        (S, W, {"weight": 0.0, "p": 1.0}, "weight = 0 with every downstream row synthetic"),
    ],
)
def test_bad_input_raises_clear_error(eigvals, w0, kw, match):
    with pytest.raises(ValueError, match=match):
        theory.test_error(eigvals, w0, **{**OK, **kw})


def test_bad_input_type_and_other_functions():
    with pytest.raises(TypeError, match="T must be a number"):
        theory.test_error(S, W, **{**OK, "T": "many"})
    with pytest.raises(ValueError, match="lam must be >= 0"):
        theory.kappa(-1.0, S, 10)
    with pytest.raises(ValueError, match="kappa must be >= 0"):
        theory.df1(-1.0, S)
    with pytest.raises(ValueError, match="T > d \\+ 1 = 21.*use test_error with a ridge"):
        theory.exact_ols_error(20, T=21, T0=100, n=1, sigma=1.0, sigma0=1.0)
    with pytest.raises(ValueError, match="T0 > d \\+ 1 = 21 for n > 0"):
        theory.exact_ols_error(20, T=100, T0=21, n=1, sigma=1.0, sigma0=1.0)
    with pytest.raises(ValueError, match="d must be an integer >= 1"):
        theory.exact_ols_error(0, T=100, T0=100, n=1, sigma=1.0, sigma0=1.0)
    with pytest.raises(ValueError, match="beta must be > 0"):
        theory.power_law(10, -1.0, 0.5)


def test_mixed_and_regime_checks_only_apply_where_generators_are_used():
    # n = 0: the generator settings are never read.
    res = theory.test_error(S, W, **{**OK, "n": 0, "T0": 20.5, "p": 0.3, "lam0": 0.0})
    assert np.isfinite(res.total)


# ------------------------------------------------------ fast paths: tabulated kappa, blocks

RNG_SPECTRUM = 10 ** np.random.default_rng(5).uniform(-8, 2, 400)
GRID_SPECTRA = [theory.isotropic(300)[0], theory.power_law(500, 1.1, 0.5)[0],
                theory.power_law(500, 3.0, 0.5)[0], RNG_SPECTRUM]


def lam_T_grid(d, n_lam=25, n_T=20):
    """Flat (lam, T) pairs with lam = 0 and T on both sides of d, never T = d."""
    lam = np.r_[0.0, np.logspace(-9, 2, n_lam - 1)]
    T = np.r_[np.geomspace(d / 20, 0.9 * d, n_T // 2), np.geomspace(1.1 * d, 50 * d, n_T // 2)]
    L, TT = np.meshgrid(lam, T, indexing="ij")
    return L.ravel(), TT.ravel()


@pytest.mark.parametrize("s", GRID_SPECTRA, ids=["isotropic", "beta1.1", "beta3", "random"])
def test_tabulated_kappa_matches_plain_newton(s, monkeypatch):
    spec = _spectral.compress(s)
    lam, T = lam_T_grid(s.size)  # 500 points: tabulated start
    fast = _spectral.kappa(lam, T, spec)
    monkeypatch.setattr(_spectral, "_TABULATE_MIN_POINTS", 10**9)
    plain = _spectral.kappa(lam, T, spec)
    assert fast.dtype == np.float64
    np.testing.assert_array_equal(fast == 0, (lam == 0) & (T >= s.size))
    np.testing.assert_allclose(fast, plain, rtol=1e-12, atol=0)
    pos = fast > 0
    res = fast - lam - fast * _spectral.df1(fast, spec) / T
    assert np.all(np.abs(res[pos]) <= 1e-10 * fast[pos])


def test_cubic_start_leaves_one_newton_pass(monkeypatch):
    """Hermite start within 1e-8 of the root: Newton passes once over every point, no more."""
    s, _ = theory.power_law(2000, 1.5, 0.5)
    spec = _spectral.compress(s)
    lam, T = (x.ravel() for x in np.meshgrid(np.logspace(-4, 1, 40), np.geomspace(200, 2e4, 40)))
    sizes = []
    dof = _spectral.degrees_of_freedom
    monkeypatch.setattr(_spectral, "degrees_of_freedom", lambda k, sp: sizes.append(k.size)
                        or dof(k, sp))
    k = _spectral.kappa(lam, T, spec)
    assert sizes[1:] == [lam.size]  # the table, then one pass over all points
    assert sizes[0] < lam.size / 4
    res = k - lam - k * _spectral.df1(k, spec) / T
    assert np.all(np.abs(res) <= 1e-10 * k)


def test_grid_matches_direct_formula_B():
    """A grid big enough for the tabulated kappa and several blocks against (B) written out."""
    s, w0 = theory.power_law(400, 1.5, 0.7)
    lam = np.r_[0.0, np.logspace(-4, 1, 19)]
    T = np.r_[np.geomspace(40, 360, 7), np.geomspace(440, 4000, 7)]
    res = theory.test_error(s, w0, T=T, T0=900, n=3, lam=lam[:, None], sigma=0.4, sigma0=0.9)
    for i, j in [(0, 0), (0, 13), (1, 6), (7, 7), (19, 0), (19, 13), (12, 3)]:
        bias, var, coll = formula_B(s, w0, T=T[j], T0=900, n=3, lam=lam[i], sigma=0.4,
                                    sigma0=0.9)
        np.testing.assert_allclose([res.bias[i, j], res.variance[i, j], res.collapse[i, j]],
                                   [bias, var, coll], rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("block", [1, 1000, 1 << 22])
def test_blocks_and_product_paths_agree(block, monkeypatch):
    """Block size (one point per block up to one block) and the gemm/einsum pair paths."""
    s, w0 = theory.power_law(150, 1.5, 0.5)
    kw = dict(T=np.geomspace(20, 2000, 24), T0=np.array([60.0, 400.0])[:, None, None],
              n=np.array([0, 1, 4])[:, None, None, None], lam=np.logspace(-5, 1, 15)[:, None],
              lam0=np.array([0.05, 0.0])[:, None, None], sigma=0.5, sigma0=0.8)
    want = theory.test_error(s, w0, **kw)
    monkeypatch.setattr(_spectral, "BLOCK_ELEMENTS", block)
    got = theory.test_error(s, w0, **kw)
    monkeypatch.setattr(_error, "FEW_GENERATOR_ROWS", 0)  # one dot product per pair
    per_pair = theory.test_error(s, w0, **kw)
    for a, b, c in zip(want, got, per_pair):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(c, a, rtol=1e-12, atol=1e-300)
    assert np.all(want.collapse[1:] != 0)


def test_thin_products_equal_matrix_product():
    rng = np.random.default_rng(0)
    a = rng.random((7, 300))
    for k in range(1, 6):
        w = rng.random((k, 300))
        np.testing.assert_allclose(_spectral.products(a, w), a @ w.T, rtol=1e-13)


def test_float32_input_is_computed_in_float64():
    s, w0 = theory.power_law(300, 1.5, 0.5)
    s32, w32 = s.astype(np.float32), w0.astype(np.float32)
    lam32 = np.logspace(-3, 0, 20, dtype=np.float32)[:, None]
    kw = dict(T=np.arange(100.0, 700.0, 40.0), T0=1000, n=2, sigma=0.5, sigma0=1.0)
    got = theory.test_error(s32, w32, lam=lam32, **kw)
    want = theory.test_error(s32.astype(float), w32.astype(float), lam=lam32.astype(float), **kw)
    for a, b in zip(got, want):
        assert a.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=1e-13)
    k = theory.kappa(lam32, s32, kw["T"])
    assert k.dtype == np.float64
    np.testing.assert_allclose(k, theory.kappa(lam32.astype(float), s32.astype(float), kw["T"]),
                               rtol=1e-14)


# ---------------------------------------------------------------------------- problems/CLI


def test_problem_builders_normalisation():
    s, w0 = theory.isotropic(40, norm=2.0)
    assert np.sum(s * w0**2) == pytest.approx(2.0)
    s, w0 = theory.power_law(200000, 2.0, 0.5)
    assert np.all(np.diff(s) < 0)
    assert np.sum(s * w0**2) == pytest.approx(1.0, rel=1e-5)
    small = theory.power_law(10, 2.0, 0.5)
    np.testing.assert_array_equal(small.w0, w0[:10])  # teacher independent of d


def test_cli_theory_json_matches_library(capsys):
    code = cli_main(["theory", "--spectrum", "power_law", "--d", "50", "--n", "0,3",
                     "--lam", "0.01,0.1", "--json"])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert len(rows) == 4
    s, w0 = theory.power_law(50, 2.0, 0.5)
    for row in rows:
        want = theory.test_error(s, w0, T=row["T"], T0=row["T0"], n=row["n"], lam=row["lam"],
                                 sigma=0.5, sigma0=1.0)
        assert row["total"] == pytest.approx(want.total, rel=1e-12)


def test_cli_theory_table_and_npy_input(tmp_path, capsys):
    s, w0 = theory.power_law(30, 1.5, 0.5)
    np.save(tmp_path / "s.npy", s)
    np.save(tmp_path / "w.npy", w0)
    code = cli_main(["theory", "--eigvals", str(tmp_path / "s.npy"), "--w0",
                     str(tmp_path / "w.npy"), "--n", "1"])
    out = capsys.readouterr().out
    assert code == 0 and "collapse" in out and "d=30" in out


def test_cli_theory_bad_input_is_one_line_error(capsys):
    assert cli_main(["theory", "--d", "100", "--T", "100", "--lam", "0"]) == 2
    err = capsys.readouterr().err
    assert "lam = 0" in err and "Traceback" not in err


def test_sizes_are_real_numbers_of_rows_at_least_one():
    """The theory takes real sizes (simulate integers) and refuses sizes below one row:
    T = 1e-9 and T0 = 0.5 returned numbers that describe no data set."""
    from kernelcollapse import exact_ols_error

    base = dict(T=100, T0=200, n=2, lam=1e-2, sigma=0.5, sigma0=1.0)
    for bad, value in (("T", 1e-9), ("T0", 0.5), ("T", [100, 0.99])):
        with pytest.raises(ValueError, match=rf"^{bad} must be >= 1 \(a number of rows; the "
                           rf"theory takes real sizes, simulate integers\), got "):
            theory.test_error(S, W, **{**base, bad: value})
    with pytest.raises(ValueError, match="T0 must be >= 1"):
        theory.collapse_limit(S, W, T0=0.5, sigma0=1.0)
    with pytest.raises(ValueError, match="T0 must be >= 1"):
        exact_ols_error(20, T=100, T0=0.5, n=1, sigma=0.5, sigma0=1.0)
    # a real size lies between its integer neighbours (the error falls with T here)
    e = [float(theory.test_error(S, W, **{**base, "T": t}).total) for t in (100, 100.5, 101)]
    assert e[0] > e[1] > e[2]
    assert np.isfinite(float(theory.test_error(S, W, **{**base, "T": 1.0, "T0": 1.0}).total))


def test_tiny_penalties_compute_without_warnings():
    """lam = 1e-300 printed divide-by-zero warnings (the bracket's midpoint underflowed to 0)
    and now gives the limit lam -> 0, one point or many (the tabulated start), below d and
    above."""
    import warnings

    e, w = theory.power_law(100, 1.5, 0.5)
    tiny = np.array([5e-324, 1e-300, 1e-200, 1e-100])
    base = dict(T0=400, n=2, sigma=0.5, sigma0=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for T, ref_lam in ((200, 0.0), (50, 1e-30)):
            ref = float(theory.test_error(e, w, T=T, lam=ref_lam, **base).total)
            for lam in tiny:
                got = float(theory.test_error(e, w, T=T, lam=lam, **base).total)
                assert got == pytest.approx(ref, rel=1e-12), (T, lam)
            many = theory.test_error(e, w, T=T, lam=np.geomspace(1e-300, 1e-280, 40), **base)
            np.testing.assert_allclose(many.total, ref, rtol=1e-12)
        assert theory.kappa(1e-300, e, 500) == pytest.approx(1e-300 * 500 / 400, rel=1e-12)
        assert 0 < theory.kappa(1e-300, e, 50) < 1
        theory.test_error(e, w, T=50, lam=1e-300, lam0=1e-300, **base)


def test_cli_tiny_penalty_prints_no_warning():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "kernelcollapse", "theory", "--spectrum",
                           "power_law", "--d", "100", "--T", "50,200", "--T0", "400", "--n",
                           "0,2", "--lam", "1e-300"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stderr == "" and "1e-300" in proc.stdout
