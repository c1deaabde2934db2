"""Resumable sweeps of :func:`kernelcollapse.simulate` over a grid of settings (TOML config).

A config file::

    output = "results.jsonl"      # relative to the config file; ".csv" writes CSV
    seeds = 100
    key = 0                       # base key; each point's key also depends on its parameters
    memory_budget = 2147483648    # optional, bytes

    [engine]                      # optional: kernelcollapse.simulator.Engine's fields
    sampler = "rows"              # e.g.; backend, sampler, lanes and down_solver enter the
                                  # points' identifiers (they change the numbers), the others not

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

Reliability (``docs/reliability.rst``).  Every config value is checked before any work by the
validators of :func:`kernelcollapse.simulate`, with the key named (``grid.n``); every point is
checked too (settings of infinite error, memory).  A running sweep owns its results file: an
exclusive lock on ``<output>.lock`` (held by the OS, released when the run ends, however it
ends); a second run refuses, naming the holder, or waits (``wait=``).  The results file is read
back strictly: a damaged line, duplicate records, a CSV header repeated or a point with
records missing (other than the last point, cut off by a kill) stop the run before it writes
anything, with the file name and line; ``repair=True`` keeps the first complete copy of each
point (the original goes to ``.bak``) and the rest is computed again.

On a cluster (``kernelcollapse sweep CONFIG --executor slurm``), :func:`submit_sweep` runs the
missing points as a job array through submitit (``pip install 'kernelcollapse[cluster]'``),
one task per point, each writing its point to a shard file of its own beside the results file
(``<output>.shards``), and merges the shards into the results file when the tasks end
(:func:`merge_shards`, ``--merge``, merges them after a run that did not wait).  The merged
file holds the serial run's records; an optional ``[executor]`` table gives the options::

    [executor]                    # used by --executor slurm / local only
    partition = "gpu"
    time = 60                     # minutes per task
    mem = 16                      # GB per task
    array_parallelism = 50        # tasks at once
    gpus = 1                      # per task
    cpus = 8                      # per task

Details and failure cases: :func:`merge_shards`, :func:`submit_sweep`, ``docs/reliability.rst``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import numbers
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from kernelcollapse._util import validate as v
from kernelcollapse.sweep import _lock, _results
from kernelcollapse.sweep._lock import FileInUseError
from kernelcollapse.sweep._options import check_options
from kernelcollapse.sweep._results import RESULT_FIELDS, ResultsFileError
from kernelcollapse.theory import PROCESS

if TYPE_CHECKING:
    from kernelcollapse.simulator import Engine

__all__ = ["FileInUseError", "ResultsFileError", "SweepInterrupted", "SweepSummary",
           "check_points", "load_config", "point_id", "points", "read_results", "run_point",
           "run_sweep", "example_config"]

# Outer (point) parameters in the order of the grid loops; defaults where optional.
POINT_PARAMS = ("spectrum", "d", "beta", "r", "norm", "T", "T0", "sigma", "sigma0", "lam0", "p",
                "mode")
# Parameters added later: a point and its records carry them only when the config's [grid]
# gives them, so that the identifiers and files of earlier sweeps stay as they were.
OPTIONAL_PARAMS = ("fresh", "weight")
DEFAULTS = dict(spectrum="isotropic", beta=2.0, r=0.5, norm=1.0, lam0=0.0, p=1.0, mode="replace",
                fresh=0.0, weight=1.0)
REQUIRED = ("d", "T", "T0", "n", "lam", "sigma", "sigma0")
TOP_LEVEL = ("output", "seeds", "key", "memory_budget", "format")

# The checks of the API (problems.isotropic / power_law and simulate) for each [grid] key.
# The problem's keys, then the process's (declared once, in kernelcollapse.theory.PROCESS).
_CHECKS = {"d": v.positive_integer, "beta": v.positive, "r": v.positive, "norm": v.positive,
           **{setting.name: (lambda key, value, s=setting: s.check(value, name=key,
                                                                    integer_sizes=True))
              for setting in PROCESS if setting.kind != "choice"}}
_CHOICES = {"spectrum": ("isotropic", "power_law"),
            **{setting.name: setting.choices for setting in PROCESS if setting.kind == "choice"}}


class SweepSummary(NamedTuple):
    """What a call of :func:`run_sweep` did: points in the grid, skipped (already in the
    file), run now; the results file; what ``repair`` changed (empty if nothing)."""

    total: int
    skipped: int
    ran: int
    output: Path
    repaired: str = ""


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_sweep`; ``summary`` counts the points saved so far (the point
    that was running is not in the file, or only in part, and is redone on the next run)."""

    def __init__(self, summary: SweepSummary):
        super().__init__(f"{summary.skipped + summary.ran} of {summary.total} points saved in "
                         f"{summary.output}")
        self.summary = summary


def load_config(path: str | os.PathLike) -> dict:
    """Read a TOML sweep config; ``output`` is resolved relative to the config file."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    path = Path(path)
    with path.open("rb") as f:
        try:
            config = tomllib.load(f)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML ({exc})") from None
    if "output" in config:
        if not isinstance(config["output"], str):
            raise TypeError(f"output must be a file name (a string), got {config['output']!r}")
        config["output"] = str(path.parent / config["output"])
    return config


def example_config() -> str:
    """The commented example config shipped with the package (``sweep/example.toml``)."""
    from importlib.resources import files

    return files("kernelcollapse.sweep").joinpath("example.toml").read_text(encoding="utf-8")


def _values(name: str, value) -> list:
    """The values of ``grid.<name>`` (a value or a list), checked as the API checks them."""
    key = f"grid.{name}"
    if name == "lam" and isinstance(value, str):
        from kernelcollapse._util.parse import number_list

        try:
            value = [float(x) for x in number_list(value)]
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ValueError(f"{key} is empty; give at least one value")
    if name in _CHOICES:
        for x in values:
            if x not in _CHOICES[name]:
                raise ValueError(f"{key} must be one of {_CHOICES[name]}, got {x!r}")
        return values
    arr = _CHECKS[name](key, value)  # the value as given: a scalar's message has no index
    if arr.ndim > 1:
        raise ValueError(f"{key} must be a number or a list of numbers, got a nested list")
    return values


def points(config: dict) -> tuple[list[dict], list, list]:
    """The grid's points (dicts of the outer parameters), in loop order, and the n, lam grids.

    Raises
    ------
    ValueError, TypeError
        Unknown or missing keys, or a value the API refuses, naming the key (``grid.n``).
    """
    unknown = set(config) - set(TOP_LEVEL) - {"grid", "executor", "engine"}
    if unknown:
        raise ValueError(f"unknown config keys {sorted(unknown)}; allowed: {TOP_LEVEL}, [grid], "
                         "[engine] and [executor]")
    check_options(config.get("executor", {}))  # cluster runs only, but a typo is refused here
    grid = config.get("grid", {})
    if not isinstance(grid, dict):
        raise TypeError("grid must be a table ([grid] followed by its keys)")
    grid = dict(grid)
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


def point_id(params: dict, ns: list[int], lams: list[float], seeds: int, key: int,
             engine: dict | None = None) -> str:
    """A stable identifier of a point: a hash of everything that determines its numbers
    (``engine``: the engine's choices that change them where they differ from the defaults,
    :data:`NUMBER_CHANGING_ENGINE`; none, the identifier of a config without an ``[engine]``
    table)."""
    fields = dict(params=params, n=ns, lam=lams, seeds=seeds, key=key)
    if engine:
        fields["engine"] = engine
    blob = json.dumps(fields, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# The engine's choices that change a point's numbers (other draws, or other rounding): they enter
# its identifier when the config gives them.  Threads, devices, the memory budget and the
# compilation cache do not change them.
NUMBER_CHANGING_ENGINE = ("backend", "sampler", "lanes", "down_solver")


def _problem(params):
    from kernelcollapse.theory import isotropic, power_law

    if params["spectrum"] == "isotropic":
        return isotropic(params["d"], norm=params["norm"])
    return power_law(params["d"], params["beta"], params["r"], norm=params["norm"])


def _simulate_args(params: dict, ns: list[int], lams: list[float]) -> dict:
    """The keyword arguments of :func:`kernelcollapse.simulate` for one point."""
    return dict(T=params["T"], T0=params["T0"], n=np.asarray(ns)[:, None], lam=lams,
                sigma=params["sigma"], sigma0=params["sigma0"], lam0=params["lam0"],
                p=params["p"], mode=params["mode"],
                fresh=params.get("fresh", DEFAULTS["fresh"]),
                weight=params.get("weight", DEFAULTS["weight"]))


def _settings(config: dict):
    """``seeds``, ``key`` and the :class:`~kernelcollapse.simulator.Engine` of a config (its
    ``[engine]`` table, and the top-level ``memory_budget``), checked."""
    import dataclasses

    from kernelcollapse.simulator import Engine

    seeds = v.integer("seeds", config.get("seeds", 100), minimum=2)
    key = v.integer("key", config.get("key", 0), minimum=0)
    table = config.get("engine", {})
    if not isinstance(table, dict):
        raise TypeError("engine must be a table ([engine] followed by its keys)")
    fields = tuple(f.name for f in dataclasses.fields(Engine))
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise ValueError(f"unknown [engine] keys {unknown}; allowed: {fields}")
    if "memory_budget" in table and "memory_budget" in config:
        raise ValueError("memory_budget is given twice, at the top level and in [engine]; "
                         "give one")
    budget = v.scalar("memory_budget", config.get("memory_budget",
                                                   table.get("memory_budget", 2 * 2**30)),
                      check=v.positive)
    try:
        engine = Engine(**{**table, "memory_budget": budget})
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"[engine]: {exc}") from None
    return seeds, key, engine


def check_points(config: dict) -> int:
    """Check a config and every point of its grid as :func:`kernelcollapse.simulate` would
    (values, settings whose error is infinite, memory), without running anything.

    Returns
    -------
    int
        The number of points.

    Raises
    ------
    ValueError, TypeError
        Naming the key, or the point (its number and the parameters that vary) and the reason.
    """
    seeds, _, engine = _settings(config)
    grid, ns, lams = points(config)
    return _check_grid(config, grid, ns, lams, seeds, engine)


def _check_grid(config: dict, grid: list[dict], ns, lams, seeds: int, engine) -> int:
    """:func:`check_points` on a config whose settings and points are already read."""
    from kernelcollapse.simulator import check_simulation

    varying = [k for k in point_params(config)
               if len({json.dumps(p[k]) for p in grid}) > 1]
    for i, params in enumerate(grid):
        try:
            check_simulation(*_problem(params), **_simulate_args(params, ns, lams), seeds=seeds,
                             engine=engine)
        except (ValueError, TypeError) as exc:
            where = ", ".join(f"{k}={v.plain(params[k])}" for k in varying)
            where = f" ({where})" if where else ""
            raise type(exc)(f"grid point {i + 1} of {len(grid)}{where}: {exc}") from None
    return len(grid)


def run_point(params: dict, ns: list[int], lams: list[float], *, seeds: int, key: int,
              engine: Engine | None = None, memory_budget: float | None = None) -> list[dict]:
    """Simulate one point; one record per (n, lam).  ``engine``: the
    :class:`~kernelcollapse.simulator.Engine` (default ``Engine()``; its number-changing
    choices enter the point's identifier, hence its key); ``memory_budget`` replaces its
    budget."""
    import dataclasses

    from kernelcollapse.simulator import Engine, simulate

    engine = Engine() if engine is None else engine
    if memory_budget is not None:
        engine = dataclasses.replace(engine, memory_budget=memory_budget)
    pid = point_id(params, ns, lams, seeds, key, _engine_id(engine))
    res = simulate(*_problem(params), **_simulate_args(params, ns, lams), seeds=seeds,
                   key=int(pid, 16) % 2**62, engine=engine)
    records = []
    for i, n in enumerate(ns):
        for j, lam in enumerate(lams):
            records.append(dict(**params, seeds=seeds, n=n, lam=lam,
                                mean=float(res.mean[i, j]), stderr=float(res.stderr[i, j]),
                                point=pid))
    return records


def _engine_id(engine) -> dict:
    """The number-changing choices of ``engine`` that differ from ``Engine()``'s (what a
    config's ``[engine]`` table gives, when it gives a value other than the default)."""
    from kernelcollapse.simulator import Engine

    default = Engine()
    return {k: getattr(engine, k) for k in NUMBER_CHANGING_ENGINE
            if getattr(engine, k) != getattr(default, k)}


def _expected(grid: list[dict], pids: list[str], ns: list[int], lams: list[float], seeds: int,
              fmt: str) -> dict[str, _results.Expected]:
    """What each point's records must hold, as text in the file's format."""
    out = {}
    for params, pid in zip(grid, pids):
        text = _results.cells({**params, "seeds": seeds}, fmt)
        cells = frozenset(tuple(_results.cells({"n": n, "lam": lam}, fmt).values())
                          for n in ns for lam in lams)
        out[pid] = _results.Expected(text, cells)
    return out


def _finished(output: Path, fmt: str, columns: tuple[str, ...],
              expected: dict[str, _results.Expected]) -> tuple[set[str], int]:
    """The points complete in ``output`` and the bytes to keep: all but a trailing line cut
    off mid-write and the records of the last point when a kill cut its write short.

    Raises
    ------
    ResultsFileError
        Damage, duplicates, CSV columns of another sweep, a record that does not match its
        point, or a point with records missing that is not the last one: nothing is written.
    """
    scan = _results.scan(output, fmt)
    if fmt == "csv" and scan.columns is not None and scan.columns != columns:
        raise ResultsFileError(f"{output}: its columns {list(scan.columns)} are not this "
                               f"sweep's {list(columns)}; write to another file (--output)")
    by_point: dict[str, list[_results.Record]] = {}
    for rec in scan.records:
        by_point.setdefault(rec.point, []).append(rec)
    keep = scan.complete_bytes
    if scan.records:  # the last point, cut short by a kill: all its records at the end
        last = scan.records[-1].point
        recs = by_point[last]
        want = expected.get(last)
        tail = scan.records[len(scan.records) - len(recs):]
        if want is not None and len(recs) < len(want.grid) and tail == recs:
            keep = recs[0].start
            del by_point[last]
    done = set()
    for pid, recs in by_point.items():
        want = expected.get(pid)
        if want is None:  # another sweep's point: left as it is
            continue
        for rec in recs:
            why = _results.problem(rec, want)
            if why:
                raise ResultsFileError(
                    f"{output}, line {rec.line}: a record of point {pid} does not match it "
                    f"({why}; edited by hand?); nothing was written. Fix or delete the line "
                    "(or run with --repair / repair=True)")
        if len(recs) < len(want.grid):
            lines = ", ".join(str(r.line) for r in recs[:10]) + (", ..." if len(recs) > 10
                                                                  else "")
            raise ResultsFileError(
                f"{output}: point {pid} has {len(recs)} of its {len(want.grid)} records (lines "
                f"{lines}) and is not the last point, so no kill explains it; nothing was "
                "written. Run with --repair / repair=True to drop them and compute the point "
                "again")
        done.add(pid)
    return done, keep


def _append(f, text: str) -> None:
    """Append one point's lines and make them durable before the next point starts."""
    f.write(text)
    f.flush()
    os.fsync(f.fileno())


def run_sweep(config: dict, *, output: str | os.PathLike | None = None,
              max_points: int | None = None, progress: bool = True,
              on_point: Callable[[int, dict], None] | None = None,
              wait: bool | float = False, repair: bool = False) -> SweepSummary:
    """Run (or resume) a sweep.

    The config and every point are checked first (:func:`check_points`); then the results
    file is locked, read back and checked, and the missing points run, each appended in one
    write.

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
    wait : bool or float, default False
        When another run holds the results file: ``False`` refuses at once, ``True`` waits
        for it to finish, a number waits at most that many seconds.
    repair : bool, default False
        Rewrite a results file that fails the checks: keep the first copy of each complete,
        consistent point and drop the rest (damaged lines, duplicates, incomplete points,
        which are then computed again); the original is copied to ``<output>.bak``.

    Returns
    -------
    SweepSummary

    Raises
    ------
    ValueError, TypeError
        A bad config value (naming the key) or point (naming it); ``output`` a directory
        or below a file (before its lock file is made).
    ResultsFileError
        The results file fails the checks (file name, line, what to do); nothing is written.
    FileInUseError
        Another run holds the results file (naming the holder).
    SweepInterrupted
        Ctrl-C (a KeyboardInterrupt); ``summary`` says what is saved.
    """
    from tqdm.auto import tqdm

    output = v.file_path("output", output if output is not None
                         else config.get("output", "sweep.jsonl"))
    fmt = _results.file_format(output, config.get("format"))
    if max_points is not None:
        max_points = v.integer("max_points", max_points, minimum=0)
    if not isinstance(wait, numbers.Real) or (wait is not True and not 0 <= wait < math.inf):
        raise ValueError(f"wait must be True, False or a number of seconds >= 0, got "
                         f"{v.plain(wait)}")
    seeds, key, engine = _settings(config)
    grid, ns, lams = points(config)
    _check_grid(config, grid, ns, lams, seeds, engine)
    pids = [point_id(p, ns, lams, seeds, key, _engine_id(engine)) for p in grid]
    expected = _expected(grid, pids, ns, lams, seeds, fmt)
    columns = point_params(config) + RESULT_FIELDS
    with _lock.exclusive(output, wait=wait):
        repaired = _results.repair(output, fmt, columns, expected) if repair else ""
        done, keep = _finished(output, fmt, columns, expected)
        if output.exists() and keep < output.stat().st_size:
            os.truncate(output, keep)  # in place: a kill now loses only the cut-off point
        todo = [(i, p, pid) for i, (p, pid) in enumerate(zip(grid, pids)) if pid not in done]
        skipped = len(grid) - len(todo)
        if max_points is not None:
            todo = todo[:max_points]
        ran = 0
        try:
            with output.open("a") as f, tqdm(total=len(grid), initial=skipped,
                                               disable=not progress, desc="sweep",
                                               unit="point") as bar:
                for i, params, _ in todo:
                    records = run_point(params, ns, lams, seeds=seeds, key=key, engine=engine)
                    _append(f, _results.encode(records, fmt, with_header=f.tell() == 0))
                    ran += 1
                    bar.update()
                    if on_point is not None:
                        on_point(i, params)
        except KeyboardInterrupt:
            raise SweepInterrupted(SweepSummary(len(grid), skipped, ran, output,
                                                repaired)) from None
    return SweepSummary(len(grid), skipped, ran, output, repaired)


def read_results(path: str | os.PathLike, *, format: str | None = None) -> list[dict]:
    """The records of a results file (JSON lines or CSV, numbers parsed), checked.

    ``format`` is ``"jsonl"`` or ``"csv"`` (default: from the suffix, ``.csv`` or JSON lines).
    A line cut off at the end (a sweep interrupted mid-write) is left out with a warning.

    Raises
    ------
    ResultsFileError
        A damaged line (with the file name and line number), a repeated CSV header, or
        duplicate records.
    """
    path = Path(path)
    return list(_results.records(path, _results.file_format(path, format)))
