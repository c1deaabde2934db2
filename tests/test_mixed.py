"""Mixed real and synthetic data as it is really mixed: accumulate, fresh real rows per
generation, mixed labels with any generator, weighted synthetic rows.

Every formula against the simulator, the exact ones against their closed forms, the limits
between the workflows, the n -> infinity limit, the joint optimum of (lam, weight), and bad
input.

Tolerances against simulation: ``|sim - theory| <= K * stderr + allowance * theory``.
K = 4 keeps the false-alarm rate below 1e-4 per point.  The allowance is 0 for the exact
least-squares formulas (accumulate, fresh data: both sides are the same finite process) and
``3 / d`` for the deterministic equivalents, whose finite-size corrections are relative O(1/d)
(the theory records 1-2% at d ~ 100; tests/test_simulator.py uses 3% at d = 100, so 6% at
d = 50).
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
from _tolerance import check_against_theory

from kernelcollapse import theory
from kernelcollapse.simulator import simulate
from kernelcollapse.theory import _optimize as optimize
from kernelcollapse.theory import isotropic, power_law
from kernelcollapse.theory._chain import fresh_contraction

K = 4.0
D = 50
S, W = power_law(D, 1.0, 0.5)
ALLOW_DE = 3.0 / D
NOISE = dict(sigma=0.5, sigma0=0.5)


def _check(sim, th, allow):
    check_against_theory(sim, th, k=K, allow=allow)


# ---------------------------------------------------------------------------------------------
# Exact least-squares formulas (allowance 0)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [
    dict(mode="accumulate", T0=80),
    dict(fresh=0.25, T0=80),  # 20 real rows per generation: bounded (r < 1)
    dict(fresh=0.1, T0=60),  # 6 real rows: r > 1 at T0 = 1.2 d, still growing
], ids=["accumulate", "fresh-bounded", "fresh-growing"])
def test_exact_least_squares_chains_against_simulation(kw):
    n = np.array([1, 10, 50])
    args = dict(T=120, n=n, lam=0.0, **NOISE, **kw)
    sim = simulate(S, W, seeds=300, key=zlib.crc32(repr(sorted(kw.items())).encode()), **args)
    exact = theory.exact_ols_error(D, T=120, T0=kw["T0"], n=n, sigma=0.5, sigma0=0.5,
                                   mode=kw.get("mode", "replace"), fresh=kw.get("fresh", 0.0))
    _check(sim, exact, 0.0)


def test_exact_formulas_against_their_closed_forms():
    d, T0 = 50, 80
    n = np.arange(0, 60)
    # Accumulate: the sum of 1/(j (j T0 - d - 1)), written out.
    h = np.array([sum(1.0 / (j * (j * T0 - d - 1)) for j in range(1, k + 1)) for k in n])
    got = theory.exact_ols_error(d, T=200, T0=T0, n=n, sigma=0.0, sigma0=1.0, mode="accumulate")
    np.testing.assert_allclose(got, d * h, rtol=1e-12)
    # ... below pi^2/6 times one generation's d / (T0 - d - 1), whatever n; the limit is the
    # digamma closed form (psi(1) - psi(1 - (d+1)/T0)) / (d+1): the series summed to N = 1e6
    # plus its tail, sum_{j>N} 1/(j (j T0 - d - 1)) = 1/(T0 N) + O(1/N^2).
    one = d / (T0 - d - 1)
    assert np.all(got <= math.pi**2 / 6 * one)
    N = 10**6
    far = theory.exact_ols_error(d, T=200, T0=T0, n=N, sigma=0.0, sigma0=1.0, mode="accumulate")
    lim = theory.collapse_limit(*isotropic(d), T0=T0, sigma0=1.0, mode="accumulate")
    np.testing.assert_allclose(lim.generator_error, far + d / (T0 * N), rtol=1e-10)
    assert not math.isfinite(lim.contraction) and math.isnan(lim.min_fresh) and lim.bounded
    # Fresh data: the geometric sum of the contraction r, iterated.
    r = fresh_contraction(d, T0, 0.25)
    v, it = 0.0, []
    for _ in n:
        it.append(v)
        v = r * v + 1.0 / (T0 - d - 1)
    got = theory.exact_ols_error(d, T=200, T0=T0, n=n, sigma=0.0, sigma0=1.0, fresh=0.25)
    np.testing.assert_allclose(got, d * np.array(it), rtol=1e-12)
    # The contraction: 1 with no fresh rows, 0 with only fresh rows, and E tr(P P')/d of the
    # exact formula against its pieces for one real row (m = T0 - 1).
    assert fresh_contraction(d, T0, 0.0) == pytest.approx(1.0, rel=1e-14)
    assert fresh_contraction(d, T0, 1.0) == 0.0


def test_fresh_contraction_against_monte_carlo_of_the_projection():
    """``r = E tr(P P')/d``, ``P = (Z'Z)^{-1} Z_s'Z_s``: the exact Wishart computation against
    a direct Monte-Carlo of the matrix (independent of the simulator)."""
    rng = np.random.default_rng(0)
    d, T0, m = 20, 40, 25
    vals = []
    for _ in range(4000):
        Z = rng.standard_normal((T0, d))
        P = np.linalg.solve(Z.T @ Z, Z[:m].T @ Z[:m])
        vals.append(np.sum(P * P) / d)
    vals = np.array(vals)
    r = fresh_contraction(d, T0, 1 - m / T0)
    assert abs(vals.mean() - r) < K * vals.std(ddof=1) / math.sqrt(vals.size)


# ---------------------------------------------------------------------------------------------
# Deterministic equivalents against simulation (allowance 3/d)
# ---------------------------------------------------------------------------------------------

DE_CASES = {
    # accumulating least-squares generators, ridge downstream with T < d
    "accumulate-ridge-downstream": dict(T=40, T0=80, lam=0.05, mode="accumulate"),
    # fresh real rows with ridge generators, T0 above and below d; least squares below d
    "fresh-ridge-T0>d": dict(T=80, T0=80, lam=0.05, lam0=0.05, fresh=0.3),
    "fresh-ridge-T0<d": dict(T=80, T0=30, lam=0.05, lam0=0.02, fresh=0.5),
    "fresh-LS-T0<d": dict(T=80, T0=30, lam=0.05, fresh=0.5),
    # a mixed fraction p with ridge and over-parametrised generators, several p at once
    "mixed-ridge-T0<d": dict(T=80, T0=30, lam=0.05, lam0=0.02, p=np.array([[0.3], [0.7]])),
    "mixed-LS-T0<d": dict(T=80, T0=30, lam=0.05, p=np.array([[0.3], [0.7]])),
    # weighted synthetic rows, several weights at once, least-squares and ridge generators
    "weighted-LS": dict(T=100, T0=80, lam=0.02, p=0.5, weight=np.array([[0.3], [1.0], [2.0]])),
    "weighted-ridge": dict(T=100, T0=80, lam=0.02, lam0=0.05, p=0.5,
                           weight=np.array([[0.0], [0.5]])),
    "weighted-T<d": dict(T=40, T0=80, lam=0.02, p=0.5, weight=np.array([[0.2], [3.0]])),
    # weighted least squares downstream (lam = 0), above d and interpolating below it
    "weighted-LS-downstream": dict(T=100, T0=80, lam=0.0, p=0.5,
                                   weight=np.array([[0.3], [2.0]])),
    "weighted-interpolation": dict(T=40, T0=80, lam=0.0, p=0.5, weight=np.array([[0.3], [2.0]])),
}


@pytest.mark.parametrize("name", list(DE_CASES))
def test_deterministic_equivalents_against_simulation(name):
    kw = {**DE_CASES[name], **NOISE}
    n = np.array([2, 20])
    sim = simulate(S, W, n=n, seeds=250, key=sum(map(ord, name)), **kw)
    th = theory.test_error(S, W, n=n, **kw).total
    _check(sim, th, ALLOW_DE)


def test_dropping_synthetic_rows_with_least_squares_downstream():
    """weight = 0, lam = 0: least squares on the 75 real rows of 150 (d = 50), exact in law;
    the theory's deterministic equivalent has the usual d/(T-d) for d/(T-d-1)."""
    kw = dict(T=150, T0=80, lam=0.0, p=0.5, weight=0.0, **NOISE)
    sim = simulate(S, W, n=[1, 5], seeds=400, key=3, **kw)
    np.testing.assert_array_equal(sim.errors[0], sim.errors[1])  # the chain is not used
    exact = 0.5**2 * D / (75 - D - 1)
    _check(sim, [exact, exact], 0.0)


def test_weighting_lowers_the_floor_of_mixed_data():
    """(D)'s floor p^2 U (T -> infinity, lam -> 0, least-squares generators) with weighted
    synthetic rows: delta_* -> 0, so theta -> 1 - p + p w, M -> 1 and the synthetic rows' gain
    g -> w / (1 - p + p w); what is left is the shift (p g)^2 U.  Dropping them removes it."""
    d, T0, n, sigma0 = D, 200, 3, 1.0
    U = n * sigma0**2 * d / (T0 - d - 1)
    p, w = np.array([[0.3], [0.6]]), np.array([0.0, 0.3, 1.0, 2.5])
    got = theory.test_error(S, W, T=1e10, T0=T0, n=n, lam=1e-13, sigma=0.5, sigma0=sigma0,
                            p=p, weight=w).total
    g = w / (1 - p + p * w)
    # the clean error left at T = 1e10 is ~ sigma^2 d / T = 1e-9, below the tolerance
    np.testing.assert_allclose(got, (p * g) ** 2 * U, rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------------------------------------
# Limits between the workflows
# ---------------------------------------------------------------------------------------------

LIMIT_KW = dict(T=np.array([[40.0], [120.0]]), n=np.array([0, 1, 3, 12]), lam=0.05, **NOISE)


@pytest.mark.parametrize("gen", [dict(T0=80), dict(T0=30, lam0=0.02), dict(T0=80, lam0=0.1)])
def test_workflow_limits_in_theory(gen):
    kw = {**LIMIT_KW, **gen}
    plain = theory.test_error(S, W, **kw)
    # fresh = 0 is replace; weight = 1 is the unweighted model
    np.testing.assert_allclose(theory.test_error(S, W, fresh=0.0, weight=1.0, **kw), plain,
                               rtol=1e-13)
    # fresh = 1: every generation is a fit on real data, so every n >= 1 is generation 1
    every = theory.test_error(S, W, fresh=1.0, **kw).total
    np.testing.assert_allclose(every[:, 1:], np.broadcast_to(every[:, 1:2], every[:, 1:].shape),
                               rtol=1e-13)
    # weight = 0 with p < 1 is training on the real rows alone: (1-p) T rows, lam / (1-p)
    p = 0.4
    dropped = theory.test_error(S, W, p=p, weight=0.0, **kw).total
    alone = theory.test_error(S, W, **{**kw, "T": (1 - p) * kw["T"], "lam": 0.05 / (1 - p),
                                       "n": 0}).total
    np.testing.assert_allclose(dropped, np.broadcast_to(alone, dropped.shape), rtol=1e-10)
    # p = 0 or n = 0: no synthetic label reaches the fit, whatever the weight and workflow
    np.testing.assert_allclose(theory.test_error(S, W, p=0.0, weight=0.3, fresh=0.5, **kw).total,
                               np.broadcast_to(plain.total[:, :1], plain.total.shape),
                               rtol=1e-12)
    # accumulate equals replace for n <= 1 (ridge generators: only there is it covered)
    small = {**kw, "n": np.array([0, 1])}
    np.testing.assert_allclose(theory.test_error(S, W, mode="accumulate", **small).total,
                               theory.test_error(S, W, **small).total, rtol=1e-13)


def test_workflow_limits_in_simulation():
    base = dict(T=30, T0=40, lam=0.1, sigma=0.5, sigma0=0.7, seeds=4, key=2, sampler="rows")
    s, w = power_law(12, 1.0, 0.5)
    n = np.array([0, 1, 3])
    plain = simulate(s, w, n=n, **base)
    # fresh = 0 and weight = 1 are the plain process, draw for draw
    np.testing.assert_array_equal(simulate(s, w, n=n, fresh=0.0, weight=1.0, **base).errors,
                                  plain.errors)
    # accumulate equals replace for n <= 1 (the same fit, summed in another order)
    acc = simulate(s, w, n=n[:2], mode="accumulate", **base)
    np.testing.assert_allclose(acc.errors, plain.errors[:2], rtol=1e-10)
    # weight 0: the synthetic rows are dropped, so n does not matter
    drop = simulate(s, w, n=n, p=0.5, weight=0.0, **base)
    np.testing.assert_allclose(drop.errors, np.broadcast_to(drop.errors[:1], (3, 4)), rtol=1e-12)
    # the numpy reference agrees on fresh rows and weights (same draws)
    for kw in (dict(fresh=0.5, lam0=0.05), dict(p=0.5, weight=0.4), dict(p=0.5, weight=0.0)):
        a = simulate(s, w, n=n, **{**base, **kw})
        b = simulate(s, w, n=n, backend="numpy", **{k: x for k, x in {**base, **kw}.items()
                                                      if k != "sampler"})
        np.testing.assert_allclose(a.errors, b.errors, rtol=1e-8)


# ---------------------------------------------------------------------------------------------
# n -> infinity
# ---------------------------------------------------------------------------------------------

def test_collapse_limit_matches_long_chains():
    prob = theory.prepare(S, W)
    # exact least squares with fresh rows: r < 1, the limit is the geometric series
    lim = prob.collapse_limit(T0=80, sigma0=0.5, fresh=0.25, T=120, lam=0.05, sigma=0.5)
    far = prob.test_error(T=120, T0=80, n=5000, lam=0.05, sigma=0.5, sigma0=0.5, fresh=0.25)
    assert lim.bounded and lim.contraction < 1
    np.testing.assert_allclose(lim.error, far.total, rtol=1e-10)
    # ridge generators with fresh rows: the fixed point of the chain's affine map
    lim = prob.collapse_limit(T0=30, lam0=0.02, sigma0=0.5, fresh=0.3, T=80, lam=0.05,
                              sigma=0.5)
    far = prob.test_error(T=80, T0=30, n=3000, lam=0.05, lam0=0.02, sigma=0.5, sigma0=0.5,
                          fresh=0.3)
    np.testing.assert_allclose(lim.error, far.total, rtol=1e-8)
    # replace without fresh rows, least squares: unbounded, and small fresh fractions are not
    # enough when T0 is close to d: the threshold min_fresh has contraction 1
    lim = prob.collapse_limit(T0=60, sigma0=0.5, T=80, lam=0.05, sigma=0.5)
    assert not lim.bounded and lim.error == np.inf and lim.min_fresh > 0.05
    at = prob.collapse_limit(T0=60, sigma0=0.5, fresh=lim.min_fresh)
    assert at.contraction == pytest.approx(1.0, abs=1e-9)
    above = prob.collapse_limit(T0=60, sigma0=0.5, fresh=lim.min_fresh + 0.01)
    assert above.bounded and above.contraction < 1
    # with plenty of rows, any fresh fraction keeps it bounded
    assert prob.collapse_limit(T0=400, sigma0=0.5).min_fresh == 0.0


def test_collapse_limit_against_simulation():
    """At n = 60 a chain with fresh rows (r = 0.58 per generation) is at its limit to 1e-14;
    the simulated error there against the exact limit (least squares downstream, exact)."""
    kw = dict(T=120, T0=80, fresh=0.5, **NOISE)
    sim = simulate(S, W, n=60, lam=0.0, seeds=400, key=8, **kw)
    lim = theory.collapse_limit(S, W, T0=80, sigma0=0.5, fresh=0.5)
    exact = 0.5**2 * D / (120 - D - 1) + lim.generator_error
    _check(sim, exact, 0.0)


# ---------------------------------------------------------------------------------------------
# How much to trust synthetic rows: the joint optimum of (lam, weight)
# ---------------------------------------------------------------------------------------------

def test_optimal_weight_beats_a_dense_grid_and_the_corners():
    kw = dict(T=100, T0=60, sigma=0.5, sigma0=1.0, p=0.5)
    n = np.array([1, 3, 10])
    res = optimize.optimal_weight(S, W, n=n, **kw)
    weights = np.r_[0.0, np.linspace(0.01, 3.0, 300)]
    lams = np.logspace(-4, 1, 400)
    dense = theory.test_error(S, W, n=n[:, None, None], weight=weights[:, None],
                              lam=lams, **kw).total.min(axis=(1, 2))
    assert np.all(res.error <= dense * (1 + 1e-9))
    assert np.all(res.error <= res.error_unweighted) and np.all(res.error <= res.error_dropped)
    again = theory.test_error(S, W, n=n, lam=res.lam, weight=res.weight, **kw).total
    np.testing.assert_allclose(res.error, again, rtol=1e-10)
    # the later the generation, the less the synthetic rows are worth
    assert np.all(np.diff(res.weight) < 0) and not res.at_upper.any()
    # p = 1: a common weight is a rescaled penalty; reported as 1, no "dropped" corner
    one = optimize.optimal_weight(S, W, n=3, **{**kw, "p": 1.0})
    assert one.weight == 1.0 and math.isnan(one.error_dropped)
    np.testing.assert_allclose(one.error, one.error_unweighted, rtol=1e-12)


def test_optimal_weight_gain_confirmed_by_simulation():
    """Common random numbers: every (lam, weight) sees the same chains and rows; the paired
    gain of the optimal weight over counting synthetic rows like real ones is positive and of
    the predicted size (allowance 3/d of the larger error)."""
    kw = dict(T=100, T0=60, sigma=0.5, sigma0=1.0, p=0.5)
    res = optimize.optimal_weight(S, W, n=10, **kw)
    lam = np.array([float(res.lam), float(res.lam_unweighted)])
    weight = np.array([float(res.weight), 1.0])
    sim = simulate(S, W, n=10, lam=lam, weight=weight, seeds=200, key=5, **kw)
    diff = sim.errors[1] - sim.errors[0]
    gain, se = diff.mean(), diff.std(ddof=1) / math.sqrt(diff.size)
    predicted = float(res.error_unweighted - res.error)
    assert gain > 3 * se
    assert abs(gain - predicted) <= K * se + ALLOW_DE * float(res.error_unweighted)


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------

OK = dict(T=100, T0=80, n=2, lam=0.1, sigma=0.5, sigma0=0.5)


@pytest.mark.parametrize("kw, match", [
    (dict(fresh=1.5), r"fresh must lie in \[0, 1\], got 1.5"),
    (dict(fresh=-0.1), r"fresh must lie in \[0, 1\]"),
    (dict(p=2.0), r"p must lie in \[0, 1\], got 2"),
    (dict(weight=-0.5), "weight must be >= 0, got -0.5"),
    (dict(weight=np.nan), "weight must be finite"),
    (dict(weight=-np.inf), "weight must be finite"),
    (dict(mode="sometimes"), "mode must be one of"),
    (dict(mode="accumulate", lam0=0.1), "accumulate.*covered.*lam0=0.1"),
    (dict(mode="accumulate", fresh=0.2), "fresh real rows.*'replace' only"),
    (dict(p=1.0, weight=0.0), "weight = 0 with every downstream row synthetic"),
])
def test_bad_input_names_argument_value_and_range(kw, match):
    with pytest.raises(ValueError, match=match):
        theory.test_error(S, W, **{**OK, **kw})
    if "covered" not in match:  # the simulator refuses the same inputs, with the same message
        with pytest.raises(ValueError, match=match):
            simulate(S, W, seeds=2, **{**OK, **kw})


def test_bad_input_of_the_limit_and_the_weight_search():
    with pytest.raises(ValueError, match="give both T and lam"):
        theory.collapse_limit(S, W, T0=80, sigma0=0.5, T=100)
    with pytest.raises(ValueError, match="accumulate.*covered"):
        theory.collapse_limit(S, W, T0=30, sigma0=0.5, mode="accumulate")
    with pytest.raises(ValueError, match="max_weight must be > 0.001"):
        optimize.optimal_weight(S, W, T=100, T0=80, n=2, sigma=0.5, sigma0=0.5, p=0.5,
                                max_weight=1e-4)


def test_min_fresh_is_the_threshold_consistent_with_bounded():
    """``bounded`` at a fraction q holds exactly when q >= min_fresh, but for q = 0 with
    min_fresh = 0 where the chain needs fresh rows: any positive fraction bounds it there
    (least squares, r(0) = 1), none does not."""
    prob = theory.prepare(S, W)
    for kw in (dict(T0=400), dict(T0=60), dict(T0=30, lam0=0.02)):
        lim = prob.collapse_limit(sigma0=0.5, **kw)
        threshold = lim.min_fresh
        for q in (0.0, threshold, threshold + 1e-6, threshold + 0.01, 0.5):
            if q > 1:
                continue
            at = prob.collapse_limit(sigma0=0.5, fresh=q, **kw)
            assert at.min_fresh == pytest.approx(threshold, abs=1e-9)  # whatever q is
            expected = q >= threshold and (q > 0 or lim.bounded)
            assert at.bounded == expected, (kw, q, threshold, at)
    ls = prob.collapse_limit(T0=400, sigma0=0.5)
    assert ls.min_fresh == 0.0 and not ls.bounded and ls.contraction == 1.0
    assert prob.collapse_limit(T0=400, sigma0=0.5, fresh=1e-9).bounded
