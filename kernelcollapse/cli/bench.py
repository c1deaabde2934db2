"""``kernelcollapse bench [--quick] [--out DIR]``: the benchmarks of issue 6 (``benchmarks/``).

The ``benchmarks`` package sits next to the ``kernelcollapse`` package in a checkout; it is
imported by path (from there, or from the current directory), like ``paper_figures/``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path


def find_benchmarks() -> Path:
    """The checkout root holding ``benchmarks/__init__.py``: next to the package, or the cwd."""
    import kernelcollapse

    candidates = [Path(kernelcollapse.__file__).resolve().parent.parent, Path.cwd()]
    for root in candidates:
        if (root / "benchmarks" / "__init__.py").is_file():
            return root
    looked = ", ".join(str(c / "benchmarks") for c in candidates)
    raise FileNotFoundError(f"no benchmarks/ package found (looked in: {looked}); run from a "
                            "checkout of the repository")


def _load():
    root = str(find_benchmarks())
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module("benchmarks.__main__")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="benchmarks: simulator vs numpy loop, flop rate, theory throughput, growth",
        description="Run the benchmarks of benchmarks/ (issue 6) and write JSON and Markdown "
        "to benchmarks/results/ (or --out).",
    )
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (d = 200 only, fewer seeds): about a minute")
    parser.add_argument("--out", type=Path, default=None,
                        help="output directory (default: benchmarks/results/)")
    parser.add_argument("--note", default="", help="free text recorded with the results")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--markdown-from", type=Path, default=None, metavar="JSON",
                        help="only re-render the Markdown of an existing results JSON")
    parser.set_defaults(func=run, on_interrupt=interrupted)


def run(args: argparse.Namespace) -> int:
    return _load().run(args)


def interrupted(args: argparse.Namespace, exc: KeyboardInterrupt) -> str:
    """The line printed on Ctrl-C: the parts finished so far are in the results JSON."""
    where = args.out if args.out is not None else "benchmarks/results/"
    return (f"the parts finished so far are saved in the results JSON in {where}; a new run "
            "starts over")
