"""1-D Gaussian refitted on its own samples: closed-form moments against simulation.

All formulas are exact for every N and n (Cochran's theorem), so the tolerance is
K_SE * stderr with no finite-size allowance (only 1e-12 for floating point when the
stderr is 0, at n = 0).  K_SE = 4 keeps the family-wise false-alarm rate small over
the ~50 comparisons.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from kernelcollapse.zoo import gaussian as zg

K_SE = 4.0
N, SEEDS, GENS = 20, 6000, 30
CHECK = np.array([0, 1, 3, 10, 30])


@pytest.fixture(scope="module", params=["unbiased", "ml"])
def chain(request):
    est = request.param
    c = zg.simulate_gaussian(N=N, generations=GENS, seeds=SEEDS, mu0=1.5, sigma0=2.0,
                             estimator=est, key=7, progress=False)
    return est, c


def _check(sim: np.ndarray, theory: np.ndarray):
    mean = sim.mean(axis=1)
    se = sim.std(axis=1, ddof=1) / np.sqrt(sim.shape[1])
    assert np.all(np.abs(mean - theory) <= K_SE * se + 1e-12), (mean, theory, se)


def test_moments_match_simulation(chain):
    est, c = chain
    th = zg.gaussian_moments(CHECK, N=N, sigma0=2.0, estimator=est)
    _check(c.sigma[CHECK] ** 2, th.var)
    _check(c.sigma[CHECK], th.sd)
    _check((c.mu[CHECK] - 1.5) ** 2, th.mean_shift_sq)
    _check(c.w2_squared[CHECK], th.w2_squared)
    _check(np.log(c.sigma[CHECK[1:]] ** 2), th.log_var[1:])


def test_variance_martingale_and_collapse():
    unb = zg.gaussian_moments(np.arange(200), N=10, estimator="unbiased")
    ml = zg.gaussian_moments(np.arange(200), N=10, estimator="ml")
    np.testing.assert_allclose(unb.var, 1.0)                 # martingale
    np.testing.assert_allclose(ml.var, 0.9 ** np.arange(200))
    assert np.all(np.diff(unb.sd) < 0) and unb.sd[-1] < 0.1  # E[sigma_n] -> 0 anyway
    assert np.all(np.diff(unb.log_var) < 0)
    np.testing.assert_allclose(unb.mean_shift_sq, np.arange(200) / 10)
    np.testing.assert_allclose(ml.mean_shift_sq, 1 - 0.9 ** np.arange(200))


def test_chi_mean_against_scipy():
    for k in (1, 2, 5, 49, 1000):
        assert zg.chi_mean(k) == pytest.approx(stats.chi(k).mean() / np.sqrt(k), rel=1e-12)


def test_sufficient_sampler_has_the_same_law():
    # Same chain drawn from sufficient statistics: moments must match the same theory.
    c = zg.simulate_gaussian(N=N, generations=GENS, seeds=SEEDS, estimator="ml", key=9,
                             sampler="sufficient", progress=False)
    th = zg.gaussian_moments(CHECK, N=N, estimator="ml")
    _check(c.sigma[CHECK] ** 2, th.var)
    _check(c.w2_squared[CHECK], th.w2_squared)


def test_reproducible():
    a = zg.simulate_gaussian(N=5, generations=3, seeds=4, key=1, progress=False)
    b = zg.simulate_gaussian(N=5, generations=3, seeds=4, key=1, progress=False)
    np.testing.assert_array_equal(a.sigma, b.sigma)
    assert a.mu.shape == (4, 4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(N=1), "N must be an integer >= 2"),
        (dict(sigma0=0.0), "sigma0 must be a finite number in"),
        (dict(estimator="mle"), "estimator must be one of"),
        (dict(sampler="fast"), "sampler must be"),
        (dict(generations=-1), "generations must be an integer >= 1"),
        (dict(mu0=float("nan")), "mu0 must be a finite number"),
    ],
)
def test_rejects_bad_input(kwargs, match):
    args = dict(N=5, generations=3, seeds=2, progress=False) | kwargs
    with pytest.raises(ValueError, match=match):
        zg.simulate_gaussian(**args)
    if "sampler" not in kwargs and "generations" not in kwargs and "mu0" not in kwargs:
        theory_args = {k: v for k, v in args.items() if k in ("N", "sigma0", "estimator")}
        with pytest.raises(ValueError, match=match):
            zg.gaussian_moments(3, **theory_args)
