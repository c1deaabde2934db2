"""Figure 1: isotropic spectrum, test error against the downstream ridge ``lam``.

Defined in :mod:`kernelcollapse.figures.fig01_isotropic_lambda`; run as
``python paper_figures/fig01_isotropic_lambda.py [--size tiny|quick|full] [--out DIR]``.
"""

from kernelcollapse.figures import script_main
from kernelcollapse.figures.fig01_isotropic_lambda import NAME, TITLE, run  # noqa: F401

if __name__ == "__main__":
    script_main(run)
