"""Figure 15: mixed real and synthetic rows with ridge generators, and how much to trust the
synthetic rows.

Left: the test error of a downstream ridge trained on ``T`` rows of which a fraction ``p`` are
labelled by the ``n``-th generation of a chain of ridge generators fitted on ``T0 < d`` rows
(over-parametrised and biased: the tails of the teacher vanish), the rest real; theory
(:func:`kernelcollapse.test_error`, the mixed-data fit map of ``docs/theory/mixed.rst``) as
lines, simulation as markers.  Right: the weight ``omega*`` of the synthetic rows that
minimises the error together with the penalty (:func:`kernelcollapse.optimal_weight`), and the
errors of the two corners a practitioner would otherwise choose from, counting synthetic rows
like real ones and dropping them, relative to the optimum.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kernelcollapse.figures import check_size, save_figure, style, write_csv

__all__ = ["NAME", "SIZES", "TITLE", "compute", "run"]

NAME = "mixed_weighted"
TITLE = "Mixed data with ridge generators: error vs p, and the optimal weight of synthetic rows"

SIZES = {
    "tiny": {"d": 24, "T": 60, "T0": 16, "n": [1, 4], "p": [0.25, 0.5, 0.75, 1.0],
             "p_dense": np.linspace(0.05, 0.95, 7), "seeds": 80},
    "quick": {"d": 80, "T": 200, "T0": 50, "n": [1, 3, 10], "p": [0.1, 0.3, 0.5, 0.7, 0.9, 1.0],
              "p_dense": np.linspace(0.05, 0.95, 19), "seeds": 100},
    "full": {"d": 200, "T": 500, "T0": 120, "n": [1, 3, 10, 30],
             "p": [0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0], "p_dense": np.linspace(0.02, 0.98, 49),
             "seeds": 300},
}
LAM = 0.02
LAM0 = 0.02
SIGMA = 0.5
SIGMA0 = 0.5
KEY = 15


def compute(*, size: str = "quick", progress: bool = True) -> list[dict]:
    """CSV rows: ``kind="simulation"`` (error vs p, theory and simulation) and
    ``kind="weight"`` (the optimal weight and the corners vs p, theory)."""
    from tqdm.auto import tqdm

    from kernelcollapse import optimal_weight, power_law, prepare
    from kernelcollapse.simulator import simulate

    cfg = SIZES[check_size(size)]
    d, ns = cfg["d"], np.array(cfg["n"])
    eigvals, w0 = power_law(d, 1.0, 0.5)
    prob = prepare(eigvals, w0)
    common = dict(d=d, T=cfg["T"], T0=cfg["T0"], lam0=LAM0, sigma=SIGMA, sigma0=SIGMA0)
    kw = dict(T=cfg["T"], T0=cfg["T0"], lam0=LAM0, sigma=SIGMA, sigma0=SIGMA0)
    # p T whole rows, as the simulator labels them
    ps = np.floor(np.array(cfg["p"]) * cfg["T"] + 0.5) / cfg["T"]
    rows = []
    bar = tqdm(total=2, desc=f"{NAME} ({size})", disable=not progress)
    th = prob.test_error(n=ns[:, None], p=ps, lam=LAM, **kw).total
    sim = simulate(eigvals, w0, n=ns[:, None], p=ps, lam=LAM, seeds=cfg["seeds"], key=KEY, **kw)
    bar.update()
    for i, n in enumerate(ns):
        for j, p in enumerate(ps):
            rows.append({**common, "kind": "simulation", "n": int(n), "p": float(p), "lam": LAM,
                         "seeds": cfg["seeds"], "sim_mean": float(sim.mean[i, j]),
                         "sim_stderr": float(sim.stderr[i, j]), "theory": float(th[i, j]),
                         "weight": 1.0, "error_unweighted": float("nan"),
                         "error_dropped": float("nan")})
    pd = np.asarray(cfg["p_dense"])
    best = optimal_weight(eigvals, w0, n=ns[:, None], p=pd, **kw)
    bar.update()
    for i, n in enumerate(ns):
        for j, p in enumerate(pd):
            rows.append({**common, "kind": "weight", "n": int(n), "p": float(p),
                         "lam": float(best.lam[i, j]), "seeds": 0, "sim_mean": float("nan"),
                         "sim_stderr": float("nan"), "theory": float(best.error[i, j]),
                         "weight": float(best.weight[i, j]),
                         "error_unweighted": float(best.error_unweighted[i, j]),
                         "error_dropped": float(best.error_dropped[i, j])})
    bar.close()
    return rows


def _plot(rows, path: Path) -> Path:
    sim = [r for r in rows if r["kind"] == "simulation"]
    wts = [r for r in rows if r["kind"] == "weight"]
    ns = list(dict.fromkeys(r["n"] for r in sim))
    r0 = rows[0]
    with style() as plt:
        fig, (ax, bx, cx) = plt.subplots(1, 3, figsize=(16.0, 4.6))
        colors = plt.cm.viridis(np.linspace(0, 0.85, len(ns)))
        for color, n in zip(colors, ns):
            sel = [r for r in sim if r["n"] == n]
            ps = [r["p"] for r in sel]
            ax.errorbar(ps, [r["sim_mean"] for r in sel], yerr=[r["sim_stderr"] for r in sel],
                        fmt="o", ms=4, color=color)
            ax.plot(ps, [r["theory"] for r in sel], "-", color=color, label=f"n={n}")
            sel = [r for r in wts if r["n"] == n]
            ps = [r["p"] for r in sel]
            bx.plot(ps, [r["weight"] for r in sel], "-", color=color, label=f"n={n}")
            cx.plot(ps, [r["error_unweighted"] / r["theory"] for r in sel], "--", color=color,
                    label=rf"n={n}: counted like real ($\omega$=1)")
            cx.plot(ps, [r["error_dropped"] / r["theory"] for r in sel], ":", color=color,
                    label=rf"n={n}: dropped ($\omega$=0)")
        ax.set_xlabel("fraction p of synthetic rows")
        ax.set_ylabel(r"test error $E\,\|\hat w - w_0\|_\Sigma^2$")
        ax.set_yscale("log")
        ax.set_title(f"ridge generators ($\\lambda_0$={r0['lam0']:g}) on $T_0$={r0['T0']} < "
                     f"d={r0['d']}, downstream T={r0['T']}, $\\lambda$={LAM:g}\n"
                     "lines theory, markers simulation")
        ax.legend()
        bx.set_xlabel("fraction p of synthetic rows")
        bx.set_ylabel(r"optimal weight $\omega^*$ of the synthetic rows")
        bx.set_ylim(bottom=0)
        bx.set_title("how much to trust synthetic rows\n(theory, penalty optimised jointly)")
        bx.legend()
        cx.set_xlabel("fraction p of synthetic rows")
        cx.set_ylabel(r"error of the corner / error at $\omega^*$")
        cx.set_title("what the two usual choices cost (each at its best penalty)")
        cx.legend(fontsize=7)
        return save_figure(fig, path)


def run(out_dir: str | Path, *, size: str = "quick", progress: bool = True) -> list[Path]:
    """Compute figure 15 and write ``mixed_weighted.csv`` and ``.png`` into ``out_dir``."""
    out_dir = Path(out_dir)
    rows = compute(size=size, progress=progress)
    return [write_csv(out_dir / f"{NAME}.csv", rows), _plot(rows, out_dir / f"{NAME}.png")]
