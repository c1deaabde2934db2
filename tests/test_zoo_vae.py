"""VAE on MNIST retrained on its own samples: training, shrinking latent spread over seeds,
reproducibility and resuming from checkpoints, bad input.

Everything runs at the "tiny" preset (a 16/32-channel VAE with 4 latents, 512 images, 4
epochs, 3 generations): a few seconds per chain.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kernelcollapse import datasets
from kernelcollapse.zoo import _nn, vae

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
needs_mnist = pytest.mark.skipif(
    not all((SHARED_MNIST / f).is_file() for f in datasets.FILES["test"]),
    reason=f"shared MNIST test files not found in {SHARED_MNIST}",
)
SEEDS = 3
CFG = vae.vae_config("tiny")


@pytest.fixture(scope="module")
def chains():
    return [vae.simulate_vae(size="tiny", key=k, data_dir=SHARED_MNIST, progress=False)
            for k in range(SEEDS)]


def test_architecture_has_the_reference_parameter_count():
    # conv 1->64 (k4): 1,088; conv 64->128: 131,200; two heads 6272->20: 2 x 125,460;
    # fc 20->6272: 131,712; deconv 128->64: 131,136; deconv 64->1: 1,025.  Total 647,081.
    import jax

    cfg = vae.vae_config("full")
    with _nn.float32():
        params = jax.eval_shape(lambda: vae.init_params(jax.random.key(0), cfg))
        assert _nn.count_parameters(params) == 647_081
        x = jax.ShapeDtypeStruct((2, 28, 28, 1), np.float32)
        mu, logvar = jax.eval_shape(vae.encode, params, x)
        assert mu.shape == logvar.shape == (2, 20)
        assert jax.eval_shape(vae.decode_logits, params, mu).shape == (2, 28, 28, 1)


def test_transposed_convolution_matches_its_definition():
    # torch.nn.ConvTranspose2d(k=4, s=2, p=1): out[2i + a - 1, 2j + b - 1] += x[i, j] w[a, b].
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 4, 2)).astype(np.float32)
    w = rng.normal(size=(4, 4, 2, 3)).astype(np.float32)
    b = rng.normal(size=3).astype(np.float32)
    full = np.zeros((2, 2 * 3 + 2, 2 * 4 + 2, 3))
    for i in range(3):
        for j in range(4):
            for a in range(4):
                for c in range(4):
                    full[:, 2 * i + a, 2 * j + c] += x[:, i, j] @ w[a, c]
    expected = full[:, 1:-1, 1:-1] + b
    with _nn.float32():
        got = np.asarray(_nn.conv_transpose2d({"w": w, "b": b}, x))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_training_lowers_the_loss_on_a_fixed_batch():
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    # 512 random binary images (the tiny training-set size: the step compiled for the
    # chains is reused); their mean is learnable
    x = (rng.random((512, 28, 28, 1)) < 0.2).astype(np.float32)
    with _nn.float32():
        prog = vae._programs(CFG)
        params = vae.init_params(jax.random.key(0), CFG)
        state = prog["opt"].init(params)
        data = jnp.asarray(x)
        held = data[: CFG.n_held_out]  # the shape the chains evaluate: compiled once
        before = -float(prog["elbo"](params, held, jax.random.key(1)).mean())
        for e in range(2):
            params, state, _ = prog["epoch"](params, state, data, jax.random.key(2 + e))
        after = -float(prog["elbo"](params, held, jax.random.key(1)).mean())
    # 64 Adam steps from a random initialisation (BCE ~ 784 log 2 = 543 nats per image)
    # reach the entropy of the pixels, 784 H(0.2) = 392 nats, plus a little
    assert after < 0.8 * before, (before, after)


@needs_mnist
def test_results_shapes_and_ranges(chains):
    c = chains[0]
    G, cfg = 3, CFG
    assert c.samples.shape == (G, cfg.grid, 28, 28) and c.samples.dtype == np.float64
    assert np.all((c.samples >= 0) & (c.samples <= 1))
    assert c.latent_means.shape == (G, cfg.n_train, cfg.latent)
    assert c.latent_spread.shape == c.elbo.shape == (G,)
    assert c.train_loss.shape == (G, cfg.epochs)
    assert np.all(c.elbo < 0) and np.all(np.isfinite(c.latent_spread))
    # the training loss of generation 0 falls over its epochs
    assert c.train_loss[0, -1] < c.train_loss[0, 0]


@needs_mnist
def test_latent_spread_and_elbo_fall_over_generations(chains):
    # Paired over seeds: generation 2 minus generation 0 of the same chain (same generation-0
    # encoder).  Measured at this size over 6 seeds: spread 0.78 -> 0.55 -> 0.50, difference
    # -0.29 +- 0.03 (mean +- stderr), every seed shrinking; ELBO -177 -> -208 -> -234 nats.
    # One-sided at 3 stderr over 3 seeds.
    d_spread = np.array([c.latent_spread[-1] - c.latent_spread[0] for c in chains])
    d_elbo = np.array([c.elbo[-1] - c.elbo[0] for c in chains])
    for d in (d_spread, d_elbo):
        se = d.std(ddof=1) / np.sqrt(d.size)
        assert d.mean() + 3 * se < 0, (d.mean(), se)


@needs_mnist
def test_chain_is_reproducible_and_resumes_identically(chains, tmp_path):
    import jax

    # a typed JAX key of seed 0 is the same key as the integer 0
    whole = vae.simulate_vae(size="tiny", key=jax.random.key(0), data_dir=SHARED_MNIST,
                             checkpoint_dir=tmp_path / "whole", progress=False)
    fields = ("samples", "latent_means", "latent_spread", "latent_spread_real", "elbo",
              "train_loss")
    for name in fields:  # same key, with and without checkpoints
        np.testing.assert_array_equal(getattr(whole, name), getattr(chains[0], name), name)
    part = tmp_path / "part"
    vae.simulate_vae(size="tiny", generations=2, key=0, data_dir=SHARED_MNIST,
                     checkpoint_dir=part, progress=False)        # "interrupted" after 2
    first = (part / "gen_000.npz").stat().st_mtime_ns
    assert not (part / "gen_000_data.npz").exists()           # only the latest data is kept
    resumed = vae.simulate_vae(size="tiny", generations=3, key=0, data_dir=SHARED_MNIST,
                               checkpoint_dir=part, progress=False)
    assert (part / "gen_000.npz").stat().st_mtime_ns == first  # not redone
    for name in fields:
        np.testing.assert_array_equal(getattr(resumed, name), getattr(whole, name), name)
    with pytest.raises(ValueError, match="different settings"):
        vae.simulate_vae(size="tiny", generations=3, key=1, data_dir=SHARED_MNIST,
                         checkpoint_dir=part, progress=False)


def test_images_argument_is_used_without_mnist(tmp_path):
    rng = np.random.default_rng(1)
    images = (rng.random((CFG.n_train + CFG.n_held_out, 784)) < 0.3).astype(np.float64)
    cfg = CFG._replace(grid=4, epochs=1)
    c = vae.simulate_vae(images, config=cfg, generations=1, key=3, progress=False)
    assert c.samples.shape == (1, 4, 28, 28) and np.isfinite(c.elbo).all()


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        (dict(config=CFG._replace(latent=0)), ValueError, "latent must be"),
        (dict(config=CFG._replace(epochs=-1)), ValueError, "epochs must be"),
        (dict(config=CFG._replace(epochs=2.5)), ValueError, "epochs must be"),
        (dict(config=CFG._replace(batch=0)), ValueError, "batch must be"),
        (dict(config=CFG._replace(channels=(8, 0))), ValueError, "channels must be"),
        (dict(config=CFG._replace(learning_rate=0.0)), ValueError, "learning_rate must be"),
        (dict(generations=0), ValueError, "generations must be"),
        (dict(size="huge"), ValueError, "size must be one of"),
        (dict(key=-1), ValueError, "key must be"),
    ],
)
def test_bad_input(kwargs, err, match):
    images = np.zeros((40, 28, 28))
    with pytest.raises(err, match=match):
        vae.simulate_vae(images, **{"size": "tiny", "progress": False, **kwargs})


def test_bad_images_and_missing_data(tmp_path):
    with pytest.raises(ValueError, match=r"images must be pixel intensities in \[0, 1\]"):
        vae.simulate_vae(np.full((40, 784), 2.0), size="tiny", progress=False)
    with pytest.raises(ValueError, match="images must be images of shape"):
        vae.simulate_vae(np.zeros((40, 27, 28)), size="tiny", progress=False)
    missing = tmp_path / "no_mnist_here"
    with pytest.raises(FileNotFoundError, match="no_mnist_here") as info:
        vae.simulate_vae(size="tiny", data_dir=missing, progress=False)
    assert "t10k-images-idx3-ubyte.gz" in str(info.value)
    with pytest.raises(ValueError, match="vae_config|size must be"):
        vae.vae_config("huge")


@needs_mnist
def test_cli_prints_one_row_per_generation(capsys):
    import json

    from kernelcollapse.cli import main

    assert main(["zoo", "vae", "--size", "tiny", "--generations", "1", "--data-dir",
                 str(SHARED_MNIST), "--json", "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["size"] == "tiny" and len(out["rows"]) == 1
    assert out["rows"][0]["elbo_held_out"] < 0
    assert main(["zoo", "vae", "--size", "tiny", "--latent", "0", "--no-progress"]) == 2
    assert "latent must be" in capsys.readouterr().err
