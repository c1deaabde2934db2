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
  :func:`loss_probability`: the full matrix for ``N <= 4000``, and for any ``N`` the
  chain on the counts carrying all but a reported mass ``D <= tol`` (default 1e-12),
  whose cost is set by ``N q`` and ``n``, not ``N``;
* mean times to fixation / loss for small ``N`` (linear solves on the chain),
  :func:`mean_fixation_time`, :func:`mean_loss_time` (the loss time also as a banded solve
  for ``N <= 16000``; it needs the whole chain, so no truncation to rare counts applies).

Approximations: Kimura's diffusion eigen-expansion for the loss probability and Feller's
branching limit ``exp(-2 N q / n)`` for rare categories have error ``O(1/N)`` at fixed
``q`` and ``t = n / N``, but not at fixed ``N q`` (rare categories, Suresh et al.'s
setting): there the error tends to a limit set by ``N q`` and ``n`` (0.043 at ``N q = 10``,
``n = 10``, for ``N`` from ``10^3`` to ``10^6``).  The limit ``N -> inf`` at fixed ``N q`` is
a critical Poisson Galton–Watson process (``method="galton-watson"``, an upper bound for
every ``N``).  Kimura–Ohta / Littler mean times: relative error ``O(1/N)``.

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
.. [6] A. T. Suresh, A. Thangaraj, A. N. K. Khandavally, "Rate of model collapse in
   recursive training", arXiv:2412.17646 (2024).
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import linalg, special, stats

from kernelcollapse._util import keys as _keys
from kernelcollapse._util import validate as v
from kernelcollapse._util.keys import Key
from kernelcollapse.zoo._common import progress_bar

__all__ = [
    "DiscreteChain",
    "simulate_discrete",
    "fixation_probability",
    "expected_homozygosity",
    "collision_probability",
    "loss_probability",
    "expected_surviving",
    "mean_fixation_time",
    "mean_loss_time",
]

# Largest state spaces for the exact Markov-chain computations (memory ~ states^2).
_MAX_BINOMIAL_N = 4000
_MAX_COMPOSITIONS = 3000
# Largest N for the banded mean-loss-time solve (band storage ~ 12 N^1.5 floats, ~200 MB).
_MAX_BANDED_N = 16_000
# Default bound on the probability mass the truncated chain may drop (method="truncated").
DEFAULT_TOL = 1e-12
# Largest number of stored transition probabilities of the truncated chain (float64, ~160 MB)
# and of multiply-adds over all generations; beyond them method="truncated" refuses.
_MAX_TRUNCATED_ENTRIES = 20_000_000
_MAX_TRUNCATED_WORK = 3_000_000_000
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


def collision_probability(p0: ArrayLike, *, N: int, m: ArrayLike) -> np.ndarray:
    """Seddik et al.'s expected collision probability after ``m`` generations,
    ``E[S_m] = 1 - (1 - 1/N)^m (1 - S_0)`` with ``S = sum_k p_k^2``.

    Each generation is the empirical distribution of ``N`` samples of the previous one
    (fully synthetic training of a categorical model), so this is the law of
    :func:`expected_homozygosity` written in Seddik et al.'s terms (``S_0 = 1 - H_0``); exact
    for every ``N``.

    Parameters
    ----------
    p0 : array_like, shape (K,)
    N : int
    m : int or array_like of int
        Generations.

    Returns
    -------
    ndarray, shape of ``m``

    References
    ----------
    M. E. A. Seddik, S.-W. Chen, S. Hayou, P. Youssef, M. Debbah, "How bad is training on
    synthetic data? A statistical analysis of language model collapse", arXiv:2404.05090
    (2024).
    """
    p0 = v.probability_vector("p0", p0, min_length=2)
    N = v.integer("N", N, minimum=1)
    m = v.generation_indices("m", m)
    s0 = float(np.sum(p0 * p0))
    return 1.0 - (1.0 - 1.0 / N) ** m * (1.0 - s0)


_LOSS_METHODS = ("auto", "exact", "truncated", "diffusion", "branching", "galton-watson")


def loss_probability(q: ArrayLike, *, N: int, n: ArrayLike, method: str = "auto",
                     tol: float = DEFAULT_TOL, return_bound: bool = False
                     ) -> np.float64 | np.ndarray | tuple:
    """Probability that a category of initial frequency ``q`` is lost by generation ``n``.

    The count of one category is itself a two-type Wright–Fisher chain,
    ``X_{i+1} ~ Binomial(N, X_i / N)`` with ``X_1 ~ Binomial(N, q)``; the loss probability
    is ``P(X_n = 0)`` (Ewens 2004, §3.3).

    Methods
    -------
    ``"auto"`` (default)
        ``"exact"`` when ``N <= 4000``, else ``"truncated"``.
    ``"exact"``
        ``P(X_n = 0)`` by iterating the full ``(N+1) x (N+1)`` binomial transition matrix
        (``N <= 4000``); exact up to floating-point rounding (bound reported as 0).
    ``"truncated"``
        The same chain on the counts that carry all but a bounded mass, for any ``N``: the
        first generation's ``Binomial(N, q)`` and every transition row
        ``Binomial(N, c/N)`` (``scipy.stats.binom``) are kept on ``{0}`` and the central
        range of counts holding all but ``delta`` of their mass, and after every generation
        the tails of the count distribution holding at most ``delta`` are dropped, with
        ``delta = tol / (2 n_max)``.  All entries are non-negative, so the result is a
        lower bound: ``result <= P(X_n = 0) <= result + D``, where ``D <= tol`` is the
        mass dropped up to generation ``n``, summed exactly from the binomial cdf / sf
        (not assumed; floating-point rounding, ~1e-15, aside).  Its cost depends on how
        far the counts spread (about ``N q`` and ``n``), not on ``N``: Suresh et al.'s
        ``q = 0.001``, ``N = 10^4``, ``n <= 19`` takes milliseconds, ``N = 10^6`` with
        ``N q = 300`` over 50 generations under a second.  Categories whose Galton–Watson
        upper bound (below) is at most ``tol`` are reported as 0 with that bound, without
        the chain.  Refused (ValueError) beyond 2e7 stored transition probabilities.
    ``"diffusion"``
        Kimura's (1955) solution of the backward equation
        ``u_t = x (1 - x) u_xx / 2`` with time ``t = n / N``:
        ``u = (1 - q) + sum_i c_i q (1 - q) C^{(3/2)}_{i-1}(1 - 2q) exp(-i (i+1) t / 2)``,
        ``c_i = -∫(1-x) C_{i-1}(1-2x) dx / ∫ x (1-x) C_{i-1}(1-2x)^2 dx``.
        Error ``O(1/N)`` at fixed ``q`` and ``t = n / N`` only; at fixed ``N q`` (rare
        categories) it does not shrink with ``N``: 0.043 at ``N q = 10``, ``n = 10`` for
        ``N = 10^3 .. 10^6`` (docs/theory/zoo.rst).
    ``"branching"``
        Feller's critical-branching (diffusion) limit for rare categories,
        ``exp(-2 N q / n)`` (valid for ``q << 1`` and ``1 << n << N``); at fixed ``N q``
        its error is set by ``N q`` and ``n``, not ``N`` (0.042 at ``N q = 10``,
        ``n = 10``, ``N = 10^3``; 0.043 at ``N = 10^5``).
    ``"galton-watson"``
        The limit ``N -> inf`` at fixed ``N q`` and ``n``: a critical Galton–Watson process
        with Poisson(1) offspring started from Poisson(``N q``) individuals,
        ``exp(-N q (1 - phi_{n-1}(0)))`` with ``phi_0 = 0``, ``phi_{k+1} = exp(phi_k - 1)``.
        It is also an upper bound on the exact loss probability for every ``N``, since
        ``(1 - (1-s) c/N)^N <= exp(-(1-s) c)`` for the generating functions.

    Parameters
    ----------
    q : float or array_like, values in [0, 1]
    N : int
    n : int or array_like of int
    method : {"auto", "exact", "truncated", "diffusion", "branching", "galton-watson"}
    tol : float in (0, 1)
        Bound on the dropped mass of ``"truncated"`` (and ``"auto"`` when it truncates).
    return_bound : bool
        Also return ``D``, shape ``q.shape + n.shape``: the exact result lies in
        ``[result, result + D]`` (0 for ``"exact"``; NaN for the approximations, whose
        error is not bounded).

    Returns
    -------
    ndarray, shape ``q.shape + n.shape``, or ``(loss, D)`` if ``return_bound``.

    References
    ----------
    Ewens (2004) §3.3; Kimura (1955); W. Feller, "Diffusion processes in genetics", Proc.
    2nd Berkeley Symp. (1951); A. T. Suresh et al., arXiv:2412.17646 (2024).
    """
    q = v.frequencies("q", q)
    N = v.integer("N", N, minimum=1)
    n = v.generation_indices("n", n)
    tol = v.scalar("tol", tol, check=v.probability)
    v.require("tol", tol, 0.0 < tol < 1.0, "a probability bound in (0, 1)")
    if method not in _LOSS_METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, _LOSS_METHODS))}, "
                         f"got {method!r}")
    if method == "auto":
        method = "exact" if N <= _MAX_BINOMIAL_N else "truncated"
    bound = np.zeros((q.size, n.size))
    if method == "exact":
        if N > _MAX_BINOMIAL_N:
            raise ValueError(f"N must be <= {_MAX_BINOMIAL_N} for method='exact', got {N}; "
                             "use method='truncated' (any N) or 'auto'")
        out = _loss_exact(q.ravel(), N, n.ravel())
    elif method == "truncated":
        out, bound = _loss_truncated(q.ravel(), N, n.ravel(), tol)
    else:
        bound[:] = np.nan
        if method == "diffusion":
            out = _loss_diffusion(q.ravel(), N, n.ravel())
        elif method == "galton-watson":
            out = _galton_watson_loss(q.ravel(), N, n.ravel())
            out = np.where((q.ravel() == 0)[:, None], 1.0, out)
            out = np.where((q.ravel() == 1)[:, None], 0.0, out)
        else:
            qq, nn = q.ravel()[:, None], n.ravel()[None, :].astype(np.float64)
            with np.errstate(divide="ignore"):
                out = np.where(nn > 0, np.exp(-2.0 * N * qq / np.maximum(nn, 1)), 0.0)
            out = np.where(qq == 0, 1.0, out)
    out = out.reshape(q.shape + n.shape)
    if return_bound:
        return out, bound.reshape(q.shape + n.shape)
    return out


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



# ------------------------------------------------------------- truncated count chain

def _galton_watson_extinction(n_max: int) -> np.ndarray:
    """``phi_k(0)`` for ``k = 0..n_max``: ``phi_0 = 0``, ``phi_{k+1} = exp(phi_k - 1)``, the
    probability that a critical Poisson(1) Galton–Watson line of one individual is extinct
    after ``k`` generations."""
    phi = np.zeros(n_max + 1)
    for k in range(n_max):
        phi[k + 1] = math.exp(phi[k] - 1.0)
    return phi


def _galton_watson_loss(q: np.ndarray, N: int, n: np.ndarray) -> np.ndarray:
    """``exp(-N q (1 - phi_{n-1}(0)))`` (0 at ``n = 0``): the loss probability of the critical
    Poisson Galton–Watson process started from ``Poisson(N q)`` individuals at generation 1,
    and an upper bound on the Wright–Fisher loss probability (see :func:`loss_probability`)."""
    phi = _galton_watson_extinction(max(int(n.max(initial=0)) - 1, 0))
    out = np.exp(-N * q[:, None] * (1.0 - phi[np.maximum(n - 1, 0)][None, :]))
    return np.where(n[None, :] == 0, 0.0, out)


class _BinomialRows:
    """Rows ``c = r0..r1`` of the Wright–Fisher transition matrix ``Binomial(N, c/N)``, each
    kept on ``{0} ∪ [lo_c, hi_c]`` (``lo_c >= 1``) where the mass outside is at most
    ``delta`` (``delta / 2`` in each tail); the mass dropped from each row is computed
    exactly (``scipy.stats.binom`` cdf / sf), not assumed."""

    def __init__(self, N: int, delta: float):
        self.N, self.delta = N, delta
        self.r0, self.r1 = 1, 0          # empty
        self.lo = np.zeros(0, dtype=np.int64)
        self.vals = np.zeros((0, 0))
        self.to_zero = np.zeros(0)       # P(c -> 0)
        self.dropped = np.zeros(0)       # mass outside {0} ∪ [lo_c, hi_c]

    @property
    def entries(self) -> int:
        return self.vals.size

    def _compute(self, a: int, b: int):
        N, half = self.N, self.delta / 2.0
        c = np.arange(a, b + 1)
        p = c / N
        lo = np.maximum(stats.binom.ppf(half, N, p), 1).astype(np.int64)
        hi = np.maximum(stats.binom.isf(half, N, p), lo).astype(np.int64)
        L = int((hi - lo).max()) + 1
        cols = lo[:, None] + np.arange(L)[None, :]
        inside = cols <= hi[:, None]
        vals = np.where(inside, stats.binom.pmf(np.minimum(cols, N), N, p[:, None]), 0.0)
        to_zero = stats.binom.pmf(0, N, p)
        below = np.where(lo >= 2, stats.binom.cdf(lo - 1, N, p) - to_zero, 0.0)
        dropped = np.maximum(below, 0.0) + stats.binom.sf(hi, N, p)
        return lo, vals, to_zero, dropped

    def ensure(self, a: int, b: int) -> None:
        """Hold at least the rows ``a..b`` (extending by a quarter more, to amortise)."""
        if self.r0 <= a and b <= self.r1:
            return
        if self.r1 < self.r0:  # empty
            new = [(a, b)]
        else:
            new = []
            if a < self.r0:
                new.append((max(1, min(a, self.r0 - (self.r1 - self.r0 + 1) // 4)), self.r0 - 1))
            if b > self.r1:
                new.append((self.r1 + 1,
                            min(self.N, max(b, self.r1 + (self.r1 - self.r0 + 1) // 4))))
        for lo_row, hi_row in new:
            lo, vals, to_zero, dropped = self._compute(lo_row, hi_row)
            L = max(vals.shape[1], self.vals.shape[1])
            vals = np.pad(vals, ((0, 0), (0, L - vals.shape[1])))
            old = np.pad(self.vals, ((0, 0), (0, L - self.vals.shape[1])))
            if self.r1 < self.r0:  # empty
                self.r0 = lo_row
            if lo_row > self.r1:
                self.lo = np.concatenate([self.lo, lo])
                self.vals = np.concatenate([old, vals])
                self.to_zero = np.concatenate([self.to_zero, to_zero])
                self.dropped = np.concatenate([self.dropped, dropped])
            else:
                self.lo = np.concatenate([lo, self.lo])
                self.vals = np.concatenate([vals, old])
                self.to_zero = np.concatenate([to_zero, self.to_zero])
                self.dropped = np.concatenate([dropped, self.dropped])
            self.r0, self.r1 = min(self.r0, lo_row), max(self.r1, hi_row)

    def step(self, a: int, dist: np.ndarray):
        """One generation from the counts ``a .. a + len(dist) - 1`` (all >= 1): the mass sent
        to 0, the mass dropped, and the new distribution on counts ``A ..`` (>= 1)."""
        b = a + dist.size - 1
        self.ensure(a, b)
        i, j = a - self.r0, b - self.r0 + 1
        lo, vals = self.lo[i:j], self.vals[i:j]
        lost = float(dist @ self.to_zero[i:j])
        dropped = float(dist @ self.dropped[i:j])
        A = int(lo.min())
        cols = (lo - A)[:, None] + np.arange(vals.shape[1])[None, :]
        new = np.bincount(cols.ravel(), weights=(dist[:, None] * vals).ravel())
        return lost, dropped, A, new


def _trim(a: int, dist: np.ndarray, budget: float):
    """Drop the largest tails of ``dist`` (counts ``a..``) holding at most ``budget`` in all:
    ``budget / 2`` from each end.  Returns the dropped mass, the new first count and the rest."""
    half = budget / 2.0
    top = np.cumsum(dist[::-1])
    k_top = int(np.searchsorted(top, half, side="right"))      # entries with cumsum <= half
    bottom = np.cumsum(dist)
    k_bottom = int(np.searchsorted(bottom, half, side="right"))
    if k_top + k_bottom >= dist.size:  # keep at least the mode
        keep = int(np.argmax(dist))
        dropped = float(dist.sum() - dist[keep])
        return dropped, a + keep, dist[keep:keep + 1].copy()
    dropped = (float(top[k_top - 1]) if k_top else 0.0) + (float(bottom[k_bottom - 1])
                                                             if k_bottom else 0.0)
    return dropped, a + k_bottom, dist[k_bottom:dist.size - k_top]


def _loss_truncated(q: np.ndarray, N: int, n: np.ndarray, tol: float):
    """Loss probabilities of the truncated count chain and the mass each dropped (shapes
    ``(q.size, n.size)``); see :func:`loss_probability`, method ``"truncated"``."""
    out = np.zeros((q.size, n.size))
    bound = np.zeros((q.size, n.size))
    out[:, n == 0] = (q == 0)[:, None]
    n_max = int(n.max(initial=0))
    if n_max == 0:
        return out, bound
    # Budget: the first generation's binomial and, in each later one, the rows and the
    # trimmed tails of the distribution, each at most delta: (2 n_max - 1) delta <= tol.
    delta = tol / (2 * n_max)
    gw = _galton_watson_loss(q, N, n)
    gw_max = _galton_watson_loss(q, N, np.array([n_max]))[:, 0]
    rows_by_q: list[_BinomialRows] = []
    for k, qk in enumerate(q):
        if qk == 0.0:
            out[k] = 1.0
            continue
        if qk == 1.0:
            continue
        if gw_max[k] <= tol:
            # The Galton–Watson upper bound: the category cannot be lost (to within tol).
            bound[k] = gw[k]
            continue
        rows = next((r for r in rows_by_q if r.r0 <= N * qk <= r.r1), None)
        if rows is None:
            rows = _BinomialRows(N, delta)
            rows_by_q.append(rows)
        # Generation 1: Binomial(N, q), kept on {0} ∪ [lo, hi].
        half = delta / 2.0
        a = max(int(stats.binom.ppf(half, N, qk)), 1)
        b = max(int(stats.binom.isf(half, N, qk)), a)
        dist = stats.binom.pmf(np.arange(a, b + 1), N, qk)
        lost = float(stats.binom.pmf(0, N, qk))
        below = stats.binom.cdf(a - 1, N, qk) - lost if a >= 2 else 0.0
        dropped = max(float(below), 0.0) + float(stats.binom.sf(b, N, qk))
        work = 0
        for g in range(1, n_max + 1):
            if g > 1 and dist.size:
                work += dist.size * rows.vals.shape[1]
                step_lost, step_dropped, a, dist = rows.step(a, dist)
                lost += step_lost
                dropped += step_dropped
                t_dropped, a, dist = _trim(a, dist, delta)
                dropped += t_dropped
                if rows.entries > _MAX_TRUNCATED_ENTRIES or work > _MAX_TRUNCATED_WORK:
                    raise ValueError(
                        f"q={v.plain(qk)} at N={N} over n={n_max} generations needs more than "
                        f"{_MAX_TRUNCATED_ENTRIES} stored transition probabilities or "
                        f"{_MAX_TRUNCATED_WORK} operations for method='truncated' (the "
                        "counts spread too far): use method='diffusion' or 'branching', "
                        "fewer generations, or method='exact' if N <= "
                        f"{_MAX_BINOMIAL_N}")
            hit = n == g
            if np.any(hit):
                out[k, hit] = lost
                bound[k, hit] = dropped
    return out, bound


def expected_surviving(p0: ArrayLike, *, N: int, n: ArrayLike, method: str = "auto",
                       tol: float = DEFAULT_TOL, return_bound: bool = False
                       ) -> np.float64 | np.ndarray | tuple:
    """Expected number of surviving categories and expected original mass lost.

    ``E[#{k : p_k^(n) > 0}] = sum_k (1 - P_lost(p0_k, n))`` and
    ``E[sum_{k lost} p0_k] = sum_k p0_k P_lost(p0_k, n)`` (the tail mass lost), with
    ``P_lost`` from :func:`loss_probability` (same ``method`` and ``tol``, the bound ``tol``
    holding for each category).

    Returns
    -------
    surviving : ndarray, shape of ``n``
    lost_mass : ndarray, shape of ``n``
    bound : ndarray, shape of ``n``, only if ``return_bound``
        ``sum_k D_k``: the exact values lie in ``[surviving - bound, surviving]`` and
        ``[lost_mass, lost_mass + bound]`` (0 for ``"exact"``, NaN for the approximations).
    """
    p0 = v.probability_vector("p0", p0, min_length=2)
    loss, bound = loss_probability(p0, N=N, n=n, method=method, tol=tol,
                                   return_bound=True)  # (K,) + n.shape
    surviving, lost_mass = np.sum(1.0 - loss, axis=0), np.tensordot(p0, loss, axes=1)
    if return_bound:
        return surviving, lost_mass, np.sum(bound, axis=0)
    return surviving, lost_mass


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


_LOSS_TIME_METHODS = ("diffusion", "exact", "banded", "auto")


def mean_loss_time(q: float, *, N: int, method: str = "diffusion", tol: float = DEFAULT_TOL,
                   return_bound: bool = False) -> np.float64 | np.ndarray | tuple:
    """Expected generation at which a category of initial frequency ``q`` is lost,
    conditional on its loss.

    ``"diffusion"`` (default): Kimura–Ohta (1969), ``t_0 = -2 N q ln q / (1 - q)`` (haploid
    ``N``; approximate).  ``"exact"``: two-type binomial chain, ``E[T 1_lost] = P(lost) +
    sum_c pi_1(c) m(c)`` with ``(I - Q) m = 1 - c/N`` on the transient counts
    (``P(lost | c) = 1 - c/N`` is harmonic), divided by ``P(lost) = 1 - q``; full
    ``(N-1)^2`` matrix, ``N <= 4000``.  ``"banded"``: the same linear system with every row
    ``Binomial(N, c/N)`` kept on the band of counts holding all but ``tol`` of its mass, solved
    as a banded system (``scipy.linalg.solve_banded``), ``N <= 16000`` (the band grows like
    ``sqrt(N)``, the work like ``N^2``).  Dropping entries of ``Q`` only lowers ``m``; with
    ``r`` the largest row mass dropped, ``tau`` the truncated chain's largest mean absorption
    time and ``r tau < 1``, the exact value exceeds the result by at most
    ``r tau / (1 - r tau) max(m) / (1 - q)`` (the reported bound; floating-point rounding
    of the solve, about ``N * 1e-16`` relative, aside); it agrees with ``"exact"`` to
    ``2e-10`` relative at ``N = 4000`` in a fifteenth of the time.  ``"auto"``: ``"exact"``
    for ``N <= 1000``, else ``"banded"``.  At fixed ``N q = 10`` the Kimura–Ohta value is
    1.3% above the exact one at ``N = 4000`` and 1.0% at ``N = 16000``.

    The chain cannot be truncated to the counts near ``N q`` as in
    :func:`loss_probability`: the mean loss time is dominated by the rare paths that drift to
    a large frequency before being lost (at ``N = 4000``, ``N q = 10``, paths reaching a count
    of 400 carry 46% of it), so no method here is exact beyond ``N = 16000``.

    Parameters
    ----------
    q : float in (0, 1)
    N : int
    method : {"diffusion", "exact", "banded", "auto"}
    tol : float in (0, 1)
        Mass each row of ``"banded"`` may drop.
    return_bound : bool
        Also return the bound (0 for ``"exact"``, NaN for ``"diffusion"``).

    Returns
    -------
    float, or ``(float, float)`` if ``return_bound``.

    References
    ----------
    Kimura & Ohta (1969); Ewens (2004) §3.3 (mean absorption times of the chain).
    """
    q = v.scalar("q", q, check=v.probability)
    v.require("q", q, 0 < q < 1, "a frequency in (0, 1)")
    N = v.integer("N", N, minimum=1)
    tol = v.scalar("tol", tol, check=v.probability)
    v.require("tol", tol, 0.0 < tol < 1.0, "a probability bound in (0, 1)")
    if method not in _LOSS_TIME_METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, _LOSS_TIME_METHODS))}, "
                         f"got {method!r}")
    if method == "auto":
        method = "exact" if N <= 1000 else "banded"
    bound = 0.0
    if method == "diffusion":
        value, bound = -2.0 * N * q * math.log(q) / (1.0 - q), math.nan
    elif method == "exact":
        if N > _MAX_BINOMIAL_N:
            raise ValueError(f"N must be <= {_MAX_BINOMIAL_N} for method='exact', got {N}; "
                             f"use method='banded' (N <= {_MAX_BANDED_N}) or 'auto'")
        value = _loss_time_exact(q, N)
    else:
        if N > _MAX_BANDED_N:
            raise ValueError(f"N must be <= {_MAX_BANDED_N} for method='banded', got {N}: "
                             "the mean loss time needs the whole chain (see the docstring); "
                             "use method='diffusion'")
        value, bound = _loss_time_banded(q, N, tol)
    if return_bound:
        return float(value), float(bound)
    return float(value)


def _loss_time_exact(q: float, N: int) -> float:
    if N == 1:
        return 1.0
    P = _binomial_transition(N)
    Q = P[1:N, 1:N]
    m = np.linalg.solve(np.eye(N - 1) - Q, 1.0 - np.arange(1, N) / N)
    first = stats.binom.pmf(np.arange(1, N), N, q)
    return float(((1.0 - q) + first @ m) / (1.0 - q))


def _loss_time_banded(q: float, N: int, tol: float) -> tuple[float, float]:
    if N <= 2:
        return _loss_time_exact(q, N), 0.0
    c = np.arange(1, N)                       # transient counts
    p = c / N
    half = tol / 2.0
    lo = np.maximum(stats.binom.ppf(half, N, p), 1).astype(np.int64)
    hi = np.minimum(stats.binom.isf(half, N, p), N - 1).astype(np.int64)
    kl, ku = int(np.max(c - lo)), int(np.max(hi - c))
    # Row c keeps the columns c - kl .. c + ku inside [1, N-1]; the rest of its transient mass
    # (counts 1 .. c-kl-1 and c+ku+1 .. N-1) is dropped, summed exactly.
    below = np.where(c - kl >= 2, stats.binom.cdf(c - kl - 1, N, p) - stats.binom.pmf(0, N, p),
                     0.0)
    above = np.where(c + ku <= N - 2, stats.binom.sf(c + ku, N, p) - stats.binom.pmf(N, N, p),
                     0.0)
    r = float(np.max(np.maximum(below, 0.0) + np.maximum(above, 0.0)))
    # solve_banded layout: ab[ku + i - j, j] = A[i, j], A = I - Q, states i, j = 0..N-2.
    ab = np.zeros((kl + ku + 1, N - 1))
    for d in range(-ku, kl + 1):              # A[i, j] with i - j = d
        j = np.arange(max(0, -d), min(N - 1, N - 1 - d))
        i = j + d
        ab[ku + d, j] = -stats.binom.pmf(j + 1, N, (i + 1) / N)
    ab[ku] += 1.0
    rhs = np.stack([1.0 - c / N, np.ones(N - 1)], axis=1)
    m, tau = linalg.solve_banded((kl, ku), ab, rhs, check_finite=False).T
    first = stats.binom.pmf(c, N, q)
    value = ((1.0 - q) + first @ m) / (1.0 - q)
    rt = r * float(tau.max())
    bound = math.inf if rt >= 1 else rt / (1.0 - rt) * float(m.max()) / (1.0 - q)
    return float(value), bound
