"""``kernelcollapse bench [--quick | --smoke] [--out DIR]``: the speed and memory benchmarks.

The suite lives in :mod:`kernelcollapse.bench`, so it runs from an installed package in any
directory.  ``python -m benchmarks`` in a checkout is the same command (:func:`main`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DESCRIPTION = (
    "Benchmarks of the simulator and the theory : simulate against a plain numpy "
    "loop (warm and cold), the flop rate against jax's matmul rate, test_error throughput, and "
    "how time and memory grow.  Writes NAME.json (after each part) and NAME.md into --out; "
    "NAME is bench, bench_quick or bench_smoke.  Default --out: benchmarks/results/ of the "
    "checkout when the package runs from a checkout (editable install or PYTHONPATH), else "
    "./kernelcollapse-bench/ in the current directory."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true",
                       help="small sizes (d = 200 only, fewer seeds): about a minute")
    sizes.add_argument("--smoke", action="store_true",
                       help="toy sizes, a few seconds: checks that the suite runs; its numbers "
                       "measure nothing")
    sizes.add_argument("--optimize", action="store_true",
                       help="instead: optimal_lambda against its previous implementation "
                       "(target 5x), written to OUT/optimize.json and .md")
    sizes.add_argument("--practitioner", action="store_true",
                       help="instead: tuning on MNIST with synthetic labels (cross-validation, "
                       "recommend, recommend with a pilot, the best penalty in hindsight; ~100 "
                       "min on 2 cores, --short ~2 min), written to OUT/practitioner.json and .md "
                       "after every regime; a rerun resumes (--fresh: all again)")
    sizes.add_argument("--deep", action="store_true",
                       help="instead: time per training step and per generation of the VAE and "
                       "the transformer LM (zoo), CPU or GPU; written to "
                       "OUT/deep_generative[_gpu].json and .md")
    sizes.add_argument("--zoo-gmm", action="store_true",
                       help="instead: the reference Gaussian-mixture collapse run "
                       "(2000 generations, about 2 minutes), written to OUT/zoo_gmm.json")
    parser.add_argument("--deep-full", dest="full_deep", action="store_true",
                        help="with --deep: the full model sizes (meant for a GPU)")
    parser.add_argument("--short", dest="quick_parts", action="store_true",
                        help="with --optimize or --practitioner: the quick subset")
    parser.add_argument("--gpu", action="store_true",
                        help="instead: the GPU benchmark on whatever device jax has "
                        "(kernelcollapse.bench.gpu), written to OUT/bench_gpu.json and .md; "
                        "with --smoke at toy sizes")
    parser.add_argument("--max-seconds", type=float, default=None, metavar="S",
                        help="with --gpu: start no step that would not finish within S seconds "
                        "(default 330)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output directory (default: benchmarks/results/ in a checkout, "
                        "else ./kernelcollapse-bench/)")
    parser.add_argument("--note", default="", help="free text recorded with the results "
                        "(e.g. that the machine was shared)")
    parser.add_argument("--fresh", action="store_true",
                        help="with --practitioner: compute every regime again instead of "
                        "resuming from the results file")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--markdown-from", type=Path, default=None, metavar="JSON",
                        help="only re-render the Markdown of an existing results JSON")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="benchmarks: simulator vs numpy loop, flop rate, theory throughput, growth",
        description=DESCRIPTION,
    )
    add_arguments(parser)
    parser.set_defaults(func=run, on_interrupt=interrupted)


def run(args: argparse.Namespace) -> int:
    from kernelcollapse.bench import CANONICAL, QUICK, SMOKE, default_out_dir, report

    if args.markdown_from is not None:
        import json

        results = json.loads(args.markdown_from.read_text())
        results["targets"] = report.targets(results)
        md_path = args.markdown_from.with_suffix(".md")
        md_path.write_text(report.markdown(results))
        print(md_path.read_text())
        return 0
    out = args.out if args.out is not None else default_out_dir()
    if args.zoo_gmm:
        from kernelcollapse.bench import zoo_gmm

        return zoo_gmm.main(["--out", str(out / "zoo_gmm.json")])
    if args.deep:
        from kernelcollapse.bench import deep_generative

        res = deep_generative.run(quick=not args.full_deep)
        deep_generative.save(res, out)
        print(deep_generative.markdown(res))
        return 0
    if args.optimize:
        from kernelcollapse.bench import optimize_speed

        res = optimize_speed.main(out, quick=args.quick_parts)
        print(optimize_speed.markdown(res))
        return 0
    if args.practitioner:
        from kernelcollapse.bench import practitioner

        practitioner.main(out, size="quick" if args.quick_parts else "full",
                          progress=None if args.quiet else print, fresh=args.fresh)
        name = "practitioner_quick" if args.quick_parts else "practitioner"
        print((out / f"{name}.md").read_text())
        return 0

    if args.gpu:
        from kernelcollapse.bench import gpu

        kw = {} if args.max_seconds is None else {"max_seconds": args.max_seconds}
        _, _, md_path = gpu.run(smoke=args.smoke, out_dir=out, progress=not args.quiet,
                                note=args.note, **kw)
        print(md_path.read_text())
        return 0
    if args.max_seconds is not None:
        raise SystemExit("kernelcollapse bench: --max-seconds needs --gpu")
    from kernelcollapse.bench import run_benchmarks

    cfg = SMOKE if args.smoke else QUICK if args.quick else CANONICAL
    results, json_path, md_path = run_benchmarks(cfg, out_dir=out, progress=not args.quiet,
                                                 note=args.note)
    print(md_path.read_text())
    return 0


def interrupted(args: argparse.Namespace, exc: KeyboardInterrupt) -> str:
    """The line printed on Ctrl-C: the parts finished so far are in the results JSON."""
    from kernelcollapse.bench import default_out_dir

    where = args.out if args.out is not None else default_out_dir()
    return (f"the parts finished so far are saved in the results JSON in {where}; a new run "
            "starts over")


def main(argv: list[str] | None = None, *, prog: str = "kernelcollapse bench") -> int:
    """Parse ``argv`` and run (the entry of ``python -m benchmarks``)."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
