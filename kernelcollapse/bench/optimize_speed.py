"""Speed of :func:`kernelcollapse.optimal_lambda` against the previous implementation.

The reference (:func:`reference_optimal_lambda`) is the search as the library ran it before
the prepared problem: every step called the public, validating
:func:`kernelcollapse.test_error`, which validated and compressed the spectrum and recomputed
the generator chain each time, and refined the coarse grid's minimum by 32 golden-section
steps in ``log lam``, each solving ``kappa`` again.  Both are run on the same problems; the
report gives their times, the ratio (target: at least 5) and the largest difference of the
errors found (the two must agree to the refinement's tolerance).

``python -m kernelcollapse.bench.optimize_speed [--quick] [--out DIR]`` or
``kernelcollapse bench --optimize``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

__all__ = ["CASES", "QUICK_CASES", "markdown", "reference_optimal_lambda", "run"]

# (name, d, beta, grid of T, grid of n): one search, and a figure-sized grid of searches.
CASES = (
    ("one search, d = 200", 200, 1.5, [400.0], [5]),
    ("one search, d = 2000", 2000, 1.5, [400.0], [5]),
    ("one search, d = 20000", 20000, 1.5, [400.0], [5]),
    ("ridge generators, d = 2000", 2000, 1.5, [400.0], [5]),
    ("50 T x 5 n, d = 2000", 2000, 1.5, list(np.logspace(2, 4, 50)), [0, 1, 2, 3, 4]),
)
QUICK_CASES = CASES[:2] + CASES[3:4]
TARGET = 5.0
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def reference_optimal_lambda(eigvals, w0, *, T, T0, n, sigma, sigma0, lam0=0.0,
                             points_per_decade=8, xtol=1e-7):
    """The previous algorithm, kept to measure against: ``(lam, error)`` arrays."""
    from kernelcollapse import theory

    lo, hi = 1e-10 * float(np.max(eigvals)), 1e2 * float(np.max(eigvals))
    T, T0, n, lam0 = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64)
                                           for x in (T, T0, n, lam0)))
    flat = dict(T=T.ravel(), T0=T0.ravel(), n=n.ravel().astype(np.int64), lam0=lam0.ravel())

    def total(log_lam):
        return np.asarray(theory.test_error(eigvals, w0, lam=np.exp(log_lam), sigma=sigma,
                                            sigma0=sigma0, **flat).total)

    decades = math.log10(hi / lo)
    grid = np.linspace(math.log(lo), math.log(hi),
                       max(3, int(math.ceil(decades * points_per_decade)) + 1))
    err = total(grid[:, None])
    G, m = err.shape
    i = np.argmin(err, axis=0)
    e_grid = err[i, np.arange(m)]
    a, b = grid[np.maximum(i - 1, 0)], grid[np.minimum(i + 1, G - 1)]
    steps = max(1, math.ceil(math.log(xtol / (2 * (grid[1] - grid[0]))) / math.log(_GOLDEN)))
    c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    f = total(np.stack([c, d]))
    fc, fd = f[0], f[1]
    for _ in range(steps):
        left = fc < fd
        a, b = np.where(left, a, c), np.where(left, d, b)
        c_old, d_old, fc_old, fd_old = c, d, fc, fd
        c = np.where(left, b - _GOLDEN * (b - a), d_old)
        d = np.where(left, c_old, a + _GOLDEN * (b - a))
        f_new = total(np.where(left, c, d))
        fc = np.where(left, f_new, fd_old)
        fd = np.where(left, fc_old, f_new)
    e_ref = np.minimum(fc, fd)
    better = e_ref < e_grid
    lam = np.exp(np.where(better, np.where(fc < fd, c, d), grid[i]))
    return lam, np.where(better, e_ref, e_grid)


def _best_of(fn, repeats: int) -> float:
    fn()  # warm: imports, caches
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def run(*, quick: bool = False, repeats: int = 5, progress=None) -> dict:
    """Time both implementations on every case; a dict for the JSON report."""
    from kernelcollapse import optimal_lambda, power_law

    rows = []
    for name, d, beta, Ts, ns in (QUICK_CASES if quick else CASES):
        eigvals, w0 = power_law(d, beta, 0.5)
        lam0 = 0.05 if "ridge" in name else 0.0
        kw = dict(T=np.asarray(Ts), T0=800.0, n=np.asarray(ns)[:, None], sigma=0.5,
                  sigma0=1.0, lam0=lam0)
        new = optimal_lambda(eigvals, w0, **kw)
        ref_lam, ref_err = reference_optimal_lambda(eigvals, w0, **kw)
        t_new = _best_of(lambda e=eigvals, w=w0, kw=kw: optimal_lambda(e, w, **kw), repeats)
        t_ref = _best_of(lambda e=eigvals, w=w0, kw=kw: reference_optimal_lambda(e, w, **kw),
                         max(1, repeats // 2))
        new_err = np.asarray(new.error).ravel()
        rel = float(np.max(np.abs(new_err - ref_err) / ref_err))
        rows.append(dict(case=name, d=d, points=int(np.size(new.lam)), new_s=t_new,
                         reference_s=t_ref, ratio=t_ref / t_new, max_rel_error_diff=rel,
                         new_not_worse=bool(np.all(new_err <= ref_err * (1 + 1e-10)))))
        if progress is not None:
            progress(f"{name}: {t_ref:.4f} s -> {t_new:.4f} s ({t_ref / t_new:.1f}x)")
    return dict(cases=rows, target=TARGET,
                met=bool(all(r["ratio"] >= TARGET for r in rows)))


def markdown(results: dict) -> str:
    lines = ["# optimal_lambda: speed against the previous implementation", "",
             f"Target: at least {results['target']:g}x on every case.", "",
             "| case | points | previous (s) | now (s) | ratio | max rel. error diff |"
             " now <= previous |",
             "|---|---|---|---|---|---|---|"]
    for r in results["cases"]:
        lines.append(f"| {r['case']} | {r['points']} | {r['reference_s']:.4f} | "
                     f"{r['new_s']:.4f} | {r['ratio']:.1f} | {r['max_rel_error_diff']:.1e} | "
                     f"{'yes' if r['new_not_worse'] else 'no'} |")
    lines += ["", f"Target {'met' if results['met'] else 'missed'} on "
              f"{'every case' if results['met'] else 'at least one case'}."]
    return "\n".join(lines) + "\n"


def main(out_dir: Path, *, quick: bool = False) -> dict:
    from kernelcollapse.bench.suite import machine_info

    res = run(quick=quick, progress=print)
    res["machine"] = machine_info()
    res["date_utc"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = "optimize_quick" if quick else "optimize"
    (out_dir / f"{name}.json").write_text(json.dumps(res, indent=1) + "\n")
    (out_dir / f"{name}.md").write_text(markdown(res))
    return res
