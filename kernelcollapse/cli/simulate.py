"""``kernelcollapse simulate``: Monte-Carlo test errors on a (T, n, lam) grid, as a table or
JSON."""

from __future__ import annotations

import argparse

import numpy as np

from kernelcollapse.cli._common import add_problem_arguments, emit, load_problem
from kernelcollapse.cli.theory import add_grid_arguments, grid_columns


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="Monte-Carlo test error of ridge on n-th generation synthetic labels",
        description="Simulate a chain of generators and a downstream ridge "
        "(docs/theory/setting.rst), many seeds at once with JAX; prints mean and standard error "
        "per grid point. The grid is the outer product of the list-valued arguments, as for "
        "`theory`.",
    )
    add_problem_arguments(parser)
    add_grid_arguments(parser)
    s = parser.add_argument_group("simulation")
    s.add_argument("--seeds", type=int, default=100, help="repetitions (default 100)")
    s.add_argument("--key", type=int, default=0, help="random key (default 0)")
    s.add_argument("--backend", choices=("jax", "numpy"), default="jax")
    s.add_argument("--memory-budget", type=float, default=2 * 2**30,
                   help="bytes of working memory (default 2 GiB)")
    s.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar (on stderr, in seeds)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kernelcollapse.simulator import simulate

    eigvals, w0 = load_problem(args)
    cols = grid_columns(args)
    res = simulate(eigvals, w0, sigma=args.sigma, sigma0=args.sigma0, mode=args.mode,
                   seeds=args.seeds, key=args.key, backend=args.backend,
                   memory_budget=args.memory_budget, progress=args.progress, **cols)
    table = {**cols, "mean": res.mean, "stderr": res.stderr}
    header = dict(d=int(np.size(eigvals)), sigma=args.sigma, sigma0=args.sigma0, mode=args.mode,
                  seeds=args.seeds, key=args.key)
    return emit(args, header, table)
