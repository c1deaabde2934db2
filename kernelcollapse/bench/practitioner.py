"""A practitioner's benchmark on real data: tuning ridge when part of the labels are synthetic.

Features of the kinds practitioners have (:data:`FEATURE_SETS`): from the MNIST test images,
the raw pixels, the Nystroem features of an RBF and a polynomial kernel, standardised pixels
(sparse, heavy-tailed columns) and binarised pixels (two values); and simulated tabular
designs with a nonlinear target: discrete-valued columns with their one-hot encodings through
random Fourier features, multivariate-t rows (3 degrees of freedom) and a design of condition
number 1e5.  A real target (MNIST: even/odd as +-1), a chain of generators fitted on real
rows, and a downstream ridge trained on labels of which a fraction ``p`` comes from the chain's
``n``-th generation.  The error is the mean square against the real labels on held-out rows.
The tuners compared, each given only what a practitioner has:

* ``cv``: leave-one-out cross-validation on the training labels (scikit-learn's ``RidgeCV``
  when installed, else the same closed-form leave-one-out), exactly as practitioners do it;
* ``recommend``: :func:`kernelcollapse.recommend` from the training labels alone (and the
  mask of the synthetic rows when ``p < 1``): its penalty and synthetic-row weight;
* ``recommend_pilot``: the same with a clean pilot of 100 real rows;
* ``flagged``: the share of repetitions in which ``recommend`` (labels alone) said it could
  not vouch for its choice (``Recommendation.reliable`` False);
* ``best``: the penalty (synthetic rows counted like real ones) with the smallest held-out
  error averaged over the repetitions, in hindsight.

Protocol of one repetition (``key`` and repetition index decide every draw): a fresh split of
the images into a pool and a held-out set; generation 0 is the real labels; generation
``k + 1`` is a ridge fit (``lam0``) on ``T0`` pool rows labelled by generation ``k``'s
predictions plus noise ``sigma0`` (generation 0: the real labels); ``sigma0`` is the residual
noise of the best linear predictor on the whole pool, so that the generators sample labels as
noisy as the real ones (the paper's model, where real and synthetic labels share one noise
level); the downstream rows are ``T`` pool rows, the first ``round(p T)`` labelled by
generation ``n`` (predictions plus ``sigma0`` noise), the others by the real labels.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import NamedTuple

import numpy as np

__all__ = ["FEATURE_SETS", "FLAG_ABOVE", "QUICK_REGIMES", "REGIMES", "SILENT_BELOW",
           "SIMULATED", "SMOKE_REGIMES", "TARGETS", "Regime", "design", "features", "main",
           "markdown", "run", "run_regime"]

# recommend within 10% of the best penalty in hindsight where it does not flag the regime, with
# a clean pilot within 3% everywhere; the flag raised where recommend is over 1.25x, silent
# where it is within 5% (a regime counts as flagged when most of its repetitions are).
TARGETS = {"recommend": 1.10, "recommend_pilot": 1.03}
FLAG_ABOVE, SILENT_BELOW = 1.25, 1.05

# The feature sets: MNIST-based ones need the data; the simulated ones are drawn from ``key``.
FEATURE_SETS = {
    "raw": "MNIST pixels in [0, 1]",
    "rbf": "MNIST, Nystroem features of an RBF kernel (rank 400)",
    "poly": "MNIST, Nystroem features of a cubic polynomial kernel (rank 400)",
    "pixels": "MNIST pixels standardised per column (constant columns dropped)",
    "binary": "MNIST pixels binarised at 0.5 (constant columns dropped)",
    "discrete": "simulated: 10 discrete columns (2-5 values) and 4 one-hot encodings, "
                "through 150 random Fourier features",
    "student_t": "simulated: multivariate t rows (nu = 3), 60 columns, 1/j spectrum",
    "ill_conditioned": "simulated: Gaussian rows, 80 columns, condition number 1e5",
}
SIMULATED = ("discrete", "student_t", "ill_conditioned")


class Regime(NamedTuple):
    """One setting of the benchmark."""

    features: str  # a key of FEATURE_SETS
    T: int
    T0: int
    n: int
    p: float
    lam0: float


# Every regime is tuned as it comes: T below and above the feature dimension, least-squares
# and ridge generators, all-synthetic and mixed labels, early and late generations.
# Least-squares generators on the raw pixels are left out: rarely lit pixels have tiny sample
# variance, and an unpenalised fit puts huge weights on them, so its labels blow up on images
# where they are lit (errors of 1e4): no practitioner fits them so.
REGIMES = tuple(
    Regime(f, *r) for f in ("rbf", "poly") for r in (
        (500, 1500, 3, 1.0, 0.0), (2000, 1500, 3, 1.0, 0.0), (2000, 1500, 10, 0.5, 0.0),
        (500, 1500, 3, 0.5, 0.0), (2000, 600, 5, 0.5, 1e-3), (1000, 600, 5, 1.0, 1e-3),
        # the chain dominates: least-squares generators on T0 = 1.5 d rows, ten generations
        (2000, 600, 10, 1.0, 0.0), (2000, 600, 10, 0.5, 0.0),
        # and the downstream rows are few (T = 2 d and 2.5 d): eight and twenty generations
        (1000, 600, 8, 1.0, 0.0), (800, 600, 20, 1.0, 0.0),
    )) + tuple(Regime("raw", *r) for r in (
        (500, 1500, 3, 1.0, 1e-2), (2000, 1500, 3, 0.5, 1e-2), (1000, 600, 5, 1.0, 1e-2),
    ))
# Rows as practitioners have them.  Pixel sets: ridge generators only (a least-squares fit
# puts huge weights on rarely lit pixels, as on the raw pixels above).
REGIMES += tuple(Regime(f, *r) for f, lam0 in (("pixels", 1e-1), ("binary", 1e-2)) for r in (
    (2000, 1500, 3, 1.0, lam0), (2000, 1500, 5, 0.5, lam0), (1000, 1500, 3, 1.0, lam0),
)) + tuple(Regime(f, *r) for f, T0, lam0 in (("discrete", 400, 1e-3), ("student_t", 200, 1e-2),
                                              ("ill_conditioned", 300, 1e-4)) for r in (
    (600, 400, 3, 1.0, 0.0), (1500, T0, 5, 1.0, 0.0), (1000, T0, 5, 0.5, 0.0),
    (1000, T0, 5, 1.0, lam0),
))
QUICK_REGIMES = (Regime("rbf", 500, 1500, 3, 1.0, 0.0), Regime("raw", 2000, 1500, 3, 0.5, 1e-2))
SMOKE_REGIMES = (Regime("rbf", 300, 600, 2, 0.5, 1e-3),)

_POOL, _HELDOUT, _LANDMARKS, _RANK, _PILOT = 7000, 2000, 1500, 400, 100


def features(kind: str, images: np.ndarray, *, key: int = 0) -> np.ndarray:
    """The feature matrix of all images: raw pixels in [0, 1], standardised pixels, binarised
    pixels, or the Nystroem features (rank 400, 1500 landmarks) of an RBF (median bandwidth)
    or polynomial (degree 3) kernel."""
    from kernelcollapse import kernels

    x = images.reshape(images.shape[0], -1).astype(np.float64)
    if x.max() > 1.0:
        x = x / 255.0
    if kind == "raw":
        return x
    if kind in ("pixels", "binary"):
        if kind == "binary":
            x = (x > 0.5).astype(np.float64)
        sd = x.std(axis=0)
        x = x[:, sd > 0]
        return (x - x.mean(axis=0)) / sd[sd > 0] if kind == "pixels" else x
    rng = np.random.default_rng(key)
    marks = x[rng.choice(x.shape[0], _LANDMARKS, replace=False)]
    if kind == "rbf":
        kern = kernels.rbf(kernels.median_bandwidth(marks, key=key))
    elif kind == "poly":
        kern = kernels.polynomial(3, offset=1.0, scale=kernels.inner_product_scale(marks))
    else:
        raise ValueError(f"features must be one of 'raw', 'rbf', 'poly', 'pixels', 'binary', "
                         f"got {kind!r}")
    K = kernels.gram(kern, marks)
    e, U = np.linalg.eigh(K)
    top = np.argsort(e)[::-1][:_RANK]
    proj = U[:, top] / np.sqrt(e[top])
    out = np.empty((x.shape[0], _RANK))
    for i in range(0, x.shape[0], 2000):
        out[i:i + 2000] = kernels.gram(kern, x[i:i + 2000], marks) @ proj
    return out


def design(kind: str, *, key: int = 0, rows: int = 9000) -> tuple[np.ndarray, np.ndarray]:
    """A simulated tabular data set: features and a nonlinear target with non-Gaussian
    residuals (the first generator is fitted on it, misspecified as on real data)."""
    rng = np.random.default_rng([key, SIMULATED.index(kind)])
    if kind == "discrete":
        values = rng.integers(2, 6, size=10)
        raw = np.column_stack([rng.choice(v, rows, p=rng.dirichlet(np.full(v, 0.7)))
                               for v in values]).astype(np.float64)
        onehot = np.column_stack([(raw[:, j] == u).astype(np.float64) for j in range(4)
                                  for u in np.unique(raw[:, j])])
        z = (raw - raw.mean(axis=0)) / raw.std(axis=0)
        inputs = np.column_stack([z, onehot])
        W = rng.standard_normal((inputs.shape[1], 150)) / math.sqrt(inputs.shape[1])
        b = rng.uniform(0.0, 2.0 * math.pi, 150)
        X = math.sqrt(2.0 / 150) * np.cos(inputs @ W + b)
        signal = np.sin(raw[:, 0]) + 0.05 * raw[:, 1] * raw[:, 2] + 0.3 * (raw[:, 3] > 1)
    elif kind == "student_t":
        d = 60
        g = rng.standard_normal((rows, d)) / np.sqrt(np.arange(1, d + 1))
        X = g / np.sqrt(rng.chisquare(3, rows) / 3)[:, None]
        w = rng.standard_normal(d) / np.sqrt(np.arange(1, d + 1))
        signal = np.tanh(X @ w)
    elif kind == "ill_conditioned":
        d = 80
        X = rng.standard_normal((rows, d)) * np.sqrt(np.geomspace(1.0, 1e-5, d))
        w = rng.standard_normal(d) * np.geomspace(1.0, 1e-1, d)
        signal = X @ w + 0.5 * np.sin(3.0 * X[:, 0])
    else:
        raise ValueError(f"design must be one of {', '.join(map(repr, SIMULATED))}, got "
                         f"{kind!r}")
    # residuals of a skewed law (centred exponential), as a real target's are rarely Gaussian
    noise = 0.3 * (rng.exponential(1.0, rows) - 1.0)
    return X, signal + noise


def _ridge(X, y, lam, weight=None):
    """Ridge with an unpenalised intercept, the library's normalisation, row weights."""
    from kernelcollapse.estimator import weighted_ridge

    return weighted_ridge(X, y, lam, np.ones(X.shape[0]) if weight is None else weight, True)


def _ridge_path(X, y, lams):
    """Coefficients and intercepts for every penalty, from one decomposition."""
    T = X.shape[0]
    mx, my = X.mean(axis=0), y.mean()
    Xc = X - mx
    e, Q = np.linalg.eigh(Xc.T @ Xc / T)
    c = Q.T @ (Xc.T @ (y - my) / T)
    coefs = (Q @ (c[:, None] / (e[:, None] + lams[None, :]))).T  # (L, d)
    return coefs, my - coefs @ mx


def _cv_lam(X, y, lams) -> float:
    """Leave-one-out cross-validation on the training labels, as practitioners run it."""
    T = X.shape[0]
    try:
        from sklearn.linear_model import RidgeCV
    except ModuleNotFoundError:
        RidgeCV = None
    if RidgeCV is not None:
        return float(RidgeCV(alphas=T * lams).fit(X, y).alpha_) / T
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    U, sv, _ = np.linalg.svd(Xc, full_matrices=False)
    s2 = sv**2
    Uy = U.T @ yc
    best, arg = np.inf, lams[0]
    for lam in lams:
        f = s2 / (s2 + T * lam)
        resid = yc - U @ (f * Uy)
        lever = (U * U) @ f + 1.0 / T
        loo = float(np.mean((resid / (1.0 - lever)) ** 2))
        if loo < best:
            best, arg = loo, lam
    return float(arg)


def run_regime(feats: np.ndarray, target: np.ndarray, regime: Regime, *, reps: int = 20,
               key: int = 0, lams=None, progress=None) -> dict:
    """The held-out errors of every tuner over ``reps`` repetitions of one regime."""
    from kernelcollapse.exceptions import UnreliableRecommendation
    from kernelcollapse.tuning import recommend

    lams = np.logspace(-7, 1, 49) if lams is None else np.asarray(lams)
    lams = lams * float(np.var(feats, axis=0).sum())  # scale with the features' trace
    N = feats.shape[0]
    sigma0 = _noise_level(feats, target)
    out = {m: [] for m in ("cv", "recommend", "recommend_pilot", "grid", "weight", "sigma",
                           "flagged")}
    for r in range(reps):
        rng = np.random.default_rng([key, r])
        perm = rng.permutation(N)
        pool, held = perm[:_POOL], perm[_POOL:_POOL + _HELDOUT]
        Xh, yh = feats[held], target[held]
        # the chain, fitted on pool rows; generation 0 is the real labels
        coef, icpt = None, 0.0
        for _ in range(regime.n):
            idx = rng.choice(pool, regime.T0, replace=False)
            lab = target[idx] if coef is None else (
                feats[idx] @ coef + icpt + sigma0 * rng.standard_normal(regime.T0))
            coef, icpt = _ridge(feats[idx], lab, regime.lam0)
        rows = rng.choice(pool, regime.T + _PILOT, replace=False)
        train, pilot = rows[:regime.T], rows[regime.T:]
        X = feats[train]
        m = int(math.floor(regime.p * regime.T + 0.5))
        mask = np.arange(regime.T) < m
        y = target[train].astype(np.float64).copy()
        y[mask] = X[mask] @ coef + icpt + sigma0 * rng.standard_normal(m)

        def held_err(c, b, Xh=Xh, yh=yh):
            return float(np.mean((Xh @ c + b - yh) ** 2))

        coefs, icpts = _ridge_path(X, y, lams)
        out["grid"].append([held_err(c, b) for c, b in zip(coefs, icpts)])
        lam_cv = _cv_lam(X, y, lams)
        out["cv"].append(held_err(*_ridge(X, y, lam_cv)))
        kw = dict(n=regime.n, T0=regime.T0, sigma0=sigma0, lam0=regime.lam0,
                  synthetic=mask if 0 < m < regime.T else None, p=None if 0 < m < regime.T
                  else regime.p)
        for name, extra in (("recommend", {}),
                            ("recommend_pilot", dict(X_clean=feats[pilot],
                                                     y_clean=target[pilot]))):
            with warnings.catch_warnings():  # the verdict is recorded, not printed
                warnings.simplefilter("ignore", UnreliableRecommendation)
                rec = recommend(X, y, **kw, **extra)
            wts = np.where(mask, rec.weight, 1.0)
            out[name].append(held_err(*_ridge(X, y, rec.lam, wts)))
            if name == "recommend":
                out["weight"].append(rec.weight)
                out["sigma"].append(rec.sigma)
                out["flagged"].append(not rec.reliable)
        if progress is not None:
            progress(r)
    grid = np.asarray(out["grid"]).mean(axis=0)
    best = float(grid.min())
    summary = {m: float(np.mean(out[m])) for m in ("cv", "recommend", "recommend_pilot")}
    return dict(regime=regime._asdict(), reps=reps, sigma0=sigma0, best=best,
                best_lam=float(lams[int(np.argmin(grid))]),
                ratio={m: summary[m] / best for m in summary}, mean_error=summary,
                mean_weight=float(np.mean(out["weight"])),
                mean_sigma=float(np.mean(out["sigma"])),
                flagged=float(np.mean(out["flagged"])))


def _noise_level(feats, target) -> float:
    """Residual noise of the best linear predictor (small ridge) on all the images."""
    coef, icpt = _ridge(feats, target.astype(np.float64), 1e-8 * float(np.var(feats, 0).sum()))
    return float(np.std(feats @ coef + icpt - target))


def run(regimes=QUICK_REGIMES, *, reps: int = 20, key: int = 0, data_dir=None,
        progress=print, on_result=None, done=None) -> list[dict]:
    """Every regime on the MNIST test set; one result dict per regime (``on_result`` is called
    with the list after each, so that a long run writes as it goes).  ``done``: results of an
    earlier run with the same ``reps`` and ``key`` (a regime's result is a function of them),
    reused for the regimes they cover instead of being computed again."""
    from kernelcollapse import datasets
    from kernelcollapse.realdata import parity_target

    previous = {tuple(r["regime"].values()): r for r in (done or [])}
    mn = None
    if any(r.features not in SIMULATED for r in regimes):
        mn = datasets.mnist(datasets.mnist_dir(data_dir, "test"), split="test")
        mnist_target = parity_target(mn.labels)
    cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    results = []
    for regime in regimes:
        if tuple(regime) in previous:
            results.append(previous[tuple(regime)])
            if progress is not None:
                progress(f"{regime}: done in an earlier run")
            continue
        if regime.features not in cache:
            cache[regime.features] = (design(regime.features, key=key)
                                      if regime.features in SIMULATED else
                                      (features(regime.features, mn.images, key=key),
                                       mnist_target))
        res = run_regime(*cache[regime.features], regime, reps=reps, key=key)
        results.append(res)
        if on_result is not None:
            on_result(results)
        if progress is not None:
            progress(f"{regime}: ratio " + ", ".join(f"{k} {v:.3f}"
                                                     for k, v in res["ratio"].items())
                     + f"  weight {res['mean_weight']:.3f} sigma {res['mean_sigma']:.3f} "
                     f"(sigma0 {res['sigma0']:.3f}) flagged {res.get('flagged', 0.0):.2f}")
    return results


def markdown(results: list[dict], *, meta: dict | None = None) -> str:
    """The report: one row per regime, the ratios to the best penalty in hindsight, the share
    of repetitions flagged, and the targets met or missed."""
    lines = ["# Tuning on real data with synthetic labels", ""]
    if meta:
        lines += [f"{k}: {v}" for k, v in meta.items()] + [""]
    used = dict.fromkeys(r["regime"]["features"] for r in results)
    lines += ["Features: " + "; ".join(f"`{f}`: {FEATURE_SETS.get(f, f)}" for f in used) + ".",
              "",
              "Ratio of the mean held-out error (against the real labels) to that of the best "
              "penalty in hindsight, synthetic rows counted like real ones; below 1, the "
              "recommended weight of the synthetic rows beats every such penalty. `flagged`: "
              "the share of repetitions in which recommend (labels alone) could not vouch for "
              "its choice; a regime counts as flagged when most are. Targets: recommend <= "
              f"{TARGETS['recommend']:.2f} where the regime is not flagged; flagged where "
              f"recommend > {FLAG_ABOVE:.2f}; not flagged where recommend <= "
              f"{SILENT_BELOW:.2f}; recommend with a 100-row clean pilot <= "
              f"{TARGETS['recommend_pilot']:.2f}.", "",
              "| features | T | T0 | n | p | lam0 | reps | cv | recommend | flagged |"
              " recommend + pilot | weight | best error |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    missed = []
    for r in results:
        g, q = r["regime"], r["ratio"]
        flagged = r.get("flagged", 0.0)
        marks = {m: "" for m in ("recommend", "recommend_pilot", "flagged")}
        checks = (
            ("recommend", flagged <= 0.5 and q["recommend"] > TARGETS["recommend"],
             "recommend over target, not flagged"),
            ("flagged", q["recommend"] > FLAG_ABOVE and flagged <= 0.5,
             "not flagged at recommend over " + f"{FLAG_ABOVE:.2f}"),
            ("flagged", q["recommend"] <= SILENT_BELOW and flagged > 0.5,
             f"flagged at recommend within {SILENT_BELOW:.2f}"),
            ("recommend_pilot", q["recommend_pilot"] > TARGETS["recommend_pilot"],
             "pilot over target"))
        for col, bad, why in checks:
            if bad:
                marks[col] = " (missed)"
                missed.append(f"{why} in {g}")
        lines.append(f"| {g['features']} | {g['T']} | {g['T0']} | {g['n']} | {g['p']:g} | "
                     f"{g['lam0']:g} | {r['reps']} | {q['cv']:.3f} | "
                     f"{q['recommend']:.3f}{marks['recommend']} | "
                     f"{flagged:.2f}{marks['flagged']} | "
                     f"{q['recommend_pilot']:.3f}{marks['recommend_pilot']} | "
                     f"{r['mean_weight']:.3f} | {r['best']:.4f} |")
    lines += ["", "Targets met in every regime." if not missed else
              f"Targets missed ({len(missed)}): " + "; ".join(missed) + "."]
    return "\n".join(lines) + "\n"


def main(out_dir, *, size: str = "full", data_dir=None, progress=print,
         fresh: bool = False) -> list[dict]:
    """Run the regimes of ``size`` ("full": all, 20 repetitions; "quick"; "smoke") and write
    ``practitioner[_SIZE].json`` and ``.md`` into ``out_dir``, after every regime.  An
    interrupted run resumes: the regimes of an existing results file (same repetitions and
    key) are kept, the others computed (``fresh=True``: all of them again)."""
    import json
    import time
    from pathlib import Path

    from kernelcollapse.bench.suite import machine_info

    regimes, reps = {"full": (REGIMES, 20), "quick": (QUICK_REGIMES, 8),
                     "smoke": (SMOKE_REGIMES, 2)}[size]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = "practitioner" if size == "full" else f"practitioner_{size}"
    meta = {"date (UTC)": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            "machine": machine_info().get("cpu", ""), "reps": reps, "key": 0}
    done = None
    path = out_dir / f"{name}.json"
    if not fresh and path.exists():
        old = json.loads(path.read_text())
        if all(old.get("meta", {}).get(k) == meta[k] for k in ("reps", "key")):
            done = old["results"]
            meta = {**old["meta"], "resumed (UTC)": meta["date (UTC)"]}

    def write(results):
        # each file replaced whole (a kill leaves the previous version, never half of one)
        for suffix, text in ((".json", json.dumps(dict(meta=meta, results=results),
                                                   indent=1) + "\n"),
                             (".md", markdown(results, meta=meta))):
            tmp = out_dir / f".{name}{suffix}.tmp"
            tmp.write_text(text)
            os.replace(tmp, out_dir / f"{name}{suffix}")

    return run(regimes, reps=reps, key=meta["key"], data_dir=data_dir, progress=progress,
               on_result=write, done=done)
