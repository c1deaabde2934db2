"""Figure 10: a 1-D Gaussian refitted on its own samples (unbiased and ML variance).

Defined in :mod:`kernelcollapse.figures.fig10_zoo_gaussian`; run as
``python paper_figures/fig10_zoo_gaussian.py [--size tiny|quick|full] [--out DIR]``.
"""

from kernelcollapse.figures import script_main
from kernelcollapse.figures.fig10_zoo_gaussian import NAME, TITLE, run  # noqa: F401

if __name__ == "__main__":
    script_main(run)
