"""Trusted JAX core of the simulator: one jit-compiled function per shape, vmapped over seeds.

Nothing here validates its input; :func:`kernelcollapse.simulate` does that once.  The
generators drawn as rows are fitted by a program of their own (:func:`chain_weights`), once per
seed for every ``T`` of a call; the exact-law generators are drawn with the downstream data
(:func:`simulate_chunk`, :func:`wishart_draws`).

Two samplers of the same process (the caller picks one per call, see ``simulate(sampler=...)``):

``rows``
    every sample row is drawn, exactly as the process is written;
``law``
    the sufficient statistics the fits depend on are drawn from their exact finite-sample laws,
    where those laws are known in closed form:

    - least-squares generators in replace mode with ``T0 >= d``:
      ``w_{k+1} - w_k = sigma0 S^{-1/2} (Z'Z)^{-1} Z'e``, ``Z ~ N(0, 1)^{T0 x d}``,
      ``e ~ N(0, I_T0)``.  The law of ``x = (Z'Z)^{-1} Z'e`` is rotation invariant, and
      ``u'(Z'Z)^{-1}u = |u|^2 / chi2_{T0-d+1}`` for a fixed ``u`` (the Schur complement of a
      Wishart matrix), so ``x = g / sqrt(c)`` in law with ``g ~ N(0, I_d)`` and
      ``c ~ chi2_{T0-d+1}`` independent: ``d + 1`` draws per generation instead of
      ``T0 (d + 1)``, and no fit;
    - the downstream data with every row labelled by the same weights: the fit needs only
      ``Z'Z ~ Wishart_d(T, I)`` and ``Z'E`` given it.  Bartlett: ``Z'Z = L L'`` with ``L``
      lower triangular, ``L_ii^2 ~ chi2_{T-i}``, ``L_ij ~ N(0, 1)`` below the diagonal, and
      ``Z'E = L h``, ``h ~ N(0, I_d)``; for ``T < d`` (singular Wishart) the columns ``j >= T``
      of ``L`` are zero (see :func:`_bartlett`).  ``T`` only enters the degrees of freedom and
      a mask, so the draws are one program for every ``T`` (:func:`wishart_draws`), and the
      linear algebra one program for every ``T >= d`` (:func:`wishart_errors`).

    Both are identities in law, not approximations (``tests/test_simulator.py`` checks them
    against ``rows``), but they are not draw-for-draw equal to ``rows``.

Random draws.  Every seed has its own key ``seed_key`` (a row of ``jax.random.split(key, seeds)``);
all the draws of that seed are values of its counter-based stream (:mod:`simulator._random`:
uniform ``u(w, j)`` at position ``j`` of word ``w``, normals by the inverse CDF), and every draw
of a program outside the generators' scan comes from one hash call, but for the ``rows`` design,
which has its own (see :func:`_gen_rows`):

- downstream, word ``DOWN``: ``rows``: the design ``Z`` row-major at positions ``0 .. T d - 1``,
  the noise ``E`` at ``T d .. T d + T - 1``; ``law``: ``d(d-1)/2 + d``
  normals (the strict lower triangle of ``L`` row by row, then ``h``), and ``L_ii^2 =
  chi2(T - i)`` entry ``i`` of word ``DOWN_CHI`` (the same positions for every ``T``);
- ``law`` generation ``k`` (the increment to ``w_{k+1}``): ``g_k`` = normals ``k d .. k d + d -
  1`` of word ``CHAIN``, ``c_k = chi2(T0 - d + 1)`` entry ``k`` of word ``CHAIN_CHI``;
- ``rows`` generation ``k`` (the data that fits ``w_{k+1}``): ``T0 (d + 1)`` normals of word
  ``GEN_ROWS | k``, laid out as the downstream rows (two hash calls: see :func:`_gen_rows`).

Seeds.  Every program maps one seed's computation over the seeds of its chunk
(:func:`over_seeds`): on CPU a loop, seed by seed, so that a seed's numbers do not depend on the
chunk (and the chunks run one per core, from threads: see :mod:`simulator._engine`); on a
GPU groups of seeds vmapped together ("lanes"), split across the devices by ``shard_map``.

Features are ``X = Z * sqrt(s)`` (the eigenbasis of the covariance).  A seed's draws therefore do
not depend on the chunk it is computed in, on ``max(n)``, or on the grid of ``lam``: the results
for a seed are the same whatever the chunk size, and ``n = 2`` alone gives the same errors as the
entry ``n = 2`` of a grid ``n = [0, 1, 2, 5]``.  :func:`seed_draws` produces the ``rows`` draws
for the numpy reference.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import ClassVar

import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_factor, cho_solve

from kernelcollapse.simulator import _random as R

# The programs' static choices are small hashable objects (frozen dataclasses without fields:
# equal when of the same class, so that one compilation serves every call with the same
# choice); the simulation plan names them, :func:`generator` and :func:`down_solver` give the
# objects.


@dataclasses.dataclass(frozen=True)
class _Generator:
    """How a generation is drawn: from the exact law of its increment (``exact``), or fitted
    on its rows, replacing (:meth:`replace`) or accumulating (:meth:`accumulate`) the data."""

    name: ClassVar[str]
    exact: ClassVar[bool] = False

    def replace(self, X, Y, *, T0: int, lam0):
        raise NotImplementedError(f"the {self.name} generator has no replace fit")

    def accumulate(self, G, b, *, lam0):
        raise NotImplementedError(f"the {self.name} generator has no accumulate fit")


def _primal_solve(G, b, lam0):
    eye = jnp.eye(G.shape[0], dtype=jnp.float64)
    return cho_solve(cho_factor(G + lam0 * eye, lower=True), b)


@dataclasses.dataclass(frozen=True)
class ExactLaw(_Generator):
    """The exact law of the least-squares increment (replace, ``lam0 = 0``, ``T0 >= d``):
    no rows drawn, ``T0`` traced."""

    name: ClassVar[str] = "law"
    exact: ClassVar[bool] = True


@dataclasses.dataclass(frozen=True)
class Primal(_Generator):
    """Cholesky of the ``d x d`` matrix ``X^T X / m + lam0 I``."""

    name: ClassVar[str] = "primal"

    def replace(self, X, Y, *, T0: int, lam0):
        return _primal_solve(X.T @ X / T0, X.T @ Y / T0, lam0)

    def accumulate(self, G, b, *, lam0):
        return _primal_solve(G, b, lam0)


@dataclasses.dataclass(frozen=True)
class Dual(_Generator):
    """Cholesky of the ``T0 x T0`` matrix ``X X^T / T0 + lam0 I``, ``w = X^T alpha`` (replace,
    ``T0 < d``)."""

    name: ClassVar[str] = "dual"

    def replace(self, X, Y, *, T0: int, lam0):
        K = X @ X.T / T0 + lam0 * jnp.eye(T0, dtype=jnp.float64)
        return X.T @ cho_solve(cho_factor(K, lower=True), Y / T0)


@dataclasses.dataclass(frozen=True)
class PseudoInverse(_Generator):
    """eigh of ``X^T X / m`` and its pseudo-inverse (accumulate, ``lam0 = 0``, ``T0 < d``: the
    minimum-norm fit)."""

    name: ClassVar[str] = "pinv"

    def accumulate(self, G, b, *, lam0):
        d = G.shape[0]
        mu, V = jnp.linalg.eigh(G)
        tol = mu[-1] * d * jnp.finfo(jnp.float64).eps * 10.0
        inv = jnp.where(mu > tol, 1.0 / jnp.where(mu > tol, mu, 1.0), 0.0)
        return V @ (inv * (V.T @ b))


GENERATORS = {g.name: g for g in (ExactLaw(), Primal(), Dual(), PseudoInverse())}


def generator(name: str) -> _Generator:
    """The generator the simulation plan names (``"law"``, ``"primal"``, ``"dual"``,
    ``"pinv"``)."""
    return GENERATORS[name]


# Downstream solvers, on the d x d Gram X^T X / T when T >= d, on the T x T Gram X X^T / T when
# T < d (the minimum-norm solution at lam = 0); the choice is made by
# kernelcollapse.simulator._engine.down_solver.


@dataclasses.dataclass(frozen=True)
class _DownSolver:
    """Test errors of the ridge fits ``Xt (K + lam I)^{-1} c`` for every ``lam``: see
    :func:`_ridge_errors`."""

    name: ClassVar[str]

    def errors(self, K, c, sqrt_s, w0, lams, *, batched, Xt=None):
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Cholesky(_DownSolver):
    """One Cholesky per ``lam``: cheaper for a few ``lam`` (the reduction costs ~8 Choleskys on
    CPU), and the GPU's form (one batch of dense factorisations)."""

    name: ClassVar[str] = "cholesky"

    def errors(self, K, c, sqrt_s, w0, lams, *, batched, Xt=None):
        lift = (lambda a: a) if Xt is None else (lambda a: Xt @ a)
        eye = jnp.eye(K.shape[0], dtype=jnp.float64)
        return _errors_of_weights(
            _over_lams(lambda lam: lift(cho_solve(cho_factor(K + lam * eye, lower=True), c)),
                       lams, batched), sqrt_s, w0)


@dataclasses.dataclass(frozen=True)
class _Factorised(_DownSolver):
    """One factorisation ``K = Q D Q'`` serves every ``lam``: ``w_pred = Xt Q (D + lam I)^{-1}
    Q' c`` (:meth:`factor` gives ``Q`` and the solve with ``D + lam I``)."""

    def factor(self, K, lams, batched):
        raise NotImplementedError

    def errors(self, K, c, sqrt_s, w0, lams, *, batched, Xt=None):
        Q, solve = self.factor(K, lams, batched)
        if Xt is not None and c.shape[1] * lams.shape[0] >= sqrt_s.shape[0]:
            # (Xt Q) q, 2 d r (r + Nn L) flops, beats Xt (Q q), 2 r Nn L (r + d), only with
            # more (n, lam) columns than features (at d = 2000, T = 800, Nn L = 100 Xt (Q q)
            # costs 0.45 instead of 2.9 Gflop per seed).
            XtQ = Xt @ Q

            def predict(q):
                return XtQ @ q
        else:
            def predict(q):
                return Q @ q if Xt is None else Xt @ (Q @ q)
        r, Nn = c.shape
        q = jnp.moveaxis(solve(Q.T @ c), 0, -1).reshape(r, Nn * lams.shape[0])  # column n L + l
        R = sqrt_s[:, None] * (predict(q) - w0[:, None])  # Sigma^{1/2} (w_pred - w0)
        return jnp.sum(R * R, axis=0).reshape(Nn, lams.shape[0])


@dataclasses.dataclass(frozen=True)
class Tridiagonal(_Factorised):
    """One reduction ``K = Q Tr Q'``, then a tridiagonal solve ``(Tr + lam I) y = Q'c`` per
    ``lam``.  No eigenvectors: on CPU the reduction and ``Q`` cost ~40% of a full eigh, for the
    same answer."""

    name: ClassVar[str] = "tridiagonal"

    def factor(self, K, lams, batched):
        diag, off, Q = _tridiagonalize(K)
        zero = jnp.zeros((1,), diag.dtype)
        lower, upper = jnp.concatenate([zero, off]), jnp.concatenate([off, zero])

        def solve(Qc):
            return _over_lams(
                lambda lam: jax.lax.linalg.tridiagonal_solve(lower, diag + lam, upper, Qc),
                lams, batched)

        return Q, solve


@dataclasses.dataclass(frozen=True)
class Eigh(_Factorised):
    """One eigendecomposition ``K = V diag(mu) V'``, a division per ``lam``; a full eigh costs
    ~2.3 reductions on CPU, a variant for GPUs."""

    name: ClassVar[str] = "eigh"

    def factor(self, K, lams, batched):
        mu, Q = jnp.linalg.eigh(K)

        def solve(Qc):
            return Qc[None, :, :] / (mu[None, :, None] + lams[:, None, None])

        return Q, solve


DOWN_SOLVERS = {x.name: x for x in (Tridiagonal(), Cholesky(), Eigh())}


def down_solver(name: str) -> _DownSolver:
    """The downstream solver of that name (``kernelcollapse.simulator._engine.DOWN_SOLVERS``)."""
    return DOWN_SOLVERS[name]


SEED_AXIS = "seeds"


def over_seeds(fn, xs, *, lanes: int, mesh=None):
    """``fn`` applied to every seed: to the entries of the leading axis of each array of ``xs``
    (a tuple; ``None`` entries are passed as ``None``), outputs stacked along a new leading axis.

    ``lanes = 0``: one vmap over all the seeds (a batch: the form for GPUs, which need wide
    kernels).  ``lanes = k >= 1``: a loop over groups of ``k`` seeds, each group vmapped (``k =
    1``: seed by seed); the number of seeds must be a multiple of ``k``.  With a loop a seed's
    numbers depend on its inputs and ``k`` only, not on how many seeds the program holds or where
    the seed sits among them (a vmap over a different number of seeds can round differently:
    XLA vectorises the batch as a whole), so every chunking, thread count and device count gives
    bit-identical results.  On CPU the loop is also faster than the vmap: one seed's
    temporaries stay in cache.

    ``mesh``: a 1-D :class:`jax.sharding.Mesh` over the axis :data:`SEED_AXIS`; each device runs
    the same on its block of seeds (``shard_map``; the block size, a multiple of ``lanes``).
    """
    def local(*blocks):
        if lanes == 0:
            return jax.vmap(fn)(*blocks)
        if lanes == 1:
            return jax.lax.map(lambda b: fn(*b), blocks)
        n = next(b for b in blocks if b is not None).shape[0]
        groups = jax.tree_util.tree_map(
            lambda a: a.reshape((n // lanes, lanes) + a.shape[1:]), blocks)
        out = jax.lax.map(lambda g: jax.vmap(fn)(*g), groups)
        return jax.tree_util.tree_map(lambda a: a.reshape((n,) + a.shape[2:]), out)

    if mesh is None:
        return local(*xs)
    from jax.sharding import PartitionSpec

    spec = PartitionSpec(SEED_AXIS)
    in_specs = tuple(None if x is None else spec for x in xs)
    return _shard_map(local, mesh=mesh, in_specs=in_specs, out_specs=spec)(*xs)


def _shard_map(f, *, mesh, in_specs, out_specs):
    """``jax.shard_map`` (jax >= 0.7), else ``jax.experimental.shard_map.shard_map``; the outputs
    are per-device blocks (no replication to check)."""
    if hasattr(jax, "shard_map"):
        return jax.shard_map(f, mesh=mesh, in_specs=in_specs, out_specs=out_specs,
                             check_vma=False)
    from jax.experimental.shard_map import shard_map

    return shard_map(f, mesh=mesh, in_specs=in_specs, out_specs=out_specs, check_rep=False)


def _rows_blocks(word, rows: int, d: int):
    """The normals blocks of ``rows`` sample rows in ``word``: the design, row-major ``(rows, d)``,
    at positions ``0 .. rows d - 1``, then the noise ``(rows,)``."""
    return (word, rows * d), (word, rows, rows * d)


def _gen_rows(seed_key, k, T0: int, d: int):
    """The ``rows`` data ``(Z, E)`` of generation ``k`` (traced).  Two hash calls: with the
    noise drawn apart, the design's normals have one consumer and are written once (a joint
    draw is materialised, then copied into ``Z``: ~7% of a generation at d = 2000)."""
    z_block, e_block = _rows_blocks(R.word(R.GEN_ROWS, k), T0, d)
    (z,), _, _ = R.draws(seed_key, (z_block,))
    (e,), _, _ = R.draws(seed_key, (e_block,))
    return z.reshape(T0, d), e


@partial(jax.jit, static_argnames=("d", "T", "T0", "N"))
def seed_draws(seed_key, *, d: int, T: int, T0: int, N: int):
    """The ``rows`` draws of one seed, as used by :func:`simulate_chunk`.

    Returns ``(Z, E, Zg, Eg)`` with shapes ``(T, d)``, ``(T,)``, ``(N, T0, d)``, ``(N, T0)``.
    """
    (z, E), _, _ = R.draws(seed_key, _rows_blocks(R.word(R.DOWN), T, d))
    Z = z.reshape(T, d)
    Zg, Eg = jax.vmap(lambda k: _gen_rows(seed_key, k, T0, d))(jnp.arange(N))
    return Z, E, Zg, Eg


def _chain_law(g, c, sqrt_s, w0, sigma0):
    """``w_0, ..., w_N`` of least-squares generators (replace, ``T0 >= d``) from their exact law:
    ``w_n = w0 + sigma0 S^{-1/2} sum_{k<n} g_k / sqrt(c_k)``, ``g`` of shape ``(N, d)``, ``c``
    of shape ``(N,)``."""
    steps = (sigma0 / jnp.sqrt(c))[:, None] * g / sqrt_s
    return jnp.concatenate([w0[None, :], w0 + jnp.cumsum(steps, axis=0)], axis=0)


def _chain(seed_key, sqrt_s, w0, sigma0, lam0, m_fresh, *, d, T0, N, mode,
           gen: _Generator, has_fresh):
    """Generator weights ``w_0 = w0, ..., w_N`` of one seed from the ``rows``, ``(N + 1, d)``.
    With ``has_fresh`` the first ``m_fresh`` (traced) rows of every generation are labelled by
    the truth ``w0`` (fresh real data), the others by the previous generator."""
    if N == 0:
        return w0[None, :]

    def data(k, w):
        Z, E = _gen_rows(seed_key, k, T0, d)
        X = Z * sqrt_s
        if not has_fresh:  # the plain chain keeps its one matrix-vector product
            return X, X @ w + sigma0 * E
        XW = X @ jnp.stack([w, w0], axis=1)
        real = jnp.arange(T0) < m_fresh
        return X, jnp.where(real, XW[:, 1], XW[:, 0]) + sigma0 * E

    if mode == "replace":

        def step(w, k):
            X, Y = data(k, w)
            w_new = gen.replace(X, Y, T0=T0, lam0=lam0)
            return w_new, w_new

        _, ws = jax.lax.scan(step, w0, jnp.arange(N))
    else:  # accumulate: fit on the running sums of X_j^T X_j and X_j^T Y_j, j <= k

        def step(carry, k):
            w, G, b = carry
            X, Y = data(k, w)
            G = G + X.T @ X
            b = b + X.T @ Y
            m = (k + 1) * T0
            w_new = gen.accumulate(G / m, b / m, lam0=lam0)
            return (w_new, G, b), w_new

        init = (w0, jnp.zeros((d, d), jnp.float64), jnp.zeros((d,), jnp.float64))
        _, ws = jax.lax.scan(step, init, jnp.arange(N))
    return jnp.concatenate([w0[None, :], ws], axis=0)


def _bartlett(v, chi, T, *, d):
    """``(L, h)``: ``L L' ~ Wishart_d(T, I)`` and ``h ~ N(0, I_d)`` from ``d(d-1)/2 + d``
    normals ``v`` and ``chi_i ~ chi2(max(T - i, 1))``.

    Bartlett, extended to ``T < d`` (a singular Wishart): with ``Z = Q R`` the QR factorisation of
    the ``T x d`` Gaussian design (Householder column by column), ``R`` is upper trapezoidal with
    ``R_ii^2 ~ chi2(T - i)`` and independent ``N(0, 1)`` entries above the diagonal, and
    ``Q' E ~ N(0, I_T)`` independently; so ``Z'Z = L L'``, ``Z'E = L h`` with ``L = R'``: the
    columns ``j >= T`` of ``L`` (and the entries ``h_j``, ``j >= T``) are zero.
    """
    n_off = d * (d - 1) // 2
    # Row i of the strict lower triangle holds v[i(i-1)/2 : i(i-1)/2 + i]; index n_off + d
    # (past the end, filled with 0) elsewhere and in the columns j >= T.  Built from iotas, so
    # no d x d constant.
    i = jnp.arange(d)[:, None]
    j = jnp.arange(d)[None, :]
    idx = jnp.where((j < i) & (j < T), i * (i - 1) // 2 + j, n_off + d)
    L = jnp.concatenate([v, jnp.zeros((1,), jnp.float64)])[idx]
    live = jnp.arange(d) < T
    L = L + jnp.diag(jnp.where(live, jnp.sqrt(chi), 0.0))
    return L, jnp.where(live, v[n_off:], 0.0)


def _bartlett_df(T, d: int):
    """Degrees of freedom ``T - i`` of the Bartlett diagonal, 1 where ``i >= T`` (unused)."""
    df = T - jnp.arange(d, dtype=jnp.float64)
    return jnp.where(df >= 1.0, df, 1.0)


def _over_lams(fn, lams, batched: bool):
    """``fn`` at every ``lam``: one batched call (``vmap``) or a loop of single calls.

    The loop is the CPU form: jaxlib's LAPACK kernels split a batch over XLA's intra-op
    threads and block until it is done, which deadlocks when every one of those threads is
    such a waiting call (two programs at once on two cores); single matrices run inline."""
    return jax.vmap(fn)(lams) if batched else jax.lax.map(fn, lams)


def _ridge_errors(K, c, sqrt_s, w0, lams, *, down_solver: _DownSolver, batched, Xt=None):
    """Test errors ``(Nn, L)`` of the ridge fits ``Xt (K + lam I)^{-1} c``, ``K`` of shape
    ``(r, r)``, ``c`` of ``(r, Nn)``: primal with ``Xt = None`` (the identity; ``K = X'X/T``,
    ``c = X'Y/T``), dual with ``Xt = X'`` (``(d, r)``; ``K = X X'/T``, ``c = Y/T``).
    ``batched``: the factorisations of all ``lam`` as one batch (see :func:`_over_lams`)."""
    return down_solver.errors(K, c, sqrt_s, w0, lams, batched=batched, Xt=Xt)


def _errors_of_weights(w_pred, sqrt_s, w0):
    """Test errors ``(Nn, L)`` of the predicted weights ``w_pred``, shape ``(L, d, Nn)``."""
    R = sqrt_s[None, :, None] * (w_pred - w0[None, :, None])  # Sigma^{1/2} (w_pred - w0)
    return jnp.sum(R * R, axis=1).T


def _tridiagonalize(G):
    """``(diag, off, Q)`` with ``G = Q Tr Q'``, ``Tr`` symmetric tridiagonal (``diag`` on its
    diagonal, ``off`` below and above it), ``Q`` orthogonal (Householder, LAPACK sytrd/orgtr)."""
    a, diag, off, taus = jax.lax.linalg.tridiagonal(G, lower=True)
    # orgtr for the lower reduction: Q = [[1, 0], [0, orgqr(a[1:, :-1], taus)]].
    Q1 = jax.lax.linalg.householder_product(a[1:, :-1], taus)
    r = G.shape[0]
    Q = jnp.zeros((r, r), G.dtype).at[0, 0].set(1.0).at[1:, 1:].set(Q1)
    return diag, off, Q


def _downstream_rows(Z, E, W, sqrt_s, w0, lams, sigma, m_rows, weight, *, d, T, down_solver,
                     weighted, batched):
    X = Z * sqrt_s
    # Labels: the first m_rows rows by w_n, the others by the truth w0; noise shared across n.
    # One product for the labels by every w_n and by the truth: with two, XLA wrote X twice
    # (a second T x d pass per seed).
    XW = X @ jnp.concatenate([W, w0[None, :]]).T  # (T, Nn + 1)
    synthetic = (jnp.arange(T) < m_rows)[:, None]  # m_rows is traced: no recompile per p
    XW = jnp.where(synthetic, XW[:, :-1], XW[:, -1:])
    Y = XW + sigma * E[:, None]  # (T, Nn)
    if weighted:  # loss weight omega on the synthetic rows: scale those rows by sqrt(omega)
        root = jnp.where(synthetic, jnp.sqrt(weight), 1.0)
        X, Y = X * root, Y * root
    if T >= d:
        return _ridge_errors(X.T @ X / T, X.T @ Y / T, sqrt_s, w0, lams,
                             down_solver=down_solver, batched=batched)
    # dual: w = X' (X X'/T + lam I)^{-1} Y / T
    return _ridge_errors(X @ X.T / T, Y / T, sqrt_s, w0, lams, down_solver=down_solver,
                         batched=batched, Xt=X.T)


def _downstream_wishart(L, h, W, sqrt_s, w0, lams, sigma, T, *, d, T_small, down_solver,
                        batched):
    """Test errors from the Bartlett factor: ``X'X = P L L' P``, ``X'E = P L h``,
    ``P = diag(sqrt_s)``.  ``T_small = 0`` when ``T >= d`` (the primal ``d x d`` system),
    ``T_small = T`` when ``T < d`` (the dual ``T x T`` system on the live columns of ``L``)."""
    if not T_small:
        PL = sqrt_s[:, None] * L
        G = PL @ PL.T / T
        B = G @ W.T + (sigma / T) * (PL @ h)[:, None]
        return _ridge_errors(G, B, sqrt_s, w0, lams, down_solver=down_solver, batched=batched)
    # X = Q R P with R = L[:, :T]' (see _bartlett): in the rotated coordinates Q' the design is
    # M' = (P L[:, :T])' and the labels Q'Y = M' W' + sigma h, so the dual fit is
    # w = M (M'M/T + lam I)^{-1} Q'Y / T.
    M = sqrt_s[:, None] * L[:, :T_small]
    c = (M.T @ W.T + sigma * h[:T_small, None]) / T
    return _ridge_errors(M.T @ M / T, c, sqrt_s, w0, lams, down_solver=down_solver,
                         batched=batched, Xt=M)


def _seed_weights(seed_key, W, sqrt_s, w0, n_idx, sigma0, T, T0, *, d, T_rows, N,
                  gen: _Generator, wishart: bool, rounds):
    """``(W, down, complete)`` of one seed: the generator weights ``w_n`` for the requested ``n``
    (``(Nn, d)``; ``W`` itself when given, i.e. for the ``rows`` generators, whose chain
    :func:`chain_weights` fits once for every ``T``), the downstream draws (``(L, h)`` of the
    Bartlett factor of ``Z'Z`` when ``wishart``, every row labelled by ``w_n`` and ``T`` traced;
    else the ``T x d`` design ``(Z, E)``), and whether ``rounds`` chi-square candidates sufficed
    (see :func:`_random.draws`)."""
    law_chain = gen.exact and N > 0
    # The draws outside the rows generators' scan: one hash call, and one for a rows design.
    if wishart:
        normals = [(R.word(R.DOWN), d * (d - 1) // 2 + d)]
        chis = [(R.DOWN_CHI, _bartlett_df(T, d))]
    else:  # the design in a hash call of its own, as in _gen_rows: written once, as X
        z_block, e_block = _rows_blocks(R.word(R.DOWN), T_rows, d)
        (z_design,), _, _ = R.draws(seed_key, (z_block,))
        normals, chis = [e_block], []
    if law_chain:
        normals.append((R.word(R.CHAIN), N * d))
        chis.append((R.CHAIN_CHI, jnp.full((N,), T0 - d + 1.0)))
    z, chi, complete = R.draws(seed_key, normals, chis, rounds=rounds)
    if law_chain:
        W = _chain_law(z[-1].reshape(N, d), chi[-1], sqrt_s, w0, sigma0)[n_idx]
    elif gen.exact:  # N = 0: no generation
        W = jnp.broadcast_to(w0, (n_idx.shape[0], d))
    down = _bartlett(z[0], chi[0], T, d=d) if wishart else (z_design.reshape(T_rows, d), z[0])
    return W, down, complete


@partial(jax.jit, static_argnames=("d", "T0", "N", "mode", "gen", "has_fresh", "lanes", "mesh"))
def chain_weights(keys, sqrt_s, w0, n_idx, sigma0, lam0, m_fresh, *, d, T0, N, mode,
                  gen: _Generator, has_fresh=False, lanes=1, mesh=None):
    """Generator weights ``w_n`` for the requested ``n`` of the ``rows`` generators, shape
    ``(C, Nn, d)`` for ``keys`` of shape ``(C, 2)``: a program of its own, so that one chain per
    seed serves every ``T`` of a :func:`kernelcollapse.simulate` call (the generators' draws do
    not depend on ``T``).  ``lanes`` and ``mesh``: see :func:`over_seeds`."""

    def one(k):
        return _chain(k, sqrt_s, w0, sigma0, lam0, m_fresh, d=d, T0=T0, N=N, mode=mode,
                      gen=gen, has_fresh=has_fresh)[n_idx]

    return over_seeds(one, (keys,), lanes=lanes, mesh=mesh)


_CHAIN_STATIC = ("d", "N", "gen", "rounds", "lanes", "mesh")


@partial(jax.jit, static_argnames=_CHAIN_STATIC + ("T_rows", "down_solver", "weighted", "drop"))
def simulate_chunk(keys, W, sqrt_s, w0, lams, n_idx, sigma, sigma0, m_rows, weight, T, T0, *,
                   d, T_rows, N, gen: _Generator, down_solver: _DownSolver, rounds,
                   weighted=False, drop=0, lanes=1, mesh=None):
    """``(errors, complete)`` for a chunk of seeds with the ``rows`` downstream: test errors of
    shape ``(C, Nn, L)`` for ``keys`` of shape ``(C, 2)``, and per seed whether ``rounds``
    chi-square candidates sufficed (if not, its errors are NaN: run again with more).

    ``W`` (``(C, Nn, d)``) holds the weights of the ``rows`` generators from
    :func:`chain_weights`, ``None`` for the ``law`` generators (drawn here).  ``T0`` is traced
    (a degree of freedom of the ``law`` generators); ``T_rows`` is the static row count of the
    downstream.  One compilation serves every chunk of the same size (the caller pads the last
    chunk), every value of ``sigma``, ``sigma0``, ``m_rows`` (the number of downstream rows
    labelled by ``w_n``), ``weight`` (their loss weight, used when ``weighted``), ``lams`` and
    ``n_idx`` of the same shapes, and every ``T0`` of the ``law`` generators.  ``drop > 0``
    (static) fits the downstream on the rows ``drop ..`` only: weight 0 on the first ``drop``
    synthetic rows (the caller scales ``lams`` by ``T_rows / (T_rows - drop)`` so that the
    loss keeps its ``1/T`` normalisation).
    """

    def one(seed_key, W):
        W, (Z, E), complete = _seed_weights(
            seed_key, W, sqrt_s, w0, n_idx, sigma0, T, T0, d=d, T_rows=T_rows, N=N,
            gen=gen, wishart=False, rounds=rounds)
        if drop:
            Z, E = Z[drop:], E[drop:]
        return _downstream_rows(Z, E, W, sqrt_s, w0, lams, sigma, m_rows, weight, d=d,
                                T=T_rows - drop, down_solver=down_solver,
                                weighted=weighted, batched=lanes != 1), complete

    return over_seeds(one, (keys, W), lanes=lanes, mesh=mesh)


@partial(jax.jit, static_argnames=_CHAIN_STATIC)
def wishart_draws(keys, W, sqrt_s, w0, n_idx, sigma0, T, T0, *, d, N, gen: _Generator, rounds,
                  lanes=1, mesh=None):
    """``(W, L, h, complete)`` for a chunk of seeds: ``W`` (``(C, Nn, d)``) the weights ``w_n``
    for each requested ``n`` (the input ``W`` of the ``rows`` generators, ``None`` for the
    ``law`` generators, drawn here), ``(L, h)`` (``(C, d, d)``, ``(C, d)``) the Bartlett factor
    of the downstream data (any ``T``, traced), ``complete`` (``(C,)``) whether ``rounds``
    chi-square candidates sufficed.

    The first of the two programs of the Wishart downstream: it holds the random draws, whose
    compilation dominates, and serves every ``T``; :func:`wishart_errors` compiles once for all
    ``T >= d`` and once per ``T < d``.  ``lanes`` and ``mesh``: see :func:`over_seeds`.
    """

    def one(seed_key, W):
        W, (L, h), complete = _seed_weights(
            seed_key, W, sqrt_s, w0, n_idx, sigma0, T, T0, d=d, T_rows=0, N=N,
            gen=gen, wishart=True, rounds=rounds)
        return W, L, h, complete

    return over_seeds(one, (keys, W), lanes=lanes, mesh=mesh)


@partial(jax.jit, static_argnames=("d", "T_small", "down_solver", "lanes", "mesh"))
def wishart_errors(W, L, h, sqrt_s, w0, lams, sigma, T, *, d, T_small,
                   down_solver: _DownSolver, lanes=1, mesh=None):
    """Test errors ``(C, Nn, L)`` from the output of :func:`wishart_draws`; ``T_small`` is ``T``
    when ``T < d`` (the shape of the dual system), ``0`` otherwise.  ``lanes`` and ``mesh``:
    see :func:`over_seeds`."""

    def one(L, h, W):
        return _downstream_wishart(L, h, W, sqrt_s, w0, lams, sigma, T, d=d, T_small=T_small,
                                   down_solver=down_solver, batched=lanes != 1)

    return over_seeds(one, (L, h, W), lanes=lanes, mesh=mesh)
