"""kernelcollapse: model collapse in ridge and kernel regression.

Theory (deterministic equivalents of the test error under recursive synthetic
labels), a JAX simulator of the same process, scaling laws, and the
regularisation that corrects for synthetic data.  See README.md.

The most used functions are here; the modules hold the rest:
``theory``, ``simulator``, ``sweep``, ``scaling``, ``optimize``, ``datasets``,
``kernels``, ``realdata``, ``figures``, ``zoo``.
"""

from __future__ import annotations

import importlib
import importlib.metadata as _metadata

import jax

# Results are float64 everywhere; JAX defaults to float32 unless told otherwise.
jax.config.update("jax_enable_x64", True)

from kernelcollapse.optimize import (  # noqa: E402
    ExponentFit,
    OptimalLambda,
    Recommendation,
    fit_exponent,
    optimal_lambda,
    recommend,
)
from kernelcollapse.problems import Problem, isotropic, power_law  # noqa: E402
from kernelcollapse.simulator import SimulationResult, simulate  # noqa: E402
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

try:  # the one version number is pyproject.toml's, read from the installed metadata
    __version__ = _metadata.version("kernelcollapse")
except _metadata.PackageNotFoundError:  # a checkout on PYTHONPATH, never installed
    __version__ = "0+unknown"

# Loaded on first use: sympy (scaling) and the data/zoo modules are slow to import.
_LAZY = {
    "critical_exponent": "scaling",
    "optimal_exponent": "scaling",
    "rate": "scaling",
    "scaling_law": "scaling",
    "ScalingLaw": "scaling",
    "mnist": "datasets",
}
_SUBMODULES = ("datasets", "figures", "kernels", "realdata", "reproduce", "scaling", "sweep", "zoo")


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ErrorDecomposition",
    "ExponentFit",
    "GeneratorMoments",
    "OptimalLambda",
    "Problem",
    "Recommendation",
    "ScalingLaw",
    "SimulationResult",
    "critical_exponent",
    "df1",
    "df2",
    "exact_ols_error",
    "fit_exponent",
    "generator_moments",
    "isotropic",
    "kappa",
    "mnist",
    "optimal_exponent",
    "optimal_lambda",
    "power_law",
    "rate",
    "recommend",
    "scaling_law",
    "simulate",
    "test_error",
]
