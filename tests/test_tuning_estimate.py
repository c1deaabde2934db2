"""Tests of the estimates behind kernelcollapse.tuning.recommend that have a known answer:
the inflation of the least-squares chain's covariance by rows that are not Gaussian
(:func:`kernelcollapse._tuning_estimate.row_inflation`) against Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kernelcollapse._tuning_estimate import row_inflation, spectrum
from kernelcollapse.problems import power_law

S40, _ = power_law(40, 1.5, 0.5)
K = S40.size


def _rows(rng, m: int, nu: float | None) -> np.ndarray:
    """Rows of covariance diag(S40): Gaussian (``nu`` None) or multivariate t with ``nu``
    degrees of freedom (a Gaussian row times sqrt(tau), tau inverse chi-square of mean 1)."""
    g = rng.standard_normal((m, K)) * np.sqrt(S40)
    if nu is None:
        return g
    tau = (nu - 2.0) / rng.chisquare(nu, m)
    return g * np.sqrt(tau)[:, None]


def _estimate(rng, T: int, T0: int, nu) -> np.ndarray:
    X = _rows(rng, T, nu)
    Xc = X - X.mean(axis=0)
    s, V = spectrum(Xc)
    return row_inflation(Xc @ V, s, T0)


# Monte Carlo truth: tr(Sigma E[(X'X)^-1]) (T0 - k - 1) / k over fresh T0-row draws (1 for
# Gaussian rows, exactly), 1000 draws; the estimate: the mean over 10 user data sets of
# T = 2000 rows.  Tolerance: 4 standard errors of the difference plus 1.5 / (T0 - k), the
# deterministic equivalent's finite-size error (its Gaussian answer is 1/(T0 - k) where the
# exact one is 1/(T0 - k - 1), and the leverages' own chi-square spread reads as a spread of
# scales: +3% at T0 - k = 20, +1.3% at 120 on Gaussian rows).
@pytest.mark.parametrize("nu", [None, 6.0, 3.5], ids=["gaussian", "t6", "t3.5"])
@pytest.mark.parametrize("T0", [80, 160])
def test_row_inflation_matches_monte_carlo(nu, T0):
    rng = np.random.default_rng(0 if nu is None else int(nu * 10))
    truth = []
    for _ in range(1000):
        X = _rows(rng, T0, nu)
        truth.append(float(S40 @ np.diag(np.linalg.inv(X.T @ X))) * (T0 - K - 1) / K)
    truth = np.asarray(truth)
    est = np.array([_estimate(rng, 2000, T0, nu) for _ in range(10)])
    se = math.hypot(truth.std(ddof=1) / math.sqrt(truth.size),
                    est.std(ddof=1) / math.sqrt(est.size))
    assert abs(est.mean() - truth.mean()) <= 4.0 * se + 1.5 / (T0 - K), (est.mean(),
                                                                      truth.mean(), se)
    if nu is not None:  # the rows' heavy tails are seen, not assumed away
        assert est.mean() > 1.0 + 10.0 * se


def test_row_inflation_is_one_without_leave_one_out_scales():
    """Fewer than k + 10 rows (leverages near 1 say nothing of the rows' scales), or T0 <= k:
    Gaussian rows are assumed."""
    rng = np.random.default_rng(1)
    assert _estimate(rng, K + 9, 80, 3.5) == 1.0
    assert _estimate(rng, 2000, K, 3.5) == 1.0
