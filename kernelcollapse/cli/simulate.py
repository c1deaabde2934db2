"""``kernelcollapse simulate``: Monte-Carlo test errors on a (T, n, lam) grid, as a table or
JSON."""

from __future__ import annotations

import argparse

import numpy as np

from kernelcollapse.cli._common import (
    add_problem_arguments,
    int_list,
    load_problem,
    number_list,
    print_json,
    print_table,
    scalar_or_array,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="Monte-Carlo test error of ridge on n-th generation synthetic labels",
        description="Simulate a chain of generators and a downstream ridge "
        "(docs/theory/setting.rst), many seeds at once with JAX; prints mean and standard error "
        "per (T, n, lam).",
    )
    add_problem_arguments(parser)
    g = parser.add_argument_group("process (T, n and lam may be lists: 0,1,2 or log:1e-4:10:20)")
    g.add_argument("--T", type=int_list, default=int_list("200"),
                   help="downstream sample sizes (default 200; a list shares each seed's chain)")
    g.add_argument("--T0", type=int, default=400, help="samples per generator fit (default 400)")
    g.add_argument("--n", type=int_list, default=int_list("0,1,2,5"),
                   help="generations (default 0,1,2,5)")
    g.add_argument("--lam", type=number_list, default=number_list("0.01"),
                   help="downstream ridge (default 0.01)")
    g.add_argument("--lam0", type=float, default=0.0, help="generator ridge (default 0)")
    g.add_argument("--p", type=float, default=1.0,
                   help="fraction of synthetic downstream labels (default 1)")
    g.add_argument("--sigma", type=float, default=0.5, help="downstream label noise (0.5)")
    g.add_argument("--sigma0", type=float, default=1.0, help="generator label noise (1.0)")
    g.add_argument("--mode", choices=("replace", "accumulate"), default="replace",
                   help="generator data workflow (default replace)")
    s = parser.add_argument_group("simulation")
    s.add_argument("--seeds", type=int, default=100, help="repetitions (default 100)")
    s.add_argument("--key", type=int, default=0, help="random key (default 0)")
    s.add_argument("--backend", choices=("jax", "numpy"), default="jax")
    s.add_argument("--memory-budget", type=float, default=2 * 2**30,
                   help="bytes of working memory (default 2 GiB)")
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kernelcollapse.simulator import simulate

    eigvals, w0 = load_problem(args)
    Ts, ns, lams = np.atleast_1d(args.T), np.atleast_1d(args.n), np.atleast_1d(args.lam)
    res = simulate(eigvals, w0, T=Ts, T0=args.T0, n=ns, lam=lams, sigma=args.sigma,
                   sigma0=args.sigma0, lam0=args.lam0, p=args.p, mode=args.mode,
                   seeds=args.seeds, key=args.key, backend=args.backend,
                   memory_budget=args.memory_budget)
    T_grid, n_grid, lam_grid = np.meshgrid(Ts, ns, lams, indexing="ij")
    table = {"T": T_grid.ravel(), "n": n_grid.ravel(), "lam": lam_grid.ravel(),
             "mean": res.mean.ravel(), "stderr": res.stderr.ravel()}
    header = dict(d=int(np.size(eigvals)), T0=args.T0, sigma=args.sigma,
                  sigma0=args.sigma0, lam0=args.lam0, p=args.p, mode=args.mode,
                  seeds=args.seeds, key=args.key)
    if args.json:
        print_json({**header, "rows": [dict(zip(table, row)) for row in zip(*table.values())]})
    else:
        print("# " + "  ".join(f"{k}={scalar_or_array(v)}" for k, v in header.items()))
        print_table(table)
    return 0
