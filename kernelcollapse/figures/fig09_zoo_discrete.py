"""Figure 9: a discrete distribution refitted on its own samples (Wright–Fisher collapse).

Setting: ``K`` categories with Zipf-like probabilities ``p_k ∝ k^-1.2``; each generation is
the empirical distribution of ``N`` samples of the previous one.  Panel (a): one chain's
frequencies at a few generations (the tail disappears first).  Panel (b): expected number
of surviving categories against ``n``: simulation (mean ± stderr over seeds), exact theory
(binomial transition matrix of each category's two-type chain) and Kimura's diffusion
approximation.  Panel (c): expected homozygosity ``E[sum p_k^2] = 1 - H_0 (1 - 1/N)^n``
(exact; Seddik et al.'s ``S_m = 1 - (1 - 1/N)^m (1 - S_0)``, the same law in their terms,
drawn as crosses) and the expected original mass of the lost categories.

References: Shumailov et al. (2024), Nature 631; Kimura (1955); Ewens (2004) §5; Seddik et
al. (2024), arXiv:2404.05090;
:mod:`kernelcollapse.zoo.discrete`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kernelcollapse.figures import check_size, save_figure, style, write_csv

__all__ = ["NAME", "SIZES", "TITLE", "compute", "run"]

NAME = "zoo_discrete"
TITLE = "Discrete distribution refitted on its samples: surviving categories, homozygosity"

SIZES = {
    "tiny": {"K": 8, "N": 50, "generations": 40, "seeds": 400, "points": 9},
    "quick": {"K": 20, "N": 200, "generations": 400, "seeds": 2000, "points": 41},
    "full": {"K": 50, "N": 1000, "generations": 2000, "seeds": 4000, "points": 101},
}
KEY = 9
ZIPF = 1.2


def original(K: int) -> np.ndarray:
    p = np.arange(1, K + 1, dtype=np.float64) ** -ZIPF
    return p / p.sum()


def compute(*, size: str = "quick", progress: bool = True) -> tuple[list[dict], dict]:
    """Rows per generation ``n`` (statistics) and the snapshot frequencies of seed 0."""
    from kernelcollapse.zoo import discrete as wf

    cfg = SIZES[check_size(size)]
    K, N, G, S = cfg["K"], cfg["N"], cfg["generations"], cfg["seeds"]
    p0 = original(K)
    chain = wf.simulate_discrete(p0, N=N, generations=G, seeds=S, key=KEY,
                                 record_every=max(1, G // 4), progress=progress)
    ns = np.unique(np.linspace(0, G, cfg["points"]).round().astype(int))
    surv_exact, lost_exact = wf.expected_surviving(p0, N=N, n=ns)
    surv_diff, _ = wf.expected_surviving(p0, N=N, n=ns, method="diffusion")
    homo = wf.expected_homozygosity(p0, N=N, n=ns)
    ext = chain.extinction_time
    rows = []
    for i, n in enumerate(ns):
        lost = (ext >= 0) & (ext <= n)                        # (S, K)
        lost_mass = lost @ p0
        surv = chain.surviving[n]
        h = chain.homozygosity[n]
        rows.append({
            "K": K, "N": N, "seeds": S, "n": int(n),
            "surviving_sim_mean": float(surv.mean()),
            "surviving_sim_stderr": float(surv.std(ddof=1) / np.sqrt(S)),
            "surviving_theory_exact": float(surv_exact[i]),
            "surviving_theory_diffusion": float(surv_diff[i]),
            "lost_mass_sim_mean": float(lost_mass.mean()),
            "lost_mass_sim_stderr": float(lost_mass.std(ddof=1) / np.sqrt(S)),
            "lost_mass_theory_exact": float(lost_exact[i]),
            "homozygosity_sim_mean": float(h.mean()),
            "homozygosity_sim_stderr": float(h.std(ddof=1) / np.sqrt(S)),
            "homozygosity_theory": float(homo[i]),
        })
    fix = chain.fixation_time
    extra = {"fixed_fraction": float(np.mean(fix >= 0)),
             "collision_seddik": wf.collision_probability(p0, N=N, m=ns),
             "fixation_time_diffusion": wf.mean_fixation_time(p0, N=N),
             "snap_generations": chain.generations, "snap_freqs": chain.frequencies[:, 0, :]}
    return rows, extra


def _plot(rows, extra, path: Path) -> Path:
    r0 = rows[0]
    ns = np.array([r["n"] for r in rows])
    col = {k: np.array([r[k] for r in rows]) for k in r0}
    with style() as plt:
        fig, (ax, bx, cx) = plt.subplots(1, 3, figsize=(15, 4.4))
        K = r0["K"]
        gens, freqs = extra["snap_generations"], extra["snap_freqs"]
        width = 0.8 / len(gens)
        colors = plt.cm.viridis(np.linspace(0, 0.85, len(gens)))
        for j, (g, c) in enumerate(zip(gens, colors)):
            ax.bar(np.arange(1, K + 1) + (j - len(gens) / 2) * width, freqs[j], width=width,
                   color=c, label=f"n = {g}")
        ax.set_yscale("log")
        ax.set_xlabel("category k (by original probability)")
        ax.set_ylabel("frequency $p_k^{(n)}$ (one chain)")
        ax.set_title("snapshots: the tail is lost first")
        ax.legend()
        bx.errorbar(ns, col["surviving_sim_mean"], yerr=col["surviving_sim_stderr"], fmt="o",
                    ms=3, label="simulation")
        bx.plot(ns, col["surviving_theory_exact"], "-", label="exact (binomial chain)")
        bx.plot(ns, col["surviving_theory_diffusion"], "--", label="diffusion (Kimura 1955)")
        bx.set_xlabel("generation n")
        bx.set_ylabel("surviving categories")
        bx.set_title(f"E[#surviving]; one left after ≈{extra['fixation_time_diffusion']:.0f} "
                     "gens (Littler)")
        bx.legend()
        cx.errorbar(ns, col["homozygosity_sim_mean"], yerr=col["homozygosity_sim_stderr"],
                    fmt="o", ms=3, color="C0", label=r"$\sum_k p_k^2$: simulation")
        cx.plot(ns, col["homozygosity_theory"], "-", color="C0",
                label=r"$1 - H_0 (1-1/N)^n$ (exact)")
        cx.plot(ns, extra["collision_seddik"], "x", ms=5, color="C2",
                label=r"$S_m = 1 - (1-1/N)^m (1 - S_0)$ (Seddik et al. 2024)")
        cx.errorbar(ns, col["lost_mass_sim_mean"], yerr=col["lost_mass_sim_stderr"], fmt="s",
                    ms=3, color="C3", label="lost original mass: simulation")
        cx.plot(ns, col["lost_mass_theory_exact"], "-", color="C3", label="lost mass: exact")
        cx.set_xlabel("generation n")
        cx.set_ylabel("probability")
        cx.set_title("homozygosity and lost tail mass")
        cx.legend()
        fig.suptitle(f"Categorical distribution refitted on its own samples: K={K}, "
                     f"$p_k \\propto k^{{-{ZIPF}}}$, N={r0['N']} per generation, "
                     f"{r0['seeds']} seeds")
        return save_figure(fig, path)


def run(out_dir: str | Path, *, size: str = "quick", progress: bool = True) -> list[Path]:
    """Compute figure 9 and write ``zoo_discrete.csv`` and ``.png`` into ``out_dir``."""
    out_dir = Path(out_dir)
    rows, extra = compute(size=size, progress=progress)
    return [write_csv(out_dir / f"{NAME}.csv", rows), _plot(rows, extra, out_dir / f"{NAME}.png")]

