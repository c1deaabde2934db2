"""How the simulator's JAX programs use the machine: CPU threads, seed lanes, the downstream
solver, devices, and jax's persistent compilation cache.

The choices of a call are one object, :class:`Engine` (``simulate(..., engine=Engine(...))``).
A field left at ``None`` takes its default by platform, or the environment variable that
overrides that default, read at every :func:`kernelcollapse.simulate` call (so that a benchmark
or a test can switch it):

``KERNELCOLLAPSE_THREADS``
    CPU only: how many chunks of seeds run at once, each from its own Python thread (a jitted
    call releases the GIL, and the CPU runtime runs independent programs side by side).
    Default: the cores this process may use, ``len(os.sched_getaffinity(0))``;
    ``simulate(threads=...)`` overrides both.  Capped by ``memory_budget``; 1 unless
    ``lanes = 1``.
``KERNELCOLLAPSE_LANES``
    Seeds computed together, vmapped, inside a program's loop over seeds (``0``: all the seeds
    of a chunk in one vmap).  Default 1 on CPU (seed by seed: faster there, one seed's
    temporaries stay in cache), :data:`GPU_LANES` elsewhere (wide kernels); capped by the
    seeds and by ``memory_budget``.
``KERNELCOLLAPSE_DOWN_SOLVER``
    ``tridiagonal``: one reduction of the downstream Gram per seed serves every ``lam``;
    ``eigh``: one eigendecomposition per seed serves every ``lam``;
    ``cholesky``: one Cholesky per seed and ``lam``, batched; ``auto`` (default): on CPU
    Cholesky up to :data:`CHOLESKY_MAX_LAMS` values of ``lam``, the reduction beyond; on a GPU
    always Cholesky (a batch of dense factorisations suits it; the reduction is a sequence of
    small BLAS-2 steps per seed).
``KERNELCOLLAPSE_DEVICES``
    ``all``: split the seeds across every device of jax's default backend (``shard_map`` over a
    1-D mesh); ``1``: the first device only.  Default ``all`` on GPUs and TPUs, ``1`` on CPU,
    where host devices (``XLA_FLAGS=--xla_force_host_platform_device_count``) share the cores
    that the threads already use.
``KERNELCOLLAPSE_COMPILATION_CACHE``
    Opt-in persistent compilation cache (see :func:`compilation_cache`).

What changes the numbers.  A seed's results depend on its key, the point, ``lanes`` and the
solver only: not on the threads, the devices or the chunking (programs loop over groups of
``lanes`` seeds, see :func:`kernelcollapse.simulator._jax.over_seeds`), so they are
bit-identical for any ``KERNELCOLLAPSE_THREADS``, ``KERNELCOLLAPSE_DEVICES`` and
``memory_budget`` on CPU.  Another ``lanes`` or solver (hence another platform) rounds
differently (relative differences ~1e-13).
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import NamedTuple

ENV_THREADS = "KERNELCOLLAPSE_THREADS"
ENV_LANES = "KERNELCOLLAPSE_LANES"
ENV_SOLVER = "KERNELCOLLAPSE_DOWN_SOLVER"
ENV_DEVICES = "KERNELCOLLAPSE_DEVICES"
ENV_CACHE = "KERNELCOLLAPSE_COMPILATION_CACHE"

# The downstream solvers of kernelcollapse.simulator._jax (described there).
DOWN_SOLVERS = ("tridiagonal", "cholesky", "eigh")
SOLVERS = ("auto",) + DOWN_SOLVERS
# Up to this many lam values the CPU downstream uses one Cholesky per lam, beyond it one
# tridiagonal reduction (the reduction costs about 8 Choleskys on CPU).
CHOLESKY_MAX_LAMS = 8
# Seeds per vmapped group on a GPU: enough rows of work for its kernels at d ~ 200.
GPU_LANES = 128
# On CPU every thread runs at least this many chunks (when there are seeds enough): a jitted
# call cannot be stopped, so Ctrl-C and the progress bar act between chunks, and a call's
# chunks are kept a small fraction of it.  More chunks cost a dispatch each (well under a
# millisecond) and do not change the numbers.
CHUNKS_PER_THREAD = 32


def _env_int(name: str, minimum: int) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise ValueError(f"environment variable {name} must be an integer >= {minimum}, "
                         f"got {raw!r}")
    return value


BACKENDS = ("jax", "numpy")
SAMPLERS = ("auto", "rows")
DEVICES = ("1", "all")


@dataclasses.dataclass(frozen=True)
class Engine:
    """How a simulation runs: one object for the engine's choices, passed to
    :func:`kernelcollapse.simulate` (``engine=Engine(threads=1)``), :func:`check_simulation`
    and sweeps.  None of them changes the numbers except ``backend``, ``sampler``, ``lanes``
    and ``down_solver`` (other rounding, relative differences ~1e-13; see the module docs).

    Parameters
    ----------
    backend : {"jax", "numpy"}, default "jax"
        ``"numpy"``: the plain numpy reference on the draws of ``sampler="rows"`` (slow).
    sampler : {"auto", "rows"}, default "auto"
        ``"auto"``: exact laws of the sufficient statistics where they apply; ``"rows"``: every
        sample row drawn.
    memory_budget : float, default 2 GiB
        Bytes for the call's results and working memory (see :func:`kernelcollapse.simulate`).
    threads : int, optional
        CPU threads running chunks of seeds; default ``KERNELCOLLAPSE_THREADS``, else the cores
        this process may use.
    lanes : int, optional
        Seeds vmapped together (``0``: a chunk in one vmap); default ``KERNELCOLLAPSE_LANES``,
        else 1 on CPU and :data:`GPU_LANES` elsewhere.
    down_solver : {"auto", "tridiagonal", "cholesky", "eigh"}, optional
        The downstream solver; default ``KERNELCOLLAPSE_DOWN_SOLVER``, else ``"auto"``.
    devices : {"1", "all"}, optional
        The devices the seeds are split across; default ``KERNELCOLLAPSE_DEVICES``, else
        ``"all"`` on GPUs and TPUs and ``"1"`` on CPU.
    compilation_cache : str or path, optional
        A directory for jax's persistent compilation cache (``"1"``: the default directory);
        default ``KERNELCOLLAPSE_COMPILATION_CACHE``, else off.  See
        :func:`compilation_cache`.
    """

    backend: str = "jax"
    sampler: str = "auto"
    memory_budget: float = 2 * 2**30
    threads: int | None = None
    lanes: int | None = None
    down_solver: str | None = None
    devices: str | None = None
    compilation_cache: str | os.PathLike | None = None

    def __post_init__(self):
        from kernelcollapse._util import validate as v

        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        object.__setattr__(self, "memory_budget",
                           v.scalar("memory_budget", self.memory_budget, check=v.positive))
        if self.threads is not None:
            object.__setattr__(self, "threads", v.integer("threads", self.threads, minimum=1))
        if self.lanes is not None:
            object.__setattr__(self, "lanes", v.integer("lanes", self.lanes, minimum=0))
        if self.down_solver is not None and self.down_solver not in SOLVERS:
            raise ValueError(f"down_solver must be one of {SOLVERS}, got {self.down_solver!r}")
        if self.devices is not None and self.devices not in DEVICES:
            raise ValueError(f"devices must be one of {DEVICES}, got {self.devices!r}")
        if self.compilation_cache is not None and not isinstance(self.compilation_cache,
                                                                 (str, os.PathLike)):
            raise TypeError(f"compilation_cache must be a directory (str or path) or None, got "
                            f"{self.compilation_cache!r}")


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover  (not Linux)
        return max(1, os.cpu_count() or 1)


def threads(requested: int | None = None) -> int:
    """CPU threads: ``requested``, else ``KERNELCOLLAPSE_THREADS``, else the available cores."""
    if requested is not None:
        return requested
    env = _env_int(ENV_THREADS, 1)
    return env if env is not None else available_cores()


def lanes(platform: str, requested: int | None = None) -> int:
    """Seeds per vmapped group (0: the whole chunk), before the caps of :func:`layout`:
    ``requested``, else ``KERNELCOLLAPSE_LANES``, else the platform's default."""
    if requested is not None:
        return requested
    env = _env_int(ENV_LANES, 0)
    if env is not None:
        return env
    return 1 if platform == "cpu" else GPU_LANES


def down_solver(platform: str, n_lams: int, requested: str | None = None) -> str:
    """The downstream solver for a fit over ``n_lams`` penalties: ``requested``, else
    ``KERNELCOLLAPSE_DOWN_SOLVER``, else the platform's choice (``auto``)."""
    choice = requested or os.environ.get(ENV_SOLVER, "auto").strip() or "auto"
    if choice not in SOLVERS:
        raise ValueError(f"environment variable {ENV_SOLVER} must be one of {SOLVERS}, got "
                         f"{choice!r}")
    if choice != "auto":
        return choice
    if platform != "cpu":
        return "cholesky"
    return "cholesky" if n_lams <= CHOLESKY_MAX_LAMS else "tridiagonal"


def devices(requested: str | None = None) -> list:
    """The devices the seeds are split across (see the module docstring): ``requested``
    (``"1"`` or ``"all"``), else ``KERNELCOLLAPSE_DEVICES``, else the platform's default."""
    import jax

    devs = jax.devices()
    choice = requested if requested is not None else os.environ.get(ENV_DEVICES, "").strip()
    if choice not in ("", "1", "all"):
        raise ValueError(f"environment variable {ENV_DEVICES} must be '1' or 'all', got "
                         f"{choice!r}")
    if choice == "1" or (choice == "" and devs[0].platform == "cpu"):
        return devs[:1]
    return list(devs)


class Layout(NamedTuple):
    """How the seeds of one :func:`simulate` chain run.

    platform : jax platform of the devices (``cpu``, ``gpu``, ...).
    devices : the devices; with more than one, ``mesh`` is their 1-D mesh over ``"seeds"``.
    lanes : seeds per vmapped group inside a program (0: the whole block).
    workers : chunks run at once, each from its own thread (1 off CPU).
    chunk : seeds per program call (all devices together), a multiple of ``len(devices)``
        times ``lanes``.
    n_chunks : calls; ``n_chunks * chunk >= seeds``, the rest padded with copies of a key.
    """

    platform: str
    devices: list
    mesh: object
    lanes: int
    workers: int
    chunk: int
    n_chunks: int


def layout(seeds: int, per_seed: float, memory_budget: float, *,
           threads_requested: int | None = None, engine: Engine | None = None) -> Layout:
    """Chunks, lanes and threads for ``seeds`` seeds of ``per_seed`` bytes of working memory
    each, within ``memory_budget`` bytes (the results already deducted).

    Every thread holds one chunk at a time; a chunk of ``c`` seeds is budgeted ``c * per_seed``
    (its intermediate arrays, e.g. the Bartlett factors, are per seed).  The chunks are as
    large as the budget allows, but at least one per thread; equal, the last padded.
    """
    engine = Engine() if engine is None else engine
    if threads_requested is None:
        threads_requested = engine.threads
    devs = devices(engine.devices)
    platform = devs[0].platform
    n_dev = len(devs)
    cap = max(1, int(memory_budget // per_seed))  # seeds in memory at once, all threads
    lane = lanes(platform, engine.lanes)
    if lane > 0:
        lane = max(1, min(lane, cap // n_dev, math.ceil(seeds / n_dev)))
    unit = n_dev * max(lane, 1)  # a chunk is a multiple of this
    workers = 1
    if platform == "cpu" and lane == 1:
        # Only the seed-by-seed form runs in several threads: with vmapped seeds the LAPACK
        # calls are batches, which jaxlib splits over XLA's intra-op threads and then waits
        # for; two such waits at once on two cores deadlock (see _simulator_jax._over_lams).
        workers = max(1, min(threads(threads_requested), cap // unit,
                             math.ceil(seeds / unit)))
    per_chunk = max(unit, (cap // workers) // unit * unit)
    if platform == "cpu":
        per_chunk = min(per_chunk, max(unit, math.ceil(seeds / (workers * CHUNKS_PER_THREAD))
                                       // unit * unit))
    n_chunks = math.ceil(seeds / per_chunk)
    n_chunks = workers * math.ceil(n_chunks / workers)  # every thread the same number
    chunk = unit * math.ceil(seeds / (n_chunks * unit))
    n_chunks = math.ceil(seeds / chunk)
    mesh = None
    if n_dev > 1:
        import numpy as np
        from jax.sharding import Mesh

        from kernelcollapse.simulator._jax import SEED_AXIS

        mesh = Mesh(np.array(devs), (SEED_AXIS,))
    return Layout(platform, devs, mesh, lane, workers, chunk, n_chunks)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/kernelcollapse/jax`` (``~/.cache/kernelcollapse/jax``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kernelcollapse" / "jax"


_cache_enabled: Path | None = None


def compilation_cache(path: str | os.PathLike | None = None) -> Path | None:
    """Switch on jax's persistent compilation cache, once per process; return its directory.

    Opt-in: called with a ``path``, or by :func:`kernelcollapse.simulate` when the environment
    variable ``KERNELCOLLAPSE_COMPILATION_CACHE`` is set (``1`` for :func:`default_cache_dir`,
    else a directory).  Compiled programs are then written there and read back by later
    processes, which skip the compilation (seconds per program shape on a GPU).  The cache is
    jax's own (keyed by the program, the jax version and the device); deleting the directory
    is always safe, it only costs the compilations again.  This sets jax's global options
    ``jax_compilation_cache_dir`` and ``jax_persistent_cache_min_compile_time_secs = 0`` (the
    simulator's programs compile in under jax's default threshold of 1 s on CPU); a directory
    already set by the user (``JAX_COMPILATION_CACHE_DIR``) is kept.  Returns ``None`` when not
    requested.
    """
    global _cache_enabled
    if path is None:
        path = os.environ.get(ENV_CACHE, "").strip()
        if not path or path == "0":
            return _cache_enabled
    if str(path) == "1":  # the environment's and Engine's spelling of the default directory
        path = default_cache_dir()
    if _cache_enabled is not None:
        return _cache_enabled
    import jax

    current = getattr(jax.config, "jax_compilation_cache_dir", None)
    target = Path(current) if current else Path(path).expanduser()
    target.mkdir(parents=True, exist_ok=True)
    if not current:
        jax.config.update("jax_compilation_cache_dir", str(target))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    _cache_enabled = target
    return target
