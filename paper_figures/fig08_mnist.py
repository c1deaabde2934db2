"""Figure 8: model collapse of kernel ridge regression on MNIST, RBF and polynomial kernels.

Defined in :mod:`kernelcollapse.figures.fig08_mnist`; run as
``python paper_figures/fig08_mnist.py [--size tiny|quick|full] [--out DIR]``.
"""

from kernelcollapse.figures import script_main
from kernelcollapse.figures.fig08_mnist import NAME, TITLE, run  # noqa: F401

if __name__ == "__main__":
    script_main(run)
