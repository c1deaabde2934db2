"""The collapse process, declared once: each setting of the generator chain and the downstream
fit with its kind, its default and its meaning.

The engines read this table: the theory (:meth:`PreparedProblem.test_error` and everything
built on it), the simulator's plan, the sweep's config and the command line.  A new setting of
the process is one row here, plus the engines that use it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from kernelcollapse._util import validate as v
from kernelcollapse.theory._chain import MODES

__all__ = ["PROCESS", "ProcessSetting", "check_process"]


class ProcessSetting(NamedTuple):
    """One setting of the process.

    Attributes
    ----------
    name : str
        The keyword every engine uses (``T``, ``lam0``, ...).
    kind : str
        What its values may be: ``"size"`` (rows, ``>= 1``; integers where rows are drawn),
        ``"count"`` (an integer ``>= 0``), ``"nonnegative"`` (a penalty, a noise level or a
        weight), ``"fraction"`` (in ``[0, 1]``) or ``"choice"`` (one of ``choices``).
    default : object
        The value when it is not given; ``None`` for a setting every call must give.
    help : str
        Its meaning, in a few words (the command line's help).
    choices : tuple of str
        The values of a ``"choice"`` setting.
    """

    name: str
    kind: str
    default: object
    help: str
    choices: tuple[str, ...] = ()

    def check(self, value, *, name: str | None = None, integer_sizes: bool = False):
        """``value`` checked for this setting (a float64 array; a choice as it is), the
        messages naming ``name`` (default the setting's own, e.g. ``grid.T`` for a config)."""
        name = self.name if name is None else name
        if self.kind == "choice":
            return v.choice(name, value, self.choices)
        if self.kind == "size":
            return (v.positive_integer if integer_sizes else v.sample_size)(name, value)
        return _CHECKS[self.kind](name, value)


PROCESS: tuple[ProcessSetting, ...] = (
    ProcessSetting("T", "size", None, "downstream sample size"),
    ProcessSetting("T0", "size", None, "samples per generator fit"),
    ProcessSetting("n", "count", None, "generation of the synthetic labels (0: clean)"),
    ProcessSetting("lam", "nonnegative", None, "downstream ridge penalty"),
    ProcessSetting("lam0", "nonnegative", 0.0, "generator ridge penalty (0: least squares)"),
    ProcessSetting("p", "fraction", 1.0, "fraction of synthetic downstream labels"),
    ProcessSetting("fresh", "fraction", 0.0,
                   "fraction of real rows in each generation's data (replace)"),
    ProcessSetting("weight", "nonnegative", 1.0,
                   "loss weight of the synthetic downstream rows (0 drops them)"),
    ProcessSetting("sigma", "nonnegative", None, "downstream label noise"),
    ProcessSetting("sigma0", "nonnegative", None, "generator label noise"),
    ProcessSetting("mode", "choice", "replace", "generators' data workflow", MODES),
)
# The order is the order of the checks: the first bad value is the one reported.

_CHECKS = {"count": v.nonnegative_integer, "nonnegative": v.nonnegative,
           "fraction": v.probability}


def check_process(values: dict, *, integer_sizes: bool = False) -> dict[str, np.ndarray]:
    """The array settings among ``values`` checked, as float64 arrays (not yet broadcast),
    in the table's order; ``mode`` checked and returned as it is.

    ``integer_sizes``: sizes must be integers (an engine that draws rows), else any real
    ``>= 1`` (the theory).  Raises the ValueError or TypeError of the first bad value, naming
    the setting, the value and the valid range.
    """
    return {setting.name: setting.check(values[setting.name], integer_sizes=integer_sizes)
            for setting in PROCESS if setting.name in values}
