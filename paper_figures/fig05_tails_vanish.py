"""Figure 5: the tails vanish, coefficient profile of the n-th generator's mean.

Defined in :mod:`kernelcollapse.figures.fig05_tails_vanish`; run as
``python paper_figures/fig05_tails_vanish.py [--size tiny|quick|full] [--out DIR]``.
"""

from kernelcollapse.figures import script_main
from kernelcollapse.figures.fig05_tails_vanish import NAME, TITLE, run  # noqa: F401

if __name__ == "__main__":
    script_main(run)
