"""Figure 16: tuning on real data when part of the labels are synthetic (MNIST).

The practitioner's benchmark (:mod:`kernelcollapse.bench.practitioner`): real features (raw
pixels; Nystroem features of RBF and polynomial kernels), the real even/odd target, a chain of
generators fitted on real rows, downstream labels synthetic (``p = 1``) or mixed.  Bars: the
mean held-out error of each tuner relative to the best penalty in hindsight (synthetic rows
counted like real ones): cross-validation on the training labels as practitioners run it,
:func:`kernelcollapse.recommend` from the training labels alone (with the mask of synthetic
rows when ``p < 1``), and with a clean pilot of 100 real rows.  Below 1: the recommended
weight of the synthetic rows beats every such penalty.  Needs MNIST (see
:mod:`kernelcollapse.datasets`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kernelcollapse.figures import check_size, save_figure, style, write_csv

__all__ = ["NAME", "SIZES", "TITLE", "compute", "run"]

NAME = "practitioner"
TITLE = "Tuning on MNIST with synthetic labels: cross-validation vs recommend vs hindsight"

SIZES = {"tiny": ("smoke", 2), "quick": ("quick", 2), "full": ("full", 20)}


def compute(*, size: str = "quick", progress: bool = True, data_dir=None) -> list[dict]:
    """One CSV row per (regime, tuner)."""
    from kernelcollapse.bench import practitioner as P

    which, reps = SIZES[check_size(size)]
    regimes = {"smoke": (P.Regime("raw", 300, 1000, 2, 0.5, 1e-2),), "quick": P.QUICK_REGIMES,
               "full": P.REGIMES}[which]
    results = P.run(regimes, reps=reps, data_dir=data_dir,
                    progress=print if progress else None)
    rows = []
    for res in results:
        g = res["regime"]
        label = (f"{g['features']} T={g['T']} T0={g['T0']} n={g['n']} p={g['p']:g} "
                 f"lam0={g['lam0']:g}")
        for tuner, ratio in res["ratio"].items():
            rows.append({"regime": label, **g, "reps": res["reps"], "tuner": tuner,
                         "ratio": float(ratio), "mean_error": res["mean_error"][tuner],
                         "best_error": res["best"], "mean_weight": res["mean_weight"]})
    return rows


def _plot(rows, path: Path) -> Path:
    from kernelcollapse.bench.practitioner import TARGETS

    regimes = list(dict.fromkeys(r["regime"] for r in rows))
    tuners = ("cv", "recommend", "recommend_pilot")
    labels = {"cv": "cross-validation on the training labels", "recommend": "recommend",
              "recommend_pilot": "recommend + 100 clean rows"}
    with style() as plt:
        fig, ax = plt.subplots(figsize=(max(7.0, 0.9 * len(regimes) + 3), 4.8))
        x = np.arange(len(regimes))
        for k, (tuner, color) in enumerate(zip(tuners, ("tab:gray", "tab:blue", "tab:green"))):
            vals = [next(r["ratio"] for r in rows if r["regime"] == g and r["tuner"] == tuner)
                    for g in regimes]
            ax.bar(x + (k - 1) * 0.27, vals, width=0.27, color=color, label=labels[tuner])
        ax.axhline(1.0, color="k", lw=0.8)
        for tuner, color, what in (("recommend", "tab:blue", "recommend"),
                                   ("recommend_pilot", "tab:green", "with pilot")):
            target = TARGETS[tuner]
            ax.axhline(target, color=color, lw=0.8, ls=":", label=f"target, {what} ({target:.2f})")
        ax.set_yscale("log")
        ax.set_xticks(x)
        ax.set_xticklabels(regimes, rotation=30, ha="right", fontsize=7)
        ax.set_ylabel("held-out error / best penalty in hindsight")
        ax.set_title(f"Tuning ridge on MNIST (even/odd) with synthetic labels, "
                     f"{rows[0]['reps']} repetitions per regime")
        ax.legend(fontsize=7)
        return save_figure(fig, path)


def run(out_dir: str | Path, *, size: str = "quick", progress: bool = True,
        data_dir=None) -> list[Path]:
    """Compute figure 16 and write ``practitioner.csv`` and ``.png`` into ``out_dir``."""
    out_dir = Path(out_dir)
    rows = compute(size=size, progress=progress, data_dir=data_dir)
    return [write_csv(out_dir / f"{NAME}.csv", rows), _plot(rows, out_dir / f"{NAME}.png")]
