"""Model collapse beyond regression: the classic density-estimation experiments.

* :mod:`kernelcollapse.zoo.discrete` – a categorical distribution refitted on its own
  samples (Wright–Fisher chain), with exact and diffusion theory;
* :mod:`kernelcollapse.zoo.gaussian` – a 1-D Gaussian refitted on its own samples
  (unbiased or maximum-likelihood variance), with closed-form moments;
* :mod:`kernelcollapse.zoo.gmm` – a 1-D Gaussian mixture refitted by EM (batched over
  seeds, JAX) on a mixture of fresh, synthetic and previous data.

References
----------
.. [1] I. Shumailov et al., "AI models collapse when trained on recursively generated
   data", Nature 631 (2024); arXiv:2305.17493.
.. [2] M. Gerstgrasser et al., "Is model collapse inevitable? Breaking the curse of
   recursion by accumulating real and synthetic data", arXiv:2404.01413 (2024).
"""

from kernelcollapse.zoo.discrete import (
    DiscreteChain,
    expected_homozygosity,
    expected_surviving,
    fixation_probability,
    loss_probability,
    mean_fixation_time,
    mean_loss_time,
    simulate_discrete,
)
from kernelcollapse.zoo.gaussian import (
    GaussianChain,
    GaussianMoments,
    chi_mean,
    gaussian_moments,
    simulate_gaussian,
)
from kernelcollapse.zoo.gmm import (
    MixtureApproximation,
    MixtureChain,
    separated_approximation,
    simulate_mixture,
)

__all__ = [
    "DiscreteChain",
    "GaussianChain",
    "GaussianMoments",
    "MixtureApproximation",
    "MixtureChain",
    "separated_approximation",
    "simulate_mixture",
    "chi_mean",
    "gaussian_moments",
    "simulate_gaussian",
    "expected_homozygosity",
    "expected_surviving",
    "fixation_probability",
    "loss_probability",
    "mean_fixation_time",
    "mean_loss_time",
    "simulate_discrete",
]
