"""``kernelcollapse tune``: the ridge penalty and the weight of the synthetic rows for a feature
matrix and its training labels as they are, with the alternatives a practitioner would pick."""

from __future__ import annotations

import argparse
import math
import warnings
from pathlib import Path

import numpy as np


def register(subparsers) -> None:
    from kernelcollapse.cli._common import add_process_option

    parser = subparsers.add_parser(
        "tune",
        help="recommend the ridge penalty and the synthetic-row weight for your training data",
        description="Recommend the ridge penalty, and the weight of the synthetic rows, for "
        "training on X with labels y of which some (a mask, or a fraction p) come from the "
        "n-th generation of a chain of generators; report the predicted test error of the "
        "alternatives (clean-data theory's penalty, cross-validation on the training labels, "
        "synthetic rows counted like real ones, synthetic rows dropped). Penalties use the "
        "normalisation (X'X/T + lam I)^-1 X'y/T: scikit-learn's Ridge alpha = T * lam. See "
        "kernelcollapse.tuning.recommend for the method and its assumptions.",
    )
    parser.add_argument("X", type=Path, help="feature matrix, .npy or .csv (rows = samples)")
    labels = parser.add_argument_group("labels")
    labels.add_argument("--y", type=Path, default=None,
                        help="training labels, .npy or .csv (optional: without them a flat "
                        "prior and --sigma are used)")
    labels.add_argument("--y-column", type=int, default=None,
                        help="take the labels from this column of X (e.g. -1) and drop it")
    mix = parser.add_argument_group("which labels are synthetic (default: all)")
    mix.add_argument("--synthetic", type=Path, default=None,
                     help="boolean mask of the synthetic rows, .npy (True = synthetic)")
    mix.add_argument("--synthetic-column", type=int, default=None,
                     help="take the mask from this column of X (0/1) and drop it")
    add_process_option(mix, "p", default=None, default_text="without a mask; default 1")
    chain = parser.add_argument_group(
        "the generator chain",
        "--n, --T0 and --sigma0 are required, except with labels and a mask that leaves at "
        "least 50 real rows and 11 more than the rank of X: the estimate then rests on the "
        "real rows alone, the chain is not used (the output says so) and may be omitted")
    for name in ("n", "T0", "sigma0", "lam0", "mode", "fresh"):
        add_process_option(chain, name)
    pilot = parser.add_argument_group("a clean pilot set (optional)")
    pilot.add_argument("--X-clean", type=Path, default=None,
                       help="features of a few rows with real labels, .npy or .csv; a table "
                       "laid out like X loses the columns of --y-column and "
                       "--synthetic-column too")
    pilot.add_argument("--y-clean", type=Path, default=None,
                       help="their real labels, .npy or .csv (default with --y-column: that "
                       "column of --X-clean)")
    add_process_option(parser, "sigma", default=None,
                       default_text="of the real labels; default: estimated from the labels")
    add_process_option(parser, "T", default=None, default_text="default: the rows of X")
    parser.add_argument("--signal", type=float, default=1.0,
                        help="Var(x.w0) of the flat prior used without labels (default 1)")
    parser.add_argument("--max-weight", type=float, default=10.0,
                        help="upper bound of the weight search (default 10)")
    parser.add_argument("--no-center", dest="center", action="store_false",
                        help="do not centre the columns (a model without intercept)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def load_matrix(path: Path) -> np.ndarray:
    """A numeric array from ``.npy`` or ``.csv`` (comma-separated, one optional header line)."""
    from kernelcollapse.cli._common import load_npy

    suffix = path.suffix.lower()
    if suffix == ".npy":
        return load_npy(path)  # it says which file is missing or what is wrong with it
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
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


def _vector(arr: np.ndarray) -> np.ndarray:
    """A single row or column read from a file, as a 1-D array."""
    return arr.reshape(-1) if arr.ndim == 2 and 1 in arr.shape else arr


def _split_columns(table: np.ndarray, columns: dict[str, int | None], what: str):
    """``table`` less the named columns, and those columns."""
    if table.ndim != 2:
        raise ValueError(f"{what} must be a 2-D table to take columns from, got shape "
                         f"{table.shape}")
    width = table.shape[1]
    taken, drop = {}, []
    for option, index in columns.items():
        if index is None:
            continue
        if not -width <= index < width:
            raise ValueError(f"{option} must be a column index in [{-width}, {width - 1}] of "
                             f"{what}, got {index}")
        taken[option] = table[:, index]
        drop.append(index % width)
    if len(set(drop)) < len(drop):
        raise ValueError("--y-column and --synthetic-column name the same column")
    return np.delete(table, drop, axis=1), taken


def _mask_from_column(values: np.ndarray) -> np.ndarray:
    bad = ~np.isin(values, (0.0, 1.0))
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(f"--synthetic-column must hold 0 or 1 (1 = synthetic), got "
                         f"{values[i]:g} in row {i}")
    return values == 1.0


def _mask_from_file(path: Path) -> np.ndarray:
    mask = _vector(load_matrix(path))
    if mask.dtype != np.bool_:
        raise ValueError(f"--synthetic {path} must hold a boolean mask (True = synthetic), got "
                         f"dtype {mask.dtype}")
    return mask


def run(args: argparse.Namespace) -> int:
    from kernelcollapse.cli._common import print_json, print_table
    from kernelcollapse.exceptions import UnreliableRecommendation
    from kernelcollapse.tuning import recommend

    if args.y is not None and args.y_column is not None:
        raise ValueError("give the labels either with --y or with --y-column, not both")
    if args.synthetic is not None and args.synthetic_column is not None:
        raise ValueError("give the mask either with --synthetic or with --synthetic-column, "
                         "not both")
    X = load_matrix(args.X)
    width = X.shape[1] if X.ndim == 2 else None
    columns = {"--y-column": args.y_column, "--synthetic-column": args.synthetic_column}
    y, mask = None, None
    if args.y_column is not None or args.synthetic_column is not None:
        X, taken = _split_columns(X, columns, str(args.X))
        y = taken.get("--y-column")
        if "--synthetic-column" in taken:
            mask = _mask_from_column(taken["--synthetic-column"])
    if args.y is not None:
        y = _vector(load_matrix(args.y))
    if args.synthetic is not None:
        mask = _mask_from_file(args.synthetic)

    X_clean = y_clean = None
    if args.X_clean is not None:
        X_clean = load_matrix(args.X_clean)
        if (any(c is not None for c in columns.values()) and X_clean.ndim == 2
                and X_clean.shape[1] == width):  # laid out like X: the same columns out
            X_clean, taken = _split_columns(X_clean, columns, str(args.X_clean))
            if args.y_clean is None:
                y_clean = taken.get("--y-column")
    if args.y_clean is not None:
        y_clean = _vector(load_matrix(args.y_clean))

    with warnings.catch_warnings():  # the note is printed below, with the result
        warnings.simplefilter("ignore", UnreliableRecommendation)
        rec = recommend(X, y, n=args.n, T0=args.T0, sigma0=args.sigma0, lam0=args.lam0,
                        mode=args.mode, fresh=args.fresh, p=args.p, synthetic=mask,
                        X_clean=X_clean, y_clean=y_clean, sigma=args.sigma, T=args.T,
                        center=args.center, signal=args.signal, max_weight=args.max_weight)
    T = float(X.shape[0] if args.T is None else args.T)
    choices = {
        "recommended": (rec.lam, rec.weight, rec.error),
        "clean_theory": (rec.lam_clean, 1.0, rec.error_clean_choice),
        "cross_validation": (rec.lam_cv, 1.0, rec.error_cv),
        "unweighted": (rec.lam_unweighted, 1.0, rec.error_unweighted),
        "dropped": (rec.lam_dropped, 0.0, rec.error_dropped),
    }
    summary = {
        "T": T, "d": int(X.shape[1]), "rank": int(rec.eigvals.size), "n": args.n,
        "T0": args.T0, "sigma0": args.sigma0, "lam0": args.lam0, "mode": args.mode,
        "fresh": args.fresh, "p": rec.p, "mask": mask is not None,
        "pilot_rows": 0 if X_clean is None else int(np.shape(X_clean)[0]),
        "sigma": rec.sigma, "sigma_estimated": rec.sigma_estimated,
        "lam": rec.lam, "weight": rec.weight, "sklearn_alpha": T * rec.lam,
        "predicted_error": rec.error, "loss_of_clean_theory": rec.loss,
        "at_bound": rec.at_bound, "reliable": rec.reliable, "regret": rec.regret,
        "pilot_rows_advised": rec.pilot_rows, "chain_used": rec.chain_used,
    }
    if args.json:
        summary["regret"] = _finite(rec.regret)
        summary["reliability"] = rec.reliability
        summary["alternatives"] = {
            name: {"lam": _finite(lam), "sklearn_alpha": _finite(T * lam),
                   "weight": weight if math.isfinite(lam) else None,
                   "predicted_error": _finite(err)}
            for name, (lam, weight, err) in choices.items()}
        print_json(summary)
        return 0
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        text = (f"{value:.6g}" if isinstance(value, float) else
                "not given" if value is None else str(value))
        print(f"{key.ljust(width)}  {text}")
    print()
    rows = [(name, lam, weight, err) for name, (lam, weight, err) in choices.items()
            if math.isfinite(lam)]
    print_table({"choice": [r[0] for r in rows], "lam": [r[1] for r in rows],
                 "sklearn_alpha": [T * r[1] for r in rows], "weight": [r[2] for r in rows],
                 "predicted_error": [r[3] for r in rows]})
    if not rec.chain_used:
        given = [f"--{name}" for name in ("n", "T0", "sigma0") if getattr(args, name) is not None]
        ignored = f" ({', '.join(given)} ignored)" if given else ""
        print(f"# note: the chain is not used{ignored}: the mask leaves {int((~mask).sum())} "
              "real rows, on which the estimate rests alone (their leave-one-out error, noise "
              "and teacher)")
    if rec.at_bound:
        print("# note: the recommended penalty lies at a bound of the search (see lam_bounds "
              "in kernelcollapse.tuning.recommend)")
    print(f"# {'reliable' if rec.reliable else 'NOT RELIABLE'}: {rec.reliability}")
    if rec.pilot_rows:
        print(f"# a clean pilot of {rec.pilot_rows} rows (--X-clean, --y-clean) would bring the "
              "expected excess error within 3%")
    return 0


def _finite(x: float) -> float | None:
    """JSON has no NaN: an alternative that does not apply is null."""
    return float(x) if math.isfinite(x) else None
