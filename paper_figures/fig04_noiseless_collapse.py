"""Figure 4: catastrophic collapse without noise, over-parametrised generators (``T0 < d``).

Defined in :mod:`kernelcollapse.figures.fig04_noiseless_collapse`; run as
``python paper_figures/fig04_noiseless_collapse.py [--size tiny|quick|full] [--out DIR]``.
"""

from kernelcollapse.figures import script_main
from kernelcollapse.figures.fig04_noiseless_collapse import NAME, TITLE, run  # noqa: F401

if __name__ == "__main__":
    script_main(run)
