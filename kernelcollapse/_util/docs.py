"""Shared parameter blocks in numpydoc docstrings: a line ``{process.NAME}`` stands for the
entry ``NAME`` of a table of entries (the process settings' own, declared once with them in
:data:`kernelcollapse.theory.PROCESS`), indented like the line."""

from __future__ import annotations

import re
from collections.abc import Mapping

_LINE = re.compile(r"^(?P<indent>[ ]*)\{process\.(?P<name>\w+)\}[ ]*$", re.MULTILINE)


def fill(doc: str | None, entries: Mapping[str, str]) -> str | None:
    """``doc`` with every line ``{process.NAME}`` replaced by ``entries[NAME]`` (its first
    line at the placeholder's indentation, the others four spaces deeper, as numpydoc lays out
    a parameter).  ``None`` (docstrings stripped by ``python -OO``) stays ``None``."""
    if doc is None:
        return None

    def entry(match: re.Match) -> str:
        name, indent = match["name"], match["indent"]
        if name not in entries:
            raise KeyError(f"no shared docstring entry for {name!r}")
        head, *body = entries[name].splitlines()
        return "\n".join([indent + head] + [indent + "    " + line for line in body])

    return _LINE.sub(entry, doc)
