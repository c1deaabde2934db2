"""Sweeps: a sweep interrupted and resumed writes the same file as an uninterrupted one."""

from __future__ import annotations

import json

import pytest

from kernelcollapse.cli import main
from kernelcollapse.sweep import load_config, read_results, run_sweep

CONFIG = """
output = "out.{ext}"
seeds = 3
key = 4

[grid]
spectrum = "isotropic"
d = 6
T = [5, 9]
T0 = 8
n = [0, 2]
lam = "log:0.01:1:3"
sigma = 0.5
sigma0 = [0.5, 1.0]
"""


def _config(tmp_path, ext):
    path = tmp_path / f"sweep_{ext}.toml"
    path.write_text(CONFIG.format(ext=ext))
    return load_config(path)


@pytest.mark.parametrize("ext", ["jsonl", "csv"])
def test_resume_gives_same_file(tmp_path, ext):
    config = _config(tmp_path, ext)
    whole = tmp_path / f"whole.{ext}"
    part = tmp_path / f"part.{ext}"
    s = run_sweep(config, output=whole, progress=False)
    assert (s.total, s.skipped, s.ran) == (4, 0, 4)

    # Interrupted: 1 point, then an exception in the middle of the sweep, then a partial line
    # as if killed during a write.
    run_sweep(config, output=part, max_points=1, progress=False)

    def boom(i, params):
        if i >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(config, output=part, progress=False, on_point=boom)
    with part.open("a") as f:
        f.write('{"spectrum": "isotr')
    s = run_sweep(config, output=part, progress=False)
    assert (s.skipped, s.ran) == (3, 1)
    assert part.read_bytes() == whole.read_bytes()
    s = run_sweep(config, output=part, progress=False)  # nothing left to do
    assert s.ran == 0 and part.read_bytes() == whole.read_bytes()

    records = read_results(whole)
    assert len(records) == 4 * 2 * 3
    assert {r["n"] for r in records} == {0, 2} and len({r["point"] for r in records}) == 4
    assert all(r["mean"] > 0 and r["stderr"] > 0 for r in records)


def test_point_cut_off_mid_write_is_redone(tmp_path):
    config = _config(tmp_path, "jsonl")
    whole = tmp_path / "whole.jsonl"
    run_sweep(config, output=whole, max_points=2, progress=False)
    lines = whole.read_text().splitlines(keepends=True)
    part = tmp_path / "part.jsonl"
    part.write_text("".join(lines[:8]))  # second point's 6 records cut after 2
    s = run_sweep(config, output=part, max_points=1, progress=False)
    assert (s.skipped, s.ran) == (1, 1)
    assert part.read_bytes() == whole.read_bytes()


def test_cli_sweep_and_bad_config(tmp_path, capsys):
    path = tmp_path / "c.toml"
    path.write_text(CONFIG.format(ext="jsonl"))
    assert main(["sweep", str(path), "--no-progress", "--max-points", "1"]) == 0
    assert "4 points, 0 already done, 1 run now" in capsys.readouterr().out
    first = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])
    assert first["d"] == 6 and first["seeds"] == 3
    path.write_text(CONFIG.format(ext="jsonl").replace("sigma = 0.5", "sigma = -1.0"))
    assert main(["sweep", str(path), "--no-progress", "--output", str(tmp_path / "x.jsonl")]) == 2
    assert "sigma must be >= 0" in capsys.readouterr().err
    path.write_text(CONFIG.format(ext="jsonl").replace("sigma = 0.5", "sgima = 0.5"))
    assert main(["sweep", str(path), "--no-progress"]) == 2
    assert "unknown [grid] keys ['sgima']" in capsys.readouterr().err


def test_cli_simulate(capsys):
    assert main(["simulate", "--d", "6", "--T", "9", "--T0", "8", "--n", "0,2", "--lam",
                 "log:0.01:1:3", "--seeds", "3", "--key", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [row["n"] for row in out["rows"]] == [0, 0, 0, 2, 2, 2] and out["d"] == 6
    assert all(row["T"] == 9 for row in out["rows"])
    assert main(["simulate", "--d", "6", "--T", "9,30", "--T0", "8", "--n", "0,2", "--lam",
                 "log:0.01:1:3", "--seeds", "3", "--key", "4", "--json"]) == 0
    both = json.loads(capsys.readouterr().out)["rows"]
    assert [row["T"] for row in both] == [9] * 6 + [30] * 6
    assert both[:6] == out["rows"]  # the same key: T = 9 is the call with T = 9 alone
    assert main(["simulate", "--d", "6", "--seeds", "1"]) == 2
    assert "seeds must be an integer >= 2" in capsys.readouterr().err
