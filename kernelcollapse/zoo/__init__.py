"""Model collapse beyond regression: the classic density-estimation experiments.

* :mod:`kernelcollapse.zoo.discrete` – a categorical distribution refitted on its own
  samples (Wright–Fisher chain), with exact and diffusion theory;
* :mod:`kernelcollapse.zoo.gaussian` – a 1-D Gaussian refitted on its own samples
  (unbiased or maximum-likelihood variance), with closed-form moments;
* :mod:`kernelcollapse.zoo.gmm` – a 1-D Gaussian mixture refitted by EM (batched over
  seeds, JAX) on a mixture of fresh, synthetic and previous data;
* :mod:`kernelcollapse.zoo.vae` – a convolutional VAE on MNIST retrained on its own
  samples (JAX + optax, checkpointed generations);
* :mod:`kernelcollapse.zoo.lm` – a GPT-style language model fine-tuned on its own
  beam-search continuations of WikiText-2 (the OPT-125m experiment, scaled down).

The two deep models import JAX and optax when first used; ``from kernelcollapse.zoo import
simulate_vae`` costs no training.

References
----------
.. [1] I. Shumailov et al., "AI models collapse when trained on recursively generated
   data", Nature 631 (2024); arXiv:2305.17493.
.. [2] M. Gerstgrasser et al., "Is model collapse inevitable? Breaking the curse of
   recursion by accumulating real and synthetic data", arXiv:2404.01413 (2024).
"""

from kernelcollapse.zoo.discrete import (
    DiscreteChain,
    collision_probability,
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
from kernelcollapse.zoo.lm import (
    LM_SIZES,
    LMBase,
    LMChain,
    LMConfig,
    lm_config,
    pretrain_lm,
    simulate_lm,
)
from kernelcollapse.zoo.vae import VAE_SIZES, VAEChain, VAEConfig, simulate_vae, vae_config

__all__ = [
    "LM_SIZES",
    "LMBase",
    "LMChain",
    "LMConfig",
    "VAE_SIZES",
    "VAEChain",
    "VAEConfig",
    "lm_config",
    "pretrain_lm",
    "simulate_lm",
    "simulate_vae",
    "vae_config",
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
    "collision_probability",
    "expected_homozygosity",
    "expected_surviving",
    "fixation_probability",
    "loss_probability",
    "mean_fixation_time",
    "mean_loss_time",
    "simulate_discrete",
]
