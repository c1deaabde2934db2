"""MathJax served with the documentation, so that equations render without a network.

The script and the TeX extensions it loads on demand come from the ``sphinx-mathjax-offline``
package (MathJax 3.2.2; an install requirement of the ``docs`` and ``test`` extras) and are
copied into ``_static/mathjax`` of the build.  The SVG output is used: its glyphs are in the
script, so no font files are fetched either.  Only these files are copied, 3 MB of the
package's 24.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

PACKAGE = "sphinx-mathjax-offline"  # its import name, hyphens included
SCRIPT = "tex-svg.js"
# What tex-svg.js loads itself: the TeX extensions that \require or autoload pulls in.
PARTS = ("input/tex/extensions",)


def source() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise ExtensionError(f"kc_mathjax: the package {PACKAGE!r} is missing; install the docs "
                             "requirements: pip install -e '.[docs]'")
    return Path(spec.origin).parent / "static" / "mathjax"


def _copy(app, exc) -> None:
    if exc is not None or app.builder.format != "html":
        return
    src = source()
    dest = Path(app.outdir) / "_static" / "mathjax"
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / SCRIPT, dest / SCRIPT)
    for part in PARTS:
        shutil.copytree(src / part, dest / part, dirs_exist_ok=True)


def setup(app):
    source()  # refuse at once, not after the whole build
    # A path without a scheme is served from _static (sphinx.ext.mathjax).
    app.config.mathjax_path = f"mathjax/{SCRIPT}"
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
