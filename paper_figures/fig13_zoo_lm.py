"""Figure 13: a transformer language model fine-tuned on its own beam-search continuations.

Defined in :mod:`kernelcollapse.figures.fig13_zoo_lm`; run as
``python paper_figures/fig13_zoo_lm.py [--size tiny|quick|full] [--out DIR]``.
"""

from kernelcollapse.figures import script_main
from kernelcollapse.figures.fig13_zoo_lm import NAME, TITLE, run  # noqa: F401

if __name__ == "__main__":
    script_main(run)
