"""``kernelcollapse reproduce``: discovery, --only, resume (skip if done), --force, missing data,
failures.  Uses fake figure scripts in a temporary directory (fast, no JAX work)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from kernelcollapse import reproduce as rp
from kernelcollapse.cli import main as cli_main

GOOD = """
from pathlib import Path
NAME = "{name}"
TITLE = "fake figure {name}"
CALLS = Path(__file__).with_name("calls.log")

def run(out_dir, *, size="quick", progress=True):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(CALLS, "a") as fh:
        fh.write(f"{{NAME}} {{size}}\\n")
    (out_dir / f"{{NAME}}.csv").write_text("x\\n1\\n")
    (out_dir / f"{{NAME}}.png").write_bytes(b"png")
    return [out_dir / f"{{NAME}}.csv", out_dir / f"{{NAME}}.png"]
"""

MISSING = """
NAME = "mnist"
TITLE = "needs data"

def run(out_dir, *, size="quick", progress=True):
    raise FileNotFoundError("MNIST files not found; set KERNELCOLLAPSE_DATA")
"""

BROKEN = """
NAME = "broken"
TITLE = "raises"

def run(out_dir, *, size="quick", progress=True):
    raise RuntimeError("boom in broken figure")
"""


def _fig_dir(tmp_path: Path, *, missing=False, broken=False) -> Path:
    d = tmp_path / "paper_figures"
    d.mkdir()
    (d / "fig01_alpha.py").write_text(textwrap.dedent(GOOD.format(name="alpha")))
    (d / "fig02_beta.py").write_text(textwrap.dedent(GOOD.format(name="beta")))
    (d / "notes.py").write_text("raise SystemExit('not a figure: must not be imported')\n")
    if missing:
        (d / "fig08_mnist.py").write_text(textwrap.dedent(MISSING))
    if broken:
        (d / "fig03_broken.py").write_text(textwrap.dedent(BROKEN))
    return d


def _calls(fig_dir: Path) -> list[str]:
    log = fig_dir / "calls.log"
    return log.read_text().split("\n")[:-1] if log.exists() else []


def _cli(fig_dir, out, *extra) -> int:
    return cli_main(["reproduce", "--figures-dir", str(fig_dir), "--out", str(out),
                     "--no-progress", *extra])


def test_runs_all_in_order_and_prints_paths(tmp_path, capsys):
    fig_dir, out = _fig_dir(tmp_path), tmp_path / "out"
    assert _cli(fig_dir, out) == 0
    assert _calls(fig_dir) == ["alpha quick", "beta quick"]
    text = capsys.readouterr().out
    assert "[1/2] alpha" in text and "[2/2] beta" in text
    assert str(out / "alpha.png") in text and str(out / "beta.csv") in text
    # the last lines say where the figures are: the absolute folder and the PNGs in it
    assert f"output in {out.resolve()}" in text
    assert "2 figures (PNG, each with its CSV): alpha.png, beta.png" in text
    manifest = json.loads((out / rp.MANIFEST).read_text())
    assert manifest["alpha"]["size"] == "quick"
    assert sorted(manifest["alpha"]["files"]) == ["alpha.csv", "alpha.png"]


def test_only_by_name_stem_or_prefix(tmp_path):
    fig_dir, out = _fig_dir(tmp_path), tmp_path / "out"
    assert _cli(fig_dir, out, "--only", "beta") == 0
    assert _calls(fig_dir) == ["beta quick"]
    assert _cli(fig_dir, out, "--only", "fig01", "--force") == 0
    assert _cli(fig_dir, out, "--only", "fig02_beta,alpha", "--force") == 0
    assert _calls(fig_dir) == ["beta quick", "alpha quick", "alpha quick", "beta quick"]


def test_only_unknown_name_is_a_clear_error(tmp_path, capsys):
    fig_dir = _fig_dir(tmp_path)
    assert _cli(fig_dir, tmp_path / "out", "--only", "nosuch") == 2
    err = capsys.readouterr().err
    assert "nosuch" in err and "alpha (fig01_alpha)" in err


def test_resume_skips_done_figures_and_force_redoes(tmp_path, capsys):
    fig_dir, out = _fig_dir(tmp_path), tmp_path / "out"
    assert _cli(fig_dir, out, "--only", "alpha") == 0  # an "interrupted" run: alpha only
    assert _cli(fig_dir, out) == 0  # resumes: alpha skipped, beta made
    assert _calls(fig_dir) == ["alpha quick", "beta quick"]
    assert "already done" in capsys.readouterr().out
    assert _cli(fig_dir, out, "--force") == 0
    assert _calls(fig_dir)[2:] == ["alpha quick", "beta quick"]


def test_redo_when_size_differs_or_file_missing(tmp_path):
    fig_dir, out = _fig_dir(tmp_path), tmp_path / "out"
    assert _cli(fig_dir, out) == 0
    assert _cli(fig_dir, out, "--full") == 0  # other size: recomputed
    assert _calls(fig_dir)[2:] == ["alpha full", "beta full"]
    (out / "beta.png").unlink()  # a lost output is recomputed
    assert _cli(fig_dir, out, "--full") == 0
    assert _calls(fig_dir)[4:] == ["beta full"]


def test_missing_data_prints_how_to_get_it_and_continues(tmp_path, capsys):
    fig_dir, out = _fig_dir(tmp_path, missing=True), tmp_path / "out"
    assert _cli(fig_dir, out) == 0  # missing data is not a failure
    text = capsys.readouterr().out
    assert "KERNELCOLLAPSE_DATA" in text and "MNIST" in text and "download" in text
    assert _calls(fig_dir) == ["alpha quick", "beta quick"]
    assert "mnist" not in json.loads((out / rp.MANIFEST).read_text())


def test_failing_figure_continues_and_exits_nonzero(tmp_path, capsys):
    fig_dir, out = _fig_dir(tmp_path, broken=True), tmp_path / "out"
    assert _cli(fig_dir, out) == 1
    text = capsys.readouterr().out
    assert "boom in broken figure" in text and "FAILED broken" in text
    assert _calls(fig_dir) == ["alpha quick", "beta quick"]  # the others still ran


def test_script_that_fails_to_import_is_a_failure(tmp_path, capsys):
    fig_dir, out = _fig_dir(tmp_path), tmp_path / "out"
    (fig_dir / "fig09_syntax.py").write_text("def oops(:\n")
    assert _cli(fig_dir, out) == 1
    assert "SyntaxError" in capsys.readouterr().out
    assert _calls(fig_dir) == ["alpha quick", "beta quick"]


def test_missing_figure_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        rp.find_figure_dir(tmp_path / "nope")


def test_finds_the_package_figures_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stems = [s.stem for s in rp.discover()]
    for k in range(1, 12):
        assert any(s.startswith(f"fig{k:02d}_") for s in stems), stems
    assert all(rp.load(s).NAME for s in rp.discover())


def test_paper_figure_scripts_are_thin_and_match_the_package():
    root = Path(__file__).resolve().parents[1] / "paper_figures"
    scripts = rp.discover(root)
    assert [s.stem for s in scripts] == [s.stem for s in rp.discover()]
    for script in scripts:
        module = rp.load(script)
        package = rp.load(rp.FigureScript(script.stem, None))
        assert module.run is package.run and module.NAME == package.NAME


def test_bad_size_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="size"):
        rp.reproduce(tmp_path, size="huge", fig_dir=_fig_dir(tmp_path))
