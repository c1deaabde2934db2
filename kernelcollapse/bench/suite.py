"""Measurements of the simulator's speed: baseline ratio, distance to the matmul limit, theory
throughput, growth.

Every function returns plain JSON-able dicts; :mod:`kernelcollapse.bench.report` turns them into
Markdown.  The sizes come from a :class:`Config` (the canonical sweep, a quick variant,
or the tiny smoke sizes), so the same code serves ``kernelcollapse bench``, ``python -m
benchmarks`` in a checkout and ``tests/test_bench.py``.  The library's work is timed in float64,
scoped here (:func:`kernelcollapse._util.x64.float64`) so that the numbers do not depend on the
caller's JAX configuration.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from kernelcollapse._util.x64 import uses_float64


@dataclass(frozen=True)
class Config:
    """Sizes of one benchmark run (the defaults are the canonical sweep)."""

    d: int = 200
    T0: int = 400
    Ts: tuple[int, ...] = (100, 200, 400, 800)
    ns: tuple[int, ...] = (0, 1, 2, 5, 10)
    n_lam: int = 20
    lam_range: tuple[float, float] = (1e-4, 10.0)
    sigma: float = 0.5
    sigma0: float = 1.0
    seeds: int = 50
    cold: bool = True  # measure the first call in a fresh process
    limit_ds: tuple[int, ...] = (200, 1000, 2000)
    limit_seeds: int = 10  # seeds of the sweep at d > canonical d (the rate, not the mean)
    theory_ds: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    theory_grid: tuple[int, int] = (100, 100)  # (lam, T) points
    theory_repeats: int = 3
    # the sweep at this d in fresh processes on 1 core and on every usable core
    scaling_d: int = 2000
    scaling_seeds: int = 10
    # T0 clear of every d of the axis (T0 within one of d has an infinite expected error)
    growth_base: dict = field(default_factory=lambda: dict(d=100, T=200, T0=500, N=2, seeds=16))
    growth_steps: int = 4  # points per axis: base, x2, x4, ...

    @property
    def lams(self) -> np.ndarray:
        lo, hi = self.lam_range
        return np.logspace(np.log10(lo), np.log10(hi), self.n_lam)


CANONICAL = Config()
QUICK = replace(CANONICAL, seeds=4, limit_ds=(200,), limit_seeds=4, theory_repeats=1,
                growth_base=dict(d=50, T=50, T0=150, N=1, seeds=4), growth_steps=2,
                scaling_d=2000, scaling_seeds=10)
# Every part at toy sizes, the cold start included: checks that the suite runs (an installed
# package, a new machine), in seconds; its numbers measure nothing.
SMOKE = Config(d=12, T0=20, Ts=(8,), ns=(0, 1, 3), n_lam=10, seeds=3, cold=True,
               limit_ds=(12,), limit_seeds=2, theory_ds=(50,), theory_grid=(4, 5),
               theory_repeats=1, growth_base=dict(d=6, T=8, T0=10, N=1, seeds=2),
               growth_steps=2, scaling_d=12, scaling_seeds=4)


# --------------------------------------------------------------------------- machine


def machine_info() -> dict:
    """CPU model, usable cores, load, Python, numpy and jax versions, jax device, the thread
    settings of the environment and the thread pools found (the library's calls limit BLAS to
    one thread themselves, :mod:`kernelcollapse._util.blas`)."""
    import jax

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:  # pragma: no cover
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        cores = os.cpu_count()
    try:
        load = list(os.getloadavg())
    except OSError:  # pragma: no cover
        load = None
    return {"cpu": cpu, "usable_cores": cores, "load_average_1_5_15": load,
            "python": platform.python_version(), "numpy": np.__version__,
            "jax": jax.__version__, "jax_backend": jax.default_backend(),
            "platform": jax.default_backend(),
            "device": getattr(jax.devices()[0], "device_kind", str(jax.devices()[0])),
            "devices": [str(dev) for dev in jax.devices()],
            "gpu": jax.default_backend() == "gpu",
            "thread_env": {k: os.environ.get(k) for k in _THREAD_ENV},
            "threadpools": threadpools()}


def threadpools() -> list[dict]:
    """The BLAS and OpenMP thread pools of this process as the user's environment left them
    (threadpoolctl), scipy's LAPACK loaded first (jaxlib's CPU LAPACK runs on it)."""
    import scipy.linalg.cython_lapack  # noqa: F401
    from threadpoolctl import threadpool_info

    keep = ("user_api", "internal_api", "prefix", "version", "num_threads", "threading_layer")
    return [{k: lib.get(k) for k in keep} for lib in threadpool_info()]


# Thread and engine settings that change how the work runs (recorded with the results).
_THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS",
               "KERNELCOLLAPSE_THREADS", "KERNELCOLLAPSE_LANES", "KERNELCOLLAPSE_DOWN_SOLVER",
               "KERNELCOLLAPSE_DEVICES", "KERNELCOLLAPSE_COMPILATION_CACHE")


# --------------------------------------------------------------------------- baseline


def numpy_baseline(cfg: Config, *, seed: int = 12345, progress=None) -> dict:
    """The sweep as a user would write it: a plain numpy loop over ``(T, n, seed)``.

    For each ``(T, n, seed)``: ``n`` least-squares fits (``np.linalg.lstsq``) on ``T0`` fresh
    samples each, then ``T`` downstream samples labelled by ``w_n`` and one ``np.linalg.solve``
    of the ridge system per ``lam`` (the Gram matrix formed once per seed, hoisted out of the
    ``lam`` loop).  Isotropic spectrum, ``||w0|| = 1``.
    """
    d, T0, lams = cfg.d, cfg.T0, cfg.lams
    rng = np.random.default_rng(seed)
    w0 = np.ones(d) / np.sqrt(d)
    eye = np.eye(d)
    errors = np.empty((len(cfg.Ts), len(cfg.ns), len(lams), cfg.seeds))
    start = time.perf_counter()
    for a, T in enumerate(cfg.Ts):
        for b, n in enumerate(cfg.ns):
            for i in range(cfg.seeds):
                w = w0
                for _ in range(n):
                    X = rng.standard_normal((T0, d))
                    y = X @ w + cfg.sigma0 * rng.standard_normal(T0)
                    w = np.linalg.lstsq(X, y, rcond=None)[0]
                X = rng.standard_normal((T, d))
                y = X @ w + cfg.sigma * rng.standard_normal(T)
                G, g = X.T @ X / T, X.T @ y / T
                for j, lam in enumerate(lams):
                    w_pred = np.linalg.solve(G + lam * eye, g)
                    errors[a, b, j, i] = np.sum((w_pred - w0) ** 2)
            if progress is not None:
                progress(f"numpy baseline T={T} n={n}")
    seconds = time.perf_counter() - start
    return {"seconds": seconds, **_summary(errors)}


def _summary(errors: np.ndarray) -> dict:
    return {"mean": errors.mean(-1).tolist(),
            "stderr": (errors.std(-1, ddof=1) / np.sqrt(errors.shape[-1])).tolist()}


@uses_float64
def library_sweep(cfg: Config, *, d: int | None = None, seeds: int | None = None,
                  key: int = 0, memory_budget: float = 2 * 2**30) -> tuple[float, np.ndarray]:
    """Time one :func:`kernelcollapse.simulate` call over the sweep (every ``T`` at once: each
    seed's generator chain serves all of them).

    Returns ``(seconds, errors)``, ``errors`` of shape ``(len(Ts), len(ns), n_lam, seeds)``.
    """
    from kernelcollapse import isotropic, simulate

    eigvals, w0 = isotropic(d or cfg.d)
    start = time.perf_counter()
    res = simulate(eigvals, w0, T=np.asarray(cfg.Ts)[:, None, None], T0=cfg.T0,
                   n=np.asarray(cfg.ns)[:, None], lam=cfg.lams,
                   sigma=cfg.sigma, sigma0=cfg.sigma0, seeds=seeds or cfg.seeds, key=key,
                   memory_budget=memory_budget)
    errors = res.errors.reshape(len(cfg.Ts), len(cfg.ns), len(cfg.lams), -1)
    return time.perf_counter() - start, errors


_COLD_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
from kernelcollapse.bench.suite import Config, library_sweep
cfg = Config(**json.loads({cfg!r}))
t1 = time.perf_counter()
seconds, _ = library_sweep(cfg)
print(json.dumps({{"import_s": t1 - t0, "sweep_s": seconds}}))
"""


def _config_json(cfg: Config) -> str:
    return json.dumps({k: v for k, v in asdict(cfg).items()})


def cold_sweep(cfg: Config) -> dict:
    """The sweep as the first work of a fresh Python process (imports and compilation included).

    ``wall_s`` is the subprocess's wall time from launch to exit, as a user would see it.
    """
    # The directory holding this kernelcollapse (site-packages, or a checkout run with
    # PYTHONPATH), first on the child's path: it must time the same code as this process.
    root = str(Path(__file__).resolve().parent.parent.parent)
    script = _COLD_SCRIPT.format(root=root, cfg=_config_json(cfg))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    wall = time.perf_counter() - start
    inner = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"wall_s": wall, **inner}


def agreement(base: dict, lib: dict, *, k: float = 4.0) -> dict:
    """Do the two means agree within ``k`` combined standard errors at every grid point?"""
    m1, s1 = np.asarray(base["mean"]), np.asarray(base["stderr"])
    m2, s2 = np.asarray(lib["mean"]), np.asarray(lib["stderr"])
    z = np.abs(m1 - m2) / np.sqrt(s1**2 + s2**2)
    return {"k": k, "points": int(z.size), "max_z": float(z.max()),
            "outside": int((z > k).sum()), "agree": bool((z <= k).all()),
            "max_rel_diff": float(np.max(np.abs(m1 - m2) / np.abs(m1)))}


def baseline_ratio(cfg: Config, *, progress=None) -> dict:
    """Part 1: numpy loop vs :func:`simulate`, warm and cold, with the agreement of the means."""
    step = progress or (lambda msg: None)
    out: dict = {}
    if cfg.cold:
        step("library cold (fresh process)")
        out["cold"] = cold_sweep(cfg)
    step("library: compile")
    first, _ = library_sweep(cfg)
    step("library warm")
    warm, errors = library_sweep(cfg)
    out["library"] = {"first_call_in_process_s": first, "warm_s": warm, **_summary(errors)}
    out["numpy"] = numpy_baseline(cfg, progress=step)
    out["warm_ratio"] = out["numpy"]["seconds"] / warm
    if cfg.cold:
        out["cold_ratio"] = out["numpy"]["seconds"] / out["cold"]["wall_s"]
    out["agreement"] = agreement(out["numpy"], out["library"])
    for part in ("numpy", "library"):  # the means are in the agreement check; keep JSON small
        out[part]["mean_of_means"] = float(np.mean(out[part].pop("mean")))
        out[part].pop("stderr")
    return out


# --------------------------------------------------------------------------- cores

_CORES_SCRIPT = """
import json, os, sys, time
cores = json.loads(sys.argv[1])
os.sched_setaffinity(0, cores)  # before jax starts: its thread pools follow the affinity
sys.path.insert(0, {root!r})
from kernelcollapse.simulator import _engine
from kernelcollapse.bench.suite import Config, library_sweep
cfg = Config(**json.loads({cfg!r}))
first, _ = library_sweep(cfg, d=cfg.scaling_d, seeds=cfg.scaling_seeds)
passes = []
for _ in range(2):
    c0, w0 = time.process_time(), time.perf_counter()  # CPU time of all the threads
    seconds, _ = library_sweep(cfg, d=cfg.scaling_d, seeds=cfg.scaling_seeds)
    c1, w1 = time.process_time(), time.perf_counter()
    passes.append({{"seconds": seconds, "cpu_per_wall": (c1 - c0) / (w1 - w0)}})
print(json.dumps({{"cores": len(cores), "threads": _engine.threads(), "first_s": first,
                  "passes": passes}}))
"""


def core_scaling(cfg: Config, *, progress=None) -> dict:
    """Part 5: the sweep at ``d = cfg.scaling_d`` in a fresh process pinned to one core
    (``os.sched_setaffinity``, set before jax starts), then to every usable core, once with
    one simulator thread (``KERNELCOLLAPSE_THREADS=1``: XLA's own intra-op threads only) and
    once as by default (the simulator's threads follow the affinity,
    :func:`simulator._engine.threads`).  Each process compiles once and times two warm
    passes (the faster kept); ``cpu_per_wall`` is the process's CPU time over the wall time of
    a pass (how many cores it kept busy, other processes on the machine permitting)."""
    step = progress or (lambda msg: None)
    try:
        usable = sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover  (not Linux)
        return {"skipped": "no CPU affinity on this platform"}
    root = str(Path(__file__).resolve().parent.parent.parent)
    script = _CORES_SCRIPT.format(root=root, cfg=_config_json(cfg))
    rows = []
    env = {k: v for k, v in os.environ.items() if k != "KERNELCOLLAPSE_THREADS"}
    # one core; every core with one simulator thread (XLA's own threads only); every core
    runs = [(usable[:1], {}), (usable, {"KERNELCOLLAPSE_THREADS": "1"}), (usable, {})]
    for cores, extra in (runs if len(usable) > 1 else runs[:1]):
        step(f"cores: d = {cfg.scaling_d} on {len(cores)} core(s) {extra or ''}, fresh process")
        proc = subprocess.run([sys.executable, "-c", script, json.dumps(cores)],
                              capture_output=True, text=True, env={**env, **extra})
        if proc.returncode:
            raise RuntimeError(f"the {len(cores)}-core run failed:\n{proc.stderr[-2000:]}")
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        row["warm_s"] = min(p["seconds"] for p in row["passes"])
        row["env"] = extra
        rows.append(row)
    out = {"d": cfg.scaling_d, "seeds": cfg.scaling_seeds, "runs": rows,
           "thread_env": {k: os.environ.get(k) for k in _THREAD_ENV}}
    if len(rows) > 1:
        out["speedup"] = rows[0]["warm_s"] / rows[-1]["warm_s"]
        out["speedup_of_threads"] = rows[1]["warm_s"] / rows[-1]["warm_s"]
    return out
