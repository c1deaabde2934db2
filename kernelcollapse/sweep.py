"""Resumable sweeps of :func:`kernelcollapse.simulate` over a grid of settings (TOML config).

A config file::

    output = "results.jsonl"      # relative to the config file; ".csv" writes CSV
    seeds = 100
    key = 0                       # base key; each point's key also depends on its parameters
    memory_budget = 2147483648    # optional, bytes

    [grid]                        # each entry a value or a list of values (cartesian product)
    spectrum = "isotropic"        # or "power_law" (with beta, r)
    d = 200
    T = [100, 200, 400, 800]
    T0 = 400
    n = [0, 1, 2, 5, 10]          # n and lam: one simulate call per point covers them all
    lam = "log:1e-4:10:20"        # a list, or "log:START:STOP:COUNT" / "lin:START:STOP:COUNT"
    sigma = 1.0
    sigma0 = 1.0

A *point* is one combination of the outer parameters (everything but ``n`` and ``lam``).  Each
finished point appends one record per ``(n, lam)`` to the output, in one write, flushed.  A point
is identified by its parameters (including the ``n`` and ``lam`` grids, ``seeds`` and ``key``);
its simulation key is a hash of them, so a point gives the same numbers whatever ran before it.
On restart the finished points are skipped and a point cut off in the middle of its write is
dropped and redone, so a sweep killed part-way and resumed writes the same file as an
uninterrupted run.  :func:`example_config` (``kernelcollapse sweep --example``) is a commented
config to start from.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

# Outer (point) parameters in the order of the grid loops; defaults where optional.
__all__ = ["SweepSummary", "load_config", "point_id", "points", "read_results", "run_point",
           "run_sweep"]

POINT_PARAMS = ("spectrum", "d", "beta", "r", "norm", "T", "T0", "sigma", "sigma0", "lam0", "p",
                "mode")
# Parameters added later: a point and its records carry them only when the config's [grid]
# gives them, so that the identifiers and files of earlier sweeps stay as they were.
OPTIONAL_PARAMS = ("fresh", "weight")
DEFAULTS = dict(spectrum="isotropic", beta=2.0, r=0.5, norm=1.0, lam0=0.0, p=1.0, mode="replace",
                fresh=0.0, weight=1.0)
REQUIRED = ("d", "T", "T0", "n", "lam", "sigma", "sigma0")
TOP_LEVEL = ("output", "seeds", "key", "memory_budget", "format")
RESULT_FIELDS = ("seeds", "n", "lam", "mean", "stderr", "point")
FIELDS = POINT_PARAMS + RESULT_FIELDS


class SweepSummary(NamedTuple):
    """What a call of :func:`run_sweep` did: points in the grid, skipped, run now; the file."""

    total: int
    skipped: int
    ran: int
    output: Path


def load_config(path: str | os.PathLike) -> dict:
    """Read a TOML sweep config; ``output`` is resolved relative to the config file."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    path = Path(path)
    with path.open("rb") as f:
        config = tomllib.load(f)
    if "output" in config:
        config["output"] = str(path.parent / config["output"])
    return config


def example_config() -> str:
    """The commented example config shipped with the package (``sweep_example.toml``)."""
    from importlib.resources import files

    return files("kernelcollapse").joinpath("sweep_example.toml").read_text(encoding="utf-8")


def _values(name, value) -> list:
    if name == "lam" and isinstance(value, str):
        from kernelcollapse._parse import number_list

        try:
            return [float(x) for x in number_list(value)]
        except ValueError as exc:
            raise ValueError(f"grid.lam: {exc}") from None
    return list(value) if isinstance(value, list) else [value]


def points(config: dict) -> tuple[list[dict], list, list]:
    """The grid's points (dicts of the outer parameters), in loop order, and the n, lam grids."""
    unknown = set(config) - set(TOP_LEVEL) - {"grid"}
    if unknown:
        raise ValueError(f"unknown config keys {sorted(unknown)}; allowed: {TOP_LEVEL} and [grid]")
    grid = dict(config.get("grid", {}))
    allowed = POINT_PARAMS + OPTIONAL_PARAMS
    unknown = set(grid) - set(allowed) - {"n", "lam"}
    if unknown:
        raise ValueError(f"unknown [grid] keys {sorted(unknown)}; allowed: "
                         f"{allowed + ('n', 'lam')}")
    missing = [k for k in REQUIRED if k not in grid]
    if missing:
        raise ValueError(f"[grid] must give {missing}")
    ns = [int(x) for x in _values("n", grid["n"])]
    lams = [float(x) for x in _values("lam", grid["lam"])]
    names = point_params(config)
    lists = [_values(k, grid.get(k, DEFAULTS.get(k))) for k in names]
    return [dict(zip(names, combo)) for combo in itertools.product(*lists)], ns, lams


def point_params(config: dict) -> tuple[str, ...]:
    """The outer parameters of this config's points (the optional ones only when given)."""
    grid = config.get("grid", {})
    return POINT_PARAMS + tuple(k for k in OPTIONAL_PARAMS if k in grid)


def point_id(params: dict, ns: list[int], lams: list[float], seeds: int, key: int) -> str:
    """A stable identifier of a point: a hash of everything that determines its numbers."""
    blob = json.dumps(dict(params=params, n=ns, lam=lams, seeds=seeds, key=key), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _problem(params):
    from kernelcollapse.problems import isotropic, power_law

    if params["spectrum"] == "isotropic":
        return isotropic(params["d"], norm=params["norm"])
    if params["spectrum"] == "power_law":
        return power_law(params["d"], params["beta"], params["r"], norm=params["norm"])
    raise ValueError(f"grid.spectrum must be 'isotropic' or 'power_law', got "
                     f"{params['spectrum']!r}")


def run_point(params: dict, ns: list[int], lams: list[float], *, seeds: int, key: int,
              memory_budget: float) -> list[dict]:
    """Simulate one point; one record per (n, lam)."""
    from kernelcollapse.simulator import simulate

    pid = point_id(params, ns, lams, seeds, key)
    eigvals, w0 = _problem(params)
    res = simulate(eigvals, w0, T=params["T"], T0=params["T0"], n=np.asarray(ns)[:, None],
                   lam=lams, sigma=params["sigma"], sigma0=params["sigma0"],
                   lam0=params["lam0"], p=params["p"], mode=params["mode"],
                   fresh=params.get("fresh", DEFAULTS["fresh"]),
                   weight=params.get("weight", DEFAULTS["weight"]), seeds=seeds,
                   key=int(pid, 16) % 2**62, memory_budget=memory_budget)
    records = []
    for i, n in enumerate(ns):
        for j, lam in enumerate(lams):
            records.append(dict(**params, seeds=seeds, n=n, lam=lam,
                                mean=float(res.mean[i, j]), stderr=float(res.stderr[i, j]),
                                point=pid))
    return records


def _format(output: Path, fmt: str | None) -> str:
    fmt = fmt or ("csv" if output.suffix == ".csv" else "jsonl")
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"format must be 'jsonl' or 'csv', got {fmt!r}")
    return fmt


def _encode(records: list[dict], fmt: str, header: bool) -> str:
    if fmt == "jsonl":
        return "".join(json.dumps(r) + "\n" for r in records)
    buf = io.StringIO()
    fields = tuple(k for k in records[0] if k not in RESULT_FIELDS) + RESULT_FIELDS
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    if header:
        writer.writeheader()
    for r in records:
        writer.writerow({k: repr(v) if isinstance(v, float) else v for k, v in r.items()})
    return buf.getvalue()


def _finished(output: Path, fmt: str, expected: dict[str, int]) -> set[str]:
    """Points complete in ``output``; truncates a trailing partial line or partial point."""
    if not output.exists():
        return set()
    data = output.read_bytes()
    end = data.rfind(b"\n") + 1  # drop a trailing line cut off mid-write
    lines = data[:end].decode().splitlines(keepends=True)
    body = lines[1:] if fmt == "csv" and lines else lines
    pids = ([json.loads(line)["point"] for line in body] if fmt == "jsonl"
            else [row["point"] for row in csv.DictReader(lines)])
    counts: dict[str, int] = {}
    for pid in pids:
        counts[pid] = counts.get(pid, 0) + 1
    keep = len(lines)
    if pids and counts[pids[-1]] != expected.get(pids[-1], counts[pids[-1]]):
        keep -= counts.pop(pids[-1])  # the last point was cut off: redo it
    kept = "".join(lines[:keep]).encode()
    if kept != data:
        with output.open("wb") as f:
            f.write(kept)
    return set(counts)


def run_sweep(config: dict, *, output: str | os.PathLike | None = None,
              max_points: int | None = None, progress: bool = True,
              on_point: Callable[[int, dict], None] | None = None) -> SweepSummary:
    """Run (or resume) a sweep.

    Parameters
    ----------
    config : dict
        As read by :func:`load_config`.
    output : path, optional
        Results file (overrides ``config["output"]``).
    max_points : int, optional
        Stop after running this many new points (the rest runs on the next call).
    progress : bool
        Show a tqdm progress bar over the points.
    on_point : callable, optional
        Called as ``on_point(index, params)`` after each point is written.

    Returns
    -------
    SweepSummary
    """
    from tqdm.auto import tqdm

    from kernelcollapse import _validate as v

    output = Path(output if output is not None else config.get("output", "sweep.jsonl"))
    fmt = _format(output, config.get("format"))
    seeds = v.integer("seeds", config.get("seeds", 100), minimum=2)
    key = v.integer("key", config.get("key", 0), minimum=0)
    memory_budget = float(config.get("memory_budget", 2 * 2**30))
    grid, ns, lams = points(config)
    pids = [point_id(p, ns, lams, seeds, key) for p in grid]
    done = _finished(output, fmt, {pid: len(ns) * len(lams) for pid in pids})
    todo = [(i, p, pid) for i, (p, pid) in enumerate(zip(grid, pids)) if pid not in done]
    skipped = len(grid) - len(todo)
    if max_points is not None:
        todo = todo[:max_points]
    output.parent.mkdir(parents=True, exist_ok=True)
    ran = 0
    with output.open("a") as f, tqdm(total=len(grid), initial=skipped, disable=not progress,
                                       desc="sweep", unit="point") as bar:
        for i, params, _ in todo:
            records = run_point(params, ns, lams, seeds=seeds, key=key,
                                memory_budget=memory_budget)
            f.write(_encode(records, fmt, header=f.tell() == 0))
            f.flush()
            os.fsync(f.fileno())
            ran += 1
            bar.update()
            if on_point is not None:
                on_point(i, params)
    return SweepSummary(len(grid), skipped, ran, output)


def read_results(path: str | os.PathLike) -> list[dict]:
    """The records of a results file (JSON lines or CSV, numbers parsed)."""
    path = Path(path)
    if path.suffix == ".csv":
        with path.open() as f:
            rows = list(csv.DictReader(f))
        out = []
        for row in rows:
            rec = {}
            for k, val in row.items():
                try:
                    rec[k] = int(val) if k in ("d", "T", "T0", "n", "seeds") else float(val)
                except ValueError:
                    rec[k] = val
            out.append(rec)
        return out
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]
