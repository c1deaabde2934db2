"""Benchmarks of the simulator and the theory engine (issue 6).

``python -m benchmarks [--quick] [--out DIR]`` (or ``kernelcollapse bench``) runs, in one
process (with helper subprocesses for cold starts and memory):

1. the canonical sweep with :func:`kernelcollapse.simulate` against a plain numpy loop, warm
   and cold, and the agreement of their means;
2. the achieved flop rate of the sweep against jax's matmul rate, for several ``d``;
3. grid points per second of :func:`kernelcollapse.test_error`;
4. time and peak memory as ``d``, ``T``, ``max(n)`` and the seed count double.

It writes ``<out>/<name>.json`` (after each part) and ``<out>/<name>.md``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from benchmarks.suite import CANONICAL, QUICK, Config

RESULTS = Path(__file__).resolve().parent / "results"

__all__ = ["CANONICAL", "QUICK", "Config", "RESULTS", "run_benchmarks"]


def _progress(enabled: bool):
    start = time.perf_counter()

    def step(msg: str) -> None:
        if enabled:
            print(f"[{time.perf_counter() - start:7.1f} s] {msg}", file=sys.stderr, flush=True)

    return step


def run_benchmarks(cfg: Config = CANONICAL, *, out_dir: Path | str = RESULTS,
                   name: str | None = None, progress: bool = True,
                   note: str = "") -> tuple[dict, Path, Path]:
    """Run the four parts with sizes ``cfg``; write and return ``(results, json, markdown)``.

    ``name`` defaults to ``bench`` (``bench_quick`` for :data:`QUICK`), with ``_gpu`` appended
    when jax runs on a GPU.  ``note`` is recorded verbatim (e.g. that the machine was shared).
    """
    from benchmarks import limits, report, suite

    step = _progress(progress)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    machine = suite.machine_info()
    if name is None:
        name = "bench_quick" if cfg == QUICK else "bench"
        if machine["gpu"]:
            name += "_gpu"
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
    results["machine"]["load_average_at_end"] = suite.machine_info()["load_average_1_5_15"]
    results["targets"] = report.targets(results)
    save()
    md_path.write_text(report.markdown(results))
    step(f"wrote {json_path} and {md_path}")
    return results, json_path, md_path
