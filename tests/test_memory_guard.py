"""Memory checks outside ``simulate``: the built-in problems, the theory, ``optimal_lambda`` and
the ``theory`` command estimate their memory and refuse, before allocating, what the machine
cannot hold (``kernelcollapse theory --d 1000000000`` grew to 22 GB until the kernel killed
it; ``optimal_lambda(points_per_decade=10**9)`` asked numpy for 87 GiB).

The estimates are checked against tracemalloc's peak (numpy reports its allocations to it):
never below the peak, and not far above it."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import kernelcollapse as kc
from kernelcollapse._util import memory as _memory
from kernelcollapse.cli import main
from kernelcollapse.theory import (
    _prepared as prepared,
)
from kernelcollapse.theory import (
    _problems as problems,
)
from kernelcollapse.theory import _search

D = 10**6  # large enough that the fixed costs are a small part of the peak


def _peak(call) -> int:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def big():
    return kc.power_law(D, 1.5, 0.5)


KW = dict(T=400, T0=800, n=[0, 1, 2, 5], lam=1e-2, sigma=0.5, sigma0=1.0)


@pytest.mark.parametrize("name", ["isotropic", "power_law"])
def test_problem_estimates_bound_the_peak(name):
    make = getattr(kc, name)
    args = (D,) if name == "isotropic" else (D, 1.5, 0.5)
    estimate = problems.BYTES_PER_DIM[name] * D
    peak = _peak(lambda: make(*args))
    assert peak <= estimate <= 2 * peak


@pytest.mark.parametrize("exact", [False, True])
def test_theory_estimate_bounds_the_peak(big, exact):
    s, w = big
    estimate = prepared.PREPARE_BYTES_PER_DIM[exact] * D
    calls = [lambda: kc.prepare(s, w, quadrature=not exact).test_error(**KW),
             lambda: kc.prepare(s, w, quadrature=not exact).optimal_lambda(
                 T=400, T0=800, n=5, sigma=0.5, sigma0=1.0)]
    if exact:
        calls.append(lambda: kc.generator_moments(s, w, T0=800, n=3, sigma0=0.5))
    peaks = [_peak(call) for call in calls]
    assert max(peaks) <= estimate <= 2 * max(peaks), peaks


def test_moments_estimate_bounds_the_peak():
    s, w = kc.power_law(10**5, 1.5, 0.5)
    ns = np.arange(20)
    peak = _peak(lambda: kc.generator_moments(s, w, T0=800, n=ns, sigma0=0.5))
    estimate = (prepared.MOMENTS_BYTES_PER_ENTRY * ns.size
                + prepared.PREPARE_BYTES_PER_DIM[False]) * s.size
    assert peak <= estimate <= 2 * peak


def test_optimizer_estimate_bounds_the_peak():
    s, w = kc.power_law(1000, 1.5, 0.5)
    sizes = []
    check = _memory.check_machine

    def spy(what, nbytes, hint):
        if what.startswith("optimal_lambda"):
            sizes.append(nbytes)
        check(what, nbytes, hint)

    for T in (400, [100, 200, 400, 800]):
        sizes.clear()

        def call(T=T):
            kc.optimal_lambda(s, w, T=T, T0=800, n=5, sigma=0.5, sigma0=1.0,
                              points_per_decade=10**5)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(_memory, "check_machine", spy)
            peak = _peak(call)
        assert peak <= sizes[0] <= 2 * peak


@pytest.fixture
def little_memory(monkeypatch):
    """A machine with 64 MiB available."""
    monkeypatch.setattr(_memory, "available", lambda: 64.0 * 2**20)


def _refused_before_allocating(call, match, *, limit=2**20):
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=match):
            call()
        assert tracemalloc.get_traced_memory()[1] < limit
    finally:
        tracemalloc.stop()


def test_refused_before_allocating(little_memory):
    avail = r"beyond the 64 MiB \(67108864 bytes\) available on this machine; "
    _refused_before_allocating(lambda: kc.power_law(10**8, 1.5, 0.5),
                               r"^power_law\(d=100000000\) needs about 5.96 GiB "
                               rf"\(6400000000 bytes\) of memory, {avail}use a smaller d$")
    _refused_before_allocating(lambda: kc.isotropic(10**8), r"^isotropic\(d=100000000\) needs")
    s, w = kc.power_law(10**5, 1.5, 0.5)  # 0.8 MB each, 16 MB for the theory: it fits
    assert np.isfinite(kc.test_error(s, w, **KW).total).all()
    _refused_before_allocating(
        lambda: kc.optimal_lambda(s, w, T=400, T0=800, n=5, sigma=0.5, sigma0=1.0,
                                  points_per_decade=10**9),
        r"^optimal_lambda with points_per_decade = 1000000000 \(\d+ search nodes for each of 1 "
        rf"points\) needs about .* of memory, {avail}use a smaller points_per_decade",
        limit=prepared.PREPARE_BYTES_PER_DIM[False] * s.size)  # the spectrum's, not the grid's
    _refused_before_allocating(
        lambda: kc.generator_moments(s, w, T0=800, n=np.arange(100), sigma0=0.5),
        rf"^generator_moments for 100 generations x d = 100000 needs .*{avail}ask for fewer",
        limit=prepared.PREPARE_BYTES_PER_DIM[False] * s.size)  # the spectrum's, not the moments'

    s, w = kc.power_law(10**6, 1.5, 0.5)  # 16 MB: it is there; the theory's 160 MB is not
    for call in (lambda: kc.test_error(s, w, **KW), lambda: kc.prepare(s, w),
                 lambda: kc.optimal_lambda(s, w, T=400, T0=800, n=5, sigma=0.5, sigma0=1.0)):
        _refused_before_allocating(call, r"^the theory for d = 1000000 dimensions needs about "
                                         rf"153 MiB \(160000000 bytes\) of memory, {avail}",
                                   limit=4 * 2**20)  # the validation's masks, 1 byte a dimension
    assert _search.BYTES_PER_NODE > 0


def test_theory_command_refuses_before_building_the_problem(little_memory, capsys):
    for argv, what in (
            (["--d", "1000000000"], "--d 1000000000 needs about 171 GiB"),
            (["--spectrum", "power_law", "--d", "10000000"], "--d 10000000 needs about 2.09 GiB"),
            (["--lam", "lin:0.1:1:100000000"], "'lin:0.1:1:100000000' needs about 763 MiB"),
            (["--lam", "lin:0.1:1:10000", "--T", "lin:100:1000:1000"],
             "the grid of 40000000 points (the product of the lists' lengths) needs about")):
        tracemalloc.start()
        try:
            with pytest.raises(SystemExit) if what.startswith("'") else _no_exit():
                assert main(["theory", *argv]) == 2
            assert tracemalloc.get_traced_memory()[1] < 8 * 2**20  # the parser's own
        finally:
            tracemalloc.stop()
        err = capsys.readouterr().err
        assert what in err.splitlines()[-1] and "Traceback" not in err, err


class _no_exit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
