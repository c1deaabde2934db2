"""Quadrature compression of large spectra (theory._quadrature, used by prepare): the sums
and the theory's results against the exact spectrum."""

from __future__ import annotations

import numpy as np
import pytest

import kernelcollapse as kc
from kernelcollapse.theory import _quadrature, _spectral
from kernelcollapse.theory._prepared import QUADRATURE_MIN_DISTINCT, QUADRATURE_TOLERANCE

D = 20000
_RNG = np.random.default_rng(5)
SPECTRA = {
    "power law beta 1.1": kc.power_law(D, 1.1, 0.3),
    "power law beta 1.5": kc.power_law(D, 1.5, 0.5),
    "power law beta 3": kc.power_law(D, 3.0, 1.0),
    "lognormal": (np.exp(_RNG.normal(0.0, 2.0, D)), _RNG.normal(size=D) / np.sqrt(D)),
    # repeated eigenvalues (merged exactly) next to a continuum
    "clustered": (np.concatenate([np.full(D // 2, 1.0), np.full(D // 4, 0.1),
                                  _RNG.uniform(0.01, 3.0, D - 3 * (D // 4))]),
                  _RNG.normal(size=D) / np.sqrt(D)),
}
# The end results may exceed the bound on the sums by the conditioning of the formulas (the
# factor 1 / (1 - df2/T) near interpolation, kappa solved from df1): a few hundred at most at
# the points below, so 1e-10 leaves a margin of 1e3 over the 1e-13 of the sums, and fails if
# the compression were wrong at the 1e-10 level anywhere.
RESULT_RTOL = 1e-10


@pytest.fixture(scope="module", params=list(SPECTRA))
def problems(request):
    s, w = SPECTRA[request.param]
    exact, quad = kc.prepare(s, w, quadrature=False), kc.prepare(s, w, quadrature=True)
    assert quad._sums.s.size < D / 10  # it compresses
    return exact, quad


def test_sums_within_the_tolerance(problems):
    """Sums of the family checked when the rule is built, at kappa off the check's grid, and
    products with a generator's factor ``M0^(2n)`` at another kappa (as in the chain's sums),
    for both measures: within the stated tolerance (x10 for the products, which are not on
    the check's list)."""
    exact, quad = problems
    ex, qs = exact._sums, quad._sums
    rng = np.random.default_rng(0)
    kappas = np.exp(rng.uniform(np.log(ex.s[0]) - 5, np.log(ex.s[-1]) + 5, 40))
    for k in kappas:
        k0 = np.exp(rng.uniform(np.log(ex.s[0]), np.log(ex.s[-1])))
        for spec_a, spec_b in ((ex, qs),):
            def sums(sp, k=k, k0=k0):
                M, om = sp.s / (sp.s + k), k / (sp.s + k)
                M0 = sp.s / (sp.s + k0)
                fam = [M, M * M, om, M * om, om * om, M**8, M * M0**10, M * M * M0**2 * om]
                return np.array([[f @ sp.c, f @ sp.q] for f in fam])

            a, b = sums(spec_a), sums(spec_b)
            rel = np.abs(b - a) / a
            assert np.all(rel[:6] <= QUADRATURE_TOLERANCE), (k, rel)
            assert np.all(rel[6:] <= 10 * QUADRATURE_TOLERANCE), (k, k0, rel)


SETTINGS = [
    dict(T0=2 * D, n=[0, 1, 5, 50]),  # least-squares generators (exact chain)
    dict(T0=D / 3, n=[1, 5, 50]),  # minimum norm: the deterministic-equivalent chain
    dict(T0=D / 2, lam0=1e-3, n=[1, 5, 30]),  # ridge generators
    dict(T0=2 * D, n=[1, 5, 30], mode="accumulate"),
    dict(T0=D / 3, n=[1, 10], fresh=0.3),
    dict(T0=2 * D, n=[1, 5], p=0.4, weight=0.5),  # mixed and weighted rows
]


@pytest.mark.parametrize("kw", SETTINGS)
def test_error_agrees(problems, kw):
    exact, quad = problems
    kw = dict(kw)
    n = np.asarray(kw.pop("n"))
    # T around interpolation (T = D +- 50 at lam = 0) included
    T = np.array([D / 10, D / 2, D - 50, D + 50, 2 * D, 10 * D])[:, None, None]
    lam = np.array([0.0, 1e-6, 1e-3, 1e-1, 10.0])[:, None]
    a = exact.test_error(T=T, lam=lam, n=n, sigma=0.5, sigma0=1.0, **kw)
    b = quad.test_error(T=T, lam=lam, n=n, sigma=0.5, sigma0=1.0, **kw)
    for x, y in zip(a, b):
        np.testing.assert_allclose(y, x, rtol=RESULT_RTOL, atol=1e-300)


def test_optimal_lambda_and_limit_agree(problems):
    exact, quad = problems
    kw = dict(T=np.array([D / 2, 2 * D]), T0=D / 3, n=[[1], [5]], sigma=0.5, sigma0=1.0)
    a, b = exact.optimal_lambda(**kw), quad.optimal_lambda(**kw)
    np.testing.assert_allclose(b.error, a.error, rtol=RESULT_RTOL)
    # The minimiser itself only to the search's accuracy (xtol = 1e-7 in log kappa, wider
    # in log lam on a flat bottom).
    np.testing.assert_allclose(b.lam, a.lam, rtol=1e-5)
    for lim_kw in (dict(T0=D / 2, lam0=1e-3), dict(T0=D / 3), dict(T0=D / 3, fresh=0.2),
                   dict(T0=2 * D, mode="accumulate")):
        la = exact.collapse_limit(sigma0=1.0, T=np.array([D / 2, 2 * D]), lam=1e-3, sigma=0.5,
                                  **lim_kw)
        lb = quad.collapse_limit(sigma0=1.0, T=np.array([D / 2, 2 * D]), lam=1e-3, sigma=0.5,
                                 **lim_kw)
        assert la.bounded == lb.bounded
        np.testing.assert_allclose(lb.error, la.error, rtol=RESULT_RTOL)
        np.testing.assert_allclose(lb.generator_error, la.generator_error, rtol=RESULT_RTOL)
        np.testing.assert_allclose(lb.contraction, la.contraction, rtol=RESULT_RTOL)
        np.testing.assert_allclose(lb.min_fresh, la.min_fresh, rtol=1e-8, atol=1e-12)


def test_generator_moments_stay_exact():
    s, w = SPECTRA["power law beta 1.5"]
    a = kc.prepare(s, w, quadrature=False).generator_moments(T0=D / 3, n=[1, 4], sigma0=1.0)
    b = kc.prepare(s, w, quadrature=True).generator_moments(T0=D / 3, n=[1, 4], sigma0=1.0)
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.var, b.var)


def test_when_prepare_compresses():
    small = kc.prepare(*kc.power_law(QUADRATURE_MIN_DISTINCT, 1.5, 0.5))
    assert small._sums is small._spec  # exact up to the threshold
    big = kc.prepare(*kc.power_law(QUADRATURE_MIN_DISTINCT + 1, 1.5, 0.5))
    assert big._sums.s.size < 2000 and big._sums.d == QUADRATURE_MIN_DISTINCT + 1
    assert 0 < big.quadrature_error <= QUADRATURE_TOLERANCE
    iso = kc.prepare(*kc.isotropic(10**6), quadrature=True)  # one distinct value: unchanged
    np.testing.assert_array_equal(iso._sums.s, iso._spec.s)
    # a spectrum that does not compress (a few points per bin of log s) stays exact
    spread = np.geomspace(1e-300, 1.0, QUADRATURE_MIN_DISTINCT + 10)
    assert kc.prepare(spread, np.ones_like(spread))._sums.s.size == spread.size
    with pytest.raises(TypeError, match="quadrature must be True, False or None"):
        kc.prepare(*kc.isotropic(4), quadrature="yes")


def test_rule_is_exact_for_polynomials():
    """The Gauss rule of each bin integrates polynomials of degree 2 NODES - 1 in log s exactly
    (to rounding): the defining property, on a spectrum with no teacher energy in some bins."""
    rng = np.random.default_rng(3)
    s = np.sort(np.exp(rng.uniform(-3.0, 0.0, 5000)))
    w = np.where(s > 0.3, rng.normal(size=s.size), 0.0)
    spec = _spectral.compress(s, w)
    quad = _quadrature.compress(spec, bin_width=3.0, tolerance=1.0)  # one bin, no splitting
    assert quad.bins == 1 and quad.spectrum.s.size == 2 * _quadrature.NODES + 2  # + both ends
    t, tq = np.log(spec.s), np.log(quad.spectrum.s)
    for k in range(2 * _quadrature.NODES):
        for exact, rule in ((spec.c, quad.spectrum.c), (spec.q, quad.spectrum.q)):
            assert rule @ tq**k == pytest.approx(exact @ t**k, rel=1e-12)
