"""The limits of the simulator and the theory: flop model and matmul rate, theory throughput,
growth of cost.

Flop model (multiply-add = 2 flops, float64; what the simulator's algorithm performs with its
default ``sampler="auto"``, read off :mod:`kernelcollapse.simulator._jax`; random-number
generation, scaling by ``sqrt(s)`` and other O(size) work are not counted).  Per seed, with
``N = max(n)``, ``Nn = len(n)``, ``L = len(lam)``, replace mode, least-squares generators; one
:func:`simulate` call covers every ``T`` of the sweep:

- the chain, ``N`` generations: with ``T0 >= d`` the exact-law increment ``g / sqrt(c)``,
  ``3 d`` each, drawn again with the downstream data of every ``T`` (so counted per ``T``); with
  ``T0 < d`` (minimum norm, rows drawn) fitted once for all ``T``: ``X w`` ``2 T0 d``, Gram
  ``2 T0^2 d``, Cholesky ``T0^3/3``, solve ``2 T0^2``, ``X^T alpha`` ``2 T0 d`` each;
- downstream, per ``T``: with ``T >= d`` (Bartlett factor ``L``): ``(PL)(PL)^T`` ``2 d^3`` (a
  full matmul), ``PL h`` ``2 d^2``, ``G W^T`` ``2 d^2 Nn``; with ``T < d`` (the rows ``X``, or
  the ``T`` live columns ``M`` of the singular Bartlett factor when ``T >= d/2``, the same
  counts): labels ``X W^T`` or ``M^T W^T`` ``2 T d Nn``, Gram ``2 T^2 d``;
- then, with ``L > 8``, one tridiagonal reduction of the ``r x r`` Gram (``r = min(T, d)``)
  ``4/3 r^3`` (sytrd) and its ``Q`` ``4/3 r^3`` (orgtr), projection ``Q'c`` ``2 r^2 Nn``, per
  ``lam`` and column a tridiagonal solve ``~8 r``, and the prediction of the ``Nn L`` columns:
  ``(Q, then X') q`` ``2 T^2 Nn L + 2 d T Nn L`` (dual with ``Nn L < d``), else ``A q`` with
  ``A = Q`` (primal) or ``X'Q`` (dual, ``2 d T^2`` once) ``2 d r Nn L``; with ``L <= 8``: per
  ``lam`` a Cholesky ``r^3/3`` and solves ``4 r^2 Nn``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from kernelcollapse._util.x64 import uses_float64
from kernelcollapse.bench.suite import Config, library_sweep
from kernelcollapse.simulator import _engine


def chain_flops(*, d: int, T0: int, N: int) -> float:
    """Flops of one seed's generator chain of ``N`` generations (see the module docstring)."""
    if T0 >= d:
        return float(N * 3 * d)
    return float(N * (2 * T0 * d + 2 * T0 * T0 * d + T0**3 / 3 + 2 * T0 * T0 + 2 * T0 * d))


def downstream_flops(*, d: int, T: int, Nn: int, L: int, solver: str | None = None) -> float:
    """Flops of one seed's downstream fits at one ``T`` (every ``n`` and ``lam``) with the
    downstream ``solver`` (default: the CPU's choice for ``L``; see
    :func:`kernelcollapse.simulator._engine.down_solver`): ``cholesky`` per ``lam`` a factorisation
    ``r^3/3``, two triangular solves ``2 r^2 Nn`` and, dual, the lift ``2 d r Nn``; ``eigh``
    once ``9 r^3`` (eigenvalues and vectors, the usual count) then as the tridiagonal
    route."""
    if solver is None:
        solver = "tridiagonal" if L > _engine.CHOLESKY_MAX_LAMS else "cholesky"
    r = min(T, d)
    if T >= d:
        down = 2 * d**3 + 2 * d * d + 2 * d * d * Nn
        lift = 0.0  # A = Q
    else:
        down = 2 * T * d * Nn + 2 * T * T * d
        # X'(Q q) when the Nn L columns are fewer than the features, else (X'Q) q
        lift = 2 * T * T * Nn * L if Nn * L < d else 2 * d * T * T
    if solver != "cholesky":
        factor = 8 / 3 * r**3 if solver == "tridiagonal" else 9.0 * r**3
        down += (factor + 2 * r * r * Nn + 8 * r * Nn * L + lift + 2 * d * r * Nn * L
                 + 2 * d * Nn * L)
    else:
        down += L * (r**3 / 3 + 2 * r * r * Nn + (2 * d * r * Nn if T < d else 0)
                     + 2 * d * Nn)
    return float(down)


def simulate_flops(*, d: int, Ts, T0: int, ns, L: int, seeds: int,
                   solver: str | None = None) -> float:
    """Flops of one :func:`simulate` call over the sizes ``Ts`` (the module docstring's model):
    the exact-law chain is drawn with each ``T``'s downstream data, the rows chain once."""
    N, Nn = max(ns), len(ns)
    chain = chain_flops(d=d, T0=T0, N=N)
    chains = len(Ts) if T0 >= d else 1
    down = sum(downstream_flops(d=d, T=T, Nn=Nn, L=L, solver=solver) for T in Ts)
    return float(seeds * (chains * chain + down))


def sweep_flops(cfg: Config, *, d: int, seeds: int, solver: str | None = None) -> float:
    return simulate_flops(d=d, Ts=cfg.Ts, T0=cfg.T0, ns=cfg.ns, L=cfg.n_lam, seeds=seeds,
                          solver=solver)


@uses_float64
def matmul_rate(size: int, *, repeats: int = 5, seconds: float | None = None) -> dict:
    """Best-of-``repeats`` float64 rate of a jitted ``(size x size) @ (size x size)`` in jax,
    each timing ~0.2 Gflop of products, or ~``seconds`` long when given (a GPU does 0.2 Gflop
    in microseconds, where the dispatch of a call would be what is timed)."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.PRNGKey(0), (size, size), dtype=jnp.float64)
    b = jax.random.normal(jax.random.PRNGKey(1), (size, size), dtype=jnp.float64)
    f = jax.jit(jnp.matmul)
    f(a, b).block_until_ready()
    if seconds is None:
        # the cap only binds below size 47 (smoke sizes), where dispatch dominates and
        # 0.2 Gflop would take seconds of calls
        inner = min(max(1, int(2e8 // (2 * size**3))), 1000)
    else:
        start = time.perf_counter()
        f(a, b).block_until_ready()
        once = max(time.perf_counter() - start, 1e-6)
        inner = int(min(max(1, seconds / once), 1000))
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            out = f(a, b)
        out.block_until_ready()
        best = min(best, (time.perf_counter() - start) / inner)
    return {"size": size, "seconds": best, "gflops": 2 * size**3 / best / 1e9}


def distance_to_limit(cfg: Config, *, warm_canonical_s: float | None = None,
                      progress=None) -> list[dict]:
    """Part 2: achieved flop rate of the sweep at each ``d`` vs the jax matmul rate at ``d``.

    At the canonical ``d`` the warm time of part 1 (``cfg.seeds`` seeds) is reused when given;
    other ``d`` use ``cfg.limit_seeds`` seeds (the rate does not depend on the seed count
    beyond a chunk) and the faster of two warm passes.
    """
    step = progress or (lambda msg: None)
    rows = []
    for d in cfg.limit_ds:
        # The reference is measured before and after the sweep and the faster kept: on a shared
        # machine one measurement can come out 30% low, which would flatter the fraction.
        step(f"matmul rate at {d}")
        mm_before = matmul_rate(d)
        if d == cfg.d and warm_canonical_s is not None:
            seeds, passes = cfg.seeds, [warm_canonical_s]
        else:
            seeds = cfg.limit_seeds
            step(f"limit d={d}: compile")
            library_sweep(cfg, d=d, seeds=seeds)
            # Best of two warm passes, as the reference is a best-of: a single pass would be
            # compared with the machine's best moment.
            passes = []
            for i in range(2):
                step(f"limit d={d}: warm pass {i + 1} of 2")
                passes.append(library_sweep(cfg, d=d, seeds=seeds)[0])
        seconds = min(passes)
        step(f"matmul rate at {d}, again")
        mm_after = matmul_rate(d)
        rate = max(mm_before["gflops"], mm_after["gflops"])
        flops = sweep_flops(cfg, d=d, seeds=seeds)
        achieved = flops / seconds / 1e9
        rows.append({"d": d, "seeds": seeds, "seconds": seconds, "gflop": flops / 1e9,
                     "warm_passes_s": passes,
                     "achieved_gflops": achieved, "matmul_gflops": rate,
                     "matmul_gflops_before_after": [mm_before["gflops"], mm_after["gflops"]],
                     "fraction_of_matmul": achieved / rate})
    return rows


def theory_throughput(cfg: Config, *, progress=None) -> list[dict]:
    """Part 3: grid points per second of :func:`test_error` on a ``(lam, T)`` grid, and the
    time of :func:`optimal_lambda`.

    Power-law spectrum (``beta = 1.5``, ``r = 0.5``), ``n = 5`` least-squares generators with
    ``T0 = 2 d``, ``lam`` log-spaced over the canonical range, ``T`` log-spaced from ``d/10``
    to ``10 d``.  The first call and the best of ``cfg.theory_repeats`` further calls are
    reported, each a fresh :func:`test_error` call (validation and compression of the
    spectrum included).  Where the spectrum is compressed to quadrature nodes
    (:func:`kernelcollapse.prepare`), the nodes, the check's bound, and (up to ``d = 2e5``) the
    largest relative difference from the exact sums on every tenth ``lam`` and ``T`` are
    recorded.  ``optimal_lambda``: one search each at ``T = d, T0 = 2 d`` (exact chain) and
    ``T = 400, T0 = 800`` (over-parametrised generators, the deterministic-equivalent chain),
    ``n = 5``, the slower of the two (best of the repeats).
    """
    from kernelcollapse import optimal_lambda, power_law, prepare, test_error

    step = progress or (lambda msg: None)
    n_lam, n_T = cfg.theory_grid
    rows = []
    for d in cfg.theory_ds:
        step(f"theory d={d}")
        eigvals, w0 = power_law(d, 1.5, 0.5)
        lam = cfg.lams if n_lam == cfg.n_lam else np.logspace(
            np.log10(cfg.lam_range[0]), np.log10(cfg.lam_range[1]), n_lam)
        T = np.round(np.logspace(np.log10(d / 10), np.log10(10 * d), n_T))
        common = dict(T0=2 * d, n=5, sigma=cfg.sigma, sigma0=cfg.sigma0)

        def call(eigvals=eigvals, w0=w0, lam=lam, T=T, common=common):
            return test_error(eigvals, w0, T=T[None, :], lam=lam[:, None], **common)

        start = time.perf_counter()
        out = call()
        first = time.perf_counter() - start
        best = _best(call, cfg.theory_repeats)
        points = int(np.asarray(out.total).size)
        row = {"d": d, "points": points, "first_s": first, "best_s": best,
               "points_per_s": points / best, "finite": bool(np.isfinite(out.total).all())}
        prob = prepare(eigvals, w0)
        row["nodes"] = int(prob._sums.s.size)
        row["quadrature_bound"] = prob.quadrature_error if prob._sums is not prob._spec else 0.0
        if prob._sums is not prob._spec and d <= 200_000:
            sub = dict(T=T[None, ::10], lam=lam[::10, None], **common)
            exact = prepare(eigvals, w0, quadrature=False).test_error(**sub).total
            row["max_rel_diff_vs_exact"] = float(np.max(np.abs(
                prob.test_error(**sub).total / exact - 1)))
        searches = []
        for kw in (dict(T=d, T0=2 * d), dict(T=400, T0=800)):
            def search(eigvals=eigvals, w0=w0, kw=kw):
                return optimal_lambda(eigvals, w0, n=5, sigma=cfg.sigma, sigma0=cfg.sigma0,
                                      **kw)

            search()
            searches.append(_best(search, cfg.theory_repeats))
        row["optimal_lambda_s"] = max(searches)
        row["optimal_lambda_each_s"] = searches
        rows.append(row)
    return rows


def _best(fn, repeats: int) -> float:
    best = np.inf
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


# --------------------------------------------------------------------------- growth

AXES = ("d", "T", "N", "seeds")
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kb(field: str) -> float | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except OSError:  # pragma: no cover  (not Linux)
        return None
    return None


def peak_rss_increase_mb(fn) -> tuple[float, float | None]:
    """Run ``fn()``; return its seconds and its peak resident-set increase in MB.

    Linux: writing ``5`` to ``/proc/self/clear_refs`` resets the high-water mark ``VmHWM`` to
    the current resident set, so ``VmHWM`` after the call minus ``VmRSS`` before it is the
    call's peak extra memory, XLA's CPU buffers included (``jax.Device.memory_stats()`` is empty
    on CPU, and tracemalloc does not see XLA).  ``None`` where the reset is not available.
    """
    try:
        _CLEAR_REFS.write_text("5")
        before = _status_kb("VmRSS")
    except OSError:  # pragma: no cover
        before = None
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    hwm = _status_kb("VmHWM")
    if before is None or hwm is None:
        return seconds, None
    return seconds, max(hwm - before, 0.0) / 1024.0


def growth_points(cfg: Config) -> dict[str, list[dict]]:
    """The points of part 4: the base, then one axis doubled ``growth_steps - 1`` times."""
    base = dict(cfg.growth_base)
    return {axis: [dict(base, **{axis: base[axis] * 2**k}) for k in range(cfg.growth_steps)]
            for axis in AXES}


def fit_exponent(x, y) -> float:
    """Least-squares slope of ``log y`` against ``log x``."""
    x, y = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    return float(np.polyfit(x, y, 1)[0])


def cost_growth(cfg: Config, *, progress=None) -> dict:
    """Part 4: warm time and peak memory of :func:`simulate` as one parameter doubles.

    Each point: ``simulate`` with ``n = [0, N]`` and the canonical lams, called twice, each call
    timed and measured by :func:`peak_rss_increase_mb`.  The time exponent is fitted on the
    second (warm) call; the memory exponent on the first call's peak, because memory freed by
    the first call stays resident (allocator caches), so the second call often raises the peak
    by nothing.  The first call's peak includes XLA's compilation.
    """
    from kernelcollapse import isotropic, simulate

    step = progress or (lambda msg: None)
    out: dict = {"base": dict(cfg.growth_base), "axes": {}}
    for axis, points in growth_points(cfg).items():
        rows = []
        for p in points:
            step(f"growth along {axis}: {p}")
            eigvals, w0 = isotropic(p["d"])

            @uses_float64
            def call(eigvals=eigvals, w0=w0, p=p):
                return simulate(eigvals, w0, T=p["T"], T0=p["T0"], n=np.array([[0], [p["N"]]]),
                                lam=cfg.lams,
                                sigma=cfg.sigma, sigma0=cfg.sigma0, seeds=p["seeds"], key=1)

            first, first_mb = peak_rss_increase_mb(call)
            warm, mb = peak_rss_increase_mb(call)
            rows.append(dict(p, first_s=first, warm_s=warm, first_peak_mb=first_mb, peak_mb=mb))
        x = [r[axis] for r in rows]
        mem = [r["first_peak_mb"] for r in rows]
        out["axes"][axis] = {
            "points": rows,
            "time_exponent": fit_exponent(x, [r["warm_s"] for r in rows]),
            "memory_exponent": (fit_exponent(x, mem)
                                if all(m is not None and m > 0 for m in mem) else None),
        }
    return out
