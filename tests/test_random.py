"""The simulator's counter-based random draws: bit-exact Threefry against JAX's, the laws of the
uniforms, normals and chi-square variates, and the counter property behind the invariances."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.extend.random import threefry_2x32
from scipy import stats

from kernelcollapse._util.keys import master_key, seed_keys, threefry2x32_numpy
from kernelcollapse._util.x64 import float64
from kernelcollapse.simulator import _random as R

KEYS = seed_keys(master_key(2026), 200)


@pytest.fixture(autouse=True)
def _float64():
    """The private JAX cores run inside the float64 scope the public functions open."""
    with float64():
        yield


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**32 + 7, 2**63 - 1])
def test_numpy_keys_are_jax_keys(seed):
    """The per-seed keys computed in numpy are jax's PRNGKey and split, bit for bit."""
    master = jax.random.PRNGKey(seed)
    np.testing.assert_array_equal(master_key(seed), np.asarray(master))
    for n in (1, 2, 50, 1001):
        np.testing.assert_array_equal(seed_keys(master_key(seed), n),
                                      np.asarray(jax.random.split(master, n)))


def test_numpy_threefry_is_jax_threefry():
    rng = np.random.default_rng(0)
    key = rng.integers(0, 2**32, 2, dtype=np.uint32)
    x0, x1 = rng.integers(0, 2**32, (2, 1000), dtype=np.uint32)
    want = np.asarray(threefry_2x32((jnp.uint32(key[0]), jnp.uint32(key[1])),
                                    jnp.asarray(np.concatenate([x0, x1]))))
    np.testing.assert_array_equal(np.concatenate(threefry2x32_numpy(key, x0, x1)), want)


def test_uniforms_are_jax_threefry_bits():
    """``uniforms`` writes the Threefry rounds out in jnp: its values are the top 52 bits of
    jax's own threefry_2x32 of the counters ``(position, word)``, plus 1/2, times 2^-52."""
    key = KEYS[3]
    w = int(R.word(R.CHAIN_CHI, 2))
    (u,) = R.uniforms(jnp.asarray(key), ((w, 1001),))
    pos = np.arange(1001, dtype=np.uint32)
    y = np.asarray(threefry_2x32((jnp.uint32(key[0]), jnp.uint32(key[1])),
                                 jnp.asarray(np.concatenate([pos, np.full(1001, w, np.uint32)]))))
    bits = (y[:1001].astype(np.uint64) << np.uint64(20)) | (y[1001:].astype(np.uint64)
                                                            >> np.uint64(12))
    np.testing.assert_array_equal(np.asarray(u), (bits.astype(np.float64) + 0.5) * 2.0**-52)


def _draw(blocks_normal=(), chis=(), rounds=R.ROUNDS):
    """``draws`` for every key of KEYS, under jit and vmap as the simulator calls it:
    ``(normals, chis, complete)``, ``complete`` per key."""
    fn = jax.jit(jax.vmap(lambda k: R.draws(k, blocks_normal, chis, rounds=rounds)))
    z, chi, complete = fn(jnp.asarray(KEYS))
    return [np.asarray(a) for a in z], [np.asarray(a) for a in chi], np.asarray(complete)


def test_uniforms_open_interval_and_counter_property():
    """A draw depends on its counter only: the first positions of a word are the same whatever
    else is drawn in the same call."""
    key = jnp.asarray(KEYS[0])
    (a,) = R.uniforms(key, ((R.word(R.DOWN), 5),))
    b, c = R.uniforms(key, ((R.word(R.CHAIN, 3), 7), (R.word(R.DOWN), 100)))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(c)[:5])
    assert not np.allclose(np.asarray(b)[:5], np.asarray(a))  # another word, other values
    (tail,) = R.uniforms(key, ((R.word(R.DOWN), 5, 95),))  # a block that starts at 95
    np.testing.assert_array_equal(np.asarray(tail), np.asarray(c)[95:])
    u = np.asarray(jax.vmap(lambda k: R.uniforms(k, ((R.word(R.DOWN), 1000),))[0])(
        jnp.asarray(KEYS))).ravel()
    assert u.dtype == np.float64 and 0.0 < u.min() and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 1e-3


def test_normals_are_standard_normal():
    (z,), _, _ = _draw(((R.word(R.DOWN), 500),))
    z = z.ravel()  # 1e5 draws
    assert stats.kstest(z, "norm").pvalue > 1e-3
    # Moments with their standard errors (var(z^2) = 2, var(z^4)/n from the 8th moment 105).
    n = z.size
    assert abs(z.mean()) < 4 / np.sqrt(n)
    assert abs(np.mean(z**2) - 1) < 4 * np.sqrt(2 / n)
    assert abs(np.mean(z**4) - 3) < 4 * np.sqrt(96 / n)


def _uniform_grid():
    """Uniforms as the generator makes them ((b + 1/2) 2^-52, b of 52 bits), 1e5 at random and
    the extremes: powers of two towards 0 and 1, the branch points 0.075 and 0.925 of AS241,
    and the neighbours of 1/2."""
    b = np.random.default_rng(11).integers(0, 2**52, 100_000, dtype=np.uint64)
    e = 2.0 ** -np.arange(1.0, 53.0, 0.125)
    edges = [2.0**-53, 1 - 2.0**-53, 0.075, 0.925, 0.075 + 2.0**-52, 0.5, 0.5 - 2.0**-53]
    return np.concatenate([(b.astype(np.float64) + 0.5) * 2.0**-52, e, 1 - e, edges])


def test_normal_is_the_inverse_normal_cdf_to_double_precision():
    """``normal`` against two independent inverse CDFs, scipy's ndtri (Cephes) and CPython's
    statistics.NormalDist.inv_cdf (AS241 with libm's log): ~1e-15 relative over the whole range,
    tails included (``sqrt(2) erfinv(2u - 1)`` in XLA is off by ~1e-10 beyond 5.7 sigma)."""
    from statistics import NormalDist

    from scipy.special import ndtri

    u = _uniform_grid()
    z = np.asarray(jax.jit(R.normal)(jnp.asarray(u)))
    for ref in (ndtri(u), np.array([NormalDist().inv_cdf(x) for x in u])):
        np.testing.assert_allclose(z, ref, rtol=4e-15, atol=1e-300)
    assert np.all(np.sign(z) == np.sign(u - 0.5))


def test_log_matches_numpy():
    x = np.concatenate([np.geomspace(1e-300, 1e300, 20001), _uniform_grid()])
    np.testing.assert_allclose(np.asarray(jax.jit(R._log)(jnp.asarray(x))), np.log(x),
                               rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("df", [1.0, 2.0, 3.0, 9.0, 201.0])
def test_chisquare_law(df):
    """Kolmogorov-Smirnov against scipy's chi2(df), 2e4 variates (a sampler without the
    U^(2/df) boost, or one that kept rejected candidates, fails this)."""
    chis = ((R.DOWN_CHI, jnp.full((100,), df)),)
    _, (chi,), complete = _draw((), chis)
    assert complete.all() and chi.shape == (200, 100)
    assert stats.kstest(chi.ravel(), stats.chi2(df).cdf).pvalue > 1e-3


def test_chisquare_with_too_few_candidates_continues_the_same_sequence():
    """With one candidate per entry ~2% of the entries have none accepted: they are NaN and
    the key is flagged incomplete.  Drawn again with more candidates, the complete entries
    keep their values (each is its first accepted candidate) and the law is still chi2."""
    chis = ((R.DOWN_CHI, jnp.ones(100)), (R.CHAIN_CHI, jnp.full((10,), 9.0)))
    _, few, complete = _draw((), chis, rounds=1)
    _, more, complete_more = _draw((), chis, rounds=8)
    assert not complete.all() and complete_more.all()
    for a, b in zip(few, more):
        done = np.isfinite(a)
        assert 0.9 < done.mean() < 1.0
        np.testing.assert_array_equal(a[done], b[done])
    assert np.isnan(few[0][~complete]).any(axis=1).all()  # incomplete keys have a NaN entry
    assert stats.kstest(more[0].ravel(), stats.chi2(1.0).cdf).pvalue > 1e-3


def test_marsaglia_tsang_rejects_rarely():
    """The acceptance rate of one candidate at the smallest shape used (df = 1) is ~0.98, the
    reason ROUNDS = 4 candidates almost never need a second program."""
    u = np.asarray(R.uniforms(jnp.asarray(KEYS[1]), ((R.word(R.DOWN_CHI), 3 * 20000),))[0])
    u = jnp.asarray(u.reshape(-1, 3))
    _, ok = R._marsaglia_tsang(R.normal(u[:, 0]), u[:, 1], u[:, 2], jnp.ones(20000))
    assert 0.95 < float(np.mean(ok)) < 1.0


def test_normals_do_not_depend_on_the_chi_squares_drawn_with_them():
    blocks = ((R.word(R.DOWN), 50), (R.word(R.CHAIN), 30))
    (a, b), _, _ = _draw(blocks)
    (c, e), _, _ = _draw(blocks, ((R.DOWN_CHI, jnp.arange(1.0, 11.0)),))
    np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(b, e)
