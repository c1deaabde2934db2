"""The theory engine: deterministic equivalents of the test error under model collapse.

numpy and scipy only (no JAX).  The test error of a downstream ridge fit on labels from the
``n``-th generation of a chain of refitted models (:func:`test_error`, its parts
:class:`ErrorDecomposition`), the effective regularisation (:func:`kappa`, :func:`df1`,
:func:`df2`), the chain's moments (:func:`generator_moments`) and its limit
(:func:`collapse_limit`), exact least-squares errors (:func:`exact_ols_error`), a spectrum
prepared once for many evaluations (:func:`prepare`, :class:`PreparedProblem`), the optimal
penalty and weight (:func:`optimal_lambda`, :func:`optimal_weight`), the built-in problems
(:func:`isotropic`, :func:`power_law`) and, in :mod:`kernelcollapse.theory.scaling`, the
symbolic scaling laws (sympy, loaded on first use).

The derivations are in ``docs/theory/``.

References
----------
E. Dohmatob, Y. Feng, J. Kempe. *Model Collapse Demystified: The Case of Regression.*
NeurIPS 2024, arXiv:2402.07712.
"""

from __future__ import annotations

import importlib

from kernelcollapse.theory._chain import MODES
from kernelcollapse.theory._error import ErrorParts
from kernelcollapse.theory._formulas import (
    collapse_limit,
    df1,
    df2,
    exact_ols_error,
    generator_moments,
    kappa,
    test_error,
)
from kernelcollapse.theory._optimize import (
    ExponentFit,
    OptimalLambda,
    OptimalWeight,
    fit_exponent,
    optimal_lambda,
    optimal_weight,
)
from kernelcollapse.theory._prepared import (
    ChainMoments,
    CollapseLimit,
    ErrorDecomposition,
    Evaluator,
    GeneratorMoments,
    PreparedProblem,
    memory_per_dimension,
    prepare,
)
from kernelcollapse.theory._problems import Problem, isotropic, power_law
from kernelcollapse.theory._process import PARAMETERS, PROCESS, ProcessSetting, check_process
from kernelcollapse.theory._regimes import check_finite as check_finite_error

__all__ = [
    "MODES",
    "PARAMETERS",
    "PROCESS",
    "ChainMoments",
    "CollapseLimit",
    "ErrorDecomposition",
    "ErrorParts",
    "Evaluator",
    "ExponentFit",
    "GeneratorMoments",
    "OptimalLambda",
    "OptimalWeight",
    "PreparedProblem",
    "ProcessSetting",
    "Problem",
    "check_finite_error",
    "check_process",
    "collapse_limit",
    "df1",
    "df2",
    "exact_ols_error",
    "fit_exponent",
    "generator_moments",
    "isotropic",
    "kappa",
    "memory_per_dimension",
    "optimal_lambda",
    "optimal_weight",
    "power_law",
    "prepare",
    "test_error",
]


def __getattr__(name: str):
    if name == "scaling":  # sympy is slow to import: loaded on first use
        return importlib.import_module(f"{__name__}.scaling")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
