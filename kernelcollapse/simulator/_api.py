"""Monte-Carlo simulator of model collapse in ridge regression: generator chains, downstream ridge.

The public function is :func:`simulate`; it is the judge of every formula of
:mod:`kernelcollapse.theory`.  The JAX core lives in :mod:`kernelcollapse.simulator._jax`, the
plain numpy reference (``backend="numpy"``) in :mod:`kernelcollapse.simulator._numpy`.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from kernelcollapse._util import keys as _keys
from kernelcollapse._util.blas import uses_one_blas_thread
from kernelcollapse._util.docs import fill
from kernelcollapse._util.keys import Key
from kernelcollapse._util.x64 import uses_float64
from kernelcollapse.simulator import _engine
from kernelcollapse.simulator._engine import BACKENDS, SAMPLERS, Engine
from kernelcollapse.simulator._plan import (
    MemoryEstimate,
    _Chain,
    _Job,
    _plan,
    _Planned,
    seed_bytes,
)
from kernelcollapse.theory import PARAMETERS

__all__ = ["BACKENDS", "SAMPLERS", "Engine", "MemoryEstimate", "SimulationResult",
           "check_simulation", "simulate"]


class SimulationResult(NamedTuple):
    """Monte-Carlo test errors.

    Attributes
    ----------
    mean : ndarray, shape grid
        Mean test error over the seeds; ``grid`` is the broadcast shape of the array arguments
        (a 0-d array when all are scalars).
    stderr : ndarray, shape grid
        Standard error of the mean, ``std(errors, ddof=1) / sqrt(seeds)``.
    errors : ndarray, shape grid + (seeds,)
        Test error ``||w_pred - w0||_Sigma^2`` of every seed, seeds on the last axis.
    """

    mean: np.ndarray
    stderr: np.ndarray
    errors: np.ndarray


@uses_one_blas_thread
@uses_float64
def simulate(eigvals: ArrayLike, w0: ArrayLike, *, T: ArrayLike, T0: ArrayLike, n: ArrayLike,
             lam: ArrayLike, sigma: ArrayLike, sigma0: ArrayLike, lam0: ArrayLike = 0.0,
             p: ArrayLike = 1.0, mode: str = "replace", fresh: ArrayLike = 0.0,
             weight: ArrayLike = 1.0, seeds: int = 100, key: Key = 0,
             engine: Engine | None = None, backend: str | None = None,
             sampler: str | None = None, memory_budget: float | None = None,
             threads: int | None = None, progress: bool = False) -> SimulationResult:
    r"""Simulate model collapse: a chain of ridge generators, then a downstream ridge.

    The process of ``docs/theory/setting.rst``, in the eigenbasis of the covariance
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
      coincide for ``n <= 1``.  With ``fresh = q > 0`` (replace), the first
      ``round(q * T0)`` rows of every generation are labelled by the truth ``w0`` instead of
      the previous generator (fresh real data; Bertrand et al. 2024).
    - Downstream: ``T`` fresh samples; the first ``round(p * T)`` rows (rounding half up,
      ``floor(p * T + 1/2)``), the *synthetic* rows, are labelled by ``w_n``, the others by
      ``w0``, all with noise ``sigma``; the ridge fit minimises
      ``sum_i omega_i (y_i - x_i w)^2 / T + lam ||w||^2`` with ``omega_i = weight`` on the
      synthetic rows and 1 on the others (minimum norm at ``lam = 0`` when
      underdetermined).
    - Test error ``||w_pred - w0||_Sigma^2 = sum_j eigvals_j (w_pred_j - w0_j)^2``, exact (no test
      sample).

    Grid convention (as in :func:`kernelcollapse.theory.test_error`): the array arguments
    ``T, T0, n, lam, lam0, p, fresh, weight, sigma, sigma0`` broadcast by numpy's rules and the
    results have the broadcast shape, plus a last axis of seeds for ``errors``:
    ``n=[0, 1, 2], lam=[0.1, 0.2, 0.3]`` are three points, ``n=[[0], [1], [2]], lam=[0.1,
    1]`` a ``(3, 2)`` grid.  A point's errors for a given key do not depend on the rest of the
    grid.

    The work is shared across the grid: one chain per seed and generator setting, up to the
    largest ``n``, serves every ``n``, ``T``, ``lam``, ``p``, ``weight`` and ``sigma`` (a
    seed's errors at different points share its chain, so they are dependent, each with its
    exact law), and one factorisation of the downstream Gram matrix serves every ``lam``.

    Sampling.  With ``sampler="auto"`` (jax backend) the statistics the fits depend on are drawn
    from their exact finite-sample laws where these are known (least-squares generators in
    replace mode with ``T0 >= d``; the downstream Gram through its Bartlett factor when every
    row carries the same labelling and ``T >= d / 2``), instead of every sample row: identities
    in law, not approximations, derived in ``docs/theory/simulator.rst`` and checked against
    ``sampler="rows"`` in the tests.  ``sampler="rows"`` draws every row as the process is
    written (the ``numpy`` backend always does); the two give different draws for one key.

    Parameters
    ----------
    eigvals : array_like, shape (d,)
        Covariance eigenvalues, ``> 0``.
    w0 : array_like, shape (d,)
        Teacher coefficients in the eigenbasis.
    T : int or array_like of int
        Downstream sample sizes, ``>= 1``.
    T0 : int or array_like of int
        Per-generation sample size, ``>= 1``.
    {process.n,lam,sigma,sigma0,lam0,p,mode,fresh,weight}
    seeds : int, default 100
        Number of independent repetitions, ``>= 2``.
    key : int or jax PRNG key
        Master key: seed ``i`` uses row ``i`` of ``jax.random.split(key, seeds)``.  The results
        for a given key and sampler do not depend on ``memory_budget`` (the chunking).
    engine : Engine, optional
        The engine's choices in one object (:class:`Engine`: backend, sampler, memory budget,
        threads, lanes, downstream solver, devices, compilation cache); default ``Engine()``.
        ``backend``, ``sampler``, ``memory_budget`` and ``threads`` given as keywords replace
        its fields for this call.
    backend : {"jax", "numpy"}, default "jax"
        ``"jax"``: jit-compiled, vmapped over seeds.  ``"numpy"``: a plain numpy loop on the
        identical draws as ``backend="jax", sampler="rows"`` (slow; a reference for the tests).
    sampler : {"auto", "rows"}, default "auto"
        ``"auto"``: exact laws of the sufficient statistics where they apply (see Sampling);
        ``"rows"``: every sample row drawn.  The numpy backend always draws rows.
    memory_budget : float, default 2 GiB
        Bytes of memory for the call: the results (``errors`` and what is held with them,
        :class:`MemoryEstimate`) and the working memory of the seeds, processed in equal
        chunks sized to fit what the results leave.  Checked before any work: a call whose
        results plus one seed's working memory exceed it, or whose results exceed the memory
        available on the machine, is refused (:func:`check_simulation`).
    threads : int, optional
        CPU threads, each running its own chunk of seeds at a time (jax backend on CPU).
        Default: the environment variable ``KERNELCOLLAPSE_THREADS`` if set, else the cores
        this process may use (``os.sched_getaffinity``); at most what ``memory_budget`` holds.
        The results are bit-identical for any number of threads, chunks or devices (every
        program loops over the seeds, so a seed's numbers do not depend on its neighbours).
        On a GPU the seeds run as one batch instead, split across the GPUs when there are
        several (``KERNELCOLLAPSE_DEVICES``; the options are in :mod:`simulator._engine`).
    progress : bool, default False
        Show a tqdm progress bar on stderr, in seeds, advanced as each chunk of seeds ends
        (the command line shows it unless ``--no-progress``).  It does not change the
        results.

    Returns
    -------
    SimulationResult
        ``mean`` and ``stderr`` of the broadcast shape of the arguments, ``errors`` of that
        shape plus ``(seeds,)``.

    Raises
    ------
    ValueError, TypeError
        On invalid input, naming the argument, the value and the valid range; on settings
        whose true expected error is infinite or undefined, with the same message as
        :func:`kernelcollapse.theory.test_error` (least squares within one row of
        interpolation, ``weight = 0`` with ``p = 1``, fresh rows with accumulate); on a request
        beyond ``memory_budget`` or the machine's memory, with the estimate and the limit.
        All before any work.
    KeyboardInterrupt
        On Ctrl-C: the chunks of seeds that are running finish (on CPU a call has at least
        :data:`simulator._engine.CHUNKS_PER_THREAD` chunks per thread, so this takes a
        small fraction of the call), the others are dropped, and no work of the call goes on
        once it is raised.

    Examples
    --------
    >>> import numpy as np, kernelcollapse as kc
    >>> eigvals, w0 = kc.isotropic(10)
    >>> sim = kc.simulate(eigvals, w0, T=50, T0=100, n=[0, 3], lam=0.0, sigma=0.5, sigma0=0.5,
    ...                   seeds=2000, key=0)
    >>> exact = kc.exact_ols_error(10, T=50, T0=100, n=[0, 3], sigma=0.5, sigma0=0.5)
    >>> bool(np.all(np.abs(sim.mean - exact) < 4 * sim.stderr))
    True

    References
    ----------
    E. Dohmatob, Y. Feng, J. Kempe, "Model Collapse Demystified: The Case of Regression",
    NeurIPS 2024, arXiv:2402.07712 (the replace process).
    M. Gerstgrasser et al., "Is Model Collapse Inevitable? Breaking the Curse of Recursion by
    Accumulating Real and Synthetic Data", arXiv:2404.01413 (the accumulate process).
    Q. Bertrand et al., "On the Stability of Iterative Retraining of Generative Models on their
    own Data", ICLR 2024 (fresh real data each generation).
    """
    eng = _engine_of(engine, backend=backend, sampler=sampler, memory_budget=memory_budget,
                     threads=threads)
    plan = _plan(eigvals, w0, T=T, T0=T0, n=n, lam=lam, sigma=sigma, sigma0=sigma0,
                 lam0=lam0, p=p, mode=mode, fresh=fresh, weight=weight, seeds=seeds,
                 engine=eng)
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True or False, got {progress!r}")
    shape, g, seeds = plan.shape, plan.g, plan.seeds
    seed_keys = _keys.seed_keys(key, seeds)
    errors = np.empty((g["n"].size, seeds))
    with _progress_bar(seeds * len(plan.chains), enabled=bool(progress)) as bar:
        outs = [_run_chain(seed_keys, plan.s, plan.w0, ch, engine=eng,
                           memory_budget=plan.working_budget, on_seeds=bar.update)
                for ch in plan.chains]
    for ch, out in zip(plan.chains, outs):
        for j, job in enumerate(ch.jobs):
            jp = ch.pts[ch.job_of == j]
            i_n = np.searchsorted(ch.ns, g["n"][jp])
            i_l = np.searchsorted(job.lams, g["lam"][jp])
            errors[jp] = out[j][i_n, i_l]
    errors = errors.reshape(shape + (seeds,))
    mean = errors.mean(axis=-1)
    stderr = errors.std(axis=-1, ddof=1) / np.sqrt(seeds)
    return SimulationResult(mean, stderr, errors)


simulate.__doc__ = fill(simulate.__doc__, PARAMETERS)


def check_simulation(eigvals: ArrayLike, w0: ArrayLike, *, T: ArrayLike, T0: ArrayLike,
                     n: ArrayLike, lam: ArrayLike, sigma: ArrayLike, sigma0: ArrayLike,
                     lam0: ArrayLike = 0.0, p: ArrayLike = 1.0, mode: str = "replace",
                     fresh: ArrayLike = 0.0, weight: ArrayLike = 1.0, seeds: int = 100,
                     engine: Engine | None = None, backend: str | None = None,
                     sampler: str | None = None,
                     memory_budget: float | None = None) -> MemoryEstimate:
    """Everything :func:`simulate` checks before any work, without running it.

    The arguments are those of :func:`simulate` (without ``key``).  Sweeps call it for every
    point before running the first one.

    Returns
    -------
    MemoryEstimate
        The memory the call would take.

    Raises
    ------
    ValueError, TypeError
        What :func:`simulate` would raise: bad input, settings whose true error is infinite or
        undefined, or a request beyond ``memory_budget`` (or beyond the memory available on
        the machine), with the estimate and the budget in the message.
    """
    eng = _engine_of(engine, backend=backend, sampler=sampler, memory_budget=memory_budget)
    return _plan(eigvals, w0, T=T, T0=T0, n=n, lam=lam, sigma=sigma, sigma0=sigma0, lam0=lam0,
                 p=p, mode=mode, fresh=fresh, weight=weight, seeds=seeds, engine=eng).memory


def _engine_of(engine, **given) -> Engine:
    """``engine`` (default ``Engine()``) with the fields given as keywords replaced."""
    if engine is None:
        engine = Engine()
    elif not isinstance(engine, Engine):
        raise TypeError(f"engine must be a kernelcollapse.simulator.Engine, got {engine!r}")
    changes = {k: val for k, val in given.items() if val is not None}
    return dataclasses.replace(engine, **changes) if changes else engine


def _progress_bar(total: int, *, enabled: bool):
    """A tqdm bar on stderr over ``total`` seeds (disabled unless ``enabled``)."""
    import sys

    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc="simulate", unit="seed", leave=False,
                file=sys.stderr)


def _run_chain(seed_keys, s, w0, ch: _Planned, *, engine: Engine, memory_budget: float,
               on_seeds=None) -> list[np.ndarray]:
    """Errors ``(Nn, L_job, seeds)`` of each job of one planned generator chain (its samplers
    and stream limits decided by the plan); ``on_seeds(k)`` is called (in the calling thread)
    as each chunk of ``k`` seeds ends."""
    n_idx, jobs, gen, downs = ch.n_idx, ch.jobs, ch.gen, ch.downs
    ch = ch.spec
    if engine.backend == "numpy":
        from kernelcollapse.simulator._numpy import simulate_numpy

        errs = [simulate_numpy(np.asarray(seed_keys), s, w0, job.solve_lams, n_idx, job.sigma,
                               ch.sigma0, ch.lam0, T=job.T, T0=ch.T0, mode=ch.mode,
                               m_rows=job.m, m_fresh=ch.fresh_rows,
                               weight=job.weight if job.weighted else 1.0, drop=job.drop)
                for job in jobs]
        if on_seeds is not None:
            on_seeds(seed_keys.shape[0])
        return errs
    return _simulate_jax(seed_keys, s, w0, n_idx, ch, jobs, gen=gen, downs=downs,
                         memory_budget=memory_budget, engine=engine, on_seeds=on_seeds)


def _simulate_jax(seed_keys, s, w0, n_idx, ch: _Chain, jobs: list[_Job], *, gen, downs,
                  memory_budget, engine: Engine, on_seeds=None):
    """Errors ``(Nn, L_job, seeds)`` of each job with the samplers ``gen`` and ``downs`` (one
    per job) of :func:`_samplers`.  A ``rows`` generator chain is fitted once per seed for
    every job.  The seeds run in chunks (:func:`simulator._engine.layout`): on CPU several
    at once, one per thread; elsewhere split across the devices."""
    d = s.shape[0]
    seeds = seed_keys.shape[0]
    platform = _engine.devices(engine.devices)[0].platform
    per_seed = max(seed_bytes(d, job.T, ch.T0, ch.N, n_idx.size, job.lams.size, gen=gen,
                              down=down, solver=_engine.down_solver(platform, job.lams.size,
                                                                    engine.down_solver))
                   for job, down in zip(jobs, downs))
    lay = _engine.layout(seeds, per_seed, memory_budget, engine=engine)
    # opt-in (Engine.compilation_cache, else KERNELCOLLAPSE_COMPILATION_CACHE)
    _engine.compilation_cache(engine.compilation_cache)
    pad = lay.n_chunks * lay.chunk - seeds
    seed_keys = np.asarray(seed_keys)  # numpy: no eager jax op (each compiles) to pad
    if pad:  # pad with copies of the first key so that one compiled function serves all chunks
        seed_keys = np.concatenate([seed_keys, np.repeat(seed_keys[:1], pad, axis=0)])
    out = [np.empty((lay.n_chunks * lay.chunk, n_idx.size, job.lams.size)) for job in jobs]
    run = _chunk_runner(s, w0, n_idx, ch, jobs, gen=gen, downs=downs, lay=lay, out=out,
                        solver=engine.down_solver)
    chunks = [slice(i * lay.chunk, (i + 1) * lay.chunk) for i in range(lay.n_chunks)]
    _in_threads(run, [(seed_keys[sl], sl) for sl in chunks], lay.workers,
                done=[min(sl.stop, seeds) - sl.start for sl in chunks], on_done=on_seeds)
    return [np.moveaxis(o[:seeds], 0, -1) for o in out]


# How often the waiting thread wakes up while chunks run (seconds): the bound on how late it
# sees a Ctrl-C where the platform does not interrupt a lock wait.
_POLL = 0.2


def _in_threads(fn, args: list, workers: int, *, done: list | None = None,
                on_done=None) -> None:
    """``fn(*a)`` for every ``a`` of ``args`` on ``workers`` threads, in the float64 scope (which
    is per thread); ``on_done(done[i])`` is called here as task ``i`` ends.

    The calling thread only waits, so it takes Ctrl-C at once even with one worker (a jitted
    call in the calling thread would hold it until the call returns).  On an exception here or
    in a task (Ctrl-C included) the tasks not started are dropped and the running ones are
    awaited before it is raised: nothing of the call computes once it is raised (a sweep then
    releases its results file), and no worker is left for the interpreter to join at exit.  A
    further Ctrl-C during that wait is absorbed, the wait lasting one chunk at most."""
    import concurrent.futures as cf
    import threading

    from kernelcollapse._util.x64 import float64

    stop = threading.Event()

    def task(a):
        if stop.is_set():  # dropped between chunks
            return
        with float64():
            fn(*a)

    pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kernelcollapse")
    futures = {pool.submit(task, a): i for i, a in enumerate(args)}
    try:
        pending = set(futures)
        while pending:
            finished, pending = cf.wait(pending, timeout=_POLL,
                                        return_when=cf.FIRST_COMPLETED)
            for f in finished:
                f.result()
                if on_done is not None and done is not None:
                    on_done(done[futures[f]])
    except BaseException:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        _await(futures)
        try:
            pool.shutdown(wait=True)  # the workers' last lines of Python
        except KeyboardInterrupt:
            pass
        raise
    pool.shutdown(wait=True)


def _await(futures) -> None:
    """Wait until every future is done, taking further Ctrl-Cs without leaving the wait.

    The wait is on the futures, not a join of the threads: Python 3.11's ``Thread.join``,
    interrupted, marks a thread that is still running as ended (bpo-45274), and the
    interpreter then ends it at exit inside XLA, which aborts the process.  Once its task is
    done a worker runs only the pool's own Python code, which ends by itself."""
    import concurrent.futures as cf

    while True:
        try:
            # done() and not cf.wait alone: wait never counts a future cancelled before it
            # ran (no worker notifies it), and would wait for it forever.
            pending = [f for f in futures if not f.done()]
            if not pending:
                return
            cf.wait(pending, timeout=_POLL)
        except KeyboardInterrupt:
            continue


def _chunk_runner(s, w0, n_idx, ch: _Chain, jobs: list[_Job], *, gen, downs, lay, out,
                  solver: str | None = None):
    """A function ``run(keys, rows)`` that computes one chunk of seeds and writes its errors
    into ``out[j][rows]`` for every job ``j``; ``solver``: the engine's downstream solver
    (``None``: the default)."""
    requested_solver = solver
    import jax

    from kernelcollapse.simulator import _random
    from kernelcollapse.simulator._jax import (
        chain_weights,
        down_solver,
        generator,
        simulate_chunk,
        wishart_draws,
        wishart_errors,
    )

    d = s.shape[0]
    sharding = None
    if lay.mesh is not None:
        from jax.sharding import NamedSharding, PartitionSpec

        from kernelcollapse.simulator._jax import SEED_AXIS

        sharding = NamedSharding(lay.mesh, PartitionSpec(SEED_AXIS))
    # numpy scalars and arrays: jit converts them without eager (compiled) jax ops.
    sqrt_s, w0 = np.sqrt(s), np.asarray(w0, np.float64)
    n_idx = np.asarray(n_idx, np.int32)
    sigma0, lam0, T0_ = (np.float64(x) for x in (ch.sigma0, ch.lam0, ch.T0))
    placed = dict(lanes=lay.lanes, mesh=lay.mesh)
    weights_static = dict(d=d, N=ch.N, gen=generator(gen), **placed)

    def errors_at(keys, W, job: _Job, down, rounds, drawn: dict):
        T_ = np.float64(job.T)
        lams = np.asarray(job.solve_lams, np.float64)
        solver = down_solver(_engine.down_solver(lay.platform, lams.size, requested_solver))
        sigma = np.float64(job.sigma)
        if down == "wishart":  # two programs: the draws serve every T, the algebra every T >= d
            # The draws depend on T, not on the job's noise, weight or synthetic rows: jobs of
            # one T (consecutive, the jobs are sorted by T) share them.  One T is kept at a
            # time, as the memory estimate assumes.
            if (job.T, rounds) not in drawn:
                drawn.clear()
                drawn[job.T, rounds] = wishart_draws(keys, W, sqrt_s, w0, n_idx, sigma0, T_,
                                                     T0_, rounds=rounds, **weights_static)
            W, L, h, complete = drawn[job.T, rounds]
            if job.m == 0:  # no synthetic row: the teacher labels every row, whatever n
                W = np.broadcast_to(w0, W.shape)
            err = wishart_errors(W, L, h, sqrt_s, w0, lams, sigma, T_, d=d,
                                 T_small=job.T if job.T < d else 0, down_solver=solver,
                                 **placed)
        else:
            # dropped synthetic rows leave only real ones to label
            m = 0 if job.drop else job.m
            err, complete = simulate_chunk(keys, W, sqrt_s, w0, lams, n_idx, sigma, sigma0,
                                           np.int32(m), np.float64(job.weight), T_, T0_,
                                           T_rows=job.T, down_solver=solver, rounds=rounds,
                                           weighted=job.weighted, drop=job.drop,
                                           **weights_static)
        return err, complete

    def run(keys, rows: slice) -> None:
        if sharding is not None:
            keys = jax.device_put(keys, sharding)
        W = None  # the law generators are drawn with the downstream data
        if gen != "law":  # the rows chain: once per seed, shared by every job
            W = chain_weights(keys, sqrt_s, w0, n_idx, sigma0, lam0, np.int32(ch.fresh_rows),
                              d=d, T0=ch.T0, N=ch.N, mode=ch.mode, gen=generator(gen),
                              has_fresh=ch.fresh_rows > 0, **placed)
        # Every job dispatched before any result is read: the device is not left idle while
        # Python prepares the next program.
        drawn: dict = {}
        pending = [errors_at(keys, W, job, down, _random.ROUNDS, drawn)
                   for job, down in zip(jobs, downs)]
        for j, ((err, complete), job, down) in enumerate(zip(pending, jobs, downs)):
            rounds = _random.ROUNDS
            while not np.asarray(complete).all():  # rare (< 2e-7 per chi-square draw): the
                rounds *= 8  # same draws, more candidates
                err, complete = errors_at(keys, W, job, down, rounds, drawn)
            out[j][rows] = np.asarray(err)

    return run
