"""``.. kc-gallery::``: every figure of :mod:`kernelcollapse.figures`, computed at build time.

At ``builder-inited`` the figures are made with :func:`kernelcollapse.reproduce.reproduce` at
the size ``kc_gallery_size`` (default "tiny") into ``kc_gallery_dir``.  That directory keeps the
reproduce manifest, so a rebuild redoes only the figures that are missing (or were made at
another size).  Nothing is downloaded: the MNIST figure runs only when the MNIST test files are
already on disk (``KERNELCOLLAPSE_DATA``, the loader's cache directory, or the ``shared/data/mnist``
directory beside the checkout); otherwise its entry says how to get the data.  A figure that
fails is a Sphinx warning, so ``sphinx-build -W`` fails on it.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

logger = logging.getLogger(__name__)

MNIST = "mnist"


def _mnist_dir() -> Path | None:
    """A directory holding the MNIST test files, without downloading; ``None`` if none."""
    from kernelcollapse import datasets
    from kernelcollapse.datasets import _mnist

    if os.environ.get(datasets.ENV_VAR):
        from kernelcollapse._util import datapath as _datapath

        # the user's choice, nowhere else: the folder holding mnist/, or the files themselves
        return _datapath.find(Path(os.environ[datasets.ENV_VAR]), MNIST,
                              lambda d: _mnist._complete(d, "test"))
    if _mnist._complete(datasets.cache_dir(), "test"):
        return datasets.cache_dir()
    return _mnist._shared_copy("test")  # beside the checkout, or None


class Figure:
    """What the gallery shows of one figure module."""

    def __init__(self, stem: str, module) -> None:
        self.stem = stem
        self.name = str(module.NAME)
        self.title = str(getattr(module, "TITLE", ""))
        self.doc = inspect.getdoc(module) or ""
        self.module = module.__name__


def make_figures(app) -> None:
    from kernelcollapse.reproduce import discover, load, reproduce

    out = Path(app.config.kc_gallery_dir).resolve()
    size = app.config.kc_gallery_size
    figures = [Figure(s.stem, load(s)) for s in discover()]
    data = _mnist_dir()
    wanted = [f.name for f in figures if f.name != MNIST or data is not None]
    logger.info(f"[kc-gallery] figures at size {size!r} into {out} (resumable)")
    # Each figure's loader finds its own data set the way _mnist_dir does (the user's
    # KERNELCOLLAPSE_DATA, the cache, the shared copy): pinning the variable to the MNIST folder
    # would hide the other data sets (WikiText-2) that the same data directory holds.
    result = reproduce(out, size=size, only=wanted, progress=False,
                       echo=lambda line: logger.info(f"[kc-gallery] {line}"))
    missing = dict(result.missing_data)
    if data is None:
        missing[MNIST] = "the MNIST test files were not found (nothing is downloaded by the docs)"
    app.kc_gallery = {"figures": figures, "result": result, "missing": missing, "dir": out,
                      "size": size}


class Gallery(SphinxDirective):
    """One section per figure: name, title, module docstring and image (or why there is none)."""

    has_content = False

    def run(self):
        from kernelcollapse.reproduce import data_help

        state = getattr(self.env.app, "kc_gallery", None)
        if state is None:  # pragma: no cover - builder-inited always runs first
            raise self.error("kc-gallery: the figures were not made (builder-inited not run)")
        # The page is read again when a figure or the manifest changes (or is missing).
        self.env.note_dependency(__file__)
        self.env.note_dependency(str(state["dir"] / "manifest.json"))
        doc_dir = (Path(self.env.srcdir) / self.env.docname).parent
        lines: list[str] = []
        for fig in state["figures"]:
            heading = f"{fig.stem}: {fig.name}"
            lines += [f".. _gallery-{fig.name}:", "", heading, "-" * len(heading), ""]
            lines += [f"**{fig.title}**", ""]
            lines += fig.doc.splitlines() + [""]
            lines += [f"Module :mod:`{fig.module}`; reproduce it with "
                      f"``kernelcollapse reproduce --only {fig.name}`` (add ``--full`` for the "
                      "paper scale).", ""]
            png = state["dir"] / f"{fig.name}.png"
            self.env.note_dependency(str(png))
            if fig.name in state["result"].failed:
                logger.warning(f"kc-gallery: figure {fig.name} failed: "
                               f"{state['result'].failed[fig.name]}",
                               location=(self.env.docname, self.lineno))
                lines += [".. error::", "",
                          f"   This figure failed when the documentation was built: "
                          f"{state['result'].failed[fig.name]}", ""]
            elif fig.name in state["missing"]:
                lines += [".. note::", "",
                          f"   Not made in this build: {state['missing'][fig.name]}.  "
                          f"{data_help()}  Then rebuild with ``make docs``.", ""]
            elif png.is_file():
                rel = os.path.relpath(png, doc_dir)
                lines += [f".. image:: {rel}", f"   :alt: {fig.title}", "   :width: 100%", ""]
            else:
                logger.warning(f"kc-gallery: {png} missing after reproduce",
                               location=(self.env.docname, self.lineno))
        node = nodes.container()
        nested_parse_with_titles(self.state, StringList(lines, source=self.env.docname), node)
        return node.children


def setup(app):
    app.add_config_value("kc_gallery_dir", "_build/figures", "env")
    app.add_config_value("kc_gallery_size", "tiny", "env")
    app.connect("builder-inited", make_figures)
    app.add_directive("kc-gallery", Gallery)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
