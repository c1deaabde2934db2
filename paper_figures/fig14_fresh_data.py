"""Figure 14: fresh real data in every generation, test error against the generation ``n``.

Defined in :mod:`kernelcollapse.figures.fig14_fresh_data`; run as
``python paper_figures/fig14_fresh_data.py [--size tiny|quick|full] [--out DIR]``.
"""

from kernelcollapse.figures import script_main
from kernelcollapse.figures.fig14_fresh_data import NAME, TITLE, run  # noqa: F401

if __name__ == "__main__":
    script_main(run)
