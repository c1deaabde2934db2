"""Figure 10: a 1-D Gaussian refitted on its own samples (unbiased and ML variance).

Setting: ``N(0, 1)``; each generation fits mean and variance to ``N`` samples of the
previous fit.  Panel (a): one chain's densities at a few generations.  Panel (b):
``E[sigma_n^2]`` (a martingale for the unbiased fit, ``((N-1)/N)^n`` for ML) and
``E[sigma_n]`` (geometric decay for both): simulation (mean ± stderr over seeds) and the
exact formulas.  Panel (c): the mean's random walk ``E[(mu_n - mu_0)^2]`` and the squared
Wasserstein-2 distance to the original, ``E[W2^2]``, simulation and exact formula.
For the unbiased fit ``sigma_n^2`` is heavy-tailed (``Var = (1 + 2/(N-1))^n - 1``): its
mean is carried by rare chains, so the simulated mean fluctuates around the martingale.

References: Shumailov et al. (2024), Nature 631; :mod:`kernelcollapse.zoo.gaussian`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kernelcollapse.figures import check_size, save_figure, style, write_csv

__all__ = ["NAME", "SIZES", "TITLE", "compute", "run"]

NAME = "zoo_gaussian"
TITLE = "1-D Gaussian refitted on its samples: variance collapse and W2 distance"

SIZES = {
    "tiny": {"N": 10, "generations": 20, "seeds": 2000, "points": 11},
    "quick": {"N": 20, "generations": 100, "seeds": 20000, "points": 51},
    "full": {"N": 100, "generations": 500, "seeds": 20000, "points": 101},
}
KEY = 10
STATS = ("var", "sd", "mean_shift_sq", "w2_squared")


def compute(*, size: str = "quick",
            progress: bool = True) -> tuple[list[dict], tuple[np.ndarray, np.ndarray]]:
    from kernelcollapse.zoo import gaussian as zg

    cfg = SIZES[check_size(size)]
    N, G, S = cfg["N"], cfg["generations"], cfg["seeds"]
    ns = np.unique(np.linspace(0, G, cfg["points"]).round().astype(int))
    rows, snaps = [], None
    for est in ("unbiased", "ml"):
        chain = zg.simulate_gaussian(N=N, generations=G, seeds=S, estimator=est, key=KEY,
                                     progress=progress)
        th = zg.gaussian_moments(ns, N=N, estimator=est)
        sims = {"var": chain.sigma**2, "sd": chain.sigma, "mean_shift_sq": chain.mu**2,
                "w2_squared": chain.w2_squared}
        if snaps is None:
            snaps = (chain.mu[:, 0], chain.sigma[:, 0])
        for i, n in enumerate(ns):
            row = {"estimator": est, "N": N, "seeds": S, "n": int(n)}
            for stat in STATS:
                x = sims[stat][n]
                row[f"{stat}_sim_mean"] = float(x.mean())
                row[f"{stat}_sim_stderr"] = float(x.std(ddof=1) / np.sqrt(S))
                row[f"{stat}_theory"] = float(getattr(th, stat)[i])
            rows.append(row)
    return rows, snaps


def _plot(rows, snaps, path: Path) -> Path:
    r0 = rows[0]
    G = max(r["n"] for r in rows)
    with style() as plt:
        fig, (ax, bx, cx) = plt.subplots(1, 3, figsize=(15, 4.4))
        mu, sigma = snaps
        gens = np.unique(np.linspace(0, G, 5).round().astype(int))
        # Log density axis bounded by the data: the fitted sd shrinks by orders of magnitude
        # (peaks from 0.4 up), and y autoscaled over densities underflowing to ~1e-300 spans
        # hundreds of decades.  x spans every snapshot's +-4 sd (the mean drifts), on a grid
        # dense around each mean so that the narrow late densities are resolved.
        lo, hi = min(mu[gens] - 4 * sigma[gens]), max(mu[gens] + 4 * sigma[gens])
        x = np.unique(np.concatenate([np.linspace(lo, hi, 400)]
                                     + [np.linspace(mu[g] - 4 * sigma[g], mu[g] + 4 * sigma[g],
                                                    200) for g in gens]))
        for g, c in zip(gens, plt.cm.viridis(np.linspace(0, 0.85, len(gens)))):
            dens = np.exp(-0.5 * ((x - mu[g]) / sigma[g]) ** 2) / (sigma[g] * np.sqrt(2 * np.pi))
            ax.plot(x, dens, color=c,
                    label=f"n = {g}: $\\mu$ = {mu[g]:.2g}, $\\sigma$ = {sigma[g]:.2g}")
        peak = 1 / (np.sqrt(2 * np.pi) * min(sigma[gens]))
        ax.set_yscale("log")
        ax.set_ylim(1e-3, 100 * peak)  # two decades above the highest peak for the legend
        ax.set_xlim(lo, hi)
        ax.set_xlabel("x")
        ax.set_ylabel("fitted density (one chain, unbiased)")
        ax.set_title("snapshots")
        ax.legend(fontsize=7, loc="upper left")
        for est, ls in (("unbiased", "-"), ("ml", "--")):
            sel = [r for r in rows if r["estimator"] == est]
            ns = np.array([r["n"] for r in sel])
            for stat, color, label, axis in (
                    ("var", "C0", r"$E[\sigma_n^2]$", bx), ("sd", "C1", r"$E[\sigma_n]$", bx),
                    ("mean_shift_sq", "C2", r"$E[(\mu_n-\mu_0)^2]$", cx),
                    ("w2_squared", "C3", r"$E[W_2^2]$", cx)):
                axis.errorbar(ns, [r[f"{stat}_sim_mean"] for r in sel],
                              yerr=[r[f"{stat}_sim_stderr"] for r in sel], fmt="o", ms=2.5,
                              color=color, alpha=0.6 if est == "ml" else 1.0)
                axis.plot(ns, [r[f"{stat}_theory"] for r in sel], ls, color=color,
                          label=f"{label} {est}: exact (points: simulation)")
        bx.set_yscale("log")
        bx.set_xlabel("generation n")
        bx.set_ylabel("variance / standard deviation")
        bx.set_title(r"$\sigma^2$ martingale (unbiased) yet $E[\sigma_n]\to 0$")
        bx.legend(fontsize=7)
        cx.set_xlabel("generation n")
        cx.set_ylabel("squared distance to the original")
        cx.set_title("mean random walk and Wasserstein-2 distance")
        cx.legend(fontsize=7)
        fig.suptitle(f"Gaussian N(0,1) refitted on N={r0['N']} of its own samples per "
                     f"generation, {r0['seeds']} seeds (unbiased: solid, ML: dashed)")
        return save_figure(fig, path)


def run(out_dir: str | Path, *, size: str = "quick", progress: bool = True) -> list[Path]:
    """Compute figure 10 and write ``zoo_gaussian.csv`` and ``.png`` into ``out_dir``."""
    out_dir = Path(out_dir)
    rows, snaps = compute(size=size, progress=progress)
    return [write_csv(out_dir / f"{NAME}.csv", rows), _plot(rows, snaps, out_dir / f"{NAME}.png")]

