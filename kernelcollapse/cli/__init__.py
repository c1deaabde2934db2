"""Command-line interface: ``kernelcollapse <command> ...``.

Each sub-command lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to the
function that runs it.  Heavy imports (JAX, matplotlib) happen inside those
functions, so ``kernelcollapse --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys

__all__ = ["EXIT_BROKEN_PIPE", "EXIT_INTERRUPTED", "build_parser", "main"]

# Order is the order of ``kernelcollapse --help``.
_COMMANDS = (
    "theory",
    "simulate",
    "sweep",
    "exponent",
    "tune",
    "reproduce",
    "zoo",
    "bench",
)


class _Parser(argparse.ArgumentParser):
    """No abbreviated options: with them ``--seed 3`` silently meant ``--seeds 3``.  A list that
    starts with a negative number is a value: argparse took ``--means -2,2`` (the help's own
    format) for an unknown option ``-2,2``, and only ``--means=-2,2`` worked."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        # argparse's own test (Python <= 3.12: ``-2`` or ``-.5`` only); no option of ours
        # looks like a number, so anything that starts like one is an argument.
        self._negative_number_matcher = re.compile(r"^-\.?\d[\d.,eE+\-:]*$")


def build_parser() -> argparse.ArgumentParser:
    from kernelcollapse import __version__

    parser = _Parser(
        prog="kernelcollapse",
        description="Model collapse in ridge and kernel regression: theory, simulation, tuning.",
    )
    parser.add_argument("--version", action="version", version=f"kernelcollapse {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMANDS:
        modname = f"{__name__}.{name}"
        try:
            module = importlib.import_module(modname)
        except ModuleNotFoundError as exc:  # a command not built yet is simply absent
            if exc.name == modname:
                continue
            raise
        module.register(sub)
    return parser


# Exit status after Ctrl-C: 128 + SIGINT, as a shell reports a process ended by it.
EXIT_INTERRUPTED = 130


# Exit status when the reader of stdout has gone: 128 + SIGPIPE, as for a process the signal
# ends (what ``yes | head`` reports).
EXIT_BROKEN_PIPE = 141


def _silence_stdout() -> None:
    """Point stdout at /dev/null: the interpreter's last flush at exit would raise (and print)
    the broken pipe again."""
    import os

    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test's capture)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _nothing_saved(args: argparse.Namespace, exc: KeyboardInterrupt) -> str:
    return "nothing was saved (results are printed at the end); run the command again"


def main(argv: list[str] | None = None) -> int:
    from kernelcollapse.sweep import FileInUseError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
    except BrokenPipeError:
        # The reader left (``| head``): no more to say, and nothing to say it to.
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except (ValueError, TypeError, FileNotFoundError) as exc:
        # Bad input is the user's to fix: say what, without a traceback.
        print(f"kernelcollapse {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except FileInUseError as exc:
        print(f"kernelcollapse {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        # Ctrl-C is no error: one line on what is kept and how to go on, no traceback.
        saved = getattr(args, "on_interrupt", _nothing_saved)(args, exc)
        start = "\n" if sys.stderr.isatty() else ""  # after the terminal's ^C
        print(f"{start}kernelcollapse {args.command}: interrupted; {saved}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
