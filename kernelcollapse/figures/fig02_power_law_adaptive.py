"""Figure 2: power-law spectrum with adaptive regularisation ``lam = T^-ell_crit``.

Setting: ``s_j = j^-beta``, source condition ``s_j w0_j^2 ~ j^(-1-2 beta r)``
(:func:`kernelcollapse.power_law`), least-squares generators on a fixed ``T0 > d`` with noise
``sigma0``, downstream ridge ``lam = T^-ell_crit`` with ``ell_crit = beta/(1 + 2 beta r)``
(:func:`kernelcollapse.theory.scaling.critical_exponent`).  Test error against ``T`` (log-log) for
several generations ``n``: the clean error decays at the minimax rate, while with synthetic
labels the collapse term ``n sigma0^2 (T/T0) T^-(1 - ell/beta)`` makes it level off and grow.
Theory: note (B) (lines, dense in ``T``); simulation: means with standard-error bars.

References: Dohmatob, Feng & Kempe (2024), Section 5; ``docs/theory`` (B), (E).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kernelcollapse.figures import check_size, save_figure, style, write_csv

__all__ = ["NAME", "SIZES", "TITLE", "compute", "run"]

NAME = "power_law_adaptive"
TITLE = "Power-law spectrum, lam = T^-ell_crit: test error vs T for several n"

SIZES = {
    "tiny": {"d": 30, "T0": 90, "T": [20, 80], "n": [0, 4], "seeds": 40},
    "quick": {"d": 100, "T0": 200, "T": [40, 150, 600], "n": [0, 1, 4, 10], "seeds": 40},
    "full": {"d": 300, "T0": 600, "T": [50, 100, 200, 400, 800, 1600, 3200],
             "n": [0, 1, 2, 5, 10, 20], "seeds": 200},
}
BETA = 2.0
R = 0.5
SIGMA = 0.5
SIGMA0 = 0.5
KEY = 2


def compute(*, size: str = "quick", progress: bool = True) -> list[dict]:
    """Simulation rows (one per T, n) and dense theory rows."""
    from tqdm.auto import tqdm

    from kernelcollapse import power_law, prepare
    from kernelcollapse.simulator import simulate
    from kernelcollapse.theory.scaling import critical_exponent

    cfg = SIZES[check_size(size)]
    d, ns = cfg["d"], np.array(cfg["n"])
    eigvals, w0 = power_law(d, BETA, R)
    prob = prepare(eigvals, w0)  # compressed once, chains cached across calls
    ell = critical_exponent(BETA, R)
    common = {"d": d, "beta": BETA, "r": R, "ell_crit": ell, "T0": cfg["T0"], "sigma": SIGMA,
              "sigma0": SIGMA0}
    rows = []
    for T in tqdm(cfg["T"], desc=f"{NAME} ({size})", disable=not progress):
        lam = float(T) ** -ell
        sim = simulate(eigvals, w0, T=T, T0=cfg["T0"], n=ns, lam=lam, sigma=SIGMA,
                       sigma0=SIGMA0, seeds=cfg["seeds"], key=KEY)
        th = prob.test_error(T=T, T0=cfg["T0"], n=ns, lam=lam, sigma=SIGMA,
                             sigma0=SIGMA0)
        for i, n in enumerate(ns):
            rows.append({**common, "kind": "simulation", "T": T, "n": int(n), "lam": lam,
                         "seeds": cfg["seeds"], "sim_mean": float(sim.mean[i]),
                         "sim_stderr": float(sim.stderr[i]), "theory": float(th.total[i])})
    T_dense = np.unique(np.round(np.logspace(np.log10(min(cfg["T"])),
                                             np.log10(max(cfg["T"])), 40)))
    th = prob.test_error(T=T_dense[None, :], T0=cfg["T0"], n=ns[:, None],
                         lam=T_dense[None, :] ** -ell, sigma=SIGMA, sigma0=SIGMA0)
    for i, n in enumerate(ns):
        for k, T in enumerate(T_dense):
            rows.append({**common, "kind": "theory", "T": int(T), "n": int(n),
                         "lam": float(T ** -ell), "seeds": 0, "sim_mean": float("nan"),
                         "sim_stderr": float("nan"), "theory": float(th.total[i, k])})
    return rows


def _plot(rows, path: Path) -> Path:
    ns = list(dict.fromkeys(r["n"] for r in rows))
    r0 = rows[0]
    with style() as plt:
        fig, ax = plt.subplots(figsize=(6.8, 4.8))
        colors = plt.cm.viridis(np.linspace(0, 0.85, len(ns)))
        for color, n in zip(colors, ns):
            th = [r for r in rows if r["kind"] == "theory" and r["n"] == n]
            sim = [r for r in rows if r["kind"] == "simulation" and r["n"] == n]
            ax.plot([r["T"] for r in th], [r["theory"] for r in th], "-", color=color,
                    label=f"n={n}: theory")
            ax.errorbar([r["T"] for r in sim], [r["sim_mean"] for r in sim],
                        yerr=[r["sim_stderr"] for r in sim], fmt="o", ms=5, color=color,
                        label=f"n={n}: simulation")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("downstream sample size T")
        ax.set_ylabel(r"test error $E\,\|\hat w - w_0\|_\Sigma^2$")
        ax.set_title(f"Power law $s_j=j^{{-\\beta}}$, $\\beta$={r0['beta']:g}, r={r0['r']:g}, "
                     f"d={r0['d']}, $\\lambda=T^{{-\\ell_{{crit}}}}$, "
                     f"$\\ell_{{crit}}$={r0['ell_crit']:.3g}\n"
                     f"least-squares generators, $T_0$={r0['T0']}, $\\sigma$={r0['sigma']:g}, "
                     f"$\\sigma_0$={r0['sigma0']:g}")
        ax.legend(ncol=2)
        return save_figure(fig, path)


def run(out_dir: str | Path, *, size: str = "quick", progress: bool = True) -> list[Path]:
    """Compute figure 2 and write ``power_law_adaptive.csv`` and ``.png`` into ``out_dir``."""
    out_dir = Path(out_dir)
    rows = compute(size=size, progress=progress)
    return [write_csv(out_dir / f"{NAME}.csv", rows), _plot(rows, out_dir / f"{NAME}.png")]

