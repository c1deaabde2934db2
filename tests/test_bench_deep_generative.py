"""The deep-generative benchmark module: runs at the tiny presets (shared compilations with the
zoo tests), returns positive timings, renders Markdown."""

from __future__ import annotations

import numpy as np

from kernelcollapse.bench import deep_generative as bench


def test_tiny_presets_time_and_render(tmp_path):
    results = {"size": "tiny", "machine": bench.machine_info(),
               "vae": bench._bench_vae("tiny", None),
               # no WikiText-2 there: random tokens of the real shapes
               "lm": bench._bench_lm("tiny", tmp_path / "none")}
    assert results["lm"]["synthetic_data"] is True
    for model in ("vae", "lm"):
        r = results[model]
        assert r["s_per_step"] > 0 and r["steps_per_epoch"] >= 1
        gen = r.get("s_per_generation", r.get("s_per_generation_setting_A"))
        assert np.isfinite(gen) and gen > 0
    text = bench.markdown(results)
    assert "| VAE" in text and "| LM, setting A (random data" in text
    assert results["machine"]["device"] in text
