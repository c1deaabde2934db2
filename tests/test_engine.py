"""How simulate uses the machine (simulator._engine): threads, chunks, host devices, the GPU
form of the programs and the compilation cache.  The numbers must not depend on any of them
but the lanes and the solver, and the threads must not deadlock jax's CPU runtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from kernelcollapse import simulator
from kernelcollapse.simulator import _engine, _plan, simulate

RNG = np.random.default_rng(31)
S = RNG.uniform(0.2, 2.0, 12)
W = RNG.normal(size=12) / np.sqrt(12)

# Every program of the simulator: exact-law and rows generators (primal ridge, dual,
# minimum norm, accumulate), Wishart and rows downstream, one Cholesky per lam (L <= 8) and
# the tridiagonal reduction (L > 8), mixed and weighted rows, fresh rows.
CASES = [
    dict(T=[[[8]], [[30]]], T0=20, n=[[0], [2]], lam=np.logspace(-3, 0, 12)),
    dict(T=[[[8]], [[30]]], T0=9, lam0=0.1, n=[[0], [2]], lam=np.logspace(-3, 0, 5), p=0.5),
    dict(T=20, T0=9, n=[[0], [3]], lam=np.logspace(-3, 0, 10), mode="accumulate",
         weight=0.5, p=0.5),
    dict(T=20, T0=30, n=[[0], [3]], lam=[0.0, 0.1], fresh=0.3, p=0.7, weight=0.0),
]


@pytest.mark.parametrize("kw", CASES)
def test_threads_and_chunks_give_identical_bits(kw):
    args = dict(sigma=0.5, sigma0=0.7, seeds=7, key=4, **kw)
    one = simulate(S, W, threads=1, **args)
    for threads in (2, 3):
        np.testing.assert_array_equal(simulate(S, W, threads=threads, **args).errors, one.errors)
    est = simulator.check_simulation(S, W, **{k: v for k, v in args.items() if k != "key"})
    for per_chunk in (1, 3):  # chunks of one and of three seeds (the last one padded)
        budget = est.results + per_chunk * est.per_seed * 1.001
        got = simulate(S, W, memory_budget=budget, threads=1, **args)
        np.testing.assert_array_equal(got.errors, one.errors)


# Sizes where jaxlib splits a batch of LAPACK calls over its intra-op threads (a batch of
# Cholesky factorisations of 100 x 150 matrices and more): the seeds-vmapped form of the
# programs, or a vmap over lam, hung within seconds here with four threads on two cores.
_STRESS = """
import json, sys, numpy as np, jax, kernelcollapse as kc
rng = np.random.default_rng(7)
out = []
for d, T0, Ts, L, lam0 in [(150, 300, (300, 600), 8, 0.0), (150, 100, (100, 300), 8, 0.1),
                           (60, 40, (30, 100), 12, 0.0)]:
    s, w = rng.uniform(0.2, 2.0, d), rng.normal(size=d) / np.sqrt(d)
    r = kc.simulate(s, w, T=np.array(Ts)[:, None, None], T0=T0, n=np.array([0, 2])[:, None],
                    lam=np.logspace(-3, 0, L), lam0=lam0, sigma=0.5, sigma0=1.0, seeds=16, key=1,
                    threads=int(sys.argv[1]))
    out.append(r.errors.tolist())
print(json.dumps({"devices": len(jax.devices()), "errors": out}))
"""


def _stress(threads: int, **env) -> dict:
    proc = subprocess.run([sys.executable, "-c", _STRESS, str(threads)],
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=240, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_threads_and_host_devices_do_not_hang():
    """Four threads on the machine's cores, then the same split over two host devices as well
    (jax's sharding, ``KERNELCOLLAPSE_DEVICES=all``): they finish (a deadlock fails by the
    timeout) with the bits of one thread on one device."""
    one = _stress(1)
    threads = _stress(4)
    devices = _stress(4, XLA_FLAGS="--xla_force_host_platform_device_count=2",
                      KERNELCOLLAPSE_DEVICES="all")
    assert one["devices"] == threads["devices"] == 1 and devices["devices"] == 2
    for a, b, c in zip(one["errors"], threads["errors"], devices["errors"]):
        np.testing.assert_array_equal(np.array(b), np.array(a))
        np.testing.assert_array_equal(np.array(c), np.array(a))


_LANES = """
import json, numpy as np, jax, kernelcollapse as kc
rng = np.random.default_rng(7)
s, w = rng.uniform(0.2, 2.0, 30), rng.normal(size=30) / np.sqrt(30)
r = kc.simulate(s, w, T=np.array([20, 60])[:, None, None], T0=np.array([[[20]], [[60]]]),
                n=np.array([0, 2])[:, None], lam=np.logspace(-3, 0, 12), sigma=0.5, sigma0=1.0,
                seeds=16, key=1)
print(json.dumps({"devices": len(jax.devices()), "errors": r.errors.tolist()}))
"""


def test_gpu_form_split_over_devices_gives_the_bits_of_one():
    """The GPU form (lanes of 4 vmapped seeds, batched Cholesky) with the seeds sharded over
    two host devices by shard_map: the bits of one device."""
    env = {**os.environ, _engine.ENV_LANES: "4", _engine.ENV_SOLVER: "cholesky"}
    runs = [subprocess.run([sys.executable, "-c", _LANES], env={**env, **extra},
                           capture_output=True, text=True, timeout=240, check=True)
            for extra in ({}, {"XLA_FLAGS": "--xla_force_host_platform_device_count=2",
                               _engine.ENV_DEVICES: "all"})]
    one, two = (json.loads(p.stdout.strip().splitlines()[-1]) for p in runs)
    assert (one["devices"], two["devices"]) == (1, 2)
    np.testing.assert_array_equal(np.array(two["errors"]), np.array(one["errors"]))


@pytest.mark.parametrize("lanes, solver", [("0", "cholesky"), ("4", "tridiagonal"), ("1", "eigh"),
                                           ("4", "cholesky")])
def test_gpu_form_runs_on_cpu(monkeypatch, lanes, solver):
    """The form meant for GPUs (seeds vmapped in lanes, every lam's factorisation batched)
    computes the same process: the same errors to rounding.  With a fixed number of lanes the
    chunking does not change a bit."""
    args = dict(sigma=0.5, sigma0=0.7, seeds=8, key=2, **CASES[0])
    want = simulate(S, W, **args)
    monkeypatch.setenv(_engine.ENV_LANES, lanes)
    monkeypatch.setenv(_engine.ENV_SOLVER, solver)
    got = simulate(S, W, **args)
    np.testing.assert_allclose(got.errors, want.errors, rtol=1e-9, atol=0)
    if lanes != "0":  # chunks of 4 seeds, the lanes' width (the budget also caps the lanes)
        est = simulator.check_simulation(S, W, **{k: v for k, v in args.items() if k != "key"})
        per_seed = max(_plan.seed_bytes(12, T, 20, 2, 2, 12, gen="law", down="wishart",
                                            solver=solver) for T in (8, 30))
        chunked = simulate(S, W, memory_budget=est.results + 4.01 * per_seed, **args)
        np.testing.assert_array_equal(chunked.errors, got.errors)


def test_layout():
    # Few seeds: one seed per chunk, however much memory (Ctrl-C acts between chunks).
    lay = _engine.layout(50, 1e6, 1e12, threads_requested=2)
    assert (lay.lanes, lay.workers, lay.chunk, lay.n_chunks) == (1, 2, 1, 50)
    lay = _engine.layout(3, 1e6, 1e12, threads_requested=2)
    assert (lay.workers, lay.chunk, lay.n_chunks) == (2, 1, 3)
    # Many seeds: 32 chunks per thread, of 6400 / 64 seeds, well within the budget.
    lay = _engine.layout(6400, 1e6, 1e12, threads_requested=2)
    assert (lay.workers, lay.chunk, lay.n_chunks) == (2, 100, 64)
    lay = _engine.layout(6401, 1e6, 1e12, threads_requested=2)  # the last chunk padded
    assert lay.chunk * lay.n_chunks >= 6401 and lay.n_chunks >= 64 and lay.chunk <= 101
    lay = _engine.layout(50, 1e6, 10.5e6, threads_requested=2)  # 10 seeds in memory at once
    assert lay.workers == 2 and lay.chunk <= 5 and lay.chunk * lay.n_chunks >= 50
    assert lay.n_chunks % 2 == 0  # every thread the same number of chunks
    lay = _engine.layout(50, 1e6, 1.5e6, threads_requested=2)  # one seed fits
    assert (lay.workers, lay.chunk, lay.n_chunks) == (1, 1, 50)


def test_environment_is_checked(monkeypatch):
    monkeypatch.setenv(_engine.ENV_THREADS, "two")
    with pytest.raises(ValueError, match="KERNELCOLLAPSE_THREADS must be an integer >= 1"):
        _engine.threads()
    monkeypatch.setenv(_engine.ENV_THREADS, "3")
    assert _engine.threads() == 3 and _engine.threads(1) == 1
    monkeypatch.delenv(_engine.ENV_THREADS)
    assert _engine.threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv(_engine.ENV_SOLVER, "qr")
    with pytest.raises(ValueError, match="KERNELCOLLAPSE_DOWN_SOLVER must be one of"):
        _engine.down_solver("cpu", 3)
    monkeypatch.setenv(_engine.ENV_DEVICES, "2")
    with pytest.raises(ValueError, match="KERNELCOLLAPSE_DEVICES must be '1' or 'all'"):
        _engine.devices()
    with pytest.raises(ValueError, match="threads must be an integer >= 1, got 0"):
        simulate(S, W, T=10, T0=20, n=1, lam=0.1, sigma=0.5, sigma0=0.5, seeds=2, threads=0)


_CACHE = """
import numpy as np, kernelcollapse as kc
s, w = kc.isotropic(6)
kc.simulate(s, w, T=9, T0=12, n=[0, 2], lam=[0.1, 1.0], sigma=0.5, sigma0=0.5, seeds=2)
"""


def test_compilation_cache_is_opt_in(tmp_path):
    cache = tmp_path / "cache"
    env = {**os.environ, _engine.ENV_CACHE: str(cache)}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    subprocess.run([sys.executable, "-c", _CACHE], env=env, check=True, timeout=240)
    entries = list(cache.iterdir())
    assert entries  # the programs were written
    # A second process reads them back and writes nothing new.
    subprocess.run([sys.executable, "-c", _CACHE], env=env, check=True, timeout=240)
    assert sorted(cache.iterdir()) == sorted(entries)
    env.pop(_engine.ENV_CACHE)
    subprocess.run([sys.executable, "-c", _CACHE], env={**env, "HOME": str(tmp_path)},
                   check=True, timeout=240)
    assert not (tmp_path / ".cache").exists()  # off unless asked for


def test_engine_object_carries_the_choices_of_a_call(monkeypatch):
    """One Engine per call: its threads and devices leave the numbers bit-identical, its solver
    is the one used (another rounding, the same errors to ~1e-12), a keyword replaces its field
    and an environment variable gives only the defaults."""
    import kernelcollapse as kc
    from kernelcollapse.simulator import Engine

    s, w = kc.isotropic(6)
    args = dict(T=12, T0=15, n=[0, 2], lam=[0.1, 1.0], sigma=0.3, sigma0=0.4, seeds=16, key=3)
    base = kc.simulate(s, w, **args).errors
    one = kc.simulate(s, w, engine=Engine(threads=1, devices="1"), **args).errors
    assert np.array_equal(base, one)
    eigh = kc.simulate(s, w, engine=Engine(down_solver="eigh"), **args).errors
    assert np.allclose(eigh, base, rtol=1e-10) and not np.array_equal(eigh, base)
    monkeypatch.setenv(_engine.ENV_SOLVER, "eigh")  # the default only: the object wins
    chol = kc.simulate(s, w, engine=Engine(down_solver="cholesky"), **args).errors
    assert np.array_equal(chol, base)  # two lam values: cholesky is the CPU's default
    numpy = kc.simulate(s, w, engine=Engine(sampler="rows"), backend="numpy", **args).errors
    rows = kc.simulate(s, w, engine=Engine(sampler="rows"), **args).errors
    assert np.allclose(numpy, rows, rtol=1e-9)


@pytest.mark.parametrize("kwargs, match", [
    (dict(backend="torch"), "backend must be one of"),
    (dict(sampler="law"), "sampler must be one of"),
    (dict(threads=0), "threads must be"),
    (dict(lanes=-1), "lanes must be"),
    (dict(down_solver="qr"), "down_solver must be one of"),
    (dict(devices="2"), "devices must be one of"),
    (dict(memory_budget=0), "memory_budget must be"),
])
def test_engine_refuses_bad_fields(kwargs, match):
    from kernelcollapse.simulator import Engine

    with pytest.raises(ValueError, match=match):
        Engine(**kwargs)


def test_simulate_refuses_what_is_not_an_engine():
    import kernelcollapse as kc

    with pytest.raises(TypeError, match="engine must be a kernelcollapse.simulator.Engine"):
        kc.simulate(*kc.isotropic(3), T=5, T0=6, n=1, lam=0.1, sigma=0.1, sigma0=0.1, seeds=2,
                    engine={"threads": 1})


def test_the_programs_choices_are_hashable_objects_named_like_the_engines():
    """The JAX programs take their solvers and generators as small hashable objects (static
    arguments: equal objects share one compilation), one for each name the engine and the plan
    use."""
    from kernelcollapse.simulator import _engine, _jax

    assert tuple(_jax.DOWN_SOLVERS) == _engine.DOWN_SOLVERS
    for name in _engine.DOWN_SOLVERS:
        a, b = _jax.down_solver(name), type(_jax.down_solver(name))()
        assert a == b and hash(a) == hash(b) and a.name == name
    assert set(_jax.GENERATORS) == {"law", "primal", "dual", "pinv"}
    assert _jax.generator("law").exact and not _jax.generator("primal").exact
    assert _jax.generator("primal") != _jax.generator("dual")
