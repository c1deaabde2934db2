"""Smoke test of the benchmarks: tiny sizes, the JSON and Markdown are written.

No timing assertions: speed targets belong to the benchmark's own report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from kernelcollapse.bench import SMOKE, default_out_dir, run_benchmarks
from kernelcollapse.bench.limits import simulate_flops

ROOT = Path(__file__).resolve().parent.parent
# The cold start (a subprocess importing jax) is exercised by the installed-wheel test.
TINY = replace(SMOKE, cold=False)


def test_quick_path_writes_results(tmp_path):
    results, json_path, md_path = run_benchmarks(TINY, out_dir=tmp_path, name="tiny",
                                                 progress=False)
    data = json.loads(json_path.read_text())
    assert {"machine", "config", "baseline", "limit", "theory", "growth", "cores",
            "targets"} <= set(data)
    assert {"cpu", "usable_cores", "jax", "devices", "gpu"} <= set(data["machine"])
    # the thread pools as the environment left them, outside the library's own calls
    pools = [p for p in data["machine"]["threadpools"] if p["user_api"] == "blas"]
    assert pools and all(p["num_threads"] >= 1 for p in pools)
    assert "thread pools found" in md_path.read_text()
    base = data["baseline"]
    assert {"numpy", "library", "warm_ratio", "agreement"} <= set(base)
    assert base["agreement"]["points"] == len(TINY.Ts) * len(TINY.ns) * TINY.n_lam
    assert [r["d"] for r in data["limit"]] == list(TINY.limit_ds)
    assert data["theory"][0]["points"] == 20 and data["theory"][0]["finite"]
    assert data["theory"][0]["optimal_lambda_s"] > 0 and data["theory"][0]["nodes"] == 50
    runs = data["cores"]["runs"]  # one core, then every usable core
    assert runs[0]["cores"] == runs[0]["threads"] == 1
    assert runs[-1]["cores"] == runs[-1]["threads"] == len(os.sched_getaffinity(0))
    assert set(data["growth"]["axes"]) == {"d", "T", "N", "seeds"}
    assert all(len(a["points"]) == 2 for a in data["growth"]["axes"].values())
    md = md_path.read_text()
    assert "## 1. Baseline ratio" in md and "## 5. Every core" in md


def test_default_output_is_the_checkouts_results_dir():
    # This suite runs from a checkout, where the committed results live.
    assert default_out_dir() == ROOT / "benchmarks" / "results"


def test_checkout_entry_point_parses_the_same_options(tmp_path):
    # `python -m benchmarks` stays a thin entry of `kernelcollapse bench` in a checkout.
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--help"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "python -m benchmarks" in proc.stdout
    assert "--smoke" in proc.stdout and "kernelcollapse-bench" in proc.stdout


def test_flop_model_counts_the_chain_per_generation():
    # With T0 >= d each generation is one exact-law increment g / sqrt(c): 3 d flops per seed,
    # whatever T0 is (the simulator never draws the T0 x d rows); doubling max(n) doubles it.
    d = 50

    def chain(T0, ns, seeds=1, Ts=(10,)):
        return (simulate_flops(d=d, Ts=Ts, T0=T0, ns=ns, L=20, seeds=seeds)
                - simulate_flops(d=d, Ts=Ts, T0=T0, ns=(0,) * len(ns), L=20, seeds=seeds))

    assert chain(1000, (0, 1)) == 3 * d
    assert chain(2000, (0, 1)) == 3 * d
    assert chain(1000, (0, 2)) == 2 * 3 * d
    assert chain(1000, (0, 1), seeds=7) == 7 * 3 * d
    # With T0 < d the rows are drawn and the T0 x T0 Gram dominates: 2 T0^2 d at leading order,
    # plus the 4 T0 d of the two matrix-vector products, so doubling T0 at T0 << d multiplies
    # the chain flops by between 3 and 4 (3.49 here: 2 T0^2 d / (4 T0 d) = T0 / 2).
    small, big = chain(5, (0, 1)), chain(10, (0, 1))
    assert 3 < big / small < 4 and small > 2 * 5**2 * d + 4 * 5 * d
    # One call over several T: the rows chain is fitted once, the exact-law chain is drawn
    # with each T's downstream data.
    assert chain(5, (0, 1), Ts=(10, 20, 40)) == pytest.approx(small, rel=1e-12)
    assert chain(1000, (0, 1), Ts=(10, 20, 40)) == pytest.approx(3 * 3 * d, rel=1e-12)


def test_gpu_benchmark_runs_on_any_device(tmp_path):
    """`kernelcollapse bench --gpu` at toy sizes on this machine's device (the CPU here): every
    step runs and the JSON and Markdown name the device."""
    from kernelcollapse.bench import gpu

    res, json_path, md_path = gpu.run(smoke=True, out_dir=tmp_path, progress=False)
    data = json.loads(json_path.read_text())
    assert json_path.name == "bench_gpu_cpu_smoke.json" and not data["errors"]
    assert not data["skipped"] and data["device"]["platform"] == "cpu"
    steps = data["steps"]
    assert {"matmul", "canonical", "canonical_breakdown", "fresh_empty_cache",
            "fresh_filled_cache", "d24_seeds2", "d24_seeds4"} <= set(steps)
    assert sum(k.startswith("variant: ") for k in steps) == 2 * len(gpu._variants())
    assert 0 < steps["d24_seeds2"]["fraction_of_matmul"]
    assert {t["key"] for t in data["targets"]} == {"gpu_warm", "gpu_cold", "gpu_fraction"}
    md = md_path.read_text()
    import jax

    # the device as this jax names it ("cpu:0" in recent versions, "TFRT_CPU_0" in 0.5)
    assert f"Device: **{jax.devices()[0]}**" in md and "## Fresh process" in md


def test_gpu_benchmark_keeps_to_its_budget(tmp_path):
    from kernelcollapse.bench import gpu

    res, json_path, _ = gpu.run(smoke=True, out_dir=tmp_path, progress=False, max_seconds=0.0)
    data = json.loads(json_path.read_text())
    assert not data["steps"] and "canonical" in data["skipped"]  # nothing started, files written


def test_practitioner_benchmark_resumes_without_redoing_finished_regimes(tmp_path, monkeypatch):
    """An interrupted `bench --practitioner` keeps the regimes its file holds and computes only
    the others; `fresh=True`, or a file of another number of repetitions, computes all again.
    The data, features and tuning are stubbed: this checks the bookkeeping."""
    from types import SimpleNamespace

    import numpy as np

    from kernelcollapse import datasets
    from kernelcollapse.bench import practitioner as P

    regimes = (P.Regime("rbf", 30, 40, 1, 1.0, 0.0), P.Regime("raw", 50, 60, 2, 0.5, 0.01))
    computed = []

    def fake_regime(feats, target, regime, *, reps, key, **kw):
        computed.append(regime)
        ratio = {"cv": 1.5, "recommend": 1.0 + regime.T / 1000, "recommend_pilot": 1.0}
        return dict(regime=regime._asdict(), reps=reps, sigma0=0.4, best=0.3, best_lam=0.1,
                    ratio=ratio, mean_error=ratio, mean_weight=1.0, mean_sigma=0.4)

    monkeypatch.setattr(P, "SMOKE_REGIMES", regimes)
    monkeypatch.setattr(P, "run_regime", fake_regime)
    monkeypatch.setattr(P, "features", lambda kind, images, key=0: np.zeros((10, 3)))
    monkeypatch.setattr(datasets, "mnist", lambda *a, **k: SimpleNamespace(
        images=np.zeros((10, 784)), labels=np.arange(10)))
    first = P.main(tmp_path, size="smoke", progress=None)
    assert computed == list(regimes)
    path = tmp_path / "practitioner_smoke.json"
    data = json.loads(path.read_text())
    # interrupted after the first regime: the file holds only it
    path.write_text(json.dumps({**data, "results": data["results"][:1]}))
    computed.clear()
    again = P.main(tmp_path, size="smoke", progress=None)
    assert computed == [regimes[1]] and again == first
    assert json.loads(path.read_text())["results"] == data["results"]
    computed.clear()
    P.main(tmp_path, size="smoke", progress=None)
    assert computed == []  # everything done: nothing recomputed
    P.main(tmp_path, size="smoke", progress=None, fresh=True)
    assert computed == list(regimes)
    computed.clear()
    path.write_text(json.dumps({**data, "meta": {**data["meta"], "reps": 5}}))
    P.main(tmp_path, size="smoke", progress=None)
    assert computed == list(regimes)  # other repetitions: not the same results
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_missed_target_says_what_this_run_measured():
    """The report's line for a missed target quotes the run's load and, for the cores, how many
    cores the every-core run kept busy (numbers from the results, not typed in)."""
    from kernelcollapse.bench import report

    res = {"machine": {"usable_cores": 2, "load_average_1_5_15": [2.85, 3.5, 2.6],
                       "load_average_at_end": [4.37, 3.7, 2.9]},
           "cores": {"d": 2000, "speedup": 1.25,
                     "runs": [{"cores": 1, "passes": [{"cpu_per_wall": 0.99}]},
                              {"cores": 2, "passes": [{"cpu_per_wall": 0.95},
                                                      {"cpu_per_wall": 0.82}]}]}}
    (row,) = report.targets(res)
    assert row["key"] == "core_speedup" and not row["met"]
    text = report._this_run(row, res)
    assert "2.9 at the start and 4.4 at the end on 2 usable cores" in text
    assert "the 2-core run kept 0.95, 0.82 cores busy" in text
