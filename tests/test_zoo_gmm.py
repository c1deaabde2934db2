"""Gaussian mixture refitted by batched EM: collapse on average over seeds, anchoring by
fresh data, the separated-components approximation, and input validation.

Tolerances are K_SE * stderr (over seeds) + an allowance justified where it is used.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from kernelcollapse.zoo import gmm

K_SE = 4.0


def _mean_se(a, axis=0):
    a = np.asarray(a)
    return a.mean(axis=axis), a.std(axis=axis, ddof=1) / np.sqrt(a.shape[axis])


@pytest.fixture(scope="module")
def recursive():
    # The reference experiment, shrunk: N = 200 (100 points per component), 60 refits.
    return gmm.simulate_mixture(N=200, generations=60, seeds=64, key=1, progress=False)


def test_variances_shrink_on_average(recursive):
    v = recursive.variances
    assert v.shape == (61, 64, 2)
    np.testing.assert_array_equal(v[0], 1.0)
    # Per seed, the mean over components (the two components of a seed are dependent).
    # (Not log v: a component whose weight drifts to ~0 collapses to the variance floor,
    # so log v is heavy-tailed; v itself is bounded below and its mean well estimated.)
    mean_v, se = _mean_se(v[-1].mean(axis=1))
    assert mean_v + K_SE * se < 1.0, (mean_v, se)
    # ... and the weights drift apart across seeds (Wright–Fisher-like): the spread at
    # the end exceeds the spread of the first fit.
    w = recursive.weights[:, :, 0]
    assert w[-1].std() > 2 * w[1].std()
    np.testing.assert_allclose(recursive.weights.sum(axis=2), 1.0, atol=1e-12)
    # EM converges in most generations; a generation in which some seed's components
    # overlap heavily converges slowly (missing information -> 1) and may hit max_iter.
    assert np.mean(recursive.em_iterations >= 200) < 0.1


def test_fresh_data_prevents_collapse():
    # fresh = 1: every generation is an independent ML fit to N original samples, so the
    # fitted variances stay at 1 up to the ML bias, of order 1/(N w_k) = 0.002 here;
    # allowance 3/(N w_k) covers it with room for the overlap of the components.
    N = 1000
    chain = gmm.simulate_mixture(N=N, generations=20, seeds=32, fresh=1.0, key=2,
                                 progress=False)
    v = chain.variances[1:].mean(axis=2).ravel()   # 640 nearly independent fits
    mean_v, se = _mean_se(v)
    assert abs(mean_v - 1.0) <= K_SE * se + 3.0 / (N * 0.5), (mean_v, se)
    m_mean = chain.means[1:].reshape(-1, 2).mean(axis=0)
    m_se = chain.means[1:].reshape(-1, 2).std(axis=0, ddof=1) / np.sqrt(640)
    assert np.all(np.abs(m_mean - [-2.0, 2.0]) <= K_SE * m_se + 3.0 / N)


def test_separated_components_follow_single_gaussian_theory():
    # Means +-10, sd 1: no overlap, so component k is an ML Gaussian refit on N_k points.
    # The approximation fixes N_k = N w_k; the weights drift, and by Jensen
    # E[1/N_k] > 1/(N w_k): the extra decay of E[log v] is about
    # (2/(N w)) * sum_i Var(w_i)/w^2 = (2/(N w)) * n^2 (1-w) / (2 N w), computed below.
    N, n, seeds, w = 400, 50, 256, 0.5
    chain = gmm.simulate_mixture(means=(-10.0, 10.0), N=N, generations=n, seeds=seeds,
                                 key=3, progress=False)
    approx = gmm.separated_approximation(n, N=N)
    jensen = (2.0 / (N * w)) * n**2 * (1 - w) / (2 * N * w)
    log_v, se = _mean_se(np.log(chain.variances[-1]).mean(axis=1))
    assert abs(log_v - approx.log_variance.mean()) <= K_SE * se + 1.5 * jensen, (
        log_v, approx.log_variance, se, jensen)
    # weight spread: two-type Wright–Fisher
    sd = chain.weights[-1, :, 0].std(ddof=1)
    # sd of a sample sd from 256 normal-ish values: sd/sqrt(2*255)
    assert abs(sd - approx.weight_sd[0]) <= K_SE * sd / np.sqrt(2 * (seeds - 1))


def test_previous_data_only_keeps_the_fit():
    # previous = 1: each training set is a permutation of the first one, so EM (warm
    # started at the previous fit, itself a fixed point on the same data) stays put.
    chain = gmm.simulate_mixture(N=300, generations=5, seeds=4, previous=1.0, key=4,
                                 progress=False)
    for arr in (chain.weights, chain.means, chain.variances):
        np.testing.assert_allclose(arr[2:], np.broadcast_to(arr[1], arr[2:].shape),
                                   rtol=0, atol=1e-5)
    np.testing.assert_allclose(chain.log_likelihood[1:],
                               np.broadcast_to(chain.log_likelihood[0], (4, 4)), atol=1e-9)


def test_key_convention_and_independent_of_block():
    """A given key gives identical results, whatever its form (int i, PRNGKey(i), key(i));
    chain i depends neither on ``block`` nor on the number of seeds."""
    kw = dict(N=60, generations=9, fresh=0.2, previous=0.3, progress=False)
    a = gmm.simulate_mixture(block=4, seeds=3, key=5, **kw)
    for key in (5, jax.random.PRNGKey(5), jax.random.key(5)):
        same = gmm.simulate_mixture(block=4, seeds=3, key=key, **kw)
        for field in a._fields:
            np.testing.assert_array_equal(getattr(same, field), getattr(a, field))
    b = gmm.simulate_mixture(block=9, seeds=5, key=5, **kw)
    # The draws are identical; XLA's vectorised kernels may round differently for another
    # number of seeds or block length, so the EM fits agree to round-off, not bit for bit.
    for field in ("weights", "means", "variances", "log_likelihood"):
        np.testing.assert_allclose(getattr(b, field)[:, :3], getattr(a, field), rtol=1e-10,
                                   atol=1e-14)
    np.testing.assert_array_equal(b.em_iterations[:, :3], a.em_iterations)
    c = gmm.simulate_mixture(block=4, seeds=3, key=6, **kw)
    assert not np.allclose(a.variances, c.variances)
    with pytest.raises(ValueError, match="key must be an integer in"):
        gmm.simulate_mixture(key=-1, **kw)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(fresh=0.7, previous=0.5), "ratios must sum to at most 1"),
        (dict(fresh=1.5), "fresh must be a finite number in"),
        (dict(previous=-0.1), "previous must be a finite number in"),
        (dict(N=5), r"N must be >= 3\*C = 6"),
        (dict(weights=(0.5, 0.6)), "weights must sum to 1"),
        (dict(sds=(1.0, 0.0)), "sds must be > 0"),
        (dict(means=(0.0,)), "same length"),
        (dict(generations=0), "generations must be an integer >= 1"),
    ],
)
def test_rejects_bad_input(kwargs, match):
    args = dict(N=50, generations=2, seeds=2, progress=False) | kwargs
    with pytest.raises(ValueError, match=match):
        gmm.simulate_mixture(**args)


def test_separated_approximation_values():
    a = gmm.separated_approximation([0, 10], weights=(0.25, 0.75), sds=(1.0, 2.0), N=100)
    np.testing.assert_allclose(a.variance[1], [(1 - 1 / 25) ** 10, 4 * (1 - 1 / 75) ** 10])
    np.testing.assert_allclose(a.variance[0], [1.0, 4.0])
    np.testing.assert_allclose(a.weight_sd[1, 0], np.sqrt(0.1875 * (1 - 0.99**10)))
    with pytest.raises(ValueError, match="N \\* weights must be >= 2"):
        gmm.separated_approximation(3, weights=(0.01, 0.99), N=100)


def test_single_component_is_the_ml_gaussian_chain():
    # C = 1: EM is the ML Gaussian fit in one step, so the chain is exactly the ML
    # Gaussian refit of zoo.gaussian: E[v_n] = ((N-1)/N)^n and E[log v_n] =
    # n (psi((N-1)/2) + log(2/N)).  Allowance: var_floor = 1e-8 added per generation
    # shifts v by at most n * 1e-8 / v_min ~ 1e-5 here.
    from kernelcollapse.zoo import gaussian_moments

    N, n, seeds = 50, 30, 2000
    chain = gmm.simulate_mixture(weights=[1.0], means=[0.0], sds=[1.0], N=N, generations=n,
                                 seeds=seeds, key=8, progress=False)
    th = gaussian_moments(n, N=N, estimator="ml")
    v = chain.variances[-1, :, 0]
    mean, se = _mean_se(v)
    assert abs(mean - th.var) <= K_SE * se + 1e-5, (mean, th.var, se)
    mean, se = _mean_se(np.log(v))
    assert abs(mean - th.log_var) <= K_SE * se + 1e-5, (mean, th.log_var, se)
    mean, se = _mean_se(chain.means[-1, :, 0] ** 2)
    assert abs(mean - th.mean_shift_sq) <= K_SE * se, (mean, th.mean_shift_sq, se)
