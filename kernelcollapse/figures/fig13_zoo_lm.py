"""Figure 13: a transformer language model fine-tuned, generation after generation, on its own
beam-search continuations of WikiText-2 blocks.

Setting (Shumailov et al.'s OPT-125m experiment, scaled down: :mod:`kernelcollapse.zoo.lm`):
a small GPT-style model pretrained on WikiText-2 articles held apart stands in for the
pretrained OPT-125m; every generation fine-tunes it on 64-token blocks, generation 0 on real
text, generation ``g + 1`` on the continuations generation ``g`` wrote for its own training
blocks (beam search, width 5, repetition penalty).  Setting A: 5 epochs, no original data;
setting B: 10 epochs, 10 % original blocks drawn afresh each generation.  Panel (a): test
perplexity on real text per generation, mean and spread (min-max) over runs, and that of the
pretrained model.  Panels (b), (c): histograms of the per-block perplexity, under the
generation-0 model, of the real training blocks and of the data each generation wrote.

Sizes: ``tiny`` (seconds, a one-layer model), ``quick`` (one run of 3 generations
per setting, under a minute on CPU), ``full`` (a
4-layer model on the whole sample, 10 generations: a GPU is advised).  The WikiText-2 sample
is read from ``data_dir``, ``$KERNELCOLLAPSE_WIKITEXT2``, ``$KERNELCOLLAPSE_DATA`` or the project's
shared copy (:mod:`kernelcollapse.datasets`).

References: Shumailov et al. (2024), Nature 631; :mod:`kernelcollapse.zoo.lm`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kernelcollapse.figures import check_size, save_figure, style, write_csv

__all__ = ["NAME", "TITLE", "compute", "run"]

NAME = "zoo_lm"
TITLE = "Language model fine-tuned on its own generations: test perplexity grows"

SEED = 13


def compute(*, size="quick", progress=True, data_dir=None):
    from kernelcollapse.zoo import lm

    check_size(size)
    base = lm.pretrain_lm(size=size, key=SEED, data_dir=data_dir, progress=progress)
    chains = {s: lm.simulate_lm(base, setting=s, size=size, key=SEED, progress=progress)
              for s in lm.SETTINGS}
    rows = []
    for s, ch in chains.items():
        R, G = ch.test_perplexity.shape
        for d in range(G + 1):  # data index: 0 real, g + 1 written by generation g
            ppl = ch.data_perplexity[:, d].ravel()
            test = ch.test_perplexity[:, d - 1] if d else np.array([ch.base_test_perplexity])
            rows.append({
                "setting": s, "epochs": ch.epochs, "keep_original": ch.keep_original,
                "runs": R, "data": "real" if d == 0 else "generated",
                "generation": d - 1,
                "model": "pretrained" if d == 0 else f"generation {d - 1}",
                "test_ppl_mean": float(test.mean()),
                "test_ppl_sd": float(test.std(ddof=1)) if test.size > 1 else 0.0,
                "test_ppl_min": float(test.min()), "test_ppl_max": float(test.max()),
                "data_ppl_p5": float(np.percentile(ppl, 5)),
                "data_ppl_median": float(np.median(ppl)),
                "data_ppl_p95": float(np.percentile(ppl, 95)),
                "data_ppl_p99": float(np.percentile(ppl, 99)),
                "example": str(ch.examples[0, d, 0])[:300].replace("\n", " | ")
                if ch.examples.shape[2] else "",
            })
    return rows, chains


def _plot(rows, chains, path: Path) -> Path:
    with style() as plt:
        fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
        ax = axes[0]
        for (s, ch), c in zip(chains.items(), ("C3", "C0")):
            ppl = ch.test_perplexity
            gen = np.arange(ppl.shape[1])
            mean = ppl.mean(axis=0)
            ax.errorbar(gen, mean, yerr=[mean - ppl.min(axis=0), ppl.max(axis=0) - mean],
                        fmt="o-", color=c, label=f"setting {s}: {ch.epochs} epochs, "
                        f"{ch.keep_original:.0%} original data")
        ax.axhline(next(iter(chains.values())).base_test_perplexity, color="0.4", ls="--",
                   label="pretrained model (before fine-tuning)")
        ax.set_xlabel("generation")
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.set_ylabel("perplexity of the real test text")
        ax.set_title("models of later generations fit real text worse")
        ax.legend()
        for bx, (s, ch) in zip(axes[1:], chains.items()):
            data = np.log10(ch.data_perplexity)              # (R, G + 1, N)
            bins = np.linspace(data.min(), data.max(), 50)
            G = data.shape[1] - 1
            bx.hist(data[:, 0].ravel(), bins=bins, density=True, histtype="step", color="k",
                    lw=2, label="real training blocks")
            for d, col in zip(range(1, G + 1), plt.cm.viridis(np.linspace(0, 0.9, G))):
                bx.hist(data[:, d].ravel(), bins=bins, density=True, histtype="step",
                        color=col, label=f"written by generation {d - 1}")
            bx.set_xlabel("log10 perplexity of a block under the generation-0 model")
            bx.set_ylabel("density")
            bx.set_title(f"setting {s}: data of each generation")
            bx.legend(fontsize=7)
        cfg = next(iter(chains.values())).config
        layers = f"{cfg.layers} layer{'s' if cfg.layers > 1 else ''}"
        fig.suptitle(f"Transformer LM ({layers}, width {cfg.d_model}) fine-tuned on "
                     f"its own beam-search continuations (width {cfg.beam_width}, repetition "
                     f"penalty {cfg.repetition_penalty:g}) of {cfg.block}-token WikiText-2 blocks")
        return save_figure(fig, path)


def run(out_dir, *, size="quick", progress=True, data_dir=None) -> list[Path]:
    """Compute figure 13 and write ``zoo_lm.csv`` and ``.png`` into ``out_dir``."""
    out_dir = Path(out_dir)
    rows, chains = compute(size=size, progress=progress, data_dir=data_dir)
    return [write_csv(out_dir / f"{NAME}.csv", rows),
            _plot(rows, chains, out_dir / f"{NAME}.png")]
