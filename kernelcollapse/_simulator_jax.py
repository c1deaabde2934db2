"""Trusted JAX core of the simulator: one jit-compiled function per shape, vmapped over seeds.

Nothing here validates its input; :func:`kernelcollapse.simulate` does that once.

Random draws.  Every seed has its own key ``seed_key`` (a row of ``jax.random.split(key, seeds)``);
from it, and from nothing else, come all the draws of that seed:

- ``k_down, k_gen = split(seed_key)``;
- downstream: ``A = normal(k_down, (T, d + 1))``, design ``Z = A[:, :d]``, noise ``E = A[:, d]``;
- generation ``k = 0, 1, ...`` (the data that fits ``w_{k+1}``):
  ``A_k = normal(fold_in(k_gen, k), (T0, d + 1))``, ``Z_k = A_k[:, :d]``, ``E_k = A_k[:, d]``.

Features are ``X = Z * sqrt(s)`` (the eigenbasis of the covariance).  A seed's draws therefore do
not depend on the chunk it is computed in, on ``max(n)``, or on the grid of ``lam``: the results
for a seed are the same whatever the chunk size, and ``n = 2`` alone gives the same errors as the
entry ``n = 2`` of a grid ``n = [0, 1, 2, 5]``.  :func:`seed_draws` produces exactly these draws
for the numpy reference.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_factor, cho_solve

# Generator solvers (static choice made by the caller):
#   "primal": Cholesky of the d x d matrix X^T X / m + lam0 I;
#   "dual":   Cholesky of the T0 x T0 matrix X X^T / T0 + lam0 I, w = X^T alpha (T0 < d, replace);
#   "pinv":   eigh of X^T X / m, pseudo-inverse (accumulate, lam0 = 0, T0 < d: minimum norm).
GEN_SOLVERS = ("primal", "dual", "pinv")
# Downstream solvers, on the d x d Gram X^T X / T when T >= d, on the T x T Gram X X^T / T when
# T < d (the minimum-norm solution at lam = 0):
#   "eigh":     one eigendecomposition serves every lam;
#   "cholesky": one Cholesky per lam (cheaper for a few lam: a batched eigh costs ~10-30
#               Choleskys on CPU).
DOWN_SOLVERS = ("eigh", "cholesky")


def _draw(key, rows: int, d: int):
    # One normal array per call site: a threefry/normal instance costs seconds of compile time.
    A = jax.random.normal(key, (rows, d + 1), dtype=jnp.float64)
    return A[:, :d], A[:, d]


def _seed_keys(seed_key):
    k_down, k_gen = jax.random.split(seed_key)
    return k_down, k_gen


@partial(jax.jit, static_argnames=("d", "T", "T0", "N"))
def seed_draws(seed_key, *, d: int, T: int, T0: int, N: int):
    """The draws of one seed, as used by :func:`simulate_chunk`.

    Returns ``(Z, E, Zg, Eg)`` with shapes ``(T, d)``, ``(T,)``, ``(N, T0, d)``, ``(N, T0)``.
    """
    k_down, k_gen = _seed_keys(seed_key)
    Z, E = _draw(k_down, T, d)
    Zg, Eg = jax.vmap(lambda k: _draw(jax.random.fold_in(k_gen, k), T0, d))(jnp.arange(N))
    return Z, E, Zg, Eg


def _chain(k_gen, sqrt_s, w0, sigma0, lam0, *, d, T0, N, mode, gen_solver):
    """Generator weights ``w_0 = w0, w_1, ..., w_N`` of one seed, shape ``(N + 1, d)``."""
    if N == 0:
        return w0[None, :]
    eye = jnp.eye(d, dtype=jnp.float64)

    def data(k, w):
        Z, E = _draw(jax.random.fold_in(k_gen, k), T0, d)
        X = Z * sqrt_s
        return X, X @ w + sigma0 * E

    def solve_primal(G, b):
        return cho_solve(cho_factor(G + lam0 * eye, lower=True), b)

    def solve_pinv(G, b):
        mu, V = jnp.linalg.eigh(G)
        tol = mu[-1] * d * jnp.finfo(jnp.float64).eps * 10.0
        inv = jnp.where(mu > tol, 1.0 / jnp.where(mu > tol, mu, 1.0), 0.0)
        return V @ (inv * (V.T @ b))

    if mode == "replace":

        def step(w, k):
            X, Y = data(k, w)
            if gen_solver == "dual":
                K = X @ X.T / T0 + lam0 * jnp.eye(T0, dtype=jnp.float64)
                w_new = X.T @ cho_solve(cho_factor(K, lower=True), Y / T0)
            else:
                w_new = solve_primal(X.T @ X / T0, X.T @ Y / T0)
            return w_new, w_new

        _, ws = jax.lax.scan(step, w0, jnp.arange(N))
    else:  # accumulate: fit on the running sums of X_j^T X_j and X_j^T Y_j, j <= k

        def step(carry, k):
            w, G, b = carry
            X, Y = data(k, w)
            G = G + X.T @ X
            b = b + X.T @ Y
            m = (k + 1) * T0
            if gen_solver == "pinv":
                w_new = solve_pinv(G / m, b / m)
            else:
                w_new = solve_primal(G / m, b / m)
            return (w_new, G, b), w_new

        init = (w0, jnp.zeros((d, d), jnp.float64), jnp.zeros((d,), jnp.float64))
        _, ws = jax.lax.scan(step, init, jnp.arange(N))
    return jnp.concatenate([w0[None, :], ws], axis=0)


def _ridge_cholesky(X, Y, lam, *, T, d):
    """Downstream ridge weights for one ``lam``, shape ``(d, Nn)``; primal or dual by shape."""
    if T < d:
        K = X @ X.T / T + lam * jnp.eye(T, dtype=jnp.float64)
        return X.T @ cho_solve(cho_factor(K, lower=True), Y / T)
    G = X.T @ X / T + lam * jnp.eye(d, dtype=jnp.float64)
    return cho_solve(cho_factor(G, lower=True), X.T @ Y / T)


def _one_seed(seed_key, sqrt_s, w0, lams, n_idx, sigma, sigma0, lam0, m_rows, *,
              d, T, T0, N, mode, gen_solver, down_solver):
    """Test errors of one seed, shape ``(len(n_idx), len(lams))``."""
    k_down, k_gen = _seed_keys(seed_key)
    W = _chain(k_gen, sqrt_s, w0, sigma0, lam0, d=d, T0=T0, N=N, mode=mode,
               gen_solver=gen_solver)[n_idx]  # (Nn, d): w_n for each requested n

    Z, E = _draw(k_down, T, d)
    X = Z * sqrt_s
    # Labels: the first m_rows rows by w_n, the others by the truth w0; noise shared across n.
    XW = X @ W.T  # (T, Nn)
    synthetic = (jnp.arange(T) < m_rows)[:, None]  # m_rows is traced: no recompile per p
    XW = jnp.where(synthetic, XW, (X @ w0)[:, None])
    Y = XW + sigma * E[:, None]  # (T, Nn)

    if down_solver == "cholesky":  # one Cholesky per lam (cheapest for short lam grids)
        R = jax.vmap(lambda lam: _ridge_cholesky(X, Y, lam, T=T, d=d))(lams)  # (L, d, Nn)
        R = sqrt_s[None, :, None] * (R - w0[None, :, None])
        return jnp.sum(R * R, axis=1).T  # (Nn, L)
    if T < d:  # dual: X X^T / T = U diag(mu) U^T, w_pred = X^T U (U^T Y / T) / (mu + lam)
        mu, U = jnp.linalg.eigh(X @ X.T / T)
        c = U.T @ Y / T  # (T, Nn)
        A = sqrt_s[:, None] * (X.T @ U)  # (d, T)
    else:  # primal: X^T X / T = V diag(mu) V^T, w_pred = V (V^T X^T Y / T) / (mu + lam)
        mu, V = jnp.linalg.eigh(X.T @ X / T)
        c = V.T @ (X.T @ Y) / T  # (d, Nn)
        A = sqrt_s[:, None] * V  # (d, d)
    q = c[:, :, None] / (mu[:, None, None] + lams[None, None, :])  # (r, Nn, L)
    r = q.shape[0]
    R = A @ q.reshape(r, -1) - (sqrt_s * w0)[:, None]  # Sigma^{1/2} (w_pred - w0)
    return jnp.sum(R * R, axis=0).reshape(W.shape[0], lams.shape[0])


@partial(jax.jit, static_argnames=("d", "T", "T0", "N", "mode", "gen_solver", "down_solver"))
def simulate_chunk(keys, sqrt_s, w0, lams, n_idx, sigma, sigma0, lam0, m_rows, *,
                   d, T, T0, N, mode, gen_solver, down_solver):
    """Test errors for a chunk of seeds, shape ``(C, Nn, L)`` for ``keys`` of shape ``(C, 2)``.

    One compilation serves every chunk of the same size (the caller pads the last chunk), every
    value of ``sigma``, ``sigma0``, ``lam0``, ``m_rows`` (the number of downstream rows labelled
    by ``w_n``), ``lams`` and ``n_idx`` of the same shapes.
    """
    fn = partial(_one_seed, d=d, T=T, T0=T0, N=N, mode=mode, gen_solver=gen_solver,
                 down_solver=down_solver)
    return jax.vmap(fn, in_axes=(0,) + (None,) * 8)(
        keys, sqrt_s, w0, lams, n_idx, sigma, sigma0, lam0, m_rows
    )
