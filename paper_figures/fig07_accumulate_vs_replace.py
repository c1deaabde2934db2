"""Figure 7: accumulate versus replace, test error against the generation ``n``.

Defined in :mod:`kernelcollapse.figures.fig07_accumulate_vs_replace`; run as
``python paper_figures/fig07_accumulate_vs_replace.py [--size tiny|quick|full] [--out DIR]``.
"""

from kernelcollapse.figures import script_main
from kernelcollapse.figures.fig07_accumulate_vs_replace import NAME, TITLE, run  # noqa: F401

if __name__ == "__main__":
    script_main(run)
