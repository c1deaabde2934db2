"""``kernelcollapse zoo ...``: tables, JSON output and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kernelcollapse.cli import main


def _json(capsys, argv):
    assert main(argv + ["--json", "--no-progress"]) == 0
    return json.loads(capsys.readouterr().out)


def test_discrete_json_matches_theory_columns(capsys):
    out = _json(capsys, ["zoo", "discrete", "--p0", "0.5,0.3,0.2", "--N", "30",
                         "--generations", "20", "--seeds", "200", "--n", "0,5,20"])
    assert out["K"] == 3 and [r["n"] for r in out["rows"]] == [0, 5, 20]
    r0 = out["rows"][0]
    assert r0["surviving_sim"] == 3 and r0["homozygosity_exact"] == pytest.approx(0.38)


def test_discrete_theory_is_exact_beyond_the_full_matrix(capsys):
    """N = 10^4 (above the full chain's 4000): the table's theory is the truncated chain,
    with its bound in the header, and agrees with the run's own simulation; Feller's
    branching limit (what the table would show with diffusion) is 0.04 off at n = 10."""
    out = _json(capsys, ["zoo", "discrete", "--p0", "0.999,0.001", "--N", "10000",
                         "--generations", "10", "--seeds", "20000", "--n", "0,5,10"])
    assert out["theory"] == "truncated" and 0 <= out["theory_bound"] <= 2e-12
    for row in out["rows"]:
        assert abs(row["surviving_sim"] - row["surviving_exact"]) <= (
            4 * row["surviving_se"] + 1 / 20000)
    branching = 2 - np.exp(-2 * 10000 * 0.001 / 10)
    assert out["rows"][2]["surviving_exact"] < branching - 0.03


def test_gaussian_and_gmm_tables(capsys):
    assert main(["zoo", "gaussian", "--N", "10", "--generations", "5", "--seeds", "100",
                 "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "w2_squared_exact" in text and text.startswith("# N=10")
    # Same shapes as figure 11 at size "tiny", so the compiled EM block is reused.
    out = _json(capsys, ["zoo", "gmm", "--N", "200", "--generations", "20", "--seeds", "8",
                         "--n", "0,20"])
    assert out["fresh"] == 0.0 and len(out["rows"]) == 2
    assert np.isfinite(out["rows"][1]["variance_mean"])


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["zoo", "gmm", "--fresh", "0.7", "--previous", "0.5"], "ratios must sum to at most 1"),
        (["zoo", "gmm", "--N", "4"], "N must be >= 3"),
        (["zoo", "discrete", "--K", "1"], "--K must be >= 2"),
        (["zoo", "discrete", "--p0", "1"], "p0 must be"),
        (["zoo", "gaussian", "--generations", "5", "--n", "7"], "--n must lie in"),
    ],
)
def test_errors_are_one_line(capsys, argv, match):
    assert main(argv + ["--no-progress"]) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1


def test_abbreviated_options_are_refused(capsys):
    """``--seed 3`` is no longer an abbreviation of ``--seeds`` (the old ``--seed`` option is
    now ``--key``): argparse must refuse it rather than run with 3 seeds."""
    with pytest.raises(SystemExit) as exc:
        main(["zoo", "discrete", "--seed", "3"])
    assert exc.value.code == 2
    assert "unrecognized arguments: --seed 3" in capsys.readouterr().err
