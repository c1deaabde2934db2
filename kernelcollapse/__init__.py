"""kernelcollapse: model collapse in ridge and kernel regression."""

from __future__ import annotations

import jax

# Results are float64 everywhere; JAX defaults to float32 unless told otherwise.
jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"
