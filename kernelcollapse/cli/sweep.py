"""``kernelcollapse sweep CONFIG.toml``: a resumable grid of simulations (kernelcollapse.sweep)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="run a grid of simulations from a TOML config, resumable",
        description="Run the grid of a TOML sweep config with a progress bar, appending each "
        "finished point to the results file (JSON lines or CSV); a rerun skips finished points. "
        "Start from the commented example: kernelcollapse sweep --example > sweep.toml",
    )
    parser.add_argument("config", type=Path, nargs="?", help="TOML config file")
    parser.add_argument("--example", action="store_true",
                        help="print a commented example config to stdout and exit")
    parser.add_argument("--output", type=Path, default=None,
                        help="results file (default: the config's 'output')")
    parser.add_argument("--max-points", type=int, default=None,
                        help="stop after this many new points")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--wait", nargs="?", type=float, const=True, default=False,
                        metavar="SECONDS",
                        help="if another run holds the results file, wait for it to finish "
                        "(at most SECONDS if given) instead of refusing")
    parser.add_argument("--repair", action="store_true",
                        help="rewrite a results file that fails the checks (damaged lines, "
                        "duplicates, incomplete points): keep the first complete copy of each "
                        "point, compute the rest again; the original is kept as <file>.bak")
    cluster = parser.add_argument_group(
        "cluster", "run the missing points as a job array through submitit (pip install "
        "'kernelcollapse[cluster]'), one task per point, each writing a shard file beside the "
        "results file; the shards are merged into it when the tasks end. Options override the "
        "config's [executor] table")
    cluster.add_argument("--executor", choices=("local", "slurm"), default=None,
                         help="slurm: submit from a login node (the results file on a file "
                         "system the nodes share); local: processes on this machine. Default: "
                         "the serial run in this process")
    cluster.add_argument("--merge", action="store_true",
                         help="merge the shards of an earlier cluster run into the results file "
                         "(after a run whose submitting process was stopped) and exit")
    cluster.add_argument("--slurm-partition", default=None, metavar="NAME",
                         help="Slurm partition")
    cluster.add_argument("--slurm-time", type=int, default=None, metavar="MINUTES",
                         help="time limit of each task")
    cluster.add_argument("--slurm-mem", type=float, default=None, metavar="GB",
                         help="memory of each task")
    cluster.add_argument("--slurm-array-parallelism", type=int, default=None, metavar="N",
                         help="tasks running at once (also the local executor's; default there 1)")
    cluster.add_argument("--slurm-gpus", type=int, default=None, metavar="N",
                         help="GPUs per task")
    cluster.add_argument("--slurm-cpus", type=int, default=None, metavar="N",
                         help="CPU cores per task")
    parser.set_defaults(func=run, on_interrupt=interrupted)


_SLURM = ("partition", "time", "mem", "array_parallelism", "gpus", "cpus")


def _flag(key: str) -> str:
    return "--slurm-" + key.replace("_", "-")


def run(args: argparse.Namespace) -> int:
    from kernelcollapse.sweep import example_config, load_config, run_sweep

    if args.example:
        print(example_config(), end="")
        return 0
    if args.config is None:
        raise ValueError("give a TOML config file (kernelcollapse sweep --example prints one)")

    options = {k: getattr(args, f"slurm_{k}") for k in _SLURM
               if getattr(args, f"slurm_{k}") is not None}
    if args.merge or args.executor:
        return _cluster(args, options)
    if options:
        raise ValueError(f"{_flag(next(iter(options)))} is an option of cluster runs; give "
                         "--executor slurm (or local) with it")

    summary = run_sweep(load_config(args.config), output=args.output,
                        max_points=args.max_points, progress=not args.no_progress, wait=args.wait,
                        repair=args.repair)
    if summary.repaired:
        print(summary.repaired)
    print(f"{summary.output}: {summary.total} points, {summary.skipped} already done, "
          f"{summary.ran} run now")
    return 0


def _cluster(args: argparse.Namespace, options: dict) -> int:
    """``--executor`` and ``--merge``: submit_sweep / merge_shards; exit 1 on a cluster
    error (one line)."""
    import sys

    from kernelcollapse.sweep import (
        ClusterError,
        TasksFailed,
        check_options,
        load_config,
        merge_shards,
        submit_sweep,
    )

    if args.merge and (args.executor or options):
        raise ValueError("--merge merges the shards already written; give it without "
                         "--executor and --slurm-* options")
    for flag, value in (("--max-points", args.max_points), ("--repair", args.repair)):
        if value:
            raise ValueError(f"{flag} is for the serial run; give it without --executor / "
                             "--merge")
    check_options(options, name=_flag)
    config = load_config(args.config)
    try:
        if args.merge:
            summary = merge_shards(config, output=args.output, wait=args.wait)
            print(f"{summary.output}: {summary.total} points, {summary.skipped} already done, "
                  f"{summary.merged} merged from {summary.shards}")
            return 0
        summary = submit_sweep(config, executor=args.executor, output=args.output,
                               options=options, progress=not args.no_progress, wait=args.wait)
    except TasksFailed as exc:
        failed = exc.summary.failed
        for line in failed[:10]:
            print(f"kernelcollapse sweep: task failed: {line}", file=sys.stderr)
        if len(failed) > 10:
            print(f"kernelcollapse sweep: ... and {len(failed) - 10} more", file=sys.stderr)
        print(f"kernelcollapse sweep: error: {exc}", file=sys.stderr)
        return 1
    except ClusterError as exc:
        print(f"kernelcollapse sweep: error: {exc}", file=sys.stderr)
        return 1
    print(f"{summary.output}: {summary.total} points, {summary.skipped} already done, "
          f"{summary.submitted} run as {args.executor} tasks, {summary.merged} merged")
    return 0


def interrupted(args: argparse.Namespace, exc: KeyboardInterrupt) -> str:
    """The line printed on Ctrl-C: what is saved, how to resume."""
    from kernelcollapse.sweep import ClusterInterrupted, SweepInterrupted

    if isinstance(exc, ClusterInterrupted):
        return str(exc).replace("sweep CONFIG", f"sweep {args.config}")
    if isinstance(exc, SweepInterrupted):
        saved = f"{exc}; the point that was running is redone"
    else:
        saved = "finished points are saved in the results file"
    return f"{saved}; run the same command again to resume"
