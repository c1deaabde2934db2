"""Figure 8: model collapse of kernel ridge regression on MNIST, RBF and polynomial kernels.

Target: ``+1`` for an even digit, ``-1`` for odd (:func:`kernelcollapse.realdata.parity_target`)
on images scaled to ``[0, 1]``.  The 10,000-image MNIST test set is split at random into a pool
and a held-out set.  Generators are kernel ridge fits (ridge ``lam0``) refitted recursively on
``T0`` pool points labelled by the previous generation plus noise ``sigma0``; generation 0 is
the real labels.  The downstream kernel ridge is fitted on ``T`` pool points labelled by
generation ``n`` (``n = 0``: real labels, ``n >= 1``: synthetic labels) and scored against the
real target on the held-out set and on the pool.

Theory: ``theory.test_error`` on the kernel's empirical spectrum on the pool
(:func:`kernelcollapse.realdata.theory_collapse`), i.e. the pool taken as the population and the
features taken Gaussian.  The relative gap ``(theory - simulation) / simulation`` is printed and
written to the CSV, for the pool error (the theory's own population) and for the held-out error.

Kernels: RBF with the median-heuristic bandwidth, polynomial ``(x.x'/mean||x||^2 + 1)^3``.

Measured at size "quick" (pool 2000, T = 200, T0 = 400, 10 seeds): theory versus the pool error,
median ``|gap|`` 0.4% (RBF) and 1.1% (poly3), at most +4.2%; versus the held-out error, median
1.5% and 0.8%, at most -8.7% (RBF) and -6.9% (poly3), at n = 0 and the smallest lam, where the
theory underestimates: the pool's spectrum misses the kernel's tail.  The theory lies between
the pool error (which includes the downstream's own training points) and the held-out error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kernelcollapse.figures import check_size, save_figure, style, write_csv

__all__ = ["NAME", "SIZES", "TITLE", "compute", "run"]

NAME = "mnist"
TITLE = "MNIST kernel ridge (RBF, polynomial): test error vs generation n and ridge lam, theory"

# Pool/held-out sizes, sample sizes, generations, ridges and seeds per size.
SIZES = {
    "tiny": {"n_pool": 1000, "n_test": 500, "T": 100, "T0": 200, "n": [0, 1, 2, 4],
             "lam": np.logspace(-5, 0, 6), "seeds": 8},
    "quick": {"n_pool": 2000, "n_test": 1000, "T": 200, "T0": 400, "n": [0, 1, 2, 3, 4, 6, 8],
              "lam": np.logspace(-5, 0, 11), "seeds": 10},
    "full": {"n_pool": 4000, "n_test": 3000, "T": 500, "T0": 1000, "n": list(range(11)),
             "lam": np.logspace(-6, 0, 19), "seeds": 24},
}
LAM0 = 1e-3     # generator ridge
SIGMA0 = 0.5    # generator label noise (the target is +-1)
SIGMA = 0.0     # no noise added to the downstream labels
SPLIT_KEY = 0

def _load(data_dir):
    from kernelcollapse import datasets

    return datasets.mnist(datasets.mnist_dir(data_dir, "test"), split="test")


def _kernels(x_pool):
    from kernelcollapse import kernels

    return {
        "rbf": kernels.rbf(kernels.median_bandwidth(x_pool)),
        "poly3": kernels.polynomial(3, offset=1.0, scale=kernels.inner_product_scale(x_pool)),
    }


def compute(*, size: str = "quick", progress: bool = True,
            data_dir: str | Path | None = None) -> list[dict]:
    """Run the experiment and the theory; return the CSV rows (one per kernel, n, lam)."""
    from tqdm.auto import tqdm

    from kernelcollapse import datasets, realdata

    cfg = SIZES[check_size(size)]
    mnist = _load(data_dir)
    split = datasets.split_pool(mnist.images, mnist.labels, n_pool=cfg["n_pool"],
                                n_test=cfg["n_test"], key=SPLIT_KEY)
    y_pool, y_test = realdata.parity_target(split.y_pool), realdata.parity_target(split.y_test)
    setting = {"T": cfg["T"], "T0": cfg["T0"], "n": cfg["n"], "lam": cfg["lam"], "lam0": LAM0,
               "sigma": SIGMA, "sigma0": SIGMA0}
    rows = []
    kernel_list = _kernels(split.x_pool)
    bar = tqdm(total=3 * len(kernel_list), desc=f"{NAME} ({size})", disable=not progress)
    for label, kernel in kernel_list.items():
        bar.set_postfix_str(f"{label}: Gram")
        data = realdata.kernel_data(kernel, split.x_pool, y_pool, split.x_test, y_test)
        bar.update()
        bar.set_postfix_str(f"{label}: spectrum + theory")
        th = realdata.theory_collapse(data, **setting)
        bar.update()
        bar.set_postfix_str(f"{label}: simulation")
        sim = realdata.simulate_collapse(data, seeds=cfg["seeds"], key=1, **setting)
        bar.update()
        root = np.sqrt(cfg["seeds"])
        for i, n in enumerate(sim.n):
            for j, lam in enumerate(sim.lam):
                held, pool = sim.heldout[:, i, j], sim.pool[:, i, j]
                theory_total = float(th.total[i, j])
                rows.append({
                    "kernel": label, "labels": "real" if n == 0 else "synthetic",
                    "n": int(n), "lam": float(lam),
                    "heldout_mean": float(held.mean()),
                    "heldout_stderr": float(held.std(ddof=1) / root),
                    "pool_mean": float(pool.mean()), "pool_stderr": float(pool.std(ddof=1) / root),
                    "theory": theory_total,
                    "theory_bias": float(th.bias[i, j]),
                    "theory_variance": float(th.variance[i, j]),
                    "theory_collapse": float(th.collapse[i, j]),
                    "gap_pool": (theory_total - float(pool.mean())) / float(pool.mean()),
                    "gap_heldout": (theory_total - float(held.mean())) / float(held.mean()),
                    "T": cfg["T"], "T0": cfg["T0"], "lam0": LAM0, "sigma": SIGMA,
                    "sigma0": SIGMA0, "seeds": cfg["seeds"], "n_pool": cfg["n_pool"],
                    "n_test": cfg["n_test"], "d": th.d, "noise_var": float(th.noise_var),
                })
    bar.close()
    return rows


def _summary(rows) -> list[str]:
    lines = []
    for kernel in dict.fromkeys(r["kernel"] for r in rows):
        sel = [r for r in rows if r["kernel"] == kernel]
        for key in ("gap_pool", "gap_heldout"):
            gaps = np.array([r[key] for r in sel])
            worst = sel[int(np.argmax(np.abs(gaps)))]
            lines.append(
                f"{NAME}: {kernel} theory-vs-{key[4:]} gap (theory - sim)/sim: median |gap| "
                f"{np.median(np.abs(gaps)):.1%}, max {gaps[np.argmax(np.abs(gaps))]:+.1%} "
                f"at n={worst['n']}, lam={worst['lam']:.0e}"
            )
    return lines


def _plot(rows, path: Path) -> Path:
    kernels_ = list(dict.fromkeys(r["kernel"] for r in rows))
    ns = sorted({r["n"] for r in rows})
    lams = sorted({r["lam"] for r in rows})
    cfg = rows[0]
    with style() as plt:
        fig, axes = plt.subplots(len(kernels_), 2, figsize=(12, 4.6 * len(kernels_)),
                                 squeeze=False, layout="constrained")
        colors = plt.cm.viridis(np.linspace(0, 0.9, len(ns)))
        for row_axes, kernel in zip(axes, kernels_):
            sel = {(r["n"], r["lam"]): r for r in rows if r["kernel"] == kernel}
            ax = row_axes[0]
            for color, n in zip(colors, ns):
                pts = [sel[(n, lam)] for lam in lams]
                tag = "real labels" if n == 0 else f"synthetic, n={n}"
                ax.errorbar(lams, [p["heldout_mean"] for p in pts],
                            yerr=[p["heldout_stderr"] for p in pts], fmt="o", ms=4,
                            color=color, label=f"{tag}: held-out")
                ax.plot(lams, [p["pool_mean"] for p in pts], "x", ms=5, color=color)
                ax.plot(lams, [p["theory"] for p in pts], "-", color=color)
            ax.set_xscale("log")
            ax.set_xlabel(r"downstream ridge $\lambda$")
            ax.set_ylabel("test MSE against the real target")
            ax.set_title(f"{kernel}: error vs $\\lambda$ (o held-out, x pool, lines theory)")
            ax.legend(fontsize=7)
            ax = row_axes[1]
            theory_n0 = [sel[(0, lam)]["theory"] for lam in lams]
            lam_opt = lams[int(np.argmin(theory_n0))]
            picks = dict.fromkeys([lams[0], lam_opt, lams[len(lams) * 3 // 4]])
            for color, lam in zip(plt.cm.plasma(np.linspace(0, 0.8, len(picks))), picks):
                pts = [sel[(n, lam)] for n in ns]
                ax.errorbar(ns, [p["heldout_mean"] for p in pts],
                            yerr=[p["heldout_stderr"] for p in pts], fmt="o", ms=4, color=color)
                ax.plot(ns, [p["pool_mean"] for p in pts], "x", ms=5, color=color)
                ax.plot(ns, [p["theory"] for p in pts], "-", color=color,
                        label=f"$\\lambda$={lam:.0e}")
            ax.plot([], [], "o", color="gray", label="held-out (mean ± s.e.)")
            ax.plot([], [], "x", color="gray", label="pool")
            ax.plot([], [], "-", color="gray", label="theory")
            ax.set_xlabel("generation n of the labels (0 = real labels)")
            ax.set_ylabel("test MSE against the real target")
            ax.set_title(f"{kernel}: error vs n (T={cfg['T']}, T0={cfg['T0']}, "
                         f"$\\lambda_0$={cfg['lam0']:g}, $\\sigma_0$={cfg['sigma0']:g})")
            ax.legend(ncol=2)
        fig.suptitle(f"MNIST even/odd (+-1), kernel ridge, pool {cfg['n_pool']}, held-out "
                     f"{cfg['n_test']}, {cfg['seeds']} seeds; theory from the pool's "
                     "empirical kernel spectrum")
        return save_figure(fig, path)


def run(out_dir: str | Path, *, size: str = "quick", progress: bool = True,
        data_dir: str | Path | None = None) -> list[Path]:
    """Compute figure 8 and write ``mnist.csv`` and ``mnist.png`` into ``out_dir``.

    Raises
    ------
    FileNotFoundError
        MNIST is not available (the message names ``KERNELCOLLAPSE_DATA`` and the files).
    """
    out_dir = Path(out_dir)
    rows = compute(size=size, progress=progress, data_dir=data_dir)
    for line in _summary(rows):
        print(line)
    csv_path = write_csv(out_dir / f"{NAME}.csv", rows)
    png_path = _plot(rows, out_dir / f"{NAME}.png")
    return [csv_path, png_path]

