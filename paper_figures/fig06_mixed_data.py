"""Figure 6: mixed training data, a fraction ``p`` of synthetic labels: the floor ``p^2 U``.

Defined in :mod:`kernelcollapse.figures.fig06_mixed_data`; run as
``python paper_figures/fig06_mixed_data.py [--size tiny|quick|full] [--out DIR]``.
"""

from kernelcollapse.figures import script_main
from kernelcollapse.figures.fig06_mixed_data import NAME, TITLE, run  # noqa: F401

if __name__ == "__main__":
    script_main(run)
