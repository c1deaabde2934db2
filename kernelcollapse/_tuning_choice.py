"""The choice of the penalty and the synthetic-row weight on a practitioner's data (trusted core
of :mod:`kernelcollapse.tuning`): leave-one-out errors of the weighted ridge fits on the
training labels, corrected by the theory (or read on the real rows alone), minimised over the
penalty and the weight.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from kernelcollapse import _chain, _fit


class _Choice(NamedTuple):
    lam: float
    weight: float
    error: float


# Penalties per decade of the grid each weight's leave-one-out curve is evaluated on, and
# golden-section steps in log lam around its minimum (to 1e-3 relative).
_LAMS_PER_DECADE = 6
_LAM_STEPS = 18
# Subsets of T0 rows on which the least-squares chain's covariance is measured.
_CHAIN_SUBSETS = 16
# The pilot recalibrates the theory's correction only when the correction spans this many
# times the error's minimum over the penalties (measured on MNIST: 2 where it only added noise,
# 7 and more where the chain dominated).
_CALIBRATE_ABOVE = 4.0
# Real rows from which the leave-one-out error on them alone decides (its relative standard
# error is then below ~20% per penalty, and far smaller for differences between penalties).
_MIN_REAL_ROWS = 50
# Weights tried: 0, then log-spaced from 1e-2 to max_weight; golden-section steps in between.
_WEIGHTS_PER_DECADE = 4
_WEIGHT_STEPS = 12


class Objective:
    r"""The estimated test error of the fit with penalty ``lam`` and synthetic weight ``w``:

    .. math::  \hat E(\lambda, \omega) = \mathrm{LOO}(\lambda, \omega) - \sigma^2
               + 2 p\, \mathrm{cross}(\lambda, \omega) - p\, \mathrm{shift},

    ``LOO`` the leave-one-out error of the fit on the training labels (exact for weighted
    ridge: residual ``r_i / (1 - H_ii)``), which estimates the error against the labels' own
    mixture of targets plus the noise, and ``2 p cross - p shift`` the theory's difference
    between that and the error against the truth (:class:`kernelcollapse._error.Parts`).  The
    data decide the bias and variance of the fit (no plug-in spectrum there), the theory only
    what the synthetic targets change.  With a mask leaving at least 50 real rows the
    leave-one-out error is taken over the real rows only: it is then unbiased for the test
    error plus the noise by itself, whatever the chain did."""

    def __init__(self, prob, kw, Z, yc, mask, sigma, lo, hi, d: int, center: bool,
                 pilot=None):
        self.prob, self.kw, self.Z, self.yc, self.mask = prob, kw, Z, yc, mask
        self.center = center
        self.pilot = pilot  # (Zp, yp): clean rows in the sample basis, centred like yc
        self.sig2 = float(sigma) ** 2
        self.lo, self.hi = lo, hi
        self._decomposed: dict[float, tuple] = {}
        self._best: dict[tuple, _Choice] = {}
        self.real = None
        if mask is not None and int((~mask).sum()) >= _MIN_REAL_ROWS:
            self.real = ~mask
        self.calibration = 1.0
        setting = _chain.Setting(kw["T0"], kw["lam0"], kw["sigma0"], kw["fresh"], kw["mode"])
        # Least-squares generators on T0 > d + 1 rows (d the number of features): unbiased,
        # with the exact variance sigma0^2 h_n Sigma^-1 (kernelcollapse._chain.exact_h).
        self.h = None
        self.chain_var = None
        self.s = np.einsum("ij,ij->j", Z, Z) / Z.shape[0]
        T0 = int(round(setting.T0))
        if (setting.lam0 == 0 and setting.mode == "replace" and setting.fresh == 0
                and Z.shape[0] >= T0 + 10 and T0 > Z.shape[1] + 1):
            # The chain's covariance n sigma0^2 E[(X'X)^-1] over T0 rows, measured on draws
            # of the user's rows (the generators saw rows like them): features that are not
            # Gaussian make it larger than the inverse-Wishart mean of the theory.  Draws of
            # T0 of the T rows are not fresh rows (with replacement they repeat rows, which
            # inflates the inverse; without, they vary less as T0 nears T), so the same draws
            # are made from Gaussian rows of the same covariance, whose answer is known exactly
            # (diag(1/s) / (T0 - k - 1)), and the measurement is divided by that procedure's
            # own bias, direction by direction.
            k = Z.shape[1]
            rng = np.random.default_rng(0)  # a fixed resampling: a function of the data
            gauss = rng.standard_normal(Z.shape) * np.sqrt(self.s)
            acc, ref = np.zeros(k), np.zeros(k)
            for _ in range(_CHAIN_SUBSETS):
                idx = rng.choice(Z.shape[0], T0, replace=True)
                if np.unique(idx).size <= k + 1:  # a singular draw: use the theory
                    acc = None
                    break
                acc += np.diag(np.linalg.inv(Z[idx].T @ Z[idx]))
                ref += np.diag(np.linalg.inv(gauss[idx].T @ gauss[idx]))
            if acc is not None:
                exact = 1.0 / (self.s * (T0 - k - 1))
                self.chain_var = kw["n"] * setting.sigma0**2 * exact * acc / ref
        if setting.lam0 == 0 and setting.T0 > d + 1:
            self.h = float(setting.sigma0**2 * _chain.exact_h(setting, d,
                                                               np.array([kw["n"]]))[0])
        self.d = d

    def _decompose(self, w: float):
        """Eigen-decomposition of ``Z' Omega Z / T`` for the weight ``w``, cached."""
        hit = self._decomposed.get(w)
        if hit is None:
            # two T x k arrays a weight: keep weight 1 (every alternative is read there) and
            # the weight being searched, not every weight tried
            for old in [x for x in self._decomposed if x != 1.0]:
                del self._decomposed[old]
            T = self.Z.shape[0]
            om = np.ones(T) if self.mask is None else np.where(self.mask, w, 1.0)
            Zw = self.Z * om[:, None]
            e, Q = np.linalg.eigh(Zw.T @ self.Z / T)
            ZQ = self.Z @ Q
            # the intercept's own leverage (weighted mean), 0 without one
            icpt = om / om.sum() if self.center else np.zeros(T)
            hit = (np.maximum(e, 0.0), ZQ, (ZQ * om[:, None]).T @ self.yc / T,
                   (ZQ * ZQ) * om[:, None] / T, icpt, Q)
            self._decomposed[w] = hit
        return hit

    def loo(self, lams, w: float, *, dof: bool = False, rows=None):
        """Leave-one-out error over ``rows`` (default all), and the fit's degrees of
        freedom ``tr(H)`` with ``dof``."""
        e, ZQ, c, H_parts, icpt, _ = self._decompose(w)
        inv = 1.0 / (e[:, None] + lams[None, :])  # (k, L)
        resid = self.yc[:, None] - ZQ @ (c[:, None] * inv)
        lever = H_parts @ inv
        free = 1.0 - lever - icpt[:, None]
        sq = (resid / free) ** 2
        out = np.mean(sq if rows is None else sq[rows], axis=0)
        # Near interpolation both the residual and 1 - H_ii vanish like lam, and their ratio is
        # read off a difference of numbers near 1: a penalty where a row's 1 - H_ii falls
        # below 1e-7 is not trusted (it is the interpolating fit, never the tuned one).
        considered = free if rows is None else free[rows]
        out = np.where(np.min(considered, axis=0) > 1e-7, out, np.inf)
        return (out, lever.sum(axis=0)) if dof else out

    def correction(self, lams, w: float, df=None) -> np.ndarray:
        prob, kw = self.prob, self.kw
        if self.chain_var is not None and w == 1.0:
            # Least-squares chain, its covariance C measured on the data (see __init__); with
            # every row weighted alike E[R^-1 A] = p (I - lam R^-1) = p diag(s/(s + lam)) in
            # the sample basis, so 2 p cross - p shift = p sum_j s_j C_jj (2 p s_j/(s_j + lam)
            # - 1), the test covariance taken as the training one.
            s = self.s
            p = kw["p"]
            frac = s[:, None] / (s[:, None] + lams[None, :])
            return p * ((s * self.chain_var) @ (2.0 * p * frac - 1.0))
        if self.h is not None:
            # cross = p g sigma0^2 h df1(kappa), and df1(kappa) of the population is the fit's
            # own degrees of freedom tr(R^-1 X' Omega X / T) (leave-one-out identity), read off
            # the data: no plug-in spectrum.
            if df is None:
                _, df = self.loo(lams, w, dof=True)
            p, T = kw["p"], self.Z.shape[0]
            g = _fit.gains(df / T, p, w).g
            return 2.0 * p * p * g * self.h * df - p * self.h * self.d
        g = prob._grid(**{**kw, "lam": lams, "weight": w})
        gen, b_rows, S_rows = prob._generator_rows(g)
        parts = prob._evaluate(prob._kappa(g.lam, g.T, g.p, g.weight), g, gen, b_rows,
                               S_rows)
        return 2.0 * g.p * parts.cross - g.p * parts.shift

    def pilot_error(self, lams, w: float) -> np.ndarray:
        """Mean square error of the fits on the clean pilot rows (an unbiased estimate of the
        test error plus the noise)."""
        e, _, c, _, _, Q = self._decompose(w)
        Zp, yp = self.pilot
        coef = Q @ (c[:, None] / (e[:, None] + lams[None, :]))
        return np.mean((yp[:, None] - Zp @ coef) ** 2, axis=0)

    def error(self, lams, w: float):
        lams = np.atleast_1d(np.asarray(lams, dtype=np.float64))
        if self.real is not None:  # validation on the real rows: unbiased, no chain model
            n_real = int(self.real.sum())
            out = self.loo(lams, w, rows=self.real)
            if self.pilot is not None:  # and on the pilot rows, count for count
                m = self.pilot[1].size
                out = (n_real * out + m * self.pilot_error(lams, w)) / (n_real + m)
            out = out - self.sig2
        else:
            loo, df = self.loo(lams, w, dof=True)
            out = loo - self.sig2 + self.calibration * self.correction(lams, w, df)
        return out if out.size > 1 else float(out[0])

    def calibrate(self) -> None:
        """Scale the theory's correction so that the pilot's errors, less the leave-one-out
        error, follow it over a grid of penalties (least squares with a free constant, the
        noise).  A pilot of a hundred rows is noisy: the scale is used only when it is two
        bootstrap standard errors (over the pilot rows) from 1, shrunk towards 1 by
        ``1 - se^2 / (b - 1)^2`` (James-Stein), and kept in [0, 3]."""
        grid = np.geomspace(self.lo, self.hi, 41)
        loo, df = self.loo(grid, 1.0, dof=True)
        ok = np.isfinite(loo)
        corr = self.correction(grid, 1.0, df)[ok]
        if corr.size < 3 or np.ptp(corr) <= 0:
            return
        # Only where the synthetic targets dominate the choice (the correction spans several
        # times the error's own minimum): elsewhere a hundred pilot rows move the choice more by
        # their noise than by what they correct.
        if np.ptp(corr) < _CALIBRATE_ABOVE * np.min(loo[ok] - self.sig2 + corr):
            return
        cc = corr - corr.mean()
        e, _, c, _, _, Q = self._decompose(1.0)
        Zp, yp = self.pilot
        sq = (yp[:, None] - Zp @ (Q @ (c[:, None] / (e[:, None] + grid[None, :])))) ** 2
        sq = sq[:, ok]

        def slope(rows):
            diff = sq[rows].mean(axis=0) - loo[ok]
            return float(cc @ (diff - diff.mean()) / (cc @ cc))

        b = slope(np.arange(yp.size))
        rng = np.random.default_rng(0)  # a fixed resampling: the result is a function of data
        boot = [slope(rng.integers(0, yp.size, yp.size)) for _ in range(64)]
        se2 = float(np.var(boot))
        gap = (b - 1.0) ** 2
        if gap <= 4.0 * se2:  # not two standard errors away from the theory's own scale
            return
        self.calibration = float(np.clip(1.0 + (b - 1.0) * (1.0 - se2 / gap), 0.0, 3.0))

    def best_lam(self, w: float) -> _Choice:
        """The penalty of least estimated error at weight ``w`` (cached: the weight search
        and the alternatives of :func:`kernelcollapse.recommend` ask for the same weights)."""
        key = (w, self.calibration)
        if key not in self._best:
            self._best[key] = self._best_lam(w)
        return self._best[key]

    def _best_lam(self, w: float) -> _Choice:
        decades = math.log10(self.hi / self.lo)
        grid = np.geomspace(self.lo, self.hi, int(math.ceil(decades * _LAMS_PER_DECADE)) + 1)
        err = self.error(grid, w)
        i = int(np.argmin(err))
        a, b = math.log(grid[max(i - 1, 0)]), math.log(grid[min(i + 1, grid.size - 1)])
        x, fx = _golden(lambda t: self.error(math.exp(t), w), a, b, _LAM_STEPS)
        if fx < err[i]:
            return _Choice(math.exp(x), w, fx)
        return _Choice(float(grid[i]), w, float(err[i]))

    def best(self, max_weight: float) -> _Choice:
        if self.mask is None or not 0 < self.mask.sum() < self.mask.size:
            return self.best_lam(1.0)  # the rows cannot be weighted, or all weigh alike
        decades = math.log10(max_weight / 1e-2)
        weights = np.r_[0.0, np.geomspace(1e-2, max_weight,
                                          int(math.ceil(decades * _WEIGHTS_PER_DECADE)) + 1)]
        tried = [self.best_lam(float(w)) for w in weights]
        i = int(np.argmin([c.error for c in tried]))
        lo = math.log(max(weights[max(i - 1, 0)], 1e-3))
        hi = math.log(weights[min(i + 1, weights.size - 1)])
        memo: dict[float, _Choice] = {}

        def f(t):
            memo[t] = self.best_lam(math.exp(t))
            return memo[t].error

        t, ft = _golden(f, lo, hi, _WEIGHT_STEPS)
        return memo[t] if ft < tried[i].error else tried[i]

    def cv_choice(self) -> _Choice:
        """What cross-validation on the training labels picks (weight 1): the minimiser of
        the leave-one-out error itself, and its estimated error against the truth."""
        decades = math.log10(self.hi / self.lo)
        grid = np.geomspace(self.lo, self.hi, int(math.ceil(decades * _LAMS_PER_DECADE)) + 1)
        loo = self.loo(grid, 1.0)
        i = int(np.argmin(loo))
        a, b = math.log(grid[max(i - 1, 0)]), math.log(grid[min(i + 1, grid.size - 1)])
        t, _ = _golden(lambda t: float(self.loo(np.array([math.exp(t)]), 1.0)[0]), a, b,
                       _LAM_STEPS)
        lam = math.exp(t)
        return _Choice(lam, 1.0, self.error(lam, 1.0))


def _golden(f, a: float, b: float, steps: int) -> tuple[float, float]:
    """Golden-section minimisation of ``f`` on ``[a, b]``: ``(x, f(x))`` of the best point."""
    g = (math.sqrt(5.0) - 1.0) / 2.0
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(steps):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(d)
    return (c, fc) if fc < fd else (d, fd)
