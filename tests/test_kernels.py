"""Kernels, Gram matrices, the bandwidth rule, and the empirical Mercer spectrum."""

from __future__ import annotations

import numpy as np
import pytest

from kernelcollapse import kernels

LINEAR = kernels.polynomial(1, offset=0.0, scale=1.0)


def test_rbf_gram_matches_formula():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(4, 3))
    h = 1.7
    K = np.asarray(kernels.gram(kernels.rbf(h), x, y))
    expected = np.array([[np.exp(-np.sum((a - b) ** 2) / (2 * h**2)) for b in y] for a in x])
    np.testing.assert_allclose(K, expected, rtol=1e-12)
    K_xx = np.asarray(kernels.gram(kernels.rbf(h), x))
    np.testing.assert_allclose(np.diag(K_xx), 1.0, rtol=1e-12)
    np.testing.assert_allclose(K_xx, K_xx.T, rtol=1e-12)
    assert K.dtype == np.float64


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_polynomial_gram_matches_formula(degree):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(5, 4)), rng.normal(size=(6, 4))  # inner products of both signs
    k = kernels.polynomial(degree, offset=0.5, scale=0.3)
    expected = (0.3 * x @ y.T + 0.5) ** degree
    np.testing.assert_allclose(np.asarray(kernels.gram(k, x, y)), expected, rtol=1e-12)


def test_median_bandwidth():
    # Points 0, 1, 3 on a line: distances 1, 3, 2, median 2.
    x = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    assert kernels.median_bandwidth(x) == pytest.approx(2.0)
    # Subsampling is seeded and close to the full median for a large sample of N(0, I_p):
    # ||x - x'||^2 ~ 2 chi^2_p, median distance ~ sqrt(2 (p - 2/3)).
    z = np.random.default_rng(2).normal(size=(3000, 10))
    h1 = kernels.median_bandwidth(z, max_points=500, key=1)
    assert h1 == kernels.median_bandwidth(z, max_points=500, key=1)
    assert h1 == pytest.approx(np.sqrt(2 * (10 - 2 / 3)), rel=0.03)


def test_inner_product_scale():
    x = np.array([[3.0, 4.0], [0.0, 1.0]])  # squared norms 25 and 1
    assert kernels.inner_product_scale(x) == pytest.approx(1 / 13)


def test_linear_kernel_recovers_covariance_spectrum():
    """K/N for the linear kernel has the eigenvalues of the sample covariance X'X/N."""
    rng = np.random.default_rng(3)
    N, s_true = 1500, np.array([5.0, 3.0, 2.0, 1.0, 0.5])
    x = rng.normal(size=(N, s_true.size)) * np.sqrt(s_true)
    w = np.array([1.0, -2.0, 0.5, 3.0, -1.0])
    spec = kernels.empirical_spectrum(kernels.gram(LINEAR, x), x @ w)
    # Rank 5: the N - 5 round-off eigenvalues are dropped by the relative threshold.
    assert spec.eigvals.shape == (5,) and spec.eigvecs.shape == (N, 5)
    # Exactly the sample-covariance eigenvalues (independent computation) ...
    cov_s, cov_v = np.linalg.eigh(x.T @ x / N)
    np.testing.assert_allclose(spec.eigvals, cov_s[::-1], rtol=1e-9)
    # ... which estimate the population ones with relative standard error sqrt(2/N) = 3.7%.
    np.testing.assert_allclose(spec.eigvals, s_true, rtol=4 * np.sqrt(2 / N))
    # w0 is exactly the teacher in the sample-covariance eigenbasis (up to each sign) ...
    np.testing.assert_allclose(np.abs(spec.w0), np.abs(cov_v[:, ::-1].T @ w), rtol=1e-8)
    # ... close to w itself: to first order the sample eigenvector j turns towards axis i by
    # theta_ij ~ N(0, s_i s_j / ((s_i - s_j)^2 N)), so w0_j - w_j ~ sum_i theta_ij w_i.
    gap = s_true[:, None] - s_true[None, :]
    np.fill_diagonal(gap, np.inf)
    spread = np.sqrt(np.sum(np.outer(s_true, s_true) / (gap**2 * N) * w[:, None] ** 2, axis=0))
    np.testing.assert_array_less(np.abs(np.abs(spec.w0) - np.abs(w)), 4 * spread)
    # ||w0||^2_Sigma is the mean square of the labels, and nothing is left over.
    assert np.sum(spec.eigvals * spec.w0**2) == pytest.approx(np.mean((x @ w) ** 2), rel=1e-10)
    assert spec.noise_var < 1e-20


def test_labels_equal_to_an_eigenvector():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 3))
    K = np.asarray(kernels.gram(kernels.rbf(2.0), x))
    s, u = np.linalg.eigh(K / 300)
    j = 4  # the 5th largest eigenvalue
    labels = np.sqrt(300) * u[:, ::-1][:, j]
    spec = kernels.empirical_spectrum(K, labels)
    expected = np.zeros(spec.eigvals.size)
    expected[j] = 1 / np.sqrt(s[::-1][j])
    np.testing.assert_allclose(np.abs(spec.w0), expected, atol=1e-8 * expected[j])
    assert spec.noise_var < 1e-20


def test_labels_outside_the_span_are_noise():
    """Labels orthogonal to the range of a rank-3 Gram matrix: w0 = 0, noise_var = mean y²."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 3))
    labels = rng.normal(size=200)
    labels -= x @ np.linalg.lstsq(x, labels, rcond=None)[0]
    spec = kernels.empirical_spectrum(kernels.gram(LINEAR, x), labels)
    assert spec.eigvals.size == 3
    np.testing.assert_allclose(spec.w0, 0.0, atol=1e-10)
    assert spec.noise_var == pytest.approx(np.mean(labels**2), rel=1e-10)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: kernels.rbf(0.0), ValueError, "bandwidth"),
        (lambda: kernels.rbf("wide"), TypeError, "bandwidth"),
        (lambda: kernels.polynomial(0), ValueError, "degree"),
        (lambda: kernels.polynomial(2.5), ValueError, "degree"),
        (lambda: kernels.polynomial(2, offset=-1.0), ValueError, "offset"),
        (lambda: kernels.polynomial(2, scale=0.0), ValueError, "scale"),
        (lambda: kernels.gram("rbf", np.ones((2, 2))), TypeError, "kernel"),
        (lambda: kernels.gram(LINEAR, np.ones(3)), ValueError, "x must be"),
        (lambda: kernels.gram(LINEAR, np.ones((2, 2)), np.ones((2, 3))), ValueError, "features"),
        (lambda: kernels.gram(LINEAR, np.array([[np.nan]])), ValueError, "finite"),
        (lambda: kernels.empirical_spectrum(np.ones((2, 3)), np.ones(2)), ValueError, "square"),
        (lambda: kernels.empirical_spectrum(np.eye(3), np.ones(2)), ValueError, "labels"),
        (lambda: kernels.empirical_spectrum(np.eye(3), np.ones(3), rtol=0), ValueError, "rtol"),
        (lambda: kernels.empirical_spectrum(np.triu(np.ones((3, 3))), np.ones(3)), ValueError,
         "symmetric"),
        (lambda: kernels.median_bandwidth(np.ones((1, 2))), ValueError, "2 points"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
