"""Figure 15: mixed real and synthetic rows with ridge generators, and the optimal weight.

Defined in :mod:`kernelcollapse.figures.fig15_mixed_weighted`; run as
``python paper_figures/fig15_mixed_weighted.py [--size tiny|quick|full] [--out DIR]``.
"""

from kernelcollapse.figures import script_main
from kernelcollapse.figures.fig15_mixed_weighted import NAME, TITLE, run  # noqa: F401

if __name__ == "__main__":
    script_main(run)
