"""Sphinx configuration of the kernelcollapse documentation (``make docs``).

Nothing here reaches the network: no intersphinx inventories are fetched, the theme is the
default (alabaster), and the figure gallery is computed locally at size "tiny" (see
``_ext/kc_gallery.py``).  MathJax is served with the pages (``_ext/kc_mathjax.py``, from the
``sphinx-mathjax-offline`` package): the equations render without a network too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

project = "kernelcollapse"
author = "the kernelcollapse authors"
copyright = "the kernelcollapse authors, MIT licence"


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("kernelcollapse")
    except Exception:  # an uninstalled checkout still builds
        return "unknown"


release = version = _version()

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "kc_mathjax",
    "numpydoc",
    "kc_gallery",
    "kc_cli",
    "kc_autodoc",
]

# The zoo modules list their sources as numbered References (numpydoc citations) without citing
# each one in the text; an unreferenced entry of a reference list is not a defect.
suppress_warnings = ["ref.citation"]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"
nitpicky = False

# autodoc / autosummary: one page per public module, members from ``__all__``.
autosummary_generate = True
autosummary_imported_members = False
autosummary_ignore_module_all = False
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types

# numpydoc: parameters rendered as lists; class members are listed by the autodoc templates,
# not by numpydoc (which would document NamedTuple fields twice).
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# Figures of the gallery: computed at size "tiny" into this directory, resumably (the
# reproduce manifest), so a rebuild only redoes missing figures.
kc_gallery_dir = os.environ.get("KERNELCOLLAPSE_DOCS_FIGURES", str(HERE / "_build" / "figures"))
kc_gallery_size = os.environ.get("KERNELCOLLAPSE_DOCS_FIGURE_SIZE", "tiny")

html_theme = "alabaster"
html_title = "kernelcollapse"
html_static_path: list[str] = []
html_theme_options = {
    "description": "Model collapse in ridge and kernel regression",
    "fixed_sidebar": False,
    "page_width": "1100px",
    "sidebar_width": "230px",
}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}

# The public modules, in the order of the API reference (api/index.rst lists the same).
kc_public_modules = [
    "kernelcollapse.theory",
    "kernelcollapse.simulator",
    "kernelcollapse.sweep",
    "kernelcollapse.theory.scaling",
    "kernelcollapse.tuning",
    "kernelcollapse.estimator",
    "kernelcollapse.exceptions",
    "kernelcollapse.datasets",
    "kernelcollapse.kernels",
    "kernelcollapse.realdata",
    "kernelcollapse.reproduce",
    "kernelcollapse.zoo",
    "kernelcollapse.zoo.discrete",
    "kernelcollapse.zoo.gaussian",
    "kernelcollapse.zoo.gmm",
    "kernelcollapse.figures",
]
