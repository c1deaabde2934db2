"""Where the ``d = 2000`` sweep's time goes on a device: a step of
:mod:`kernelcollapse.bench.gpu`.

The sweep's flop model (:mod:`kernelcollapse.bench.limits`) is dominated by two kinds of kernels
at this size (``T <= 800 < d``, so every downstream fit is in the dual form): the Gram products
``X X^T`` (``T x d`` rows, in the chain with ``T0`` rows and downstream) and the Cholesky
factorisations of the ``T x T`` systems (one per seed and ``lam`` downstream, one per seed and
generation in the chain).  This step measures

1. the sweep's warm time split by the public API: the whole sweep, the sweep with ``n = 0``
   only (no generator chain: what the chain costs is the difference), and each ``T`` alone
   with ``n = 0``;
2. the rate of each of those kernels alone, jitted and batched exactly as in the sweep (the
   seeds of a lane group, ``lam`` batched for the Cholesky), as a fraction of the square matmul
   rate.

If the kernels alone run at a fraction ``f`` of the matmul rate, the sweep cannot exceed about
``f`` either; the report sets the two side by side.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from kernelcollapse._util.x64 import uses_float64
from kernelcollapse.bench.suite import Config, library_sweep

__all__ = ["markdown", "profile"]


def _best(fn, *args, repeats: int = 3) -> float:
    fn(*args).block_until_ready()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args).block_until_ready()
        best = min(best, time.perf_counter() - start)
    return best


@uses_float64
def _kernels(*, d: int, Ts, T0: int, n_lam: int, seeds: int, rate: float) -> list[dict]:
    import jax
    import jax.numpy as jnp

    gram = jax.jit(lambda X: jnp.einsum("btd,bsd->bts", X, X))
    chol = jax.jit(jnp.linalg.cholesky)
    rows = []
    for T in sorted({T0, max(Ts)}):
        X = jax.random.normal(jax.random.PRNGKey(T), (seeds, T, d), dtype=jnp.float64)
        s = _best(gram, X)
        rows.append({"kernel": f"Gram X X^T, {seeds} x ({T} x {d})", "seconds": s,
                     "gflop": 2 * seeds * T * T * d / 1e9})
        G = gram(X) / d + 0.1 * jnp.eye(T)
        batch = seeds * n_lam if T == max(Ts) else seeds
        K = jnp.broadcast_to(G[:, None], (seeds, batch // seeds, T, T)).reshape(batch, T, T)
        del X
        s = _best(chol, K)
        rows.append({"kernel": f"Cholesky, {batch} x ({T} x {T})", "seconds": s,
                     "gflop": batch * T**3 / 3 / 1e9})
        del K, G
    for r in rows:
        r["fraction_of_matmul"] = r["gflop"] / r["seconds"] / rate
    return rows


def profile(cfg: Config, *, d: int, seeds: int, budget: float, rate: float) -> dict:
    """The split of the sweep's warm time and the rates of its kernels (module docstring)."""

    def warm(c: Config) -> float:
        library_sweep(c, d=d, seeds=seeds, memory_budget=budget)
        return min(library_sweep(c, d=d, seeds=seeds, memory_budget=budget)[0]
                   for _ in range(2))

    whole = warm(cfg)
    no_chain = warm(replace(cfg, ns=(0,)))
    per_T = {str(T): warm(replace(cfg, Ts=(T,), ns=(0,))) for T in cfg.Ts}
    return {"d": d, "seeds": seeds, "whole_s": whole, "without_chain_s": no_chain,
            "chain_s": whole - no_chain, "per_T_without_chain_s": per_T,
            "kernels": _kernels(d=d, Ts=cfg.Ts, T0=cfg.T0, n_lam=cfg.n_lam, seeds=seeds,
                                rate=rate)}


def markdown(p: dict) -> list[str]:
    def f(x) -> str:
        return f"{x:.3g}"

    lines = ["", f"## Where the d = {p['d']} sweep's time goes ({p['seeds']} seeds)", "",
             "Warm times through the public API: the whole sweep; with n = 0 only (no "
             "generator chain); the chain is the difference; each T alone with n = 0.", "",
             "| part | warm s | share of the whole |", "|---|---|---|",
             f"| whole sweep | {f(p['whole_s'])} | 1 |",
             f"| generator chain (whole - without) | {f(p['chain_s'])} | "
             f"{f(p['chain_s'] / p['whole_s'])} |",
             f"| downstream fits (n = 0 only) | {f(p['without_chain_s'])} | "
             f"{f(p['without_chain_s'] / p['whole_s'])} |"]
    lines += [f"| T = {T} alone, n = 0 | {f(s)} | {f(s / p['whole_s'])} |"
              for T, s in p["per_T_without_chain_s"].items()]
    lines += ["", "The kernels that carry the flops, alone, batched as in the sweep:", "",
              "| kernel | s | Gflop | fraction of matmul |", "|---|---|---|---|"]
    lines += [f"| {k['kernel']} | {f(k['seconds'])} | {f(k['gflop'])} | "
              f"{f(k['fraction_of_matmul'])} |" for k in p["kernels"]]
    chol = [k["fraction_of_matmul"] for k in p["kernels"] if k["kernel"].startswith("Chol")]
    gram = [k["fraction_of_matmul"] for k in p["kernels"] if k["kernel"].startswith("Gram")]
    if chol and gram:
        lines += ["", f"Reading: the Gram products run at {f(min(gram))}-{f(max(gram))} of the "
                  f"matmul rate, the batched Cholesky factorisations at {f(min(chol))}-"
                  f"{f(max(chol))}: they hold the sweep's "
                  "fraction down.  The chain's share is sequential: each generation's fit waits "
                  "for the previous generation's weights, so its small factorisations run one "
                  "generation at a time.  What would close the gap: (1) the chain's systems "
                  "X_k X_k^T / T0 + lam0 I do not depend on the weights, so all generations' "
                  "factorisations (and the solves with X_k) can be batched before the loop, "
                  "leaving only matrix-vector products sequential; (2) downstream, a blocked "
                  "Cholesky whose trailing updates are batched matrix products (or one "
                  "factorisation shared by every lam through an eigendecomposition that runs "
                  "at matmul speed), since the library kernel runs far below the matmul rate "
                  "at these sizes."]
    return lines
