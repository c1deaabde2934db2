"""Collapse of a variational autoencoder on MNIST retrained on its own samples (JAX + optax).

The reference experiment of the public code of Shumailov et al. (2024): generation 0 trains
a convolutional VAE on real MNIST digits; generation ``g + 1`` trains a fresh VAE (new
initialisation) only on images decoded by generation ``g`` from ``N(0, I)`` latents, as many
as the real training set (the decoder's Bernoulli means, grey levels in (0, 1), used as
targets of the binary cross-entropy).  Per generation it records

* a grid of samples (decoded means);
* the latent means that the **generation-0 encoder** assigns to each generation's samples,
  and their spread ``sqrt(mean_j Var_i mu_ij)`` (the root-mean-square over latent
  dimensions ``j`` of the standard deviation over samples ``i``): the samples concentrate
  on fewer, more typical digits and the spread shrinks (in the authors' run 0.674, 0.608,
  0.527, 0.468, 0.433 over generations 0-4);
* the ELBO of held-out real images under the generation's VAE (nats per image): it falls
  as the model forgets the real data.

Architecture (``channels = (64, 128)``, ``latent = 20``: 647,081 parameters): encoder
``conv(1 -> 64, k 4, s 2, p 1) -> ReLU -> conv(64 -> 128, k 4, s 2, p 1) -> ReLU``
(28 -> 14 -> 7), linear heads for the mean and the log-variance; decoder the mirror image,
``linear(20 -> 128*7*7) -> ReLU -> conv_transpose(128 -> 64) -> ReLU ->
conv_transpose(64 -> 1) -> sigmoid``.  Loss: binary cross-entropy summed over pixels plus
``KL(q(z|x) || N(0, I))``, summed over the batch; Adam (optax), learning rate 1e-3, coupled
weight decay 1e-5 (``torch.optim.Adam(weight_decay=...)``: ``add_decayed_weights`` before
``adam``), batch 256, 30 epochs per generation.  Layers are plain JAX
(:mod:`kernelcollapse.zoo._nn`); training is float32, metrics are returned as float64.

Data: by default the MNIST **test** set (the 10,000 images the project ships, via
:func:`kernelcollapse.datasets.mnist`), split at random (seed 0) into ``n_held_out``
held-out images and the rest for training; with the full MNIST pass its 60,000 training
images as ``images`` (and the test set as ``held_out``) to run the authors' setting.

Sizes (:data:`VAE_SIZES`): ``"full"`` is the architecture above, 30 epochs, 20 generations,
8,000 training images (a GPU is advised); ``"quick"`` the demo's size, a narrow network
(``channels = (16, 32)``, 8 latents) for 4 epochs in batches of 32 on 1,000 images, 3
generations, well under a minute on 2 CPU cores; ``"tiny"`` (16/32 channels, 4 latents, 512
images in batches of 16) for the tests.

What differs from the paper, and what the quick size measures: ``docs/theory/zoo.rst``.

References
----------
.. [1] I. Shumailov, Z. Shumaylov, Y. Zhao, N. Papernot, R. Anderson and Y. Gal, "AI models
   collapse when trained on recursively generated data", Nature 631 (2024) 755-759;
   arXiv:2305.17493 ("The Curse of Recursion").
.. [2] D. P. Kingma and M. Welling, "Auto-encoding variational Bayes", ICLR (2014).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from kernelcollapse._util import validate as _validate
from kernelcollapse._util.keys import Key, key_data
from kernelcollapse.zoo import _nn
from kernelcollapse.zoo._common import progress_bar

__all__ = ["VAEConfig", "VAEChain", "VAE_SIZES", "vae_config", "simulate_vae"]

SIDE = 28          # MNIST images are 28 x 28
KERNEL = 4
SPLIT_SEED = 0     # the held-out split of the real images
PROBE = 1000       # latent means returned per generation (the spread uses every sample)
CHUNK = 1000       # images decoded or encoded per call
ELBO_DRAWS = 4     # latent draws per held-out image in the ELBO estimate

# Purposes of the per-generation keys (see _nn.generation_key).
_INIT, _TRAIN, _SAMPLE, _ELBO = 0, 1, 2, 3



class VAEConfig(NamedTuple):
    """Network, training and data sizes of :func:`simulate_vae` (see :data:`VAE_SIZES`).

    Attributes
    ----------
    channels : (int, int)
        Channels of the two encoder convolutions (the decoder mirrors them).
    latent : int
        Latent dimension.
    epochs, batch : int
        Training epochs per generation and batch size.
    learning_rate, weight_decay : float
        Adam's step size and coupled (L2) weight decay.
    n_train : int or None
        Real training images used (the first ``n_train`` of the training split; ``None``:
        all); every generation's training set has this size.
    n_held_out : int
        Real images held out for the ELBO when the split is made here.
    grid : int
        Samples kept per generation for the picture.
    """

    channels: tuple[int, int] = (64, 128)
    latent: int = 20
    epochs: int = 30
    batch: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 1e-5
    n_train: int | None = None
    n_held_out: int = 2000
    grid: int = 64


#: Presets: (config, generations).
VAE_SIZES = {
    "tiny": (VAEConfig(channels=(16, 32), latent=4, epochs=10, batch=16, n_train=512,
                       n_held_out=256, grid=16), 3),
    "quick": (VAEConfig(channels=(16, 32), latent=8, epochs=4, batch=32, n_train=1000,
                        n_held_out=500), 3),
    "full": (VAEConfig(), 20),
}


class VAEChain(NamedTuple):
    """Result of :func:`simulate_vae` (``G`` generations, float64 arrays).

    Attributes
    ----------
    samples : ndarray, shape (G, grid, 28, 28)
        Decoded means of the first ``grid`` latent draws of each generation.
    latent_means : ndarray, shape (G, min(N, 1000), latent)
        Generation-0 encoder means of the first samples of each generation.
    latent_spread : ndarray, shape (G,)
        ``sqrt(mean_j Var_i mu_ij)`` over all ``N`` samples of each generation.
    latent_spread_real : float
        The same for the held-out real images (the reference of generation 0).
    elbo : ndarray, shape (G,)
        Mean ELBO of the held-out real images under each generation (nats per image).
    train_loss : ndarray, shape (G, epochs)
        Mean training loss per image (negative ELBO of the training data) per epoch.
    n_parameters : int
        Parameters of the VAE.
    config : VAEConfig
        The configuration used.
    """

    samples: np.ndarray
    latent_means: np.ndarray
    latent_spread: np.ndarray
    latent_spread_real: float
    elbo: np.ndarray
    train_loss: np.ndarray
    n_parameters: int
    config: VAEConfig


def vae_config(size: str = "quick", **overrides: object) -> VAEConfig:
    """The preset of ``size`` (``"tiny"``, ``"quick"``, ``"full"``) with ``overrides``."""
    return _check_config(_nn.preset(VAE_SIZES, size)[0]._replace(**overrides))


def _check_config(cfg: VAEConfig) -> VAEConfig:
    if not isinstance(cfg, VAEConfig):
        raise TypeError(f"config must be a VAEConfig, got {cfg!r}")
    ch = tuple(cfg.channels) if np.ndim(cfg.channels) == 1 else None
    if ch is None or len(ch) != 2:
        raise ValueError(f"channels must be two integers, got {cfg.channels!r}")
    ch = tuple(_validate.integer("channels", c, minimum=1) for c in ch)
    lr = _validate.scalar("learning_rate", cfg.learning_rate, check=_validate.positive)
    wd = _validate.scalar("weight_decay", cfg.weight_decay, check=_validate.nonnegative)
    n_train = (None if cfg.n_train is None
               else _validate.integer("n_train", cfg.n_train, minimum=1))
    return VAEConfig(
        channels=ch, latent=_validate.integer("latent", cfg.latent, minimum=1),
        epochs=_validate.integer("epochs", cfg.epochs, minimum=1),
        batch=_validate.integer("batch", cfg.batch, minimum=1), learning_rate=lr,
        weight_decay=wd, n_train=n_train,
        n_held_out=_validate.integer("n_held_out", cfg.n_held_out, minimum=1),
        grid=_validate.integer("grid", cfg.grid, minimum=1))


# --------------------------------------------------------------------------- model


def init_params(key, cfg: VAEConfig) -> dict:
    """Parameters of the VAE (PyTorch's default initialisation), float32."""
    c1, c2 = cfg.channels
    flat = c2 * (SIDE // 4) ** 2
    return _nn.draw(key, {
        "enc": {"conv1": _nn.conv_init(KERNEL, 1, c1, fan_in=KERNEL * KERNEL),
                "conv2": _nn.conv_init(KERNEL, c1, c2, fan_in=c1 * KERNEL * KERNEL),
                "mu": _nn.dense_init(flat, cfg.latent),
                "logvar": _nn.dense_init(flat, cfg.latent)},
        # torch initialises a transposed convolution with fan_in = out_channels * k * k.
        "dec": {"fc": _nn.dense_init(cfg.latent, flat),
                "deconv1": _nn.conv_init(KERNEL, c2, c1, fan_in=c1 * KERNEL * KERNEL),
                "deconv2": _nn.conv_init(KERNEL, c1, 1, fan_in=KERNEL * KERNEL)},
    })


def encode(params: dict, x):
    """Images ``x`` (B, 28, 28, 1) -> latent means and log-variances (B, latent)."""
    import jax

    p = params["enc"]
    h = jax.nn.relu(_nn.conv2d(p["conv1"], x, stride=2, padding=1))
    h = jax.nn.relu(_nn.conv2d(p["conv2"], h, stride=2, padding=1))
    h = h.reshape(h.shape[0], -1)
    return _nn.dense(p["mu"], h), _nn.dense(p["logvar"], h)


def decode_logits(params: dict, z):
    """Latents ``z`` (B, latent) -> Bernoulli logits (B, 28, 28, 1)."""
    import jax

    p = params["dec"]
    c2 = p["deconv1"]["w"].shape[2]
    h = jax.nn.relu(_nn.dense(p["fc"], z)).reshape(z.shape[0], SIDE // 4, SIDE // 4, c2)
    h = jax.nn.relu(_nn.conv_transpose2d(p["deconv1"], h, stride=2, padding=1))
    return _nn.conv_transpose2d(p["deconv2"], h, stride=2, padding=1)


def negative_elbo(params: dict, x, key):
    """Per-image ``BCE(x, decoder(z)) + KL(q(z|x) || N(0, I))`` with one reparameterised
    draw ``z = mu + exp(logvar / 2) eps``; shape (B,)."""
    import jax
    import jax.numpy as jnp

    mu, logvar = encode(params, x)
    z = mu + jnp.exp(0.5 * logvar) * jax.random.normal(key, mu.shape, mu.dtype)
    logits = decode_logits(params, z)
    # BCE with logits l and soft targets x: softplus(l) - x l, summed over the pixels.
    bce = jnp.sum(jax.nn.softplus(logits) - x * logits, axis=(1, 2, 3))
    kl = -0.5 * jnp.sum(1.0 + logvar - mu**2 - jnp.exp(logvar), axis=1)
    return bce + kl


def _batch_loss(params, x, key):
    return negative_elbo(params, x, key).sum()


def _optimizer(cfg: VAEConfig):
    import optax

    return optax.chain(optax.add_decayed_weights(cfg.weight_decay),
                       optax.adam(cfg.learning_rate))


_CACHE: dict = {}


def _programs(cfg: VAEConfig):
    """The compiled functions of one configuration (cached across calls)."""
    import jax

    # only these fields shape the programs (the data sizes enter as array shapes)
    cfg = cfg._replace(epochs=0, n_train=None, n_held_out=0, grid=0)
    if cfg not in _CACHE:
        opt = _optimizer(cfg)
        _CACHE[cfg] = {
            "opt": opt,
            # jitted: op-by-op, the initialisation costs seconds of dispatch on CPU
            "init": jax.jit(lambda k: init_params(k, cfg)),
            "opt_init": jax.jit(opt.init),
            "epoch": _nn.make_epoch(_batch_loss, opt, cfg.batch),
            "decode": jax.jit(lambda p, z: jax.nn.sigmoid(decode_logits(p, z))),
            "encode_mean": jax.jit(lambda p, x: encode(p, x)[0]),
            "elbo": jax.jit(lambda p, x, k: -jax.vmap(
                lambda kk: negative_elbo(p, x, kk))(jax.random.split(k, ELBO_DRAWS)).mean(0)),
        }
    return _CACHE[cfg]


# --------------------------------------------------------------------------- data


def _as_images(name: str, value) -> np.ndarray:
    arr = _validate.as_float_array(name, value)
    if arr.ndim == 2 and arr.shape[1] == SIDE * SIDE:
        arr = arr.reshape(-1, SIDE, SIDE)
    if arr.ndim != 3 or arr.shape[1:] != (SIDE, SIDE) or arr.shape[0] < 1:
        raise ValueError(f"{name} must be images of shape (N, 784) or (N, 28, 28), got shape "
                         f"{arr.shape}")
    _validate.check_finite(name, arr)
    if arr.min() < 0 or arr.max() > 1:
        raise ValueError(f"{name} must be pixel intensities in [0, 1], got values in "
                         f"[{float(arr.min())}, {float(arr.max())}]")
    return arr.astype(np.float32)[..., None]


def _load_mnist(data_dir):
    from kernelcollapse import datasets

    data_dir = datasets.mnist_dir(data_dir, "test")
    # A directory named by the caller is only read; the cache may download (the loader's
    # default), so a typo in data_dir fails at once instead of after a download attempt.
    return datasets.mnist(data_dir, split="test", download=data_dir is None).images


def _real_data(images, held_out, cfg: VAEConfig, data_dir):
    from kernelcollapse import datasets

    if images is None and held_out is not None:
        raise ValueError("held_out given without images: pass both, or neither (MNIST)")
    x = _load_mnist(data_dir) if images is None else images
    x = _as_images("images", x)
    if held_out is None:
        if cfg.n_held_out >= x.shape[0]:
            raise ValueError(f"n_held_out must be smaller than the {x.shape[0]} images, got "
                             f"{cfg.n_held_out}")
        split = datasets.split_pool(x, np.zeros(x.shape[0]), n_pool=x.shape[0] - cfg.n_held_out,
                                    n_test=cfg.n_held_out, key=SPLIT_SEED)
        train, test = split.x_pool, split.x_test
    else:
        train, test = x, _as_images("held_out", held_out)
    if cfg.n_train is not None:
        if cfg.n_train > train.shape[0]:
            raise ValueError(f"n_train must be at most the {train.shape[0]} training images, "
                             f"got {cfg.n_train}")
        train = train[: cfg.n_train]
    return np.ascontiguousarray(train), np.ascontiguousarray(test)


# --------------------------------------------------------------------------- the chain


def simulate_vae(images: ArrayLike | None = None, held_out: ArrayLike | None = None, *,
                 size: str = "quick", config: VAEConfig | None = None,
                 generations: int | None = None, key: Key = 0,
                 data_dir: str | Path | None = None, checkpoint_dir: str | Path | None = None,
                 progress: bool = True) -> VAEChain:
    """Train a VAE, then each next VAE only on the previous one's samples, ``generations``
    times.

    Parameters
    ----------
    images : array_like, shape (N, 784) or (N, 28, 28), optional
        Real training images in [0, 1].  Default: the MNIST test set (``data_dir``, else
        ``$KERNELCOLLAPSE_DATA``, the project's shared copy or the download cache), of
        which ``config.n_held_out`` images are held out (seed 0).
    held_out : array_like, optional
        Real held-out images for the ELBO (default: split off ``images``).
    size : {"tiny", "quick", "full"}
        Preset of :data:`VAE_SIZES` for ``config`` and ``generations`` when not given.
    config : VAEConfig, optional
        Network, training and data sizes (:func:`vae_config` makes one).
    generations : int, optional
        Number of generations ``G >= 1`` (generation 0 trains on the real images).
    key : int or JAX PRNG key
        Generation ``g`` draws its initialisation, batches, reparameterisation noise and
        latents from ``fold_in(key, g)``.
    data_dir : path, optional
        Data directory (when ``images`` is not given): the folder holding ``mnist/``, or the
        folder holding the MNIST IDX files (:mod:`kernelcollapse.datasets`).
    checkpoint_dir : path, optional
        Where each finished generation is saved (``gen_GGG.npz``: parameters and metrics;
        ``gen_GGG_data.npz``: its samples, the next training set; no optimizer state, since
        every generation starts afresh).  A call with the same arguments and directory
        resumes after the last saved generation and returns what the uninterrupted chain
        returns (bitwise on the same machine); more ``generations`` extend a finished chain.
    progress : bool
        Show tqdm progress bars (generations, epochs).

    Returns
    -------
    VAEChain
    """
    preset, G0 = _nn.preset(VAE_SIZES, size)
    cfg = _check_config(preset if config is None else config)
    G = _validate.integer("generations", G0 if generations is None else generations, minimum=1)
    words = key_data(key)
    train, test = _real_data(images, held_out, cfg, data_dir)
    if cfg.batch > train.shape[0]:
        cfg = cfg._replace(batch=train.shape[0])
    if cfg.n_train is None:
        cfg = cfg._replace(n_train=int(train.shape[0]))
    settings = {"model": "vae", **cfg._asdict(), "key": words.tolist()}
    ckpt = _nn.Checkpoints(checkpoint_dir, _nn.fingerprint(settings, train, test))
    with _nn.float32():
        return _run(train, test, cfg, G, words, ckpt, progress)


def _run(train, test, cfg, G, words, ckpt, progress) -> VAEChain:
    import jax
    import jax.numpy as jnp

    prog = _programs(cfg)
    N = train.shape[0]
    template = prog["init"](jax.random.key(0))
    done = ckpt.completed(G)
    records, params0, data = [], None, train
    for g in range(done):
        arrays = ckpt.load(g)
        records.append({k[len("metrics/"):]: v for k, v in arrays.items()
                        if k.startswith("metrics/")})
        if g == 0:
            params0 = _nn.tree_from_arrays("params", arrays, template)
    if 0 < done < G:  # going on: the data the last saved generation made
        data = ckpt.load_data(done - 1)["data"]
    test_j = jnp.asarray(test)
    with progress_bar(G, enabled=progress, desc="VAE generations") as bar:
        bar.update(done)
        for g in range(done, G):
            params = prog["init"](_nn.generation_key(words, g, _INIT))
            opt_state = prog["opt_init"](params)
            k_train = _nn.generation_key(words, g, _TRAIN)
            data_j = jnp.asarray(data)
            losses = []
            with progress_bar(cfg.epochs, enabled=progress, desc=f"generation {g}") as ebar:
                for e in range(cfg.epochs):
                    params, opt_state, loss = prog["epoch"](params, opt_state, data_j,
                                                            jax.random.fold_in(k_train, e))
                    losses.append(float(np.mean(np.asarray(loss, np.float64))))
                    ebar.update(1)
            if g == 0:
                params0 = params
            # The next training set: decoder means of N(0, I) latents, as many as the real set.
            z = jax.random.normal(_nn.generation_key(words, g, _SAMPLE), (N, cfg.latent))
            samples = _nn.batched(partial(prog["decode"], params), (np.asarray(z),),
                                  chunk=min(CHUNK, N))
            mu0 = _nn.batched(partial(prog["encode_mean"], params0), (samples,),
                              chunk=min(CHUNK, N)).astype(np.float64)
            elbo = prog["elbo"](params, test_j, _nn.generation_key(words, g, _ELBO))
            rec = {
                "samples": samples[: cfg.grid, :, :, 0].astype(np.float64),
                "latent_means": mu0[:PROBE],
                "latent_spread": np.float64(np.sqrt(mu0.var(axis=0).mean())),
                "elbo": np.float64(np.mean(np.asarray(elbo, np.float64))),
                "train_loss": np.asarray(losses, np.float64) / cfg.batch,
            }
            if g == 0:
                real_mu = _nn.batched(partial(prog["encode_mean"], params0), (test,),
                                      chunk=min(CHUNK, len(test))).astype(np.float64)
                rec["latent_spread_real"] = np.float64(np.sqrt(real_mu.var(axis=0).mean()))
            ckpt.save(g, {**_nn.tree_arrays("params", params),
                          **{f"metrics/{k}": v for k, v in rec.items()}},
                      {"data": samples})
            records.append(rec)
            data = samples
            bar.update(1)
    return VAEChain(
        samples=np.stack([r["samples"] for r in records]),
        latent_means=np.stack([r["latent_means"] for r in records]),
        latent_spread=np.array([float(r["latent_spread"]) for r in records]),
        latent_spread_real=float(records[0]["latent_spread_real"]),
        elbo=np.array([float(r["elbo"]) for r in records]),
        train_loss=np.stack([r["train_loss"] for r in records]),
        n_parameters=_nn.count_parameters(template),
        config=cfg,
    )
