"""``kernelcollapse exponent``: scaling-law exponents of note (E): ell_crit, ell* and the rates."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "exponent",
        help="optimal regularisation exponents and error rates of the power-law scaling laws",
        description="Power-law spectrum s_j = j^-beta, source exponent r, n = T^a generations of "
        "synthetic labels, T0 = T^b samples per generator, lam = T^-ell: prints ell_crit (clean "
        "optimum), ell* (corrected optimum) and the rates E_test ~ T^-rate (formula (E), "
        "docs/theory/scaling.rst).",
    )
    parser.add_argument("--beta", type=float, required=True, help="spectral decay (> 1)")
    parser.add_argument("--r", type=float, required=True, help="source exponent (> 0)")
    parser.add_argument("--a", type=float, required=True, help="n = T^a generations (>= 0)")
    parser.add_argument("--b", type=float, required=True, help="T0 = T^b samples (b > a)")
    parser.add_argument("--ell", type=float, default=None,
                        help="also report the exponents of each term at lam = T^-ell")
    parser.add_argument("--delta", type=float, default=None,
                        help="dimension d ~ T^delta (default: d fixed, see "
                             "kernelcollapse.theory.scaling)")
    parser.add_argument("--noiseless", action="store_true",
                        help="downstream labels without noise (sigma = 0)")
    parser.add_argument("--no-saturate", dest="saturate", action="store_false",
                        help="use r instead of min(r, 1) (the paper's unsaturated formulas)")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print JSON")
    out.add_argument("--latex", action="store_true", help="print the symbolic law as LaTeX")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kernelcollapse.cli._common import print_json
    from kernelcollapse.theory import scaling

    noisy = not args.noiseless
    common = dict(delta=args.delta, saturate=args.saturate)
    ell_crit = scaling.critical_exponent(args.beta, args.r, saturate=args.saturate)
    ell_star = scaling.optimal_exponent(args.beta, args.r, args.a, args.b, noisy=noisy, **common)
    law = scaling.scaling_law(args.beta, args.r, args.ell, args.a, args.b, noisy=noisy,
                              **common)
    rate = dict(noisy=noisy, **common)
    out = {
        "beta": args.beta, "r": args.r, "a": args.a, "b": args.b, "delta": args.delta,
        "noisy": noisy, "saturate": args.saturate,
        "ell_crit": ell_crit,
        "ell_star": ell_star,
        "paper_ell_star": min((args.b - args.a) * ell_crit, args.beta),
        "clean_rate": float(law.clean_rate),
        "rate_at_ell_crit": scaling.rate(args.beta, args.r, ell_crit, args.a, args.b, **rate),
        "rate_at_ell_star": scaling.rate(args.beta, args.r, ell_star, args.a, args.b, **rate),
        "crossover_b_minus_a": float(law.crossover),
    }
    if args.ell is not None:
        out["ell"] = args.ell
        for name in ("bias", "variance", "collapse", "rate"):
            out[f"{name}_exponent_at_ell" if name != "rate" else "rate_at_ell"] = float(
                getattr(law, name))
        out["dominant_at_ell"] = list(law.dominant())
    if args.latex:
        print(scaling.scaling_law(noisy=noisy, saturate=args.saturate,
                                  delta=args.delta).latex())
        return 0
    if args.json:
        print_json(out)
        return 0
    width = max(len(k) for k in out)
    for key, value in out.items():
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        print(f"{key.ljust(width)}  {text}")
    return 0
