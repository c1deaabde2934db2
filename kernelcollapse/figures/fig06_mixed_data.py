"""Figure 6: mixed training data, a fraction ``p`` of synthetic labels: the floor ``p^2 U``.

Setting: isotropic ``Sigma = I_d``, ``||w0|| = 1``, least-squares generators on ``T0 > d + 1``
samples with noise ``sigma0``, generation ``n``; the downstream least-squares fit (``lam = 0``,
``T > d``) sees ``T`` samples of which a fraction ``p`` is labelled by ``w_n`` and the rest by
the truth.  Theory (note (D), :func:`kernelcollapse.test_error` with ``p``):

    E_test ~ Bias + Var + p^2 n Delta + p (1 - p) U df2/(T - df2),  U = n sigma0^2 d/(T0 - d - 1),

so as ``T -> infinity`` the error stays at the floor ``p^2 U`` (dashed): more data does not
remove it.  Simulation points with standard-error bars at a few ``T``.

References: ``docs/theory`` (D); Dohmatob, Feng & Kempe (2024), Section 4 (mixing).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kernelcollapse.figures import check_size, save_figure, style, write_csv

__all__ = ["NAME", "SIZES", "TITLE", "compute", "run"]

NAME = "mixed_data"
TITLE = "Mixed data: error vs T for several fractions p of synthetic labels, floors p^2 U"

SIZES = {
    "tiny": {"d": 10, "T0": 30, "n": 3, "T_sim": [40, 160], "p_sim": [0.5],
             "p": [0.0, 0.5, 1.0], "T_max": 2000, "seeds": 60},
    "quick": {"d": 20, "T0": 50, "n": 4, "T_sim": [50, 500], "p_sim": [0.25, 1.0],
              "p": [0.0, 0.25, 0.5, 0.75, 1.0], "T_max": 10**4, "seeds": 60},
    "full": {"d": 50, "T0": 120, "n": 4, "T_sim": [80, 200, 500, 1250, 3000],
             "p_sim": [0.25, 0.5, 0.75, 1.0], "p": [0.0, 0.25, 0.5, 0.75, 1.0], "T_max": 10**5,
             "seeds": 300},
}
SIGMA = 0.5
SIGMA0 = 1.0
LAM = 0.0
KEY = 6


def compute(*, size: str = "quick", progress: bool = True) -> list[dict]:
    """Simulation rows (kind = simulation) and dense theory rows (kind = theory)."""
    from tqdm.auto import tqdm

    from kernelcollapse import isotropic, prepare
    from kernelcollapse.simulator import simulate

    cfg = SIZES[check_size(size)]
    d, T0, n = cfg["d"], cfg["T0"], cfg["n"]
    eigvals, w0 = isotropic(d)
    prob = prepare(eigvals, w0)  # compressed once, chains cached across calls
    U = n * SIGMA0**2 * d / (T0 - d - 1)
    common = {"d": d, "T0": T0, "n": n, "lam": LAM, "sigma": SIGMA, "sigma0": SIGMA0, "U": U}
    rows = []
    jobs = [(p, T) for p in cfg["p_sim"] for T in cfg["T_sim"]]
    for p, T in tqdm(jobs, desc=f"{NAME} ({size})", disable=not progress):
        sim = simulate(eigvals, w0, T=T, T0=T0, n=n, lam=LAM, sigma=SIGMA, sigma0=SIGMA0, p=p,
                       seeds=cfg["seeds"], key=KEY)
        th = prob.test_error(T=T, T0=T0, n=n, lam=LAM, sigma=SIGMA, sigma0=SIGMA0, p=p)
        rows.append({**common, "kind": "simulation", "p": p, "T": T, "seeds": cfg["seeds"],
                     "sim_mean": float(sim.mean), "sim_stderr": float(sim.stderr),
                     "theory": float(th.total), "floor_p2U": p**2 * U})
    T_dense = np.unique(np.round(np.logspace(np.log10(2 * d), np.log10(cfg["T_max"]), 40)))
    ps = np.array(cfg["p"])
    th = prob.test_error(T=T_dense[None, :], T0=T0, n=n, lam=LAM, sigma=SIGMA,
                         sigma0=SIGMA0, p=ps[:, None])
    for i, p in enumerate(ps):
        for k, T in enumerate(T_dense):
            rows.append({**common, "kind": "theory", "p": float(p), "T": int(T), "seeds": 0,
                         "sim_mean": float("nan"), "sim_stderr": float("nan"),
                         "theory": float(th.total[i, k]), "floor_p2U": float(p**2 * U)})
    return rows


def _plot(rows, path: Path) -> Path:
    ps = sorted({r["p"] for r in rows})
    r0 = rows[0]
    with style() as plt:
        fig, ax = plt.subplots(figsize=(6.8, 4.8))
        colors = plt.cm.viridis(np.linspace(0, 0.9, len(ps)))
        for color, p in zip(colors, ps):
            th = [r for r in rows if r["kind"] == "theory" and r["p"] == p]
            ax.plot([r["T"] for r in th], [r["theory"] for r in th], "-", color=color,
                    label=f"p={p:g}: theory (D)")
            if p > 0:
                ax.axhline(p**2 * r0["U"], color=color, ls="--", lw=1)
            sim = [r for r in rows if r["kind"] == "simulation" and r["p"] == p]
            if sim:
                ax.errorbar([r["T"] for r in sim], [r["sim_mean"] for r in sim],
                            yerr=[r["sim_stderr"] for r in sim], fmt="o", ms=5, color=color,
                            label=f"p={p:g}: simulation")
        ax.plot([], [], "k--", lw=1, label=r"floors $p^2 U$")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("downstream sample size T")
        ax.set_ylabel(r"test error $E\,\|\hat w - w_0\|_\Sigma^2$")
        ax.set_title(f"Mixed data: fraction p of labels from generation n={r0['n']}, isotropic "
                     f"d={r0['d']},\nleast squares ($\\lambda$=0), $T_0$={r0['T0']}, "
                     f"$\\sigma$={r0['sigma']:g}, $\\sigma_0$={r0['sigma0']:g}, "
                     f"$U=n\\sigma_0^2 d/(T_0-d-1)$={r0['U']:.3g}")
        ax.legend(ncol=2, fontsize=7)
        return save_figure(fig, path)


def run(out_dir: str | Path, *, size: str = "quick", progress: bool = True) -> list[Path]:
    """Compute figure 6 and write ``mixed_data.csv`` and ``.png`` into ``out_dir``."""
    out_dir = Path(out_dir)
    rows = compute(size=size, progress=progress)
    return [write_csv(out_dir / f"{NAME}.csv", rows), _plot(rows, out_dir / f"{NAME}.png")]

