"""kernelcollapse: model collapse in ridge and kernel regression.

Theory (deterministic equivalents of the test error under recursive synthetic
labels), a JAX simulator of the same process, scaling laws, and the
regularisation that corrects for synthetic data.  See README.md.
"""

from __future__ import annotations

import jax

# Results are float64 everywhere; JAX defaults to float32 unless told otherwise.
jax.config.update("jax_enable_x64", True)

from kernelcollapse.problems import Problem, isotropic, power_law  # noqa: E402
from kernelcollapse.theory import (  # noqa: E402
    ErrorDecomposition,
    GeneratorMoments,
    df1,
    df2,
    exact_ols_error,
    generator_moments,
    kappa,
    test_error,
)

__version__ = "0.1.0"

__all__ = [
    "ErrorDecomposition",
    "GeneratorMoments",
    "Problem",
    "df1",
    "df2",
    "exact_ols_error",
    "generator_moments",
    "isotropic",
    "kappa",
    "power_law",
    "test_error",
]
