"""Figure 5: the tails vanish, coefficient profile of the n-th generator's mean.

Setting: power-law spectrum ``s_j = j^-beta`` with source ``r`` (:func:`kernelcollapse.power_law`),
ridge generators (``lam0 > 0``) refitted recursively on ``T0`` samples with noise ``sigma0``.
Theory (note (C), :func:`kernelcollapse.generator_moments`): ``E[w_{n,j}] = M0_j^n w0_j`` with
``M0_j = s_j/(s_j + kappa0)``, ``kappa0 = kappa(lam0, T0)``: the coefficients of the directions
with ``s_j << kappa0`` (large ``j``, the tails) are multiplied by a factor ``< 1`` every
generation and vanish first, while the head survives.

Simulation: :func:`kernelcollapse.simulate` returns test errors, not the generator weights, so
this script runs its own Monte-Carlo of the generator chain alone (JAX, dual ridge solve,
``seeds`` independent chains) and plots the mean of ``w_n`` where it is resolved (more than
three standard errors from 0, at log-spaced ``j``).  The CSV has the theory mean and standard
deviation of every coefficient and the Monte-Carlo mean and standard error.

References: ``docs/theory`` (C); Dohmatob, Feng & Kempe (2024), Section 4.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kernelcollapse.figures import check_size, save_figure, style, write_csv

__all__ = ["NAME", "SIZES", "TITLE", "compute", "run"]

NAME = "tails_vanish"
TITLE = "Tails vanish: |E w_n,j| vs eigen-index j for ridge generators, several n"

SIZES = {
    "tiny": {"d": 60, "T0": 30, "n": [0, 1, 3, 8], "seeds": 100},
    "quick": {"d": 200, "T0": 100, "n": [0, 1, 2, 5, 10, 20], "seeds": 100},
    "full": {"d": 600, "T0": 300, "n": [0, 1, 2, 5, 10, 20, 50], "seeds": 400},
}
BETA = 1.5
R = 0.5
LAM0 = 1e-3
SIGMA0 = 0.1
KEY = 5


def chain_mean(eigvals, w0, *, T0, ns, sigma0, lam0, seeds, key):
    """Monte-Carlo mean and standard error of ``w_n`` over ``seeds`` ridge-generator chains.

    Generation ``k + 1`` is ``(X^T X/T0 + lam0 I)^-1 X^T Y/T0`` with ``X = Z sqrt(s)``,
    ``Y = X w_k + sigma0 e``, computed in the dual form ``X^T (X X^T/T0 + lam0 I)^-1 Y/T0``
    (jit-compiled, ``lax.scan`` over generations, ``vmap`` over seeds).
    Chain ``i`` uses key ``i`` of ``kernelcollapse._util.keys.seed_keys(key, seeds)``.
    Returns arrays of shape ``(len(ns), d)``.
    """
    from kernelcollapse._util.keys import seed_keys
    from kernelcollapse._util.x64 import float64

    with float64():
        W = _chains(eigvals, w0, T0=T0, ns=ns, sigma0=sigma0, lam0=lam0,
                    keys=seed_keys(key, seeds))
    return W.mean(axis=0), W.std(axis=0, ddof=1) / np.sqrt(seeds)


def _chains(eigvals, w0, *, T0, ns, sigma0, lam0, keys):
    import jax
    import jax.numpy as jnp

    d, N = eigvals.size, int(max(ns))
    sqrt_s = jnp.asarray(np.sqrt(eigvals))

    def one_chain(key):
        def step(w, k):
            kz, ke = jax.random.split(jax.random.fold_in(key, k))
            X = jax.random.normal(kz, (T0, d), dtype=jnp.float64) * sqrt_s
            Y = X @ w + sigma0 * jax.random.normal(ke, (T0,), dtype=jnp.float64)
            K = X @ X.T / T0 + lam0 * jnp.eye(T0, dtype=jnp.float64)
            w_new = X.T @ jnp.linalg.solve(K, Y / T0)
            return w_new, w_new

        _, ws = jax.lax.scan(step, jnp.asarray(w0), jnp.arange(N))
        return jnp.concatenate([jnp.asarray(w0)[None], ws])  # (N + 1, d)

    return np.asarray(jax.jit(jax.vmap(one_chain))(keys))[:, np.asarray(ns)]  # (seeds, Nn, d)


def compute(*, size: str = "quick", progress: bool = True) -> list[dict]:
    """One CSV row per (n, j)."""
    from kernelcollapse import generator_moments, kappa, power_law

    cfg = SIZES[check_size(size)]
    d, T0, ns = cfg["d"], cfg["T0"], np.array(cfg["n"])
    eigvals, w0 = power_law(d, BETA, R)
    th = generator_moments(eigvals, w0, T0=T0, n=ns, sigma0=SIGMA0, lam0=LAM0)
    kappa0 = float(kappa(LAM0, eigvals, T0))
    mean, stderr = chain_mean(eigvals, w0, T0=T0, ns=ns, sigma0=SIGMA0, lam0=LAM0,
                              seeds=cfg["seeds"], key=KEY)
    rows = []
    for i, n in enumerate(ns):
        for j in range(d):
            rows.append({"n": int(n), "j": j + 1, "eigval": float(eigvals[j]),
                         "w0": float(w0[j]), "theory_mean": float(th.mean[i, j]),
                         "theory_std": float(np.sqrt(th.var[i, j])),
                         "sim_mean": float(mean[i, j]), "sim_stderr": float(stderr[i, j]),
                         "d": d, "T0": T0, "lam0": LAM0, "kappa0": kappa0, "sigma0": SIGMA0,
                         "beta": BETA, "r": R, "seeds": cfg["seeds"],
                         "sim_source": "chain-only Monte-Carlo in this script"})
    return rows


def _plot(rows, path: Path) -> Path:
    ns = list(dict.fromkeys(r["n"] for r in rows))
    r0 = rows[0]
    with style() as plt:
        fig, ax = plt.subplots(figsize=(6.8, 4.8))
        colors = plt.cm.viridis(np.linspace(0, 0.9, len(ns)))
        for color, n in zip(colors, ns):
            sel = [r for r in rows if r["n"] == n]
            j = np.array([r["j"] for r in sel])
            ax.plot(j, np.abs([r["theory_mean"] for r in sel]), "-", color=color,
                    label=f"n={n}: theory $M_0^n w_0$")
            m = np.array([r["sim_mean"] for r in sel])
            se = np.array([r["sim_stderr"] for r in sel])
            picks = np.isin(j, np.unique(np.round(np.logspace(0, np.log10(j.max()), 24))))
            ok = picks & (np.abs(m) > 3 * se)  # resolved: > 3 stderr from 0
            ax.errorbar(j[ok], np.abs(m[ok]), yerr=se[ok], fmt="o", ms=3.5, color=color,
                        mec="k", mew=0.4)
        ax.plot([], [], "o", ms=3.5, color="gray", mec="k", mew=0.4,
                label="simulation (colour = n)")
        j_kappa = r0["kappa0"] ** (-1 / r0["beta"])
        ax.axvline(j_kappa, color="gray", ls=":", lw=1.2,
                   label=r"$s_j=\kappa_0$ ($j=\kappa_0^{-1/\beta}$)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(1e-8, 2.0)
        ax.set_xlabel("eigen-index j  ($s_j = j^{-\\beta}$)")
        ax.set_ylabel(r"$|E\,w_{n,j}|$ (mean coefficient of generator n)")
        ax.set_title(f"Ridge generators: $\\lambda_0$={r0['lam0']:g}, $T_0$={r0['T0']}, "
                     f"d={r0['d']}, $\\beta$={r0['beta']:g}, r={r0['r']:g}, "
                     f"$\\sigma_0$={r0['sigma0']:g}\n(o: mean over {r0['seeds']} simulated "
                     "chains with stderr bars, shown where > 3 stderr)")
        ax.legend(ncol=2, fontsize=7, loc="lower left")
        return save_figure(fig, path)


def run(out_dir: str | Path, *, size: str = "quick", progress: bool = True) -> list[Path]:
    """Compute figure 5 and write ``tails_vanish.csv`` and ``.png`` into ``out_dir``."""
    out_dir = Path(out_dir)
    rows = compute(size=size, progress=progress)
    return [write_csv(out_dir / f"{NAME}.csv", rows), _plot(rows, out_dir / f"{NAME}.png")]

