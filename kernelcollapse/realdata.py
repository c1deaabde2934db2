"""Model collapse of kernel ridge regression on a real data set, and its theory prediction.

The experiment (figure 8).  A data set is split into a *pool* of ``N`` points and a *held-out*
set of ``M`` points; ``y`` is a real-valued target (for MNIST, :func:`parity_target`).

* Generators.  ``f_0 = y`` (the real labels).  Generation ``k+1`` is kernel ridge fitted on
  ``T0`` points drawn from the pool (without replacement, afresh each generation) labelled
  ``f_k(x) + N(0, sigma0²)``, with ridge ``lam0``: ``α = (K_T0/T0 + lam0 I)⁻¹ y/T0``,
  ``f_{k+1}(x) = k(x, X)·α``.
* Downstream.  Kernel ridge with ridge ``lam`` on ``T`` pool points labelled by ``f_n`` plus
  ``N(0, sigma²)`` (``n = 0``: the real labels), the same normalisation ``(K_T/T + lam I)``.
* Test error: the mean square ``(f̂(x) − y(x))²`` against the real target, on the held-out set
  (``heldout``) and on the whole pool (``pool``).

The theory (:func:`theory_collapse`) is ``theory.test_error`` (notes (C)) with ``s`` and ``w0``
the empirical Mercer spectrum of the kernel on the pool (:func:`kernelcollapse.kernels.
empirical_spectrum`), i.e. the pool's empirical distribution taken as the population, and the
features taken Gaussian.  It therefore predicts ``pool`` up to the Gaussian-design approximation;
``heldout`` adds the gap between the pool and the population (the pool spectrum misses the
kernel's tail, so the held-out error is larger, increasingly so as ``T`` approaches ``N``).
Both gaps are measured, never assumed away.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from kernelcollapse import theory
from kernelcollapse._util import keys as _keys
from kernelcollapse._util import validate as v
from kernelcollapse._util.blas import uses_one_blas_thread
from kernelcollapse._util.keys import Key
from kernelcollapse._util.x64 import uses_float64
from kernelcollapse.kernels import Kernel, empirical_spectrum, gram

__all__ = [
    "KernelData",
    "CollapseSimulation",
    "CollapseTheory",
    "parity_target",
    "kernel_data",
    "simulate_collapse",
    "theory_collapse",
]


class KernelData(NamedTuple):
    """Gram matrices and targets of a pool / held-out split.

    Attributes
    ----------
    gram_pool : ndarray, shape (N, N)
        ``k(x_i, x_j)`` on the pool.
    gram_test : ndarray, shape (M, N)
        ``k(x_test, x_pool)``.
    y_pool : ndarray, shape (N,)
    y_test : ndarray, shape (M,)
    """

    gram_pool: np.ndarray
    gram_test: np.ndarray
    y_pool: np.ndarray
    y_test: np.ndarray


class CollapseSimulation(NamedTuple):
    """Test errors of the downstream kernel ridge, one per seed, generation and ridge.

    Attributes
    ----------
    n : ndarray, shape (G,)
        Generations (``0`` = real labels).
    lam : ndarray, shape (L,)
        Downstream ridges.
    heldout : ndarray, shape (S, G, L)
        Mean square error against the real target on the held-out set, per seed.
    pool : ndarray, shape (S, G, L)
        The same on the whole pool (the population the theory is computed for).
    """

    n: np.ndarray
    lam: np.ndarray
    heldout: np.ndarray
    pool: np.ndarray


class CollapseTheory(NamedTuple):
    """Theory prediction on the empirical spectrum, arrays of shape (G, L).

    ``total``, ``bias``, ``variance``, ``collapse`` as in ``theory.ErrorDecomposition`` (``total``
    includes the floor ``noise_var``), plus the scalars ``noise_var`` (mean square of the target
    outside the kept eigenvectors) and ``d`` (eigenvalues kept).
    """

    total: np.ndarray
    bias: np.ndarray
    variance: np.ndarray
    collapse: np.ndarray
    noise_var: float
    d: int


def parity_target(labels: ArrayLike) -> np.ndarray:
    """Regression target of the MNIST experiment: ``+1`` for an even digit, ``−1`` for odd.

    Balanced (about half the digits are even) and of unit mean square, so errors read on the same
    scale as the trivial predictor ``f = 0`` (error 1).
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-d integer array, got {labels.dtype} of shape "
                         f"{labels.shape}")
    return np.where(labels % 2 == 0, 1.0, -1.0)


@uses_one_blas_thread
@uses_float64
def kernel_data(kernel: Kernel, x_pool: ArrayLike, y_pool: ArrayLike, x_test: ArrayLike,
                y_test: ArrayLike) -> KernelData:
    """Gram matrices of ``kernel`` on a pool and between the held-out set and the pool.

    Parameters
    ----------
    kernel : Kernel
    x_pool : array_like, shape (N, p)
    y_pool : array_like, shape (N,)
    x_test : array_like, shape (M, p)
    y_test : array_like, shape (M,)

    Returns
    -------
    KernelData
    """
    x_pool = v.points("x_pool", x_pool)
    x_test = v.points("x_test", x_test)
    y_pool = v.vector("y_pool", y_pool, length=x_pool.shape[0])
    y_test = v.vector("y_test", y_test, length=x_test.shape[0])
    return KernelData(
        gram_pool=np.asarray(gram(kernel, x_pool)),
        gram_test=np.asarray(gram(kernel, x_test, x_pool)),
        y_pool=y_pool,
        y_test=y_test,
    )


def _check_data(data) -> tuple[int, int]:
    if not isinstance(data, KernelData):
        raise TypeError(f"data must be a KernelData from kernel_data(), got {type(data).__name__}")
    N, M = data.gram_pool.shape[0], data.gram_test.shape[0]
    if data.gram_pool.shape != (N, N) or data.gram_test.shape != (M, N) \
            or data.y_pool.shape != (N,) or data.y_test.shape != (M,):
        raise ValueError("data has inconsistent shapes: gram_pool "
                         f"{data.gram_pool.shape}, gram_test {data.gram_test.shape}, "
                         f"y_pool {data.y_pool.shape}, y_test {data.y_test.shape}")
    return N, M


@partial(jax.jit, static_argnames=("T", "T0", "n_max"))
def _simulate_core(Kp, Kt, y_pool, y_test, n, lam, lam0, sigma, sigma0, keys, *, T, T0, n_max):
    """Trusted jitted core: errors of shape (S, G, L) on the held-out set and on the pool."""
    N = Kp.shape[0]

    def one_seed(key):
        k_gen, k_down = jax.random.split(key)

        def generation(f, key_k):
            k_idx, k_eps = jax.random.split(key_k)
            idx = jax.random.choice(k_idx, N, (T0,), replace=False)
            labels = f[idx] + sigma0 * jax.random.normal(k_eps, (T0,))
            A = Kp[idx][:, idx] / T0 + lam0 * jnp.eye(T0)
            alpha = jax.scipy.linalg.solve(A, labels / T0, assume_a="pos")
            f_next = Kp[:, idx] @ alpha
            return f_next, f_next

        _, fs = jax.lax.scan(generation, y_pool, jax.random.split(k_gen, n_max))
        fs = jnp.concatenate([y_pool[None, :], fs], axis=0)  # (n_max + 1, N)

        def downstream(f, key_n):
            k_idx, k_eps = jax.random.split(key_n)
            idx = jax.random.choice(k_idx, N, (T,), replace=False)
            labels = f[idx] + sigma * jax.random.normal(k_eps, (T,))
            e, V = jnp.linalg.eigh(Kp[idx][:, idx] / T)
            # alpha(lam) = V (e + lam)^-1 V' y / T for every lam at once: (T, L).
            alpha = V @ ((V.T @ labels / T)[:, None] / (e[:, None] + lam[None, :]))
            err_test = jnp.mean((Kt[:, idx] @ alpha - y_test[:, None]) ** 2, axis=0)
            err_pool = jnp.mean((Kp[:, idx] @ alpha - y_pool[:, None]) ** 2, axis=0)
            return err_test, err_pool

        return jax.vmap(downstream)(fs[n], jax.random.split(k_down, n.shape[0]))

    return jax.lax.map(one_seed, keys)


@uses_one_blas_thread
@uses_float64
def simulate_collapse(data: KernelData, *, T: int, T0: int, n: ArrayLike, lam: ArrayLike,
                      lam0: float, sigma: float, sigma0: float, seeds: int,
                      key: Key = 0) -> CollapseSimulation:
    """Simulate recursive kernel ridge generators and the downstream test error (module doc).

    Parameters
    ----------
    data : KernelData
        From :func:`kernel_data`; pool size ``N``.
    T : int
        Downstream training points, ``1 <= T <= N``.
    T0 : int
        Points per generator fit, ``1 <= T0 <= N``.
    n : int or array_like of int, shape (G,)
        Generations at which the downstream model is trained (``0``: real labels).
    lam : float or array_like, shape (L,)
        Downstream ridges, ``> 0`` (kernel interpolation is ill-posed in floating point).
    lam0 : float
        Generator ridge, ``> 0``.
    sigma, sigma0 : float
        Label noise added downstream and at each generation, ``>= 0``.
    seeds : int
        Independent repetitions (vectorised over generations and ridges, mapped over seeds).
    key : int or jax PRNG key
        Master key (an int in ``[0, 2**63)`` or a JAX key).  Seed ``i`` uses
        ``jax.random.split(key, seeds)[i]``: a given key gives identical results, and seed
        ``i``'s errors do not depend on the number of seeds.

    Returns
    -------
    CollapseSimulation
        ``heldout`` and ``pool`` errors of shape (seeds, G, L).

    References
    ----------
    Dohmatob, Feng & Kempe (2024), section 5 (kernel ridge on synthetic data);
    ``docs/theory/setting.rst`` and ``docs/theory/kernels.rst``.
    """
    N, _ = _check_data(data)
    T = v.integer("T", T, minimum=1)
    T0 = v.integer("T0", T0, minimum=1)
    for name, value in (("T", T), ("T0", T0)):
        if value > N:
            raise ValueError(f"{name} must be at most the pool size N = {N}, got {value}")
    ns = v.sequence("n", n, check=v.nonnegative_integer)
    lams = v.sequence("lam", lam, check=v.positive)
    lam0 = v.scalar("lam0", lam0, check=v.positive)
    sigma = v.scalar("sigma", sigma, check=v.nonnegative)
    sigma0 = v.scalar("sigma0", sigma0, check=v.nonnegative)
    seeds = v.integer("seeds", seeds, minimum=1)
    keys = jnp.asarray(_keys.seed_keys(key, seeds))
    err_test, err_pool = _simulate_core(
        jnp.asarray(data.gram_pool), jnp.asarray(data.gram_test), jnp.asarray(data.y_pool),
        jnp.asarray(data.y_test), jnp.asarray(ns), jnp.asarray(lams), lam0, sigma, sigma0, keys,
        T=T, T0=T0, n_max=max(int(ns.max()), 1),
    )
    return CollapseSimulation(n=ns, lam=lams, heldout=np.asarray(err_test),
                              pool=np.asarray(err_pool))


@uses_one_blas_thread
@uses_float64
def theory_collapse(data: KernelData, *, T: int, T0: int, n: ArrayLike, lam: ArrayLike,
                    lam0: float, sigma: float, sigma0: float,
                    rtol: float = 1e-10) -> CollapseTheory:
    """Theory prediction of :func:`simulate_collapse` from the kernel's empirical spectrum.

    ``s, w0 = empirical_spectrum(K_pool, y_pool)`` and, with ``r² = noise_var`` the mean square
    of the target outside the kept eigenvectors (it cannot be learnt: it is label noise of the
    real labels and an error floor of the test error against them)::

        n = 0:  total = test_error(s, w0, T, lam, sigma_eff = sqrt(sigma² + r²)) + r²,
        n ≥ 1:  total = test_error(s, w0, T, T0, n, lam, lam0, sigma,
                                   sigma0_eff = sqrt(sigma0² + r²/n)) + r²,

    since for ``n >= 1`` only the first generator sees the real labels: its extra noise ``r²`` is
    spread over the ``n`` generations (exact for least-squares generators, whose collapse term
    is additive in the per-generation noise; approximate for ridge generators).  For smooth
    targets and the default ``rtol``, ``r²`` is round-off (``~1e-30`` on MNIST).

    Parameters
    ----------
    data, T, T0, n, lam, lam0, sigma, sigma0
        As in :func:`simulate_collapse`.
    rtol : float
        Relative eigenvalue threshold of :func:`~kernelcollapse.kernels.empirical_spectrum`.

    Returns
    -------
    CollapseTheory
        Arrays of shape (G, L) for ``n`` of shape (G,) and ``lam`` of shape (L,).

    References
    ----------
    ``docs/theory/general.rst`` (C) and ``kernels.rst``; B. Bordelon, A. Canatar, C. Pehlevan,
    "Spectrum dependent learning curves in kernel regression and wide neural networks", ICML
    (2020) (the empirical spectrum of a data set predicts kernel learning curves).
    """
    _check_data(data)
    ns = v.sequence("n", n, check=v.nonnegative_integer)
    lams = v.sequence("lam", lam, check=v.positive)
    lam0 = v.scalar("lam0", lam0, check=v.positive)
    sigma = v.scalar("sigma", sigma, check=v.nonnegative)
    sigma0 = v.scalar("sigma0", sigma0, check=v.nonnegative)
    spec = empirical_spectrum(data.gram_pool, data.y_pool, rtol=rtol)
    r2 = spec.noise_var
    rows = []
    for g in ns:
        if g == 0:
            noise = {"sigma": np.sqrt(sigma**2 + r2), "sigma0": sigma0}
        else:
            noise = {"sigma": sigma, "sigma0": np.sqrt(sigma0**2 + r2 / g)}
        rows.append(theory.test_error(spec.eigvals, spec.w0, T=T, T0=T0, n=int(g), lam=lams,
                                      lam0=lam0, **noise))
    total, bias, variance, collapse = (np.stack([np.asarray(getattr(r, f)) for r in rows])
                                       for f in ("total", "bias", "variance", "collapse"))
    return CollapseTheory(total=total + r2, bias=bias, variance=variance, collapse=collapse,
                          noise_var=r2, d=int(spec.eigvals.size))
