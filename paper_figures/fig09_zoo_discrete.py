"""Figure 9: a discrete distribution refitted on its own samples (Wright–Fisher collapse).

Defined in :mod:`kernelcollapse.figures.fig09_zoo_discrete`; run as
``python paper_figures/fig09_zoo_discrete.py [--size tiny|quick|full] [--out DIR]``.
"""

from kernelcollapse.figures import script_main
from kernelcollapse.figures.fig09_zoo_discrete import NAME, TITLE, run  # noqa: F401

if __name__ == "__main__":
    script_main(run)
