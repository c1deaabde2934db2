"""Smoke test of the benchmarks (issue 6): tiny sizes, the JSON and Markdown are written.

No timing assertions: speed targets belong to the benchmark's own report.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import Config, run_benchmarks  # noqa: E402
from benchmarks.limits import simulate_flops  # noqa: E402

TINY = Config(d=12, T0=20, Ts=(8,), ns=(0, 1, 3), n_lam=10, seeds=3, cold=False,
              limit_ds=(12,), limit_seeds=2, theory_ds=(50,), theory_grid=(4, 5),
              theory_repeats=1, growth_base=dict(d=6, T=8, T0=10, N=1, seeds=2),
              growth_steps=2)


def test_quick_path_writes_results(tmp_path):
    results, json_path, md_path = run_benchmarks(TINY, out_dir=tmp_path, name="tiny",
                                                 progress=False)
    data = json.loads(json_path.read_text())
    assert {"machine", "config", "baseline", "limit", "theory", "growth", "targets"} <= set(data)
    assert {"cpu", "usable_cores", "jax", "devices", "gpu"} <= set(data["machine"])
    base = data["baseline"]
    assert {"numpy", "library", "warm_ratio", "agreement"} <= set(base)
    assert base["agreement"]["points"] == len(TINY.Ts) * len(TINY.ns) * TINY.n_lam
    assert [r["d"] for r in data["limit"]] == list(TINY.limit_ds)
    assert data["theory"][0]["points"] == 20 and data["theory"][0]["finite"]
    assert set(data["growth"]["axes"]) == {"d", "T", "N", "seeds"}
    assert all(len(a["points"]) == 2 for a in data["growth"]["axes"].values())
    md = md_path.read_text()
    assert "## 1. Baseline ratio" in md and "## 4. How cost grows" in md


def test_flop_model_counts_gram_products():
    # One primal generation (T0 >= d) and no downstream lams beyond the eigh path: the model
    # must grow like T0 d^2 in the chain, i.e. doubling T0 at large T0 doubles the chain flops.
    one = simulate_flops(d=50, T=10, T0=1000, ns=(0, 1), L=20, seeds=1)
    two = simulate_flops(d=50, T=10, T0=2000, ns=(0, 1), L=20, seeds=1)
    zero = simulate_flops(d=50, T=10, T0=1000, ns=(0,), L=20, seeds=1)
    assert two - zero == pytest.approx(2 * (one - zero), rel=0.01)
