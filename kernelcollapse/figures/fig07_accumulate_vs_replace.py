"""Figure 7: accumulate versus replace, test error against the generation ``n``.

Setting: isotropic ``Sigma = I_d``, ``||w0|| = 1``, least-squares generators with noise
``sigma0``.  *Replace* (the paper): generator ``k + 1`` is fitted on ``T0`` fresh samples
labelled by generator ``k`` only; the collapse term grows linearly, ``n Delta`` (theory (B),
:func:`kernelcollapse.test_error`, as a line).  *Accumulate* (Gerstgrasser et al. 2024):
generator ``k + 1`` is fitted on all the data so far, the real ``T0`` samples and every earlier
generation's ``T0`` synthetic ones; the error stays bounded.  Both are simulated
(:func:`kernelcollapse.simulate`, ``mode``) and drawn with their theory
(:func:`kernelcollapse.test_error` with ``mode``: for accumulating least-squares generators
the chain is exact, ``h_n = sum_j 1/(j (j T0 - d - 1))``, ``docs/theory/workflows.rst``), with
the bound the accumulated collapse never crosses: ``pi^2/6`` times one generation's.

References: Dohmatob, Feng & Kempe (2024); M. Gerstgrasser et al., "Is Model Collapse
Inevitable?", arXiv:2404.01413; A. Dey, D. Donoho, "Universality of the pi^2/6 pathway in
avoiding model collapse", arXiv:2410.22812.
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
    """One CSV row per (mode, n): simulation, theory, and for accumulate the bound
    ``E_clean + (pi^2/6) x`` (one generation's collapse)."""
    from tqdm.auto import tqdm

    from kernelcollapse import isotropic, prepare
    from kernelcollapse.simulator import simulate

    cfg = SIZES[check_size(size)]
    d, ns = cfg["d"], np.array(cfg["n"])
    eigvals, w0 = isotropic(d)
    prob = prepare(eigvals, w0)
    kw = dict(T=cfg["T"], T0=cfg["T0"], lam=LAM, sigma=SIGMA, sigma0=SIGMA0)
    one = prob.test_error(n=1, **kw)
    bound = float(one.bias + one.variance + np.pi**2 / 6 * one.collapse)
    rows = []
    for mode in tqdm(("replace", "accumulate"), desc=f"{NAME} ({size})", disable=not progress):
        th = prob.test_error(n=ns, mode=mode, **kw)
        sim = simulate(eigvals, w0, n=ns, mode=mode, seeds=cfg["seeds"], key=KEY, **kw)
        for i, n in enumerate(ns):
            rows.append({"mode": mode, "n": int(n), "d": d, "T": cfg["T"], "T0": cfg["T0"],
                         "lam": LAM, "sigma": SIGMA, "sigma0": SIGMA0, "seeds": cfg["seeds"],
                         "sim_mean": float(sim.mean[i]), "sim_stderr": float(sim.stderr[i]),
                         "theory": float(th.total[i]),
                         "bound_pi2_6": bound if mode == "accumulate" else float("nan")})
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
            label = (r"replace: theory, $E_{clean} + n\Delta$" if mode == "replace" else
                     r"accumulate: theory, $E_{clean} + \Delta\,\sum_{j \leq n} "
                     r"\frac{T_0-d-1}{j\,(jT_0-d-1)}$")
            ax.plot(ns, [r["theory"] for r in sel], "-", color=color, label=label)
            if mode == "accumulate":
                ax.axhline(sel[0]["bound_pi2_6"], ls=":", color=color,
                           label=r"bound $E_{clean} + \frac{\pi^2}{6}\Delta$")
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

