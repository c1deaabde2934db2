"""kernelcollapse: model collapse in ridge and kernel regression.

Theory (deterministic equivalents of the test error under recursive synthetic
labels), a JAX simulator of the same process, scaling laws, and the
regularisation that corrects for synthetic data.  See README.md.

The most used functions are here; the subpackages hold the rest: ``theory`` (numpy/scipy:
the formulas, the prepared problem, the optimizer, ``theory.scaling``), ``simulator`` (JAX),
``tuning`` and ``estimator`` (a practitioner's rows), ``sweep``, ``datasets``, ``kernels``,
``realdata``, ``zoo``, ``figures``, ``reproduce``; the library's errors and warnings are in
``exceptions``.

Results are float64 numpy arrays.  The library's JAX work runs in float64 inside its own calls
only: importing or using kernelcollapse never changes JAX's global configuration
(``jax_enable_x64``), and ``import kernelcollapse`` does not import JAX at all.
"""

from __future__ import annotations

import importlib
import importlib.metadata as _metadata

from kernelcollapse.exceptions import NoiseUnidentified, UnreliableRecommendation
from kernelcollapse.simulator import SimulationResult, simulate
from kernelcollapse.theory import (
    CollapseLimit,
    ErrorDecomposition,
    ExponentFit,
    GeneratorMoments,
    OptimalLambda,
    OptimalWeight,
    PreparedProblem,
    Problem,
    collapse_limit,
    df1,
    df2,
    exact_ols_error,
    fit_exponent,
    generator_moments,
    isotropic,
    kappa,
    optimal_lambda,
    optimal_weight,
    power_law,
    prepare,
    test_error,
)
from kernelcollapse.tuning import Recommendation, recommend

try:  # the one version number is pyproject.toml's, read from the installed metadata
    __version__ = _metadata.version("kernelcollapse")
except _metadata.PackageNotFoundError:  # a checkout on PYTHONPATH, never installed
    __version__ = "0+unknown"

# Loaded on first use: sympy (scaling) and the data/zoo modules are slow to import.
_LAZY = {
    "critical_exponent": "theory.scaling",
    "optimal_exponent": "theory.scaling",
    "rate": "theory.scaling",
    "scaling_law": "theory.scaling",
    "ScalingLaw": "theory.scaling",
    "mnist": "datasets",
}
_SUBMODULES = ("datasets", "estimator", "figures", "kernels", "realdata", "reproduce", "sweep",
               "zoo")


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CollapseLimit",
    "ErrorDecomposition",
    "ExponentFit",
    "GeneratorMoments",
    "NoiseUnidentified",
    "OptimalLambda",
    "OptimalWeight",
    "PreparedProblem",
    "Problem",
    "Recommendation",
    "ScalingLaw",
    "SimulationResult",
    "UnreliableRecommendation",
    "collapse_limit",
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
    "optimal_weight",
    "power_law",
    "prepare",
    "rate",
    "recommend",
    "scaling_law",
    "simulate",
    "test_error",
]
