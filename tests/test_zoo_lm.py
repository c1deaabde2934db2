"""Transformer language model fine-tuned on its own generations: the WikiText-2 loader, beam
search against exhaustive search, the cached decoder against the full forward pass,
perplexity of a uniform model, training, reproducibility and resuming, bad input.

The chain runs at the "tiny" preset (one layer of width 16, blocks of 8 tokens, 32 training
blocks): seconds.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest

from kernelcollapse.datasets import ChecksumError
from kernelcollapse.datasets import _wikitext as wikitext
from kernelcollapse.zoo import _nn, _transformer, lm

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "wikitext2"
needs_wikitext = pytest.mark.skipif(not (SHARED / wikitext.FILE).is_file(),
                                    reason=f"WikiText-2 sample not found in {SHARED}")
CFG = lm.lm_config("tiny")


@pytest.fixture(scope="module")
def base():
    return lm.pretrain_lm(size="tiny", key=0, data_dir=SHARED, progress=False)


# --------------------------------------------------------------------------- data


@needs_wikitext
def test_corpus_articles_split_and_vocabulary():
    corpus = wikitext.wikitext2(SHARED)
    # the data README: 155 articles, 512,615 whitespace-separated tokens
    assert len(corpus.articles) == len(corpus.titles) == 155
    assert corpus.titles[0] == "Valkyria Chronicles III"
    words = sum(len(line.split()) for a in corpus.articles for line in a)
    assert words == 512_615
    parts = wikitext.split_articles(corpus, lm.SPLIT)
    sizes = np.array([len(p) for p in parts], dtype=float)
    # whole articles go to each part: within one article's length of the target fractions
    longest = max(len(wikitext.tokenize(a)) for a in corpus.articles)
    assert np.all(np.abs(sizes - np.array(lm.SPLIT) * sizes.sum()) <= longest)
    vocab = wikitext.Vocabulary.build(parts[0], 100)
    assert len(vocab) == 100 and vocab.words[:2] == [wikitext.EOS, wikitext.UNK]
    ids = vocab.encode(["the", "zzz-not-a-word", wikitext.EOS])
    assert ids[1] == 1 and ids[2] == 0 and vocab.decode(ids[:1]) == "the"


def test_missing_directory_and_bad_checksum(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as info:
        wikitext.wikitext2(missing)
    msg = str(info.value)
    assert str(missing) in msg and wikitext.FILE in msg and wikitext.SHA256[wikitext.FILE] in msg
    assert wikitext.ENV_VAR in msg
    with pytest.raises(FileNotFoundError, match="nowhere"):
        lm.pretrain_lm(size="tiny", data_dir=missing, progress=False)
    (tmp_path / wikitext.FILE).write_text(" = A = \n words here \n")
    with pytest.raises(ChecksumError, match="checksum mismatch"):
        wikitext.wikitext2(tmp_path)


@needs_wikitext
def test_environment_variable_names_the_directory(tmp_path, monkeypatch):
    shutil.copy(SHARED / wikitext.FILE, tmp_path / wikitext.FILE)
    monkeypatch.setenv(wikitext.ENV_VAR, str(tmp_path))
    assert wikitext.default_dir() == tmp_path
    assert len(wikitext.wikitext2().articles) == 155


# --------------------------------------------------------------------------- decoding


def _markov_step(table):
    import jax.numpy as jnp

    table = jnp.asarray(table)

    def step(context, state, tokens, t):
        return table[tokens], state

    return step


def _score(seq, first, table, seen, rho):
    """Score of a continuation under the penalised Markov model, in plain numpy."""
    seen, total, prev = set(seen), 0.0, None
    for i, tok in enumerate(seq):
        lp = first[tok] if i == 0 else table[prev, tok]
        total += lp * rho if tok in seen else lp
        seen.add(tok)
        prev = tok
    return total


def test_beam_search_beats_greedy_on_a_known_table():
    # p(first) = (0.6, 0.4, 0); from token 0 every next token has 1/3, from token 1 the
    # next is 2 with 0.9.  Greedy takes 0 then 0 (0.6/3 = 0.2); the best pair is 1, 2
    # (0.4 * 0.9 = 0.36), which two beams find.
    import jax.numpy as jnp

    with _nn.float32():
        first = jnp.log(jnp.array([[0.6, 0.4, 1e-9]]))
        step = _markov_step(np.log([[1 / 3, 1 / 3, 1 / 3], [0.05, 0.05, 0.9],
                                    [0.4, 0.3, 0.3]]).astype(np.float32))
        seen = jnp.zeros((1, 3), bool)
        greedy, g_score = lm.beam_search(step, None, (), first, seen, steps=2, width=1)
        beam, b_score = lm.beam_search(step, None, (), first, seen, steps=2, width=2)
    assert greedy.tolist() == [[0, 0]] and beam.tolist() == [[1, 2]]
    np.testing.assert_allclose([float(g_score[0]), float(b_score[0])],
                               np.log([0.2, 0.36]), rtol=1e-5)


@pytest.mark.parametrize("rho", [1.0, 2.5])
def test_exhaustive_beam_search_finds_the_best_sequence(rho):
    # With W >= V^(L-1) beams nothing is ever pruned: the beam is the argmax over all V^L
    # continuations, including the repetition penalty on prompt and generated tokens.
    import jax.numpy as jnp

    rng = np.random.default_rng(int(rho * 10))
    V, L, B = 4, 4, 3
    tables = np.log(rng.dirichlet(np.full(V, 0.5), size=V)).astype(np.float32)
    first = np.log(rng.dirichlet(np.ones(V), size=B)).astype(np.float32)
    prompt_seen = rng.random((B, V)) < 0.3
    with _nn.float32():
        tokens, score = lm.beam_search(_markov_step(tables), None, (), jnp.asarray(first),
                                       jnp.asarray(prompt_seen), steps=L, width=V ** (L - 1),
                                       penalty=rho)
    for b in range(B):
        seqs = list(itertools.product(range(V), repeat=L))
        scores = [_score(s, first[b], tables, np.flatnonzero(prompt_seen[b]), rho)
                  for s in seqs]
        assert tuple(np.asarray(tokens[b])) == seqs[int(np.argmax(scores))]
        np.testing.assert_allclose(float(score[b]), max(scores), rtol=1e-5)


def test_cached_decoder_matches_the_full_forward_pass():
    # The beam's score (no penalty) must equal the log-likelihood of the prompt's
    # continuation recomputed by the full causal forward pass over prompt + continuation.
    import jax
    import jax.numpy as jnp

    cfg = CFG  # the chain's programs, compiled once; the penalty is an argument
    rng = np.random.default_rng(0)
    prompts = rng.integers(0, cfg.vocab_size, size=(4, cfg.block)).astype(np.int32)
    with _nn.float32():
        params = _transformer._init(cfg, jax.random.key(1), cfg.vocab_size)
        prog = _transformer._programs(cfg)
        first, seen, kvs, cache = prog["prefill"](params, jnp.asarray(prompts))
        tokens, score = lm.beam_search(prog["step"], (params, kvs), cache, first, seen,
                                       steps=cfg.block, width=cfg.beam_width, penalty=1.0)
        full = jnp.concatenate([jnp.asarray(prompts), tokens], axis=1)
        logp = jax.nn.log_softmax(_transformer.forward(params, full, heads=cfg.heads), -1)
        ll = jnp.take_along_axis(logp[:, cfg.block - 1:-1], tokens[..., None], -1).sum((1, 2))
    np.testing.assert_allclose(np.asarray(score), np.asarray(ll), rtol=2e-5, atol=2e-5)


def test_uniform_model_has_perplexity_equal_to_the_vocabulary_size():
    # All-zero parameters give zero logits (tied embedding of zeros): every token has
    # probability 1/V, so the perplexity is V whatever the text.
    import jax

    rng = np.random.default_rng(0)
    blocks = rng.integers(0, CFG.vocab_size, size=(10, CFG.block)).astype(np.int32)
    with _nn.float32():
        params = jax.tree_util.tree_map(np.zeros_like,
                                        _transformer._init(CFG, jax.random.key(0), CFG.vocab_size))
        assert lm.perplexity(params, blocks, CFG) == pytest.approx(CFG.vocab_size, rel=1e-5)
        per_seq = lm.sequence_perplexity(params, blocks, CFG)
    np.testing.assert_allclose(per_seq, CFG.vocab_size, rtol=1e-5)


def test_training_lowers_the_loss_on_a_fixed_batch():
    import jax
    import jax.numpy as jnp

    # a repeating pattern: learnable far below the uniform loss log V
    blocks = np.tile(np.arange(CFG.block, dtype=np.int32), (32, 1)) % 7
    cfg = CFG._replace(finetune_lr=1e-2)
    with _nn.float32():
        params = _transformer._init(cfg, jax.random.key(0), cfg.vocab_size)
        opt = _transformer._finetune_optimizer(cfg)
        epoch = _transformer._epoch_fn(cfg, opt, "finetune")
        state = opt.init(params)
        before = np.log(lm.perplexity(params, blocks, cfg))
        for e in range(4):
            state = _transformer._finetune(cfg, state, e, 4)
            params, state, _ = epoch(params, state, jnp.asarray(blocks), jax.random.key(e))
        after = np.log(lm.perplexity(params, blocks, cfg))
    assert before == pytest.approx(np.log(cfg.vocab_size), abs=0.1)   # near-uniform start
    assert after < before - 0.5, (before, after)
    # the per-epoch cosine schedule: lr, ..., down to lr / 20 after the last epoch
    assert _transformer._finetune_lr(cfg, 0, 4) == pytest.approx(1e-2)
    assert _transformer._finetune_lr(cfg, 4, 4) == pytest.approx(1e-2 / 20)


# --------------------------------------------------------------------------- the chain


@needs_wikitext
def test_chain_shapes_reproducibility_and_resume(base, tmp_path):
    kw = dict(size="tiny", runs=1, key=5, progress=False)
    whole = lm.simulate_lm(base, generations=3, checkpoint_dir=tmp_path / "whole", **kw)
    N = base.train_blocks.shape[0]
    assert whole.test_perplexity.shape == whole.validation_perplexity.shape == (1, 3)
    assert whole.data_perplexity.shape == (1, 4, N)
    assert whole.examples.shape == (1, 4, CFG.examples)
    assert whole.train_loss.shape == (1, 3, lm.SETTINGS["A"][0])
    assert np.all(np.isfinite(whole.test_perplexity)) and np.all(whole.data_perplexity >= 1)
    # the test perplexity is at most V (no worse than uniform) after fine-tuning
    assert np.all(whole.test_perplexity < CFG.vocab_size)
    # no checkpoints, and the key as a JAX key: the same chain
    again = lm.simulate_lm(base, generations=1, **{**kw, "key": _key_data(5)})
    np.testing.assert_array_equal(again.test_perplexity, whole.test_perplexity[:, :1])
    np.testing.assert_array_equal(again.data_perplexity, whole.data_perplexity[:, :2])
    part = tmp_path / "part"
    lm.simulate_lm(base, generations=2, checkpoint_dir=part, **kw)   # "interrupted"
    stamp = (part / "run_0" / "gen_000.npz").stat().st_mtime_ns
    resumed = lm.simulate_lm(base, generations=3, checkpoint_dir=part, **kw)
    assert (part / "run_0" / "gen_000.npz").stat().st_mtime_ns == stamp
    for name in ("test_perplexity", "validation_perplexity", "data_perplexity", "examples",
                 "train_loss"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(whole, name), name)
    # fewer generations than saved: read back, nothing trained
    head = lm.simulate_lm(base, generations=2, checkpoint_dir=part, **kw)
    np.testing.assert_array_equal(head.test_perplexity, whole.test_perplexity[:, :2])
    assert (part / "run_0" / "gen_000.npz").stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="different settings"):
        lm.simulate_lm(base, generations=3, checkpoint_dir=part, setting="B", **kw)


@needs_wikitext
def test_setting_b_keeps_original_blocks(base):
    chain = lm.simulate_lm(base, setting="B", size="tiny", generations=2, runs=1, epochs=2,
                           key=2, progress=False)
    assert chain.epochs == 2 and chain.keep_original == 0.1
    assert chain.train_loss.shape == (1, 2, 2)
    words = np.random.default_rng(0).integers(0, 10, size=(10, 4))
    mixed = lm._mix(words, words + 100, 0.3, _key(3))
    assert mixed.shape == words.shape
    assert (mixed < 100).all(axis=1).sum() == 3                      # round(0.3 * 10) kept


def _key_data(i):
    import jax

    return jax.random.PRNGKey(i)  # raw uint32[2]


def _key(i):
    import jax

    with _nn.float32():
        return jax.random.key(i)


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        (dict(config=CFG._replace(block=0)), ValueError, "block must be"),
        (dict(config=CFG._replace(beam_width=0)), ValueError, "beam_width must be"),
        (dict(config=CFG._replace(heads=3)), ValueError, "heads must divide d_model"),
        (dict(config=CFG._replace(repetition_penalty=0.5)), ValueError,
         "repetition_penalty must be >= 1"),
        (dict(config=CFG._replace(vocab_size=2)), ValueError, "vocab_size must be"),
        (dict(epochs=0), ValueError, "epochs must be"),
        (dict(epochs=1.5), ValueError, "epochs must be"),
        (dict(generations=0), ValueError, "generations must be"),
        (dict(runs=-2), ValueError, "runs must be"),
        (dict(keep_original=1.5), ValueError, r"keep_original must lie in \[0, 1\]"),
        (dict(keep_original=-0.1), ValueError, r"keep_original must lie in \[0, 1\]"),
        (dict(setting="C"), ValueError, "setting must be one of"),
        (dict(size="huge"), ValueError, "size must be one of"),
    ],
)
def test_bad_input(kwargs, err, match, tmp_path):
    # data_dir points nowhere: validation must fail before any data is read
    with pytest.raises(err, match=match):
        lm.simulate_lm(**{"size": "tiny", "data_dir": tmp_path, "progress": False, **kwargs})


@needs_wikitext
def test_cli_prints_one_row_per_generation(capsys):
    import json

    from kernelcollapse.cli import main

    assert main(["zoo", "lm", "--size", "tiny", "--generations", "1", "--runs", "1",
                 "--data-dir", str(SHARED), "--json", "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["setting"] == "A" and out["runs"] == 1 and len(out["rows"]) == 1
    assert out["rows"][0]["test_ppl_mean"] < CFG.vocab_size
    assert main(["zoo", "lm", "--size", "tiny", "--beam-width", "0", "--no-progress"]) == 2
    assert "beam_width must be" in capsys.readouterr().err
    assert main(["zoo", "lm", "--size", "tiny", "--keep-original", "2", "--no-progress"]) == 2
    assert "keep_original must lie in [0, 1]" in capsys.readouterr().err


# --------------------------------------------------------------------------- data directories


@needs_wikitext
def test_data_directory_variable_is_honoured(tmp_path, monkeypatch):
    """KERNELCOLLAPSE_DATA means for WikiText-2 what it means for MNIST: the folder holding
    wikitext2/, or the folder holding the file itself; KERNELCOLLAPSE_WIKITEXT2 overrides it."""
    from kernelcollapse._util import datapath as _datapath

    monkeypatch.setattr(_datapath, "in_checkout", lambda: False)  # no shared fallback
    monkeypatch.delenv(wikitext.ENV_VAR, raising=False)
    (tmp_path / "root" / "wikitext2").mkdir(parents=True)
    shutil.copy(SHARED / wikitext.FILE, tmp_path / "root" / "wikitext2" / wikitext.FILE)
    monkeypatch.setenv(wikitext.DATA_ENV_VAR, str(tmp_path / "root"))
    assert wikitext.default_dir() == tmp_path / "root" / "wikitext2"
    assert len(wikitext.wikitext2().articles) == 155
    assert len(wikitext.wikitext2(tmp_path / "root").articles) == 155  # data_dir alike
    monkeypatch.setenv(wikitext.DATA_ENV_VAR, str(tmp_path / "root" / "wikitext2"))
    assert len(wikitext.wikitext2().articles) == 155
    monkeypatch.setenv(wikitext.ENV_VAR, str(tmp_path / "elsewhere"))
    with pytest.raises(FileNotFoundError, match="elsewhere"):
        wikitext.wikitext2()


def test_zoo_lm_reads_the_data_directory_variable(tmp_path, monkeypatch):
    from kernelcollapse._util import datapath as _datapath

    monkeypatch.setattr(_datapath, "in_checkout", lambda: False)
    monkeypatch.delenv(wikitext.ENV_VAR, raising=False)
    monkeypatch.setenv(wikitext.DATA_ENV_VAR, str(tmp_path / "empty-root"))
    with pytest.raises(FileNotFoundError) as info:
        lm.pretrain_lm(size="tiny", progress=False)
    message = str(info.value)
    assert str(tmp_path / "empty-root" / "wikitext2") in message
    assert "--data-dir" in message and "data_dir=" in message


def test_installed_package_without_variables_says_how_to_set_the_path(monkeypatch):
    from kernelcollapse._util import datapath as _datapath

    monkeypatch.setattr(_datapath, "in_checkout", lambda: False)
    monkeypatch.delenv(wikitext.ENV_VAR, raising=False)
    monkeypatch.delenv(wikitext.DATA_ENV_VAR, raising=False)
    assert wikitext.default_dir() is None
    with pytest.raises(FileNotFoundError) as info:
        wikitext.wikitext2()
    message = str(info.value)
    assert str(_datapath.SHARED_ROOT) not in message
    for name in ("--data-dir", "data_dir=", wikitext.ENV_VAR, wikitext.DATA_ENV_VAR):
        assert name in message
