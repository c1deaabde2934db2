"""``.. kc-cli-help::``: the help text of the ``kernelcollapse`` command and its sub-commands.

Generated from the argparse parsers (:func:`kernelcollapse.cli.build_parser`) at build time,
so the page never drifts from ``kernelcollapse COMMAND --help``.
"""

from __future__ import annotations

import contextlib
import io

from docutils import nodes
from sphinx.util.docutils import SphinxDirective


def _help(argv: list[str]) -> str:
    from kernelcollapse.cli import build_parser

    parser = build_parser()
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        parser.parse_args([*argv, "--help"])
    return out.getvalue().rstrip()


def _commands() -> list[str]:
    import argparse

    from kernelcollapse.cli import build_parser

    parser = build_parser()
    for action in parser._actions:  # argparse keeps its sub-parsers in a private action
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


class CliHelp(SphinxDirective):
    """Without argument: the top-level help and one section per sub-command."""

    has_content = False

    def run(self):
        import os

        # argparse wraps to $COLUMNS: fix the width for a page that does not depend on the shell.
        old = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = "100"
        try:
            out = [nodes.literal_block(text=_help([]), language="text")]
            for name in _commands():
                section = nodes.section(ids=[f"cli-{name}"])
                section += nodes.title(text=f"kernelcollapse {name}")
                section += nodes.literal_block(text=_help([name]), language="text")
                out.append(section)
        finally:
            if old is None:
                os.environ.pop("COLUMNS", None)
            else:
                os.environ["COLUMNS"] = old
        return out


def setup(app):
    app.add_directive("kc-cli-help", CliHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
