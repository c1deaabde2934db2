"""GPU benchmark: ``kernelcollapse bench --gpu [--max-seconds S] [--smoke]``, also
``python -m kernelcollapse.bench.gpu``.

Measures on whatever device jax has (its first device: the GPU when there is one), in this
order, writing ``<out>/bench_gpu.json`` after every step and ``bench_gpu.md`` (on a machine
without a GPU the name says the platform, ``bench_gpu_cpu``; ``--smoke`` adds ``_smoke``):

1. the device, and jax's float64 matmul rate at ``d = 2000`` and ``d = 8192`` (the reference of
   the flop fractions: the faster of the two);
2. the canonical sweep of :mod:`kernelcollapse.bench` (``d = 200``, 50 seeds, 4 ``T``, 5 ``n``,
   20 ``lam``) in the platform's default form: the first call (compilation) and the best of
   three warm calls; then each ``T`` alone (which part of the sweep costs what) and the same
   grid at ``d = 12`` (the fixed cost: Python, dispatch, kernel launches);
3. the canonical sweep as the first work of a fresh process, twice, with jax's persistent
   compilation cache in a temporary directory (deleted afterwards): the first process fills
   it (a cold start), the second reads it;
4. the ``d = 2000`` sweep (``T0 = 400``: rows drawn) with 10 and with 100 seeds: first call,
   warm, and the achieved flop rate against the matmul rate (flops of the algorithm run, and
   of the tridiagonal algorithm, the least work);
5. where the ``d = 2000`` sweep's time goes (:mod:`kernelcollapse.bench.gpu_profile`): the chain,
   the downstream fits and each ``T``, and the rates of the Gram and Cholesky kernels alone;
6. every variant of the programs at both sizes: seeds vmapped in lanes of
   :data:`kernelcollapse.simulator._engine.GPU_LANES`, all in one vmap, or one at a time (the CPU
   form), with each downstream solver (batched Cholesky per ``lam``, one eigendecomposition,
   one tridiagonal reduction per seed), chosen through ``KERNELCOLLAPSE_LANES`` and
   ``KERNELCOLLAPSE_DOWN_SOLVER``.

``--max-seconds`` (default 330) bounds the run: a step starts only when its estimated time (from
the steps already measured) fits in what is left; skipped steps are recorded with the reason.
A step that fails is recorded with its error and the run goes on.  Targets: the
canonical sweep warm at most 50 ms, with compilation at most 3 s (the cache allowed), the
``d = 2000`` sweep at least 25% of the matmul rate.

Memory: the sweeps run with ``memory_budget`` half the device's memory (at most 32 GiB), so
the seeds of a lane group fit at ``d = 2000``; jax's preallocation of 75% of the GPU is off
(``XLA_PYTHON_CLIENT_PREALLOCATE=false``) so that the fresh processes find memory.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from kernelcollapse.bench.limits import matmul_rate
from kernelcollapse.bench.report import _f, _row
from kernelcollapse.bench.suite import CANONICAL, SMOKE, Config, library_sweep, machine_info

__all__ = ["TARGETS", "main", "run"]

TARGETS = {"canonical_warm_s": 0.050, "canonical_cold_s": 3.0, "d2000_fraction": 0.25}
DEFAULT_MAX_SECONDS = 330.0
LARGE_D = 2000
SEEDS_LARGE = (10, 100)


def _variants() -> list[tuple[str, dict]]:
    from kernelcollapse.simulator._engine import GPU_LANES

    lanes = str(GPU_LANES)
    return [
        (f"lanes of {lanes}, cholesky", {"KERNELCOLLAPSE_LANES": lanes,
                                         "KERNELCOLLAPSE_DOWN_SOLVER": "cholesky"}),
        (f"lanes of {lanes}, eigh", {"KERNELCOLLAPSE_LANES": lanes,
                                     "KERNELCOLLAPSE_DOWN_SOLVER": "eigh"}),
        (f"lanes of {lanes}, tridiagonal", {"KERNELCOLLAPSE_LANES": lanes,
                                            "KERNELCOLLAPSE_DOWN_SOLVER": "tridiagonal"}),
        ("one vmap, cholesky", {"KERNELCOLLAPSE_LANES": "0",
                                "KERNELCOLLAPSE_DOWN_SOLVER": "cholesky"}),
        ("seed loop, cholesky", {"KERNELCOLLAPSE_LANES": "1",
                                 "KERNELCOLLAPSE_DOWN_SOLVER": "cholesky"}),
        ("seed loop, tridiagonal", {"KERNELCOLLAPSE_LANES": "1",
                                    "KERNELCOLLAPSE_DOWN_SOLVER": "tridiagonal"}),
    ]


class _Env:
    """Set environment variables for a block (the engine reads them at every call)."""

    def __init__(self, values: dict):
        self.values, self.saved = values, {}

    def __enter__(self):
        for k, v in self.values.items():
            self.saved[k] = os.environ.get(k)
            os.environ[k] = v

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _device() -> dict:
    import jax

    dev = jax.devices()[0]
    info = {"platform": dev.platform, "device": str(dev),
            "device_kind": getattr(dev, "device_kind", ""), "count": len(jax.devices())}
    try:
        stats = dev.memory_stats() or {}
    except Exception:  # noqa: BLE001  (not every backend has memory stats)
        stats = {}
    info["memory_bytes"] = stats.get("bytes_limit")
    return info


def _budget(device: dict) -> float:
    mem = device.get("memory_bytes")
    if device["platform"] == "cpu" or not mem:
        return 2.0 * 2**30
    return float(min(0.5 * mem, 32 * 2**30))


def _sweep(cfg: Config, *, d: int, seeds: int, budget: float, warm: int = 3) -> dict:
    first, _ = library_sweep(cfg, d=d, seeds=seeds, memory_budget=budget)
    passes = [library_sweep(cfg, d=d, seeds=seeds, memory_budget=budget)[0]
              for _ in range(warm)]
    return {"d": d, "seeds": seeds, "first_s": first, "warm_s": min(passes), "passes": passes}


_FRESH = """
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
import jax
from kernelcollapse.bench.suite import Config, library_sweep
cfg = Config(**json.loads({cfg!r}))
t1 = time.perf_counter()
seconds, _ = library_sweep(cfg, memory_budget={budget!r})
print(json.dumps({{"import_s": t1 - t0, "sweep_s": seconds, "device": str(jax.devices()[0])}}))
"""


def _fresh(cfg: Config, budget: float, cache: Path, timeout: float) -> dict:
    from kernelcollapse.bench.suite import _config_json
    from kernelcollapse.simulator._engine import ENV_CACHE

    root = str(Path(__file__).resolve().parent.parent.parent)
    script = _FRESH.format(root=root, cfg=_config_json(cfg), budget=budget)
    env = {**os.environ, ENV_CACHE: str(cache), "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=timeout)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(proc.stderr[-1500:])
    return {"wall_s": wall, **json.loads(proc.stdout.strip().splitlines()[-1])}


def _flops(cfg: Config, d: int, seeds: int, solver: str) -> dict:
    from kernelcollapse.bench.limits import sweep_flops

    return {"gflop": sweep_flops(cfg, d=d, seeds=seeds, solver=solver) / 1e9,
            "gflop_least_work": sweep_flops(cfg, d=d, seeds=seeds,
                                            solver="tridiagonal") / 1e9}


def run(*, smoke: bool = False, max_seconds: float = DEFAULT_MAX_SECONDS,
        out_dir: Path | str | None = None, progress: bool = True,
        note: str = "") -> tuple[dict, Path, Path]:
    """Run the GPU benchmark (module docstring); return ``(results, json path, md path)``."""
    from kernelcollapse.bench import default_out_dir
    from kernelcollapse.simulator import _engine

    started = time.perf_counter()
    # Without this jax takes 75% of a GPU's memory at start, and the fresh processes of step 3
    # would find none left (set before jax starts; the children inherit it).
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

    def left() -> float:
        return max_seconds - (time.perf_counter() - started)

    from kernelcollapse.bench import _progress

    say = _progress(progress)

    cfg = SMOKE if smoke else CANONICAL
    large_d = 24 if smoke else LARGE_D
    seeds_large = (2, 4) if smoke else SEEDS_LARGE
    large = cfg  # T0 = 400 < d = 2000 (20 < 24 at smoke size): the rows chain
    device = _device()
    budget = _budget(device)
    name = "bench_gpu" + ("" if device["platform"] == "gpu" else f"_{device['platform']}") \
        + ("_smoke" if smoke else "")
    out = default_out_dir() if out_dir is None else Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / f"{name}.json", out / f"{name}.md"
    res: dict = {"name": name, "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                 "machine": machine_info(), "device": device, "note": note,
                 "max_seconds": max_seconds, "memory_budget": budget,
                 "default_form": {"lanes": _engine.lanes(device["platform"]),
                                  "solver": _engine.down_solver(device["platform"], cfg.n_lam),
                                  "devices": len(_engine.devices())},
                 "steps": {}, "skipped": {}, "errors": {}}

    def save() -> None:
        res["total_s"] = time.perf_counter() - started
        res["targets"] = targets(res)
        json_path.write_text(json.dumps(res, indent=1, default=float) + "\n")
        md_path.write_text(markdown(res))

    def step(key: str, fn, estimate: float) -> dict | None:
        if estimate > left():
            res["skipped"][key] = (f"estimated {estimate:.0f} s, {max(left(), 0):.0f} s left "
                                   f"of --max-seconds {max_seconds:g}")
            say(f"skip {key}: {res['skipped'][key]}")
            save()
            return None
        say(key)
        t0 = time.perf_counter()
        try:
            value = fn()
        except Exception as exc:  # noqa: BLE001  (recorded; the run goes on)
            res["errors"][key] = f"{type(exc).__name__}: {exc}"[-2000:]
            say(f"{key} failed: {res['errors'][key][:200]}")
            value = None
        else:
            res["steps"][key] = value
        cost[key] = time.perf_counter() - t0
        save()
        return value

    cost: dict[str, float] = {}
    save()
    sizes = (large_d, 64) if smoke else (2000, 8192)
    step("matmul", lambda: [matmul_rate(n, repeats=3, seconds=0.1) for n in sizes], 30.0)
    canon = step("canonical", lambda: _sweep(cfg, d=cfg.d, seeds=cfg.seeds, budget=budget),
                 60.0)
    c_cost = cost.get("canonical", 60.0)

    def breakdown():
        per_T = {}
        for T in cfg.Ts:
            one = replace(cfg, Ts=(T,))
            library_sweep(one, memory_budget=budget)
            per_T[str(T)] = min(library_sweep(one, memory_budget=budget)[0] for _ in range(3))
        tiny = replace(cfg, d=12, T0=20, Ts=tuple(max(2, T // 20) for T in cfg.Ts))
        library_sweep(tiny, memory_budget=budget)
        floor = min(library_sweep(tiny, memory_budget=budget)[0] for _ in range(3))
        return {"per_T_warm_s": per_T, "fixed_cost_s": floor}

    if canon is not None:
        step("canonical_breakdown", breakdown, c_cost)
    cache = Path(tempfile.mkdtemp(prefix="kernelcollapse-jax-cache-"))
    try:
        for key in ("fresh_empty_cache", "fresh_filled_cache"):
            step(key, lambda: _fresh(cfg, budget, cache, timeout=max(left(), 1.0)),
                 c_cost + 15.0)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    solver = res["default_form"]["solver"]
    rates = [m["gflops"] for m in res["steps"].get("matmul", [])]
    for seeds in seeds_large:
        key = f"d{large_d}_seeds{seeds}"
        estimate = max(cost.get(f"d{large_d}_seeds{seeds_large[0]}", 0.0) * 3, 90.0)
        r = step(key, lambda seeds=seeds: _sweep(large, d=large_d, seeds=seeds, budget=budget,
                                                 warm=2), estimate)
        if r is not None:
            r.update(_flops(large, large_d, seeds, solver))
            r["achieved_gflops"] = r["gflop"] / r["warm_s"]
            if rates:
                r["fraction_of_matmul"] = r["achieved_gflops"] / max(rates)
                r["fraction_least_work"] = r["gflop_least_work"] / r["warm_s"] / max(rates)
            save()
    if rates and f"d{large_d}_seeds{seeds_large[0]}" in res["steps"]:
        from kernelcollapse.bench import gpu_profile

        step(f"d{large_d}_profile",
             lambda: gpu_profile.profile(large, d=large_d, seeds=seeds_large[0], budget=budget,
                                         rate=max(rates)),
             cost[f"d{large_d}_seeds{seeds_large[0]}"] * 4 + 20.0)
    for label, env in _variants():
        for size, run_fn, base_key, flop_d, flop_seeds in (
                ("canonical", lambda: _sweep(cfg, d=cfg.d, seeds=cfg.seeds, budget=budget),
                 "canonical", None, None),
                (f"d{large_d}", lambda: _sweep(large, d=large_d, seeds=seeds_large[0],
                                               budget=budget, warm=2),
                 f"d{large_d}_seeds{seeds_large[0]}", large_d, seeds_large[0])):
            key = f"variant: {label} / {size}"

            def measured(run_fn=run_fn, env=env, flop_d=flop_d, flop_seeds=flop_seeds):
                with _Env(env):
                    r = run_fn()
                if flop_d is not None:
                    r.update(_flops(large, flop_d, flop_seeds,
                                    env["KERNELCOLLAPSE_DOWN_SOLVER"]))
                    if rates:
                        r["fraction_of_matmul"] = r["gflop"] / r["warm_s"] / max(rates)
                        r["fraction_least_work"] = (r["gflop_least_work"] / r["warm_s"]
                                                    / max(rates))
                return r

            step(key, measured, cost.get(base_key, 60.0) * 1.5 + 5.0)
    say(f"wrote {json_path} and {md_path}")
    return res, json_path, md_path


def targets(res: dict) -> list[dict]:
    """The three GPU targets with their measured values."""
    rows = []
    steps = res["steps"]
    if "canonical" in steps:
        rows.append(_row("gpu_warm", "canonical sweep, warm (s)", steps["canonical"]["warm_s"],
                         TARGETS["canonical_warm_s"], higher=False))
    fresh = [steps[k]["sweep_s"] + steps[k]["import_s"] for k in
             ("fresh_empty_cache", "fresh_filled_cache") if k in steps]
    if fresh:
        rows.append(_row("gpu_cold", "canonical sweep with compilation, fresh process, best of "
                         "no cache / filled cache (s, imports included)", min(fresh),
                         TARGETS["canonical_cold_s"], higher=False))
    for key, r in steps.items():
        if key.startswith("d") and "_seeds" in key and "fraction_of_matmul" in r:
            rows.append(_row("gpu_fraction", f"d = {r['d']}, {r['seeds']} seeds: fraction of "
                             "the float64 matmul rate", r["fraction_of_matmul"],
                             TARGETS["d2000_fraction"], higher=True))
    return rows


def markdown(res: dict) -> str:
    dev, steps = res["device"], res["steps"]
    lines = [f"# GPU benchmark `{res['name']}` ({res['date_utc']} UTC)", "",
             "Generated by `kernelcollapse bench --gpu` from the JSON file of the same name; "
             "do not edit by hand.", "",
             f"- Device: **{dev['device']}** ({dev['device_kind']}, platform {dev['platform']}, "
             f"{dev['count']} device(s), memory {_f((dev.get('memory_bytes') or 0) / 2**30)} "
             f"GiB); jax {res['machine']['jax']}",
             f"- Default form on this platform: lanes {res['default_form']['lanes']}, "
             f"solver {res['default_form']['solver']}, devices "
             f"{res['default_form']['devices']}; memory_budget "
             f"{_f(res['memory_budget'] / 2**30)} GiB",
             f"- Total {res.get('total_s', 0):.0f} s of --max-seconds {res['max_seconds']:g}"]
    if res.get("note"):
        lines.append(f"- Note: {res['note']}")
    lines += ["", "## Targets", "", "| target | measured | goal | met | off by |",
              "|---|---|---|---|---|"]
    for t in res.get("targets", []):
        goal = ("≥ " if t["higher_is_better"] else "≤ ") + _f(t["target"])
        off = "-" if t["met"] else f"{t['shortfall_factor']:.2f}x"
        lines.append(f"| {t['what']} | {_f(t['value'])} | {goal} | "
                     f"{'yes' if t['met'] else '**no**'} | {off} |")
    if "matmul" in steps:
        lines += ["", "## Matmul rate (float64, jitted, best of 3)", "",
                  "| size | Gflop/s |", "|---|---|"]
        lines += [f"| {m['size']} | {_f(m['gflops'])} |" for m in steps["matmul"]]
    lines += ["", "## Sweeps", "", "| step | d | seeds | with compilation s | warm s | "
              "Gflop | achieved Gflop/s | fraction of matmul | fraction, least work |",
              "|---|---|---|---|---|---|---|---|---|"]
    for key, r in steps.items():
        if isinstance(r, dict) and "warm_s" in r:
            lines.append(f"| {key} | {r['d']} | {r['seeds']} | {_f(r['first_s'])} | "
                         f"{_f(r['warm_s'])} | {_f(r.get('gflop'))} | "
                         f"{_f(r.get('gflop', 0) / r['warm_s'] if 'gflop' in r else None)} | "
                         f"{_f(r.get('fraction_of_matmul'), 2)} | "
                         f"{_f(r.get('fraction_least_work'), 2)} |")
    if "canonical_breakdown" in steps:
        b = steps["canonical_breakdown"]
        lines += ["", "## Where the canonical sweep's time goes", "",
                  "Warm time of the sweep with one T at a time (the programs of the full sweep, "
                  "no new compilation), and of the same grid at d = 12 (the fixed cost of a "
                  "call: Python, dispatch, launches).", "",
                  "| T | warm s |", "|---|---|"]
        lines += [f"| {T} | {_f(s)} |" for T, s in b["per_T_warm_s"].items()]
        lines.append(f"| d = 12, every T | {_f(b['fixed_cost_s'])} |")
    profiles = [r for k, r in steps.items() if k.endswith("_profile")]
    if profiles:
        from kernelcollapse.bench import gpu_profile

        for p in profiles:
            lines += gpu_profile.markdown(p)
    fresh = [(k, steps[k]) for k in ("fresh_empty_cache", "fresh_filled_cache") if k in steps]
    if fresh:
        lines += ["", "## Fresh process (jax's persistent compilation cache in a temporary "
                  "directory, deleted afterwards)", "",
                  "| run | process wall s | imports s | sweep with compilation s |",
                  "|---|---|---|---|"]
        lines += [f"| {k} | {_f(r['wall_s'])} | {_f(r['import_s'])} | {_f(r['sweep_s'])} |"
                  for k, r in fresh]
    for title, items in (("Skipped (budget)", res["skipped"]), ("Failed", res["errors"])):
        if items:
            lines += ["", f"## {title}", ""]
            lines += [f"- {k}: {v}" for k, v in items.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kernelcollapse.bench.gpu",
                                     description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    run(smoke=args.smoke, max_seconds=args.max_seconds, out_dir=args.out,
        progress=not args.quiet, note=args.note)
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--smoke", action="store_true", help="toy sizes (a test of the code)")
    parser.add_argument("--max-seconds", type=float, default=DEFAULT_MAX_SECONDS,
                        help="stop starting steps that would not finish within this many "
                        f"seconds (default {DEFAULT_MAX_SECONDS:g})")
    parser.add_argument("--out", type=Path, default=None, help="output directory")
    parser.add_argument("--note", default="", help="free text recorded with the results")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
