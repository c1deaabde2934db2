"""Collapse of a discrete distribution refitted on its own samples (Wright–Fisher chain).

Generation 0 is the original distribution ``p0`` over ``K`` categories.  Generation
``i+1`` is the empirical distribution (maximum-likelihood fit) of ``N`` samples drawn
from generation ``i``:

.. math::  N p^{(i+1)} \\sim \\mathrm{Multinomial}(N, p^{(i)}),

which is the neutral haploid Wright–Fisher model with population size ``N``.  Each
frequency is a bounded martingale, so the chain ends with a single category
(collapse to a point mass); rare categories (the tails) are lost first.

Exact results (all generations counted from generation 0 = ``p0``):

* fixation probability of category ``k`` = ``p0[k]`` (martingale, optional stopping);
* expected homozygosity ``E[sum_k p_k^(n)^2] = 1 - H_0 (1 - 1/N)^n`` with
  ``H_0 = 1 - sum_k p0_k^2``;
* the probability that a category of initial frequency ``q`` is lost by generation
  ``n`` (iterate the binomial transition matrix of the two-type chain),
  :func:`loss_probability`;
* mean times to fixation / loss for small ``N`` (linear solves on the chain),
  :func:`mean_fixation_time`, :func:`mean_loss_time`.

Diffusion approximations (relative error ``O(1/N)``): Kimura's eigen-expansion for the
loss probability, the Feller (branching) limit ``exp(-2 N q / n)`` for rare categories,
Kimura–Ohta / Littler mean times.

References
----------
.. [1] I. Shumailov et al., "AI models collapse when trained on recursively generated
   data", Nature 631 (2024); arXiv:2305.17493 ("The Curse of Recursion").
.. [2] M. Kimura, "Solution of a process of random genetic drift with a continuous
   model", PNAS 41 (1955) 144–150.
.. [3] M. Kimura and T. Ohta, "The average number of generations until fixation of a
   mutant gene in a finite population", Genetics 61 (1969) 763–771.
.. [4] R. A. Littler, "Loss of variability at one locus in a finite population",
   Math. Biosci. 25 (1975) 151–163.
.. [5] W. J. Ewens, *Mathematical Population Genetics I*, 2nd ed., Springer (2004), §5.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import special, stats

from kernelcollapse._util import keys as _keys
from kernelcollapse._util import validate as v
from kernelcollapse._util.keys import Key
from kernelcollapse.zoo._common import progress_bar

__all__ = [
    "DiscreteChain",
    "simulate_discrete",
    "fixation_probability",
    "expected_homozygosity",
    "loss_probability",
    "expected_surviving",
    "mean_fixation_time",
    "mean_loss_time",
]

# Largest state spaces for the exact Markov-chain computations (memory ~ states^2).
_MAX_BINOMIAL_N = 4000
_MAX_COMPOSITIONS = 3000
# Largest number of stored frequencies (float64) in a simulated chain (~800 MB).
_MAX_STORED = 100_000_000


class DiscreteChain(NamedTuple):
    """Result of :func:`simulate_discrete`.

    Attributes
    ----------
    generations : ndarray, shape (R,)
        Generation indices at which ``frequencies`` were recorded (0 = ``p0``).
    frequencies : ndarray, shape (R, S, K)
        Category frequencies of each of the ``S`` seeds at those generations.
    extinction_time : ndarray of int, shape (S, K)
        First generation at which the category has frequency 0; ``-1`` if it is still
        present at the last generation (0 for categories with ``p0 = 0``).
    fixation_time : ndarray of int, shape (S,)
        First generation with a single category left; ``-1`` if not reached.
    homozygosity : ndarray, shape (G + 1, S)
        ``sum_k p_k^2`` at every generation ``0..G``.
    surviving : ndarray of int, shape (G + 1, S)
        Number of categories with positive frequency at every generation.
    """

    generations: np.ndarray
    frequencies: np.ndarray
    extinction_time: np.ndarray
    fixation_time: np.ndarray
    homozygosity: np.ndarray
    surviving: np.ndarray


def simulate_discrete(p0: ArrayLike, *, N: int, generations: int, seeds: int = 1000, key: Key = 0,
                      record_every: int = 1, progress: bool = True) -> DiscreteChain:
    """Refit a categorical distribution on ``N`` of its own samples, ``generations`` times.

    All ``seeds`` chains advance together (one vectorised multinomial draw per
    generation).

    Parameters
    ----------
    p0 : array_like, shape (K,)
        Original category probabilities, ``K >= 2``, non-negative, summing to 1.
    N : int
        Samples per generation, ``N >= 1``.
    generations : int
        Number of refits ``G >= 1``.
    seeds : int
        Number of independent chains ``S``.
    key : int or jax PRNG key
        Master key (an int in ``[0, 2**63)`` or a JAX key).  Generation ``g`` draws from
        the numpy generator ``kernelcollapse._util.keys.numpy_generator(key, g)``, the seeds in
        order, so a given key gives identical results and chain ``i`` does not depend on
        the number of seeds.
    record_every : int
        Store ``frequencies`` every this many generations (and at the last one).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    DiscreteChain
    """
    p0 = v.probability_vector("p0", p0, min_length=2)
    N = v.integer("N", N, minimum=1)
    generations = v.integer("generations", generations, minimum=1)
    seeds = v.integer("seeds", seeds, minimum=1)
    key = _keys.key_data(key)
    record_every = v.integer("record_every", record_every, minimum=1)
    _check_stored(generations, seeds, p0.size, record_every)
    return _simulate(p0, N, generations, seeds, key, record_every, progress)


def _check_stored(generations: int, seeds: int, K: int, record_every: int) -> None:
    """Refuse a run whose recorded frequencies exceed ``_MAX_STORED``, saying what to change
    in the API and on the command line (where record_every is not an option)."""
    # Generation 0, every record_every-th and the last: 1 + ceil(G / r) records, 2 at least.
    records = 1 + -(-generations // record_every)
    stored = records * seeds * K
    if stored <= _MAX_STORED:
        return
    per_record = seeds * K
    cli = "on the command line (zoo discrete): lower --seeds, --K or the length of --p0"
    if 2 * per_record <= _MAX_STORED:
        needed = -(-generations // (_MAX_STORED // per_record - 1))
        fix = f"increase record_every to at least {needed}, or lower seeds or K; {cli}"
    else:
        fix = (f"lower seeds or K: the first and last records alone hold {2 * per_record}; "
               f"{cli}")
    raise ValueError(f"record_every={record_every} would store {stored} frequencies ({records} "
                     f"records of {seeds} seeds x {K} categories), more than {_MAX_STORED}: "
                     f"{fix}")


def _simulate(p0, N, generations, seeds, key, record_every, progress) -> DiscreteChain:
    K = p0.size
    p = np.broadcast_to(p0, (seeds, K)).copy()
    recorded = [0]
    snapshots = [p.copy()]
    extinction = np.where(p0 > 0, -1, 0)[None, :].repeat(seeds, axis=0)
    fixation = np.full(seeds, -1, dtype=np.int64)
    homozygosity = np.empty((generations + 1, seeds))
    surviving = np.empty((generations + 1, seeds), dtype=np.int64)
    homozygosity[0] = np.sum(p * p, axis=1)
    surviving[0] = np.count_nonzero(p, axis=1)
    fixation[surviving[0] == 1] = 0
    with progress_bar(generations, enabled=progress, desc="Wright-Fisher") as bar:
        for g in range(1, generations + 1):
            # One stream per generation, the seeds drawn in order: seed i's draws depend on
            # the earlier seeds' only, never on the number of seeds.
            counts = _keys.numpy_generator(key, g).multinomial(N, p)
            p = counts / N
            alive = counts > 0
            extinction[(~alive) & (extinction < 0)] = g
            surviving[g] = alive.sum(axis=1)
            homozygosity[g] = np.sum(p * p, axis=1)
            fixation[(surviving[g] == 1) & (fixation < 0)] = g
            if g % record_every == 0 or g == generations:
                recorded.append(g)
                snapshots.append(p)
            bar.update()
    return DiscreteChain(
        generations=np.asarray(recorded, dtype=np.int64),
        frequencies=np.stack(snapshots),
        extinction_time=extinction.astype(np.int64),
        fixation_time=fixation,
        homozygosity=homozygosity,
        surviving=surviving,
    )


# ----------------------------------------------------------------------------- theory


def fixation_probability(p0: ArrayLike) -> np.ndarray:
    """Probability that each category eventually takes over: ``P(fix k) = p0[k]``.

    Each frequency is a bounded martingale absorbed at 0 or 1, so by optional stopping
    ``P(p_k -> 1) = E[p_k^(inf)] = p0[k]`` (exact for every ``N``).  The survival
    probability of a category in the long run is the same number.

    Parameters
    ----------
    p0 : array_like, shape (K,)

    Returns
    -------
    ndarray, shape (K,)
    """
    return v.probability_vector("p0", p0, min_length=2).copy()


def expected_homozygosity(p0: ArrayLike, *, N: int, n: ArrayLike) -> np.ndarray:
    """Expected homozygosity ``E[sum_k p_k^(n)^2] = 1 - H_0 (1 - 1/N)^n`` (exact).

    From ``E[p_k'^2 | p] = p_k^2 + p_k (1 - p_k) / N``, the heterozygosity
    ``H = 1 - sum_k p_k^2`` satisfies ``E[H' | p] = (1 - 1/N) H``.

    Parameters
    ----------
    p0 : array_like, shape (K,)
    N : int
    n : int or array_like of int
        Generations.

    Returns
    -------
    ndarray, shape of ``n``
    """
    p0 = v.probability_vector("p0", p0, min_length=2)
    N = v.integer("N", N, minimum=1)
    n = v.generation_indices("n", n)
    h0 = 1.0 - np.sum(p0 * p0)
    return 1.0 - h0 * (1.0 - 1.0 / N) ** n


def loss_probability(q: ArrayLike, *, N: int, n: ArrayLike, method: str = "exact") -> np.ndarray:
    """Probability that a category of initial frequency ``q`` is lost by generation ``n``.

    The count of one category is itself a two-type Wright–Fisher chain,
    ``X_{i+1} ~ Binomial(N, X_i / N)`` with ``X_1 ~ Binomial(N, q)``.

    Methods
    -------
    ``"exact"``
        ``P(X_n = 0)`` by iterating the ``(N+1) x (N+1)`` binomial transition matrix
        (``N <= 4000``).
    ``"diffusion"``
        Kimura's (1955) solution of the backward equation
        ``u_t = x (1 - x) u_xx / 2`` with time ``t = n / N``:
        ``u = (1 - q) + sum_i c_i q (1 - q) C^{(3/2)}_{i-1}(1 - 2q) exp(-i (i+1) t / 2)``,
        ``c_i = -∫(1-x) C_{i-1}(1-2x) dx / ∫ x (1-x) C_{i-1}(1-2x)^2 dx``.
        Error ``O(1/N)``.
    ``"branching"``
        Feller's critical-branching limit for rare categories, ``exp(-2 N q / n)``
        (valid for ``q << 1`` and ``n << N``; ignores the upper boundary).

    Parameters
    ----------
    q : float or array_like, values in [0, 1]
    N : int
    n : int or array_like of int
    method : {"exact", "diffusion", "branching"}

    Returns
    -------
    ndarray, shape ``q.shape + n.shape``
    """
    q = v.frequencies("q", q)
    N = v.integer("N", N, minimum=1)
    n = v.generation_indices("n", n)
    if method == "exact":
        if N > _MAX_BINOMIAL_N:
            raise ValueError(f"N must be <= {_MAX_BINOMIAL_N} for method='exact', got {N}; "
                             "use method='diffusion'")
        out = _loss_exact(q.ravel(), N, n.ravel())
    elif method == "diffusion":
        out = _loss_diffusion(q.ravel(), N, n.ravel())
    elif method == "branching":
        qq, nn = q.ravel()[:, None], n.ravel()[None, :].astype(np.float64)
        with np.errstate(divide="ignore"):
            out = np.where(nn > 0, np.exp(-2.0 * N * qq / np.maximum(nn, 1)), 0.0)
        out = np.where(qq == 0, 1.0, out)
    else:
        raise ValueError(f"method must be 'exact', 'diffusion' or 'branching', got {method!r}")
    return out.reshape(q.shape + n.shape)


def _binomial_transition(N: int) -> np.ndarray:
    states = np.arange(N + 1)
    return stats.binom.pmf(states[None, :], N, states[:, None] / N)


def _loss_exact(q: np.ndarray, N: int, n: np.ndarray) -> np.ndarray:
    out = np.zeros((q.size, n.size))
    out[:, n == 0] = (q == 0)[:, None]
    if n.max(initial=0) == 0:
        return out
    P = _binomial_transition(N)
    dist = stats.binom.pmf(np.arange(N + 1)[None, :], N, q[:, None])  # generation 1
    for g in range(1, int(n.max()) + 1):
        if g > 1:
            dist = dist @ P
        hit = n == g
        if np.any(hit):
            out[:, hit] = dist[:, :1]
    return out


def _loss_diffusion(q: np.ndarray, N: int, n: np.ndarray) -> np.ndarray:
    t = n / N
    positive_t = t[t > 0]
    t_min = positive_t.min() if positive_t.size else 1.0
    # Terms decay like exp(-i^2 t / 2): keep them until exp(-i^2 t_min / 2) < e^-40.
    M = int(min(3000, max(40, math.ceil(math.sqrt(80.0 / t_min)) + 10)))
    i = np.arange(1, M + 1)
    nodes, w = np.polynomial.legendre.leggauss(M + 20)  # z = 1 - 2x, exact for deg <= 2M+39
    x = (1.0 - nodes) / 2.0
    G = special.eval_gegenbauer(i[:, None] - 1, 1.5, nodes[None, :])  # (M, nodes)
    numer = -(G * (1.0 - x)[None, :]) @ w / 2.0
    denom = (i * (i + 1)) / (8.0 * (i + 0.5))  # ∫ x(1-x) C_{i-1}(1-2x)^2 dx
    c = numer / denom
    phi = (q * (1.0 - q))[:, None] * special.eval_gegenbauer(i[None, :] - 1, 1.5,
                                                             (1.0 - 2.0 * q)[:, None])
    decay = np.exp(-np.outer(i * (i + 1) / 2.0, t))  # (M, n)
    u = (1.0 - q)[:, None] + (phi * c[None, :]) @ decay
    u = np.clip(u, 0.0, 1.0)  # truncation ripples only; the series converges in [0, 1]
    u[:, n == 0] = (q == 0)[:, None]
    u[q == 0, :] = 1.0
    u[q == 1, :] = 0.0
    return u


def expected_surviving(p0: ArrayLike, *, N: int, n: ArrayLike,
                       method: str = "exact") -> tuple[np.ndarray, np.ndarray]:
    """Expected number of surviving categories and expected original mass lost.

    ``E[#{k : p_k^(n) > 0}] = sum_k (1 - P_lost(p0_k, n))`` and
    ``E[sum_{k lost} p0_k] = sum_k p0_k P_lost(p0_k, n)`` (the tail mass lost), with
    ``P_lost`` from :func:`loss_probability`.

    Returns
    -------
    surviving : ndarray, shape of ``n``
    lost_mass : ndarray, shape of ``n``
    """
    p0 = v.probability_vector("p0", p0, min_length=2)
    loss = loss_probability(p0, N=N, n=n, method=method)  # (K,) + n.shape
    return np.sum(1.0 - loss, axis=0), np.tensordot(p0, loss, axes=1)


def mean_fixation_time(p0: ArrayLike, *, N: int, method: str = "diffusion") -> float:
    """Expected number of generations until only one category remains.

    ``"diffusion"``: Littler (1975), ``t = -2 N sum_k (1 - p_k) ln(1 - p_k)``
    (haploid, population ``N``); for ``K = 2`` this is Kimura–Ohta's
    ``-2N [p ln p + (1-p) ln(1-p)]`` (``-4N`` for ``2N`` diploid genes).  Approximate,
    relative error ``O(1/N)``.

    ``"exact"``: the multinomial chain on the compositions of ``N`` into the categories
    with ``p0 > 0``, solving ``(I - Q) tau = 1`` on the polymorphic states; small ``N``
    and ``K`` only (at most 3000 states).

    Returns
    -------
    float
    """
    p0 = v.probability_vector("p0", p0, min_length=2)
    N = v.integer("N", N, minimum=1)
    if method == "diffusion":
        return float(-2.0 * N * np.sum(special.xlogy(1.0 - p0, 1.0 - p0)))
    if method == "exact":
        return _fixation_exact(p0[p0 > 0], N)
    raise ValueError(f"method must be 'exact' or 'diffusion', got {method!r}")


def _compositions(N: int, K: int) -> np.ndarray:
    rows = []
    for bars in itertools.combinations(range(N + K - 1), K - 1):
        edges = (-1,) + bars + (N + K - 1,)
        rows.append([edges[j + 1] - edges[j] - 1 for j in range(K)])
    return np.asarray(rows, dtype=np.int64)


def _fixation_exact(p: np.ndarray, N: int) -> float:
    K = p.size
    if K == 1:
        return 0.0
    n_states = math.comb(N + K - 1, K - 1)
    if n_states > _MAX_COMPOSITIONS:
        raise ValueError(f"method='exact' needs at most {_MAX_COMPOSITIONS} states, "
                         f"N={N} with {K} categories gives {n_states}; use method='diffusion'")
    C = _compositions(N, K)
    log_norm = special.gammaln(N + 1) - special.gammaln(C + 1).sum(axis=1)

    def log_pmf(freqs: np.ndarray) -> np.ndarray:  # (A, K) frequencies -> (A, states)
        with np.errstate(divide="ignore"):
            logf = np.log(freqs)
        impossible = ((freqs[:, None, :] == 0) & (C[None, :, :] > 0)).any(axis=2)
        terms = C @ np.where(np.isfinite(logf), logf, 0.0).T
        return np.where(impossible, -np.inf, log_norm[:, None].T + terms.T)

    transient = np.count_nonzero(C, axis=1) > 1
    Q = np.exp(log_pmf(C[transient] / N))[:, transient]
    tau = np.linalg.solve(np.eye(Q.shape[0]) - Q, np.ones(Q.shape[0]))
    first = np.exp(log_pmf(p[None, :]))[0]  # generation 1 ~ Multinomial(N, p0)
    return float(1.0 + first[transient] @ tau)


def mean_loss_time(q: float, *, N: int, method: str = "diffusion") -> float:
    """Expected generation at which a category of initial frequency ``q`` is lost,
    conditional on its loss.

    ``"diffusion"``: Kimura–Ohta (1969), ``t_0 = -2 N q ln q / (1 - q)`` (haploid ``N``;
    approximate).  ``"exact"``: two-type binomial chain, ``E[T 1_lost] = P(lost) +
    sum_c pi_1(c) m(c)`` with ``(I - Q) m = 1 - c/N`` on the transient counts
    (``P(lost | c) = 1 - c/N`` is harmonic), divided by ``P(lost) = 1 - q``.

    Parameters
    ----------
    q : float in (0, 1)
    N : int
    method : {"diffusion", "exact"}
    """
    q = v.scalar("q", q, check=v.probability)
    v.require("q", q, 0 < q < 1, "a frequency in (0, 1)")
    N = v.integer("N", N, minimum=1)
    if method == "diffusion":
        return float(-2.0 * N * q * math.log(q) / (1.0 - q))
    if method != "exact":
        raise ValueError(f"method must be 'exact' or 'diffusion', got {method!r}")
    if N > _MAX_BINOMIAL_N:
        raise ValueError(f"N must be <= {_MAX_BINOMIAL_N} for method='exact', got {N}")
    if N == 1:
        return 1.0
    P = _binomial_transition(N)
    Q = P[1:N, 1:N]
    m = np.linalg.solve(np.eye(N - 1) - Q, 1.0 - np.arange(1, N) / N)
    first = stats.binom.pmf(np.arange(1, N), N, q)
    return float(((1.0 - q) + first @ m) / (1.0 - q))
