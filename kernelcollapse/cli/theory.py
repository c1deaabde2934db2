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
    g = parser.add_argument_group("process (lists like 0.1,1 or log:1e-4:10:20 span a grid)")
    g.add_argument("--T", type=number_list, default=number_list("200"),
                   help="downstream sample sizes (default 200)")
    g.add_argument("--T0", type=number_list, default=number_list("400"),
                   help="samples per generator fit (default 400)")
    g.add_argument("--n", type=int_list, default=int_list("0,1,2,5"),
                   help="generations (default 0,1,2,5)")
    g.add_argument("--lam", type=number_list, default=number_list("0.01"),
                   help="downstream ridge (default 0.01)")
    g.add_argument("--lam0", type=number_list, default=number_list("0"),
                   help="generator ridge (default 0: least squares)")
    g.add_argument("--p", type=number_list, default=number_list("1"),
                   help="fraction of synthetic downstream labels (default 1)")
    g.add_argument("--fresh", type=number_list, default=number_list("0"),
                   help="fraction of real rows in each generation's data (default 0; replace)")
    g.add_argument("--weight", type=number_list, default=number_list("1"),
                   help="loss weight of the synthetic downstream rows (default 1; 0 drops them)")
    g.add_argument("--mode", choices=("replace", "accumulate"), default="replace",
                   help="generators' data workflow (default replace)")
    g.add_argument("--sigma", type=float, default=0.5, help="downstream label noise (0.5)")
    g.add_argument("--sigma0", type=float, default=1.0, help="generator label noise (1.0)")
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
