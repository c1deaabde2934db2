"""Wright–Fisher (discrete distribution refitted on its own samples): theory vs simulation.

Tolerances are ``K_SE * stderr + allowance``; K_SE = 4 keeps the family-wise false
alarm rate small across the few dozen comparisons below.  Exact formulas get no
allowance beyond the Monte-Carlo error; diffusion approximations are checked by their
convergence in ``N`` (their error must shrink like 1/N), not by a typed-in tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest

from kernelcollapse.zoo import discrete as wf

K_SE = 4.0


def _binomial_se(p, seeds):
    # Standard error of a frequency estimated from `seeds` chains; the 1/seeds floor
    # covers p = 0 or 1 where the plug-in error is 0.
    return np.sqrt(np.asarray(p) * (1 - np.asarray(p)) / seeds) + 1.0 / seeds


@pytest.fixture(scope="module")
def small_chain():
    # N = 10, K = 3: fixation takes ~13 generations on average; after 300 generations
    # P(still polymorphic) < 1e-12 (the polymorphic part of the chain decays like
    # (1 - 1/N)^n ~ 1e-14 at n = 300), so every chain is absorbed.
    return wf.simulate_discrete([0.6, 0.3, 0.1], N=10, generations=300, seeds=20000, key=11,
                                record_every=300, progress=False)


def test_fixation_probability_equals_initial_frequency(small_chain):
    assert np.all(small_chain.fixation_time >= 0)
    final = small_chain.frequencies[-1]
    fixed = (final == 1.0).mean(axis=0)
    theory = wf.fixation_probability([0.6, 0.3, 0.1])
    np.testing.assert_allclose(theory, [0.6, 0.3, 0.1])
    assert np.all(np.abs(fixed - theory) <= K_SE * _binomial_se(theory, final.shape[0]))


def test_mean_fixation_time_exact_matches_simulation(small_chain):
    t = small_chain.fixation_time
    exact = wf.mean_fixation_time([0.6, 0.3, 0.1], N=10, method="exact")
    assert abs(t.mean() - exact) <= K_SE * t.std(ddof=1) / np.sqrt(t.size)


def test_mean_loss_time_exact_matches_simulation(small_chain):
    ext = small_chain.extinction_time[:, 2]
    lost = ext[ext >= 0]
    exact = wf.mean_loss_time(0.1, N=10, method="exact")
    assert abs(lost.mean() - exact) <= K_SE * lost.std(ddof=1) / np.sqrt(lost.size)


def test_homozygosity_matches_exact_formula():
    p0 = np.array([0.4, 0.25, 0.2, 0.1, 0.05])
    chain = wf.simulate_discrete(p0, N=50, generations=60, seeds=4000, key=3,
                                 record_every=60, progress=False)
    n = np.array([0, 1, 5, 20, 60])
    theory = wf.expected_homozygosity(p0, N=50, n=n)
    assert theory[0] == pytest.approx(np.sum(p0**2))
    sim = chain.homozygosity[n]
    se = sim.std(axis=1, ddof=1) / np.sqrt(sim.shape[1])
    assert np.all(np.abs(sim.mean(axis=1) - theory) <= K_SE * se + 1e-12)


def test_seddik_collision_probability_matches_simulation():
    """Seddik et al.'s E[S_m] = 1 - (1 - 1/N)^m (1 - S_0) against the simulator (4 stderr)
    and, algebraically, the homozygosity law."""
    p0 = np.array([0.7, 0.1, 0.1, 0.05, 0.05])
    N, m = 30, np.array([0, 1, 3, 10, 40])
    chain = wf.simulate_discrete(p0, N=N, generations=40, seeds=6000, key=17,
                                 record_every=40, progress=False)
    seddik = wf.collision_probability(p0, N=N, m=m)
    assert seddik[0] == pytest.approx(0.515)
    assert seddik[1] == pytest.approx(1 - (29 / 30) * 0.485)
    sim = chain.homozygosity[m]
    se = sim.std(axis=1, ddof=1) / np.sqrt(sim.shape[1])
    assert np.all(np.abs(sim.mean(axis=1) - seddik) <= K_SE * se + 1e-12)
    np.testing.assert_allclose(seddik, wf.expected_homozygosity(p0, N=N, n=m), rtol=1e-14)
    with pytest.raises(ValueError, match="m must be non-negative integers"):
        wf.collision_probability(p0, N=N, m=-1)


def test_loss_probability_exact_matches_simulation():
    p0 = np.array([0.6, 0.2, 0.1, 0.05, 0.03, 0.02])
    N, seeds = 100, 4000
    chain = wf.simulate_discrete(p0, N=N, generations=150, seeds=seeds, key=5,
                                 record_every=150, progress=False)
    n = np.array([1, 3, 10, 30, 80, 150])
    exact = wf.loss_probability(p0, N=N, n=n)  # (K, len(n))
    assert exact.shape == (6, 6)
    ext = chain.extinction_time
    sim = ((ext[:, :, None] >= 0) & (ext[:, :, None] <= n)).mean(axis=0)
    assert np.all(np.abs(sim - exact) <= K_SE * _binomial_se(exact, seeds))
    # The same numbers, summed: surviving categories and lost tail mass.
    surviving, lost_mass = wf.expected_surviving(p0, N=N, n=n)
    sim_surv = chain.surviving[n]
    se = sim_surv.std(axis=1, ddof=1) / np.sqrt(seeds)
    assert np.all(np.abs(sim_surv.mean(axis=1) - surviving) <= K_SE * se + 1.0 / seeds)
    np.testing.assert_allclose(lost_mass, p0 @ exact)


def test_loss_probability_limits():
    n = np.array([0, 1, 10, 10_000])
    out = wf.loss_probability(np.array([0.0, 0.3, 1.0]), N=20, n=n)
    np.testing.assert_array_equal(out[0], 1.0)          # absent stays absent
    np.testing.assert_array_equal(out[2], 0.0)          # a fixed category cannot be lost
    assert out[1, 0] == 0.0 and out[1, 1] == pytest.approx(0.7**20)
    assert out[1, -1] == pytest.approx(0.7, abs=1e-9)   # eventually lost w.p. 1 - q
    assert np.all(np.diff(out[1]) >= 0)


@pytest.mark.parametrize("method", ["diffusion", "branching"])
def test_loss_approximations_converge_to_exact(method):
    # Both approximations have O(1/N) error at fixed q, t = n/N (branching: for rare
    # categories, small t).  Quadrupling N must cut the worst error by more than half.
    if method == "diffusion":
        q, t = np.array([0.02, 0.1, 0.5]), np.array([0.05, 0.2, 1.0, 3.0])
    else:
        q, t = np.array([0.01, 0.02]), np.array([0.05, 0.1, 0.2])
    errors = []
    for N in (100, 400):
        n = np.round(t * N).astype(int)
        exact = wf.loss_probability(q, N=N, n=n)
        approx = wf.loss_probability(q, N=N, n=n, method=method)
        errors.append(np.max(np.abs(approx - exact)))
    assert errors[1] < 0.5 * errors[0]
    assert errors[1] < 0.05


# ------------------------------------------------------------ truncated count chain


@pytest.mark.parametrize("N", [200, 800])
def test_truncated_chain_matches_full_chain(N):
    """Where both apply, the truncated chain agrees with the full (N+1)^2 matrix to 1e-10
    (it is exact up to its reported dropped mass D <= tol = 1e-12 and rounding), and the
    full chain's value lies in [truncated, truncated + D]."""
    q = np.array([0.5 / N, 3.0 / N, 0.01, 0.05, 0.3, 0.7, 0.99])
    n = np.array([0, 1, 2, 5, 20, 80, 200])
    full = wf.loss_probability(q, N=N, n=n, method="exact")
    trunc, D = wf.loss_probability(q, N=N, n=n, method="truncated", return_bound=True)
    assert trunc.shape == D.shape == (7, 7)
    assert np.all(D <= 1e-12) and np.all(D >= 0)
    np.testing.assert_allclose(trunc, full, rtol=0, atol=1e-10)
    rounding = 1e-14
    assert np.all(full >= trunc - rounding) and np.all(full <= trunc + D + rounding)
    # "auto" is the full chain at these N, with a bound of 0.
    auto, D_auto = wf.loss_probability(q, N=N, n=n, return_bound=True)
    np.testing.assert_array_equal(auto, full)
    np.testing.assert_array_equal(D_auto, 0.0)


def test_truncated_chain_bound_holds_when_loose():
    """With a loose tol the chain drops visible mass, and the full chain still lies in
    [result, result + D] with D <= tol: the reported D is the mass dropped, not a guess."""
    N, q, n = 500, np.array([0.004, 0.02, 0.2]), np.array([1, 3, 10, 40, 150])
    full = wf.loss_probability(q, N=N, n=n, method="exact")
    trunc, D = wf.loss_probability(q, N=N, n=n, method="truncated", tol=1e-3,
                                   return_bound=True)
    assert np.all(D <= 1e-3) and D.max() > 1e-5
    assert np.all(full >= trunc - 1e-14) and np.all(full <= trunc + D + 1e-14)
    assert np.all(np.diff(D, axis=1) >= 0)  # the dropped mass only accumulates


def _direct_loss(N, q, n_max, runs, seed):
    """P(X_k = 0), k = 1..n_max, from `runs` direct simulations of the count chain
    X_1 ~ Bin(N, q), X_{k+1} ~ Bin(N, X_k / N) (numpy only, nothing from the library)."""
    rng = np.random.default_rng(seed)
    x = rng.binomial(N, q, size=runs)
    lost = np.empty(n_max)
    for k in range(n_max):
        if k:
            x = rng.binomial(N, x / N)
        lost[k] = np.mean(x == 0)
    return lost


@pytest.mark.parametrize(("N", "q", "n_max", "runs"),
                         [(10_000, 0.001, 19, 1_000_000), (1_000_000, 5e-5, 40, 200_000)])
def test_truncated_chain_matches_direct_simulation(N, q, n_max, runs):
    """Suresh et al.'s setting (q = 0.001, N = 10^4, k = 1..19) and N = 10^6: the truncated
    chain against a direct simulation.  Tolerance K_SE = 4 binomial standard errors (+1/runs
    for p near 0): per comparison a false alarm has probability 6e-5, under 3e-3 over the
    59 comparisons.  At these run counts the standard error is at most 5e-4 (1e-3), so the
    diffusion and branching approximations, off by up to 0.043 here, must fail the same
    check (diffusion at N = 10^4 only: at N = 10^6 its series needs 3000 terms, a minute)."""
    k = np.arange(1, n_max + 1)
    sim = _direct_loss(N, q, n_max, runs, seed=20240527)
    exact, D = wf.loss_probability(q, N=N, n=k, return_bound=True)  # auto -> truncated
    assert np.all(D <= 1e-12)
    tol = K_SE * _binomial_se(exact, runs)
    assert np.all(np.abs(sim - exact) <= tol)
    for method in ("diffusion", "branching") if N <= 10_000 else ("branching",):
        approx = wf.loss_probability(q, N=N, n=k, method=method)
        assert np.any(np.abs(sim - approx) > tol), method


def test_truncated_chain_at_large_N_is_fast_and_bounded():
    """N = 10^6, N q = 300 over 50 generations: within the 1e-12 bound, below the
    Galton-Watson upper bound, non-decreasing in n; p0 with common categories (whose loss is
    excluded by that bound) costs no chain."""
    n = np.arange(0, 51)
    loss, D = wf.loss_probability(3e-4, N=10**6, n=n, return_bound=True)
    assert np.all(D <= 1e-12) and np.all(np.diff(loss) >= 0) and loss[-1] > 1e-6
    gw = wf.loss_probability(3e-4, N=10**6, n=n, method="galton-watson")
    assert np.all(loss <= gw + 1e-15)
    p0 = np.array([0.5, 0.3, 0.2 - 2e-5, 1e-5, 1e-5])
    surv, lost, bound = wf.expected_surviving(p0, N=10**6, n=[0, 5, 20], return_bound=True)
    assert surv[0] == 5 and np.all(bound <= 5e-12)
    single = wf.loss_probability(1e-5, N=10**6, n=[0, 5, 20])
    np.testing.assert_allclose(surv, 5 - 2 * single, rtol=0, atol=1e-11)
    np.testing.assert_allclose(lost, 2e-5 * single, rtol=0, atol=1e-11)


def test_galton_watson_bounds_and_limits_the_chain():
    """exp(-N q (1 - phi_{n-1}(0))) is an upper bound for every N and the N -> inf limit at
    fixed N q: its error at N q = 10 must fall by more than half when N is quadrupled."""
    n = np.array([1, 2, 5, 10, 20, 50])
    errors = []
    for N in (250, 1000):
        q = np.array([2.0, 10.0, 30.0]) / N
        exact = wf.loss_probability(q, N=N, n=n, method="exact")
        gw = wf.loss_probability(q, N=N, n=n, method="galton-watson")
        assert np.all(gw >= exact - 1e-15)
        errors.append(np.max(gw - exact))
    assert errors[1] < 0.5 * errors[0]


def test_diffusion_and_branching_do_not_converge_at_fixed_Nq():
    """The docs' accuracy statement: at fixed N q (rare categories) and n the diffusion and
    branching errors do not shrink with N; at N q = 10, n = 10 they exceed 0.03 from
    N = 1000 to N = 10^5."""
    for method in ("diffusion", "branching"):
        err = [abs(wf.loss_probability(10.0 / N, N=N, n=10, method=method)
                   - wf.loss_probability(10.0 / N, N=N, n=10)) for N in (1000, 10**5)]
        assert min(err) > 0.03 and err[1] > 0.9 * err[0], method


def test_truncated_chain_refuses_when_too_large(monkeypatch):
    monkeypatch.setattr(wf, "_MAX_TRUNCATED_ENTRIES", 10_000)
    with pytest.raises(ValueError, match=r"q=0\.001 at N=100000 .* use method='diffusion'"):
        wf.loss_probability(0.001, N=10**5, n=200, method="truncated")


@pytest.mark.parametrize(("N", "q"), [(60, 0.1), (700, 0.004), (1500, 0.3)])
def test_banded_mean_loss_time_matches_full_chain(N, q):
    """The banded solve agrees with the full (N-1)^2 solve to 1e-9 relative (it drops row
    mass below 1e-12), and the full one lies within its reported bound."""
    full = wf.mean_loss_time(q, N=N, method="exact")
    banded, bound = wf.mean_loss_time(q, N=N, method="banded", return_bound=True)
    assert banded == pytest.approx(full, rel=1e-9)
    assert 0 <= bound < 1e-3 * full
    assert banded - 1e-9 * full <= full <= banded + bound + 1e-9 * full
    assert wf.mean_loss_time(q, N=N, method="auto") == pytest.approx(full, rel=1e-9)


def test_mean_loss_time_refuses_beyond_the_whole_chain():
    with pytest.raises(ValueError, match="N must be <= 16000 for method='banded', got 20000"):
        wf.mean_loss_time(0.001, N=20_000, method="auto")
    with pytest.raises(ValueError, match="use method='banded'"):
        wf.mean_loss_time(0.001, N=5000, method="exact")
    with pytest.raises(ValueError, match="method must be one of 'diffusion', 'exact'"):
        wf.mean_loss_time(0.1, N=10, method="truncated")


def test_diffusion_times_converge_to_exact():
    # Kimura–Ohta / Littler are diffusion limits: relative error O(1/N).
    rel_fix, rel_loss = [], []
    for N in (20, 60):  # factor 3 in N: the error must drop by more than half
        exact = wf.mean_fixation_time([0.5, 0.3, 0.2], N=N, method="exact")
        diff = wf.mean_fixation_time([0.5, 0.3, 0.2], N=N)
        rel_fix.append(abs(diff / exact - 1))
        exact = wf.mean_loss_time(0.2, N=N, method="exact")
        rel_loss.append(abs(wf.mean_loss_time(0.2, N=N) / exact - 1))
    assert rel_fix[1] < 0.5 * rel_fix[0] and rel_fix[1] < 0.05
    assert rel_loss[1] < 0.5 * rel_loss[0] and rel_loss[1] < 0.05
    # K = 2 reduces to Kimura–Ohta: -2N [p ln p + (1-p) ln(1-p)].
    p = 0.3
    assert wf.mean_fixation_time([p, 1 - p], N=50) == pytest.approx(
        -100 * (p * np.log(p) + (1 - p) * np.log(1 - p)))


def test_reproducible_and_seed_dependent():
    a = wf.simulate_discrete([0.5, 0.5], N=20, generations=10, seeds=5, key=1, progress=False)
    b = wf.simulate_discrete([0.5, 0.5], N=20, generations=10, seeds=5, key=1, progress=False)
    c = wf.simulate_discrete([0.5, 0.5], N=20, generations=10, seeds=5, key=2, progress=False)
    np.testing.assert_array_equal(a.frequencies, b.frequencies)
    assert not np.array_equal(a.frequencies, c.frequencies)
    assert a.frequencies.shape == (11, 5, 2)
    np.testing.assert_allclose(a.frequencies.sum(axis=2), 1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(p0=[1.0]), "p0 must be a 1-D sequence of at least 2"),
        (dict(p0=[0.5, 0.6]), "p0 must sum to 1"),
        (dict(p0=[1.5, -0.5]), "p0 must be >= 0"),
        (dict(N=0), "N must be an integer >= 1"),
        (dict(N=2.5), "N must be an integer"),
        (dict(generations=0), "generations must be an integer >= 1"),
        (dict(seeds=10**7, generations=100), "increase record_every to at least 25, or lower "
                                             "seeds or K; on the command line .* --seeds"),
        (dict(seeds=10**8, generations=100), r"lower seeds or K: .* --seeds, --K"),
    ],
)
def test_simulate_rejects_bad_input(kwargs, match):
    args = dict(p0=[0.5, 0.5], N=10, generations=5, seeds=3, progress=False) | kwargs
    with pytest.raises(ValueError, match=match):
        wf.simulate_discrete(**args)


def test_theory_rejects_bad_input():
    with pytest.raises(ValueError, match="q must be"):
        wf.loss_probability(1.5, N=10, n=3)
    with pytest.raises(ValueError, match="n must be non-negative integers"):
        wf.loss_probability(0.5, N=10, n=-1)
    with pytest.raises(ValueError, match="method must be one of 'auto', 'exact', 'truncated'"):
        wf.loss_probability(0.5, N=10, n=3, method="nope")
    with pytest.raises(ValueError, match=r"tol must be a probability bound in \(0, 1\), got 0"):
        wf.loss_probability(0.5, N=10, n=3, tol=0.0)
    with pytest.raises(ValueError, match="tol must lie in"):
        wf.loss_probability(0.5, N=10, n=3, tol=1.5)
    with pytest.raises(ValueError, match="N must be <= 4000 for method='exact', got 5000; use "
                                         "method='truncated'"):
        wf.loss_probability(0.5, N=5000, n=3, method="exact")
    with pytest.raises(ValueError, match="use method='diffusion'"):
        wf.mean_fixation_time([0.25] * 4, N=100, method="exact")
    with pytest.raises(ValueError, match="q must be a frequency in"):
        wf.mean_loss_time(0.0, N=10)
    with pytest.raises(ValueError, match="p0 must be a 1-D sequence of at least 2"):
        wf.expected_homozygosity([1.0], N=10, n=1)


def test_stored_frequencies_advice_is_exact():
    """The advised record_every is the smallest that fits (the records counted exactly)."""
    G, S, K = 100, 10**7, 2  # 5 records fit in 1e8 values
    with pytest.raises(ValueError, match="at least 25"):
        wf._check_stored(G, S, K, 24)  # 1 + ceil(100/24) = 6 records
    wf._check_stored(G, S, K, 25)  # 1 + ceil(100/25) = 5 records


def test_cli_names_its_own_options_when_the_records_do_not_fit(capsys):
    from kernelcollapse.cli import main

    assert main(["zoo", "discrete", "--K", "10", "--seeds", "10000000", "--generations",
                 "3", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--seeds" in err and "--K" in err and err.count("\n") == 1
