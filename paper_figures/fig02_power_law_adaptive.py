"""Figure 2: power-law spectrum with adaptive regularisation ``lam = T^-ell_crit``.

Defined in :mod:`kernelcollapse.figures.fig02_power_law_adaptive`; run as
``python paper_figures/fig02_power_law_adaptive.py [--size tiny|quick|full] [--out DIR]``.
"""

from kernelcollapse.figures import script_main
from kernelcollapse.figures.fig02_power_law_adaptive import NAME, TITLE, run  # noqa: F401

if __name__ == "__main__":
    script_main(run)
