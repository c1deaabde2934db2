"""``python -m benchmarks [--quick | --smoke] [--out DIR] [--note TEXT]``: ``kernelcollapse bench``.

Kept so that the command works from a checkout without installing (``PYTHONPATH=.``); the
default output is this directory's ``results/``.
"""

from __future__ import annotations

import sys

from kernelcollapse.cli.bench import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m benchmarks"))
