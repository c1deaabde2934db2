"""``kernelcollapse theory``: deterministic-equivalent test errors on a grid, as a table or JSON."""

from __future__ import annotations

import argparse

import numpy as np

from kernelcollapse.cli._common import (
    add_problem_arguments,
    emit,
    int_list,
    load_problem,
    number_list,
)

GRID = ("T", "T0", "n", "lam", "lam0", "p", "fresh", "weight")
# Peak bytes per grid point of a theory command, its table or JSON text included (tracemalloc:
# about 0.8 KiB for the table, 3.9 KiB for --json, which builds the whole text).
GRID_BYTES_PER_POINT = 4096


def add_grid_arguments(parser: argparse.ArgumentParser) -> None:
    """The process parameters; list-valued ones span a grid (outer product), the same for
    ``theory`` and ``simulate``."""
    from kernelcollapse.theory import PROCESS

    g = parser.add_argument_group("process (lists like 0.1,1 or log:1e-4:10:20 span a grid)")
    # The command line's defaults (a small example process); the meanings are the library's.
    defaults = {"T": "200", "T0": "400", "n": "0,1,2,5", "lam": "0.01", "lam0": "0", "p": "1",
                "fresh": "0", "weight": "1", "mode": "replace", "sigma": 0.5, "sigma0": 1.0}
    for setting in PROCESS:
        name, default = setting.name, defaults[setting.name]
        if setting.kind == "choice":
            g.add_argument(f"--{name}", choices=setting.choices, default=default,
                           help=f"{setting.help} (default {default})")
        elif name in ("sigma", "sigma0"):  # one noise level per call
            g.add_argument(f"--{name}", type=float, default=default,
                           help=f"{setting.help} ({default})")
        else:
            parse = int_list if setting.kind == "count" else number_list
            g.add_argument(f"--{name}", type=parse, default=parse(default),
                           help=f"{setting.help} (default {default})")
    g.add_argument("--json", action="store_true", help="print JSON instead of a table")


def grid_columns(args: argparse.Namespace) -> dict[str, np.ndarray]:
    """The outer product of the list-valued process arguments, one flat column each: passed
    to the library as equal-length 1-D arrays (numpy broadcasting makes them points)."""
    from kernelcollapse._util import memory as _memory

    points = int(np.prod([np.size(getattr(args, name)) for name in GRID], dtype=object))
    _memory.check_machine(f"the grid of {points} points (the product of the lists' lengths)",
                          GRID_BYTES_PER_POINT * points, "give fewer or shorter lists")
    mesh = np.meshgrid(*(getattr(args, name) for name in GRID), indexing="ij")
    return {name: m.ravel() for name, m in zip(GRID, mesh)}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "theory",
        help="theoretical test error (bias, variance, collapse) on a grid",
        description="Deterministic-equivalent test error of ridge trained on n-th generation "
        "synthetic labels (formulas (B), (C), (D) of docs/theory).",
    )
    add_problem_arguments(parser)
    add_grid_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kernelcollapse import theory

    eigvals, w0 = load_problem(args, theory_bytes_per_dim=theory.memory_per_dimension("prepare"))
    cols = grid_columns(args)
    res = theory.test_error(eigvals, w0, sigma=args.sigma, sigma0=args.sigma0, mode=args.mode,
                            **cols)
    table = {**cols, **{k: np.atleast_1d(val) for k, val in res._asdict().items()}}
    header = {"d": int(np.size(eigvals)), "sigma": args.sigma, "sigma0": args.sigma0,
              "mode": args.mode}
    return emit(args, header, table)
