"""Small array helpers shared by the engines."""

from __future__ import annotations

import numpy as np


def unique_rows(*cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of the stacked columns and, for each input row, the index of its key."""
    keys, inverse = np.unique(np.stack(cols, axis=1), axis=0, return_inverse=True)
    return keys, inverse.reshape(-1)
