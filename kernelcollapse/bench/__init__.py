"""Benchmarks of the simulator and the theory engine.

``kernelcollapse bench [--quick | --smoke] [--out DIR]`` (in a checkout also ``python -m
benchmarks``) runs, in one process (with helper subprocesses for the cold start and the cores):

1. the canonical sweep with :func:`kernelcollapse.simulate` against a plain numpy loop, warm
   and cold, and the agreement of their means;
2. the achieved flop rate of the sweep against jax's matmul rate, for several ``d``;
3. grid points per second of :func:`kernelcollapse.test_error` and the time of
   :func:`kernelcollapse.optimal_lambda`, up to ``d = 10**6``;
4. time and peak memory as ``d``, ``T``, ``max(n)`` and the seed count double;
5. the ``d = 2000`` sweep on one core and on every usable core (fresh processes).

``kernelcollapse bench --gpu`` is the GPU benchmark, :mod:`kernelcollapse.bench.gpu`.

It writes ``<out>/<name>.json`` (after each part) and ``<out>/<name>.md``; ``out`` defaults to
:func:`default_out_dir`.  :mod:`kernelcollapse.bench.zoo_gmm` is the reference Gaussian-mixture
experiment.  Not part of the library's API: the sizes and the report may change.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from kernelcollapse.bench.suite import CANONICAL, QUICK, SMOKE, Config

__all__ = ["CANONICAL", "QUICK", "SMOKE", "Config", "default_out_dir", "run_benchmarks"]

# Where an installed package writes by default (relative to the working directory).
INSTALLED_OUT = Path("kernelcollapse-bench")


def default_out_dir() -> Path:
    """``benchmarks/results/`` of the checkout this package runs from (an editable install or
    ``PYTHONPATH``), where the committed results live; else ``./kernelcollapse-bench/``."""
    root = Path(__file__).resolve().parent.parent.parent
    results = root / "benchmarks" / "results"
    if (root / "pyproject.toml").is_file() and results.is_dir():
        return results
    return INSTALLED_OUT


def default_name(cfg: Config, *, gpu: bool) -> str:
    """``bench``, ``bench_quick`` or ``bench_smoke`` (else ``bench_custom``), ``_gpu`` on a GPU."""
    named = [("bench", CANONICAL), ("bench_quick", QUICK), ("bench_smoke", SMOKE)]
    name = next((n for n, c in named if c == cfg), "bench_custom")
    return name + "_gpu" if gpu else name


def _progress(enabled: bool):
    start = time.perf_counter()

    def step(msg: str) -> None:
        if enabled:
            print(f"[{time.perf_counter() - start:7.1f} s] {msg}", file=sys.stderr, flush=True)

    return step


def run_benchmarks(cfg: Config = CANONICAL, *, out_dir: Path | str | None = None,
                   name: str | None = None, progress: bool = True,
                   note: str = "") -> tuple[dict, Path, Path]:
    """Run the five parts with sizes ``cfg``; write and return ``(results, json, markdown)``.

    ``out_dir`` defaults to :func:`default_out_dir`; ``name`` to :func:`default_name`.
    ``note`` is recorded verbatim (e.g. that the machine was shared).
    """
    from kernelcollapse.bench import limits, report, suite

    step = _progress(progress)
    out_dir = default_out_dir() if out_dir is None else Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    machine = suite.machine_info()
    if name is None:
        name = default_name(cfg, gpu=machine["gpu"])
    json_path, md_path = out_dir / f"{name}.json", out_dir / f"{name}.md"
    results: dict = {"name": name, "date_utc": time.strftime("%Y-%m-%d %H:%M:%S",
                                                              time.gmtime()),
                     "machine": machine, "note": note, "config": suite.asdict(cfg)}
    started = time.perf_counter()

    def save() -> None:
        results["total_s"] = time.perf_counter() - started
        json_path.write_text(json.dumps(results, indent=1, default=float) + "\n")

    step("part 1: baseline ratio")
    results["baseline"] = suite.baseline_ratio(cfg, progress=step)
    save()
    step("part 2: distance to the matmul limit")
    results["limit"] = limits.distance_to_limit(
        cfg, warm_canonical_s=results["baseline"]["library"]["warm_s"], progress=step)
    save()
    step("part 3: theory throughput")
    results["theory"] = limits.theory_throughput(cfg, progress=step)
    save()
    step("part 4: cost growth")
    results["growth"] = limits.cost_growth(cfg, progress=step)
    save()
    step("part 5: every core")
    results["cores"] = suite.core_scaling(cfg, progress=step)
    results["machine"]["load_average_at_end"] = suite.machine_info()["load_average_1_5_15"]
    results["targets"] = report.targets(results)
    save()
    md_path.write_text(report.markdown(results))
    step(f"wrote {json_path} and {md_path}")
    return results, json_path, md_path
