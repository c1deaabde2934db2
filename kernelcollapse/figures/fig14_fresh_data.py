"""Figure 14: fresh real data in every generation, test error against the generation ``n``.

Setting: power-law spectrum, least-squares generators; each generation's ``T0`` rows hold a
fraction ``q`` of real rows labelled by the truth, the rest labelled by the previous generator
(``fresh=q``; Bertrand et al. 2024).  ``q = 0`` is replace (the error grows like ``n Delta``),
``q = 1`` refits the real data every time.  Lines: the theory
(:func:`kernelcollapse.test_error` with ``fresh``; for least-squares generators the chain is
exact, its variance contracting by ``r(q)`` per generation, ``docs/theory/workflows.rst``);
markers: simulation; dotted: the limit ``n -> infinity``
(:func:`kernelcollapse.collapse_limit`).  Left, ``T0 = 2d``: any fresh fraction bounds the
error.  Right, ``T0 = 1.2 d``: a least-squares fit barely determined by its rows amplifies the
synthetic part, and fractions below ``min_fresh`` do not stop the growth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kernelcollapse.figures import check_size, save_figure, style, write_csv

__all__ = ["NAME", "SIZES", "TITLE", "compute", "run"]

NAME = "fresh_data"
TITLE = "Fresh real data each generation: error vs n for several fractions q, with the limits"

SIZES = {
    "tiny": {"d": 16, "T": 48, "n": [0, 1, 2, 4, 8], "q": [0.0, 0.25, 1.0], "seeds": 80},
    "quick": {"d": 50, "T": 150, "n": [0, 1, 2, 3, 5, 8, 12, 20], "q": [0.0, 0.1, 0.25, 0.5, 1.0],
              "seeds": 100},
    "full": {"d": 100, "T": 300, "n": [0, 1, 2, 3, 5, 8, 12, 20, 30, 50],
             "q": [0.0, 0.05, 0.1, 0.25, 0.5, 1.0], "seeds": 300},
}
T0_OVER_D = (2.0, 1.2)
LAM = 1e-2
SIGMA = 0.5
SIGMA0 = 0.5
KEY = 14


def compute(*, size: str = "quick", progress: bool = True) -> list[dict]:
    """One CSV row per (T0, q, n): simulation, theory and the limit."""
    from tqdm.auto import tqdm

    from kernelcollapse import power_law, prepare
    from kernelcollapse.simulator import simulate

    cfg = SIZES[check_size(size)]
    d, ns, qs = cfg["d"], np.array(cfg["n"]), np.array(cfg["q"])
    eigvals, w0 = power_law(d, 1.0, 0.5)
    prob = prepare(eigvals, w0)
    rows = []
    for ratio in tqdm(T0_OVER_D, desc=f"{NAME} ({size})", disable=not progress):
        T0 = int(round(ratio * d))
        # q T0 rows of each generation are real: round to whole rows, as the simulator does
        qs_rows = np.floor(qs * T0 + 0.5) / T0
        kw = dict(T=cfg["T"], T0=T0, lam=LAM, sigma=SIGMA, sigma0=SIGMA0)
        th = prob.test_error(n=ns[None, :], fresh=qs_rows[:, None], **kw).total
        sim = simulate(eigvals, w0, n=ns[None, :], fresh=qs_rows[:, None], seeds=cfg["seeds"],
                       key=KEY, **kw)
        for i, q in enumerate(qs_rows):
            lim = prob.collapse_limit(T0=T0, sigma0=SIGMA0, fresh=float(q), T=cfg["T"],
                                      lam=LAM, sigma=SIGMA)
            for j, n in enumerate(ns):
                rows.append({"d": d, "T": cfg["T"], "T0": T0, "q": float(q), "n": int(n),
                             "lam": LAM, "sigma": SIGMA, "sigma0": SIGMA0,
                             "seeds": cfg["seeds"], "sim_mean": float(sim.mean[i, j]),
                             "sim_stderr": float(sim.stderr[i, j]), "theory": float(th[i, j]),
                             "limit": float(lim.error), "contraction": float(lim.contraction),
                             "min_fresh": float(lim.min_fresh)})
    return rows


def _plot(rows, path: Path) -> Path:
    T0s = list(dict.fromkeys(r["T0"] for r in rows))
    r0 = rows[0]
    with style() as plt:
        fig, axes = plt.subplots(1, len(T0s), figsize=(5.6 * len(T0s), 4.6), squeeze=False)
        for ax, T0 in zip(axes[0], T0s):
            qs = list(dict.fromkeys(r["q"] for r in rows if r["T0"] == T0))
            colors = plt.cm.plasma(np.linspace(0, 0.85, len(qs)))
            for color, q in zip(colors, qs):
                sel = [r for r in rows if r["T0"] == T0 and r["q"] == q]
                ns = [r["n"] for r in sel]
                ax.errorbar(ns, [r["sim_mean"] for r in sel],
                            yerr=[r["sim_stderr"] for r in sel], fmt="o", ms=4, color=color)
                ax.plot(ns, [r["theory"] for r in sel], "-", color=color,
                        label=f"q={q:.2g} (r={sel[0]['contraction']:.2f})")
                if np.isfinite(sel[0]["limit"]):
                    ax.axhline(sel[0]["limit"], ls=":", color=color, lw=1)
            mf = [r for r in rows if r["T0"] == T0][0]["min_fresh"]
            ax.set_yscale("log")
            ax.set_xlabel("generation n")
            ax.set_ylabel(r"test error $E\,\|\hat w - w_0\|_\Sigma^2$")
            ax.set_title(f"$T_0$={T0} ({T0 / r0['d']:.1f} d): bounded for q > {mf:.3g}")
            ax.legend(title="real rows q (contraction r)", fontsize=7)
        fig.suptitle(f"Fresh real data each generation: power law d={r0['d']}, "
                     f"least-squares generators, downstream T={r0['T']}, "
                     f"$\\lambda$={r0['lam']:g}; lines theory, markers simulation "
                     f"({r0['seeds']} seeds), dotted the limit n $\\to \\infty$")
        return save_figure(fig, path)


def run(out_dir: str | Path, *, size: str = "quick", progress: bool = True) -> list[Path]:
    """Compute figure 14 and write ``fresh_data.csv`` and ``.png`` into ``out_dir``."""
    out_dir = Path(out_dir)
    rows = compute(size=size, progress=progress)
    return [write_csv(out_dir / f"{NAME}.csv", rows), _plot(rows, out_dir / f"{NAME}.png")]
