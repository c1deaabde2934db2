"""Figure 7: accumulate versus replace, test error against the generation ``n``.

Setting: isotropic ``Sigma = I_d``, ``||w0|| = 1``, least-squares generators with noise
``sigma0``.  *Replace* (the paper): generator ``k + 1`` is fitted on ``T0`` fresh samples
labelled by generator ``k`` only; the collapse term grows linearly, ``n Delta`` (theory (B),
:func:`kernelcollapse.test_error`, as a line).  *Accumulate* (Gerstgrasser et al. 2024):
generator ``k + 1`` is fitted on all the data so far, the real ``T0`` samples and every earlier
generation's ``T0`` synthetic ones; the error stays bounded.  Both are simulated
(:func:`kernelcollapse.simulate`, ``mode``).  The accumulate curve is simulation only here;
its exact least-squares formula is in ``docs/theory/workflows.rst``
(:func:`kernelcollapse.exact_ols_error` with ``mode="accumulate"``).

References: Dohmatob, Feng & Kempe (2024); M. Gerstgrasser et al., "Is Model Collapse
Inevitable?", arXiv:2404.01413.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kernelcollapse.figures import check_size, save_figure, style, write_csv

__all__ = ["NAME", "SIZES", "TITLE", "compute", "run"]

NAME = "accumulate_vs_replace"
TITLE = "Accumulate vs replace: test error vs generation n"

SIZES = {
    "tiny": {"d": 15, "T0": 40, "T": 60, "n": list(range(0, 9, 2)), "seeds": 60},
    "quick": {"d": 50, "T0": 100, "T": 200, "n": list(range(0, 13)), "seeds": 60},
    "full": {"d": 100, "T0": 200, "T": 400, "n": list(range(0, 31)), "seeds": 300},
}
LAM = 1e-3
SIGMA = 0.5
SIGMA0 = 1.0
KEY = 7


def compute(*, size: str = "quick", progress: bool = True) -> list[dict]:
    """One CSV row per (mode, n); theory for replace, NaN for accumulate."""
    from tqdm.auto import tqdm

    from kernelcollapse import isotropic, test_error
    from kernelcollapse.simulator import simulate

    cfg = SIZES[check_size(size)]
    d, ns = cfg["d"], np.array(cfg["n"])
    eigvals, w0 = isotropic(d)
    th = test_error(eigvals, w0, T=cfg["T"], T0=cfg["T0"], n=ns, lam=LAM, sigma=SIGMA,
                    sigma0=SIGMA0)
    rows = []
    for mode in tqdm(("replace", "accumulate"), desc=f"{NAME} ({size})", disable=not progress):
        sim = simulate(eigvals, w0, T=cfg["T"], T0=cfg["T0"], n=ns, lam=LAM, sigma=SIGMA,
                       sigma0=SIGMA0, mode=mode, seeds=cfg["seeds"], key=KEY)
        for i, n in enumerate(ns):
            rows.append({"mode": mode, "n": int(n), "d": d, "T": cfg["T"], "T0": cfg["T0"],
                         "lam": LAM, "sigma": SIGMA, "sigma0": SIGMA0, "seeds": cfg["seeds"],
                         "sim_mean": float(sim.mean[i]), "sim_stderr": float(sim.stderr[i]),
                         "theory": float(th.total[i]) if mode == "replace" else float("nan")})
    return rows


def _plot(rows, path: Path) -> Path:
    r0 = rows[0]
    with style() as plt:
        fig, ax = plt.subplots(figsize=(6.8, 4.6))
        for mode, color in (("replace", "tab:red"), ("accumulate", "tab:blue")):
            sel = [r for r in rows if r["mode"] == mode]
            ns = [r["n"] for r in sel]
            ax.errorbar(ns, [r["sim_mean"] for r in sel], yerr=[r["sim_stderr"] for r in sel],
                        fmt="o", ms=5, color=color, label=f"{mode}: simulation")
            if mode == "replace":
                ax.plot(ns, [r["theory"] for r in sel], "-", color=color,
                        label=r"replace: theory (B), $E_{clean} + n\Delta$")
        ax.set_yscale("log")
        ax.set_xlabel("generation n")
        ax.set_ylabel(r"test error $E\,\|\hat w - w_0\|_\Sigma^2$")
        ax.set_title(f"Accumulate vs replace: isotropic d={r0['d']}, least-squares generators, "
                     f"$T_0$={r0['T0']} per generation,\ndownstream T={r0['T']}, "
                     f"$\\lambda$={r0['lam']:g}, $\\sigma$={r0['sigma']:g}, "
                     f"$\\sigma_0$={r0['sigma0']:g}, {r0['seeds']} seeds")
        ax.legend()
        return save_figure(fig, path)


def run(out_dir: str | Path, *, size: str = "quick", progress: bool = True) -> list[Path]:
    """Compute figure 7 and write ``accumulate_vs_replace.csv`` and ``.png`` into ``out_dir``."""
    out_dir = Path(out_dir)
    rows = compute(size=size, progress=progress)
    return [write_csv(out_dir / f"{NAME}.csv", rows), _plot(rows, out_dir / f"{NAME}.png")]

