"""Collapse of a 1-D Gaussian refitted on its own samples.

Generation 0 is ``N(mu0, sigma0^2)``.  Generation ``i+1`` is the Gaussian fitted to
``N`` samples of generation ``i``: ``mu_{i+1}`` is their mean and ``sigma_{i+1}^2``
their variance, either unbiased (divide by ``N - 1``) or maximum likelihood (divide by
``N``).  By Cochran's theorem, given generation ``i``,

.. math::

    \\mu_{i+1} = \\mu_i + \\sigma_i Z / \\sqrt N, \\qquad
    \\sigma_{i+1}^2 = \\sigma_i^2 \\, c \\, \\chi^2_{N-1} / (N-1),

with ``Z`` standard normal independent of ``chi^2_{N-1}``, ``c = 1`` (unbiased) or
``c = (N-1)/N`` (ML), all independent across generations.  Hence (exact, any ``n``):

* ``E[sigma_n^2] = sigma0^2 c^n`` (a martingale for the unbiased fit, geometric decay
  for ML);
* ``E[sigma_n] = sigma0 (sqrt(c) m_1)^n`` with ``m_1 = E[sqrt(chi^2_k / k)] =
  sqrt(2/k) Gamma((k+1)/2) / Gamma(k/2) < 1``, ``k = N - 1``: ``E[sigma_n] -> 0`` even
  when ``E[sigma_n^2]`` stays constant (collapse almost surely, since
  ``E[log sigma_n^2] = log sigma0^2 + n (log c + psi(k/2) + log(2/k)) -> -inf``);
* the mean is a random walk, ``E[(mu_n - mu0)^2] = (sigma0^2 / N) sum_{i<n} c^i``;
* the squared Wasserstein-2 distance to the original,
  ``W2^2 = (mu_n - mu0)^2 + (sigma_n - sigma0)^2``, has
  ``E[W2^2] = E[(mu_n - mu0)^2] + E[sigma_n^2] - 2 sigma0 E[sigma_n] + sigma0^2``.

References
----------
.. [1] I. Shumailov et al., "AI models collapse when trained on recursively generated
   data", Nature 631 (2024), Supplementary "theoretical intuition" (single Gaussian);
   arXiv:2305.17493 §4.2.
.. [2] D. C. Dowson and B. V. Landau, "The Fréchet distance between multivariate
   normal distributions", J. Multivariate Anal. 12 (1982) 450–455 (W2 between
   Gaussians).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from kernelcollapse._util import keys as _keys
from kernelcollapse._util import validate as v
from kernelcollapse._util.keys import Key
from kernelcollapse.zoo._common import progress_bar

__all__ = ["GaussianChain", "GaussianMoments", "chi_mean", "gaussian_moments", "simulate_gaussian"]

_ESTIMATORS = ("unbiased", "ml")


class GaussianChain(NamedTuple):
    """Result of :func:`simulate_gaussian`.

    Attributes
    ----------
    mu : ndarray, shape (G + 1, S)
        Fitted means at generations ``0..G`` (row 0 is ``mu0``) for ``S`` seeds.
    sigma : ndarray, shape (G + 1, S)
        Fitted standard deviations.
    w2_squared : ndarray, shape (G + 1, S)
        Squared Wasserstein-2 distance to the original,
        ``(mu - mu0)^2 + (sigma - sigma0)^2``.
    """

    mu: np.ndarray
    sigma: np.ndarray
    w2_squared: np.ndarray


class GaussianMoments(NamedTuple):
    """Closed-form moments from :func:`gaussian_moments`, each of the shape of ``n``.

    Attributes
    ----------
    var : E[sigma_n^2]
    sd : E[sigma_n]
    mean_shift_sq : E[(mu_n - mu0)^2]
    w2_squared : E[W2^2] to the original
    log_var : E[log sigma_n^2]
    """

    var: np.ndarray
    sd: np.ndarray
    mean_shift_sq: np.ndarray
    w2_squared: np.ndarray
    log_var: np.ndarray


def _check_estimator(estimator: str) -> str:
    if estimator not in _ESTIMATORS:
        raise ValueError(f"estimator must be one of {_ESTIMATORS}, got {estimator!r}")
    return estimator


def simulate_gaussian(*, N: int, generations: int, seeds: int = 1000, mu0: float = 0.0,
                      sigma0: float = 1.0, estimator: str = "unbiased", key: Key = 0,
                      sampler: str = "samples", progress: bool = True) -> GaussianChain:
    """Refit a 1-D Gaussian on ``N`` of its own samples, ``generations`` times, ``seeds``
    chains at once.

    Parameters
    ----------
    N : int
        Samples per generation, ``N >= 2``.
    generations : int
        Number of refits ``G >= 1``.
    seeds : int
        Number of independent chains ``S``.
    mu0, sigma0 : float
        Original mean and standard deviation (``sigma0 > 0``).
    estimator : {"unbiased", "ml"}
        Variance estimator: divide by ``N - 1`` or by ``N``.
    key : int or jax PRNG key
        Master key (an int in ``[0, 2**63)`` or a JAX key).  Generation ``g`` draws from
        the numpy generators ``kernelcollapse._util.keys.numpy_generator(key, g, i)`` (``i``: one
        stream per kind of draw), the seeds in order, so a given key gives identical results
        and chain ``i`` does not depend on the number of seeds.
    sampler : {"samples", "sufficient"}
        ``"samples"`` draws the ``(S, N)`` samples each generation and fits them;
        ``"sufficient"`` draws the sample mean and variance directly from their exact
        joint law (normal and scaled chi-square, independent), ``O(S)`` per generation.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    GaussianChain
    """
    N = v.integer("N", N, minimum=2)
    generations = v.integer("generations", generations, minimum=1)
    seeds = v.integer("seeds", seeds, minimum=1)
    mu0 = v.real("mu0", mu0)
    sigma0 = v.real("sigma0", sigma0, low=0.0, low_open=True)
    _check_estimator(estimator)
    key = _keys.key_data(key)
    if sampler not in ("samples", "sufficient"):
        raise ValueError(f"sampler must be 'samples' or 'sufficient', got {sampler!r}")
    return _simulate(N, generations, seeds, mu0, sigma0, estimator, key, sampler, progress)


def _simulate(N, generations, seeds, mu0, sigma0, estimator, key, sampler,
              progress) -> GaussianChain:
    ddof = 1 if estimator == "unbiased" else 0
    mu = np.empty((generations + 1, seeds))
    sigma = np.empty((generations + 1, seeds))
    mu[0], sigma[0] = mu0, sigma0
    with progress_bar(generations, enabled=progress, desc="Gaussian refit") as bar:
        for g in range(1, generations + 1):
            m, s = mu[g - 1], sigma[g - 1]
            # One stream per generation and kind of draw, the seeds drawn in order: seed i's
            # draws depend on the earlier seeds' only, never on the number of seeds.
            if sampler == "samples":
                z = _keys.numpy_generator(key, g, 0).standard_normal((seeds, N))
                x = m[:, None] + s[:, None] * z
                mu[g] = x.mean(axis=1)
                sigma[g] = x.std(axis=1, ddof=ddof)
            else:
                z = _keys.numpy_generator(key, g, 0).standard_normal(seeds)
                chi2 = _keys.numpy_generator(key, g, 1).chisquare(N - 1, seeds)
                mu[g] = m + s * z / np.sqrt(N)
                sigma[g] = s * np.sqrt(chi2 / (N - ddof))
            bar.update()
    return GaussianChain(mu=mu, sigma=sigma, w2_squared=(mu - mu0) ** 2 + (sigma - sigma0) ** 2)


def chi_mean(k: int) -> float:
    """``E[sqrt(chi^2_k / k)] = sqrt(2/k) Gamma((k+1)/2) / Gamma(k/2)`` (``k >= 1``)."""
    k = v.integer("k", k, minimum=1)
    return float(np.sqrt(2.0 / k) * np.exp(special.gammaln((k + 1) / 2) - special.gammaln(k / 2)))


def gaussian_moments(n: ArrayLike, *, N: int, sigma0: float = 1.0,
                     estimator: str = "unbiased") -> GaussianMoments:
    """Exact moments of the refitted Gaussian after ``n`` generations.

    Parameters
    ----------
    n : int or array_like of int
        Generations (0 = the original).
    N : int
        Samples per generation, ``N >= 2``.
    sigma0 : float
        Original standard deviation (the mean ``mu0`` does not enter).
    estimator : {"unbiased", "ml"}

    Returns
    -------
    GaussianMoments
        ``E[sigma_n^2] = sigma0^2 c^n``, ``E[sigma_n] = sigma0 (sqrt(c) m_1)^n``,
        ``E[(mu_n - mu0)^2] = sigma0^2 (1 - c^n) / (N (1 - c))`` (``n sigma0^2 / N`` for
        ``c = 1``), ``E[W2^2]`` and ``E[log sigma_n^2]``; ``c = 1`` (unbiased) or
        ``(N-1)/N`` (ML), ``m_1 = E[sqrt(chi^2_{N-1}/(N-1))]``.  See the module notes.
    """
    n = v.generation_indices("n", n)
    N = v.integer("N", N, minimum=2)
    sigma0 = v.real("sigma0", sigma0, low=0.0, low_open=True)
    _check_estimator(estimator)
    k = N - 1
    c = 1.0 if estimator == "unbiased" else k / N
    var = sigma0**2 * c**n
    sd = sigma0 * (np.sqrt(c) * chi_mean(k)) ** n
    if c == 1.0:
        shift = sigma0**2 * n / N
    else:
        shift = sigma0**2 * (1.0 - c**n) / (N * (1.0 - c))
    w2 = shift + var - 2.0 * sigma0 * sd + sigma0**2
    log_var = np.log(sigma0**2) + n * (np.log(c) + special.digamma(k / 2) + np.log(2.0 / k))
    return GaussianMoments(var=var, sd=sd, mean_shift_sq=shift, w2_squared=w2, log_var=log_var)
