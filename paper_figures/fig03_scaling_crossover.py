"""Figure 3: scaling-law crossover, ``lam = T^-ell_crit`` versus the corrected ``lam = T^-ell*``.

Defined in :mod:`kernelcollapse.figures.fig03_scaling_crossover`; run as
``python paper_figures/fig03_scaling_crossover.py [--size tiny|quick|full] [--out DIR]``.
"""

from kernelcollapse.figures import script_main
from kernelcollapse.figures.fig03_scaling_crossover import NAME, TITLE, run  # noqa: F401

if __name__ == "__main__":
    script_main(run)
