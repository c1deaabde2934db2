"""The paper figures: one module per figure, with the shared plotting style and output conventions.

Every figure module ``kernelcollapse.figures.figNN_name`` defines

* ``NAME``: short name used by ``kernelcollapse reproduce --only NAME``;
* ``TITLE``: one line describing the figure;
* ``run(out_dir, *, size="quick", progress=True) -> list[Path]``: computes the
  numbers, writes ``<NAME>.csv`` and ``<NAME>.png`` into ``out_dir`` and
  returns the written paths.  ``size`` is ``"tiny"`` (tests), ``"quick"``
  (default, minutes on 2 cores) or ``"full"`` (paper scale).

``kernelcollapse reproduce`` runs them all (see :mod:`kernelcollapse.reproduce`), and each has a
thin runnable script ``paper_figures/figNN_name.py`` in a checkout.  This module gives the style
(:func:`style`), the writers (:func:`save_figure`, :func:`write_csv`) and the script entry
point.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import matplotlib.figure

__all__ = ["SIZES", "check_size", "save_figure", "script_main", "style", "write_csv"]

SIZES = ("tiny", "quick", "full")

_RC = {
    "figure.figsize": (6.4, 4.4),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.6,
    "errorbar.capsize": 2,
}


@contextlib.contextmanager
def style() -> Iterator[ModuleType]:
    """Context manager applying the library's plotting style (non-interactive backend)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    with plt.rc_context(_RC):
        yield plt


def save_figure(fig: matplotlib.figure.Figure, path: str | Path) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_csv(path: str | Path, rows: Iterable[Mapping[str, object]]) -> Path:
    """Write a list of dicts (same keys) as CSV, floats at full precision."""
    rows = list(rows)
    if not rows:
        raise ValueError(f"write_csv: no rows to write to {path}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (repr(float(v)) if isinstance(v, float) else v)
                             for k, v in row.items()})
    return path


def check_size(size: str) -> str:
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    return size


def script_main(run: Callable[..., list[Path]]) -> None:
    """Entry point of the scripts ``python paper_figures/figNN_name.py [--size S] [--out DIR]``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", choices=SIZES, default="quick")
    parser.add_argument("--out", type=Path, default=Path("figures"))
    args = parser.parse_args()
    for path in run(args.out, size=args.size):
        print(path)
