"""Figure 12: a VAE on MNIST retrained, generation after generation, on its own samples.

Setting (the reference experiment of Shumailov et al.'s public code): generation 0 trains a
convolutional VAE on real MNIST digits; generation ``g + 1`` trains a fresh VAE only on
decoder means of ``N(0, I)`` latents drawn from generation ``g``, as many as the real
training set (:mod:`kernelcollapse.zoo.vae`).  Top: samples of three generations.  Bottom:
(a) the latent means the generation-0 encoder gives to the samples of the first and last
generations (two latent coordinates); (b) their spread per generation,
``sqrt(mean_j Var_i mu_ij)``, with the authors' values for generations 0-4 (0.674, 0.608,
0.527, 0.468, 0.433; their network, on the full MNIST training set) and the spread of the
held-out real images; (c) the ELBO of held-out real images under each generation.

Sizes: ``tiny`` (seconds: a small network on 512 images), ``quick`` (a narrow network,
4 epochs, 1,000 images, 3 generations: under a minute on CPU), ``full`` (the authors'
architecture and 30 epochs, 20 generations: a GPU is advised).  MNIST is read from
``$KERNELCOLLAPSE_DATA``, the project's shared copy or the download cache.

References: Shumailov et al. (2024), Nature 631; :mod:`kernelcollapse.zoo.vae`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kernelcollapse.figures import check_size, save_figure, style, write_csv

__all__ = ["NAME", "TITLE", "compute", "run"]

NAME = "zoo_vae"
TITLE = "VAE on MNIST retrained on its own samples: the latent spread and the ELBO shrink"

SEED = 12
#: Latent spread of the authors' run, generations 0-4 (their figure of the VAE experiment).
PAPER_SPREAD = (0.674, 0.608, 0.527, 0.468, 0.433)


def compute(*, size="quick", progress=True, data_dir=None):
    from kernelcollapse.zoo import vae

    check_size(size)
    chain = vae.simulate_vae(size=size, key=SEED, data_dir=data_dir, progress=progress)
    cfg = chain.config
    rows = []
    for g in range(chain.elbo.shape[0]):
        rows.append({
            "size": size, "n_train": cfg.n_train, "epochs": cfg.epochs,
            "channels": "x".join(map(str, cfg.channels)), "latent": cfg.latent,
            "generation": g,
            "latent_spread": float(chain.latent_spread[g]),
            "latent_spread_real": float(chain.latent_spread_real),
            "latent_spread_paper": PAPER_SPREAD[g] if g < len(PAPER_SPREAD) else float("nan"),
            "elbo_held_out": float(chain.elbo[g]),
            "final_train_loss": float(chain.train_loss[g, -1]),
        })
    return rows, chain


def _tile(images: np.ndarray, side: int) -> np.ndarray:
    n = side * side
    imgs = images[:n]
    if imgs.shape[0] < n:
        imgs = np.concatenate([imgs, np.zeros((n - imgs.shape[0],) + imgs.shape[1:])])
    return imgs.reshape(side, side, 28, 28).transpose(0, 2, 1, 3).reshape(side * 28, side * 28)


def _plot(rows, chain, path: Path) -> Path:
    G = chain.elbo.shape[0]
    gens = sorted({0, G // 2, G - 1})
    gen = np.arange(G)
    side = int(np.sqrt(chain.samples.shape[1]))
    with style() as plt:
        fig = plt.figure(figsize=(15, 8.6))
        grid = fig.add_gridspec(2, 3, height_ratios=(1, 1))
        for i, g in enumerate(gens):
            ax = fig.add_subplot(grid[0, i])
            ax.imshow(_tile(chain.samples[g], side), cmap="gray_r", vmin=0, vmax=1)
            ax.set_title(f"samples of generation {g}")
            ax.axis("off")
        ax = fig.add_subplot(grid[1, 0])
        for g, c in ((0, "C0"), (G - 1, "C3")):
            mu = chain.latent_means[g]
            ax.scatter(mu[:, 0], mu[:, 1], s=3, alpha=0.4, color=c, label=f"generation {g}")
        ax.set_xlabel("latent mean, coordinate 1")
        ax.set_ylabel("coordinate 2")
        ax.set_title("generation-0 encoder on each generation's samples")
        ax.legend(markerscale=4)
        bx = fig.add_subplot(grid[1, 1])
        bx.plot(gen, chain.latent_spread, "o-", color="C0", label="this run")
        k = min(len(PAPER_SPREAD), G)
        bx.plot(gen[:k], PAPER_SPREAD[:k], "s--", color="0.4",
                label="Shumailov et al. (their network, full MNIST)")
        bx.axhline(chain.latent_spread_real, color="C2", ls=":", label="held-out real images")
        bx.set_xlabel("generation")
        bx.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        bx.set_ylabel(r"spread $\sqrt{\mathrm{mean}_j\,\mathrm{Var}_i\,\mu_{ij}}$")
        bx.set_title("latent spread shrinks")
        bx.legend()
        cx = fig.add_subplot(grid[1, 2])
        cx.plot(gen, chain.elbo, "o-", color="C1")
        cx.set_xlabel("generation")
        cx.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        cx.set_ylabel("ELBO of held-out real images (nats)")
        cx.set_title("the model forgets the real data")
        cfg = chain.config
        fig.suptitle(f"VAE ({'/'.join(map(str, cfg.channels))} channels, latent {cfg.latent}, "
                     f"{cfg.epochs} epochs) retrained on its own samples, "
                     f"N = {cfg.n_train} images per generation")
        return save_figure(fig, path)


def run(out_dir, *, size="quick", progress=True, data_dir=None) -> list[Path]:
    """Compute figure 12 and write ``zoo_vae.csv`` and ``.png`` into ``out_dir``."""
    out_dir = Path(out_dir)
    rows, chain = compute(size=size, progress=progress, data_dir=data_dir)
    return [write_csv(out_dir / f"{NAME}.csv", rows), _plot(rows, chain, out_dir / f"{NAME}.png")]
