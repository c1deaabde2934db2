"""The documentation: it builds with warnings as errors, its gallery shows every figure, and the
theory pages name only tests that exist.

The build runs ``sphinx-build -W --keep-going -b html`` in a subprocess on a copy of ``docs/``
in a temporary directory (autosummary writes its stub pages next to the sources), so it fails
on any warning: a docstring numpydoc cannot parse, bad RST, a broken reference, a figure that
fails.  The gallery's figures are made at size "tiny" into a temporary directory, unless
``KERNELCOLLAPSE_DOCS_FIGURES`` names a directory to reuse (e.g. ``docs/_build/figures`` of a
``make docs``: the reproduce manifest then skips the figures already made there).
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"


def _figure_names() -> list[str]:
    from kernelcollapse.reproduce import discover, load

    return [str(load(s).NAME) for s in discover()]


def _mnist_on_disk() -> bool:
    from kernelcollapse import datasets

    dirs = [Path(os.environ[datasets.ENV_VAR])] if os.environ.get(datasets.ENV_VAR) else [
        datasets.cache_dir(), SHARED_MNIST]
    return any(all((d / f).is_file() for f in datasets.FILES["test"]) for d in dirs)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("docs")
    src = tmp / "src"
    shutil.copytree(DOCS, src, ignore=shutil.ignore_patterns("_build", "generated"))
    figures = os.environ.get("KERNELCOLLAPSE_DOCS_FIGURES") or str(tmp / "figures")
    env = {**os.environ, "KERNELCOLLAPSE_DOCS_FIGURES": figures}
    out = tmp / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-d",
         str(tmp / "doctrees"), str(src), str(out)],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stderr[-8000:]}"
    return out


def test_docs_build_without_warnings(built):
    for page in ("index.html", "theory/index.html", "gallery.html", "cli.html",
                 "api/index.html", "api/package.html"):
        assert (built / page).is_file(), page


def test_api_pages_for_every_public_module(built):
    conf = ast.parse((DOCS / "conf.py").read_text())
    modules = next(ast.literal_eval(node.value) for node in conf.body
                   if isinstance(node, ast.AnnAssign | ast.Assign)
                   and getattr(node.targets[0] if isinstance(node, ast.Assign) else node.target,
                               "id", None) == "kc_public_modules")
    listed = re.findall(r"^\s+(kernelcollapse[\w.]*)\s*$", (DOCS / "api/index.rst").read_text(),
                        re.M)
    assert listed == modules
    for mod in modules:
        html = (built / "api" / "generated" / f"{mod}.html").read_text()
        # every name of the module's __all__ is documented on its page
        for name in getattr(importlib.import_module(mod), "__all__", ()):
            assert f'id="{mod}.{name}"' in html, (mod, name)
    package = (built / "api" / "package.html").read_text()
    import kernelcollapse

    for name in kernelcollapse.__all__:
        assert re.search(rf'href="[^"]*#kernelcollapse\.[\w.]*\.{name}"', package), name


def test_gallery_shows_every_figure(built):
    html = (built / "gallery.html").read_text()
    for name in _figure_names():
        assert f'id="gallery-{name}"' in html or f'id="gallery-{name.replace("_", "-")}"' in html
        shown = re.search(rf'<img [^>]*src="_images/{name}\.png"', html)
        if name == "mnist" and not _mnist_on_disk():
            assert "To get MNIST" in html  # the page says how to get the data instead
        else:
            assert shown, name


def test_theory_pages_name_existing_tests():
    cited = set()
    for page in DOCS.rglob("*.rst"):
        cited |= set(re.findall(r"tests/(test_\w+\.py)::(\w+)", page.read_text()))
    assert len(cited) > 50  # the pattern still matches what the pages write
    missing = []
    defined: dict[str, set[str]] = {}
    for file, func in sorted(cited):
        if file not in defined:
            path = ROOT / "tests" / file
            tree = ast.parse(path.read_text()) if path.is_file() else ast.Module(body=[])
            defined[file] = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        if func not in defined[file]:
            missing.append(f"tests/{file}::{func}")
    assert not missing, f"the docs name tests that do not exist: {missing}"


def test_no_reference_to_the_private_theory_notes():
    """Users have the docs, not the project's private notes: nothing may send them there."""
    pattern = re.compile(r"theory[- ]notes", re.I)
    files = [ROOT / "README.md", *(ROOT / "kernelcollapse").rglob("*.py"),
             *(ROOT / "paper_figures").rglob("*.py"), *DOCS.rglob("*.rst")]
    bad = [f"{f.relative_to(ROOT)}:{i}" for f in files
           for i, line in enumerate(f.read_text().splitlines(), 1) if pattern.search(line)]
    assert not bad, bad


def test_pages_load_no_remote_script_and_math_renders_offline(built):
    """The pages loaded MathJax from a CDN: offline, every equation showed as raw LaTeX."""
    pages = list(built.rglob("*.html"))
    with_math = 0
    for page in pages:
        html = page.read_text()
        for src in re.findall(r"<script[^>]*\bsrc=\"([^\"]*)\"", html):
            assert "//" not in src, (page, src)  # no http(s)://, no protocol-relative //
        for href in re.findall(r"<link[^>]*\bhref=\"([^\"]*)\"", html):
            assert not re.match(r"(https?:)?//", href), (page, href)
        if "tex-svg.js" in html:
            with_math += 1
            script = re.search(r"<script[^>]*\bsrc=\"([^\"]*tex-svg\.js)\"", html).group(1)
            assert (page.parent / script).resolve().is_file(), (page, script)
    assert with_math >= 10  # the theory pages at least
    assert (built / "_static" / "mathjax" / "input" / "tex" / "extensions").is_dir()
