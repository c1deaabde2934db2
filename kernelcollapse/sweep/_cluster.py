"""Sweeps beyond one machine: a sweep's pending points as a job array (submitit), merged back.

:func:`submit_sweep` (``kernelcollapse sweep CONFIG --executor slurm``) submits one array task
per point that the results file lacks, through submitit's ``AutoExecutor`` and ``map_array``.
Each task computes its point exactly as the serial sweep does (:func:`kernelcollapse.sweep.
run_point`, with the point's own key, a hash of its parameters) and writes its records to a
*shard* of its own, ``<output>.shards/<point>-<tag>.<ext>``, in the results file's format, by an
atomic rename: a shard is complete or absent, and a task killed or timed out leaves no shard
(at most a hidden ``.*.tmp`` file, ignored).  The tasks take no lock: each writes only its own
file.  When the tasks end, :func:`merge_shards` (also ``sweep CONFIG --merge``, after a run whose
submitting process did not wait) takes the results file's lock (the node-local OS lock of
:mod:`kernelcollapse._lock`: only the merging process writes the results file), reads every
shard with the strict reader of the results files, appends the points not yet in the file in
the grid's order, one write each, flushed, and removes the merged shards.

The merged file is the serial run's: the same records, byte for byte when every task of the
run finished (same lines, same order, the same numbers when the nodes compute them alike).  A
point whose task failed stays pending; the next run resubmits only the missing points, and
their records come after the others (the same records, in another order).

Refused, before anything is written, with the file named: a damaged or incomplete shard, a
shard of a point this config does not have (a shard of another sweep, or of this one before
its ``seeds``, ``key`` or grid changed), two shards of one point that differ (kept: one of them
when they hold the same records, ``mean`` and ``stderr`` equal to 1e-9 relative, what separates
the rounding of two nodes), and a shard of a point already in the results file that differs
from it.
"""

from __future__ import annotations

import math
import numbers
import os
import time
import uuid
from pathlib import Path
from typing import NamedTuple

from kernelcollapse._util import validate as v
from kernelcollapse.sweep import _lock, _results
from kernelcollapse.sweep._options import EXECUTORS, INSTALL, check_options
from kernelcollapse.sweep._results import RESULT_FIELDS, ResultsFileError

__all__ = ["ClusterError", "ClusterInterrupted", "ClusterSummary",
           "TasksFailed", "merge_shards", "shards_dir", "submit_sweep"]

# Tolerance between two shards of one point (and a shard and the results file): the rounding
# of two nodes' arithmetic, far below any Monte-Carlo error.
_RTOL = 1e-9
# Without a time limit the local executor of submitit stops a task after 2 minutes.
_LOCAL_TIMEOUT_MIN = 7 * 24 * 60


class ClusterError(RuntimeError):
    """The cluster cannot be used: submitit missing, the submission refused (no Slurm here,
    its controller unreachable), or tasks that failed (:class:`TasksFailed`); one line."""


class ClusterSummary(NamedTuple):
    """What :func:`submit_sweep` or :func:`merge_shards` did: points in the grid, already in
    the results file before (``skipped``), tasks submitted, points merged from shards now; the
    results file and the shards directory; one line per failed task; the job ids."""

    total: int
    skipped: int
    submitted: int
    merged: int
    output: Path
    shards: Path
    failed: tuple[str, ...] = ()
    jobs: tuple[str, ...] = ()


class TasksFailed(ClusterError):
    """Some tasks of :func:`submit_sweep` failed, were killed or timed out; the others' points
    are merged (``summary``) and the failed points stay pending: a rerun resubmits only them."""

    def __init__(self, summary: ClusterSummary):
        n = len(summary.failed)
        super().__init__(
            f"{n} of {summary.submitted} tasks failed ({summary.failed[0]}"
            f"{'; ...' if n > 1 else ''}); {summary.merged} points merged into "
            f"{summary.output}; the failed points stay pending: run the same command again to "
            "resubmit only them")
        self.summary = summary


class ClusterInterrupted(KeyboardInterrupt):
    """Ctrl-C while :func:`submit_sweep` waits for its tasks.  Local tasks are stopped; Slurm
    tasks keep running (the message says how to merge them or cancel them); finished tasks'
    shards stay beside the results file for the next run or ``--merge``."""

    def __init__(self, message: str, summary: ClusterSummary):
        super().__init__(message)
        self.summary = summary


def shards_dir(output: str | os.PathLike) -> Path:
    """The shards directory of a results file: ``<output>.shards`` beside it."""
    output = Path(output)
    return output.with_name(output.name + ".shards")


class _Plan(NamedTuple):
    """A config read and checked for a cluster run or a merge."""

    output: Path
    fmt: str
    grid: list[dict]
    ns: list[int]
    lams: list[float]
    seeds: int
    key: int
    engine: object  # kernelcollapse.simulator.Engine
    pids: list[str]
    expected: dict
    columns: tuple[str, ...]


def _prepare(config: dict, output) -> _Plan:
    from kernelcollapse.sweep import _run as s

    output = v.file_path("output", output if output is not None
                         else config.get("output", "sweep.jsonl"))
    fmt = _results.file_format(output, config.get("format"))
    seeds, key, engine = s._settings(config)
    grid, ns, lams = s.points(config)
    s._check_grid(config, grid, ns, lams, seeds, engine)
    pids = [s.point_id(p, ns, lams, seeds, key, s._engine_id(engine)) for p in grid]
    expected = s._expected(grid, pids, ns, lams, seeds, fmt)
    columns = s.point_params(config) + RESULT_FIELDS
    return _Plan(output, fmt, grid, ns, lams, seeds, key, engine, pids, expected, columns)


def _check_wait(wait) -> None:
    if not isinstance(wait, numbers.Real) or (wait is not True and not 0 <= wait < math.inf):
        raise ValueError(f"wait must be True, False or a number of seconds >= 0, got "
                         f"{v.plain(wait)}")


# --- the task ------------------------------------------------------------------------------

def _task(spec: dict) -> str:
    """One array task: compute one point and write its shard by atomic rename; its path."""
    from kernelcollapse.sweep import _run as s

    pid = s.point_id(spec["params"], spec["ns"], spec["lams"], spec["seeds"], spec["key"],
                     s._engine_id(spec["engine"]))
    if pid != spec["point"]:  # another version of the library on the node
        raise RuntimeError(f"point {spec['point']} is point {pid} on this node: the nodes run "
                           "another version of kernelcollapse than the submitting machine")
    records = s.run_point(spec["params"], spec["ns"], spec["lams"], seeds=spec["seeds"],
                          key=spec["key"], engine=spec["engine"])
    text = _results.encode(records, spec["format"], with_header=True)
    folder = Path(spec["shards"])
    folder.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:12]
    final = folder / f"{pid}-{tag}.{spec['format']}"
    # a hidden name while it is written: the merge skips it, so a shard is whole or absent
    _results.replace_atomically(final, text.encode(), folder / f".{final.name}.tmp")
    try:  # the rename itself durable (best effort: not every file system allows it)
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
    return str(final)


# --- the merge -----------------------------------------------------------------------------

class _Shard(NamedTuple):
    path: Path
    scan: _results.Scan


def _read_shards(plan: _Plan, folder: Path) -> dict[str, list[_Shard]]:
    """Every shard in ``folder``, checked, by point (in name order)."""
    out: dict[str, list[_Shard]] = {}
    if not folder.is_dir():
        return out
    where = f"; nothing was merged. Move it out of {folder}"
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():  # a task writing (or killed)
            continue
        if path.suffix != f".{plan.fmt}":
            raise ResultsFileError(f"{path}: not a shard of this sweep (its shards are "
                                   f"*.{plan.fmt}, as the results file {plan.output}){where}")
        scan = _results.scan(path, plan.fmt)  # damage, duplicates: ResultsFileError, named
        if scan.complete_bytes < scan.size or not scan.records:
            raise ResultsFileError(f"{path}: a shard cut off or empty (tasks rename only whole "
                                   f"shards into place; written by something else?){where}")
        if plan.fmt == "csv" and scan.columns != plan.columns:
            raise ResultsFileError(f"{path}: its columns {list(scan.columns or ())} are not "
                                   f"this sweep's {list(plan.columns)} (a shard of another "
                                   f"sweep){where}")
        pids = list(dict.fromkeys(r.point for r in scan.records))
        if len(pids) > 1:
            raise ResultsFileError(f"{path}: records of {len(pids)} points in one shard (a "
                                   f"task writes one point){where}")
        pid = pids[0]
        want = plan.expected.get(pid)
        if want is None:
            raise ResultsFileError(
                f"{path}: a shard of point {pid}, which this config does not have (a shard of "
                "another sweep, or of this one before its seeds, key or grid changed)" + where)
        for rec in scan.records:
            why = _results.problem(rec, want)
            if why:
                raise ResultsFileError(f"{path}, line {rec.line}: a record that does not match "
                                       f"its point {pid} ({why}){where}")
        if len(scan.records) != len(want.grid):
            raise ResultsFileError(f"{path}: {len(scan.records)} of the {len(want.grid)} "
                                   f"records of point {pid}{where}")
        out.setdefault(pid, []).append(_Shard(path, scan))
    return out


def _difference(a: list[_results.Record], b: list[_results.Record], fmt: str) -> str | None:
    """How two sets of records of one point differ (``None``: the same, to rounding)."""
    by_cell = {(r.text["n"], r.text["lam"]): r.text for r in b}
    for rec in a:
        other = by_cell.get((rec.text["n"], rec.text["lam"]))
        if other is None:
            return f"n = {rec.text['n']}, lam = {rec.text['lam']} is in one only"
        for field, text in rec.text.items():
            if field in ("mean", "stderr"):
                x, y = (float(_results._value(field, t, fmt)) for t in (text, other[field]))
                if not math.isclose(x, y, rel_tol=_RTOL, abs_tol=0.0):
                    return (f"{field} at n = {rec.text['n']}, lam = {rec.text['lam']}: {text} "
                            f"and {other[field]}")
            elif other.get(field) != text:
                return f"{field}: {text} and {other.get(field)}"
    return None


def _merge(plan: _Plan) -> tuple[set[str], list[str]]:
    """Merge the shards into the results file (its lock held by the caller): the points of
    this config in the file before, and the points merged now."""
    from kernelcollapse.sweep import _run as s

    output = plan.output
    folder = shards_dir(output)
    done, keep = s._finished(output, plan.fmt, plan.columns, plan.expected)
    shards = _read_shards(plan, folder)  # everything checked before anything is written
    for pid, copies in shards.items():
        first = copies[0]
        for other in copies[1:]:
            why = _difference(first.scan.records, other.scan.records, plan.fmt)
            if why:
                raise ResultsFileError(
                    f"{first.path} and {other.path}: two shards of point {pid} that differ "
                    f"({why}); nothing was merged. Delete the one you do not trust")
    if done & set(shards):
        in_file: dict[str, list[_results.Record]] = {}
        for rec in _results.scan(output, plan.fmt).records:
            in_file.setdefault(rec.point, []).append(rec)
        for pid in done & set(shards):
            for shard in shards[pid]:
                why = _difference(shard.scan.records, in_file[pid], plan.fmt)
                if why:
                    raise ResultsFileError(
                        f"{shard.path}: a shard of point {pid}, which {output} already holds "
                        f"with other numbers ({why}); nothing was merged. Delete the shard if "
                        "the results file is right")
    if output.exists() and keep < output.stat().st_size:
        os.truncate(output, keep)  # a point cut off by a kill, as the serial run does
    new = [pid for pid in dict.fromkeys(plan.pids) if pid in shards and pid not in done]
    if new:
        with output.open("ab") as f:
            for pid in new:  # the grid's order, one write per point, as the serial run
                shard = shards[pid][0]
                data = shard.path.read_bytes()
                start = 0 if f.tell() == 0 else shard.scan.records[0].start  # CSV: one header
                f.write(data[start:shard.scan.complete_bytes])
                f.flush()
                os.fsync(f.fileno())
    for pid, copies in shards.items():  # in the file now: the shards are redundant
        if pid in done or pid in new:
            for shard in copies:
                shard.path.unlink(missing_ok=True)
    try:
        folder.rmdir()  # only when empty (no shard left, no task writing)
    except OSError:
        pass
    return done & set(plan.pids), new


def merge_shards(config: dict, *, output: str | os.PathLike | None = None,
                 wait: bool | float = False) -> ClusterSummary:
    """Merge the shards of a cluster run (:func:`submit_sweep`) into the results file.

    The results file is locked and read back strictly (as :func:`run_sweep` does); every
    shard in ``<output>.shards`` is read and checked; then the points not yet in the file are
    appended in the grid's order, one write each, and the merged shards removed.  The file
    then holds the serial run's records, and is its file byte for byte when every point came
    in one run (otherwise the points of a later run come after the others); a rerun of the
    sweep skips the merged points.  Running it twice, or with no shards, changes nothing.

    Refused before anything is written, naming the file: a damaged, cut-off or short shard;
    a shard of a point this config does not have (another config's, or this one's before its
    ``seeds``, ``key`` or grid changed); two shards of one point that differ (identical ones,
    ``mean`` and ``stderr`` to a relative 1e-9, are merged once); a shard that differs from
    the point already in the results file.  Hidden files (``.*``: a task writing) are ignored.

    Parameters
    ----------
    config : dict
        As read by :func:`load_config` (the config of the run that wrote the shards).
    output : path, optional
        Results file (overrides ``config["output"]``).
    wait : bool or float, default False
        When another run holds the results file: as :func:`run_sweep`.

    Returns
    -------
    ClusterSummary
        ``merged``: the points appended now; ``skipped``: those in the file before.

    Raises
    ------
    ValueError, TypeError
        A bad config value (naming the key).
    ResultsFileError
        The results file or a shard fails the checks: damage, a shard of another config, two
        shards of one point that differ (the files named); nothing is written.
    FileInUseError
        Another run holds the results file.
    """
    _check_wait(wait)
    plan = _prepare(config, output)
    with _lock.exclusive(plan.output, wait=wait):
        before, merged = _merge(plan)
    return ClusterSummary(len(plan.grid), len(before), 0, len(merged), plan.output,
                          shards_dir(plan.output))


# --- submitting ----------------------------------------------------------------------------

def _import_submitit(executor: str):
    try:
        import submitit
    except ModuleNotFoundError:
        raise ClusterError(f"the {executor} executor needs submitit, which is not installed: "
                           f"{INSTALL}") from None
    return submitit


def _parameters(executor: str, options: dict) -> dict:
    """submitit's parameters for the options."""
    params = dict(name="kernelcollapse-sweep", timeout_min=options.get("time"),
                  mem_gb=options.get("mem"), gpus_per_node=options.get("gpus"),
                  cpus_per_task=options.get("cpus"))
    if executor == "slurm":
        params.update(slurm_partition=options.get("partition"),
                      slurm_array_parallelism=options.get("array_parallelism"))
    elif params["timeout_min"] is None:
        params["timeout_min"] = _LOCAL_TIMEOUT_MIN
    return {k: val for k, val in params.items() if val is not None}


def _one_line(exc: BaseException) -> str:
    """An exception in one line: a task's own error (the last line of its trace), else the
    first line of the message."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    silent = [line for line in lines if line.startswith("has not produced any output")]
    if silent:  # submitit's UncompletedJobError: the task ended without a result
        return f"killed or timed out: it {silent[0]}"
    dashes = [i for i, line in enumerate(lines) if set(line) == {"-"}]
    if len(dashes) >= 2:  # submitit's FailedJobError: the trace between two rules
        return lines[dashes[1] - 1]
    return lines[0]


def _outcome(job, debug: bool) -> tuple[str, str] | None:
    """``None`` while the job runs, else ``("ok", shard path)`` or ``("failed", why)``."""
    if debug:  # runs it in this process; done() would open pdb on an error
        exc = job.exception()
        return ("failed", _one_line(exc)) if exc is not None else ("ok", job.result())
    if not job.done():
        return None
    exc = job.exception()
    if exc is not None:
        why = _one_line(exc)
        return "failed", f"{why}; log {job.paths.stderr}"
    return "ok", job.result()


def submit_sweep(config: dict, *, executor: str = "slurm",
                 output: str | os.PathLike | None = None, options: dict | None = None,
                 folder: str | os.PathLike | None = None, progress: bool = True,
                 wait: bool | float = False, poll: float | None = None) -> ClusterSummary:
    """Run (or resume) a sweep as a job array through submitit, then merge it.

    The config and every point are checked first (:func:`check_points`); then the results
    file is locked and read back, the shards of an earlier run merged (:func:`merge_shards`),
    and one task submitted per point still missing (``map_array``).  Each task writes its
    point to a shard of its own; when every task has ended, the shards are merged into the
    results file, which is then what a serial run would have written.  The results file
    stays locked while the tasks run (a second run or ``--merge`` refuses, or waits); its
    directory must be on a file system the nodes share.

    Parameters
    ----------
    config : dict
        As read by :func:`load_config`; its ``[executor]`` table gives default options.
    executor : {"slurm", "local", "debug"}
        submitit's cluster: ``"slurm"`` (from a Slurm login node), ``"local"`` (processes on
        this machine, ``array_parallelism`` at a time, 1 by default), ``"debug"`` (in this
        process, one after another; for tests and debugging).
    output : path, optional
        Results file (overrides ``config["output"]``).
    options : dict, optional
        Executor options over the config's ``[executor]`` table: ``partition``, ``time``
        (minutes), ``mem`` (GB), ``array_parallelism``, ``gpus`` (per task), ``cpus`` (per
        task); the ones Slurm alone knows are ignored by the other executors.
    folder : path, optional
        submitit's folder (job scripts, pickles, logs); default ``<output>.submitit``.
    progress : bool
        Show a tqdm progress bar over the points while the tasks run.
    wait : bool or float, default False
        When another run holds the results file: as :func:`run_sweep`.
    poll : float, optional
        Seconds between looks at the tasks (default 1, Slurm 15).

    Returns
    -------
    ClusterSummary

    Raises
    ------
    ValueError, TypeError
        A bad config value, option or argument (naming it and the valid range).
    ResultsFileError
        The results file or a shard fails the checks (see :func:`merge_shards`).
    FileInUseError
        Another run holds the results file.
    ClusterError
        submitit missing (``pip install 'kernelcollapse[cluster]'``) or the submission refused
        (no Slurm here, its controller unreachable): one line.
    TasksFailed
        Some tasks failed, were killed or timed out: the others are merged, the failed
        points stay pending and the next call resubmits only them.
    ClusterInterrupted
        Ctrl-C while waiting (a KeyboardInterrupt): local tasks are stopped, Slurm tasks keep
        running; the message says what to do.
    """
    from tqdm.auto import tqdm

    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    _check_wait(wait)
    if poll is not None:
        poll = v.scalar("poll", poll, check=v.positive)
    else:
        poll = 15.0 if executor == "slurm" else 1.0
    plan = _prepare(config, output)
    opts = {**check_options(config.get("executor", {})),
            **check_options(options or {}, name=lambda k: f"options[{k!r}]")}
    submitit = _import_submitit(executor)
    shards = shards_dir(plan.output).absolute()
    folder = Path(folder) if folder is not None else plan.output.with_name(
        plan.output.name + ".submitit")
    total = len(plan.grid)
    with _lock.exclusive(plan.output, wait=wait):
        before, first = _merge(plan)  # the shards of an earlier run first
        skipped, merged = len(before), len(first)
        pending, seen = [], before | set(first)
        for i, pid in enumerate(plan.pids):  # one task per point missing, in the grid's order
            if pid not in seen:
                seen.add(pid)
                pending.append((i, pid))
        if not pending:
            return ClusterSummary(total, skipped, 0, merged, plan.output, shards)
        specs = [dict(params=plan.grid[i], ns=plan.ns, lams=plan.lams, seeds=plan.seeds,
                      key=plan.key, engine=plan.engine, format=plan.fmt,
                      point=pid, shards=str(shards)) for i, pid in pending]
        hint = "; run from a Slurm login node, or use --executor local" if (
            executor == "slurm") else ""
        try:
            ex = submitit.AutoExecutor(folder=folder, cluster=executor)
            ex.update_parameters(**_parameters(executor, opts))
        except Exception as exc:  # noqa: BLE001 - no srun here, ...: one line
            raise ClusterError(f"cannot set up the {executor} executor: {_one_line(exc)}"
                               f"{hint}") from None
        slots = len(specs) if executor == "slurm" else opts.get("array_parallelism", 1)
        queue = list(range(len(specs)))
        running: dict[int, object] = {}
        failed: list[str] = []
        ok = 0
        job_ids: list[str] = []
        bar = tqdm(total=total, initial=total - len(pending), disable=not progress, desc="sweep",
                   unit="point")
        try:
            while queue or running:
                if queue and len(running) < slots:
                    batch = queue[:slots - len(running)]
                    del queue[:len(batch)]
                    try:
                        jobs = ex.map_array(_task, [specs[k] for k in batch])
                    except Exception as exc:  # noqa: BLE001 - sbatch missing, refused, ...
                        raise ClusterError(f"cannot submit {len(batch)} tasks to {executor}: "
                                           f"{_one_line(exc)}{hint}") from None
                    running.update(zip(batch, jobs))
                    ids = list(dict.fromkeys(str(j.job_id).split("_")[0] for j in jobs))
                    job_ids += [j for j in ids if j not in job_ids]
                for k, job in list(running.items()):
                    state = _outcome(job, executor == "debug")
                    if state is None:
                        continue
                    del running[k]
                    kind, what = state
                    if kind == "ok" and not Path(what).exists():
                        kind, what = "failed", (
                            f"the task wrote {what} on its node, not visible here: put the "
                            "results file on a file system the nodes share")
                    if kind == "ok":
                        ok += 1
                    else:
                        i = pending[k][0]
                        failed.append(f"point {i + 1} of {total}: {what}")
                    bar.update()
                    if failed:
                        bar.set_postfix(failed=len(failed))
                if running and not (queue and len(running) < slots):
                    time.sleep(poll)
        except KeyboardInterrupt:
            bar.close()
            summary = ClusterSummary(total, skipped, len(specs), merged, plan.output, shards,
                                     tuple(failed), tuple(job_ids))
            if executor == "slurm":
                ids = ", ".join(job_ids)
                message = (f"the tasks of Slurm job {ids} keep running (scancel {ids} stops "
                           f"them); when they end, merge their points with: kernelcollapse "
                           f"sweep CONFIG --merge (the shards are in {shards})")
            else:
                for job in running.values():
                    try:
                        job.cancel(check=False)
                    except Exception:  # noqa: BLE001, S110 - it may have ended meanwhile
                        pass
                message = (f"the running tasks were stopped; the shards of {ok} finished "
                           f"point{'' if ok == 1 else 's'} are kept in {shards}: run the same "
                           "command again, it merges them and resubmits only the missing "
                           "points")
            raise ClusterInterrupted(message, summary) from None
        bar.close()
        _, now = _merge(plan)
        summary = ClusterSummary(total, skipped, len(specs), merged + len(now), plan.output, shards,
                                 tuple(failed), tuple(job_ids))
    if failed:
        raise TasksFailed(summary)
    return summary
