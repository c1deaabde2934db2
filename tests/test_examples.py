"""The Examples sections of the entry points' docstrings run as written (doctest)."""

from __future__ import annotations

import doctest

import pytest

import kernelcollapse as kc
from kernelcollapse.estimator import CollapseAwareRidge
from kernelcollapse.theory import scaling

ENTRY_POINTS = {
    "test_error": kc.test_error,
    "exact_ols_error": kc.exact_ols_error,
    "generator_moments": kc.generator_moments,
    "collapse_limit": kc.collapse_limit,
    "prepare": kc.prepare,
    "PreparedProblem.evaluator": kc.PreparedProblem.evaluator,
    "optimal_lambda": kc.optimal_lambda,
    "optimal_weight": kc.optimal_weight,
    "simulate": kc.simulate,
    "recommend": kc.recommend,
    "CollapseAwareRidge": CollapseAwareRidge,
    "optimal_exponent": scaling.optimal_exponent,
}


@pytest.mark.parametrize("name", list(ENTRY_POINTS))
def test_examples_run(name):
    obj = ENTRY_POINTS[name]
    tests = [t for t in doctest.DocTestFinder(recurse=False).find(obj, name) if t.examples]
    assert tests, f"{name} has no Examples section"
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"
