"""Packaging metadata seen from the source tree: the version, py.typed, the sweep example.

The installed wheel itself is checked in tests/test_wheel.py.
"""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest

import kernelcollapse
from kernelcollapse.cli import main
from kernelcollapse.sweep import load_config, points, read_results
from kernelcollapse.sweep._run import example_config

ROOT = Path(__file__).resolve().parent.parent

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_version_is_pyprojects(capsys):
    version = _pyproject()["project"]["version"]
    # The editable install's metadata is rebuilt from pyproject.toml by `make install-test`.
    assert importlib.metadata.version("kernelcollapse") == version
    assert kernelcollapse.__version__ == version
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"kernelcollapse {version}"


def test_typed_and_licensed():
    assert (Path(kernelcollapse.__file__).parent / "py.typed").is_file()
    project = _pyproject()["project"]
    assert project["license"] == "MIT"
    license_text = (ROOT / project["license-files"][0]).read_text()
    assert "MIT License" in license_text and "kernelcollapse developers" in license_text


def test_sweep_example_is_printed_and_runs(tmp_path, capsys, monkeypatch):
    assert main(["sweep", "--example"]) == 0
    text = capsys.readouterr().out
    assert text == example_config() and text.startswith("#")
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    config = load_config(path)
    grid, ns, lams = points(config)
    assert len(grid) == 4 and ns == [0, 1, 2, 5] and len(lams) == 9
    # One point of it, as a user would run it (fewer seeds to keep the test fast).
    path.write_text(text.replace("seeds = 100 ", "seeds = 4   "))
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", str(path), "--max-points", "1", "--no-progress"]) == 0
    rows = read_results(tmp_path / "sweep.jsonl")
    assert len(rows) == len(ns) * len(lams) and rows[0]["seeds"] == 4


def test_sweep_without_config_says_how_to_get_one(capsys):
    assert main(["sweep"]) == 2
    assert "--example" in capsys.readouterr().err
