"""Figure 16: tuning on real data when part of the labels are synthetic (MNIST).

Defined in :mod:`kernelcollapse.figures.fig16_practitioner`; run as
``python paper_figures/fig16_practitioner.py [--size tiny|quick|full] [--out DIR]``.
"""

from kernelcollapse.figures import script_main
from kernelcollapse.figures.fig16_practitioner import NAME, TITLE, run  # noqa: F401

if __name__ == "__main__":
    script_main(run)
