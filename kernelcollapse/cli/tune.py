"""``kernelcollapse tune``: recommend a ridge penalty for a feature matrix and synthetic labels."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tune",
        help="recommend the ridge penalty for training on synthetic labels, from data",
        description="Estimate the spectrum (and, with labels, the teacher and the noise) from a "
        "feature matrix, then pick the ridge penalty that minimises the predicted test error "
        "with n-th generation synthetic labels, and compare with the clean-data choice. "
        "Penalties use the normalisation (X'X/T + lam I)^-1 X'y/T (scikit-learn's Ridge alpha "
        "= T * lam). See kernelcollapse.optimize.recommend for every assumption.",
    )
    parser.add_argument("X", type=Path, help="feature matrix, .npy or .csv (rows = samples)")
    parser.add_argument("--y", type=Path, default=None, help="labels, .npy or .csv (optional)")
    parser.add_argument("--y-column", type=int, default=None,
                        help="take the labels from this column of X (e.g. -1) and drop it")
    parser.add_argument("--n", type=int, required=True, help="generation of the synthetic labels")
    parser.add_argument("--T0", type=float, required=True, help="samples per generator fit")
    parser.add_argument("--sigma0", type=float, required=True, help="generator label noise")
    parser.add_argument("--sigma", type=float, default=None,
                        help="downstream label noise (default: estimated from the labels)")
    parser.add_argument("--p", type=float, default=1.0, help="synthetic fraction (default 1)")
    parser.add_argument("--lam0", type=float, default=0.0, help="generator ridge (default 0)")
    parser.add_argument("--T", type=float, default=None,
                        help="downstream sample size (default: the rows of X)")
    parser.add_argument("--signal", type=float, default=1.0,
                        help="Var(x.w0) of the flat prior used without labels (default 1)")
    parser.add_argument("--no-center", dest="center", action="store_false",
                        help="do not centre the columns (a model without intercept)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def load_matrix(path: Path) -> np.ndarray:
    """A numeric array from ``.npy`` or ``.csv`` (comma-separated, one optional header line)."""
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        from kernelcollapse.cli._common import load_npy

        return load_npy(path)
    if suffix != ".csv":
        raise ValueError(f"{path}: expected a .npy or .csv file, got suffix {suffix!r}")
    with path.open() as fh:
        first = fh.readline()
    skip = 0
    try:
        [float(x) for x in first.strip().split(",") if x.strip()]
    except ValueError:
        skip = 1  # a header line
    try:
        return np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"{path}: not a numeric comma-separated table ({exc})") from None


def run(args: argparse.Namespace) -> int:
    from kernelcollapse.cli._common import print_json
    from kernelcollapse.tuning import recommend

    X = load_matrix(args.X)
    y = None
    if args.y is not None and args.y_column is not None:
        raise ValueError("give the labels either with --y or with --y-column, not both")
    if args.y_column is not None:
        if X.ndim != 2 or not -X.shape[1] <= args.y_column < X.shape[1]:
            raise ValueError(f"--y-column {args.y_column} is outside the {np.shape(X)} table")
        y = X[:, args.y_column]
        X = np.delete(X, args.y_column % X.shape[1], axis=1)
    elif args.y is not None:
        y = load_matrix(args.y)
        y = y.reshape(-1) if y.ndim == 2 and 1 in y.shape else y
    rec = recommend(X, y, n=args.n, T0=args.T0, sigma0=args.sigma0, sigma=args.sigma, p=args.p,
                    lam0=args.lam0, T=args.T, center=args.center, signal=args.signal)
    rows = X.shape[0]
    T = rows if args.T is None else args.T
    out = {
        "T": T, "d": int(X.shape[1]), "rank": int(rec.eigvals.size), "n": args.n,
        "T0": args.T0, "sigma0": args.sigma0, "p": args.p, "lam0": args.lam0,
        "sigma": rec.sigma, "sigma_estimated": args.sigma is None,
        "pilot_lam": rec.pilot_lam,
        "lam": rec.lam, "sklearn_alpha": T * rec.lam, "predicted_error": rec.error,
        "lam_clean": rec.lam_clean, "predicted_error_with_lam_clean": rec.error_clean_choice,
        "loss_of_lam_clean": rec.loss,
        "lam_at_lower_bound": bool(rec.search.at_lower),
        "lam_at_upper_bound": bool(rec.search.at_upper),
        "flat": bool(rec.search.flat),
    }
    if args.json:
        print_json(out)
        return 0
    width = max(len(k) for k in out)
    for key, value in out.items():
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        print(f"{key.ljust(width)}  {text}")
    if rec.search.at_lower or rec.search.at_upper:
        print("# note: the optimum lies at a bound of the search; see kernelcollapse.optimize")
    return 0
