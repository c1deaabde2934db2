"""Figure 1: isotropic spectrum, test error against the downstream ridge ``lam``.

Setting: ``Sigma = I_d``, ``||w0|| = 1``, least-squares generators on ``T0 > d`` samples with
noise ``sigma0``, downstream ridge on ``T`` samples with noise ``sigma``.  For several ``T`` and
generations ``n``: Monte-Carlo means with standard-error bars (:func:`kernelcollapse.simulate`)
and the deterministic equivalent (:func:`kernelcollapse.test_error`, note (B)) as lines.  The
U-shape in ``lam`` and its minimum moving to larger ``lam`` as ``n`` grows are visible: more
synthetic generations call for more regularisation.

References: Dohmatob, Feng & Kempe (2024), Section 4 (isotropic case), ``docs/theory`` (B).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kernelcollapse.figures import check_size, save_figure, style, write_csv

__all__ = ["NAME", "SIZES", "TITLE", "compute", "run"]

NAME = "isotropic_lambda"
TITLE = "Isotropic spectrum: test error vs ridge lam for several T and generations n"

SIZES = {
    "tiny": {"d": 24, "T": [12, 48], "T0": 48, "n": [0, 4], "lam": np.logspace(-3, 1, 7),
             "seeds": 40},
    "quick": {"d": 100, "T": [50, 200], "T0": 200, "n": [0, 1, 4, 10],
              "lam": np.logspace(-3, 1.5, 13), "seeds": 60},
    "full": {"d": 200, "T": [100, 400, 1000], "T0": 400, "n": [0, 1, 2, 5, 10, 20],
             "lam": np.logspace(-3, 1.5, 25), "seeds": 400},
}
SIGMA = 0.5
SIGMA0 = 0.5
KEY = 1


def compute(*, size: str = "quick", progress: bool = True) -> list[dict]:
    """Simulation and theory on the grid; one CSV row per (T, n, lam)."""
    from tqdm.auto import tqdm

    from kernelcollapse import isotropic, prepare
    from kernelcollapse.simulator import simulate

    cfg = SIZES[check_size(size)]
    d, ns, lams = cfg["d"], np.array(cfg["n"]), np.asarray(cfg["lam"])
    eigvals, w0 = isotropic(d)
    prob = prepare(eigvals, w0)  # compressed once, chains cached across calls
    rows = []
    for T in tqdm(cfg["T"], desc=f"{NAME} ({size})", disable=not progress):
        sim = simulate(eigvals, w0, T=T, T0=cfg["T0"], n=ns[:, None], lam=lams, sigma=SIGMA,
                       sigma0=SIGMA0, seeds=cfg["seeds"], key=KEY)
        th = prob.test_error(T=T, T0=cfg["T0"], n=ns[:, None], lam=lams[None, :],
                             sigma=SIGMA, sigma0=SIGMA0)
        for i, n in enumerate(ns):
            for j, lam in enumerate(lams):
                rows.append({
                    "d": d, "T": T, "T0": cfg["T0"], "n": int(n), "lam": float(lam),
                    "sigma": SIGMA, "sigma0": SIGMA0, "seeds": cfg["seeds"],
                    "sim_mean": float(sim.mean[i, j]), "sim_stderr": float(sim.stderr[i, j]),
                    "theory": float(th.total[i, j]), "theory_bias": float(th.bias[i, j]),
                    "theory_variance": float(th.variance[i, j]),
                    "theory_collapse": float(th.collapse[i, j]),
                })
    return rows


def _plot(rows, path: Path) -> Path:
    from matplotlib.lines import Line2D

    Ts = list(dict.fromkeys(r["T"] for r in rows))
    ns = list(dict.fromkeys(r["n"] for r in rows))
    r0 = rows[0]
    with style() as plt:
        fig, axes = plt.subplots(1, len(Ts), figsize=(4.8 * len(Ts), 4.4), squeeze=False,
                                 constrained_layout=True)
        colors = plt.cm.viridis(np.linspace(0, 0.85, len(ns)))
        for ax, T in zip(axes[0], Ts):
            for color, n in zip(colors, ns):
                sel = [r for r in rows if r["T"] == T and r["n"] == n]
                lam = np.array([r["lam"] for r in sel])
                th = np.array([r["theory"] for r in sel])
                ax.errorbar(lam, [r["sim_mean"] for r in sel], yerr=[r["sim_stderr"] for r in sel],
                            fmt="o", ms=4, color=color)
                ax.plot(lam, th, "-", color=color)
                k = int(np.argmin(th))
                ax.plot(lam[k], th[k], "*", ms=11, color=color, mec="k", mew=0.6)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(r"downstream ridge $\lambda$")
            ax.set_title(f"T={T}" + (" (T < d)" if T < r0["d"] else " (T > d)"))
        axes[0][0].set_ylabel(r"test error $E\,\|\hat w - w_0\|_\Sigma^2$")
        # One legend for all panels: an entry per n (its colour), one for what the marks are.
        handles = [Line2D([], [], color=c, marker="o", ms=4, label=f"n = {n}")
                   for c, n in zip(colors, ns)]
        handles.append(Line2D([], [], color="0.35", marker="o", ms=4,
                              label="line: theory (B), $\\star$ its minimum\n"
                              "marker: simulation ± s.e."))
        fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5))
        fig.suptitle(f"Isotropic $\\Sigma=I_d$, d={r0['d']}, $\\|w_0\\|=1$, least-squares "
                     f"generators on $T_0$={r0['T0']}, $\\sigma$={r0['sigma']:g}, "
                     f"$\\sigma_0$={r0['sigma0']:g}, {r0['seeds']} seeds")
        return save_figure(fig, path)


def run(out_dir: str | Path, *, size: str = "quick", progress: bool = True) -> list[Path]:
    """Compute figure 1 and write ``isotropic_lambda.csv`` and ``.png`` into ``out_dir``."""
    out_dir = Path(out_dir)
    rows = compute(size=size, progress=progress)
    return [write_csv(out_dir / f"{NAME}.csv", rows), _plot(rows, out_dir / f"{NAME}.png")]

