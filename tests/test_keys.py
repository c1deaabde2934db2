"""One randomness convention, ``key=``: an int or a JAX key, the same guarantees everywhere.

For every function that draws: a given key gives identical results; the int ``i``,
``jax.random.PRNGKey(i)`` and ``jax.random.key(i)`` are the same key; seed ``i`` of a run
with ``k`` seeds is seed ``i`` of a run with more seeds; a bad key is a clear error.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from kernelcollapse import datasets, kernels
from kernelcollapse.cli import main
from kernelcollapse.zoo import discrete, gaussian


def _discrete(seeds, key):
    c = discrete.simulate_discrete([0.5, 0.3, 0.2], N=12, generations=6, seeds=seeds, key=key,
                                   progress=False)
    return c.frequencies, c.extinction_time.T, c.homozygosity


def _gaussian(sampler):
    def run(seeds, key):
        c = gaussian.simulate_gaussian(N=6, generations=5, seeds=seeds, key=key, sampler=sampler,
                                       progress=False)
        return c.mu, c.sigma
    return run


# run(seeds, key) -> arrays with seeds on axis `axis`; rtol of the prefix comparison
CHAINS = {
    "discrete": (_discrete, 1, 0.0),
    "gaussian-samples": (_gaussian("samples"), 1, 0.0),
    "gaussian-sufficient": (_gaussian("sufficient"), 1, 0.0),
}
# The JAX chains, zoo.simulate_mixture and realdata.simulate_collapse, are checked the same
# way in their own test files, on the shapes those compile anyway.


def _equal(a, b, rtol=0.0):
    for x, y in zip(a, b):
        if rtol:
            np.testing.assert_allclose(x, y, rtol=rtol, atol=1e-14)
        else:
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("name", list(CHAINS))
def test_key_convention(name):
    run, axis, rtol = CHAINS[name]
    a = run(3, 7)
    _equal(a, run(3, 7))                                   # same key, identical results
    _equal(a, run(3, jax.random.PRNGKey(7)))               # int i == PRNGKey(i) == key(i)
    _equal(a, run(3, jax.random.key(7)))
    more = run(5, 7)                                       # seeds 0..2 of a run with 5 seeds
    _equal(a, [np.take(x, range(3), axis=axis) for x in more], rtol)
    other = run(3, 8)
    assert not all(np.array_equal(x, y) for x, y in zip(a, other))


@pytest.mark.parametrize("bad", [-1, 2**63, 1.5, "0", np.zeros(3, np.uint32)])
def test_bad_key_is_a_clear_error(bad):
    with pytest.raises((TypeError, ValueError), match="key must be an integer in"):
        discrete.simulate_discrete([0.5, 0.5], N=5, generations=2, seeds=2, key=bad,
                                   progress=False)


def test_subsampling_functions_take_keys():
    x = np.random.default_rng(1).normal(size=(50, 2))
    split = datasets.split_pool(x, np.arange(50), n_pool=20, n_test=10, key=3)
    same = datasets.split_pool(x, np.arange(50), n_pool=20, n_test=10, key=jax.random.key(3))
    np.testing.assert_array_equal(split.y_pool, same.y_pool)
    h = kernels.median_bandwidth(x, max_points=10, key=jax.random.PRNGKey(4))
    assert h == kernels.median_bandwidth(x, max_points=10, key=4)
    assert h != kernels.median_bandwidth(x, max_points=10, key=5)
    for call in (lambda: datasets.split_pool(x, x, n_pool=2, n_test=2, key=-1),
                 lambda: kernels.median_bandwidth(x, key="a")):
        with pytest.raises((TypeError, ValueError), match="key must be"):
            call()


def test_cli_takes_key(capsys):
    argv = ["zoo", "gaussian", "--N", "5", "--generations", "3", "--seeds", "20", "--json",
            "--no-progress"]
    outs = []
    for key in ("4", "4", "5"):
        assert main(argv + ["--key", key]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] != outs[2]
