"""The library's BLAS threads (kernelcollapse._util.blas): one thread inside its heavy calls, the
user's settings back after them, whatever the nesting or the threads the calls come from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import kernelcollapse as kc
from kernelcollapse._util import blas as _blas
from kernelcollapse.simulator import _api as simulator
from kernelcollapse.theory import _search
from kernelcollapse.tuning import _recommend

S, W0 = kc.isotropic(10)
SIM = dict(T=[[12], [30]], T0=20, n=[[0], [2]], lam=[1e-2, 1e-1], sigma=0.5, sigma0=0.7,
           seeds=6, key=1)


def blas_threads() -> dict[str, int]:
    return {lib["filepath"]: lib["num_threads"] for lib in threadpool_info()
            if lib["user_api"] == "blas"}


def set_blas_threads(limits) -> None:
    """Set BLAS threads the way a script does, from a thread that then ends (threadpoolctl
    lets only a live thread that set a limit change it again)."""
    thread = threading.Thread(target=threadpool_limits, kwargs=dict(limits=limits,
                                                                   user_api="blas"))
    thread.start()
    thread.join()


@pytest.fixture
def outer():
    """The caller's setting: 3 BLAS threads in every library (more than the library's 1)."""
    import scipy.linalg.cython_lapack  # noqa: F401  (jaxlib's LAPACK: its BLAS in the setting)

    original = blas_threads()
    set_blas_threads(3)
    try:
        found = blas_threads()
        if not found or set(found.values()) != {3}:
            pytest.skip(f"this BLAS does not take 3 threads: {found}")
        yield found
    finally:
        set_blas_threads(original)


def spy(monkeypatch, module, name: str, seen: list):
    """Replace ``module.name`` by a wrapper that records the BLAS threads when it is called."""
    inner = getattr(module, name)

    def wrapper(*args, **kwargs):
        seen.append(blas_threads())
        return inner(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)


@pytest.mark.parametrize("threads", [1, 2])
def test_simulate_runs_on_one_blas_thread_and_restores(outer, monkeypatch, threads):
    seen: list = []
    spy(monkeypatch, simulator, "_simulate_jax", seen)
    # and from the worker threads that run the chunks of seeds
    make_runner = simulator._chunk_runner

    def chunk_runner(*args, **kwargs):
        run = make_runner(*args, **kwargs)

        def spied(keys, rows):
            seen.append(blas_threads())
            run(keys, rows)

        return spied

    monkeypatch.setattr(simulator, "_chunk_runner", chunk_runner)
    simulator.simulate(S, W0, threads=threads, **SIM)
    assert len(seen) >= 1 + threads
    for inside in seen:
        assert set(inside) >= set(outer)
        assert set(inside.values()) == {1}, inside
    assert blas_threads() == outer


@pytest.mark.parametrize("module, name, call", [
    (_search, "search_lambda",
     lambda: kc.optimal_lambda(S, W0, T=30, T0=20, n=2, sigma=0.5, sigma0=0.7)),
    (_recommend, "spectrum",
     lambda: kc.recommend(np.random.default_rng(0).normal(size=(60, 8)), n=2, T0=40,
                          sigma0=0.5, sigma=0.5)),
])
def test_theory_and_tuning_run_on_one_blas_thread(outer, monkeypatch, module, name, call):
    seen: list = []
    spy(monkeypatch, module, name, seen)
    call()
    assert seen and all(set(inside.values()) == {1} for inside in seen), seen
    assert blas_threads() == outer


def test_nested_and_concurrent_scopes_restore_when_the_last_exits(outer):
    entered, release_a, a_done = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with _blas.one_blas_thread():
            entered.set()
            release_a.wait(10)
        a_done.set()

    thread = threading.Thread(target=a)
    thread.start()
    assert entered.wait(10)
    with _blas.one_blas_thread():
        with _blas.one_blas_thread():  # nested in this thread
            seen["nested"] = blas_threads()
        release_a.set()
        assert a_done.wait(10)
        seen["after a left"] = blas_threads()  # this scope is still open
    thread.join(10)
    assert set(seen["nested"].values()) == {1}
    assert set(seen["after a left"].values()) == {1}
    assert blas_threads() == outer


def test_a_limit_the_user_holds_is_kept(outer):
    with threadpool_limits(limits=2, user_api="blas"):
        simulator.simulate(S, W0, **SIM)
        assert set(blas_threads().values()) == {2}
    assert blas_threads() == outer
    with _blas.one_blas_thread():  # the user's limit gone, the library's applies again
        assert set(blas_threads().values()) == {1}


def test_an_error_inside_restores(outer):
    with pytest.raises(ValueError, match="seeds"):
        simulator.simulate(S, W0, **{**SIM, "seeds": 0})
    with pytest.raises(RuntimeError):
        with _blas.one_blas_thread():
            raise RuntimeError
    assert blas_threads() == outer
    assert _blas._depth == 0


def test_fresh_process_limits_the_blas_jax_loads_during_the_call():
    # jaxlib loads scipy's LAPACK (and its OpenBLAS) on its first factorisation, inside the
    # first call: that library must be limited too, and left at the user's setting after.
    script = textwrap.dedent("""
        import json
        from threadpoolctl import threadpool_info
        import kernelcollapse as kc
        from kernelcollapse.simulator import _api as simulator

        def blas():
            return {lib["filepath"]: lib["num_threads"] for lib in threadpool_info()
                    if lib["user_api"] == "blas"}

        inner, seen = simulator._simulate_jax, {}
        def spied(*args, **kwargs):
            out = inner(*args, **kwargs)
            seen["inside"] = blas()  # after the factorisations, still inside the call
            return out
        simulator._simulate_jax = spied
        before = blas()
        s, w0 = kc.isotropic(8)
        kc.simulate(s, w0, T=30, T0=20, n=[0, 2], lam=0.1, sigma=0.5, sigma0=0.5, seeds=4,
                    key=0)
        print(json.dumps({"before": before, "inside": seen["inside"], "after": blas()}))
    """)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "2"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    scipy_libs = set(out["inside"]) - set(out["before"])
    assert set(out["inside"].values()) == {1}, out
    assert set(out["after"].values()) == {2}, out
    assert set(out["after"]) == set(out["inside"])
    assert scipy_libs or len(out["inside"]) == 1, out  # numpy's and scipy's may be one library
