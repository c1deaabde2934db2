"""A scikit-learn regressor that tunes itself for synthetic labels: ridge regression whose
penalty, and the weight of the synthetic rows, are chosen by
:func:`kernelcollapse.tuning.recommend`.

Swap it in for ``sklearn.linear_model.RidgeCV``::

    from kernelcollapse.estimator import CollapseAwareRidge

    model = CollapseAwareRidge(n=3, T0=2000, sigma0=0.5)
    model.fit(X, y, synthetic=mask)       # mask: True for the rows labelled by generation 3
    model.predict(X_test); model.alpha_   # alpha_ in scikit-learn's units (T * lam_)

scikit-learn is an optional dependency (``pip install 'kernelcollapse[sklearn]'``): this module
imports without it, and only creating the estimator asks for it.

References
----------
E. Dohmatob, Y. Feng, J. Kempe. *Model Collapse Demystified: The Case of Regression.*
NeurIPS 2024, arXiv:2402.07712.
"""

from __future__ import annotations

import warnings

import numpy as np

from kernelcollapse._util.blas import uses_one_blas_thread

__all__ = ["CollapseAwareRidge", "weighted_ridge"]

try:
    from sklearn.base import BaseEstimator, RegressorMixin
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError:  # the module still imports; the class refuses to be created
    try:
        import sklearn

        _MISSING = (f"CollapseAwareRidge needs scikit-learn >= 1.6, found "
                    f"{sklearn.__version__}: pip install -U 'scikit-learn>=1.6'")
    except ImportError:
        _MISSING = ("CollapseAwareRidge needs scikit-learn, which is not installed: "
                    "pip install 'kernelcollapse[sklearn]' (or pip install scikit-learn)")

    class BaseEstimator:  # type: ignore[no-redef]
        def __new__(cls, *args, **kwargs):
            raise ModuleNotFoundError(_MISSING)

    class RegressorMixin:  # type: ignore[no-redef]
        pass


class CollapseAwareRidge(RegressorMixin, BaseEstimator):
    r"""Ridge regression tuned for training labels of which some are synthetic.

    ``fit(X, y, synthetic=mask)`` calls :func:`kernelcollapse.tuning.recommend` on the training
    data as they are (the rows in ``mask``, or a fraction ``p``, labelled by the ``n``-th
    generation of a chain of generators described by ``T0``, ``sigma0``, ``lam0``, ``mode``,
    ``fresh``), then fits ridge regression with the recommended penalty and synthetic-row
    weight: it minimises

    .. math::  \sum_i \omega_i (y_i - x_i^\top w - b)^2 + \alpha \|w\|^2,
               \qquad \omega_i = \text{weight\_} \text{ for synthetic rows, else } 1,

    with an unpenalised intercept ``b`` (``fit_intercept``) and ``alpha = T lam``, ``T`` the
    number of training rows (the library's penalty ``lam`` is per row).  That is
    ``sklearn.linear_model.Ridge(alpha=alpha_).fit(X, y, sample_weight=omega)``.

    Without ``n`` (the default) no label is synthetic: the penalty is the one that minimises
    the leave-one-out error, as ``RidgeCV`` would pick it, searched continuously.

    Parameters
    ----------
    n : int, optional
        Generation of the synthetic labels (``>= 1``); ``None``: every label is real.
    T0 : float, optional
        Samples per generator fit; required with ``n``.
    sigma0 : float, optional
        Label noise of each generator; required with ``n``.
    lam0 : float, default 0.0
        Ridge penalty of the generators (library normalisation).
    mode : {"replace", "accumulate"}, default "replace"
        Workflow of the generators.
    fresh : float, default 0.0
        Fraction of fresh real rows in each generation's data.
    p : float, optional
        Fraction of synthetic rows when no mask is passed to :meth:`fit` (default 1 with
        ``n``); with a mask it must agree with it.
    sigma : float, optional
        Noise of the real labels; estimated when omitted.
    fit_intercept : bool, default True
        Fit an unpenalised intercept (``recommend(center=True)``).
    max_weight : float, default 10.0
        Upper bound of the weight search.
    lam_bounds : (float, float), optional
        Bounds of the penalty search (library normalisation).
    fallback_alpha : float, default 1.0
        The penalty (scikit-learn's units) used when the data cannot determine one: fewer
        than 3 rows, features without variance, or a label noise that the labels cannot
        determine and ``sigma`` is not given (see ``recommend``).  A warning says so, and
        ``recommendation_`` is then ``None``.  1.0 is ``Ridge``'s default.

    Attributes
    ----------
    coef_ : ndarray, shape (n_features,)
        Coefficients.
    intercept_ : float
        Intercept (0 without ``fit_intercept``).
    alpha_ : float
        The penalty in scikit-learn's units, ``T * lam_``.
    lam_ : float
        The penalty in the library's normalisation.
    weight_ : float
        Loss weight of the synthetic rows (1 when every row, or none, is synthetic).
    recommendation_ : kernelcollapse.tuning.Recommendation or None
        Everything ``recommend`` returned (the alternatives and their predicted errors), or
        ``None`` when the fallback penalty was used.
    n_features_in_ : int
        Number of features seen by :meth:`fit`.
    feature_names_in_ : ndarray of str
        Names of the features, when ``X`` has string column names.

    See Also
    --------
    kernelcollapse.tuning.recommend : the recommendation, its method and its assumptions.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelcollapse.estimator import CollapseAwareRidge
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((300, 20))
    >>> y = X @ (rng.standard_normal(20) / np.sqrt(20)) + 0.5 * rng.standard_normal(300)
    >>> model = CollapseAwareRidge(n=3, T0=1000, sigma0=0.5).fit(X, y)
    >>> model.predict(X[:5]).shape
    (5,)
    >>> bool(np.isclose(model.alpha_, 300 * model.lam_))  # scikit-learn's units
    True
    """

    def __init__(self, *, n=None, T0=None, sigma0=None, lam0=0.0, mode="replace", fresh=0.0,
                 p=None, sigma=None, fit_intercept=True, max_weight=10.0, lam_bounds=None,
                 fallback_alpha=1.0):
        self.n = n
        self.T0 = T0
        self.sigma0 = sigma0
        self.lam0 = lam0
        self.mode = mode
        self.fresh = fresh
        self.p = p
        self.sigma = sigma
        self.fit_intercept = fit_intercept
        self.max_weight = max_weight
        self.lam_bounds = lam_bounds
        self.fallback_alpha = fallback_alpha

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Told that the labels carry a generator chain, the estimator shrinks by as much as
        # that chain asks, or more when its estimate cannot vouch for its own choice: on
        # labels without such a chain (scikit-learn's checks) its score is poor by design.
        tags.regressor_tags.poor_score = self.n is not None
        return tags

    @uses_one_blas_thread
    def fit(self, X, y, synthetic=None, X_clean=None, y_clean=None):
        """Choose the penalty (and the synthetic-row weight) and fit.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
            Training features.
        y : array_like, shape (n_samples,)
            Training labels, synthetic rows included.
        synthetic : array_like of bool, shape (n_samples,), optional
            Which rows are synthetic (a per-row fit parameter, like ``sample_weight``:
            cross-validation splits it with the rows).
        X_clean, y_clean : array_like, shapes (m, n_features) and (m,), optional
            A small clean pilot set (real labels).  Not per-row: in cross-validation pass it
            only when ``m`` differs from the number of rows (scikit-learn splits every fit
            parameter with one entry per row).

        Returns
        -------
        self
        """
        from kernelcollapse._util import validate as v
        from kernelcollapse.exceptions import NoiseUnidentified
        from kernelcollapse.tuning import recommend

        X, y = validate_data(self, X, y, y_numeric=True, ensure_min_samples=2,
                             dtype=np.float64)
        rows = X.shape[0]
        mask = None
        if synthetic is not None:
            mask = np.asarray(synthetic)
            if mask.dtype != np.bool_ or mask.shape != (rows,):
                raise ValueError(f"synthetic must be a boolean mask of shape ({rows},) (True "
                                 f"for synthetic rows), got dtype {mask.dtype} and shape "
                                 f"{mask.shape}")
        if X_clean is not None:
            X_clean = validate_data(self, X_clean, reset=False, dtype=np.float64)
        fallback = v.scalar("fallback_alpha", self.fallback_alpha, check=v.nonnegative)
        if self.n is None:  # no synthetic labels: recommend's clean case (n = 0)
            if (mask is not None and mask.any()) or self.p not in (None, 0, 0.0):
                raise ValueError("synthetic rows (a mask with True, or p > 0) need their "
                                 "generation n, and T0 and sigma0; n is None")
            chain = dict(n=0, p=0.0, synthetic=None)
        else:
            for name in ("T0", "sigma0"):
                if getattr(self, name) is None:
                    raise ValueError(f"{name} must be given with n (the generator chain), got "
                                     "None")
            chain = dict(n=self.n, T0=self.T0, sigma0=self.sigma0, lam0=self.lam0,
                         mode=self.mode, fresh=self.fresh, p=self.p, synthetic=mask)
        self.recommendation_ = None
        reason = _undetermined(X, self.fit_intercept)
        if reason is None:
            try:
                self.recommendation_ = recommend(
                    X, y, **chain, X_clean=X_clean, y_clean=y_clean, sigma=self.sigma,
                    center=self.fit_intercept, max_weight=self.max_weight,
                    lam_bounds=self.lam_bounds)
            except NoiseUnidentified as exc:
                reason = str(exc)
        if self.recommendation_ is None:
            warnings.warn(f"CollapseAwareRidge: {reason}; using fallback_alpha={fallback:g}",
                          UserWarning, stacklevel=2)
            self.lam_, self.weight_ = fallback / rows, 1.0
        else:
            self.lam_ = float(self.recommendation_.lam)
            self.weight_ = float(self.recommendation_.weight)
        self.alpha_ = rows * self.lam_
        omega = np.ones(rows) if mask is None else np.where(mask, self.weight_, 1.0)
        self.coef_, self.intercept_ = weighted_ridge(X, y, self.lam_, omega,
                                                      self.fit_intercept)
        return self

    def predict(self, X):
        """Predictions ``X coef_ + intercept_``, shape (n_samples,)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return X @ self.coef_ + self.intercept_


def _undetermined(X: np.ndarray, center: bool) -> str | None:
    """Why the rows cannot determine a penalty, or None."""
    if X.shape[0] < 3:
        return f"{X.shape[0]} rows are too few to estimate anything"
    spread = np.ptp(X, axis=0) if center else np.abs(X).max(axis=0)
    if not np.any(spread > 0):
        return "no feature varies" if center else "every feature is 0"
    return None


def weighted_ridge(X: np.ndarray, y: np.ndarray, lam: float, omega: np.ndarray,
                   center: bool = True) -> tuple[np.ndarray, float]:
    r"""Ridge with row weights and an optional unpenalised intercept (weighted centring), in
    the library's normalisation

    .. math::  \hat w = (X^\top \Omega X / T + \lambda I)^{-1} X^\top \Omega y / T,
               \quad \Omega = \operatorname{diag}(\omega),

    the fit :class:`CollapseAwareRidge` makes at its chosen penalty (scikit-learn's ``Ridge``
    with ``alpha = T lam`` and ``sample_weight = omega``).  ``lam = 0`` is least squares, of
    minimum norm where the rows do not determine it.  The arguments are trusted (float64
    arrays of shapes ``(T, d)``, ``(T,)``, ``(T,)`` with ``omega >= 0`` not all zero).

    Returns
    -------
    coef : ndarray, shape (d,)
    intercept : float
        0 without ``center``.
    """
    T, d = X.shape
    if center:
        mx, my = omega @ X / omega.sum(), float(omega @ y / omega.sum())
    else:
        mx, my = np.zeros(d), 0.0
    Xc = X - mx
    Xw = Xc * omega[:, None]
    if lam > 0:
        coef = np.linalg.solve(Xw.T @ Xc / T + lam * np.eye(d), Xw.T @ (y - my) / T)
    else:  # least squares, minimum norm where the rows do not determine it
        root = np.sqrt(omega)
        coef = np.linalg.lstsq(Xc * root[:, None], (y - my) * root, rcond=None)[0]
    return coef, float(my - mx @ coef)
