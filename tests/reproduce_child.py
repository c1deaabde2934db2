"""``reproduce`` in a process of its own that SIGKILLs itself at a chosen moment.

``python tests/reproduce_child.py FIG_DIR OUT_DIR [--kill-at BYTES]`` runs
:func:`kernelcollapse.reproduce.reproduce` on the figure scripts of FIG_DIR.  Every file write
(``Path.write_text`` / ``write_bytes``: the figures' files and the manifest's temporary file)
and every ``Path.replace`` (the manifest's atomic rename, counted as one byte) advances a
counter; when it would pass BYTES the process writes what fits, if anything, and kills itself.
Without ``--kill-at`` it runs to the end and prints the count.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("fig_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--kill-at", type=int, default=None)
    opts = parser.parse_args()
    kill_at = opts.kill_at
    count = [0]
    write_bytes, replace = Path.write_bytes, Path.replace

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def counted_write_bytes(self, data):
        data = bytes(data)
        if kill_at is not None and count[0] + len(data) > kill_at:
            write_bytes(self, data[:max(kill_at - count[0], 0)])
            die()
        count[0] += len(data)
        return write_bytes(self, data)

    def counted_write_text(self, data, encoding=None, errors=None, newline=None):
        return counted_write_bytes(self, data.encode())

    def counted_replace(self, target):
        if kill_at is not None and count[0] + 1 > kill_at:
            die()
        count[0] += 1
        return replace(self, target)

    Path.write_bytes = counted_write_bytes
    Path.write_text = counted_write_text
    Path.replace = counted_replace
    from kernelcollapse.reproduce import reproduce

    result = reproduce(opts.out_dir, size="tiny", fig_dir=opts.fig_dir, progress=False,
                       echo=lambda line: None)
    print(count[0])
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
