"""``python -m benchmarks [--quick] [--out DIR] [--note TEXT]``: run the benchmarks of issue 6."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (d = 200 only, fewer seeds): under a minute")
    parser.add_argument("--out", type=Path, default=None,
                        help="output directory (default: benchmarks/results/)")
    parser.add_argument("--note", default="", help="free text recorded with the results "
                        "(e.g. that the machine was shared)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--markdown-from", type=Path, default=None, metavar="JSON",
                        help="only re-render the Markdown of an existing results JSON")


def run(args: argparse.Namespace) -> int:
    from benchmarks import CANONICAL, QUICK, RESULTS, report, run_benchmarks

    if args.markdown_from is not None:
        import json

        results = json.loads(args.markdown_from.read_text())
        results["targets"] = report.targets(results)
        md_path = args.markdown_from.with_suffix(".md")
        md_path.write_text(report.markdown(results))
        print(md_path.read_text())
        return 0
    results, json_path, md_path = run_benchmarks(
        QUICK if args.quick else CANONICAL, out_dir=args.out or RESULTS,
        progress=not args.quiet, note=args.note)
    print(md_path.read_text())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description="Benchmarks of the simulator and the theory.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
