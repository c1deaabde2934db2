"""Counter-based random draws of the simulator: one Threefry hash call per compiled program.

Every random number a seed uses is a value of one function of a counter,

.. math:: u(w, j) = \\big(b_{52}(\\mathrm{threefry2x32}(k, (j, w))) + 1/2\\big)\\, 2^{-52}
          \\in (0, 1),

where ``k`` is the seed's key, ``j`` the position and ``w`` the *word* (a 32-bit stream label:
a kind in the top bits, an index below, see :func:`word`).  Threefry-2x32 (Salmon et al. 2011)
is the counter-based generator behind ``jax.random``: distinct counters ``(j, w)`` under one key
give independent uniform 64-bit outputs, of which ``b_52`` keeps the top 52 bits.  Normals are
``Phi^{-1}(u)`` by Wichura's AS241 (:func:`normal`); chi-square variates are exact
Marsaglia-Tsang rejection draws (:func:`draws`).

Why not ``jax.random`` directly: on CPU, XLA generates code for every Threefry instance
separately, and every ``normal``, ``split``, ``fold_in`` or ``chisquare`` call site is one or
several instances, each compiled on its own; a simulator program made with them compiled
several times slower than its algebra.  Here all the draws of a program outside the
generators' scan are one hash call, whatever their number, and the value of a draw depends only
on its counter, not on what else is drawn in the same call (so ``max(n)``, the chunking and the
grid of ``lam`` do not change a seed's draws).

References
----------
J. K. Salmon, M. A. Moraes, R. O. Dror, D. E. Shaw, "Parallel random numbers: as easy as
1, 2, 3", SC 2011.  G. Marsaglia, W. W. Tsang, "A simple method for generating gamma
variables", ACM TOMS 26(3), 2000.  M. J. Wichura, "Algorithm AS 241: The percentage points of
the normal distribution", Applied Statistics 37(3), 1988.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from kernelcollapse._util.keys import threefry_rounds

# Stream kinds, the top bits of a word; the index (a generation, or a chi-square candidate) is
# the low INDEX_BITS bits.
DOWN = 0  # downstream normals: the T x (d + 1) rows, or the Bartlett off-diagonal and h
CHAIN = 1  # exact-law generator increments g_k, d per generation
DOWN_CHI = 2  # chi-square candidates of the Bartlett diagonal, index = candidate
CHAIN_CHI = 3  # chi-square candidates of the exact-law generators, index = candidate
GEN_ROWS = 4  # the T0 x (d + 1) rows of generation k, index = k
INDEX_BITS = 28
MAX_POSITIONS = 2**32  # positions are 32-bit counters

# Marsaglia-Tsang candidates drawn per chi-square variate.  For the shape df/2 + 1 >= 1.5 used
# here one candidate is rejected with probability < 0.02, all ROUNDS with < 2e-7, so drawing
# again with more candidates (a second compiled program) is rare.
ROUNDS = 4


def word(kind: int, index=0):
    """The 32-bit stream label ``kind << INDEX_BITS | index`` (``index`` may be traced)."""
    return jnp.uint32(kind << INDEX_BITS) | jnp.asarray(index).astype(jnp.uint32)


def uniforms(seed_key, blocks):
    """Uniforms in ``(0, 1)`` at positions ``0 .. n - 1`` of each ``(word, n)`` in ``blocks``
    (``start .. start + n - 1`` for a block ``(word, n, start)``).

    One Threefry call for all blocks; returns a list of arrays of shapes ``(n,)``.
    """
    return _split(_uniforms(seed_key, blocks), [b[1] for b in blocks])


def _split(a, sizes):
    out, start = [], 0
    for n in sizes:
        out.append(a[start:start + n])
        start += n
    return out


def _uniforms(seed_key, blocks):
    """The uniforms of ``blocks``, concatenated."""
    blocks = [(b[0], b[1], b[2] if len(b) > 2 else 0) for b in blocks]  # (word, n, start)
    pos = jnp.concatenate([jnp.arange(start, start + n, dtype=jnp.uint32)
                           for _, n, start in blocks])
    words = jnp.concatenate([jnp.broadcast_to(jnp.asarray(w, jnp.uint32), (n,))
                             for w, n, _ in blocks])
    # The rounds written out in jnp, not jax's threefry primitive: on CPU XLA vectorises this
    # and compiles it faster.
    y0, y1 = threefry_rounds(seed_key[0], seed_key[1], pos, words, jnp.uint32)
    # The top 52 bits b as the mantissa of a double in [1, 2): 1 + b 2^-52, then minus 1 plus
    # 2^-53 (both exact) is (b + 1/2) 2^-52.  Built from 32-bit halves: AVX2 has no vector
    # uint64 -> double conversion, and the pair's bitcast is materialised once by XLA (not
    # recomputed, Threefry included, in every consumer of the uniforms).
    hi = jnp.uint32(0x3FF00000) | (y0 >> 12)
    lo = (y0 << 20) | (y1 >> 12)
    one_to_two = jax.lax.bitcast_convert_type(jnp.stack([lo, hi], axis=-1), jnp.float64)
    return (one_to_two - 1.0) + 2.0**-53  # never 0 or 1


# Wichura's AS241 (PPND16) coefficients, constant term first: the central region |u - 1/2| <=
# 0.425 (A / B in r = 0.180625 - (u - 1/2)^2), then the tails in t = sqrt(-log min(u, 1 - u)),
# t <= 5 (C / D in t - 1.6) and t > 5 (E / F in t - 5).  As in CPython's
# statistics.NormalDist.inv_cdf, the same algorithm.
_AS241_A = (3.3871328727963666080e+0, 1.3314166789178437745e+2, 1.9715909503065514427e+3,
            1.3731693765509461125e+4, 4.5921953931549871457e+4, 6.7265770927008700853e+4,
            3.3430575583588128105e+4, 2.5090809287301226727e+3)
_AS241_B = (1.0, 4.2313330701600911252e+1, 6.8718700749205790830e+2, 5.3941960214247511077e+3,
            2.1213794301586595867e+4, 3.9307895800092710610e+4, 2.8729085735721942674e+4,
            5.2264952788528545610e+3)
_AS241_C = (1.42343711074968357734e+0, 4.63033784615654529590e+0, 5.76949722146069140550e+0,
            3.64784832476320460504e+0, 1.27045825245236838258e+0, 2.41780725177450611770e-1,
            2.27238449892691845833e-2, 7.74545014278341407640e-4)
_AS241_D = (1.0, 2.05319162663775882187e+0, 1.67638483018380384940e+0, 6.89767334985100004550e-1,
            1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
            1.05075007164441684324e-9)
_AS241_E = (6.65790464350110377720e+0, 5.46378491116411436990e+0, 1.78482653991729133580e+0,
            2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
            2.71155556874348757815e-5, 2.01033439929228813265e-7)
_AS241_F = (1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
            7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
            2.04426310338993978564e-15)
# 1 / (2k + 1): log m = 2 atanh(s) = 2 sum_k s^(2k+1) / (2k + 1), |s| <= 0.172, 12 terms put the
# truncation below 1e-18 relative.
_ATANH_SERIES = tuple(1.0 / (2 * k + 1) for k in range(12))


def _horner(coef, x, coef_else=None, use_first=None):
    """``sum_k coef[k] x^k``; with ``coef_else``, the coefficients are chosen per entry
    (``coef`` where ``use_first``), so two polynomials cost one evaluation."""
    pick = (lambda a, b: a) if coef_else is None else (lambda a, b: jnp.where(use_first, a, b))
    coef_else = coef if coef_else is None else coef_else
    p = pick(coef[-1], coef_else[-1])
    for a, b in zip(reversed(coef[:-1]), reversed(coef_else[:-1])):
        p = p * x + pick(a, b)
    return p


def _log(x):
    """Natural log of positive normal doubles ``x`` (relative error ~5e-16).  XLA's ``log``
    costs ~4 ns per number on CPU, this ~1 ns: exponent and mantissa from the bits, ``m`` in
    ``[sqrt(1/2), sqrt(2))``, then the atanh series in ``s = (m - 1) / (m + 1)``."""
    b = jax.lax.bitcast_convert_type(x, jnp.int64)
    m = jax.lax.bitcast_convert_type((b & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000, jnp.float64)
    e = (b >> 52) - 1023
    big = m > 1.4142135623730951
    m = jnp.where(big, 0.5 * m, m)
    e = jnp.where(big, e + 1, e).astype(jnp.float64)
    f = m - 1.0
    s = f * (1.0 / (2.0 + f))  # a quotient with one user: XLA keeps the normals one fusion
    return e * 0.6931471805599453 + 2.0 * s * _horner(_ATANH_SERIES, s * s)


def normal(u):
    """Standard normals ``Phi^{-1}(u)`` from uniforms in ``(0, 1)``: Wichura's AS241 (PPND16),
    relative accuracy ~1e-16 over the whole range.

    Rather than ``sqrt(2) erfinv(2u - 1)`` (``jax.random.normal``): XLA's float64 ``erf_inv``
    costs ~10 ns per number on CPU, most of a simulation's time at large ``d``, and is off by
    ~1e-10 relative beyond 5.7 standard deviations; this is ~3 ns.  Both branches are computed
    for every entry (vector code), so the tail's log is the cheap :func:`_log`, and one
    division serves both.

    References
    ----------
    M. J. Wichura, "Algorithm AS 241: The percentage points of the normal distribution",
    Applied Statistics 37(3), 477-484, 1988.
    """
    q = u - 0.5  # exact: u is a multiple of 2^-53 in (0, 1)
    central = jnp.abs(q) <= 0.425
    r = 0.180625 - q * q
    t = jnp.sqrt(-_log(jnp.minimum(u, 1.0 - u)))
    near = t <= 5.0
    t = jnp.where(near, t - 1.6, t - 5.0)
    num = jnp.where(central, q * _horner(_AS241_A, r),
                    jnp.sign(q) * _horner(_AS241_C, t, _AS241_E, near))
    den = jnp.where(central, _horner(_AS241_B, r), _horner(_AS241_D, t, _AS241_F, near))
    return num / den


def _marsaglia_tsang(x, u, boost, df):
    """``(chi2, accepted)`` of one candidate per entry: normal ``x``, uniforms ``u`` and
    ``boost``, all of shape ``(..., K)``.

    ``Y ~ Gamma(a + 1)`` by Marsaglia-Tsang with ``a = df / 2``: ``x`` normal, ``v = (1 +
    c x)^3``, accepted when ``v > 0`` and ``log u < x^2/2 + b - b v + b log v`` (``b = a +
    2/3``, ``c = 1/sqrt(9b)``); then ``2 Y U^(1/a) ~ 2 Gamma(a) = chi2(df)`` with a third
    uniform ``U`` (their boost for shapes below 1, used for every ``df`` so that ``df = 1``
    needs no branch).
    """
    b = df / 2.0 + 2.0 / 3.0
    c = 1.0 / jnp.sqrt(9.0 * b)
    v = (1.0 + c * x) ** 3
    log_v = jnp.log(jnp.where(v > 0, v, 1.0))
    ok = (v > 0) & (jnp.log(u) < 0.5 * x * x + b * (1.0 - v + log_v))
    # The exponent as log(boost) times (2 / df), not (log(boost) * 2) / df: XLA compiles the
    # quotient differently in a loop's vector code and in its scalar remainder, so the variate's
    # last bit depended on the size of the array it was computed in (the number of rounds).
    return 2.0 * b * v * jnp.exp(jnp.log(boost) * (2.0 / df)), ok


def draws(seed_key, normals=(), chis=(), *, rounds: int = ROUNDS):
    """Normals and exact chi-square variates of one seed, from one Threefry call.

    Parameters
    ----------
    seed_key : uint32 array, shape (2,)
    normals : sequence of (word, n) or (word, n, start)
        ``n`` standard normals at positions ``0 .. n - 1`` (``start .. start + n - 1``) of
        ``word``.
    chis : sequence of (kind, df)
        ``df`` (float array, shape ``(K,)``, values ``>= 1``): one ``chi2(df_e)`` per entry
        ``e``, its first accepted Marsaglia-Tsang candidate; candidate ``i`` of entry ``e`` is
        the uniforms at positions ``3e, 3e + 1, 3e + 2`` of ``word(kind, i)``.
    rounds : int
        Marsaglia-Tsang candidates drawn per entry (the rounds of the rejection sampler).

    Returns
    -------
    normals : list of arrays (n,)
    chis : list of arrays (K,)
        NaN where none of the ``rounds`` candidates was accepted.
    complete : bool array, shape ()
        Every entry has its value.  If not (probability < 2e-7 per entry with ``ROUNDS``), draw
        again with more rounds: an entry's value is its first accepted candidate, so the
        entries already complete keep theirs and the others continue the same sequence.  No
        loop in the program: a ``while`` costs ~0.5 s of compilation on CPU.
    """
    normals, chis = tuple(normals), tuple(chis)
    sizes = [jnp.shape(v)[0] for _, v in chis]
    blocks = normals + tuple((word(kind, i), 3 * k) for i in range(rounds)
                             for (kind, _), k in zip(chis, sizes))
    u = _uniforms(seed_key, blocks)
    if not chis:
        return _split(normal(u), [b[1] for b in normals]), [], jnp.bool_(True)
    # One inverse-CDF over every position (the candidates' uniform slots are wasted), kept as
    # one fusion: XLA would otherwise copy the inverse-CDF code into each consumer (compile time).
    z, u = jax.lax.optimization_barrier((normal(u), u))
    n_normal = sum(b[1] for b in normals)
    z_out = _split(z, [b[1] for b in normals])
    df = jnp.concatenate([jnp.asarray(v, jnp.float64) for _, v in chis])
    cand_z = z[n_normal:].reshape(rounds, df.shape[0], 3)
    cand_u = u[n_normal:].reshape(rounds, df.shape[0], 3)
    y, ok = _marsaglia_tsang(cand_z[..., 0], cand_u[..., 1], cand_u[..., 2], df)
    chi = jnp.full(df.shape, jnp.nan)
    for i in reversed(range(rounds)):  # the first accepted candidate wins
        chi = jnp.where(ok[i], y[i], chi)
    return z_out, _split(chi, sizes), ok.any(axis=0).all()
