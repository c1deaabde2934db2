"""What a data directory means, the same for every data set (MNIST, WikiText-2).

A data directory (``data_dir=`` in the API, ``--data-dir`` on the command line, the environment
variable ``KERNELCOLLAPSE_DATA``) is the folder that holds one folder per data set, ``mnist/``
and ``wikitext2/``, as the project's ``shared/data/`` does.  A folder that holds a data set's
files directly is accepted too, for that data set: ``KERNELCOLLAPSE_DATA`` used to name the
``mnist/`` folder itself.  The data set's own folder, ``<dir>/mnist/``, is looked in first.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

ENV_VAR = "KERNELCOLLAPSE_DATA"

# This file is <root>/kernelcollapse/_datapath.py.  In a source checkout <root> holds
# pyproject.toml and the project's data lie beside it in <root>/../shared/data; from an installed
# wheel <root> is site-packages, and the same relative path would point inside the environment.
_ROOT = Path(__file__).resolve().parents[2]  # the checkout: kernelcollapse/_util/datapath.py
SHARED_ROOT = _ROOT.parent / "shared" / "data"


def in_checkout() -> bool:
    """Whether the package is imported from a source checkout (not from an installed wheel)."""
    return (_ROOT / "pyproject.toml").is_file() and "site-packages" not in _ROOT.parts


def shared_root() -> Path | None:
    """``../shared/data`` beside a source checkout; ``None`` from an installed package."""
    return SHARED_ROOT if in_checkout() else None


def environment() -> Path | None:
    """``$KERNELCOLLAPSE_DATA`` as a path, ``None`` when unset or empty."""
    value = os.environ.get(ENV_VAR)
    return Path(value) if value else None


def layouts(directory: str | os.PathLike, dataset: str) -> list[Path]:
    """Where a data directory may hold ``dataset``'s files, in the order looked in."""
    directory = Path(directory)
    return [directory / dataset, directory]


def find(directory: str | os.PathLike, dataset: str,
         complete: Callable[[Path], bool]) -> Path | None:
    """The first of :func:`layouts` for which ``complete`` holds, else ``None``."""
    return next((d for d in layouts(directory, dataset) if complete(d)), None)


def how_to_set(dataset: str) -> str:
    """The sentence every missing-data message ends with."""
    return (f"Pass --data-dir DIR (command line) or data_dir=DIR (API), or set the environment "
            f"variable {ENV_VAR}=DIR, where DIR holds {dataset}/ (or the files themselves)")
