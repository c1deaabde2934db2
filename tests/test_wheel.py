"""The wheel as a new user gets it: built, installed into a fresh virtual environment, and run
from an empty directory, away from this checkout.

This catches what the source-tree tests cannot: files missing from the wheel (a subpackage, the
package data), code that finds its files relative to a checkout, and CLI commands that only work
next to the repository.  It needs the package index (or pip's cache) for the build backend and
the dependencies, and takes about a minute; deselect it with ``pytest -m "not wheel"``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).resolve().parent.parent
# Local state that must not reach the build: a stale build/ would put files into the wheel that
# the package configuration no longer selects.
_TOP_LEVEL_STATE = {".git", ".venv", "build", "dist", "figures", "out", "results",
                    "kernelcollapse-bench", ".pytest_cache", ".ruff_cache", ".hypothesis"}


def _not_source(directory, names):
    top = Path(directory) == ROOT
    return {n for n in names if n == "__pycache__" or n.endswith(".egg-info")
            or (top and n in _TOP_LEVEL_STATE)}


def _run(cmd, *, cwd, timeout, env=None):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, (f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
                                  f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}")
    return proc


class Installed:
    def __init__(self, wheel: Path, venv: Path, workdir: Path):
        self.wheel, self.venv, self.workdir = wheel, venv, workdir
        # Nothing of this checkout on the path; the working directory is empty.
        self.env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        self.env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"

    def cli(self, *args, timeout=300):
        return _run([self.venv / "bin" / "kernelcollapse", *args], cwd=self.workdir,
                    env=self.env, timeout=timeout)

    def python(self, code, timeout=120):
        return _run([self.venv / "bin" / "python", "-c", code], cwd=self.workdir, env=self.env,
                    timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    shutil.copytree(ROOT, src, ignore=_not_source)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", base / "dist",
          src], cwd=base, timeout=600)
    (wheel,) = (base / "dist").glob("kernelcollapse-*.whl")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=base, timeout=300)
    _run([venv / "bin" / "python", "-m", "pip", "install", "--quiet",
          "--disable-pip-version-check", wheel], cwd=base, timeout=900)
    workdir = base / "empty"
    workdir.mkdir()
    return Installed(wheel, venv, workdir)


def test_wheel_contents(installed):
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    for path in ("kernelcollapse/py.typed", "kernelcollapse/sweep/example.toml",
                 "kernelcollapse/figures/__init__.py", "kernelcollapse/bench/__init__.py",
                 "kernelcollapse/zoo/__init__.py", "kernelcollapse/cli/__init__.py"):
        assert path in names, path
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    # Only the package: tests, benchmark results and figure scripts stay in the repository.
    assert all(n.startswith(("kernelcollapse/", "kernelcollapse-")) for n in names), names


def test_installed_package_is_the_wheel(installed):
    where = installed.python("import kernelcollapse; print(kernelcollapse.__file__)").stdout
    assert Path(where.strip()).is_relative_to(installed.venv)


def test_version(installed):
    version = re.search(r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(),
                        re.MULTILINE).group(1)
    assert installed.cli("--version").stdout.strip() == f"kernelcollapse {version}"


def test_reproduce_one_figure(installed):
    installed.cli("reproduce", "--size", "tiny", "--only", "fig01", "--out", "figs",
                  "--no-progress")
    made = {p.suffix for p in (installed.workdir / "figs").glob("isotropic_lambda.*")}
    assert made == {".png", ".csv"}


def test_bench_smoke(installed):
    installed.cli("bench", "--smoke", "--quiet", timeout=180)
    out = installed.workdir / "kernelcollapse-bench"
    assert {p.name for p in out.iterdir()} >= {"bench_smoke.json", "bench_smoke.md"}


def test_sweep_example(installed):
    text = installed.cli("sweep", "--example").stdout
    assert "[grid]" in text


def test_data_paths_do_not_point_inside_the_environment(installed):
    """From the wheel, <package>/../../shared/data lies inside the virtual environment: no
    default is taken from there, and a missing data set says where it looked and how to set
    the path (--data-dir, data_dir=, KERNELCOLLAPSE_DATA)."""
    env = {k: v for k, v in installed.env.items()
           if k not in ("KERNELCOLLAPSE_DATA", "KERNELCOLLAPSE_WIKITEXT2")}
    proc = subprocess.run([str(installed.venv / "bin" / "kernelcollapse"), "zoo", "lm", "--size",
                           "tiny", "--no-progress"], cwd=installed.workdir, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr
    assert len(err.strip().splitlines()) == 1, err
    for name in ("--data-dir", "data_dir=", "KERNELCOLLAPSE_DATA", "KERNELCOLLAPSE_WIKITEXT2"):
        assert name in err, err
    assert str(installed.venv) not in err, err
    code = ("from kernelcollapse._util import datapath; "
            "from kernelcollapse.datasets import _mnist, _wikitext; "
            "assert not datapath.in_checkout(); assert _mnist._shared_copy() is None; "
            "assert _wikitext.default_dir() is None; print('ok')")
    proc = subprocess.run([str(installed.venv / "bin" / "python"), "-c", code],
                          cwd=installed.workdir, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.stdout.strip() == "ok", proc.stderr
