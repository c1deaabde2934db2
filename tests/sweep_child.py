"""A sweep in a process of its own, for the tests of locking, Ctrl-C and SIGKILL.

``python tests/sweep_child.py [--delay S] [--hold FILE] [--kill-at BYTES] -- ARGS...`` runs
``kernelcollapse ARGS...`` (e.g. ``sweep CONFIG --no-progress``) with the simulator replaced by
:func:`fake_simulate` (the tests are about files, locks and signals, and a real simulation
would spend seconds importing and compiling JAX in every process).  ``--delay`` makes each
point take that long; ``--hold`` makes each point wait until FILE exists; ``--kill-at`` makes
the process SIGKILL itself once the results file reaches that many bytes, in the middle of a
write if it falls there.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

import numpy as np


def fake_simulate(eigvals, w0, *, n, lam, seeds, key, delay=0.0, hold=None, **kwargs):
    """Deterministic stand-in numbers for ``simulate``: a function of the key and the grid."""
    from kernelcollapse.simulator import SimulationResult

    time.sleep(delay)
    while hold is not None and not os.path.exists(hold):
        time.sleep(0.01)
    shape = np.broadcast_shapes(np.shape(n), np.shape(lam))
    errors = np.random.default_rng(key).random(shape + (seeds,))
    return SimulationResult(errors.mean(-1), errors.std(-1, ddof=1) / np.sqrt(seeds), errors)


def install(delay: float = 0.0, kill_at: int | None = None, hold: str | None = None) -> None:
    """Replace the simulator (and, with ``kill_at``, the sweep's append) in this process."""
    from kernelcollapse import simulator
    from kernelcollapse.sweep import _run as sweep

    simulator.simulate = lambda *a, **k: fake_simulate(*a, delay=delay, hold=hold, **k)
    if kill_at is None:
        return
    append = sweep._append

    def append_then_die(f, text):
        room = kill_at - f.tell()
        if room >= len(text.encode()):
            return append(f, text)
        f.write(text.encode()[:max(room, 0)].decode(errors="ignore"))
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    sweep._append = append_then_die


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--kill-at", type=int, default=None)
    parser.add_argument("--hold", default=None)
    parser.add_argument("args", nargs=argparse.REMAINDER)
    opts = parser.parse_args()
    install(opts.delay, opts.kill_at, opts.hold)
    from kernelcollapse.cli import main as cli_main

    args = opts.args[1:] if opts.args[:1] == ["--"] else opts.args
    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
