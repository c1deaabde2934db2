"""A GPT-style causal transformer in plain JAX: parameters, training loss, scoring, cached
decoding for beam search, and the compiled programs and optimizers of
:mod:`kernelcollapse.zoo.lm` (which re-exports :func:`perplexity`,
:func:`sequence_perplexity` and :func:`continue_blocks`).

Pre-layer-norm blocks (``x + attn(LN(x))``, ``x + MLP(LN(x))``, GELU), learned positions,
a final layer norm and the output projection tied to the token embedding (as GPT-2 and
OPT).  Initialisation as GPT-2: normal(0, 0.02), the projections into the residual stream
scaled by ``1/sqrt(2 layers)``.
"""

from __future__ import annotations

import numpy as np

from kernelcollapse.zoo import _nn
from kernelcollapse.zoo._beam import beam_search


def init_params(key, *, vocab: int, context: int, d_model: int, layers: int,
                d_ff: int) -> dict:
    def ln():
        return {"scale": _nn.Init((d_model,), "ones"), "bias": _nn.Init((d_model,), "ones", 0.0)}

    def lin(n_in, n_out, sd=0.02):
        return {"w": _nn.Init((n_in, n_out), "normal", sd), "b": _nn.Init((n_out,), "ones", 0.0)}

    resid = 0.02 / np.sqrt(2 * layers)
    return _nn.draw(key, {
        "tok": _nn.Init((vocab, d_model), "normal", 0.02),
        "pos": _nn.Init((context, d_model), "normal", 0.02),
        "blocks": [{"ln1": ln(), "qkv": lin(d_model, 3 * d_model),
                    "proj": lin(d_model, d_model, resid), "ln2": ln(),
                    "fc": lin(d_model, d_ff), "out": lin(d_ff, d_model, resid)}
                   for _ in range(layers)],
        "ln_f": ln(),
    })


def _mlp(p, x):
    import jax

    return _nn.dense(p["out"], jax.nn.gelu(_nn.dense(p["fc"], x)))


def _split_heads(t, heads):
    return t.reshape(t.shape[:-1] + (heads, t.shape[-1] // heads))


def forward(params: dict, tokens, *, heads: int, return_kv: bool = False):
    """Logits of the next token at every position of ``tokens`` (B, T) -> (B, T, V); with
    ``return_kv`` also the keys and values of each layer, ``[(k, v)]`` of shape
    (B, T, heads, d_head) (the cache of a prompt)."""
    import jax
    import jax.numpy as jnp

    T = tokens.shape[1]
    x = params["tok"][tokens] + params["pos"][:T]
    causal = jnp.tril(jnp.ones((T, T), jnp.bool_))
    kvs = []
    for p in params["blocks"]:
        q, k, v = jnp.split(_nn.dense(p["qkv"], _nn.layer_norm(p["ln1"], x)), 3, axis=-1)
        q, k, v = (_split_heads(a, heads) for a in (q, k, v))
        att = jnp.einsum("bthd,bshd->bhts", q, k) / np.sqrt(q.shape[-1])
        att = jax.nn.softmax(jnp.where(causal, att, -jnp.inf), axis=-1)
        y = jnp.einsum("bhts,bshd->bthd", att, v).reshape(x.shape)
        x = x + _nn.dense(p["proj"], y)
        x = x + _mlp(p, _nn.layer_norm(p["ln2"], x))
        kvs.append((k, v))
    logits = _nn.layer_norm(params["ln_f"], x) @ params["tok"].T
    return (logits, kvs) if return_kv else logits


def token_nll(params: dict, tokens, *, heads: int):
    """Negative log-likelihood of tokens ``1..T-1`` of each row given the tokens before,
    shape (B, T - 1)."""
    import jax

    logp = jax.nn.log_softmax(forward(params, tokens[:, :-1], heads=heads), axis=-1)
    return -jax.numpy.take_along_axis(logp, tokens[:, 1:, None], axis=-1)[..., 0]


def decode_step(params: dict, prompt_kv, cache, tokens, t, *, heads: int, prompt_len: int):
    """Log-probabilities of the next token for beams of (B, W) sequences.

    ``prompt_kv``: each layer's prompt keys and values (B, P, H, d), shared by a prompt's
    beams; ``cache``: each layer's keys and values of the generated tokens (B, W, L, H, d),
    of which positions ``< t - 1`` are filled; ``tokens`` (B, W): the tokens generated at
    step ``t - 1``, fed at position ``prompt_len + t - 1``.  Returns ``(logprobs (B, W, V),
    cache)`` with position ``t - 1`` of the cache filled.
    """
    import jax
    import jax.numpy as jnp
    from jax import lax

    i = t - 1
    L = cache[0][0].shape[2]
    x = params["tok"][tokens] + params["pos"][prompt_len + i]              # (B, W, D)
    valid = jnp.arange(L) <= i
    new_cache = []
    for p, (pk, pv), (ck, cv) in zip(params["blocks"], prompt_kv, cache):
        q, k, v = jnp.split(_nn.dense(p["qkv"], _nn.layer_norm(p["ln1"], x)), 3, axis=-1)
        q, k, v = (_split_heads(a, heads) for a in (q, k, v))               # (B, W, H, d)
        ck = lax.dynamic_update_index_in_dim(ck, k, i, axis=2)
        cv = lax.dynamic_update_index_in_dim(cv, v, i, axis=2)
        scale = 1.0 / np.sqrt(q.shape[-1])
        s_p = jnp.einsum("bwhd,bphd->bwhp", q, pk) * scale
        s_g = jnp.einsum("bwhd,bwlhd->bwhl", q, ck) * scale
        s_g = jnp.where(valid, s_g, -jnp.inf)
        att = jax.nn.softmax(jnp.concatenate([s_p, s_g], axis=-1), axis=-1)
        P = pk.shape[1]
        y = (jnp.einsum("bwhp,bphd->bwhd", att[..., :P], pv)
             + jnp.einsum("bwhl,bwlhd->bwhd", att[..., P:], cv)).reshape(x.shape)
        x = x + _nn.dense(p["proj"], y)
        x = x + _mlp(p, _nn.layer_norm(p["ln2"], x))
        new_cache.append((ck, cv))
    logits = _nn.layer_norm(params["ln_f"], x) @ params["tok"].T
    return jax.nn.log_softmax(logits, axis=-1), new_cache


# --------------------------------------------------------------------------- compiled programs
# The functions below take the LMConfig of kernelcollapse.zoo.lm as ``cfg``.

_CACHE: dict = {}


def _programs(cfg) -> dict:
    """Compiled functions of one configuration, cached: model, scoring, generation."""
    import jax
    import jax.numpy as jnp

    # only these fields shape the programs (sizes, rates and data caps do not)
    key = ("programs", cfg.heads, cfg.block, cfg.beam_width)
    if key in _CACHE:
        return _CACHE[key]
    H, L = cfg.heads, cfg.block

    def loss(params, tokens, key):
        return token_nll(params, tokens, heads=H).mean()

    def prefill(params, prompts):
        logits, kvs = forward(params, prompts, heads=H, return_kv=True)
        first = _ban_unk(jax.nn.log_softmax(logits[:, -1], axis=-1))
        seen = jnp.zeros(first.shape, jnp.bool_).at[
            jnp.arange(prompts.shape[0])[:, None], prompts].set(True)
        B, W = prompts.shape[0], cfg.beam_width
        cache = [(jnp.zeros((B, W, L) + k.shape[2:], k.dtype),) * 2 for k, _ in kvs]
        return first, seen, kvs, cache

    def step(context, cache, tokens, t):
        params, prompt_kv = context
        logprobs, cache = decode_step(params, prompt_kv, cache, tokens, t,
                                                   heads=H, prompt_len=L)
        return _ban_unk(logprobs), cache

    prog = {"loss": loss, "step": step, "prefill": jax.jit(prefill),
            "nll": jax.jit(lambda p, x: token_nll(p, x, heads=H).mean(axis=1))}
    _CACHE[key] = prog
    return prog


def _ban_unk(logprobs):
    """Generation never writes ``<unk>`` (as Hugging Face's ``bad_words_ids``: score -inf).
    A subword tokeniser such as OPT's has no unknown token; with a capped word vocabulary
    ``<unk>`` is the most frequent word, and a small model's beams fill up with it."""
    import jax.numpy as jnp

    from kernelcollapse.datasets import UNK_ID

    return logprobs.at[..., UNK_ID].set(-jnp.inf)


def _epoch_fn(cfg, optimizer, tag) -> object:
    key = (cfg, tag)
    if key not in _CACHE:
        _CACHE[key] = _nn.make_epoch(_programs(cfg)["loss"], optimizer, cfg.batch)
    return _CACHE[key]


def _finetune_optimizer(cfg):
    """AdamW whose learning rate lives in the optimizer state (``inject_hyperparams``), set
    before each epoch by :func:`_finetune_lr`: one compiled step serves every number of
    epochs and blocks, and the rate is checkpointed with the state."""
    import optax

    return optax.inject_hyperparams(optax.adamw)(learning_rate=cfg.finetune_lr,
                                                 weight_decay=cfg.weight_decay)


def _finetune_lr(cfg, epoch: int, epochs: int) -> float:
    """torch's ``CosineAnnealingLR(T_max=epochs, eta_min=lr / 20)`` in epoch ``epoch``."""
    lr, low = cfg.finetune_lr, cfg.finetune_lr / 20
    return low + (lr - low) * 0.5 * (1 + np.cos(np.pi * epoch / epochs))


def _finetune(cfg, state, epoch: int, epochs: int):
    """``state`` with the learning rate of ``epoch``."""
    import jax.numpy as jnp

    hyper = dict(state.hyperparams)
    hyper["learning_rate"] = jnp.asarray(_finetune_lr(cfg, epoch, epochs), jnp.float32)
    return state._replace(hyperparams=hyper)


def _pretrain_optimizer(cfg, total_steps: int):
    import optax

    warmup = max(1, min(200, total_steps // 10))
    sched = optax.warmup_cosine_decay_schedule(0.0, cfg.pretrain_lr, warmup, max(total_steps, 2),
                                               end_value=cfg.pretrain_lr / 10)
    return optax.adamw(sched, weight_decay=cfg.weight_decay)


def sequence_perplexity(params, blocks: np.ndarray, cfg) -> np.ndarray:
    """Per-block perplexity ``exp(mean NLL of tokens 2..T)``, float64, shape (N,)."""
    nll = _nn.batched(lambda x: _programs(cfg)["nll"](params, x), (blocks,), chunk=256)
    return np.exp(nll.astype(np.float64))


def perplexity(params, blocks: np.ndarray, cfg) -> float:
    """Perplexity of a text cut into equal blocks: ``exp`` of the mean token NLL."""
    nll = _nn.batched(lambda x: _programs(cfg)["nll"](params, x), (blocks,), chunk=256)
    return float(np.exp(np.mean(nll.astype(np.float64))))


def continue_blocks(params, prompts: np.ndarray, cfg) -> np.ndarray:
    """``block`` new tokens after each prompt by beam search (width ``beam_width``,
    ``repetition_penalty``); int32 array of the prompts' shape."""
    prog = _programs(cfg)

    def run(chunk):
        first, seen, kvs, cache = prog["prefill"](params, chunk)
        tokens, _ = beam_search(prog["step"], (params, kvs), cache, first, seen,
                                steps=cfg.block, width=cfg.beam_width,
                                penalty=cfg.repetition_penalty)
        return tokens

    return _nn.batched(run, (prompts,), chunk=min(cfg.chunk, prompts.shape[0])).astype(np.int32)


def _init(cfg, key, vocab: int):
    return init_params(key, vocab=vocab, context=2 * cfg.block,
                                    d_model=cfg.d_model, layers=cfg.layers, d_ff=cfg.d_ff)
