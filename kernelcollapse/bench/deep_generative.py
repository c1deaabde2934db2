"""Benchmark: time per training step and per generation of the deep generative zoo models
(:mod:`kernelcollapse.zoo.vae`, :mod:`kernelcollapse.zoo.lm`) on the current JAX device.

``run(quick=True)`` times the ``"quick"`` presets (``quick=False``: the ``"full"`` ones, meant
for a GPU): for each model the seconds of one training step (one optimizer update on a
batch, compiled, averaged over an epoch), of one whole generation once compiled (train,
generate the next data set, evaluate), and of the first generation (compilation included);
for the language model also the pretraining and the beam search over the training blocks.
Real data are used when found (MNIST, the WikiText-2 sample); otherwise random data of the
same shapes, which time the same (the cost does not depend on the values) and are flagged in
the results.  ``markdown(results)`` renders the numbers as a table.

Run: ``python -m kernelcollapse.bench.deep_generative [--full] [--out FILE.json]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from kernelcollapse.bench.suite import machine_info

__all__ = ["run", "markdown", "save"]


def _block(tree) -> None:
    import jax

    jax.block_until_ready(tree)


def _bench_vae(size: str, data_dir) -> dict:
    import jax
    import jax.numpy as jnp

    from kernelcollapse.zoo import _nn, vae

    cfg, _ = vae.VAE_SIZES[size]
    synthetic = False
    images = _mnist_without_download(data_dir)
    if images is None:
        synthetic = True
        images = (np.random.default_rng(0).random((10_000, 784)) < 0.15).astype(np.float64)
    need = (cfg.n_train or 8000) + cfg.n_held_out
    if images.shape[0] < need:  # a small data set: repeat it to the preset's size
        images = np.resize(images, (need, images.shape[1]))
    held, train = images[: cfg.n_held_out], images[cfg.n_held_out: need]
    cfg = cfg._replace(n_train=train.shape[0])
    t0 = time.perf_counter()
    vae.simulate_vae(train, held, config=cfg, generations=1, key=0, progress=False)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    vae.simulate_vae(train, held, config=cfg, generations=1, key=1, progress=False)
    warm = time.perf_counter() - t0
    with _nn.float32():
        prog = vae._programs(cfg)
        params = prog["init"](jax.random.key(0))
        state = prog["opt_init"](params)
        x = jnp.asarray(train.reshape(-1, 28, 28, 1).astype(np.float32))
        _block(prog["epoch"](params, state, x, jax.random.key(1)))
        t0 = time.perf_counter()
        _block(prog["epoch"](params, state, x, jax.random.key(2)))
        epoch = time.perf_counter() - t0
    steps = train.shape[0] // cfg.batch
    return {"config": {k: (list(v) if isinstance(v, tuple) else v)
                       for k, v in cfg._asdict().items()},
            "synthetic_data": synthetic, "steps_per_epoch": steps,
            "s_per_step": epoch / steps, "s_per_epoch": epoch,
            "s_per_generation": warm, "s_first_generation_with_compile": cold}


def _mnist_without_download(data_dir):
    from kernelcollapse import datasets

    try:
        return datasets.mnist(datasets.mnist_dir(data_dir, "test"), split="test",
                              download=False).images
    except FileNotFoundError:
        return None


def _bench_lm(size: str, data_dir) -> dict:
    import jax
    import jax.numpy as jnp

    from kernelcollapse.zoo import _nn, _transformer, lm

    cfg, _, _ = lm.LM_SIZES[size]
    synthetic = False
    t0 = time.perf_counter()
    try:
        base = lm.pretrain_lm(config=cfg, key=0, data_dir=data_dir, progress=False)
    except FileNotFoundError:
        synthetic = True
        base = _synthetic_base(cfg)
    pretrain = time.perf_counter() - t0
    t0 = time.perf_counter()
    lm.simulate_lm(base, setting="A", generations=1, runs=1, key=0, progress=False)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    lm.simulate_lm(base, setting="A", generations=1, runs=1, key=1, progress=False)
    warm = time.perf_counter() - t0
    train = base.train_blocks
    cfg = base.config
    with _nn.float32():
        batch = min(cfg.batch, train.shape[0])
        opt = _transformer._finetune_optimizer(cfg)
        epoch = _transformer._epoch_fn(cfg._replace(batch=batch), opt, "finetune")
        state = opt.init(base.params)
        x = jnp.asarray(train)
        _block(epoch(base.params, state, x, jax.random.key(1)))
        t0 = time.perf_counter()
        _block(epoch(base.params, state, x, jax.random.key(2)))
        t_epoch = time.perf_counter() - t0
        t0 = time.perf_counter()
        lm.continue_blocks(base.params, train, cfg)
        beam = time.perf_counter() - t0
    steps = train.shape[0] // batch
    return {"config": cfg._asdict(), "synthetic_data": synthetic,
            "parameters": base.n_parameters, "train_blocks": int(train.shape[0]),
            "steps_per_epoch": steps, "s_per_step": t_epoch / steps,
            "s_pretraining_with_compile": pretrain, "s_beam_search_all_blocks": beam,
            "s_per_generation_setting_A": warm, "s_first_generation_with_compile": cold}


def _synthetic_base(cfg):
    """The base model pretrained on random tokens of the real splits' sizes (no WikiText-2
    here): the same shapes, so the same time."""
    from kernelcollapse import datasets as wikitext
    from kernelcollapse.zoo import _nn, lm

    rng = np.random.default_rng(0)
    n_pre = (cfg.n_pretrain_tokens or 312_000) // (2 * cfg.block)
    n_train = cfg.n_train_blocks or 1672
    n_eval = (cfg.n_eval_tokens or 48_000) // cfg.block
    vocab = wikitext.Vocabulary([wikitext.EOS, wikitext.UNK]
                                + [f"w{i}" for i in range(cfg.vocab_size - 2)])

    def blocks(n, length=cfg.block):
        return rng.integers(2, cfg.vocab_size, size=(n, length)).astype(np.int32)

    data = {"pretrain": blocks(n_pre, 2 * cfg.block), "train": blocks(n_train),
            "validation": blocks(n_eval), "test": blocks(n_eval)}
    with _nn.float32():
        return lm._pretrain(cfg, vocab, data, np.zeros(2, np.uint32), "synthetic", None, False)


def run(quick: bool = True, *, mnist_dir=None, wikitext_dir=None) -> dict:
    """Time both models at the ``"quick"`` presets (``quick=False``: ``"full"``).

    Returns
    -------
    dict
        ``machine`` (device name, platform, CPU, cores, versions), ``size``, and per model
        (``vae``, ``lm``) the seconds per step and per generation (see the module
        docstring), the configuration and whether the data were synthetic.
    """
    import kernelcollapse  # noqa: F401

    size = "quick" if quick else "full"
    return {"benchmark": "deep generative zoo models (VAE on MNIST, transformer LM)",
            "size": size, "machine": machine_info(),
            "vae": _bench_vae(size, mnist_dir), "lm": _bench_lm(size, wikitext_dir),
            "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def markdown(results: dict) -> str:
    """The results of :func:`run` as a Markdown section."""
    m = results["machine"]
    v, lm_ = results["vae"], results["lm"]
    note = {True: " (random data of the real shapes)", False: ""}
    lines = [
        f"### Deep generative zoo models, size `{results['size']}`",
        "",
        f"Device: {m['device']} ({m['platform']}), CPU {m['cpu']} ({m['usable_cores']} "
        f"usable cores), JAX {m['jax']}; {results.get('date_utc', '')}.",
        "",
        "| model | step (s) | steps/epoch | generation (s) | first generation, compiling (s) |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| VAE{note[v['synthetic_data']]} | {v['s_per_step']:.4g} | {v['steps_per_epoch']} | "
        f"{v['s_per_generation']:.4g} | {v['s_first_generation_with_compile']:.4g} |",
        f"| LM, setting A{note[lm_['synthetic_data']]} | {lm_['s_per_step']:.4g} | "
        f"{lm_['steps_per_epoch']} | {lm_['s_per_generation_setting_A']:.4g} | "
        f"{lm_['s_first_generation_with_compile']:.4g} |",
        "",
        f"LM: {lm_['parameters']:,} parameters; pretraining (compile included) "
        f"{lm_['s_pretraining_with_compile']:.4g} s; beam search over the "
        f"{lm_['train_blocks']} training blocks {lm_['s_beam_search_all_blocks']:.4g} s.",
        "",
    ]
    return "\n".join(lines)


def save(results: dict, out_dir) -> Path:
    """Write ``deep_generative[_gpu].json`` and ``.md`` into ``out_dir``; the JSON's path."""
    name = "deep_generative" + ("_gpu" if results["machine"]["platform"] == "gpu" else "")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out_dir / f"{name}.md").write_text(markdown(results))
    return out_dir / f"{name}.json"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the full presets (a GPU)")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON there")
    parser.add_argument("--mnist-dir", default=None)
    parser.add_argument("--wikitext-dir", default=None)
    args = parser.parse_args(argv)
    results = run(quick=not args.full, mnist_dir=args.mnist_dir, wikitext_dir=args.wikitext_dir)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
