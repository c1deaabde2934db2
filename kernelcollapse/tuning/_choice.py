"""The choice of the penalty and the synthetic-row weight on a practitioner's data (trusted core
of :mod:`kernelcollapse.tuning`): leave-one-out errors of the weighted ridge fits on the
training labels, corrected by the theory (or read on the real rows alone), minimised over the
penalty and the weight.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from kernelcollapse.theory import prepare
from kernelcollapse.tuning._estimate import Chain, chain_moments, sample_basis_shrink


class _Choice(NamedTuple):
    lam: float
    weight: float
    error: float


class Assessment(NamedTuple):
    """What :meth:`Objective.assess` finds."""

    regret: float  # expected excess error of the choice, relative (inf: no positive error)
    pilot_rows: int  # clean rows that would bring it within 3%
    error: float  # the estimated error at the choice
    safest: float  # the penalty of least regret at the draws' 90th percentile


class _Blend(NamedTuple):
    """The reference of the pilot blend: the estimate's own choice ``lam_0`` (weight 1)."""

    error: float  # the estimate there
    pilot: np.ndarray  # (m,) square errors of its fit on the pilot rows
    r: np.ndarray  # (k,) s / (s + lam_0)
    spread: np.ndarray  # (k,) the estimate's variance per unit of r^2 (see use_pilot)
    correction: float = 0.0  # the correction there (its scale is known to chain_se)


# Penalties per decade of the grid each weight's leave-one-out curve is evaluated on, and
# golden-section steps in log lam around its minimum (to 1e-3 relative).
_LAMS_PER_DECADE = 6
_LAM_STEPS = 18
# Real rows from which the leave-one-out error on them alone decides (its relative standard
# error is then below ~20% per penalty, and far smaller for differences between penalties).
_MIN_REAL_ROWS = 50
# Weights tried: 0, then log-spaced from 1e-2 to max_weight; golden-section steps in between.
_WEIGHTS_PER_DECADE = 4
_WEIGHT_STEPS = 12
# The assessment: penalties on its grid, draws of the estimate's error, the expected regret a
# pilot's advice aims at, and the most rows it advises (doubling up to it).
_ASSESS_POINTS = 41
_DRAWS = 400
_PILOT_TARGET = 0.03
_SAFE_QUANTILE = 0.9
_MAX_PILOT_ADVICE = 1 << 20
# A non-positive estimated error at the choice contradicts the described chain only when fewer
# than this share of the draws of its own error (the realised chain, the leave-one-out rows)
# give a positive one: a two-sided 95% check of the level, which the long chains' realised
# shift alone moves by several times the test error.
_LEVEL_TAIL = 0.025


def _resampled(rng, centred: np.ndarray) -> np.ndarray:
    """The error ``eps = estimate - truth`` of a mean over rows, per penalty, in ``_DRAWS``
    bootstrap draws: rows reweighted by Poisson(1) counts, so that the truth of a draw is a
    resampled mean.  Unlike Gaussian multipliers it cannot carry a curve below what its
    other rows give when one row's square error dominates it (near interpolation)."""
    counts = rng.poisson(1.0, size=(_DRAWS, centred.shape[0])).astype(np.float64)
    return -(counts @ centred) / np.maximum(counts.sum(axis=1), 1.0)[:, None]


class Objective:
    r"""The estimated test error of the fit with penalty ``lam`` and synthetic weight ``w``:

    .. math::  \hat E(\lambda, \omega) = \mathrm{LOO}(\lambda, \omega) - \sigma^2
               + 2 p\, \mathrm{cross}(\lambda, \omega) - p\, \mathrm{shift},

    ``LOO`` the leave-one-out error of the fit on the training labels (exact for weighted
    ridge: residual ``r_i / (1 - H_ii)``), which estimates the error against the labels' own
    mixture of targets plus the noise, and ``2 p cross - p shift`` the theory's difference
    between that and the error against the truth (:class:`kernelcollapse.theory._error.Parts`).  The
    data decide the bias and variance of the fit (no plug-in spectrum there), the theory only
    what the synthetic targets change.  With a mask leaving at least 50 real rows the
    leave-one-out error is taken over the real rows only: it is then unbiased for the test
    error plus the noise by itself, whatever the chain did.  Without them, a clean pilot is
    blended in by :meth:`use_pilot`."""

    def __init__(self, prob, kw, Z, yc, mask, sigma, lo, hi, d: int, center: bool,
                 pilot=None, factor=None, designs=None, chain_scale=1.0, chain_se=0.0):
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
        self.blend: _Blend | None = None  # set by use_pilot
        self.s = np.einsum("ij,ij->j", Z, Z) / Z.shape[0]
        k = Z.shape[1]
        self.factor = np.eye(k) if factor is None else factor
        # (B, k): diag F of single generator designs (chain_rows), or None: the chain's
        # variance per direction drawn from them instead of fixed at its mean
        self.designs = designs if designs is not None and len(designs) > 1 else None
        # ridge generators: the theory's correction times the measured ratio of one fit's
        # move on rows like the user's to the theory's (ridge_rows; 1 otherwise)
        self.chain_scale = float(chain_scale)
        # the relative standard error of the chain's measured scale (chain_rows, ridge_rows):
        # the correction is known up to that factor
        self.chain_se = float(chain_se)
        # Least-squares generators on T0 > d + 1 rows (d the number of features): unbiased,
        # with Cov(w_n - w0) Sigma = sigma0^2 h_n F (PreparedProblem.chain_moments), F the
        # chain's covariance on rows like the user's in units of the Gaussian one (chain_rows,
        # measured by recommend for the replace workflow; the identity otherwise).
        self.K = None
        if kw["lam0"] == 0 and kw["T0"] > d + 1:
            # the exact chain's variance on a unit spectrum: sigma0^2 h_n per coordinate
            unit = prepare(np.ones(d), np.zeros(d)).chain_moments(
                T0=kw["T0"], n=kw["n"], sigma0=kw["sigma0"], mode=kw["mode"], fresh=kw["fresh"])
            self.K = float(unit.variance[0]) * self.factor
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
            cross = None
            if self.K is not None:
                # tr(R^-1 A_w K) = sum_l u_l / (e_l + lam), A_w the synthetic rows' weighted
                # Gram (a share p of the Gram without a mask)
                if self.mask is None:
                    A = self.kw["p"] * (self.Z.T @ self.Z) / T
                else:
                    Zs = self.Z[self.mask]
                    A = w * (Zs.T @ Zs) / T
                cross = np.einsum("lj,lj->l", Q.T @ A, (self.K @ Q).T)
            hit = (np.maximum(e, 0.0), ZQ, (ZQ * om[:, None]).T @ self.yc / T,
                   (ZQ * ZQ) * om[:, None] / T, icpt, Q, cross)
            self._decomposed[w] = hit
        return hit

    def loo(self, lams, w: float, *, rows=None):
        """Leave-one-out error over ``rows`` (default all)."""
        e, ZQ, c, H_parts, icpt, _, _ = self._decompose(w)
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
        return out

    def correction(self, lams, w: float) -> np.ndarray:
        prob, kw = self.prob, self.kw
        if self.K is not None:
            # cross = E<w - w0, w_n - w0>_Sigma = tr(R^-1 A_w K) given the design, shift =
            # E||w_n - w0||^2_Sigma = tr(K): no plug-in spectrum
            e, *_, u = self._decompose(w)
            cross = (u[None, :] / (e[None, :] + lams[:, None])).sum(axis=1)
            return 2.0 * kw["p"] * cross - kw["p"] * float(np.trace(self.K))
        ev = prob.evaluator(**{**kw, "lam": lams, "weight": w})
        parts = ev.at_kappa(ev.kappa(ev.lam))
        return self.chain_scale * (2.0 * ev.p * parts.cross - ev.p * parts.shift)

    def pilot_errors(self, lams, w: float) -> np.ndarray:
        """Square errors of the fits on each clean pilot row, shape ``(m, len(lams))``: their
        mean estimates the test error plus the noise without bias."""
        e, _, c, _, _, Q, _ = self._decompose(w)
        Zp, yp = self.pilot
        coef = Q @ (c[:, None] / (e[:, None] + lams[None, :]))
        return (yp[:, None] - Zp @ coef) ** 2

    def error(self, lams, w: float):
        lams = np.atleast_1d(np.asarray(lams, dtype=np.float64))
        if self.real is not None:  # validation on the real rows: unbiased, no chain model
            n_real = int(self.real.sum())
            out = self.loo(lams, w, rows=self.real)
            if self.pilot is not None:  # and on the pilot rows, count for count
                m = self.pilot[1].size
                out = (n_real * out + m * self.pilot_errors(lams, w).mean(axis=0)) / (n_real + m)
            out = out - self.sig2
        else:
            out = self._estimate(lams, w)
            if self.blend is not None:
                out = self._blended(lams, w, out)
        return out if out.size > 1 else float(out[0])

    def _estimate(self, lams, w: float) -> np.ndarray:
        return self.loo(lams, w) - self.sig2 + self.correction(lams, w)

    def chain_spread(self) -> np.ndarray:
        """``gamma_j`` of :meth:`use_pilot`: the variance, per unit of ``(r_j - r_j')^2``, that
        the realised chain gives the estimate's change between two penalties."""
        s, q, kw = self.s, self.prob.w0**2, self.kw
        T, k = self.Z.shape
        if self.K is not None:  # unbiased least squares: s_j v_j = K_jj
            c, v = np.zeros(k), np.diag(self.K) / s
        else:
            # the moments estimate() ended on (its last iteration's q is prob's)
            chain = Chain(**{name: kw[name] for name in Chain._fields})
            c, v = chain_moments(s, q, kw["n"], chain, np.diag(self.factor))
            v = v * sample_basis_shrink(T, k)
        p = kw["p"]
        return (4.0 * p * p * s * s * v * (q * (1.0 + 2.0 * p * c) ** 2 + 2.0 * p * p * v)
                + 4.0 * p * p * s * self.sig2 * (c * c * q + v) / T)

    def _chain_draws(self, r: np.ndarray, key, at: int | None = None):
        r"""The realised chain's error of the estimated curve, ``(draws, penalties)``, for an
        unbiased least-squares chain: ``delta = w_n - E w_n`` drawn with its full covariance
        ``K Sigma^-1`` (the measured one: off the sample basis' diagonal too), scaled per draw
        by the chain's spread over the generators' designs (``n`` of the measured ones), and
        the estimate's error ``sum_j r_j 2p s_j (p delta_j^2 + (w_0j + xi_j) delta_j)`` less
        its mean, ``xi`` the fit's noise part, exactly (not linearised as in ``gamma``).  With
        ``at`` (a column of ``r``), also the realised chain's error of the estimated level there,
        the part common to every penalty included (``(draws,)``): the realised shift
        ``||w_n - w_0||^2_Sigma`` scatters about its mean ``tr K`` by far more than the curve's
        changes between penalties when the chain is long."""
        rng = np.random.default_rng([key, 1])
        T, k = self.Z.shape
        p, s = self.kw["p"], self.s
        cov = self.K / s[None, :]
        e, U = np.linalg.eigh(0.5 * (cov + cov.T))
        root = U * np.sqrt(np.maximum(e, 0.0))
        delta = rng.standard_normal((_DRAWS, k)) @ root.T
        if self.designs is not None:
            traces = self.designs.sum(axis=1)
            gens = rng.integers(traces.size, size=(_DRAWS, int(self.kw["n"])))
            delta *= np.sqrt(traces[gens].mean(axis=1) / traces.mean())[:, None]
        xi = rng.standard_normal((_DRAWS, k)) * np.sqrt(self.sig2 / (T * s))
        u = 2.0 * p * s * (p * delta**2 + (self.prob.w0 + xi) * delta)
        curve = (u - u.mean(axis=0)) @ r
        if at is None:
            return curve
        # The level at the choice: what the curve's draws leave out as common to every
        # penalty, 2p cross - p shift realised less expected, with cross = sum_j s_j [r_j (p
        # delta_j^2 + (w_0j + xi_j) delta_j) - w_0j delta_j] and shift = sum_j s_j delta_j^2
        v = u @ r[:, at] - p * (s * (2.0 * self.prob.w0 * delta + delta**2)).sum(axis=1)
        return curve, v - v.mean()

    def _row_errors(self, lams, w: float, rows=None) -> np.ndarray:
        """Square leave-one-out residuals per row, shape ``(rows, len(lams))``."""
        e, ZQ, c, H_parts, icpt, _, _ = self._decompose(w)
        inv = 1.0 / (e[:, None] + lams[None, :])
        resid = self.yc[:, None] - ZQ @ (c[:, None] * inv)
        sq = (resid / (1.0 - H_parts @ inv - icpt[:, None])) ** 2
        return sq if rows is None else sq[rows]

    def assess(self, choice: _Choice, *, key=0) -> Assessment:
        r"""The expected excess error of the choice over the best penalty, given what the
        estimate knows of its own uncertainty, and the clean rows that would settle it.

        On a grid of penalties (and the choice), the estimated curve ``E_a`` is off by a
        Gaussian error ``eps_a`` whose law the estimate knows: without validation rows
        ``eps_a = sum_j r_ja sqrt(gamma_j) g_j`` (the realised chain, :meth:`chain_spread`;
        for a least-squares chain drawn exactly instead, :meth:`_chain_draws`; the part
        common to every penalty leaves the choice alone), plus the leave-one-out
        curve's sampling error over the training rows, plus ``chain_se`` times the
        correction's change (the measured chain's scale), shrunk by a clean pilot's blend;
        with validation rows their sampling error (a Poisson bootstrap of the rows).
        The regret is ``E[(E - eps)_choice - min_b (E - eps)_b]`` over draws of ``eps``,
        relative to the estimated error.  ``pilot_rows``: the clean rows whose sampling
        variance, blended in, would bring it within 3% (the training rows' own spread of
        square errors standing in for theirs without a pilot)."""
        w = choice.weight
        grid = np.unique(np.r_[np.geomspace(self.lo, self.hi, _ASSESS_POINTS), choice.lam])
        est = np.atleast_1d(self.error(grid, w))
        ok = np.isfinite(est)
        grid, est = grid[ok], est[ok]
        at = int(np.argmin(np.abs(np.log(grid / choice.lam))))
        scale = float(est[at])
        # the regret is relative to the mean square error of predictions on new real rows,
        # the test error plus the noise: what a practitioner measures on held-out data
        per = max(scale, 0.0) + self.sig2
        if scale <= 0 and self.pilot is not None:
            # the pilot's mean square error measures it without bias, whatever the estimate
            per = float(np.mean(self.pilot_errors(np.array([grid[at]]), w)))
            scale = per
        chain_draws = None
        consistent = scale > 0
        if self.real is not None:
            sq = self._row_errors(grid, w, self.real)
            if self.pilot is not None:
                sq = np.vstack([sq, self.pilot_errors(grid, w)])
            rows_sq, count = sq - sq.mean(axis=0), sq.shape[0]
            chain_part = None
        else:
            r = self.s[:, None] / (self.s[:, None] + grid[None, :])
            spread = self.chain_spread() if self.blend is None else self.blend.spread
            chain_part = r * np.sqrt(np.maximum(spread, 0.0))[:, None]  # (k, L)
            train = self._row_errors(grid, w)
            train_sq = train - train.mean(axis=0)  # the leave-one-out curve's own sampling
            if self.K is not None and self.blend is None:
                # (B, L), exact in the draws; and the level at the choice, whose realised
                # chain and leave-one-out sampling decide whether a non-positive estimate
                # contradicts the described chain or is within its own scatter
                chain_draws, level = self._chain_draws(r, key, at)
                level = scale + level - _resampled(np.random.default_rng([key, 3]),
                                                   train_sq[:, [at]])[:, 0]
                if scale <= 0 and np.mean(level > 0) >= _LEVEL_TAIL:
                    # the mean square error on new real rows at least the noise: the level's
                    # positive draws, and the noise alone where a draw is not positive
                    per = self.sig2 + float(np.mean(np.maximum(level, 0.0)))
                    consistent = True
            corr = self.correction(grid, w) if self.chain_se > 0 else None
            sq = self.pilot_errors(grid, w) if self.pilot is not None else train
            rows_sq = sq - sq.mean(axis=0)
            count = sq.shape[0] if self.pilot is not None else 0

        def regret(extra_rows: int) -> float:
            """Expected relative regret with ``extra_rows`` more clean rows blended in."""
            rng = np.random.default_rng(key)  # the same draws for every extra_rows
            rows_eps = _resampled(rng, rows_sq)  # one row set's error, (B, L)
            n_rows = count + extra_rows
            if chain_part is None:
                eps = rows_eps * math.sqrt(count / n_rows)
            else:
                if chain_draws is not None:
                    eps = chain_draws.copy()
                else:
                    eps = rng.standard_normal((_DRAWS, chain_part.shape[0])) @ chain_part
                eps = eps + _resampled(rng, train_sq)
                if corr is not None:
                    eps = eps + self.chain_se * rng.standard_normal((_DRAWS, 1)) * corr
                eps = eps - eps[:, [at]]  # only changes between penalties matter
                if n_rows > 0:
                    # rows_eps: the error of a mean over rows_sq.shape[0] rows; over n_rows
                    pil = (rows_eps - rows_eps[:, [at]]) * math.sqrt(rows_sq.shape[0] / n_rows)
                    v_c, v_p = eps.var(axis=0), pil.var(axis=0)
                    with np.errstate(invalid="ignore", divide="ignore"):
                        f = np.where(v_c + v_p > 0, v_p / (v_c + v_p), 1.0)
                    eps = eps * np.sqrt(f)
            truth = est[None, :] - eps
            excess = truth - truth.min(axis=1, keepdims=True)  # (B, L): each penalty's regret
            return float(np.mean(excess[:, at]) / per), excess

        relative, excess = regret(0)
        # the safest penalty: least regret at the 90th percentile of the draws (minimax up to
        # the draws' tail), which leans to the side where a wrong penalty costs least
        safest = float(grid[int(np.argmin(np.quantile(excess, _SAFE_QUANTILE, axis=0)))])
        bound = relative if consistent else np.inf
        need = 0
        if relative > _PILOT_TARGET and per > 0:
            need = 1
            while regret(need)[0] > _PILOT_TARGET and need < _MAX_PILOT_ADVICE:
                need *= 2
            lo = need // 2  # then bisect: regret falls with the rows
            while need - lo > max(1, need // 16):
                mid = (lo + need) // 2
                lo, need = (lo, mid) if regret(mid)[0] <= _PILOT_TARGET else (mid, need)
        return Assessment(bound, need, scale, safest)

    def use_pilot(self) -> None:
        r"""Blend the estimate with the clean pilot's errors (without real rows to validate on).

        Both estimate the change of the test error from the estimate's own choice
        :math:`\lambda_0`: the estimate with an error that the realised chain
        :math:`\delta = \hat w_n - E\hat w_n` decides, the pilot with its sampling error.
        They are combined with inverse-variance weights.  With :math:`r_j = s_j/(s_j+\lambda)`
        and synthetic share ``p``, the estimate's error is :math:`p\sum_j s_j[\delta_j^2
        (2pr_j - 1) - 2(1 - r_j)w_{0j}\delta_j + 2\xi_j\delta_j]` less its mean (``xi`` the
        fit's noise part), whose variance for a change of penalty is, for independent Gaussian
        :math:`\delta_j` of mean :math:`c_j w_{0j}` and variance :math:`v_j`,

        .. math::  V(\lambda) = \sum_j (r_j(\lambda) - r_j(\lambda_0))^2\,\gamma_j,\quad
                   \gamma_j = 4p^2 s_j^2 v_j[w_{0j}^2(1 + 2pc_j)^2 + 2p^2 v_j]
                   + 4p^2 s_j \sigma^2 (c_j^2 w_{0j}^2 + v_j)/T.

        Where the pilot disagrees with the estimate by more than both variances explain (the
        model of the chain is off: rows less Gaussian than assumed, a chain not the one
        described), ``V`` is scaled up until the squared disagreements over a grid of
        penalties average to their variance (a method-of-moments fit, as in random-effects
        meta-analysis), and never down.  Weights other than 1 take the variance of weight 1
        at the same penalty (it only sets the blend's weights; both terms stay unbiased)."""
        ref = self.best_lam(1.0)
        spread = self.chain_spread()
        s = self.s
        self.blend = _Blend(ref.error, self.pilot_errors(np.array([ref.lam]), 1.0)[:, 0],
                            s / (s + ref.lam), spread,
                            float(self.correction(np.array([ref.lam]), 1.0)[0])
                            if self.chain_se > 0 else 0.0)
        grid = np.geomspace(self.lo, self.hi, 41)
        est = self._estimate(grid, 1.0)
        ok = np.isfinite(est)
        d_est, v_est, d_pilot, v_pilot = self._differences(grid[ok], 1.0, est[ok])
        v_scale = self._scale_variance(grid[ok])  # not scaled: the measurement's own
        v_est = v_est - v_scale
        keep = v_est + v_scale + v_pilot > 0
        gap2 = (d_pilot - d_est)[keep] ** 2
        v_est, v_scale, v_pilot = v_est[keep], v_scale[keep], v_pilot[keep]

        def excess(scale):  # decreasing in the scale
            return float(np.mean(gap2 / (scale * v_est + v_scale + v_pilot))) - 1.0

        if gap2.size and excess(1.0) > 0:
            from scipy.optimize import brentq

            hi = 2.0
            while excess(hi) > 0 and hi < 1e12:
                hi *= 4.0
            scale = brentq(excess, 1.0, hi) if excess(hi) <= 0 else hi
            self.blend = self.blend._replace(spread=spread * scale)

    def _differences(self, lams, w: float, est):
        """Changes from the reference penalty of the estimate and of the pilot's error, and
        their variances."""
        ref = self.blend
        diff = self.pilot_errors(lams, w) - ref.pilot[:, None]
        r = self.s[:, None] / (self.s[:, None] + lams[None, :])
        v_est = ((r - ref.r[:, None]) ** 2 * ref.spread[:, None]).sum(axis=0)
        v_est = v_est + self._scale_variance(lams)
        return est - ref.error, v_est, diff.mean(axis=0), diff.var(axis=0, ddof=1) / diff.shape[0]

    def _scale_variance(self, lams) -> np.ndarray:
        """The variance the measured chain's scale gives the estimate's change from the
        blend's reference: ``(chain_se (corr(lam) - corr(lam_0)))^2`` at weight 1."""
        if self.chain_se <= 0:
            return np.zeros(np.size(lams))
        change = self.correction(np.atleast_1d(lams), 1.0) - self.blend.correction
        return (self.chain_se * change) ** 2

    def _blended(self, lams, w: float, est) -> np.ndarray:
        d_est, v_est, d_pilot, v_pilot = self._differences(lams, w, est)
        total = v_est + v_pilot
        with np.errstate(invalid="ignore"):  # an untrusted (infinite) estimate stays so
            d = np.where(total > 0, (v_pilot * d_est + v_est * d_pilot)
                         / np.where(total > 0, total, 1.0), 0.0)
        return np.where(np.isfinite(est), self.blend.error + d, np.inf)

    def best_lam(self, w: float) -> _Choice:
        """The penalty of least estimated error at weight ``w`` (cached: the weight search
        and the alternatives of :func:`kernelcollapse.recommend` ask for the same weights)."""
        key = (w, self.blend is not None)
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
