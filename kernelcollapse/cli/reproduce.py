"""``kernelcollapse reproduce``: make the paper figures (PNG + CSV), resumably."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "reproduce",
        help="make the paper figures (PNG and CSV) into a directory",
        description="Run every paper figure (kernelcollapse.figures) and write NAME.png and "
        "NAME.csv into --out.  Figures already made at the same size are skipped (an "
        "interrupted run resumes), unless --force.  Exit status 1 if a figure failed.",
    )
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", dest="size", action="store_const", const="quick",
                       help="quick sizes, under 4 minutes on 2 CPU cores (default)")
    sizes.add_argument("--full", dest="size", action="store_const", const="full",
                       help="paper-scale sizes and seeds")
    sizes.add_argument("--size", dest="size", choices=("tiny", "quick", "full"),
                       help="explicit size (tiny: smoke test)")
    parser.add_argument("--out", type=Path, default=Path("figures"),
                        help="output directory (default ./figures)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="only this figure (NAME, file stem or figNN; repeat or "
                        "comma-separate for several)")
    parser.add_argument("--force", action="store_true",
                        help="recompute figures already done")
    parser.add_argument("--figures-dir", type=Path, default=None,
                        help="run the figure scripts fig*.py of this directory instead of the "
                        "figures shipped with the package")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bars")
    parser.set_defaults(func=run, size="quick", on_interrupt=interrupted)


def run(args: argparse.Namespace) -> int:
    from kernelcollapse.reproduce import reproduce

    res = reproduce(args.out, size=args.size, only=args.only, force=args.force,
                    progress=args.progress, fig_dir=args.figures_dir)
    out = Path(args.out).resolve()
    print(f"reproduce: {len(res.done)} made, {len(res.skipped)} already done, "
          f"{len(res.missing_data)} without data, {len(res.failed)} failed; output in {out}")
    pngs = [Path(f).name for files in res.files.values() for f in files
            if Path(f).suffix == ".png"]
    if pngs:
        print(f"  {len(pngs)} figures (PNG, each with its CSV): " + ", ".join(pngs))
    for name, msg in res.missing_data.items():
        print(f"  {name}: data not found ({msg})")
    if res.failed:
        for name, msg in res.failed.items():
            print(f"  FAILED {name}: {msg}")
        return 1
    return 0


def interrupted(args: argparse.Namespace, exc: KeyboardInterrupt) -> str:
    """The line printed on Ctrl-C: what is saved, how to resume."""
    from kernelcollapse.reproduce import ReproduceInterrupted

    saved = (str(exc) if isinstance(exc, ReproduceInterrupted)
             else f"finished figures are saved in {args.out}")
    return f"{saved}; run the same command again to resume (saved figures are skipped)"
