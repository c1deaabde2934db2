"""Argument helpers shared by the sub-commands: grids of numbers, problems, output."""

from __future__ import annotations

import argparse
import functools
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from kernelcollapse._util import parse as _parse


def _argument_type(parse: Callable[[str], np.ndarray]) -> Callable[[str], np.ndarray]:
    """``parse`` as an argparse ``type``: its ValueError's message becomes argparse's error."""

    @functools.wraps(parse)
    def parse_argument(text: str) -> np.ndarray:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse_argument


number_list = _argument_type(_parse.number_list)
int_list = _argument_type(_parse.int_list)


_UNSET = object()


def add_process_option(group, name: str, *, default=_UNSET, default_text: str | None = None):
    """``--name``, one value of the process setting ``name`` (:data:`kernelcollapse.theory.
    PROCESS`): its meaning, its type (an integer for counts, a number otherwise, the table's
    choices) and its default (the library's, unless the command gives its own; ``None``: not
    given, described by ``default_text``)."""
    from kernelcollapse.theory import PROCESS

    setting = next(x for x in PROCESS if x.name == name)
    default = setting.default if default is _UNSET else default
    if default_text is None:
        default_text = "" if default is None else f"default {default:g}" if isinstance(
            default, float) else f"default {default}"
    help_text = setting.help + (f" ({default_text})" if default_text else "")
    if setting.kind == "choice":
        return group.add_argument(f"--{name}", choices=setting.choices, default=default,
                                  help=help_text)
    kind = int if setting.kind == "count" else float
    return group.add_argument(f"--{name}", type=kind, default=default, help=help_text)


def add_problem_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("problem (spectrum and teacher)")
    g.add_argument("--spectrum", choices=("isotropic", "power_law"), default="isotropic",
                   help="built-in spectrum (default: isotropic)")
    # Defaults None, filled in by load_problem: an option the problem does not use is refused
    # there, not dropped in silence.
    g.add_argument("--d", type=int, default=None, help="dimension (default: 100)")
    g.add_argument("--beta", type=float, default=None,
                   help="power-law decay s_j = j^-beta (default 2; --spectrum power_law)")
    g.add_argument("--r", type=float, default=None,
                   help="power-law source exponent (default 0.5; --spectrum power_law)")
    g.add_argument("--eigvals", type=Path, default=None,
                   help=".npy file of covariance eigenvalues (overrides --spectrum)")
    g.add_argument("--w0", type=Path, default=None,
                   help=".npy file of teacher coefficients in the eigenbasis (with --eigvals)")


def load_problem(args: argparse.Namespace, *,
                 theory_bytes_per_dim: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The problem of the arguments; a built-in one is refused before it is built when it and
    ``theory_bytes_per_dim`` per dimension (what the command does with it) exceed the
    machine's memory: each step's own check would come after the problem's allocation."""
    from kernelcollapse import theory
    from kernelcollapse._util import memory as _memory

    if args.eigvals is not None or args.w0 is not None:
        if args.eigvals is None or args.w0 is None:
            raise ValueError("--eigvals and --w0 must be given together")
        unused = [f"--{k}" for k in ("d", "beta", "r") if getattr(args, k) is not None]
        if args.spectrum != "isotropic":
            unused.insert(0, "--spectrum")
        if unused:
            names = ", ".join(unused)
            raise ValueError(f"{names}: for the built-in spectra, which --eigvals/--w0 replace; "
                             f"drop {names} (d is the length of the files)")
        return load_npy(args.eigvals, "--eigvals"), load_npy(args.w0, "--w0")
    if args.spectrum == "isotropic":
        unused = [f"--{k}" for k in ("beta", "r") if getattr(args, k) is not None]
        if unused:
            names = ", ".join(unused)
            raise ValueError(f"{names}: for --spectrum power_law only, not the isotropic "
                             f"spectrum (the default); add --spectrum power_law or drop {names}")
    args.d = 100 if args.d is None else args.d
    args.beta = 2.0 if args.beta is None else args.beta
    args.r = 0.5 if args.r is None else args.r
    if isinstance(args.d, int) and args.d > 0:
        per_dim = theory.memory_per_dimension(args.spectrum) + theory_bytes_per_dim
        _memory.check_machine(f"--d {args.d}", per_dim * args.d, "use a smaller --d")
    if args.spectrum == "isotropic":
        return tuple(theory.isotropic(args.d))
    return tuple(theory.power_law(args.d, args.beta, args.r))


_NPY_MAGIC = b"\x93NUMPY"


def load_npy(path: Path, what: str = "") -> np.ndarray:
    """A numeric array from a ``.npy`` file, or a one-line error saying in plain words what is
    wrong with the file (numpy calls a text file "pickled (object) data")."""
    path = Path(path)
    what = f"{what}: " if what else ""
    if not path.is_file():
        raise FileNotFoundError(f"{what}no such file: {path}")
    with path.open("rb") as fh:
        magic = fh.read(len(_NPY_MAGIC))
    if magic != _NPY_MAGIC:
        raise ValueError(f"{what}{path} is not a NumPy .npy file (it lacks the .npy header; a "
                         "text or CSV table?): save the array with numpy.save")
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise ValueError(f"{what}{path} holds Python objects (an array of dtype object), "
                             "not numbers: save a numeric array") from None
        raise ValueError(f"{what}{path} is a damaged .npy file ({exc})") from None
    except (OSError, EOFError) as exc:
        raise ValueError(f"{what}{path} is a damaged .npy file ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{what}{path} holds values of dtype {arr.dtype}, not numbers")
    return arr


def to_jsonable(obj):
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def print_json(obj) -> None:
    print(json.dumps(to_jsonable(obj), indent=2))


def print_table(columns: dict[str, Sequence], *, floatfmt: str = ".6g") -> None:
    """Print equal-length columns as an aligned text table."""
    names = list(columns)
    rows = [[_fmt(v, floatfmt) for v in col] for col in columns.values()]
    n = len(rows[0]) if rows else 0
    widths = [max(len(name), *(len(c) for c in col)) if n else len(name)
              for name, col in zip(names, rows)]
    print("  ".join(name.rjust(w) for name, w in zip(names, widths)))
    for i in range(n):
        print("  ".join(col[i].rjust(w) for col, w in zip(rows, widths)))


def emit(args, header: dict, table: dict) -> int:
    """Print a result table with its header line, or both as JSON with ``--json``; exit 0."""
    if args.json:
        print_json({**header, "rows": [dict(zip(table, row)) for row in zip(*table.values())]})
    else:
        print("# " + "  ".join(f"{k}={v}" for k, v in header.items()))
        print_table(table)
    return 0


def _fmt(value, floatfmt: str) -> str:
    if isinstance(value, (float, np.floating)):
        return format(float(value), floatfmt)
    return str(value)
