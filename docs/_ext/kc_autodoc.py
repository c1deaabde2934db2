"""Autodoc adjustments for kernelcollapse: NamedTuple fields and top-level re-exports.

* The results are NamedTuples whose docstrings describe their fields (numpydoc sections);
  autodoc would add each field again as "Alias for field number N".  Those are skipped.
* Docstrings cite the top-level names (``:func:`kernelcollapse.simulate```) while the objects
  are documented in their module (``kernelcollapse.simulator.simulate``).  A reference
  ``kernelcollapse.NAME`` (or ``kernelcollapse.NAME.attribute``) that is not documented as such
  is resolved to the documented object of that name in the package, preferring the module that
  defines it, so the links work without documenting anything twice.
"""

from __future__ import annotations

import importlib

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective


def _skip_namedtuple_fields(app, what, name, obj, skip, options):
    if what == "class" and type(obj).__name__ == "_tuplegetter":
        return True
    # scikit-learn's metadata routing adds set_fit_request & co. to an estimator whose fit
    # takes extra parameters; their docstrings point into scikit-learn's own documentation.
    if what == "class" and name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def _resolve_reexport(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    parts = target.split(".")
    if len(parts) < 2 or parts[0] != "kernelcollapse":
        return None
    package = importlib.import_module("kernelcollapse")
    try:
        obj = getattr(package, parts[1])
    except AttributeError:
        return None
    py = env.get_domain("py")
    tail = ".".join(parts[1:])  # NAME, or NAME.attribute (a method of a re-exported class)
    candidates = [f"{getattr(obj, '__module__', '')}.{tail}"]
    candidates += sorted(name for name in py.objects
                         if name.startswith("kernelcollapse.") and name.endswith("." + tail))
    for cand in candidates:
        if cand in py.objects:
            return py.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], cand,
                                   node, contnode)
    return None


def canonical(name: str, modules: list[str]) -> str:
    """Where the top-level ``kernelcollapse.NAME`` is documented: the module that defines it
    when that one is public and exports it, else the first public module whose ``__all__``
    holds the same object (else the defining module)."""
    package = importlib.import_module("kernelcollapse")
    obj = getattr(package, name)
    home = getattr(obj, "__module__", "")
    for mod_name in ([home] if home in modules else []) + list(modules):
        mod = importlib.import_module(mod_name)
        if name in getattr(mod, "__all__", ()) and getattr(mod, name, None) is obj:
            return f"{mod_name}.{name}"
    return f"{obj.__module__}.{name}"


class PublicApi(SphinxDirective):
    """An autosummary table of ``kernelcollapse.__all__``, linked to the module pages."""

    has_content = False

    def run(self):
        package = importlib.import_module("kernelcollapse")
        modules = list(self.config.kc_public_modules)
        lines = [".. autosummary::", "   :nosignatures:", ""]
        # autosummary wants names relative to the current module (set by an automodule above).
        current = self.env.ref_context.get("py:module")
        prefix = f"{current}." if current else ""
        for name in package.__all__:
            target = canonical(name, modules)
            lines.append(f"   {target[len(prefix):] if target.startswith(prefix) else target}")
        node = nodes.container()
        self.state.nested_parse(StringList(lines, source=self.env.docname), self.content_offset,
                                node)
        return node.children


def setup(app):
    app.add_config_value("kc_public_modules", [], "env")
    app.add_directive("kc-public-api", PublicApi)
    app.connect("autodoc-skip-member", _skip_namedtuple_fields)
    app.connect("missing-reference", _resolve_reexport)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
