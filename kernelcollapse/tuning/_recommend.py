r"""Tuning on a practitioner's data: the penalty and the weight of synthetic rows, recommended
from the labels the user actually has.

:func:`recommend` takes a feature matrix ``X`` and the training labels ``y`` as they are: a
fraction ``p`` of them (or the rows of a boolean mask ``synthetic``) produced by the ``n``-th
generation of a chain of generators, the rest real.  It estimates the problem (spectrum,
teacher energy, noise) from those labels while accounting for what the chain adds to the
synthetic ones, then asks the theory (:mod:`kernelcollapse.theory`) for the penalty and the
weight of the synthetic rows that minimise the test error, and for the error of the
alternatives a practitioner would otherwise pick.  An optional small clean pilot set
(``X_clean``, ``y_clean``) is blended with the estimate by the variances of both.

References
----------
E. Dohmatob, Y. Feng, J. Kempe. *Model Collapse Demystified: The Case of Regression.*
NeurIPS 2024, arXiv:2402.07712 (Section 5: adaptive regularisation).
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from kernelcollapse._util import validate as v
from kernelcollapse._util.blas import uses_one_blas_thread
from kernelcollapse.exceptions import UnreliableRecommendation
from kernelcollapse.theory import MODES, prepare
from kernelcollapse.tuning._choice import _MIN_REAL_ROWS, Objective
from kernelcollapse.tuning._estimate import (
    _MIN_RESIDUAL_DOF,
    Chain,
    chain_rows,
    estimate,
    ridge_rows,
    spectrum,
)

__all__ = ["Recommendation", "recommend"]

class Recommendation(NamedTuple):
    """Result of :func:`recommend` (penalties in the library's normalisation
    ``(X'X/T + lam I)^-1 X'y/T``; scikit-learn's ``Ridge(alpha)`` has ``alpha = T lam``).

    Attributes
    ----------
    lam : float
        Recommended penalty.
    weight : float
        Recommended loss weight of the synthetic rows (1 when every row, or none, is synthetic).
    error : float
        Predicted test error ``E ||w - w0||_Sigma^2`` at ``(lam, weight)``.
    lam_clean, error_clean_choice : float
        The penalty clean-data theory (``n = 0``) would pick, and its predicted error here.
    lam_cv, error_cv : float
        The penalty cross-validation on the training labels would pick (the minimiser of the
        error against the labels' own targets, as the theory predicts it), and its error.
    lam_unweighted, error_unweighted : float
        Synthetic rows counted like real ones (``weight = 1``) at their best penalty.
    lam_dropped, error_dropped : float
        Synthetic rows dropped (``weight = 0``) at the best penalty; NaN when ``p = 1``.
    loss : float
        ``error_clean_choice - error``: what ignoring the collapse costs.
    eigvals, w0 : ndarray, shape (k,)
        The plug-in spectrum (``k`` = rank of the data) and teacher coefficients used.
    sigma : float
        The label noise used (given, or estimated).
    sigma_estimated : bool
        Whether ``sigma`` was estimated.
    p : float
        Fraction of synthetic rows used.
    at_bound : bool
        The recommended penalty lies at a bound of the search (widen ``lam_bounds``).
    reliable : bool
        Whether the estimate vouches for the choice: its expected excess error (``regret``)
        is within 25%, its estimated error is positive or within the scatter the realised
        chain gives its level (least-squares chains), and the chain was measured on the rows
        or rows validate the choice.  When False, :func:`recommend` warns
        (:class:`kernelcollapse.exceptions.UnreliableRecommendation`) and, unless real rows of
        the mask validate the choice, ``lam`` is the safest penalty instead (least regret at
        the 90th percentile of the check's draws; with a clean pilot, of the blend's).
    reliability : str
        What was checked, and what would help when ``reliable`` is False.
    regret : float
        Expected excess test error of the estimate's own choice over the best penalty,
        relative to the mean square error of predictions on new real rows, under the
        estimate's own uncertainty (the realised chain, the measured chain's scale, the
        validation or pilot rows); ``inf`` when the estimated error is not positive, no
        pilot measures it and (for least-squares chains) fewer than 2.5% of the draws of its
        own error make it positive.
    pilot_rows : int
        Clean rows (real labels) that would bring ``regret`` within 3% (0: none needed).
    chain_used : bool
        Whether the described chain entered the estimate (False when a mask leaves enough
        real rows for it to rest on them alone: see :func:`recommend`).
    """

    lam: float
    weight: float
    error: float
    lam_clean: float
    error_clean_choice: float
    lam_cv: float
    error_cv: float
    lam_unweighted: float
    error_unweighted: float
    lam_dropped: float
    error_dropped: float
    loss: float
    eigvals: np.ndarray
    w0: np.ndarray
    sigma: float
    sigma_estimated: bool
    p: float
    at_bound: bool
    reliable: bool = True
    reliability: str = ""
    regret: float = 0.0
    pilot_rows: int = 0
    chain_used: bool = True


# The bound on the expected excess error, over the best penalty for the user's own draw of the
# chain and rows, within which a recommendation is vouched for.  That best is at least as good
# as any one penalty chosen in hindsight for every draw, so a choice 1.25x worse than the best
# in hindsight has an expected regret over 25%: the flag is raised wherever it can be that far.
_RELIABLE_REGRET = 0.25


@uses_one_blas_thread
def recommend(X: ArrayLike, y: ArrayLike | None = None, *, n: int | None = None,
              T0: float | None = None, sigma0: float | None = None,
              lam0: float = 0.0, mode: str = "replace", fresh: float = 0.0,
              p: float | None = None, synthetic: ArrayLike | None = None,
              X_clean: ArrayLike | None = None, y_clean: ArrayLike | None = None,
              sigma: float | None = None, T: float | None = None, center: bool = True,
              signal: float = 1.0, lam_bounds: tuple[float, float] | None = None,
              max_weight: float = 10.0, key: int = 0) -> Recommendation:
    r"""Recommend the ridge penalty and the weight of the synthetic rows, from the training
    labels as they are.

    The user will train ridge regression (library normalisation ``(X'X/T + lam I)^-1 X'y/T``;
    scikit-learn's ``Ridge(alpha)`` has ``alpha = T lam``) on ``X`` with labels ``y`` of which
    the rows in ``synthetic`` (or a fraction ``p``) come from the ``n``-th generation of a
    chain of generators (ridge ``lam0``, ``T0`` samples per fit, label noise ``sigma0``,
    workflow ``mode`` and ``fresh`` as in :func:`kernelcollapse.theory.test_error`), the rest
    being real.  Cross-validation on those labels tunes the model to the synthetic target; the
    recommendation instead minimises an estimate of the test error against the truth over the
    penalty and the weight ``omega`` of the synthetic rows:

    .. math::  \hat E(\lambda, \omega) = \mathrm{LOO}(\lambda, \omega) - \sigma^2
               + 2p\,\mathrm{cross}(\lambda, \omega) - p\,\mathrm{shift},

    where ``LOO`` is the exact leave-one-out error of the weighted ridge fit on the training
    labels (the error against the labels' own mixture of targets, plus the noise) and
    ``2 p cross - p shift`` what the synthetic targets change (``cross = E <w - w0, w_n -
    w0>_Sigma``, ``shift = E ||w_n - w0||^2_Sigma``, from the theory on a plug-in problem
    estimated from the labels).  What the chain adds is measured on the user's own rows where
    the rows' law matters: for least-squares generators their covariance, in units of the
    Gaussian one, on random subsets of ``T0`` rows against the rows held out; for ridge
    generators one fit's move against the theory's (replace workflow).  With a mask that
    leaves at least 50 real rows, the leave-one-out error over the real rows alone is used
    instead: it estimates the test error without any model of the chain.  A clean pilot set
    (``X_clean``, ``y_clean``) joins the real rows of a mask as validation rows, or without
    them is blended with the estimate by the variances of both.

    Alternatives reported, each with its estimated test error: the penalty clean-data theory
    picks (``n = 0``), the one cross-validation on the training labels picks (the minimiser of
    the leave-one-out error itself), and the best penalty with the synthetic rows counted like
    real ones (``omega = 1``) and dropped (``omega = 0``).

    The check: the estimate's own uncertainty (the realised chain, the leave-one-out curve's
    sampling, the measured chain's scale, the validation or pilot rows) gives the expected
    regret of the choice over the best penalty for this draw of the data, relative to the
    mean square error of predictions on new real rows (``regret``).  The recommendation is
    ``reliable`` when that is at most 25%, the estimated error is positive and the chain could
    be measured (or rows validate the choice); otherwise it warns
    (:class:`kernelcollapse.exceptions.UnreliableRecommendation`, once) and, unless real rows
    of the mask validate the choice, ``lam`` is the safest penalty (least regret at the 90th
    percentile of the check's draws).  ``pilot_rows``: the clean rows that would bring the
    regret within 3%.  The estimators, their assumptions and variances, the noise estimate and
    the check are derived in ``docs/theory/optimize.rst``;
    ``kernelcollapse.bench.practitioner`` measures them on real and simulated rows.

    Parameters
    ----------
    X : array_like, shape (T, d)
        Feature matrix of the training rows.
    y : array_like, shape (T,), optional
        The training labels, synthetic rows included.  Without labels the teacher is a flat
        prior ``w0_j^2 = signal / sum_j s_j`` and ``sigma`` is required.
    n : int
        Generation of the synthetic labels, ``>= 0``.  ``n = 0``: the labels are clean (every
        row real, ``p = 0`` and no synthetic row in the mask); ``T0`` and ``sigma0`` are then
        not needed, and the choice is the clean-data one (leave-one-out on the rows).
    T0 : float
        Samples per generator fit, ``>= 1`` (a real size, as in
        :func:`kernelcollapse.theory.test_error`).
    sigma0 : float
        Label noise of each generator, ``>= 0``.
    lam0, mode, fresh
        The generators, as in :func:`kernelcollapse.theory.test_error`.  The chain
        (``n``, ``T0``, ``sigma0`` and these) is required, except with labels and a mask that
        leaves at least 50 real rows and 11 more than the rank of ``X`` (centred when
        ``center``): the estimate then rests on the real rows alone, the chain plays no
        part, ``n``, ``T0`` and ``sigma0`` may be omitted and ``chain_used`` is False.
    p : float, optional
        Fraction of synthetic rows, in ``[0, 1]`` (default 1, or the mask's fraction).
    synthetic : array_like of bool, shape (T,), optional
        Which rows are synthetic; ``p`` must then agree with it.
    X_clean, y_clean : array_like, shapes (m, d) and (m,), optional
        A small clean pilot set (real labels, ``m >= 2``), validation rows blended with the
        estimate (see above).
    sigma : float, optional
        Label noise of the real labels; estimated when omitted.
    T : float, optional
        Downstream sample size for the theory; default the rows of ``X``.
    center : bool, default True
        Centre the columns (an unpenalised intercept); ``False``: a model without intercept.
    signal : float, default 1.0
        ``Var(x . w0)`` of the flat prior (only without ``y``).
    lam_bounds : (float, float), optional
        Passed to the searches.
    max_weight : float, default 10.0
        Upper bound of the weight search.
    key : int, default 0
        Seed of the chain's subsets and of the check's draws (a numpy seed): the same key
        gives the same recommendation.

    Returns
    -------
    Recommendation

    Warns
    -----
    UnreliableRecommendation
        When the check cannot vouch for the choice (``reliable`` is False), saying why and
        what would help.

    Raises
    ------
    ValueError
        Bad shapes or values (a mask of the wrong length or not boolean, ``p`` that
        contradicts the mask, a pilot with another number of columns, NaN or infinite values,
        a rank-0 ``X``), ``sigma`` missing without labels, or a noise that the labels cannot
        determine (too few rows for a least-squares residual, typically ``T <= d``, and no
        noise floor visible in the projections: ``docs/theory/optimize.rst``).

    Examples
    --------
    Labels from the third generation of least-squares generators, each fitted on ``T0`` fresh
    rows labelled by its predecessor plus noise:


    >>> import numpy as np, kernelcollapse as kc
    >>> rng = np.random.default_rng(0)
    >>> d, T, T0 = 20, 300, 1000
    >>> w = rng.standard_normal(d) / np.sqrt(d)
    >>> for _ in range(3):
    ...     Xg = rng.standard_normal((T0, d))
    ...     w = np.linalg.lstsq(Xg, Xg @ w + 0.5 * rng.standard_normal(T0), rcond=None)[0]
    >>> X = rng.standard_normal((T, d))
    >>> y = X @ w + 0.5 * rng.standard_normal(T)
    >>> rec = kc.recommend(X, y, n=3, T0=T0, sigma0=0.5)
    >>> rec.reliable, bool(rec.lam > rec.lam_clean)  # more penalty than for clean labels
    (True, True)
    """
    X = _matrix("X", X)
    rows, cols = X.shape
    clean = n is not None and not isinstance(n, bool) and n == 0
    omitted = [name for name, value in (("n", n), ("T0", T0), ("sigma0", sigma0))
               if value is None and not (clean and name != "n")]
    n = None if n is None else v.integer("n", n, minimum=0)
    if n == 0:
        # Clean labels: the chain of a generator that reproduces the truth (noiseless least
        # squares on more rows than columns) adds nothing, so the correction vanishes and the
        # leave-one-out error decides.
        if (synthetic is not None and np.any(np.asarray(synthetic))) or p not in (None, 0, 0.0):
            raise ValueError("n = 0 means clean labels (generation 0 is the teacher): give p=0 "
                             "or no synthetic rows, or the generation n >= 1 of the synthetic "
                             "labels with T0 and sigma0")
        n, T0, sigma0, lam0, p, synthetic = 1, float(10 * (rows + cols) + 10), 0.0, 0.0, 0.0, None
    T0 = None if T0 is None else v.scalar("T0", T0, check=v.sample_size)
    sigma0 = None if sigma0 is None else v.scalar("sigma0", sigma0, check=v.nonnegative)
    lam0 = v.scalar("lam0", lam0, check=v.nonnegative)
    fresh = v.scalar("fresh", fresh, check=v.probability)
    mode = v.choice("mode", mode, MODES)
    signal = v.scalar("signal", signal, check=v.positive)
    max_weight = v.scalar("max_weight", max_weight, check=v.positive)
    key = v.integer("key", key, minimum=0)
    T = float(rows) if T is None else v.scalar("T", T, check=v.sample_size)
    mask, p = _mask_and_fraction(synthetic, p, rows)
    if y is not None:
        y = v.check_finite("y", v.as_float_array("y", y))
        if y.shape != (rows,):
            raise ValueError(f"y must have shape ({rows},) to match X, got {y.shape}")
    if sigma is not None:
        sigma = v.scalar("sigma", sigma, check=v.nonnegative)
    elif y is None:
        raise ValueError("sigma (the label noise) is required when no labels y are given")
    pilot = _pilot_set(X_clean, y_clean, cols)
    if lam_bounds is not None:  # checked in the user's units, for the user's numbers
        lam_bounds = prepare(np.ones(1), np.zeros(1)).penalty_bounds(lam_bounds)
    # The choice is equivariant in the scales of X and y (penalties scale with X's square,
    # errors with y's): it is computed in units where both are 1, so that spectra near the ends
    # of float64's range neither overflow nor underflow, and reported in the user's units.
    x_unit = _rms(X - X.mean(axis=0) if center else X)
    y_unit = 1.0 if y is None else _rms(y - y.mean() if center else y)
    X = X / x_unit
    if y is not None:
        y = y / y_unit
    if pilot is not None:
        pilot = (pilot[0] / x_unit, pilot[1] / y_unit)
    given_sigma = sigma
    sigma = None if sigma is None else sigma / y_unit
    sigma0 = None if sigma0 is None else sigma0 / y_unit
    lam0 = lam0 / x_unit**2  # a penalty, in X's units like lam
    if lam0 > 1e100:  # the generators' fits would square it past float64's range
        raise ValueError(f"lam0={v.plain(lam0 * x_unit**2)} is {lam0:.3g} times the features' "
                         f"mean square ({x_unit**2:.3g}): generators so penalised predict "
                         "the mean; give lam0 in the units of X's square, at most 1e100 times "
                         "its mean square")
    signal = signal / y_unit**2
    if lam_bounds is not None:
        lam_bounds = (lam_bounds[0] / x_unit**2, lam_bounds[1] / x_unit**2)

    mean = X.mean(axis=0) if center else np.zeros(cols)
    Xc = X - mean
    s, V = spectrum(Xc)
    k = s.size
    real_only = _real_rows_suffice(y, mask, k)
    if omitted and not real_only:
        raise ValueError(_chain_required(omitted, y, mask, k))
    if real_only:
        # Placeholders: with the real rows alone neither the noise, the energies nor the
        # objective read the chain (kernelcollapse.tuning._estimate.estimate, Objective.real).
        n = 1 if n is None else n
        T0 = float(rows) if T0 is None else T0
        sigma0 = 0.0 if sigma0 is None else sigma0
    chain = Chain(T0=T0, lam0=lam0, sigma0=sigma0, mode=mode, fresh=fresh)
    estimated = sigma is None
    if y is None:
        q = np.full(k, signal / s.sum())
        b = None
    else:
        yc = y - y.mean() if center else y
        Z = Xc @ V  # the rows in the sample eigenbasis: Z'Z/T = diag(s)
        b = Z.T @ yc / rows
        A = p * np.diag(s) if mask is None else Z[mask].T @ Z[mask] / rows
        # Least-squares generators, each on T0 rows like these: their covariance measured on
        # the user's own rows, in units of the Gaussian one
        measured = ridge = None
        factor = np.eye(k)
        if lam0 == 0 and mode == "replace" and fresh == 0 and not real_only:
            measured = chain_rows(Z, int(T0), key=key)
            factor = measured.factor
        q, sigma_hat = estimate(s, b, A, Z, yc, rows, n, chain, sigma, mask, np.diag(factor))
        if not real_only and lam0 > 0 and mode == "replace" and fresh == 0 and sigma0 > 0:
            # Ridge generators: one fit's move from its teacher measured on these rows against
            # the theory's; the chain's variance and its correction are scaled by the ratio
            ridge = ridge_rows(Z, int(T0), lam0, sigma0, q, key=key)
            if ridge.measured and ridge.ratio != 1.0:
                factor = ridge.ratio * np.eye(k)
                q, sigma_hat = estimate(s, b, A, Z, yc, rows, n, chain, sigma, mask,
                                        np.diag(factor))
        sigma = sigma_hat
        if pilot is not None:
            Xp, yp = pilot
            Zp = (Xp - mean) @ V
            yp = yp - (y.mean() if center else 0.0)
    w0 = np.sqrt(q)
    prob = prepare(s, w0)
    kw = dict(T=T, n=n, sigma=sigma, p=p, **chain._asdict())
    lo, hi = prob.penalty_bounds(lam_bounds)
    if y is None:
        return _in_units(_from_theory(prob, kw, lam_bounds, max_weight, estimated), x_unit,
                         y_unit, given_sigma)
    # The population's dimension: the data's rank when the rows determine it, else the columns.
    chain_se = 0.0
    if measured is not None and measured.measured:
        # the measurement's standard error from one sample of rows to another, and half the
        # extrapolation to T0 (in log) as its uncertainty
        chain_se = math.hypot(measured.rel_se, 0.5 * math.log(measured.extrapolated))
    elif ridge is not None and ridge.measured:
        # the subsets' scatter, and half the correction's scaling (in log): the ratio is
        # measured for one fit's whole move, the chain's bias and variance parts share it
        chain_se = math.hypot(ridge.rel_se, 0.5 * math.log(ridge.ratio))
    objective = Objective(prob, kw, Z, yc, mask, sigma, lo, hi, k if rows > cols else cols,
                           center, pilot=None if pilot is None else (Zp, yp),
                           factor=factor,
                           designs=None if measured is None else measured.designs,
                           chain_scale=1.0 if ridge is None else ridge.ratio,
                           chain_se=chain_se)
    if pilot is not None and objective.real is None:
        objective.use_pilot()
    best = objective.best(max_weight)
    check = objective.assess(best, key=key)
    # rows too few to measure the chain on them leave its law assumed, not checked
    unmeasured = (measured is not None and not measured.measured and objective.real is None
                  and pilot is None)
    reliable = bool(check.regret <= _RELIABLE_REGRET) and not unmeasured
    safest = not reliable and objective.real is None
    if safest:
        # no real rows to validate on (a pilot at most, whose hundred rows can miss the rows
        # that make a penalty costly): the penalty whose regret is smallest in the bad draws
        # of the estimate's own uncertainty, not its point estimate
        best = best._replace(lam=check.safest,
                             error=float(objective.error(check.safest, best.weight)))
    note = _reliability_note(check, reliable, measured, objective, pilot, rows, k, best, ridge,
                             safest, lam_unit=x_unit**2)
    if not reliable:
        warnings.warn(f"recommend: {note}", UnreliableRecommendation, stacklevel=2)
    ones = objective.best_lam(1.0)
    dropped = objective.best_lam(0.0) if mask is not None and 0 < mask.sum() < rows else None
    lam_clean = float(prob.optimal_lambda(**{**kw, "n": 0}, lam_bounds=lam_bounds).lam)
    cv = objective.cv_choice()
    at_clean = float(objective.error(lam_clean, 1.0))
    nan = float("nan")
    return _in_units(Recommendation(
        lam=best.lam, weight=best.weight, error=best.error, lam_clean=lam_clean,
        error_clean_choice=at_clean, lam_cv=cv.lam, error_cv=cv.error,
        lam_unweighted=ones.lam, error_unweighted=ones.error,
        lam_dropped=dropped.lam if dropped else nan,
        error_dropped=dropped.error if dropped else nan, loss=at_clean - best.error,
        eigvals=s, w0=w0, sigma=float(sigma), sigma_estimated=estimated, p=p,
        at_bound=bool(best.lam <= lo * (1 + 1e-9) or best.lam >= hi * (1 - 1e-9)),
        reliable=reliable, reliability=note, regret=float(check.regret),
        pilot_rows=int(check.pilot_rows), chain_used=not real_only), x_unit, y_unit, given_sigma)


def _rms(a: np.ndarray) -> float:
    """Root mean square of ``a`` without overflow or underflow (1 for zeros)."""
    top = float(np.max(np.abs(a), initial=0.0))
    if not top > 0:
        return 1.0
    return top * float(np.sqrt(np.mean((a / top) ** 2)))


def _in_units(rec: Recommendation, x_unit: float, y_unit: float,
              sigma: float | None) -> Recommendation:
    """A recommendation computed on ``X / x_unit`` and ``y / y_unit``, in the user's units
    (``sigma``: the noise the user gave, returned as given)."""
    lam, err = x_unit**2, y_unit**2
    return rec._replace(
        lam=rec.lam * lam, error=rec.error * err, lam_clean=rec.lam_clean * lam,
        error_clean_choice=rec.error_clean_choice * err, lam_cv=rec.lam_cv * lam,
        error_cv=rec.error_cv * err, lam_unweighted=rec.lam_unweighted * lam,
        error_unweighted=rec.error_unweighted * err, lam_dropped=rec.lam_dropped * lam,
        error_dropped=rec.error_dropped * err, loss=rec.loss * err, eigvals=rec.eigvals * lam,
        w0=rec.w0 * (y_unit / x_unit), sigma=rec.sigma * y_unit if sigma is None else sigma)


def _real_rows_suffice(y, mask, k: int) -> bool:
    """Whether the real rows of ``mask`` carry the whole estimate: the objective's leave-one-out
    error over them (``_MIN_REAL_ROWS``) and the noise and energies of their own least-squares
    fit (``k + 1 + _MIN_RESIDUAL_DOF``)."""
    if y is None or mask is None:
        return False
    real = int((~mask).sum())
    return real >= _MIN_REAL_ROWS and real - k - 1 >= _MIN_RESIDUAL_DOF


def _chain_required(omitted, y, mask, k: int) -> str:
    need = max(_MIN_REAL_ROWS, k + 1 + _MIN_RESIDUAL_DOF)
    if y is None:
        why = "without labels y the estimate is the theory's"
    elif mask is None:
        why = "without a mask of the synthetic rows no row is known to be real"
    else:
        why = (f"the mask leaves {int((~mask).sum())} real rows, fewer than the {need} "
               f"(at least {_MIN_REAL_ROWS}, and the rank {k} + {1 + _MIN_RESIDUAL_DOF}) with "
               "which the estimate rests on them alone")
    return (f"{', '.join(omitted)} required (the chain of generators: n, T0, sigma0; --n, --T0, "
            f"--sigma0 on the command line): {why}")


def _reliability_note(check, reliable, measured, objective, pilot, rows, k, choice,
                      ridge=None, safest=False, lam_unit=1.0) -> str:
    """One paragraph: what was checked, what it found, what would help."""
    parts = []
    if objective.real is not None:
        parts.append(f"validated on the {int(objective.real.sum())} real rows"
                     + (f" and {pilot[1].size} pilot rows" if pilot is not None else ""))
    else:
        parts.append("estimated from the labels with the described chain"
                     + (f", blended with {pilot[1].size} pilot rows" if pilot is not None
                        else ""))
    if measured is not None:
        if measured.measured:
            how = ("at T0" if measured.extrapolated == 1.0 else
                   f"on {measured.size} rows and extrapolated to T0 (x{measured.extrapolated:.3g})")
            parts.append(f"the generators' covariance measured on these rows {how}: "
                         f"{float(np.trace(measured.factor)) / k:.3g} times the Gaussian one")
        else:
            parts.append(f"too few rows ({rows}) to measure the generators' covariance on "
                         f"them: the Gaussian one assumed")
    if ridge is not None and ridge.measured:
        at = "T0" if ridge.size == int(objective.kw["T0"]) else f"{ridge.size} rows"
        parts.append(f"one ridge generator's move measured on these rows at {at}: "
                     f"{ridge.ratio:.3g} times the theory's")
    if not np.isfinite(check.regret):
        parts.append("the estimated test error at the choice is not positive: the labels "
                     "carry less than the described chain adds (a chain not as described, or "
                     "too few rows)")
    else:
        parts.append(f"expected excess error {100 * check.regret:.3g}% (vouched within "
                     f"{100 * _RELIABLE_REGRET:.3g}%)")
    if not reliable:
        rows_advised = (f"about {check.pilot_rows} more clean rows" if check.pilot_rows > 0
                        else "clean rows")
        used = (f"the safest penalty {choice.lam * lam_unit:.3g} is used instead; " if safest
                else "")
        parts.append(f"{used}{rows_advised} (X_clean, y_clean) would settle the choice")
    return "; ".join(parts)


# ----------------------------------------------------------------------------------------------
# input
# ----------------------------------------------------------------------------------------------


def _matrix(name: str, value) -> np.ndarray:
    arr = v.check_finite(name, v.as_float_array(name, value))
    if arr.ndim != 2 or arr.shape[0] < 2 or arr.shape[1] < 1:
        raise ValueError(f"{name} must be a 2-D array with at least 2 rows and 1 column, got "
                         f"shape {arr.shape}")
    return arr


def _mask_and_fraction(synthetic, p, rows: int) -> tuple[np.ndarray | None, float]:
    if synthetic is None:
        return None, 1.0 if p is None else v.scalar("p", p, check=v.probability)
    mask = np.asarray(synthetic)
    if mask.dtype != np.bool_:
        raise ValueError(f"synthetic must be a boolean mask (True for synthetic rows), got "
                         f"dtype {mask.dtype}")
    if mask.shape != (rows,):
        raise ValueError(f"synthetic must have shape ({rows},) to match X, got {mask.shape}")
    frac = float(mask.mean())
    if p is not None:
        p = v.scalar("p", p, check=v.probability)
        if abs(p - frac) > 0.5 / rows:
            raise ValueError(f"p={v.plain(p)} contradicts the mask synthetic, which marks "
                             f"{int(mask.sum())} of {rows} rows (p = {frac:.6g}); give one "
                             "of them")
    return mask, frac


def _pilot_set(X_clean, y_clean, cols: int):
    if X_clean is None and y_clean is None:
        return None
    if X_clean is None or y_clean is None:
        raise ValueError("give both X_clean and y_clean for a clean pilot set, or neither")
    Xp = _matrix("X_clean", X_clean)
    if Xp.shape[1] != cols:
        raise ValueError(f"X_clean must have the {cols} columns of X, got {Xp.shape[1]}")
    yp = v.check_finite("y_clean", v.as_float_array("y_clean", y_clean))
    if yp.shape != (Xp.shape[0],):
        raise ValueError(f"y_clean must have shape ({Xp.shape[0]},) to match X_clean, got "
                         f"{yp.shape}")
    return Xp, yp


def _from_theory(prob, kw, lam_bounds, max_weight, estimated) -> Recommendation:
    """Without labels: the theory alone, on the flat prior."""
    best = prob.optimal_weight(max_weight=max_weight, lam_bounds=lam_bounds, **kw)
    clean = prob.optimal_lambda(**{**kw, "n": 0}, lam_bounds=lam_bounds)
    at_clean = float(prob.test_error(lam=float(clean.lam), **kw).total)
    lo, hi = prob.penalty_bounds(lam_bounds)
    lam = float(best.lam)
    nan = float("nan")
    return Recommendation(
        lam=lam, weight=float(best.weight), error=float(best.error),
        lam_clean=float(clean.lam), error_clean_choice=at_clean, lam_cv=nan, error_cv=nan,
        lam_unweighted=float(best.lam_unweighted), error_unweighted=float(best.error_unweighted),
        lam_dropped=float(best.lam_dropped), error_dropped=float(best.error_dropped),
        loss=at_clean - float(best.error), eigvals=prob.eigvals, w0=prob.w0,
        sigma=float(kw["sigma"]), sigma_estimated=estimated, p=kw["p"],
        at_bound=bool(lam <= lo * (1 + 1e-9) or lam >= hi * (1 - 1e-9)))
