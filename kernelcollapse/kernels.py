"""Kernels (RBF, polynomial), jit-compiled Gram matrices, and the empirical Mercer spectrum.

Kernel ridge regression is ridge regression in the kernel's feature space
(``docs/theory/kernels.rst``), so the theory of :mod:`kernelcollapse.theory` applies with ``s`` the
Mercer eigenvalues of the kernel under the data distribution and ``w0`` the target's coefficients.
:func:`empirical_spectrum` estimates both from a pool of ``N`` points.

Convention (used throughout the package).  Diagonalise ``K/N = U diag(s) Uᵀ`` (``U`` orthonormal,
``s`` descending).  The empirical Mercer eigenfunctions, orthonormal under the pool's empirical
measure, are ``ψ_j(x_i) = sqrt(N)·U_ij``, so that ``K_ik = Σ_j s_j ψ_j(x_i) ψ_j(x_k)``.  The
features are ``φ_j(x) = sqrt(s_j)·ψ_j(x)``, with second moment ``E φ φᵀ = diag(s)``.  A target
``f(x_i) = y_i`` is written ``f = Σ_j c_j ψ_j = Σ_j w0_j φ_j``, hence

    c = Uᵀy / sqrt(N),      w0 = c / sqrt(s),      ||w0||²_Σ = Σ_j s_j w0_j² = Σ_j c_j².

Kernel ridge on ``T`` samples, ``α = (K_T/T + λ I)⁻¹ y/T`` and ``f̂(x) = k(x, X)·α``, is then
exactly the ridge ``ŵ = (ΦᵀΦ/T + λ I)⁻¹ ΦᵀY/T`` of the notes, and ``E (f̂ − f)² = ||ŵ − w0||²_Σ``,
which is what ``theory.test_error(s, w0, T=T, lam=λ, ...)`` predicts.  The part of ``y`` outside
the kept eigenvectors (eigenvalues below ``rtol·s_max`` are dropped: the theory needs ``s > 0``
and round-off makes the smallest ones meaningless) is returned as ``noise_var``, its mean square.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from kernelcollapse._util import keys as _keys
from kernelcollapse._util import validate as v
from kernelcollapse._util.blas import uses_one_blas_thread
from kernelcollapse._util.keys import Key
from kernelcollapse._util.x64 import uses_float64

__all__ = [
    "Kernel",
    "EmpiricalSpectrum",
    "rbf",
    "polynomial",
    "median_bandwidth",
    "inner_product_scale",
    "gram",
    "empirical_spectrum",
]


class Kernel(NamedTuple):
    """A kernel and its parameters; build it with :func:`rbf` or :func:`polynomial`.

    ``rbf``: ``k(x, x') = exp(−||x − x'||² / (2·bandwidth²))``.
    ``polynomial``: ``k(x, x') = (scale·x·x' + offset)^degree``.
    Unused fields are ``nan`` (floats) or ``0`` (degree).
    """

    name: str
    bandwidth: float = float("nan")
    degree: int = 0
    offset: float = float("nan")
    scale: float = float("nan")


class EmpiricalSpectrum(NamedTuple):
    """Mercer eigenvalues and target coefficients estimated on a pool of ``N`` points.

    Attributes
    ----------
    eigvals : ndarray, shape (d,)
        ``s``: the kept eigenvalues of ``K/N``, descending, all ``> rtol·s_max``.
    w0 : ndarray, shape (d,)
        Target coefficients ``w0 = Uᵀy / sqrt(N·s)`` (module docstring).
    noise_var : float
        Mean square of the labels' component outside the kept eigenvectors,
        ``||y − U Uᵀ y||² / N`` (0 when the labels lie in their span).
    eigvecs : ndarray, shape (N, d)
        ``U``, the kept eigenvectors (columns) of ``K/N``.
    """

    eigvals: np.ndarray
    w0: np.ndarray
    noise_var: float
    eigvecs: np.ndarray


def rbf(bandwidth: float) -> Kernel:
    """Gaussian (RBF) kernel ``exp(−||x − x'||²/(2 h²))`` with bandwidth ``h > 0``.

    The bandwidth rule used by the package is :func:`median_bandwidth`.
    """
    return Kernel("rbf", bandwidth=v.real("bandwidth", bandwidth, low=0.0, low_open=True))


def polynomial(degree: int = 3, *, offset: float = 1.0, scale: float = 1.0) -> Kernel:
    """Polynomial kernel ``(scale·x·x' + offset)^degree``; degree >= 1, offset >= 0, scale > 0.

    With ``offset >= 0`` it is positive semi-definite for every integer degree.  The scale rule
    used by the package is :func:`inner_product_scale` (``scale·x·x`` of order one).
    """
    return Kernel("polynomial", degree=v.integer("degree", degree, minimum=1),
                  offset=v.real("offset", offset, low=0.0),
                  scale=v.real("scale", scale, low=0.0, low_open=True))


@uses_one_blas_thread
@uses_float64
def median_bandwidth(x: ArrayLike, *, max_points: int = 1000, key: Key = 0) -> float:
    """Median heuristic: the median Euclidean distance between distinct points.

    Computed over all pairs ``i < j`` of a random subsample of at most ``max_points`` rows
    (drawn with ``kernelcollapse._util.keys.numpy_generator(key)``), which keeps the cost
    ``O(max_points²)``.

    Parameters
    ----------
    x : array_like, shape (N, p)
    max_points : int
    key : int or jax PRNG key
        Key of the subsample (an int in ``[0, 2**63)`` or a JAX key); the same key gives the
        same bandwidth.

    Returns
    -------
    float
        ``h = median_{i<j} ||x_i − x_j||``, used as :func:`rbf` bandwidth: a typical pair of
        points then has kernel value ``exp(−1/2)``.

    References
    ----------
    B. Schölkopf, A. Smola, "Learning with Kernels" (2002); A. Gretton et al., "A kernel
    two-sample test", JMLR 13 (2012) (the median heuristic).
    """
    x = v.points("x", x)
    if x.shape[0] < 2:
        raise ValueError(f"x needs at least 2 points for a median distance, got {x.shape[0]}")
    max_points = v.integer("max_points", max_points, minimum=2)
    rng = _keys.numpy_generator(key)
    if x.shape[0] > max_points:
        x = x[rng.choice(x.shape[0], max_points, replace=False)]
    sq = np.asarray(_sq_dist(jnp.asarray(x), jnp.asarray(x)))
    dist = np.sqrt(sq[np.triu_indices(x.shape[0], k=1)])
    h = float(np.median(dist))
    if h <= 0:
        raise ValueError("x has a zero median pairwise distance (mostly repeated points)")
    return h


def inner_product_scale(x: ArrayLike) -> float:
    """``1 / mean_i ||x_i||²``: the polynomial-kernel scale making ``scale·x·x`` one on average."""
    x = v.points("x", x)
    mean_sq = float(np.mean(np.sum(x * x, axis=1)))
    if mean_sq <= 0:
        raise ValueError("x is identically zero: no inner-product scale")
    return 1.0 / mean_sq


@jax.jit
def _sq_dist(x, y):
    sq = jnp.sum(x * x, axis=1)[:, None] + jnp.sum(y * y, axis=1)[None, :] - 2.0 * x @ y.T
    return jnp.maximum(sq, 0.0)  # round-off can make the expansion slightly negative


@jax.jit
def _rbf_gram(x, y, bandwidth):
    return jnp.exp(-_sq_dist(x, y) / (2.0 * bandwidth**2))


@partial(jax.jit, static_argnums=(2,))
def _polynomial_gram(x, y, degree, offset, scale):
    return jax.lax.integer_pow(scale * (x @ y.T) + offset, degree)


def _gram_core(kernel: Kernel, x, y):
    """Trusted core: jnp arrays in, Gram matrix out (callable inside other jitted code)."""
    if kernel.name == "rbf":
        return _rbf_gram(x, y, kernel.bandwidth)
    return _polynomial_gram(x, y, kernel.degree, kernel.offset, kernel.scale)


@uses_one_blas_thread
@uses_float64
def gram(kernel: Kernel, x: ArrayLike, y: ArrayLike | None = None) -> np.ndarray:
    """Gram matrix ``K_ik = k(x_i, y_k)`` (jit-compiled, float64), as a numpy array.

    A numpy array rather than a JAX one: a float64 JAX array handed to code running with
    JAX's default float32 would silently drop to float32 in its next JAX operation.

    Parameters
    ----------
    kernel : Kernel
        From :func:`rbf` or :func:`polynomial`.
    x : array_like, shape (N, p)
    y : array_like, shape (M, p), optional
        Defaults to ``x``.

    Returns
    -------
    ndarray, shape (N, M)
        float64.
    """
    if not isinstance(kernel, Kernel) or kernel.name not in ("rbf", "polynomial"):
        raise TypeError(f"kernel must be a Kernel from rbf() or polynomial(), got {kernel!r}")
    x = v.points("x", x)
    y = x if y is None else v.points("y", y)
    if y.shape[1] != x.shape[1]:
        raise ValueError(f"x and y must have the same number of features, got {x.shape[1]} "
                         f"and {y.shape[1]}")
    return np.asarray(_gram_core(kernel, jnp.asarray(x), jnp.asarray(y)))


@jax.jit
def _eigh_desc(k_over_n):
    s, u = jnp.linalg.eigh(k_over_n)
    return s[::-1], u[:, ::-1]


def _spectrum_core(k_pool, labels, rtol):
    """Trusted core of :func:`empirical_spectrum` (validated numpy inputs)."""
    n = k_pool.shape[0]
    s, u = (np.asarray(a) for a in _eigh_desc(jnp.asarray(k_pool) / n))
    keep = s > rtol * s[0]
    s, u = s[keep], u[:, keep]
    proj = u.T @ labels
    residual = labels - u @ proj
    return EmpiricalSpectrum(
        eigvals=s,
        w0=proj / np.sqrt(n * s),
        noise_var=float(residual @ residual / n),
        eigvecs=u,
    )


@uses_one_blas_thread
@uses_float64
def empirical_spectrum(gram_matrix: ArrayLike, labels: ArrayLike, *,
                       rtol: float = 1e-10) -> EmpiricalSpectrum:
    """Mercer eigenvalues ``s`` and target coefficients ``w0`` from a Gram matrix on a pool.

    Eigen-decomposes ``K/N = U diag(s) Uᵀ``, keeps ``s_j > rtol·s_max`` and projects the labels:
    ``w0 = Uᵀy / sqrt(N·s)`` (the convention in the module docstring, under which
    ``theory.test_error(s, w0, T=T, lam=λ, ...)`` is the test error of kernel ridge with
    ``α = (K/T + λI)⁻¹ y/T``).

    Parameters
    ----------
    gram_matrix : array_like, shape (N, N)
        Symmetric positive semi-definite ``K`` on the pool (e.g. :func:`gram`).
    labels : array_like, shape (N,)
        Target values ``y_i`` on the pool.
    rtol : float
        Relative eigenvalue threshold in ``(0, 1)``.  The default ``1e-10`` is far above the
        float64 round-off of the eigenvalues (``~1e-16·N·s_max``) and low enough that the dropped
        directions hold a negligible part of a smooth target (reported as ``noise_var``).

    Returns
    -------
    EmpiricalSpectrum
        ``eigvals`` (d,), ``w0`` (d,), ``noise_var``, ``eigvecs`` (N, d).

    References
    ----------
    C. K. I. Williams, M. Seeger, "Using the Nyström method to speed up kernel machines", NIPS
    (2001); B. Bordelon, A. Canatar, C. Pehlevan, "Spectrum dependent learning curves in kernel
    regression and wide neural networks", ICML (2020); ``docs/theory/kernels.rst``.
    """
    k_pool = v.as_float_array("gram_matrix", gram_matrix)
    if k_pool.ndim != 2 or k_pool.shape[0] != k_pool.shape[1] or k_pool.shape[0] < 2:
        raise ValueError(f"gram_matrix must be a square (N, N) array with N >= 2, "
                         f"got shape {k_pool.shape}")
    v.check_finite("gram_matrix", k_pool)
    scale = np.max(np.abs(k_pool))
    if np.max(np.abs(k_pool - k_pool.T)) > 1e-10 * max(scale, 1e-300):
        raise ValueError("gram_matrix must be symmetric")
    labels = v.vector("labels", labels, length=k_pool.shape[0])
    rtol = v.real("rtol", rtol, low=0.0, high=1.0, low_open=True, high_open=True)
    if scale == 0:
        raise ValueError("gram_matrix is identically zero: no spectrum")
    return _spectrum_core(k_pool, labels, rtol)
