"""Figure 3: scaling-law crossover, ``lam = T^-ell_crit`` versus the corrected ``lam = T^-ell*``.

Setting: note (E).  Power-law spectrum ``s_j = j^-beta``, source ``r``, least-squares generators
on ``T0 = T^b`` samples, labels of generation ``n = T^a``, downstream ridge ``lam = T^-ell``.

Left: the deterministic equivalent (note (B), :func:`kernelcollapse.test_error`, theory only)
against ``T`` for clean labels with ``ell_crit`` (the fast rate), and synthetic labels with
``ell_crit`` (the slow rate ``b - a - ell_crit/beta``) and with the corrected
``ell* = min(b - a, 1) ell_crit`` (:func:`kernelcollapse.theory.scaling.optimal_exponent`, rate
``(b - a)`` times the clean rate); the fitted log-log slopes are in the legend, the predicted
rates (:func:`kernelcollapse.theory.scaling.rate`) next to them.  ``d`` is fixed and large,
inside the window ``T^(ell/beta) << d <= T`` where the laws hold (see
:mod:`kernelcollapse.theory.scaling`).

Right: the predicted decay exponents against ``b - a``: once synthetic data dominate
(``b - a < 1``, i.e. ``n T > T0``), ``ell*`` beats ``ell_crit``; for ``b - a >= 1`` both give
the clean rate (the crossover).

References: Dohmatob, Feng & Kempe (2024), Section 5; ``docs/theory`` (E).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kernelcollapse.figures import check_size, save_figure, style, write_csv

__all__ = ["NAME", "SIZES", "TITLE", "compute", "run"]

NAME = "scaling_crossover"
TITLE = "Scaling-law crossover: ell_crit vs corrected ell* as T grows (theory)"

SIZES = {
    "tiny": {"d": 2000, "T": (1e5, 1e6), "points": 6, "c": 9},
    "quick": {"d": 10**4, "T": (1e5, 10**7.5), "points": 16, "c": 31},
    "full": {"d": 3 * 10**4, "T": (1e5, 1e8), "points": 31, "c": 61},
}
BETA = 2.0
R = 0.5
A = 0.3     # n = T^a
B = 1.05    # T0 = T^b: b - a = 0.75 < 1, synthetic data dominate
SIGMA = 1.0
SIGMA0 = 1.0


def compute(*, size: str = "quick", progress: bool = True) -> list[dict]:
    """Theory curves (kind = curve) and predicted exponents against b - a (kind = exponent)."""
    from kernelcollapse import power_law, prepare
    from kernelcollapse.theory.scaling import critical_exponent, optimal_exponent, rate

    cfg = SIZES[check_size(size)]
    d = cfg["d"]
    eigvals, w0 = power_law(d, BETA, R)
    prob = prepare(eigvals, w0)  # compressed once, chains cached across calls
    ell_c = critical_exponent(BETA, R)
    ell_s = optimal_exponent(BETA, R, A, B)
    T = np.logspace(np.log10(cfg["T"][0]), np.log10(cfg["T"][1]), cfg["points"])
    cases = [  # label, n, ell, predicted rate
        ("clean, ell_crit", np.zeros_like(T, dtype=int), ell_c,
         rate(BETA, R, ell_c, A, B, collapse=False)),
        ("synthetic, ell_crit", np.round(T**A).astype(int), ell_c, rate(BETA, R, ell_c, A, B)),
        ("synthetic, ell*", np.round(T**A).astype(int), ell_s, rate(BETA, R, ell_s, A, B)),
    ]
    rows = []
    for label, n, ell, predicted in cases:
        err = np.asarray(prob.test_error(T=T, T0=T**B, n=n, lam=T**-ell, sigma=SIGMA,
                                                sigma0=SIGMA0).total)
        slope = -np.polyfit(np.log(T), np.log(err), 1)[0]
        for t, nn, e in zip(T, n, err):
            rows.append({"kind": "curve", "case": label, "T": float(t), "n": int(nn),
                         "T0": float(t**B), "ell": ell, "lam": float(t**-ell), "error": float(e),
                         "fitted_rate": float(slope), "predicted_rate": float(predicted),
                         "b_minus_a": B - A, "d": d, "beta": BETA, "r": R, "a": A, "b": B,
                         "sigma": SIGMA, "sigma0": SIGMA0})
    for c in np.linspace(0.1, 1.6, cfg["c"]):
        b = A + c
        ell_star = optimal_exponent(BETA, R, A, b)
        for label, ell, collapse in (("clean, ell_crit", ell_c, False),
                                     ("synthetic, ell_crit", ell_c, True),
                                     ("synthetic, ell*", ell_star, True)):
            rows.append({"kind": "exponent", "case": label, "T": float("nan"), "n": -1,
                         "T0": float("nan"), "ell": float(ell), "lam": float("nan"),
                         "error": float("nan"), "fitted_rate": float("nan"),
                         "predicted_rate": float(rate(BETA, R, ell, A, b, collapse=collapse)),
                         "b_minus_a": float(c), "d": d, "beta": BETA, "r": R, "a": A, "b": b,
                         "sigma": SIGMA, "sigma0": SIGMA0})
    return rows


def _plot(rows, path: Path) -> Path:
    r0 = rows[0]
    styles = {"clean, ell_crit": ("k", "-"), "synthetic, ell_crit": ("tab:red", "--"),
              "synthetic, ell*": ("tab:blue", "-")}
    tex = {"clean, ell_crit": r"clean (n=0), $\ell_{crit}$",
           "synthetic, ell_crit": r"$n=T^a$, $\ell_{crit}$",
           "synthetic, ell*": r"$n=T^a$, corrected $\ell^*$"}
    with style() as plt:
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(11.5, 4.6))
        for case, (color, ls) in styles.items():
            sel = [r for r in rows if r["kind"] == "curve" and r["case"] == case]
            ax.plot([r["T"] for r in sel], [r["error"] for r in sel], ls, color=color, marker=".",
                    label=f"{tex[case]} ($\\ell$={sel[0]['ell']:.3g}): slope "
                    f"{-sel[0]['fitted_rate']:.3f}, predicted {-sel[0]['predicted_rate']:.3f}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("downstream sample size T")
        ax.set_ylabel(r"test error (theory (B)) $E\,\|\hat w - w_0\|_\Sigma^2$")
        ax.set_title(f"$\\lambda=T^{{-\\ell}}$, $T_0=T^{{{r0['b']:g}}}$, $n=T^{{{r0['a']:g}}}$, "
                     f"d={r0['d']}, $\\beta$={r0['beta']:g}, r={r0['r']:g}, "
                     f"$\\sigma=\\sigma_0$={r0['sigma']:g}")
        ax.legend(fontsize=7.5)
        for case, (color, ls) in styles.items():
            sel = [r for r in rows if r["kind"] == "exponent" and r["case"] == case]
            bx.plot([r["b_minus_a"] for r in sel], [r["predicted_rate"] for r in sel], ls,
                    color=color, label=tex[case])
        bx.axvline(1.0, color="gray", lw=1, ls=":")
        bx.axvline(r0["b"] - r0["a"], color="tab:blue", lw=0.8, ls=":",
                   label=f"left panel: b - a = {r0['b'] - r0['a']:g}")
        bx.set_xlabel(r"$b - a$  ($T_0 = T^b$, $n = T^a$; $b-a<1$: synthetic data dominate)")
        bx.set_ylabel(r"decay exponent: $E_{test} \asymp T^{-\mathrm{rate}}$")
        bx.set_title("Predicted rates (note (E)); "
                     "$\\ell^*$ wins below 1")
        bx.legend()
        fig.suptitle("Scaling-law crossover: power law $s_j=j^{-\\beta}$, least-squares "
                     "generators (theory only)")
        return save_figure(fig, path)


def run(out_dir: str | Path, *, size: str = "quick", progress: bool = True) -> list[Path]:
    """Compute figure 3 and write ``scaling_crossover.csv`` and ``.png`` into ``out_dir``."""
    out_dir = Path(out_dir)
    rows = compute(size=size, progress=progress)
    return [write_csv(out_dir / f"{NAME}.csv", rows), _plot(rows, out_dir / f"{NAME}.png")]

