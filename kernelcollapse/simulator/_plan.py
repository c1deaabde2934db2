"""The plan of a :func:`kernelcollapse.simulate` call, made before any work: its arguments
validated, its generator chains and downstream fits laid out (each chain shared by the fits that
use it), the samplers chosen, and its memory estimated and checked against the budget."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from kernelcollapse._util import memory as _memory
from kernelcollapse._util import validate as v
from kernelcollapse._util.arrays import unique_rows
from kernelcollapse.simulator import _engine
from kernelcollapse.theory import MODES, check_finite_error, check_process

__all__ = ["CHOLESKY_MAX_LAMS", "MemoryEstimate", "chunk_size", "seed_bytes"]


# Up to this many lam values the CPU downstream uses one Cholesky per lam, beyond it one
# tridiagonal reduction (kernelcollapse.simulator._engine.down_solver).
CHOLESKY_MAX_LAMS = _engine.CHOLESKY_MAX_LAMS

# Safety factor on the estimated live memory of one seed (XLA temporaries, LAPACK workspaces).
_MEMORY_SAFETY = 2.0


class _Chain(NamedTuple):
    """One generator setting of a :func:`~kernelcollapse.simulate` call (``N``: the largest
    ``n`` needed)."""

    T0: int
    lam0: float
    sigma0: float
    fresh_rows: int
    mode: str
    N: int


class _Job(NamedTuple):
    """One downstream fit: ``T`` rows, the first ``m`` synthetic, with loss weight ``weight``,
    noise ``sigma``, over the penalties ``lams``; ``solve_lams`` are those the unweighted fit
    on ``rows`` rows (after ``drop`` dropped ones) uses for the same estimator."""

    T: int
    m: int
    weight: float
    sigma: float
    lams: np.ndarray
    solve_lams: np.ndarray
    weighted: bool
    drop: int


def _job(T: int, m: int, weight: float, sigma: float, lams: np.ndarray) -> _Job:
    """The fit as the engines run it.  A weight on every row (``m = T``) is the penalty
    ``lam / weight``; weight 0 drops the ``m`` synthetic rows (the penalty rescaled to keep the
    loss's ``1/T``); otherwise the synthetic rows are scaled by ``sqrt(weight)``."""
    if m == 0 or weight == 1.0:
        return _Job(T, m, 1.0, sigma, lams, lams, False, 0)
    if m == T:
        return _Job(T, m, weight, sigma, lams, lams / weight, False, 0)
    if weight == 0.0:
        return _Job(T, m, 0.0, sigma, lams, lams * T / (T - m), False, m)
    return _Job(T, m, weight, sigma, lams, lams, True, 0)


class MemoryEstimate(NamedTuple):
    """Memory of a :func:`~kernelcollapse.simulate` call, estimated before any work (bytes).

    Attributes
    ----------
    results : float
        Held for the whole call: the errors of every point and seed, the per-seed keys, one
        generator chain's errors while they are gathered, the broadcast arguments and the
        temporaries of the final mean and standard error.
    per_seed : float
        Peak working memory of one seed (the largest chain), with a safety factor.
    budget : float
        ``memory_budget``; the seeds run in chunks of ``(budget - results) // per_seed``.
    """

    results: float
    per_seed: float
    budget: float


class _Planned(NamedTuple):
    """One generator chain of a call: its points, the ``n`` it reports and its jobs."""

    pts: np.ndarray
    ns: np.ndarray
    n_idx: np.ndarray
    spec: _Chain
    jobs: list
    job_of: np.ndarray
    gen: str  # the generators' sampler (kernelcollapse.simulator._jax), shared by the jobs
    downs: list  # each job's downstream sampler


class _Plan(NamedTuple):
    s: np.ndarray
    w0: np.ndarray
    shape: tuple
    g: dict
    seeds: int
    used: str
    chains: list
    memory: MemoryEstimate
    working_budget: float


_HINT = "use fewer seeds or grid points, or raise memory_budget"
_SEED_HINT = "use a smaller d, T or T0, or raise memory_budget"


def _held_bytes(P: int, seeds: int, gathered: int) -> float:
    """Bytes held through a call of ``P`` points (:class:`MemoryEstimate`); ``gathered``: the
    largest number of (n, lam) entries per seed of one chain's errors."""
    errors = 8.0 * P * seeds
    # errors, one chain's gathered errors or the two temporaries of std, the per-seed keys
    # (8 bytes, 24 more while computed) and 14 flat float64 copies of the arguments.
    return errors + max(8.0 * gathered * seeds, 2 * errors) + 32.0 * seeds + 112.0 * P


def _plan(eigvals, w0, *, T, T0, n, lam, sigma, sigma0, lam0, p, mode, fresh, weight, seeds,
          engine: _engine.Engine) -> _Plan:
    """Validate a :func:`~kernelcollapse.simulate` call, lay out its chains and jobs, check its
    memory; ``engine`` (checked when it was made) gives the backend, sampler and budget."""
    backend, sampler, memory_budget = engine.backend, engine.sampler, engine.memory_budget
    s, w0 = v.spectrum(eigvals, w0)
    arrays = check_process(dict(T=T, T0=T0, n=n, lam=lam, lam0=lam0, p=p, fresh=fresh,
                                weight=weight, sigma=sigma, sigma0=sigma0), integer_sizes=True)
    v.choice("mode", mode, MODES)
    seeds = v.integer("seeds", seeds, minimum=2)
    if seeds > 2**32:  # the per-seed keys count seeds in 32 bits
        raise ValueError(f"seeds must be at most 2**32, got {seeds}")
    try:
        P = math.prod(np.broadcast_shapes(*(a.shape for a in arrays.values())))
    except ValueError:
        P = None  # v.broadcast says why
    what = f"simulate on {P} grid point{'' if P == 1 else 's'} with seeds={seeds}"
    if P is not None:  # before the arguments are broadcast (copied) to the grid
        _memory.check(what, held=_held_bytes(P, seeds, 0), per_unit=0.0, unit="seed",
                      budget=memory_budget, hint=_HINT)
    shape, g = v.broadcast(**arrays)
    d = s.shape[0]
    T_all, T0_all = g["T"].astype(np.int64), g["T0"].astype(np.int64)
    m_all = np.floor(g["p"] * T_all + 0.5).astype(np.int64)  # synthetic rows, half up
    fresh_all = np.floor(g["fresh"] * T0_all + 0.5).astype(np.int64)
    check_finite_error(d, T=T_all, T0=T0_all, n=g["n"], lam=g["lam"], lam0=g["lam0"],
                          p=g["p"], weight=g["weight"], fresh=g["fresh"], sigma=g["sigma"],
                          sigma0=g["sigma0"], synthetic=m_all, mode=mode)
    used = "rows" if backend == "numpy" else sampler
    planned = []
    per_seed = gathered = 0.0
    # One generator chain per distinct (T0, lam0, sigma0, fresh rows), shared by its jobs: the
    # distinct downstream fits (T, synthetic rows, weight, sigma), each over its n and lam.
    chains, chain_of = unique_rows(T0_all, g["lam0"], g["sigma0"], fresh_all)
    for c, (T0_c, lam0_c, sigma0_c, mf_c) in enumerate(chains):
        pts = np.flatnonzero(chain_of == c)
        jobs, job_of = unique_rows(T_all[pts], m_all[pts], g["weight"][pts],
                                          g["sigma"][pts])
        uses_chain = (jobs[:, 1] > 0) & (jobs[:, 2] > 0)  # some row labelled by w_n is fitted
        ns = np.unique(g["n"][pts])
        n_idx = ns if np.any(uses_chain) else np.zeros_like(ns)
        spec = _Chain(int(T0_c), float(lam0_c), float(sigma0_c), int(mf_c), mode,
                      int(n_idx.max()))
        job_list = []
        for j, (T_j, m_j, w_j, sigma_j) in enumerate(jobs):
            jp = pts[job_of == j]
            lams = np.unique(g["lam"][jp])
            job_list.append(_job(int(T_j), int(m_j), float(w_j), float(sigma_j), lams))
        samplers = [_samplers(d, job.T, spec.T0, spec.N, spec.lam0, spec.mode, job.m, used,
                              spec.fresh_rows) for job in job_list]
        gen = samplers[0][0]  # the generators' sampler does not depend on the downstream
        downs = [down for _, down in samplers]
        planned.append(_Planned(pts, ns, n_idx, spec, job_list, job_of, gen, downs))
        per_seed = max(per_seed, _chain_seed_bytes(d, n_idx, spec, job_list, gen, downs,
                                                   backend))
        gathered = max(gathered, sum(n_idx.size * job.lams.size for job in job_list))
    held = _held_bytes(T_all.size, seeds, int(gathered))
    _memory.check(what, held=held, per_unit=per_seed, unit="seed", budget=memory_budget,
                  hint=_HINT, unit_hint=_SEED_HINT)
    for ch in planned:  # every chain's stream, before any is computed
        for job, down in zip(ch.jobs, ch.downs):
            _check_stream(d, job.T if down == "rows" else 0,
                          ch.spec.T0 if ch.gen != "law" else 0, ch.spec.N)
    return _Plan(s, w0, shape, g, seeds, used, planned,
                 MemoryEstimate(held, per_seed, memory_budget), memory_budget - held)


def _chain_seed_bytes(d: int, n_idx, ch: _Chain, jobs: list, gen: str, downs: list,
                      backend: str) -> float:
    """Peak working memory of one seed of a chain (the largest of its jobs)."""
    out = 0.0
    for job, down in zip(jobs, downs):
        size = seed_bytes(d, job.T, ch.T0, ch.N, n_idx.size, job.lams.size, gen=gen, down=down)
        if backend == "numpy":  # it draws every generation's rows of a seed at once
            size += 8.0 * ch.N * ch.T0 * (d + 1)
        out = max(out, size)
    return out


def _check_stream(d: int, T: int, T0: int, N: int) -> None:
    """The counters of the random stream (:mod:`simulator._random`) are 32-bit positions
    and 28-bit generation indices; sizes past them would repeat draws.  ``T`` and ``T0`` are
    the row counts drawn (0 where an exact law replaces the rows)."""
    from kernelcollapse.simulator import _random

    for name, rows in (("T", T), ("T0", T0)):
        if rows * (d + 1) >= _random.MAX_POSITIONS:
            raise ValueError(f"{name} * (d + 1) = {rows * (d + 1)} is too large: the simulator "
                             f"draws at most 2**32 numbers per sample block; use a smaller "
                             f"{name} or d")
    if N >= 2**_random.INDEX_BITS or N * d >= _random.MAX_POSITIONS:
        raise ValueError(f"max(n) = {N} is too large for d = {d}: max(n) must be below "
                         f"2**{_random.INDEX_BITS} and max(n) * d below 2**32")


def _samplers(d: int, T: int, T0: int, N: int, lam0: float, mode: str, m_rows: int,
              sampler: str, fresh_rows: int = 0) -> tuple[str, str]:
    """(generator sampler, downstream sampler) of :mod:`kernelcollapse.simulator._jax`."""
    exact = sampler == "auto"
    if N == 0 or (exact and mode == "replace" and lam0 == 0 and T0 >= d and not fresh_rows):
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
               down: str = "rows", solver: str | None = None) -> float:
    """Estimated peak working memory of one seed, in bytes (float64, with a safety factor);
    ``solver``: the downstream solver, by default the CPU's choice for ``L`` penalties."""
    if solver is None:
        solver = "cholesky" if L <= CHOLESKY_MAX_LAMS else "tridiagonal"
    r = min(T, d)
    chain = 2 * (N + 1) * d if gen == "law" else (
        2 * T0 * d + 4 * d * d + 3 * min(T0, d) ** 2 + (N + 1) * d)
    rows = 3 * d * d if down == "wishart" else 2 * T * d + 2 * T * Nn
    words = (
        chain + rows + 3 * r * r + d * r + (r + d) * Nn * L  # downstream
        + (L * (r * r + d * Nn) if solver == "cholesky" else 0)  # one Cholesky per lam
    )
    return 8.0 * _MEMORY_SAFETY * words


def chunk_size(seeds: int, per_seed: float, memory_budget: float, n_devices: int = 1) -> int:
    """Equal chunks of seeds that fit the budget, a multiple of the number of devices."""
    cap = max(1, int(memory_budget // per_seed))
    n_chunks = math.ceil(seeds / cap)
    size = math.ceil(seeds / n_chunks)
    return n_devices * math.ceil(size / n_devices)
