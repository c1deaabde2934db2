"""Figure 11: a 1-D Gaussian mixture refitted by EM on samples of its latest fit.

Defined in :mod:`kernelcollapse.figures.fig11_zoo_gmm`; run as
``python paper_figures/fig11_zoo_gmm.py [--size tiny|quick|full] [--out DIR]``.
"""

from kernelcollapse.figures import script_main
from kernelcollapse.figures.fig11_zoo_gmm import NAME, TITLE, run  # noqa: F401

if __name__ == "__main__":
    script_main(run)
