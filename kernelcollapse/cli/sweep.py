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
    parser.set_defaults(func=run, on_interrupt=interrupted)


def run(args: argparse.Namespace) -> int:
    from kernelcollapse.sweep import example_config, load_config, run_sweep

    if args.example:
        print(example_config(), end="")
        return 0
    if args.config is None:
        raise ValueError("give a TOML config file (kernelcollapse sweep --example prints one)")

    summary = run_sweep(load_config(args.config), output=args.output,
                        max_points=args.max_points, progress=not args.no_progress, wait=args.wait,
                        repair=args.repair)
    if summary.repaired:
        print(summary.repaired)
    print(f"{summary.output}: {summary.total} points, {summary.skipped} already done, "
          f"{summary.ran} run now")
    return 0


def interrupted(args: argparse.Namespace, exc: KeyboardInterrupt) -> str:
    """The line printed on Ctrl-C: what is saved, how to resume."""
    from kernelcollapse.sweep import SweepInterrupted

    if isinstance(exc, SweepInterrupted):
        saved = f"{exc}; the point that was running is redone"
    else:
        saved = "finished points are saved in the results file"
    return f"{saved}; run the same command again to resume"
