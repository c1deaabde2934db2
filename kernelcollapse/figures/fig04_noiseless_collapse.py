"""Figure 4: catastrophic collapse without noise, over-parametrised generators (``T0 < d``).

Setting: isotropic ``Sigma = I_d``, ``||w0|| = 1``; each generator is the minimum-norm least-
squares fit (``lam0 = 0``) on ``T0 < d`` noiseless samples (``sigma0 = 0``): it projects the
previous generator on a random ``T0``-dimensional subspace, so the mean of ``w_n`` is
``(T0/d)^n w0`` (note (C), ``M0 = T0/d`` exactly for isotropic features) and the test error of
the downstream ridge rises geometrically towards ``||w0||^2_Sigma`` (the error of predicting 0).
Theory (note (C), :func:`kernelcollapse.test_error`) as lines, simulation as points with
standard-error bars, the limit ``||w0||^2_Sigma`` as a horizontal line.

References: ``docs/theory`` (C); Dohmatob, Feng & Kempe (2024), Section 4.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kernelcollapse.figures import check_size, save_figure, style, write_csv

__all__ = ["NAME", "SIZES", "TITLE", "compute", "run"]

NAME = "noiseless_collapse"
TITLE = "Noiseless catastrophic collapse: T0 < d generators, error vs n toward ||w0||^2"

SIZES = {
    "tiny": {"d": 30, "T0": [10, 20], "T": 60, "n": list(range(0, 9, 2)), "seeds": 40},
    "quick": {"d": 100, "T0": [50, 80], "T": 200, "n": list(range(0, 13)), "seeds": 40},
    "full": {"d": 200, "T0": [60, 120, 170], "T": 400, "n": list(range(0, 21)), "seeds": 200},
}
LAM = 1e-3
SIGMA = 0.1
SIGMA0 = 0.0
KEY = 4


def compute(*, size: str = "quick", progress: bool = True) -> list[dict]:
    """One CSV row per (T0, n): simulation mean, stderr, theory, and the limit."""
    from tqdm.auto import tqdm

    from kernelcollapse import isotropic, prepare
    from kernelcollapse.simulator import simulate

    cfg = SIZES[check_size(size)]
    d, T, ns = cfg["d"], cfg["T"], np.array(cfg["n"])
    eigvals, w0 = isotropic(d)
    prob = prepare(eigvals, w0)  # compressed once, chains cached across calls
    limit = float(np.sum(eigvals * w0**2))
    rows = []
    for T0 in tqdm(cfg["T0"], desc=f"{NAME} ({size})", disable=not progress):
        sim = simulate(eigvals, w0, T=T, T0=T0, n=ns, lam=LAM, sigma=SIGMA, sigma0=SIGMA0,
                       seeds=cfg["seeds"], key=KEY)
        th = prob.test_error(T=T, T0=T0, n=ns, lam=LAM, sigma=SIGMA, sigma0=SIGMA0)
        for i, n in enumerate(ns):
            rows.append({"d": d, "T": T, "T0": T0, "n": int(n), "lam": LAM, "lam0": 0.0,
                         "sigma": SIGMA, "sigma0": SIGMA0, "seeds": cfg["seeds"],
                         "sim_mean": float(sim.mean[i]), "sim_stderr": float(sim.stderr[i]),
                         "theory": float(th.total[i]), "limit_w0_norm_sigma": limit,
                         "mean_shrink_M0_pow_n": (T0 / d) ** int(n)})
    return rows


def _plot(rows, path: Path) -> Path:
    T0s = list(dict.fromkeys(r["T0"] for r in rows))
    r0 = rows[0]
    with style() as plt:
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.6))
        colors = plt.cm.plasma(np.linspace(0, 0.75, len(T0s)))
        limit = r0["limit_w0_norm_sigma"]
        for color, T0 in zip(colors, T0s):
            sel = [r for r in rows if r["T0"] == T0]
            ns = np.array([r["n"] for r in sel])
            th = np.array([r["theory"] for r in sel])
            sim = np.array([r["sim_mean"] for r in sel])
            err = np.array([r["sim_stderr"] for r in sel])
            ax.plot(ns, th, "-", color=color,
                    label=f"$T_0$={T0} ($M_0=T_0/d$={T0 / r0['d']:.2f}): theory (C)")
            ax.errorbar(ns, sim, yerr=err, fmt="o", ms=4, color=color,
                        label=f"$T_0$={T0}: simulation")
            pos = limit - th > 0  # past the limit only by the downstream variance
            bx.plot(ns[pos], (limit - th)[pos], "-", color=color, label=f"$T_0$={T0}: theory (C)")
            ok = limit - sim > 2 * err  # the gap is resolved by the simulation
            bx.errorbar(ns[ok], (limit - sim)[ok], yerr=err[ok], fmt="o", ms=4, color=color,
                        label=f"$T_0$={T0}: simulation")
            bx.plot(ns, limit * (T0 / r0["d"]) ** ns, ":", color=color,
                    label=f"reference $\\|w_0\\|^2_\\Sigma (T_0/d)^n$, $T_0$={T0}")
        ax.axhline(limit, color="k", ls="--", lw=1.2, label=r"limit $\|w_0\|_\Sigma^2$")
        ax.set_yscale("log")
        ax.set_xlabel("generation n")
        ax.set_ylabel(r"test error $E\,\|\hat w - w_0\|_\Sigma^2$")
        ax.set_title("test error rises to the limit")
        ax.legend(loc="lower right")
        bx.set_yscale("log")
        bx.set_xlabel("generation n")
        bx.set_ylabel(r"distance to the limit $\|w_0\|_\Sigma^2 - E_{test}$")
        bx.set_title("geometric approach: the mean of $w_n$ is $(T_0/d)^n w_0$")
        bx.legend(fontsize=7)
        fig.suptitle(f"Noiseless collapse ($\\sigma_0$=0): isotropic d={r0['d']}, "
                     f"min-norm least-squares generators on $T_0<d$, downstream T={r0['T']}, "
                     f"$\\lambda$={r0['lam']:g}, $\\sigma$={r0['sigma']:g}, {r0['seeds']} seeds")
        return save_figure(fig, path)


def run(out_dir: str | Path, *, size: str = "quick", progress: bool = True) -> list[Path]:
    """Compute figure 4 and write ``noiseless_collapse.csv`` and ``.png`` into ``out_dir``."""
    out_dir = Path(out_dir)
    rows = compute(size=size, progress=progress)
    return [write_csv(out_dir / f"{NAME}.csv", rows), _plot(rows, out_dir / f"{NAME}.png")]

