r"""A problem prepared once, evaluated many times: the theory's public engine.

:func:`prepare` validates and compresses the spectrum (equal eigenvalues merged, the teacher
reduced to its energy per distinct eigenvalue) once; the methods of :class:`PreparedProblem`
then evaluate the deterministic-equivalent test error, the generator moments and the limit of
the chain for any grid of settings, caching the generator chains (which do not depend on the
downstream ``lam``, ``T``, ``p``, ``weight`` or ``sigma``).  The module-level functions of
:mod:`kernelcollapse.theory` are this, prepared for one call.

Grid convention (the same in :func:`kernelcollapse.simulate`, the optimiser and the CLI):
array arguments broadcast against each other by numpy's rules, and results have the broadcast
shape.  ``n=[0, 1, 2], lam=[0.1, 0.2, 0.3]`` are three points; ``n=[[0], [1], [2]]`` with
``lam=[0.1, 1]`` is a ``(3, 2)`` grid.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from kernelcollapse._util import memory as _memory
from kernelcollapse._util import validate as v
from kernelcollapse._util.arrays import unique_rows
from kernelcollapse._util.blas import uses_one_blas_thread
from kernelcollapse.theory import _chain, _error, _fit, _problems, _quadrature, _regimes, _search
from kernelcollapse.theory import _spectral as _sp
from kernelcollapse.theory._process import check_process
from kernelcollapse.theory._search import OptimalLambda, OptimalWeight

__all__ = ["CollapseLimit", "ErrorDecomposition", "GeneratorMoments", "PreparedProblem",
           "prepare"]

MODES = _chain.MODES
check_mode = _chain.check_mode
# prepare() compresses spectra with more distinct eigenvalues than this to quadrature nodes,
# checked to this relative error (kernelcollapse.theory._quadrature).
QUADRATURE_MIN_DISTINCT = 1 << 14
QUADRATURE_TOLERANCE = _quadrature.TOLERANCE
# Generator rows (one per distinct (T0, lam0, sigma0, fresh, n)) held in memory at once.
_MAX_GENERATOR_ELEMENTS = 1 << 25
_CACHE_SIZE = 64


class ErrorDecomposition(NamedTuple):
    """Test error and its parts, arrays of the broadcast shape of the inputs.

    Attributes
    ----------
    total : ndarray
        Expected test error ``E ||w_pred - w0||_Sigma^2``.
    bias : ndarray
        The clean bias: the bias with the same rows, penalty and weights, had the synthetic
        labels been clean (``n = 0``).
    variance : ndarray
        The clean variance from the downstream label noise.
    collapse : ndarray
        ``total - bias - variance``: what the synthetic labels add.
    """

    total: np.ndarray
    bias: np.ndarray
    variance: np.ndarray
    collapse: np.ndarray


class GeneratorMoments(NamedTuple):
    """Per-coordinate mean and variance of the n-th generator ``w_n``.

    Attributes
    ----------
    mean, var : ndarray, shape (..., d)
        ``E[w_n]`` and ``Var[w_n]``, coordinate by coordinate.
    """

    mean: np.ndarray
    var: np.ndarray


class ChainMoments(NamedTuple):
    """The chain's moments per coordinate (:meth:`PreparedProblem.chain_moments`).

    Attributes
    ----------
    offset : ndarray
        ``E w_n = (1 + offset) w0`` coordinate-wise.
    variance : ndarray
        ``Var w_n`` per coordinate.
    """

    offset: np.ndarray
    variance: np.ndarray


class CollapseLimit(NamedTuple):
    """The generator chain and the downstream error as ``n -> infinity``.

    Attributes
    ----------
    contraction : float
        Factor by which a generation shrinks the chain's deviation from the truth (the spectral
        radius of its linear map); the chain stays bounded when it is below 1.  NaN for
        ``mode="accumulate"`` (no constant factor; bounded whenever ``T0 > d + 1``).
    bounded : bool
        Whether the limit is finite.
    generator_error : float
        ``lim E ||w_n - w0||_Sigma^2`` (``inf`` when unbounded).
    error : ndarray
        ``lim`` of the downstream test error at the given downstream settings (broadcast
        shape of ``T, lam, sigma, p, weight``); NaN where no downstream was given.
    min_fresh : float
        The smallest fraction of fresh real rows per generation that keeps the chain bounded
        (replace mode; NaN for accumulate): bounded for every ``fresh >= min_fresh`` and
        unbounded below (a positive threshold is found by bisection to rounding, on the
        bounded side), with one exception: least-squares generators on ``T0`` well above
        ``d`` need some fresh rows but any positive fraction will do, and there
        ``min_fresh = 0`` while ``bounded`` is False at ``fresh = 0`` (``contraction`` 1:
        the error grows linearly).
    """

    contraction: float
    bounded: bool
    generator_error: float
    error: np.ndarray
    min_fresh: float


class _Grid(NamedTuple):
    """A validated, broadcast request (flat arrays of the grid's points)."""

    shape: tuple[int, ...]
    T: np.ndarray
    T0: np.ndarray
    n: np.ndarray
    lam: np.ndarray
    lam0: np.ndarray
    p: np.ndarray
    fresh: np.ndarray
    weight: np.ndarray
    sigma: np.ndarray
    sigma0: np.ndarray
    mode: str


def _out(x: np.ndarray, shape: tuple[int, ...]):
    x = x.reshape(shape)
    return x[()] if x.ndim == 0 else x


@uses_one_blas_thread
def prepare(eigvals: ArrayLike, w0: ArrayLike, *,
            quadrature: bool | None = None) -> PreparedProblem:
    """Validate and compress a problem once, for many evaluations of the theory.

    Every formula of the theory is a sum over the spectrum, ``sum_j f(s_j)`` or
    ``sum_j f(s_j) w0_j^2`` with ``f`` smooth in ``log s``.  Equal eigenvalues are merged
    (exact).  A spectrum with more than :data:`QUADRATURE_MIN_DISTINCT` distinct eigenvalues
    is, in addition, compressed to Gauss quadrature nodes in bins of ``log s``
    (:mod:`theory._quadrature`): a power law with ``d = 10**6`` becomes about a thousand
    nodes, and every sum of the family checked when the rule is built
    (``M^a (1 - M)^b``, ``M = s/(s + kappa)``, at every ``kappa`` of a grid spanning the
    spectrum) is within :data:`QUADRATURE_TOLERANCE` relative of the exact sum.  The test
    error, the optimal penalty and the chain limit then agree with the exact spectrum's to
    ``1e-10`` relative or better (``tests/test_quadrature.py``; near the interpolation
    threshold ``T = df2`` the error's own conditioning multiplies this).  The per-coordinate
    :meth:`PreparedProblem.generator_moments` always use the exact spectrum.

    Parameters
    ----------
    eigvals : array_like, shape (d,)
        Covariance eigenvalues ``s_j > 0``.
    w0 : array_like, shape (d,)
        Teacher coefficients in the eigenbasis.
    quadrature : bool, optional
        Compress to quadrature nodes (``True``), keep the exact sums (``False``), or decide by
        the number of distinct eigenvalues (default; also kept exact when the nodes would not
        be 4 times fewer).

    Returns
    -------
    PreparedProblem

    Examples
    --------
    >>> import numpy as np, kernelcollapse as kc
    >>> prob = kc.prepare(*kc.power_law(200, 1.5, 0.5))
    >>> err = prob.test_error(T=400, T0=800, n=[[0], [5]], lam=np.logspace(-3, 0, 4),
    ...                       sigma=0.5, sigma0=1.0)
    >>> err.total.shape
    (2, 4)
    """
    s, w = v.spectrum(eigvals, w0)
    if quadrature is not None and not isinstance(quadrature, (bool, np.bool_)):
        raise TypeError(f"quadrature must be True, False or None, got {quadrature!r}")
    per_dim = PREPARE_BYTES_PER_DIM[quadrature is False]
    _memory.check_machine(f"the theory for d = {s.size} dimensions", per_dim * s.size,
                          "use a smaller spectrum (the quadrature keeps about a thousand nodes "
                          "of a smooth one: fewer, binned eigenvalues give the same sums)")
    return PreparedProblem(s, w, quadrature=quadrature)


# Peak bytes per dimension of the theory on a spectrum of distinct eigenvalues, its input
# included (tracemalloc at d = 10**6: 127-141 compressed to quadrature nodes, 304 with the exact
# sums), with room; the check before any work compares it with the machine's memory
# (tests/test_memory_guard.py checks the bounds).  Keyed by "exact sums".
PREPARE_BYTES_PER_DIM = {False: 160, True: 320}


def memory_per_dimension(what: str) -> int:
    """Estimated peak bytes per dimension ``d`` of building a built-in problem (``what`` =
    ``"isotropic"`` or ``"power_law"``) or of preparing a spectrum for the theory
    (``"prepare"``, :func:`prepare` with its default quadrature): for a caller that refuses a
    ``d`` beyond the machine's memory before allocating anything."""
    if what == "prepare":
        return PREPARE_BYTES_PER_DIM[False]
    if what in _problems.BYTES_PER_DIM:
        return _problems.BYTES_PER_DIM[what]
    raise ValueError(f"what must be one of {('prepare', *_problems.BYTES_PER_DIM)}, got "
                     f"{what!r}")
# generator_moments, per generation and dimension (the mean and variance, the chain's states on
# the distinct eigenvalues and their expansion to every coordinate).
MOMENTS_BYTES_PER_ENTRY = 64


class PreparedProblem:
    """A covariance spectrum and teacher, validated and compressed once (see :func:`prepare`).

    Attributes
    ----------
    eigvals, w0 : ndarray, shape (d,)
        The problem, as float64 arrays.
    d : int
        Dimension.
    """

    def __init__(self, eigvals: np.ndarray, w0: np.ndarray, *, quadrature: bool | None = None):
        self.eigvals = eigvals
        self.w0 = w0
        self.d = int(eigvals.size)
        self._spec = _sp.compress(eigvals, w0)
        self._quadrature = quadrature
        self._sums_spec: _sp.Spectrum | None = None
        self.quadrature_error = 0.0
        self._chains: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def _sums(self) -> _sp.Spectrum:
        """The spectrum the sums run over: quadrature nodes or the distinct eigenvalues
        (built at the first use: :meth:`generator_moments` alone never needs it)."""
        if self._sums_spec is None:
            self._sums_spec = self._spec
            u = self._spec.s.size
            if self._quadrature or (self._quadrature is None and u > QUADRATURE_MIN_DISTINCT):
                quad = _quadrature.compress(self._spec,
                                            max_nodes=None if self._quadrature else u // 4)
                if quad is not None:
                    self._sums_spec = quad.spectrum
                    self.quadrature_error = quad.error
        return self._sums_spec

    def __repr__(self) -> str:
        return (f"PreparedProblem(d={self.d}, distinct eigenvalues={self._spec.s.size}, "
                f"||w0||_Sigma^2={float(self._spec.s @ self._spec.q):.6g})")

    # ------------------------------------------------------------------------------------------
    # test error
    # ------------------------------------------------------------------------------------------

    @uses_one_blas_thread
    def test_error(self, *, T: ArrayLike, T0: ArrayLike, n: ArrayLike, lam: ArrayLike,
                   sigma: ArrayLike, sigma0: ArrayLike, lam0: ArrayLike = 0.0,
                   p: ArrayLike = 1.0, mode: str = "replace", fresh: ArrayLike = 0.0,
                   weight: ArrayLike = 1.0) -> ErrorDecomposition:
        """Deterministic-equivalent test error; see :func:`kernelcollapse.theory.test_error`."""
        ev = self.evaluator(T=T, T0=T0, n=n, lam=lam, lam0=lam0, p=p, fresh=fresh,
                            weight=weight, sigma=sigma, sigma0=sigma0, mode=mode)
        g = ev._grid
        parts = ev.at_kappa(ev.kappa(g.lam))
        if not np.all(np.isfinite(parts.total)):
            i = int(np.flatnonzero(~np.isfinite(parts.total))[0])
            raise ValueError(
                f"test_error is not finite at T={v.plain(g.T[i])}, T0={v.plain(g.T0[i])}, "
                f"n={v.plain(g.n[i])}, lam={v.plain(g.lam[i])}, lam0={v.plain(g.lam0[i])}: "
                "inputs beyond float64 range (e.g. an extreme eigenvalue ratio)")
        return ErrorDecomposition(*(_out(x, g.shape) for x in parts[:4]))

    # pytest collects attributes named test_*; this one is library code.
    test_error.__test__ = False

    def evaluator(self, *, T: ArrayLike, T0: ArrayLike, n: ArrayLike, lam: ArrayLike,
                  sigma: ArrayLike, sigma0: ArrayLike, lam0: ArrayLike = 0.0,
                  p: ArrayLike = 1.0, mode: str = "replace", fresh: ArrayLike = 0.0,
                  weight: ArrayLike = 1.0) -> Evaluator:
        """The error at these settings as a function of the effective regularisation, for many
        evaluations (:class:`Evaluator`): the settings are checked and the generator chains
        solved once.

        The arguments are those of :func:`kernelcollapse.theory.test_error`; ``lam`` is the
        penalty the settings are checked at (a search passes its smallest) and the penalty of
        :meth:`Evaluator.error`.

        Examples
        --------
        >>> import numpy as np, kernelcollapse as kc
        >>> prob = kc.prepare(*kc.power_law(200, 1.5, 0.5))
        >>> ev = prob.evaluator(T=400, T0=800, n=[0, 5], lam=0.01, sigma=0.5, sigma0=1.0)
        >>> parts = ev.at_kappa(ev.kappa(np.full(ev.size, 0.01)))
        >>> ref = prob.test_error(T=400, T0=800, n=[0, 5], lam=0.01, sigma=0.5, sigma0=1.0)
        >>> bool(np.allclose(parts.total, ref.total))
        True
        """
        g = self._grid(T=T, T0=T0, n=n, lam=lam, lam0=lam0, p=p, fresh=fresh, weight=weight,
                       sigma=sigma, sigma0=sigma0, mode=mode)
        return Evaluator(self, g, *self._generator_rows(g))

    def penalty_bounds(self, lam_bounds: tuple[float, float] | None = None
                       ) -> tuple[float, float]:
        """The search interval of the penalty: ``lam_bounds`` checked (``0 < lo < hi``), or the
        default ``(1e-10, 1e2) * max(eigvals)``."""
        return _search.penalty_bounds(lam_bounds, float(self.eigvals.max()))

    @uses_one_blas_thread
    def optimal_lambda(self, *, T: ArrayLike, T0: ArrayLike, n: ArrayLike, sigma: ArrayLike,
                       sigma0: ArrayLike, lam0: ArrayLike = 0.0, p: ArrayLike = 1.0,
                       mode: str = "replace", fresh: ArrayLike = 0.0, weight: ArrayLike = 1.0,
                       lam_bounds: tuple[float, float] | None = None,
                       points_per_decade: int = 8, flat_rtol: float = 1e-6,
                       xtol: float = 1e-7) -> OptimalLambda:
        """The penalty minimising the test error; see
        :func:`kernelcollapse.theory.optimal_lambda` (the same arguments but the problem)."""
        lo, hi = self.penalty_bounds(lam_bounds)
        ppd = v.integer("points_per_decade", points_per_decade, minimum=2)
        flat_rtol = v.scalar("flat_rtol", flat_rtol, check=v.nonnegative)
        xtol = v.scalar("xtol", xtol, check=v.positive)
        ev = self.evaluator(T=T, T0=T0, n=n, lam=lo, lam0=lam0, p=p, fresh=fresh, weight=weight,
                            sigma=sigma, sigma0=sigma0, mode=mode)
        return _search.search_lambda(ev, lo, hi, ppd=ppd, flat_rtol=flat_rtol, xtol=xtol)

    @uses_one_blas_thread
    def optimal_weight(self, *, T: ArrayLike, T0: ArrayLike, n: ArrayLike, sigma: ArrayLike,
                       sigma0: ArrayLike, p: ArrayLike, lam0: ArrayLike = 0.0,
                       mode: str = "replace", fresh: ArrayLike = 0.0, max_weight: float = 10.0,
                       lam_bounds: tuple[float, float] | None = None,
                       points_per_decade: int = 8, wtol: float = 1e-4) -> OptimalWeight:
        """The penalty and the weight of the synthetic rows minimising the test error; see
        :func:`kernelcollapse.theory.optimal_weight` (the same arguments but the problem)."""
        max_weight = v.scalar("max_weight", max_weight, check=v.positive)
        if max_weight <= _search.MIN_WEIGHT:
            raise ValueError(f"max_weight must be > {_search.MIN_WEIGHT}, got "
                             f"{v.plain(max_weight)}")
        wtol = v.scalar("wtol", wtol, check=v.positive)
        kw = dict(T=T, T0=T0, n=n, sigma=sigma, sigma0=sigma0, lam0=lam0, mode=mode, fresh=fresh,
                  lam_bounds=lam_bounds, points_per_decade=points_per_decade)
        p = v.probability("p", p)
        shape, flat = v.broadcast(p=p, **{k: v.as_float_array(k, kw[k])
                                          for k in ("T", "T0", "n", "sigma", "sigma0", "lam0",
                                                    "fresh")})
        flat_kw = {**kw, **{k: flat[k] for k in flat if k != "p"}}
        pf = flat["p"]


        def best(weight):  # weight: (..., m) broadcasting against the flat points
            return self.optimal_lambda(p=pf, weight=weight, **flat_kw)

        return _search.search_weight(best, pf, shape, max_weight=max_weight, wtol=wtol)

    def _grid(self, *, mode, **kw) -> _Grid:
        arrays = check_process(kw)
        mode = check_mode(mode)
        shape, flat = v.broadcast(**arrays)
        g = _Grid(shape=shape, mode=mode, **flat)
        common = dict(T=g.T, T0=g.T0, n=g.n, lam=g.lam, lam0=g.lam0, weight=g.weight,
                      synthetic=g.p * g.T, mode=mode)
        _regimes.check_finite(self.d, p=g.p, fresh=g.fresh, sigma=g.sigma, sigma0=g.sigma0,
                              **common)
        _regimes.check_covered(self.d, **common)
        return g

    def _kappa(self, lam, T, p, weight) -> np.ndarray:
        """``kappa`` per point, each distinct downstream fit solved once."""
        plain = (weight == 1.0) | (p == 0.0)
        keys, inv = unique_rows(lam, T, np.where(plain, 0.0, p),
                                       np.where(plain, 1.0, weight))
        return _fit.solve_kappa(keys[:, 0], keys[:, 1], keys[:, 2], keys[:, 3],
                                self._sums)[inv]

    def _evaluate(self, kappa, g: _Grid, gen, b_rows, S_rows) -> _error.ErrorParts:
        pts = _error.Points(kappa, g.T, g.p, g.weight, g.sigma, gen)
        return _error.evaluate(self._sums, pts, b_rows, S_rows)

    def _generator_rows(self, g: _Grid):
        """One row of group totals ``(b, S)`` per distinct generator setting and ``n > 0``;
        each point's row index (-1 for ``n = 0``)."""
        u = self._sums.s.size
        has = g.n > 0
        keys, inv = unique_rows(g.T0[has], g.lam0[has], g.sigma0[has], g.fresh[has],
                                       g.n[has].astype(np.float64))
        if keys.shape[0] * u > _MAX_GENERATOR_ELEMENTS:
            raise ValueError(
                f"{keys.shape[0]} distinct generator settings (T0, lam0, sigma0, fresh, n) with "
                f"{u} distinct eigenvalues exceed the memory budget of one call; split the grid "
                "into several calls")
        gen = np.full(g.T.size, -1)
        gen[has] = inv
        b_rows, S_rows = np.empty((keys.shape[0], u)), np.empty((keys.shape[0], u))
        settings, which = unique_rows(keys[:, 0], keys[:, 1], keys[:, 2], keys[:, 3])
        for i, (T0, lam0, sigma0, fresh) in enumerate(settings):
            rows = np.flatnonzero(which == i)
            setting = _chain.Setting(float(T0), float(lam0), float(sigma0), float(fresh), g.mode)
            b_rows[rows], S_rows[rows] = self._totals(setting, keys[rows, 4].astype(np.int64))
        return gen, b_rows, S_rows

    def _totals(self, setting: _chain.Setting, ns: np.ndarray):
        key = (setting, ns.tobytes())
        hit = self._chains.get(key)
        if hit is None:
            st = _chain.states(self._sums, setting, ns)
            hit = _chain.totals(self._sums, st.c, st.v)
            if len(self._chains) >= _CACHE_SIZE:
                self._chains.pop(next(iter(self._chains)))
            self._chains[key] = hit
        return hit

    # ------------------------------------------------------------------------------------------
    # generator moments and the limit n -> infinity
    # ------------------------------------------------------------------------------------------

    @uses_one_blas_thread
    def generator_moments(self, *, T0: float, n: ArrayLike, sigma0: float, lam0: float = 0.0,
                          mode: str = "replace", fresh: float = 0.0) -> GeneratorMoments:
        """Per-coordinate mean and variance of ``w_n``; see
        :func:`kernelcollapse.theory.generator_moments`."""
        n, st = self._states("generator_moments", T0=T0, n=n, sigma0=sigma0, lam0=lam0,
                             mode=mode, fresh=fresh)
        inv = self._spec.inverse
        mean = st.m[:, inv] * self.w0
        var = st.v[:, inv]
        if n.ndim == 0:
            return GeneratorMoments(mean[0], var[0])
        return GeneratorMoments(mean, var)

    @uses_one_blas_thread
    def chain_moments(self, *, T0: float, n: ArrayLike, sigma0: float, lam0: float = 0.0,
                      mode: str = "replace", fresh: float = 0.0) -> ChainMoments:
        """The chain's moments per coordinate in units of the teacher: ``E w_n = (1 + offset)
        w0`` and the variance of ``w_n``, arrays of shape ``(d,)`` (``(len(n), d)`` for a
        sequence ``n``).  ``offset`` is accurate near 0, where ``mean / w0 - 1`` from
        :meth:`generator_moments` would round (and is defined where ``w0 = 0``)."""
        n, st = self._states("chain_moments", T0=T0, n=n, sigma0=sigma0, lam0=lam0, mode=mode,
                             fresh=fresh)
        inv = self._spec.inverse
        offset, var = st.c[:, inv], st.v[:, inv]
        if n.ndim == 0:
            return ChainMoments(offset[0], var[0])
        return ChainMoments(offset, var)

    def _states(self, what: str, *, T0, n, sigma0, lam0, mode, fresh):
        setting = self._setting(T0=T0, lam0=lam0, sigma0=sigma0, fresh=fresh, mode=mode)
        n = v.nonnegative_integer("n", n)
        if n.ndim > 1 or n.size == 0:
            raise ValueError(f"n must be a scalar or a non-empty 1-D sequence, got shape "
                             f"{n.shape}")
        ns = np.atleast_1d(n)
        self._check_chain(setting, ns)
        # The moments are per generation and coordinate: several (n, d) arrays.
        _memory.check_machine(f"{what} for {ns.size} generations x d = {self.d}",
                              MOMENTS_BYTES_PER_ENTRY * ns.size * self.d,
                              "ask for fewer generations n at once")
        return n, _chain.states(self._spec, setting, ns)

    @uses_one_blas_thread
    def collapse_limit(self, *, T0: float, sigma0: float, lam0: float = 0.0,
                       mode: str = "replace", fresh: float = 0.0, T: ArrayLike | None = None,
                       lam: ArrayLike | None = None, sigma: ArrayLike = 0.0, p: ArrayLike = 1.0,
                       weight: ArrayLike = 1.0) -> CollapseLimit:
        """The chain and the downstream error as ``n -> infinity``; see
        :func:`kernelcollapse.theory.collapse_limit`."""
        setting = self._setting(T0=T0, lam0=lam0, sigma0=sigma0, fresh=fresh, mode=mode)
        self._check_chain(setting, np.array([2]))
        lim = _chain.limit(self._sums, setting)
        b, S = _chain.totals(self._sums, lim.c[None, :], lim.v[None, :])
        bounded = bool(np.all(np.isfinite(lim.v)))
        gen_error = float(self._sums.s @ S[0]) if bounded else np.inf
        if (T is None) != (lam is None):
            raise ValueError("give both T and lam for the downstream limit, or neither")
        if T is None:
            error = np.asarray(np.nan)
        else:
            g = self._grid(T=T, T0=T0, n=1, lam=lam, lam0=lam0, p=p, fresh=fresh,
                           weight=weight, sigma=sigma, sigma0=sigma0, mode=mode)
            if bounded:
                kappa = self._kappa(g.lam, g.T, g.p, g.weight)
                error = _out(self._evaluate(kappa, g, np.zeros(g.T.size, int), b,
                                            S).total, g.shape)
            else:
                error = _out(np.full(g.T.size, np.inf), g.shape)
        return CollapseLimit(lim.contraction, bounded, gen_error, error,
                             self._min_fresh(setting))

    def _min_fresh(self, setting: _chain.Setting) -> float:
        if setting.mode == "accumulate":
            return np.nan

        def radius(q):
            return _chain.limit(self._sums, setting._replace(fresh=q)).contraction

        if radius(0.0) < 1.0:
            return 0.0
        lo, hi = 0.0, 1.0  # the contraction falls as the fresh fraction grows; it is 0 at 1
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if radius(mid) >= 1.0 else (lo, mid)
        # An infimum at 0 (bounded for any positive fraction) is reported as 0.
        return 0.0 if hi < 1e-12 else hi

    def _setting(self, *, T0, lam0, sigma0, fresh, mode) -> _chain.Setting:
        return _chain.Setting(v.scalar("T0", T0, check=v.sample_size),
                              v.scalar("lam0", lam0, check=v.nonnegative),
                              v.scalar("sigma0", sigma0, check=v.nonnegative),
                              v.scalar("fresh", fresh, check=v.probability), check_mode(mode))

    def _check_chain(self, setting: _chain.Setting, ns: np.ndarray) -> None:
        T0, lam0 = np.full(ns.shape, setting.T0), np.full(ns.shape, setting.lam0)
        _regimes.check_chain(self.d, T0=T0, n=ns, lam0=lam0, sigma0=setting.sigma0,
                             fresh=setting.fresh, mode=setting.mode)
        _regimes.check_chain_covered(self.d, T0=T0, n=ns, lam0=lam0, mode=setting.mode)

    # ------------------------------------------------------------------------------------------
    # shortcuts
    # ------------------------------------------------------------------------------------------

    def kappa(self, lam: ArrayLike, T: ArrayLike):
        """Effective regularisation ``kappa(lam, T)``; see :func:`kernelcollapse.theory.kappa`."""
        lam = v.nonnegative("lam", lam)
        T = v.positive("T", T)
        shape, flat = v.broadcast(lam=lam, T=T)
        return _out(_sp.kappa(flat["lam"], flat["T"], self._sums), shape)


class Evaluator:
    """The test error at fixed settings as a function of the effective regularisation
    ``kappa`` (made by :meth:`PreparedProblem.evaluator`).

    The settings were checked and the generator chains solved when it was made; each
    evaluation is then one pass over the spectrum, with no root solve for
    :meth:`at_kappa`.  The points are those of the flattened broadcast grid of the settings.

    Attributes
    ----------
    shape : tuple of int
        The broadcast shape of the settings.
    size : int
        The number of points (``prod(shape)``).
    T, p, weight, lam : ndarray, shape (size,)
        The settings per point.
    """

    def __init__(self, problem: PreparedProblem, grid: _Grid, gen, b_rows, S_rows):
        self._problem = problem
        self._grid = grid
        self._gen, self._b_rows, self._S_rows = gen, b_rows, S_rows
        self.shape = grid.shape
        self.size = int(grid.T.size)
        self.T, self.p, self.weight, self.lam = grid.T, grid.p, grid.weight, grid.lam

    def __repr__(self) -> str:
        return f"Evaluator(shape={self.shape}, problem={self._problem!r})"

    def _points(self, points) -> np.ndarray:
        return np.arange(self.size) if points is None else np.asarray(points, dtype=np.int64)

    def kappa(self, lam: ArrayLike, points: ArrayLike | None = None) -> np.ndarray:
        """``kappa`` of the penalties ``lam`` at the points ``points`` (indices into the flat
        grid, repeats allowed; default every point), both of the same length."""
        pts = self._points(points)
        return self._problem._kappa(np.asarray(lam, dtype=np.float64), self.T[pts], self.p[pts],
                                    self.weight[pts])

    def at_kappa(self, kappa: ArrayLike, points: ArrayLike | None = None) -> _error.ErrorParts:
        """The error's parts (:class:`ErrorParts`, flat) at the effective regularisations
        ``kappa`` of the points ``points`` (as in :meth:`kappa`)."""
        pts = self._points(points)
        g = self._grid
        at = g._replace(**{k: getattr(g, k)[pts] for k in ("T", "p", "weight", "sigma")})
        return self._problem._evaluate(np.asarray(kappa, dtype=np.float64), at, self._gen[pts],
                                       self._b_rows, self._S_rows)
