"""The zoo figure scripts (9-11) at size="tiny": files written, CSV columns, sane values,
theory within tolerance of simulation where both are in the CSV."""

from __future__ import annotations

import csv
import importlib

import numpy as np
import pytest

K_SE = 5.0  # per-point tolerance over ~20-40 points of one figure


def _load(name):
    return importlib.import_module(f"kernelcollapse.figures.{name}")


def _run(name, tmp_path):
    module = _load(name)
    assert module.NAME and module.TITLE
    paths = module.run(tmp_path, size="tiny", progress=False)
    csv_path = tmp_path / f"{module.NAME}.csv"
    assert csv_path in paths and (tmp_path / f"{module.NAME}.png") in paths
    assert (tmp_path / f"{module.NAME}.png").stat().st_size > 1000
    with open(csv_path) as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    return rows


def _col(rows, key, cast=float):
    return np.array([cast(r[key]) for r in rows])


def test_fig09_zoo_discrete(tmp_path):
    rows = _run("fig09_zoo_discrete", tmp_path)
    expected = {"K", "N", "seeds", "n", "surviving_sim_mean", "surviving_sim_stderr",
                "surviving_theory_exact", "surviving_theory_diffusion", "lost_mass_sim_mean",
                "lost_mass_sim_stderr", "lost_mass_theory_exact", "homozygosity_sim_mean",
                "homozygosity_sim_stderr", "homozygosity_theory"}
    assert set(rows[0]) == expected
    seeds = int(rows[0]["seeds"])
    for stat, theory in (("surviving", "surviving_theory_exact"),
                         ("lost_mass", "lost_mass_theory_exact"),
                         ("homozygosity", "homozygosity_theory")):
        sim, se, th = (_col(rows, f"{stat}_sim_mean"), _col(rows, f"{stat}_sim_stderr"),
                       _col(rows, theory))
        assert np.all(np.isfinite(sim)) and np.all(np.isfinite(th))
        # exact theory: Monte-Carlo error only (1/seeds floor where the stderr is 0)
        assert np.all(np.abs(sim - th) <= K_SE * se + 1.0 / seeds), stat
    surv = _col(rows, "surviving_sim_mean")
    assert surv[0] == int(rows[0]["K"]) and np.all(np.diff(surv) <= 0)


def test_fig10_zoo_gaussian(tmp_path):
    rows = _run("fig10_zoo_gaussian", tmp_path)
    stats = ("var", "sd", "mean_shift_sq", "w2_squared")
    expected = {"estimator", "N", "seeds", "n"} | {
        f"{s}_{k}" for s in stats for k in ("sim_mean", "sim_stderr", "theory")}
    assert set(rows[0]) == expected
    assert {r["estimator"] for r in rows} == {"unbiased", "ml"}
    for s in stats:
        sim, se, th = _col(rows, f"{s}_sim_mean"), _col(rows, f"{s}_sim_stderr"), \
            _col(rows, f"{s}_theory")
        assert np.all(np.isfinite(sim)) and np.all(th >= 0)
        # exact formulas; 1e-12 only for n = 0 where the stderr is 0
        assert np.all(np.abs(sim - th) <= K_SE * se + 1e-12), s


def test_fig11_zoo_gmm(tmp_path):
    rows = _run("fig11_zoo_gmm", tmp_path)
    expected = {"N", "seeds", "n", "variance_mean", "variance_stderr", "variance_min",
                "variance_max", "variance_separated_approx", "weight1_mean", "weight1_sd",
                "weight1_sd_wright_fisher", "em_iterations"}
    assert set(rows[0]) == expected
    v = _col(rows, "variance_mean")
    assert v[0] == pytest.approx(1.0) and np.all(np.isfinite(v)) and np.all(v > 0)
    assert np.all(_col(rows, "variance_min") > 0)
    w = _col(rows, "weight1_mean")
    assert np.all((w >= 0) & (w <= 1))
    approx = _col(rows, "variance_separated_approx")
    assert np.all(np.diff(approx) < 0) and approx[0] == pytest.approx(1.0)


def test_fig12_zoo_vae(tmp_path):
    pytest.importorskip("optax")

    try:
        rows = _run("fig12_zoo_vae", tmp_path)
    except FileNotFoundError as exc:  # no MNIST on this machine
        pytest.skip(str(exc))
    expected = {"size", "n_train", "epochs", "channels", "latent", "generation",
                "latent_spread", "latent_spread_real", "latent_spread_paper", "elbo_held_out",
                "final_train_loss"}
    assert set(rows[0]) == expected
    spread, elbo = _col(rows, "latent_spread"), _col(rows, "elbo_held_out")
    assert np.all(spread > 0) and np.all(elbo < 0)
    assert _col(rows, "latent_spread_paper")[0] == pytest.approx(0.674)


def test_fig13_zoo_lm(tmp_path):
    pytest.importorskip("optax")
    try:
        rows = _run("fig13_zoo_lm", tmp_path)
    except FileNotFoundError as exc:  # no WikiText-2 sample on this machine
        pytest.skip(str(exc))
    expected = {"setting", "epochs", "keep_original", "runs", "data", "generation", "model",
                "test_ppl_mean", "test_ppl_sd", "test_ppl_min", "test_ppl_max", "data_ppl_p5",
                "data_ppl_median", "data_ppl_p95", "data_ppl_p99", "example"}
    assert set(rows[0]) == expected
    assert {r["setting"] for r in rows} == {"A", "B"}
    assert [r["data"] for r in rows if r["setting"] == "A"][0] == "real"
    ppl = _col(rows, "test_ppl_mean")
    assert np.all(np.isfinite(ppl)) and np.all(ppl >= 1)
    assert np.all(_col(rows, "test_ppl_min") <= ppl) and np.all(ppl <= _col(rows, "test_ppl_max"))
