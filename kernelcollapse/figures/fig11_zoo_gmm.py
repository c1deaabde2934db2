"""Figure 11: a 1-D Gaussian mixture refitted by EM on samples of its latest fit.

Setting (Shumailov et al. 2024): two components at -2 and 2, unit sds, equal weights;
each generation fits a two-component mixture by EM to ``N`` samples of the previous fit
(no fresh data).  Several seeds run at once (batched EM) because single runs can go
either way.  Panel (a): one chain's fitted density at a few generations.  Panel (b):
fitted component variances against ``n``: each seed (thin), the mean over seeds and
components ± stderr, and the separated-components approximation
``(1 - 1/(N w))^n`` (an ML Gaussian refit on ``N w`` points; approximate, the components
overlap).  Panel (c): the weight of component 1 per seed with the Wright–Fisher band
``1/2 ± sd``, ``sd^2 = (1/4)(1 - (1 - 1/N)^n)``.

References: Shumailov et al. (2024), Nature 631; Gerstgrasser et al. (2024),
arXiv:2404.01413; :mod:`kernelcollapse.zoo.gmm`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kernelcollapse.figures import check_size, save_figure, style, write_csv

if TYPE_CHECKING:
    from kernelcollapse.zoo.gmm import MixtureChain

__all__ = ["NAME", "SIZES", "TITLE", "compute", "run"]

NAME = "zoo_gmm"
TITLE = "Gaussian mixture refitted by EM on its own samples: variances shrink, weights drift"

SIZES = {
    "tiny": {"N": 200, "generations": 20, "seeds": 8, "points": 11},
    "quick": {"N": 2000, "generations": 400, "seeds": 8, "points": 81},
    "full": {"N": 10_000, "generations": 2000, "seeds": 8, "points": 201},
}
KEY = 11
WEIGHTS, MEANS, SDS = (0.5, 0.5), (-2.0, 2.0), (1.0, 1.0)


def compute(*, size: str = "quick", progress: bool = True) -> tuple[list[dict], MixtureChain]:
    from kernelcollapse.zoo import gmm

    cfg = SIZES[check_size(size)]
    N, G, S = cfg["N"], cfg["generations"], cfg["seeds"]
    chain = gmm.simulate_mixture(weights=WEIGHTS, means=MEANS, sds=SDS, N=N, generations=G,
                                 seeds=S, key=KEY, progress=progress)
    ns = np.unique(np.linspace(0, G, cfg["points"]).round().astype(int))
    approx = gmm.separated_approximation(ns, weights=WEIGHTS, sds=SDS, N=N)
    rows = []
    for i, n in enumerate(ns):
        v = chain.variances[n]                    # (S, C)
        per_seed = v.mean(axis=1)
        w1 = chain.weights[n, :, 0]
        rows.append({
            "N": N, "seeds": S, "n": int(n),
            "variance_mean": float(v.mean()),
            "variance_stderr": float(per_seed.std(ddof=1) / np.sqrt(S)) if n else 0.0,
            "variance_min": float(v.min()), "variance_max": float(v.max()),
            "variance_separated_approx": float(approx.variance[i].mean()),
            "weight1_mean": float(w1.mean()),
            "weight1_sd": float(w1.std(ddof=1)),
            "weight1_sd_wright_fisher": float(approx.weight_sd[i, 0]),
            "em_iterations": int(chain.em_iterations[n - 1].max()) if n else 0,
        })
    return rows, chain


def _plot(rows, chain, path: Path) -> Path:
    r0 = rows[0]
    ns = np.array([r["n"] for r in rows])
    col = {k: np.array([r[k] for r in rows]) for k in r0}
    G = chain.variances.shape[0] - 1
    gen = np.arange(G + 1)
    with style() as plt:
        fig, (ax, bx, cx) = plt.subplots(1, 3, figsize=(15, 4.4))
        x = np.linspace(-6, 6, 500)
        for g, c in zip(np.unique(np.linspace(0, G, 5).round().astype(int)),
                        plt.cm.viridis(np.linspace(0, 0.85, 5))):
            w, m, v = chain.weights[g, 0], chain.means[g, 0], chain.variances[g, 0]
            dens = np.sum(w * np.exp(-0.5 * (x[:, None] - m) ** 2 / v) / np.sqrt(2 * np.pi * v),
                          axis=1)
            ax.plot(x, dens, color=c, label=f"n = {g}")
        ax.set_xlabel("x")
        ax.set_ylabel("fitted density (seed 0)")
        ax.set_title("snapshots")
        ax.legend()
        for s in range(chain.variances.shape[1]):
            bx.plot(gen, chain.variances[:, s].mean(axis=1), color="0.6", lw=0.6,
                    label="one seed (mean of components)" if s == 0 else None)
            cx.plot(gen, chain.weights[:, s, 0], color="0.6", lw=0.6,
                    label="one seed" if s == 0 else None)
        bx.errorbar(ns, col["variance_mean"], yerr=col["variance_stderr"], fmt="o", ms=3,
                    color="C0", label="mean over seeds ± stderr")
        bx.plot(ns, col["variance_separated_approx"], "--", color="C3",
                label="separated components: $(1-1/(Nw))^n$")
        bx.set_xlabel("generation n")
        bx.set_ylabel("fitted component variance")
        bx.set_title("variances shrink on average")
        bx.legend()
        half = np.array(WEIGHTS[0])
        cx.fill_between(ns, half - col["weight1_sd_wright_fisher"],
                        half + col["weight1_sd_wright_fisher"], color="C1", alpha=0.25,
                        label="Wright–Fisher ±1 sd")
        cx.plot(ns, col["weight1_mean"], "o", ms=3, color="C1", label="mean over seeds")
        cx.set_xlabel("generation n")
        cx.set_ylabel("weight of component 1")
        cx.set_title("weights drift (either way)")
        cx.legend()
        fig.suptitle(f"Two-component mixture (means ±2, sd 1) refitted by EM on N={r0['N']} "
                     f"samples of its latest fit, {r0['seeds']} seeds")
        return save_figure(fig, path)


def run(out_dir: str | Path, *, size: str = "quick", progress: bool = True) -> list[Path]:
    """Compute figure 11 and write ``zoo_gmm.csv`` and ``.png`` into ``out_dir``."""
    out_dir = Path(out_dir)
    rows, chain = compute(size=size, progress=progress)
    return [write_csv(out_dir / f"{NAME}.csv", rows), _plot(rows, chain, out_dir / f"{NAME}.png")]

