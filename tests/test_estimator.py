"""Tests of kernelcollapse.estimator.CollapseAwareRidge: scikit-learn's own estimator checks,
the fit against scikit-learn's Ridge with the same penalty and row weights, the recommendation
it stores, the fallback where the data determine no penalty, bad input, and the module without
scikit-learn."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest

from kernelcollapse.exceptions import UnreliableRecommendation
from kernelcollapse.theory import power_law
from kernelcollapse.tuning import recommend

try:
    from sklearn.utils.estimator_checks import parametrize_with_checks
except ImportError:  # scikit-learn is optional: the tests that need it are skipped
    parametrize_with_checks = None

needs_sklearn = pytest.mark.skipif(parametrize_with_checks is None,
                                   reason="scikit-learn is not installed")


def _estimator(**kw):
    from kernelcollapse.estimator import CollapseAwareRidge

    return CollapseAwareRidge(**kw)


def _data(seed=0, T=200, d=30, p=0.5):
    """Power-law features; the first p T labels from a noisy copy of the teacher (a stand-in for
    generation n: the estimator only needs the labels as they are)."""
    rng = np.random.default_rng(seed)
    s, w0 = power_law(d, 1.5, 0.5)
    X = rng.standard_normal((T, d)) * np.sqrt(s) + 1.0
    wn = w0 + 0.3 * rng.standard_normal(d) / np.sqrt(s * d)
    mask = np.arange(T) < int(p * T)
    y = np.where(mask, X @ wn, X @ w0) + 2.0 + 0.5 * rng.standard_normal(T)
    return X, y, mask


CHAIN = dict(n=2, T0=80, sigma0=0.5)

if parametrize_with_checks is not None:

    @parametrize_with_checks([_estimator(), _estimator(**CHAIN),
                              _estimator(n=3, T0=10, sigma0=0.5, lam0=0.1),
                              _estimator(fit_intercept=False)])
    def test_scikit_learn_estimator_checks(estimator, check):
        check(estimator)

else:

    def test_scikit_learn_estimator_checks():
        pytest.skip("scikit-learn is not installed")


@needs_sklearn
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_fit_is_sklearn_ridge_at_alpha_with_the_weights(fit_intercept):
    from sklearn.linear_model import Ridge

    X, y, mask = _data()
    est = _estimator(**CHAIN, fit_intercept=fit_intercept).fit(X, y, synthetic=mask)
    rec = recommend(X, y, **CHAIN, synthetic=mask, center=fit_intercept)
    assert est.lam_ == rec.lam and est.weight_ == rec.weight
    assert est.alpha_ == pytest.approx(X.shape[0] * rec.lam, rel=1e-12)
    assert est.recommendation_.lam == rec.lam and est.recommendation_.error == rec.error
    omega = np.where(mask, est.weight_, 1.0)
    ref = Ridge(alpha=est.alpha_, fit_intercept=fit_intercept, solver="cholesky").fit(
        X, y, sample_weight=omega)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-8, atol=1e-10)
    assert est.intercept_ == pytest.approx(float(ref.intercept_), rel=1e-8, abs=1e-10)
    np.testing.assert_allclose(est.predict(X), ref.predict(X), rtol=1e-8, atol=1e-10)
    assert est.score(X, y) == pytest.approx(ref.score(X, y), rel=1e-8)


@needs_sklearn
def test_a_drop_in_for_ridgecv_on_real_labels():
    from sklearn.linear_model import RidgeCV

    X, y, _ = _data(p=0.0)
    est = _estimator().fit(X, y)
    # without n every label is real: the penalty is leave-one-out's own choice, which
    # RidgeCV finds on a fine grid around it to within a grid step (0.011 in log alpha)
    alphas = est.alpha_ * np.geomspace(1 / 3, 3, 201)
    cv = RidgeCV(alphas=alphas).fit(X, y)
    assert abs(math.log(cv.alpha_ / est.alpha_)) <= 1.5 * math.log(alphas[1] / alphas[0])
    for name in ("coef_", "intercept_", "alpha_", "n_features_in_"):
        assert np.shape(getattr(est, name)) == np.shape(getattr(cv, name)), name
    assert est.weight_ == 1.0 and est.recommendation_.p == 0.0


@needs_sklearn
def test_the_mask_is_split_with_the_rows_in_cross_validation():
    from sklearn.model_selection import cross_val_score

    X, y, mask = _data(T=240)
    scores = cross_val_score(_estimator(**CHAIN), X, y, cv=3, params={"synthetic": mask})
    assert scores.shape == (3,) and np.all(np.isfinite(scores))


@needs_sklearn
@pytest.mark.parametrize("case", ["two-rows", "constant-features", "flat-spectrum"])
def test_fallback_where_the_data_determine_no_penalty(case):
    rng = np.random.default_rng(1)
    if case == "two-rows":
        X, y = rng.standard_normal((2, 3)), np.array([1.0, 2.0])
    elif case == "constant-features":
        X, y = np.ones((20, 3)), rng.standard_normal(20)
    else:  # whitened rows at T < d: no noise floor to read (recommend asks for sigma)
        M = rng.standard_normal((30, 50))
        U, _, Vt = np.linalg.svd(M - M.mean(axis=0), full_matrices=False)
        X = math.sqrt(30) * U[:, :29] @ Vt[:29]
        y = X @ rng.standard_normal(50) / math.sqrt(50) + 0.5 * rng.standard_normal(30)
    est = _estimator(**CHAIN, fallback_alpha=2.5)
    with pytest.warns(UserWarning, match="fallback_alpha=2.5"):
        est.fit(X, y)
    assert est.recommendation_ is None and est.alpha_ == 2.5 and est.weight_ == 1.0
    assert np.all(np.isfinite(est.predict(X)))
    # recommend itself still refuses these data (its checks are not weakened)
    if case != "two-rows":
        with pytest.raises(ValueError):
            recommend(X, y, **CHAIN)
    # ... and with sigma given the flat spectrum is tuned
    if case == "flat-spectrum":
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est = _estimator(**CHAIN, sigma=0.5).fit(X, y)
        assert est.recommendation_ is not None
        # 30 rows cannot vouch for the choice: said, and nothing else
        assert all(issubclass(w.category, UnreliableRecommendation) for w in caught), caught
        assert not est.recommendation_.reliable


@needs_sklearn
@pytest.mark.parametrize("params,fit_kw,match", [
    (dict(**CHAIN), dict(synthetic=np.zeros(199, bool)),
     r"synthetic must be a boolean mask of shape \(200,\)"),
    (dict(**CHAIN), dict(synthetic=np.zeros(200, int)), r"got dtype int"),
    (dict(), dict(synthetic=np.arange(200) < 5), r"need their generation n"),
    (dict(p=0.5), dict(), r"need their generation n"),
    (dict(n=2, sigma0=0.5), dict(), r"T0 must be given with n"),
    (dict(n=2, T0=80), dict(), r"sigma0 must be given with n"),
    (dict(n=-1, T0=80, sigma0=0.5), dict(), r"n must be an integer >= 0, got -1"),
    (dict(**CHAIN, p=0.9), dict(synthetic=np.arange(200) < 100), r"p=0\.9 contradicts"),
    (dict(**CHAIN, fallback_alpha=-1), dict(), r"fallback_alpha must be >= 0, got -1"),
    (dict(**CHAIN), dict(X_clean=np.ones((5, 4)), y_clean=np.ones(5)),
     r"X has 4 features, but CollapseAwareRidge is expecting 30"),
])
def test_bad_input(params, fit_kw, match):
    X, y, _ = _data()
    with pytest.raises(ValueError, match=match):
        _estimator(**params).fit(X, y, **fit_kw)


def test_module_imports_without_scikit_learn():
    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "import kernelcollapse.estimator as e\n"
        "try:\n"
        "    e.CollapseAwareRidge()\n"
        "except ModuleNotFoundError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "needs scikit-learn" in out.stdout and "kernelcollapse[sklearn]" in out.stdout
