"""``kernelcollapse zoo discrete|gaussian|gmm|vae|lm``: collapse beyond regression, as a table
or JSON.

``discrete``, ``gaussian`` and ``gmm`` simulate many seeds at once and print, at a few
generations ``n``, the simulated statistics next to the theory where one exists; ``vae`` and
``lm`` train the deep generative models of Shumailov et al. (a VAE on MNIST, a transformer on
WikiText-2) generation after generation and print one row per generation
(:mod:`kernelcollapse.zoo`).
"""

from __future__ import annotations

import argparse

import numpy as np

from kernelcollapse.cli._common import emit, int_list, number_list


def _common(parser: argparse.ArgumentParser, *, N: int, generations: int, seeds: int) -> None:
    parser.add_argument("--N", type=int, default=N, help=f"samples per generation ({N})")
    parser.add_argument("--generations", type=int, default=generations,
                        help=f"number of refits ({generations})")
    parser.add_argument("--seeds", type=int, default=seeds,
                        help=f"independent chains, run at once ({seeds})")
    _key_argument(parser)
    parser.add_argument("--n", type=int_list, default=None,
                        help="generations to report (default: 11 points from 0 to the end)")
    _output_arguments(parser)


def _key_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key", type=int, default=0,
                        help="random key, an integer in [0, 2**63) (0)")


def _output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="hide the progress bars")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "zoo", help="collapse of discrete distributions, Gaussians, mixtures, a VAE and an LM",
        description="Classic model-collapse experiments: a model refitted on its own samples "
        "generation after generation (Shumailov et al. 2024).")
    sub = parser.add_subparsers(dest="system", required=True, metavar="SYSTEM")

    p = sub.add_parser("discrete", help="categorical distribution (Wright-Fisher chain)",
                       description="Empirical distribution of N samples of the previous one.")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--p0", type=number_list, default=None,
                   help="original probabilities, e.g. 0.5,0.3,0.2 (summing to 1)")
    g.add_argument("--K", type=int, default=10, help="number of categories (10), with --zipf")
    p.add_argument("--zipf", type=float, default=1.0,
                   help="p_k proportional to k^-zipf when --K is used (1.0; 0 = uniform)")
    _common(p, N=100, generations=200, seeds=2000)
    p.set_defaults(func=run_discrete)

    p = sub.add_parser("gaussian", help="1-D Gaussian refitted on its samples",
                       description="Mean and variance fitted to N samples of the previous fit.")
    p.add_argument("--estimator", choices=("unbiased", "ml"), default="unbiased",
                   help="variance estimator (unbiased)")
    p.add_argument("--mu0", type=float, default=0.0, help="original mean (0)")
    p.add_argument("--sigma0", type=float, default=1.0, help="original sd (1)")
    _common(p, N=20, generations=100, seeds=10000)
    p.set_defaults(func=run_gaussian)

    _register_deep(sub)

    p = sub.add_parser("gmm", help="1-D Gaussian mixture refitted by EM",
                       description="Each generation trains on fresh original samples, a "
                       "subsample of the previous training set and samples of the latest fit "
                       "(the rest), in the given ratios.")
    p.add_argument("--weights", type=number_list, default=number_list("0.5,0.5"),
                   help="original weights (0.5,0.5)")
    p.add_argument("--means", type=number_list, default=number_list("-2,2"),
                   help="original means (-2,2)")
    p.add_argument("--sds", type=number_list, default=number_list("1,1"),
                   help="original sds (1,1)")
    p.add_argument("--fresh", type=float, default=0.0,
                   help="fraction of fresh original samples per generation (0)")
    p.add_argument("--previous", type=float, default=0.0,
                   help="fraction subsampled from the previous training set (0)")
    _common(p, N=10_000, generations=2000, seeds=8)
    p.set_defaults(func=run_gmm)


def _report_generations(args) -> np.ndarray:
    if args.generations < 1:
        raise ValueError(f"--generations must be >= 1, got {args.generations}")
    if args.n is None:
        return np.unique(np.linspace(0, args.generations, 11).round().astype(np.int64))
    n = np.asarray(args.n)
    if np.any((n < 0) | (n > args.generations)):
        raise ValueError(f"--n must lie in [0, {args.generations}] (--generations), "
                         f"got {n.tolist()}")
    return n


def _mean_se(x: np.ndarray):
    return x.mean(axis=-1), x.std(axis=-1, ddof=1) / np.sqrt(x.shape[-1])


def run_discrete(args: argparse.Namespace) -> int:
    from kernelcollapse.zoo import discrete as wf

    if args.p0 is not None:
        p0 = args.p0
    else:
        if args.K < 2:
            raise ValueError(f"--K must be >= 2, got {args.K}")
        p0 = np.arange(1, args.K + 1, dtype=np.float64) ** -args.zipf
        p0 /= p0.sum()
    n = _report_generations(args)
    chain = wf.simulate_discrete(p0, N=args.N, generations=args.generations, seeds=args.seeds,
                                 key=args.key, record_every=args.generations,
                                 progress=args.progress)
    # Exact (the full chain for N <= 4000, the truncated one above, to a bound of 1e-12 per
    # category); Kimura's diffusion only where the truncated chain would be too large.
    try:
        surviving, lost, bound = wf.expected_surviving(p0, N=args.N, n=n, return_bound=True)
        method = "exact"
    except ValueError as exc:
        if "method='truncated'" not in str(exc):
            raise
        surviving, lost = wf.expected_surviving(p0, N=args.N, n=n, method="diffusion")
        method, bound = "diffusion", None
    s_mean, s_se = _mean_se(chain.surviving[n].astype(np.float64))
    h_mean, h_se = _mean_se(chain.homozygosity[n])
    table = {"n": n, "surviving_sim": s_mean, "surviving_se": s_se,
             f"surviving_{method}": surviving, f"lost_mass_{method}": lost,
             "homozygosity_sim": h_mean, "homozygosity_se": h_se,
             "homozygosity_exact": wf.expected_homozygosity(p0, N=args.N, n=n)}
    fixed = chain.fixation_time >= 0
    header = {"K": len(p0), "N": args.N, "seeds": args.seeds,
              "fixed_fraction": float(fixed.mean()),
              "mean_fixation_time_diffusion": round(wf.mean_fixation_time(p0, N=args.N), 3),
              "theory": method if bound is None or args.N <= 4000 else "truncated",
              "theory_bound": None if bound is None else float(np.max(bound))}
    return emit(args, header, table)


def run_gaussian(args: argparse.Namespace) -> int:
    from kernelcollapse.zoo import gaussian as zg

    n = _report_generations(args)
    chain = zg.simulate_gaussian(N=args.N, generations=args.generations, seeds=args.seeds,
                                 mu0=args.mu0, sigma0=args.sigma0, estimator=args.estimator,
                                 key=args.key, progress=args.progress)
    th = zg.gaussian_moments(n, N=args.N, sigma0=args.sigma0, estimator=args.estimator)
    table = {"n": n}
    for name, sim, theory in (("var", chain.sigma**2, th.var), ("sd", chain.sigma, th.sd),
                              ("mean_shift_sq", (chain.mu - args.mu0) ** 2, th.mean_shift_sq),
                              ("w2_squared", chain.w2_squared, th.w2_squared)):
        mean, se = _mean_se(sim[n])
        table[f"{name}_sim"], table[f"{name}_se"], table[f"{name}_exact"] = mean, se, theory
    header = {"N": args.N, "seeds": args.seeds, "estimator": args.estimator,
              "sigma0": args.sigma0}
    return emit(args, header, table)


def run_gmm(args: argparse.Namespace) -> int:
    from kernelcollapse.zoo import gmm

    n = _report_generations(args)
    chain = gmm.simulate_mixture(weights=args.weights, means=args.means, sds=args.sds,
                                 N=args.N, generations=args.generations, seeds=args.seeds,
                                 fresh=args.fresh, previous=args.previous, key=args.key,
                                 progress=args.progress)
    v = chain.variances[n]                                   # (n, S, C)
    v_mean, v_se = _mean_se(v.mean(axis=2))
    w1 = chain.weights[n, :, 0]
    table = {"n": n, "variance_mean": v_mean, "variance_se": v_se,
             "variance_min": v.min(axis=(1, 2)), "variance_max": v.max(axis=(1, 2)),
             "weight1_mean": w1.mean(axis=1), "weight1_sd": w1.std(axis=1, ddof=1)}
    header = {"N": args.N, "seeds": args.seeds, "fresh": args.fresh, "previous": args.previous,
              "mean_em_iterations": round(float(chain.em_iterations.mean()), 2)}
    return emit(args, header, table)


def _deep_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", choices=("tiny", "quick", "full"), default="quick",
                   help="preset of network, data and generations (quick)")
    p.add_argument("--generations", type=int, default=None,
                   help="generations (default: the preset's)")
    p.add_argument("--epochs", type=int, default=None,
                   help="training epochs per generation (default: the preset's or setting's)")
    _key_argument(p)
    p.add_argument("--data-dir", type=str, default=None,
                   help="data directory: the folder holding mnist/ and wikitext2/ (or the data "
                   "set's files); default $KERNELCOLLAPSE_DATA")
    p.add_argument("--checkpoint-dir", type=str, default=None,
                   help="save each generation there; a rerun with the same arguments resumes")
    _output_arguments(p)


def _register_deep(sub) -> None:
    p = sub.add_parser("vae", help="VAE on MNIST retrained on its own samples",
                       description="Generation 0 trains a convolutional VAE on MNIST; each next "
                       "one only on images decoded by the previous one. Prints, per generation, "
                       "the spread of the generation-0 encoder's latent means of its samples "
                       "and the ELBO of held-out real images.")
    _deep_common(p)
    p.add_argument("--latent", type=int, default=None, help="latent size (default: preset)")
    p.set_defaults(func=run_vae)

    p = sub.add_parser("lm", help="transformer LM fine-tuned on its own generations",
                       description="A small GPT-style model, pretrained on part of WikiText-2, "
                       "is fine-tuned on the rest and then, generation after generation, on "
                       "beam-search continuations of its training blocks (Shumailov et al.'s "
                       "OPT-125m experiment, scaled down). Prints the test perplexity (mean and "
                       "sd over runs) and the generated data's perplexity under generation 0.")
    _deep_common(p)
    p.add_argument("--setting", choices=("A", "B"), default="A",
                   help="A: 5 epochs, no original data; B: 10 epochs, 10%% original (A)")
    p.add_argument("--runs", type=int, default=None, help="independent runs (default: preset)")
    p.add_argument("--keep-original", type=float, default=None,
                   help="fraction of original blocks per generation (default: setting's)")
    p.add_argument("--block", type=int, default=None, help="tokens per block (64)")
    p.add_argument("--beam-width", type=int, default=None, help="beams (5)")
    p.add_argument("--repetition-penalty", type=float, default=None,
                   help="repetition penalty >= 1 (default: preset)")
    p.set_defaults(func=run_lm)


def _overrides(args, names) -> dict:
    return {n: getattr(args, n) for n in names if getattr(args, n) is not None}


def run_vae(args: argparse.Namespace) -> int:
    from kernelcollapse.zoo import vae

    cfg = vae.vae_config(args.size, **_overrides(args, ("latent", "epochs")))
    chain = vae.simulate_vae(config=cfg, size=args.size, generations=args.generations,
                             key=args.key, data_dir=args.data_dir,
                             checkpoint_dir=args.checkpoint_dir, progress=args.progress)
    G = chain.elbo.shape[0]
    table = {"generation": np.arange(G), "latent_spread": chain.latent_spread,
             "elbo_held_out": chain.elbo, "final_train_loss": chain.train_loss[:, -1]}
    header = {"size": args.size, "n_train": cfg.n_train, "epochs": cfg.epochs,
              "parameters": chain.n_parameters,
              "latent_spread_real": round(chain.latent_spread_real, 4)}
    return emit(args, header, table)


def run_lm(args: argparse.Namespace) -> int:
    from kernelcollapse.zoo import lm

    cfg = lm.lm_config(args.size, **_overrides(args, ("block", "beam_width",
                                                      "repetition_penalty")))
    chain = lm.simulate_lm(setting=args.setting, size=args.size, config=cfg,
                           generations=args.generations, runs=args.runs, epochs=args.epochs,
                           keep_original=args.keep_original, key=args.key,
                           data_dir=args.data_dir, checkpoint_dir=args.checkpoint_dir,
                           progress=args.progress)
    ppl = chain.test_perplexity
    R, G = ppl.shape
    data = chain.data_perplexity[:, 1:]                       # generated by generation g
    table = {"generation": np.arange(G), "test_ppl_mean": ppl.mean(axis=0),
             "test_ppl_sd": ppl.std(axis=0, ddof=1) if R > 1 else np.zeros(G),
             "generated_ppl_median": np.median(data, axis=(0, 2)),
             "generated_ppl_p99": np.percentile(data, 99, axis=(0, 2))}
    header = {"size": args.size, "setting": args.setting, "runs": R, "epochs": chain.epochs,
              "keep_original": chain.keep_original, "parameters": chain.n_parameters,
              "base_test_ppl": round(chain.base_test_perplexity, 3),
              "real_data_ppl_median": round(float(np.median(chain.data_perplexity[:, 0])), 3)}
    return emit(args, header, table)
