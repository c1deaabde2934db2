"""Shared parameter blocks in numpydoc docstrings: a line ``{process.NAME}`` stands for the
entry ``NAME`` of a table of entries (the process settings' own, declared once with them in
:data:`kernelcollapse.theory.PROCESS`), indented like the line."""

from __future__ import annotations

import re
from collections.abc import Mapping

_LINE = re.compile(r"^(?P<indent>[ ]*)\{process\.(?P<names>\w+(?:,\w+)*)\}[ ]*$", re.MULTILINE)


def fill(doc: str | None, entries: Mapping[str, str]) -> str | None:
    """``doc`` with every line ``{process.NAME}`` replaced by ``entries[NAME]`` (its first
    line at the placeholder's indentation, the others four spaces deeper, as numpydoc lays out
    a parameter); ``{process.A,B,C}`` stands for the entries of ``A``, ``B`` and ``C`` in that
    order.  ``None`` (docstrings stripped by ``python -OO``) stays ``None``."""
    if doc is None:
        return None

    def entry(match: re.Match) -> str:
        indent, lines = match["indent"], []
        for name in match["names"].split(","):
            if name not in entries:
                raise KeyError(f"no shared docstring entry for {name!r}")
            head, *body = entries[name].splitlines()
            lines += [indent + head] + [indent + "    " + line for line in body]
        return "\n".join(lines)

    return _LINE.sub(entry, doc)
