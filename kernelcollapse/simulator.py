"""Monte-Carlo simulator of model collapse in ridge regression: generator chains, downstream ridge.

The public function is :func:`simulate`; it is the judge of every formula of
:mod:`kernelcollapse.theory`.  The JAX core lives in :mod:`kernelcollapse._simulator_jax`, the
plain numpy reference (``backend="numpy"``) in :mod:`kernelcollapse._simulator_numpy`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from kernelcollapse import _keys
from kernelcollapse import _validate as v
from kernelcollapse._keys import Key
from kernelcollapse._x64 import uses_float64

__all__ = ["BACKENDS", "MODES", "SAMPLERS", "SimulationResult", "chunk_size", "seed_bytes",
           "simulate"]

MODES = ("replace", "accumulate")
BACKENDS = ("jax", "numpy")
SAMPLERS = ("auto", "rows")

# Up to this many lam values the downstream uses one Cholesky per lam, beyond it one
# tridiagonal reduction.
CHOLESKY_MAX_LAMS = 8

# Safety factor on the estimated live memory of one seed (XLA temporaries, LAPACK workspaces).
_MEMORY_SAFETY = 2.0


class SimulationResult(NamedTuple):
    """Monte-Carlo test errors.

    Attributes
    ----------
    mean : ndarray, shape grid
        Mean test error over the seeds, ``grid = (len(T), len(n), len(lam))`` with the axis of
        a scalar ``T``, ``n`` or ``lam`` dropped (a 0-d float when all three are scalars).
    stderr : ndarray, shape grid
        Standard error of the mean, ``std(errors, ddof=1) / sqrt(seeds)``.
    errors : ndarray, shape grid + (seeds,)
        Test error ``||w_pred - w0||_Sigma^2`` of every seed, seeds on the last axis.
    """

    mean: np.ndarray
    stderr: np.ndarray
    errors: np.ndarray


@uses_float64
def simulate(eigvals: ArrayLike, w0: ArrayLike, *, T: ArrayLike, T0: int, n: ArrayLike,
             lam: ArrayLike, sigma: float, sigma0: float, lam0: float = 0.0, p: float = 1.0,
             mode: str = "replace", seeds: int = 100, key: Key = 0, backend: str = "jax",
             sampler: str = "auto", memory_budget: float = 2 * 2**30) -> SimulationResult:
    r"""Simulate model collapse: a chain of ridge generators, then a downstream ridge.

    The process of the theory notes, in the eigenbasis of the covariance
    ``Sigma = diag(eigvals)``: features ``x = z * sqrt(eigvals)``, ``z ~ N(0, I_d)``.

    - Generators: ``w_0 = w0``; generation ``k + 1`` is the ridge fit

      .. math:: \hat w_{k+1} = (X^\top X/m + \lambda_0 I)^{-1} X^\top Y / m

      on ``m`` samples.  ``mode="replace"`` (the paper): ``X = X_k``, ``m = T0`` fresh samples
      labelled ``Y_k = X_k w_k + sigma0 * noise``.  ``mode="accumulate"`` (Gerstgrasser et al.
      2024): the generation-``k`` data ``(X_k, Y_k)`` are made the same way, but ``w_{k+1}`` is
      fitted on all of ``(X_0, Y_0), ..., (X_k, Y_k)`` stacked, ``m = (k + 1) * T0``: the ``T0``
      real samples ``X_0`` labelled by ``w0`` and every earlier generation's ``T0`` synthetic
      samples, each labelled by the generator of its own generation, with the same ``lam0``.
      ``lam0 = 0`` is least squares, the minimum-norm solution when ``m < d``.  Both modes
      coincide for ``n <= 1``.
    - Downstream: ``T`` fresh samples; the first ``round(p * T)`` rows (rounding half up,
      ``floor(p * T + 1/2)``) are labelled by ``w_n``, the others by ``w0``, all with noise
      ``sigma``; ridge ``lam`` with the same normalisation (minimum norm at ``lam = 0``,
      ``T < d``).
    - Test error ``||w_pred - w0||_Sigma^2 = sum_j eigvals_j (w_pred_j - w0_j)^2``, exact (no test
      sample).

    The work is shared across the grid: one chain per seed up to ``max(n)`` serves every ``n``
    and every ``T`` (a seed's errors at different ``T`` share its chain, so they are dependent,
    each with its exact law), the downstream design and its noise are shared across ``n``, and
    one tridiagonal reduction ``G = Q Tr Q'`` of the downstream Gram matrix serves every ``lam``
    (each ``lam`` is then a tridiagonal solve; up to 8 values of ``lam`` a Cholesky each is
    cheaper).

    Sampling.  With ``sampler="auto"`` (jax backend) the statistics the fits depend on are drawn
    from their exact finite-sample laws where these are known, instead of drawing every sample:

    - least-squares generators (``lam0 = 0``) in replace mode with ``T0 >= d``: the increment
      ``w_{k+1} - w_k = sigma0 Sigma^{-1/2} (Z^T Z)^{-1} Z^T e`` is, in law,
      ``sigma0 Sigma^{-1/2} g / sqrt(c)`` with ``g ~ N(0, I_d)`` and ``c ~ chi2(T0 - d + 1)``
      independent (rotation invariance plus the Schur complement of a Wishart matrix);
    - the downstream data when all ``T`` rows carry the same labelling (``p = 1``, or ``p``
      rounding to no synthetic row) and ``T >= d / 2``: ``Z^T Z`` and ``Z^T E`` are drawn
      through the Bartlett factor of ``Wishart_d(T, I)`` (the singular one, of rank ``T``,
      when ``T < d``; it takes ``d (d + 1) / 2`` normals, fewer than the ``T (d + 1)`` of the
      rows from ``T = d / 2`` on).

    These are identities in law (the same process, the same distribution of every seed's
    errors, checked against ``sampler="rows"`` in the tests), not approximations; they cut the
    cost of a generation from ``O(T0 d^2)`` to ``O(d)``, and the compiled draws serve every
    ``T`` (the linear algebra compiles once for all ``T >= d``, once per ``T < d``).
    ``sampler="rows"`` draws every sample row as the process is written (the ``numpy`` backend
    always does).  The two samplers give different draws for the same key.

    Parameters
    ----------
    eigvals : array_like, shape (d,)
        Covariance eigenvalues, ``> 0``.
    w0 : array_like, shape (d,)
        Teacher coefficients in the eigenbasis.
    T : int or sequence of int, shape (NT,)
        Downstream sample sizes, ``>= 1``.  A sequence is one call for every ``T``: the
        generator chains are drawn and fitted once per seed for all of them.
    T0 : int
        Per-generation sample size, ``>= 1``.
    n : int or sequence of int, shape (Nn,)
        Generations, ``>= 0`` (``0``: clean data).
    lam : float or sequence of float, shape (L,)
        Downstream ridge, ``>= 0``.
    sigma, sigma0 : float
        Label noise of the downstream data and of the generators, ``>= 0``.
    lam0 : float, default 0.0
        Generator ridge, ``>= 0``.
    p : float, default 1.0
        Fraction of the downstream samples labelled by ``w_n``, in ``[0, 1]``.
    mode : {"replace", "accumulate"}
        Data workflow of the generators.
    seeds : int, default 100
        Number of independent repetitions, ``>= 2``.
    key : int or jax PRNG key
        Master key: seed ``i`` uses row ``i`` of ``jax.random.split(key, seeds)``.  The results
        for a given key and sampler do not depend on ``memory_budget`` (the chunking).
    backend : {"jax", "numpy"}
        ``"jax"``: jit-compiled, vmapped over seeds.  ``"numpy"``: a plain numpy loop on the
        identical draws as ``backend="jax", sampler="rows"`` (slow; a reference for the tests).
    sampler : {"auto", "rows"}, default "auto"
        ``"auto"``: exact laws of the sufficient statistics where they apply (see Sampling);
        ``"rows"``: every sample row drawn.  The numpy backend always draws rows.
    memory_budget : float, default 2 GiB
        Bytes of working memory; the seeds are processed in equal chunks sized to fit it.

    Returns
    -------
    SimulationResult
        ``mean`` and ``stderr`` of shape ``(NT, Nn, L)``, ``errors`` of shape
        ``(NT, Nn, L, seeds)``; the axis of a scalar ``T``, ``n`` or ``lam`` is dropped.

    Raises
    ------
    ValueError, TypeError
        On invalid input, naming the argument, the value and the valid range.

    References
    ----------
    E. Dohmatob, Y. Feng, J. Kempe, "Model Collapse Demystified: The Case of Regression",
    NeurIPS 2024, arXiv:2402.07712 (the replace process).
    M. Gerstgrasser et al., "Is Model Collapse Inevitable? Breaking the Curse of Recursion by
    Accumulating Real and Synthetic Data", arXiv:2404.01413 (the accumulate process).
    """
    s, w0 = v.spectrum(eigvals, w0)
    Ts = _sample_sizes(T)
    T0 = v.integer("T0", T0, minimum=1)
    ns = _grid("n", n, v.nonnegative_integer)
    lams = _grid("lam", lam, v.nonnegative)
    sigma = v.scalar("sigma", sigma, check=v.nonnegative)
    sigma0 = v.scalar("sigma0", sigma0, check=v.nonnegative)
    lam0 = v.scalar("lam0", lam0, check=v.nonnegative)
    p = v.scalar("p", p, check=v.probability)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    seeds = v.integer("seeds", seeds, minimum=2)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    memory_budget = v.scalar("memory_budget", memory_budget, check=v.positive)
    seed_keys = _keys.seed_keys(key, seeds)

    T_flat = [int(t) for t in Ts.reshape(-1)]
    m_rows = [math.floor(p * T + 0.5) for T in T_flat]
    n_idx = ns.reshape(-1)
    if not any(m_rows):  # no downstream row uses w_n: skip the chain (the draws are independent)
        n_idx = np.zeros_like(n_idx)
    N = int(n_idx.max())
    lam_flat = lams.reshape(-1)
    used = "rows" if backend == "numpy" else sampler
    samplers = [_samplers(s.shape[0], T, T0, N, lam0, mode, m, used)
                for T, m in zip(T_flat, m_rows)]
    gen = samplers[0][0]  # the generators' sampler does not depend on T
    downs = [down for _, down in samplers]
    for T, down in zip(T_flat, downs):
        _check_stream(s.shape[0], T if down == "rows" else 0, T0 if gen != "law" else 0, N)

    if backend == "numpy":
        from kernelcollapse._simulator_numpy import simulate_numpy

        errors = np.stack([simulate_numpy(np.asarray(seed_keys), s, w0, lam_flat, n_idx, sigma,
                                          sigma0, lam0, T=T, T0=T0, mode=mode, m_rows=m)
                           for T, m in zip(T_flat, m_rows)])
    else:
        errors = _simulate_jax(seed_keys, s, w0, lam_flat, n_idx, sigma, sigma0, lam0,
                               Ts=T_flat, T0=T0, N=N, mode=mode, m_rows=m_rows, gen=gen,
                               downs=downs, memory_budget=memory_budget)
    errors = errors.reshape(Ts.shape + ns.shape + lams.shape + (seeds,))
    mean = errors.mean(axis=-1)
    stderr = errors.std(axis=-1, ddof=1) / np.sqrt(seeds)
    return SimulationResult(mean, stderr, errors)


def _sample_sizes(T) -> np.ndarray:
    """``T`` as a 0-d or 1-D int array of sizes ``>= 1``."""
    if np.ndim(T) == 0:
        return np.asarray(v.integer("T", T, minimum=1))
    return _grid("T", T, v.positive_integer)


def _grid(name: str, value, check) -> np.ndarray:
    arr = check(name, value)
    if arr.ndim > 1 or arr.size == 0:
        raise ValueError(f"{name} must be a scalar or a non-empty 1-D sequence, got shape "
                         f"{arr.shape}")
    return arr


def _check_stream(d: int, T: int, T0: int, N: int) -> None:
    """The counters of the random stream (:mod:`kernelcollapse._random`) are 32-bit positions
    and 28-bit generation indices; sizes past them would repeat draws.  ``T`` and ``T0`` are
    the row counts drawn (0 where an exact law replaces the rows)."""
    from kernelcollapse import _random

    for name, rows in (("T", T), ("T0", T0)):
        if rows * (d + 1) >= _random.MAX_POSITIONS:
            raise ValueError(f"{name} * (d + 1) = {rows * (d + 1)} is too large: the simulator "
                             f"draws at most 2**32 numbers per sample block; use a smaller "
                             f"{name} or d")
    if N >= 2**_random.INDEX_BITS or N * d >= _random.MAX_POSITIONS:
        raise ValueError(f"max(n) = {N} is too large for d = {d}: max(n) must be below "
                         f"2**{_random.INDEX_BITS} and max(n) * d below 2**32")


def _samplers(d: int, T: int, T0: int, N: int, lam0: float, mode: str, m_rows: int,
              sampler: str) -> tuple[str, str]:
    """(generator sampler, downstream sampler) of :mod:`kernelcollapse._simulator_jax`."""
    exact = sampler == "auto"
    if N == 0 or (exact and mode == "replace" and lam0 == 0 and T0 >= d):
        gen = "law"  # with N = 0 there is no generation: the cheapest program
    elif T0 >= d:
        gen = "primal"
    elif mode == "replace":
        gen = "dual"
    else:
        gen = "primal" if lam0 > 0 else "pinv"
    # The Bartlett factor takes d (d + 1) / 2 normals whatever T, the rows T (d + 1): below
    # T = d / 2 (singular Wishart) drawing the rows is cheaper, in draws and in memory.
    down = "wishart" if exact and m_rows in (0, T) and 2 * T >= d else "rows"
    return gen, down


def seed_bytes(d: int, T: int, T0: int, N: int, Nn: int, L: int, *, gen: str = "primal",
               down: str = "rows") -> float:
    """Estimated peak working memory of one seed, in bytes (float64, with a safety factor)."""
    r = min(T, d)
    chain = 2 * (N + 1) * d if gen == "law" else (
        2 * T0 * d + 4 * d * d + 3 * min(T0, d) ** 2 + (N + 1) * d)
    rows = 3 * d * d if down == "wishart" else 2 * T * d + 2 * T * Nn
    words = (
        chain + rows + 3 * r * r + d * r + (r + d) * Nn * L  # downstream
        + (L * (r * r + d * Nn) if L <= CHOLESKY_MAX_LAMS else 0)  # one Cholesky per lam
    )
    return 8.0 * _MEMORY_SAFETY * words


def chunk_size(seeds: int, per_seed: float, memory_budget: float, n_devices: int = 1) -> int:
    """Equal chunks of seeds that fit the budget, a multiple of the number of devices."""
    cap = max(1, int(memory_budget // per_seed))
    n_chunks = math.ceil(seeds / cap)
    size = math.ceil(seeds / n_chunks)
    return n_devices * math.ceil(size / n_devices)


def _simulate_jax(seed_keys, s, w0, lams, n_idx, sigma, sigma0, lam0, *, Ts, T0, N, mode,
                  m_rows, gen, downs, memory_budget):
    """Errors ``(len(Ts), Nn, L, seeds)`` with the samplers ``gen`` and ``downs`` (one per ``T``)
    of :func:`_samplers`.  A ``rows`` generator chain is fitted once per seed for every ``T``."""
    import jax

    from kernelcollapse import _random
    from kernelcollapse._simulator_jax import (
        chain_weights,
        simulate_chunk,
        wishart_draws,
        wishart_errors,
    )

    d = s.shape[0]
    seeds = seed_keys.shape[0]
    devices = jax.devices()
    if devices[0].platform == "cpu":
        # Host "devices" (XLA_FLAGS=--xla_force_host_platform_device_count) run on the same
        # cores, and with the seeds sharded over them these programs deadlock jax 0.10's CPU
        # runtime (seen with jax's gamma sampler next to LAPACK sytrd/syevd, and still with
        # the loop-free draws of the Wishart route): run on one.
        devices = devices[:1]
    per_seed = max(seed_bytes(d, T, T0, N, n_idx.size, lams.size, gen=gen, down=down)
                   for T, down in zip(Ts, downs))
    size = chunk_size(seeds, per_seed, memory_budget, len(devices))
    n_chunks = math.ceil(seeds / size)
    pad = n_chunks * size - seeds
    seed_keys = np.asarray(seed_keys)  # numpy: no eager jax op (each compiles) to pad
    if pad:  # pad with copies of the first key so that one compiled function serves all chunks
        seed_keys = np.concatenate([seed_keys, np.repeat(seed_keys[:1], pad, axis=0)])
    sharding = None
    if len(devices) > 1:  # split each chunk's seeds across the devices
        from jax.sharding import Mesh, NamedSharding, PartitionSpec

        sharding = NamedSharding(Mesh(np.array(devices), ("seeds",)), PartitionSpec("seeds"))
    # numpy scalars and arrays: jit converts them without eager (compiled) jax ops.
    sqrt_s, w0, lams = np.sqrt(s), np.asarray(w0, np.float64), np.asarray(lams, np.float64)
    n_idx = np.asarray(n_idx, np.int32)
    sigma, sigma0, lam0, T0_ = (np.float64(x) for x in (sigma, sigma0, lam0, T0))
    weights_static = dict(d=d, N=N, gen_sampler=gen)
    down_solver = "cholesky" if lams.size <= CHOLESKY_MAX_LAMS else "tridiagonal"

    def errors_at(keys, W, T, m, down, rounds):
        T_ = np.float64(T)
        if down == "wishart":  # two programs: the draws serve every T, the algebra every T >= d
            W, L, h, complete = wishart_draws(keys, W, sqrt_s, w0, n_idx, sigma0, T_, T0_,
                                              rounds=rounds, **weights_static)
            err = wishart_errors(W, L, h, sqrt_s, w0, lams, sigma, T_, d=d,
                                 T_small=T if T < d else 0, down_solver=down_solver)
        else:
            err, complete = simulate_chunk(keys, W, sqrt_s, w0, lams, n_idx, sigma, sigma0,
                                           np.int32(m), T_, T0_, T_rows=T,
                                           down_solver=down_solver, rounds=rounds,
                                           **weights_static)
        return err, np.asarray(complete).all()

    out = np.empty((len(Ts), n_chunks * size, n_idx.size, lams.size))
    for i in range(n_chunks):
        keys = seed_keys[i * size:(i + 1) * size]
        if sharding is not None:
            keys = jax.device_put(keys, sharding)
        W = None  # the law generators are drawn with the downstream data
        if gen != "law":  # the rows chain: once per seed, shared by every T
            W = chain_weights(keys, sqrt_s, w0, n_idx, sigma0, lam0, d=d, T0=T0, N=N,
                              mode=mode, gen_solver=gen)
        for j, (T, m, down) in enumerate(zip(Ts, m_rows, downs)):
            rounds = _random.ROUNDS
            err, complete = errors_at(keys, W, T, m, down, rounds)
            while not complete:  # rare (< 2e-7 per chi-square draw): same draws, more candidates
                rounds *= 8
                err, complete = errors_at(keys, W, T, m, down, rounds)
            out[j, i * size:(i + 1) * size] = np.asarray(err)
    return np.moveaxis(out[:, :seeds], 1, -1)
