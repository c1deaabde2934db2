"""Helpers shared by the ``kernelcollapse.zoo`` modules (validation is in
:mod:`kernelcollapse._util.validate`)."""

from __future__ import annotations


def progress_bar(total: int, *, enabled: bool, desc: str):
    """A tqdm progress bar (disabled when ``enabled`` is false)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, leave=False)
