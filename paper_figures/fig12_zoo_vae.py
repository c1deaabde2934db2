"""Figure 12: a VAE on MNIST retrained, generation after generation, on its own samples.

Defined in :mod:`kernelcollapse.figures.fig12_zoo_vae`; run as
``python paper_figures/fig12_zoo_vae.py [--size tiny|quick|full] [--out DIR]``.
"""

from kernelcollapse.figures import script_main
from kernelcollapse.figures.fig12_zoo_vae import NAME, TITLE, run  # noqa: F401

if __name__ == "__main__":
    script_main(run)
