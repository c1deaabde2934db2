"""Targets of issue 6 and the Markdown report of a benchmark run (numbers from the JSON only)."""

from __future__ import annotations

# Targets on the 2-core CPU machine (issue 6).
WARM_RATIO = 50.0
COLD_RATIO = 10.0
MATMUL_FRACTION = 0.40
MATMUL_FRACTION_D = 2000
THEORY_SECONDS = 1.0
THEORY_D = 10_000

# Why a target can be missed and what would close it (the analysis behind the numbers; shown
# only for a missed target, next to the measured shortfall).
WHY = {
    "warm_ratio": (
        "The chain is not simulated sample by sample: least-squares generators with T0 >= d "
        "draw each increment from its exact law (d + 1 numbers, no fit), and the downstream "
        "with T >= d/2 draws the Bartlett factor of Z^T Z (singular below T = d) instead of "
        "the T x d design (kernelcollapse._simulator_jax); the 20 lam share one tridiagonal "
        "reduction of the Gram (LAPACK sytrd + orgtr) and one tridiagonal solve each. Per "
        "(T >= d, seed) at d = 200 the draws program takes ~1 ms (every random number of the "
        "seed from one Threefry call) and the algebra ~4 ms, most of it the reduction (BLAS-2 "
        "half, one core). XLA runs the batch of LAPACK calls on one core; sharding the seeds "
        "over two host devices deadlocks jax 0.10's CPU runtime on these programs, so "
        "simulate does not. To close: the second core for the LAPACK batch, L L^T as a "
        "triangular product (half its flops)."),
    "cold_ratio": (
        "A cold run pays the interpreter and the imports (~0.7 s, mostly jax) and compiles "
        "three programs: the draws (one for every T: ~0.85 s), the algebra for all T >= d "
        "(~0.3-0.4 s) and for T = 100 < d (~0.3 s), plus ~0.5 s of tracing and lowering. The "
        "random draws were most of the compile time (each jax.random call site is its own "
        "Threefry instance, ~0.3 s, chisquare ~1.4 s): kernelcollapse._random draws all of a "
        "program's numbers from one Threefry call and chi-square variates without a loop. To "
        "close further: jax's persistent compilation cache (jax_compilation_cache_dir, a "
        "global JAX setting left to the user) removes compilation from every run after the "
        "first on a machine."),
    "matmul_fraction": (
        "At d = 2000 with T0 = 400 < d the generators are minimum-norm least squares (no "
        "exact-law shortcut for a general covariance: the fit needs the row space of X), so "
        "each of the 10 generations draws its 400 x 2001 normals; one chain per seed serves "
        "every T. A generation takes ~17-20 ms per seed: the 400 x 400 Gram (0.64 Gflop) at "
        "the matmul rate, ~10 ms; the 0.8 million normals, ~6-7 ms (Threefry ~2 ms, Wichura's "
        "inverse CDF ~4 ms: two divisions and a square root per number, fused into the "
        "loop that writes X), not counted as flops; Cholesky and solves (single-threaded "
        "LAPACK), ~1.5 ms: ~0.45 of the matmul rate. The downstream at T = 800 runs at ~0.4 "
        "(the 800 x 800 Gram at the matmul rate; sytrd and orgtr at ~20 Gflop/s, half BLAS-2; "
        "its 1.6 million normals; the prediction X'(Q q), cheaper than (X'Q) q and counted as "
        "such), smaller T lower. Two full runs on 2026-11-23 gave 0.41 and 0.44: the margin "
        "is inside this VM's run-to-run variation (~10% in the sweep and ~10-30% in the "
        "matmul reference), so a run can miss by noise. To close with margin: cheaper random "
        "numbers (a counter-based generator with less "
        "integer work than Threefry-2x32's 20 rounds, or a normal transform without the "
        "division of the tail's logarithm), or a multi-threaded tridiagonal reduction "
        "(threaded OpenBLAS under XLA oversubscribes the cores, and a program with two "
        "independent batched LAPACK calls, the seeds split in halves to use both cores, hung "
        "jax 0.10's CPU runtime)."),
    "theory_seconds": (
        "test_error works in cache-sized blocks with one pass over the spectrum per block; "
        "kappa starts from a cubic interpolation of a table of df1 and its derivative, so one "
        "Newton pass confirms almost every point."),
}


def targets(results: dict) -> list[dict]:
    """Each target with its measured value, whether it is met and the shortfall factor."""
    rows = []
    base = results.get("baseline", {})
    if "warm_ratio" in base:
        rows.append(_row("warm_ratio", "warm speed-up over the numpy loop", base["warm_ratio"],
                         WARM_RATIO, higher=True))
    if "cold_ratio" in base:
        rows.append(_row("cold_ratio", "cold speed-up over the numpy loop", base["cold_ratio"],
                         COLD_RATIO, higher=True))
    for r in results.get("limit", []):
        if r["d"] == MATMUL_FRACTION_D:
            rows.append(_row("matmul_fraction", f"fraction of matmul rate at d = {r['d']}",
                             r["fraction_of_matmul"], MATMUL_FRACTION, higher=True))
    for r in results.get("theory", []):
        if r["d"] == THEORY_D:
            seconds = r["best_s"] * 1e4 / r["points"]
            rows.append(_row("theory_seconds", "theory: seconds for 1e4 points at d = 1e4",
                             seconds, THEORY_SECONDS, higher=False))
    return rows


def _row(key: str, what: str, value: float, target: float, *, higher: bool) -> dict:
    met = value >= target if higher else value <= target
    factor = target / value if higher else value / target  # > 1: how far off
    return {"key": key, "what": what, "value": value, "target": target,
            "higher_is_better": higher, "met": bool(met), "shortfall_factor": factor}


def _f(x, digits=3) -> str:
    if x is None:
        return "-"
    return f"{x:.{digits}g}"


def _canonical(cfg: dict) -> bool:
    import json
    from dataclasses import asdict

    from kernelcollapse.bench.suite import CANONICAL

    return json.loads(json.dumps(asdict(CANONICAL))) == json.loads(json.dumps(cfg))


def markdown(res: dict) -> str:
    m = res["machine"]
    cfg = res["config"]
    lines = [f"# Benchmark `{res['name']}` ({res['date_utc']} UTC)", "",
             "Generated by `kernelcollapse bench` from the JSON file of the same name; "
             "do not edit by hand.", "",
             "## Machine", "",
             f"- CPU: {m['cpu']}, {m['usable_cores']} usable cores; load average (1, 5, 15 "
             f"min) at start {m['load_average_1_5_15']}, at end "
             f"{m.get('load_average_at_end')}",
             f"- Python {m['python']}, numpy {m['numpy']}, jax {m['jax']} "
             f"({m['jax_backend']}: {', '.join(m['devices'])})",
             f"- GPU: {'yes' if m['gpu'] else 'none (no GPU was available to this run)'}",
             f"- total benchmark time {res.get('total_s', 0):.0f} s"]
    env = {k: v for k, v in m.get("thread_env", {}).items() if v is not None}
    lines.append(f"- thread settings: {env or 'none set (library defaults)'}")
    if not env.get("OPENBLAS_NUM_THREADS"):
        lines.append("- warning: OPENBLAS_NUM_THREADS unset. On an oversubscribed machine "
                     "threaded OpenBLAS (used by numpy and by jax's CPU LAPACK calls) can be "
                     "100x slower on 200 x 200 factorisations; compare with "
                     "OPENBLAS_NUM_THREADS=1")
    if res.get("note"):
        lines.append(f"- note: {res['note']}")
    lines += ["", "## Targets", ""]
    if not _canonical(cfg):
        lines += ["The targets are set for the canonical sizes (`kernelcollapse bench` without "
                  "--quick or --smoke); at these sizes the rows below are indicative only.", ""]
    lines += ["| target | measured | goal | met | off by |", "|---|---|---|---|---|"]
    for t in res.get("targets", []):
        goal = ("≥ " if t["higher_is_better"] else "≤ ") + _f(t["target"])
        off = "-" if t["met"] else f"{t['shortfall_factor']:.2f}x"
        lines.append(f"| {t['what']} | {_f(t['value'])} | {goal} | "
                     f"{'yes' if t['met'] else '**no**'} | {off} |")
    missed = [t for t in res.get("targets", []) if not t["met"]]
    if missed:
        lines += ["", "### Missed targets: why, and what would close them", ""]
        for t in missed:
            lines.append(f"- **{t['what']}**: {_f(t['value'])} against {_f(t['target'])} "
                         f"({t['shortfall_factor']:.2f}x short). {WHY[t['key']]}")

    b = res["baseline"]
    lines += ["", "## 1. Baseline ratio (canonical sweep)", "",
              f"Isotropic d = {cfg['d']}, T0 = {cfg['T0']}, T in {tuple(cfg['Ts'])}, "
              f"n in {tuple(cfg['ns'])}, "
              f"{cfg['n_lam']} lam log-spaced {cfg['lam_range'][0]:g}..{cfg['lam_range'][1]:g}, "
              f"sigma = {cfg['sigma']}, sigma0 = {cfg['sigma0']}, {cfg['seeds']} seeds, "
              "least-squares generators, replace mode. One `simulate` call for all T (each seed's "
              "generator chain serves every T).", "",
              "| run | seconds | ratio (numpy / run) |", "|---|---|---|",
              f"| numpy loop (lstsq chain per (T, n, seed), solve per lam) | "
              f"{_f(b['numpy']['seconds'])} | 1 |",
              f"| simulate, warm | {_f(b['library']['warm_s'])} | {_f(b['warm_ratio'])} |"]
    if "cold" in b:
        c = b["cold"]
        lines.append(f"| simulate, cold (fresh process: startup + imports "
                     f"{_f(c['import_s'])} s, sweep with compilation {_f(c['sweep_s'])} s) | "
                     f"{_f(c['wall_s'])} | {_f(b['cold_ratio'])} |")
    a = b["agreement"]
    lines += ["", f"Means agree within {a['k']:g} combined standard errors at "
              f"{a['points'] - a['outside']} of {a['points']} grid points (max |z| = "
              f"{_f(a['max_z'])}, max relative difference {_f(a['max_rel_diff'])}); the two "
              "use independent random numbers."]

    lines += ["", "## 2. Distance to the limit", "",
              "Flops counted with the model in `kernelcollapse/bench/limits.py` (the algorithm the "
              "simulator runs with its default sampler: 3d per exact-law generation (T0 ≥ d, "
              "drawn with each T's downstream data) or, once per seed for all T, dual Gram "
              "2·T0²·d plus Cholesky T0³/3 (T0 < d), Bartlett Gram 2d³ (T ≥ d), "
              "tridiagonal reduction and its Q 8r³/3, matmuls 2mnk; random-number generation not "
              "counted). Seconds: one `simulate` call for all T, the faster of two warm passes "
              "(at the canonical d, the warm time of part 1). "
              "Matmul rate: best of 5 jitted float64 d x d @ d x d products in jax, measured "
              "before and after the sweep at that d (the faster kept; both in the JSON), same "
              "run.",
              "", "| d | seeds | seconds | Gflop | achieved Gflop/s | matmul Gflop/s | fraction |",
              "|---|---|---|---|---|---|---|"]
    for r in res["limit"]:
        lines.append(f"| {r['d']} | {r['seeds']} | {_f(r['seconds'])} | {_f(r['gflop'])} | "
                     f"{_f(r['achieved_gflops'])} | {_f(r['matmul_gflops'])} | "
                     f"{_f(r['fraction_of_matmul'], 2)} |")

    lines += ["", "## 3. Theory throughput", "",
              "`test_error` on a (lam, T) grid: power law beta = 1.5, r = 0.5, n = 5, "
              "least-squares generators with T0 = 2d, T log-spaced d/10..10d.", "",
              "| d | points | first call s | best s | points/s |", "|---|---|---|---|---|"]
    for r in res["theory"]:
        lines.append(f"| {r['d']} | {r['points']} | {_f(r['first_s'])} | {_f(r['best_s'])} | "
                     f"{_f(r['points_per_s'])} |")

    g = res["growth"]
    lines += ["", "## 4. How cost grows", "",
              f"Base point {g['base']} (isotropic, T0 fixed, n = [0, N], 20 lams); one "
              "parameter doubled at a time. Time: the second (warm) call. Memory: peak resident "
              "set of a call minus the resident set before it (Linux `VmHWM` after "
              "resetting it through `/proc/self/clear_refs`; XLA's CPU buffers are in the "
              "resident set, `memory_stats()` is empty on CPU), for the first call "
              "(compilation included; the memory exponent is fitted on it) and the warm call "
              "(often 0: the first call's freed memory stays resident and is reused). Points "
              "run in one process, so a point can also reuse memory kept from earlier points: "
              "the memory columns understate growth (a fresh process per point would not).",
              "",
              "| axis | values | warm s | peak RSS increase MB, first call | same, warm call "
              "| time exponent | memory exponent |", "|---|---|---|---|---|---|---|"]
    for axis, a in g["axes"].items():
        pts = a["points"]
        lines.append(f"| {axis} | {', '.join(str(p[axis]) for p in pts)} | "
                     f"{', '.join(_f(p['warm_s']) for p in pts)} | "
                     f"{', '.join(_f(p.get('first_peak_mb')) for p in pts)} | "
                     f"{', '.join(_f(p['peak_mb']) for p in pts)} | "
                     f"{_f(a['time_exponent'], 2)} | {_f(a['memory_exponent'], 2)} |")
    return "\n".join(lines) + "\n"
