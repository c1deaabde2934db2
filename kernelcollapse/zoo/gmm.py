"""Collapse of a 1-D Gaussian mixture refitted by EM on its own samples (JAX, batched).

State of one chain after generation ``i``: the fitted mixture ``theta_i`` (weights,
means, variances of ``C`` components) and the training set ``D_i`` (``N`` points).
Generation 0 is the original mixture ``theta_0`` with ``D_0`` = ``N`` samples of it.
Generation ``i+1`` trains on

* ``round(fresh * N)`` fresh samples of the original ``theta_0``,
* ``round(previous * N)`` points subsampled without replacement from ``D_i``,
* the rest, ``N - n_fresh - n_previous``, samples of the latest fit ``theta_i``,

and ``theta_{i+1}`` is the maximum-likelihood mixture found by EM started from
``theta_i`` (iterated to convergence).  ``fresh = previous = 0`` is the pure recursive
setting of Shumailov et al. (2024), where the fitted variances shrink and the weights
drift toward one component; ``fresh > 0`` anchors the chain (cf. the accumulation /
mixing workflows of Gerstgrasser et al. 2024).

All ``S`` seeds advance together: one chain's generation is vmapped over the seeds (each
with its own key), a ``lax.while_loop`` runs EM to convergence (each seed until its largest
parameter change is ``< tol``), and ``lax.scan`` runs blocks of generations inside one
jit-compiled function (the Python loop over blocks only drives the progress bar).

Separated-components approximation (reference line, not exact): when components do not
overlap, component ``k`` is a single Gaussian refitted by ML on ``~N w_k`` points, so
``E[v_k^(n)] ~ v_k (1 - 1/(N w_k))^n`` and ``E[log v_k^(n)] ~ log v_k + n (psi(m/2) +
log(2/(m+1)))`` with ``m = N w_k - 1``; the weights follow a two-type Wright–Fisher
chain, ``Var(w^(n)) ~ w (1 - w)(1 - (1 - 1/N)^n)``.  See :func:`separated_approximation`.

References
----------
.. [1] I. Shumailov et al., "AI models collapse when trained on recursively generated
   data", Nature 631 (2024); arXiv:2305.17493 ("The Curse of Recursion").
.. [2] M. Gerstgrasser et al., "Is model collapse inevitable? Breaking the curse of
   recursion by accumulating real and synthetic data", arXiv:2404.01413 (2024).
.. [3] A. P. Dempster, N. M. Laird and D. B. Rubin, "Maximum likelihood from incomplete
   data via the EM algorithm", J. R. Stat. Soc. B 39 (1977) 1–38.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from kernelcollapse._util import keys as _keys
from kernelcollapse._util import validate
from kernelcollapse._util.keys import Key
from kernelcollapse._util.x64 import uses_float64
from kernelcollapse.zoo._common import progress_bar

__all__ = ["MixtureChain", "MixtureApproximation", "simulate_mixture", "separated_approximation"]


class MixtureChain(NamedTuple):
    """Result of :func:`simulate_mixture`.

    Attributes
    ----------
    weights, means, variances : ndarray, shape (G + 1, S, C)
        Fitted mixture at generations ``0..G`` (row 0 is the original) for each of the
        ``S`` seeds; component ``k`` keeps its identity along the chain (warm starts).
    log_likelihood : ndarray, shape (G, S)
        Mean log-likelihood of each generation's training set under its fit.
    em_iterations : ndarray of int, shape (G, S)
        EM iterations of each seed at each generation (``max_iter`` means the tolerance
        was not reached).
    """

    weights: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    log_likelihood: np.ndarray
    em_iterations: np.ndarray


class MixtureApproximation(NamedTuple):
    """Separated-components approximation (:func:`separated_approximation`), shape (n, C).

    Attributes
    ----------
    variance : E[v_k^(n)]
    log_variance : E[log v_k^(n)]
    weight_sd : sd of w_k^(n) (two-type Wright–Fisher)
    """

    variance: np.ndarray
    log_variance: np.ndarray
    weight_sd: np.ndarray


def _check_mixture(weights, means, sds):
    weights = validate.probability_vector("weights", weights, min_length=1)
    means = validate.vector("means", means)
    sds = validate.vector("sds", sds)
    if not (weights.size == means.size == sds.size):
        raise ValueError(f"weights, means and sds must have the same length, got "
                         f"{weights.size}, {means.size} and {sds.size}")
    validate.positive("sds", sds)
    if np.any(weights == 0):
        raise ValueError("weights must be > 0 (drop components with weight 0)")
    return weights, means, sds


@uses_float64
def simulate_mixture(*, weights: ArrayLike = (0.5, 0.5), means: ArrayLike = (-2.0, 2.0),
                     sds: ArrayLike = (1.0, 1.0),
                     N: int = 10_000, generations: int = 2000, seeds: int = 8,
                     fresh: float = 0.0, previous: float = 0.0, key: Key = 0,
                     max_iter: int = 200, tol: float = 1e-7, var_floor: float = 1e-8,
                     block: int = 50, progress: bool = True) -> MixtureChain:
    """Refit a 1-D Gaussian mixture by EM on samples of its latest fit, ``seeds`` chains
    at once.

    Parameters
    ----------
    weights, means, sds : array_like, shape (C,)
        The original mixture (weights > 0 summing to 1, sds > 0).
    N : int
        Training-set size per generation, ``N >= 3 C`` (more points than the
        ``3C - 1`` free parameters).
    generations : int
        Number of refits ``G >= 1``.
    seeds : int
        Independent chains ``S`` (batched, not looped).
    fresh, previous : float in [0, 1]
        Fractions of each training set that are fresh samples of the original and a
        subsample of the previous training set; ``fresh + previous <= 1``, the rest are
        samples of the latest fit.
    key : int or jax PRNG key
        Master key (an int in ``[0, 2**63)`` or a JAX key).  Seed ``i`` has key ``k_i =
        jax.random.split(key, seeds)[i]`` and generation ``g`` of it draws from
        ``fold_in(k_i, g)``: a given key gives identical results, and chain ``i`` depends
        neither on ``block`` nor on the number of seeds.
    max_iter, tol : int, float
        EM stops, for each seed on its own, when the largest change of a weight, of a
        mean (in units of the training set's sd) or of a variance (in units of its
        variance), over the components, in one EM step is below ``tol``, or after
        ``max_iter`` EM steps.
    var_floor : float
        Added to each fitted variance (as scikit-learn's ``reg_covar``) so a component
        fitted on one point stays a proper density.
    block : int
        Generations per jit-compiled ``lax.scan`` block (progress granularity).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    MixtureChain
    """
    weights, means, sds = _check_mixture(weights, means, sds)
    C = weights.size
    N = validate.integer("N", N, minimum=1)
    if N < 3 * C:
        raise ValueError(f"N must be >= 3*C = {3 * C} for a mixture of C={C} components "
                         f"(3C-1 free parameters), got N={N}")
    generations = validate.integer("generations", generations, minimum=1)
    seeds = validate.integer("seeds", seeds, minimum=1)
    fresh = validate.real("fresh", fresh, low=0.0, high=1.0)
    previous = validate.real("previous", previous, low=0.0, high=1.0)
    if fresh + previous > 1.0 + 1e-12:
        raise ValueError(f"the ratios must sum to at most 1: fresh + previous = "
                         f"{fresh} + {previous} = {fresh + previous} > 1 (the rest, "
                         f"1 - fresh - previous, are samples of the latest fit)")
    key = _keys.key_data(key)
    max_iter = validate.integer("max_iter", max_iter, minimum=1)
    tol = validate.real("tol", tol, low=0.0, low_open=True)
    var_floor = validate.real("var_floor", var_floor, low=0.0)
    block = validate.integer("block", block, minimum=1)
    n_fresh = int(round(fresh * N))
    n_prev = int(round(previous * N))
    n_model = N - n_fresh - n_prev
    return _simulate(weights, means, sds**2, N, generations, seeds, n_fresh, n_prev, n_model,
                     key, max_iter, tol, var_floor, min(block, generations), progress)


def _simulate(w0, m0, v0, N, generations, seeds, n_fresh, n_prev, n_model, key, max_iter,
              tol, var_floor, block, progress) -> MixtureChain:
    import jax.numpy as jnp

    keys = jnp.asarray(_keys.seed_keys(key, seeds))
    original = tuple(jnp.asarray(a, dtype=jnp.float64) for a in (w0, m0, v0))
    params = tuple(jnp.broadcast_to(a, (seeds, a.shape[0])) for a in original)
    data = _initial_data(keys, params, N)
    hist = {"w": [np.asarray(params[0])[None]], "m": [np.asarray(params[1])[None]],
            "v": [np.asarray(params[2])[None]], "ll": [], "it": []}
    sizes = (n_fresh, n_prev, n_model, max_iter)
    consts = (jnp.float64(tol), jnp.float64(var_floor))
    start = 1
    with progress_bar(generations, enabled=progress, desc="mixture EM") as bar:
        while start <= generations:
            # Every block has the same length (one compilation); the last one is padded
            # with generations past the end, whose results are dropped.
            length = min(block, generations - start + 1)
            gens = jnp.arange(start, start + block)
            params, data, rec = _run_block(keys, original, params, data, gens, consts, sizes)
            for name, arr in zip(("w", "m", "v", "ll", "it"), rec):
                hist[name].append(np.asarray(arr)[:length])
            start += length
            bar.update(length)
    return MixtureChain(
        weights=np.concatenate(hist["w"]),
        means=np.concatenate(hist["m"]),
        variances=np.concatenate(hist["v"]),
        log_likelihood=np.concatenate(hist["ll"]),
        em_iterations=np.concatenate(hist["it"]).astype(np.int64),
    )


# The cores below are written for one chain (one seed) and vmapped over the seeds: each seed
# draws from its own key and its EM stops on its own, so a chain does not depend on the others.


def _sample_mixture(key, w, m, v, n):
    """``n`` samples of the mixture ``(w, m, v)``, each of shape (C,)."""
    import jax
    import jax.numpy as jnp

    k1, k2 = jax.random.split(key)
    C = w.shape[0]
    cdf = jnp.cumsum(w)[:-1] / jnp.sum(w)  # (C-1,)
    u = jax.random.uniform(k1, (n, 1), dtype=jnp.float64)
    comp = jnp.sum(u >= cdf[None, :], axis=1) if C > 1 else jnp.zeros(n, jnp.int32)
    return m[comp] + jnp.sqrt(v[comp]) * jax.random.normal(k2, (n,), dtype=jnp.float64)


def _em_map(x, x2, w, m, v, var_floor):
    """One EM update of a 1-D mixture: data x, x2 = x^2 (N,), parameters (C,).

    The log-density of component k is the quadratic ``a_k + b_k x + c_k x^2``, so the
    E-step costs C fused multiply-adds and one softmax per point.
    """
    import jax
    import jax.numpy as jnp

    N = x.shape[0]
    a = jnp.log(w) - 0.5 * jnp.log(2 * jnp.pi * v) - 0.5 * m * m / v
    b = m / v
    c = -0.5 / v
    logp = a[:, None] + b[:, None] * x[None, :] + c[:, None] * x2[None, :]
    r = jax.nn.softmax(logp, axis=0)                        # (C, N)
    nk = r.sum(axis=1)                                      # (C,)
    s1 = r @ x
    s2 = r @ x2
    alive = nk > 1e-12 * N                                  # dead components keep m, v
    safe = jnp.where(alive, nk, 1.0)
    m_new = jnp.where(alive, s1 / safe, m)
    v_new = jnp.where(alive, jnp.maximum(s2 / safe - m_new * m_new, 0.0) + var_floor, v)
    w_new = jnp.maximum(nk / N, 1e-300)
    return w_new, m_new, v_new


def _log_likelihood(x, w, m, v):
    import jax
    import jax.numpy as jnp

    logp = (jnp.log(w)[:, None] - 0.5 * jnp.log(2 * jnp.pi * v)[:, None]
            - 0.5 * (x[None, :] - m[:, None]) ** 2 / v[:, None])
    return jax.scipy.special.logsumexp(logp, axis=0).mean()


def _em(x, w, m, v, tol, var_floor, max_iter):
    """EM to convergence, accelerated by SQUAREM (Varadhan & Roland 2008), for one chain.

    One cycle from ``u0`` (coordinates ``log w, m, log v``): ``u1 = T(u0)``,
    ``u2 = T(u1)``, ``r = u1 - u0``, ``d = u2 - 2 u1 + u0``, step
    ``alpha = min(-1, -|r|/|d|)``, ``u' = u0 - 2 alpha r + alpha^2 d``
    (``u2`` where that is not finite), then ``u3 = T(u')``.  Stops when the largest
    coordinate change of the last EM step is below ``tol`` or after ``max_iter`` EM
    evaluations (changes in units of the data's sd).  The fixed points are those of plain
    EM.  Under ``vmap`` each chain stops on its own test.
    """
    import jax
    import jax.numpy as jnp

    x2 = x * x
    # Changes are measured on the scale of the data (its sd), so a degenerate component
    # (a few points, variance at the floor) does not stall the stopping rule.
    scale = jnp.maximum(jnp.std(x), 1e-300)
    C = w.shape[0]

    def T(z):
        w, m, v = _em_map(x, x2, jnp.exp(z[:C]), z[C:2 * C], jnp.exp(z[2 * C:]), var_floor)
        return jnp.concatenate([jnp.log(w), m, jnp.log(v)])

    # One EM map per loop iteration (a three-phase state machine), so T is compiled once.
    def step(state):
        z0, z1, cur, phase, it, change = state
        y = T(cur)
        # phase 1: y = z2 = T(z1): extrapolate (SQUAREM step) from z0, z1, z2
        r, d = z1 - z0, y - 2 * z1 + z0
        alpha = -jnp.sqrt(jnp.sum(r * r) / jnp.maximum(jnp.sum(d * d), 1e-300))
        alpha = jnp.clip(alpha, -100.0, -1.0)
        zp = z0 - 2 * alpha * r + alpha * alpha * d
        zp = zp.at[:C].add(-jax.scipy.special.logsumexp(zp[:C]))
        zp = jnp.where(jnp.all(jnp.isfinite(zp)), zp, y)
        # phase 2: y = T(zp): convergence test on this plain EM step
        w_change = jnp.abs(jnp.exp(y[:C]) - jnp.exp(cur[:C]))
        m_change = jnp.abs(y[C:2 * C] - cur[C:2 * C]) / scale
        v_change = jnp.abs(jnp.exp(y[2 * C:]) - jnp.exp(cur[2 * C:])) / scale**2
        new_change = jnp.maximum(jnp.maximum(w_change.max(), m_change.max()), v_change.max())
        z0 = jnp.where(phase == 2, y, z0)
        z1 = jnp.where(phase == 0, y, z1)
        cur = jnp.where(phase == 1, zp, y)
        change = jnp.where(phase == 2, new_change, change)
        return z0, z1, cur, (phase + 1) % 3, it + 1, change

    def cond(state):
        return (state[4] < max_iter) & ((state[5] >= tol) | (state[3] != 0))

    z = jnp.concatenate([jnp.log(w), m, jnp.log(v)])
    state = (z, z, z, jnp.int32(0), jnp.int32(0), jnp.float64(jnp.inf))
    _, _, z, _, it, _ = jax.lax.while_loop(cond, step, state)
    w, m, v = jnp.exp(z[:C]), z[C:2 * C], jnp.exp(z[2 * C:])
    return w, m, v, _log_likelihood(x, w, m, v), it


def _generation(key, original, params, data, g, consts, sizes):
    """Generation ``g`` of one chain: its training set and EM fit."""
    import jax
    import jax.numpy as jnp

    n_fresh, n_prev, n_model, max_iter = sizes
    tol, var_floor = consts
    N = data.shape[0]
    kf, kp, km = jax.random.split(jax.random.fold_in(key, g), 3)
    parts = []
    if n_fresh:
        parts.append(_sample_mixture(kf, *original, n_fresh))
    if n_prev:
        parts.append(data[jnp.argsort(jax.random.uniform(kp, (N,)))[:n_prev]])
    if n_model:
        parts.append(_sample_mixture(km, *params, n_model))
    x = jnp.concatenate(parts) if len(parts) > 1 else parts[0]
    w, m, v, ll, it = _em(x, *params, tol, var_floor, max_iter)
    return (w, m, v), x, (w, m, v, ll, it)


def _run_block_impl(keys, original, params, data, gens, consts, sizes):
    import jax

    def one_chain(key, params, data, g):
        return _generation(key, original, params, data, g, consts, sizes)

    def body(carry, g):
        params, data = carry
        params, data, rec = jax.vmap(one_chain, in_axes=(0, 0, 0, None))(keys, params, data, g)
        return (params, data), rec

    (params, data), rec = jax.lax.scan(body, (params, data), gens)
    return params, data, rec


def _initial_data_impl(keys, params, n):
    import jax

    def one_chain(key, w, m, v):
        return _sample_mixture(jax.random.fold_in(key, 0), w, m, v, n)

    return jax.vmap(one_chain)(keys, *params)


_JITTED = {}


def _jitted(name):
    """The jit-compiled cores, built on first use (``import jax`` only when simulating)."""
    if name not in _JITTED:
        import jax

        _JITTED["run_block"] = jax.jit(_run_block_impl, static_argnames=("sizes",))
        _JITTED["initial_data"] = jax.jit(_initial_data_impl, static_argnames=("n",))
    return _JITTED[name]


def _run_block(keys, original, params, data, gens, consts, sizes):
    return _jitted("run_block")(keys, original, params, data, gens, consts, sizes=sizes)


def _initial_data(keys, params, n):
    return _jitted("initial_data")(keys, params, n=n)


def separated_approximation(n: ArrayLike, *, weights: ArrayLike = (0.5, 0.5),
                            sds: ArrayLike = (1.0, 1.0),
                            N: int = 10_000) -> MixtureApproximation:
    """Separated-components approximation to the pure recursive mixture chain.

    Treats component ``k`` as a single Gaussian refitted by maximum likelihood on
    ``N w_k`` points (exact when the components do not overlap and the weights do not
    drift, i.e. ``n << N``); see :mod:`kernelcollapse.zoo.gaussian`.

    Parameters
    ----------
    n : int or array_like of int, shape (n,)
        Generations.
    weights, sds : array_like, shape (C,)
        Original weights and standard deviations (``N w_k >= 2``).
    N : int
        Training-set size per generation.

    Returns
    -------
    MixtureApproximation
        ``variance = v_k (1 - 1/(N w_k))^n``, ``log_variance = log v_k + n (psi(m/2) +
        log(2/(m+1)))`` with ``m = N w_k - 1``, and ``weight_sd = sqrt(w_k (1 - w_k)
        (1 - (1 - 1/N)^n))``; arrays of shape ``n.shape + (C,)``.
    """
    n = validate.generation_indices("n", n)[..., None].astype(np.float64)
    weights, _, sds = _check_mixture(weights, np.zeros(np.size(weights)), sds)
    N = validate.integer("N", N, minimum=1)
    Nk = N * weights
    if np.any(Nk < 2):
        raise ValueError(f"N * weights must be >= 2 for every component, got "
                         f"{validate.plain(Nk.min())}")
    var0 = sds**2
    variance = var0 * (1.0 - 1.0 / Nk) ** n
    log_variance = np.log(var0) + n * (special.digamma((Nk - 1) / 2) + np.log(2.0 / Nk))
    weight_sd = np.sqrt(weights * (1 - weights) * (1 - (1 - 1.0 / N) ** n))
    return MixtureApproximation(variance=variance, log_variance=log_variance,
                                weight_sd=weight_sd)

