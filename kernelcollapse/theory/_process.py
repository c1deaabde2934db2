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

__all__ = ["PARAMETERS", "PROCESS", "ProcessSetting", "check_process"]


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
    doc : str
        Its description in the engines' docstrings (:meth:`parameter`); empty for the sizes,
        whose types differ between the theory (real sizes) and the simulator (rows).
    """

    name: str
    kind: str
    default: object
    help: str
    choices: tuple[str, ...] = ()
    doc: str = ""

    def parameter(self) -> str:
        """The numpydoc entry of this setting: ``name : type[, default]`` and ``doc``."""
        if self.kind == "choice":
            kind = "{" + ", ".join(f'"{c}"' for c in self.choices) + "}"
        elif self.kind == "count":
            kind = "int or array_like of int"
        else:
            kind = "float or array_like"
        if isinstance(self.default, str):
            kind += f', default "{self.default}"'
        elif self.default is not None:
            kind += f", default {self.default!r}"
        return f"{self.name} : {kind}\n{self.doc}"

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
    ProcessSetting("n", "count", None, "generation of the synthetic labels (0: clean)",
                   doc="Generation of the labels, ``>= 0``; ``n = 0`` is clean data."),
    ProcessSetting("lam", "nonnegative", None, "downstream ridge penalty",
                   doc="Downstream ridge penalty, ``>= 0``; ``lam = 0`` needs ``T`` away from "
                       "``d``\n(infinite expected error within one row of it)."),
    ProcessSetting("lam0", "nonnegative", 0.0, "generator ridge penalty (0: least squares)",
                   doc="Generator ridge penalty, ``>= 0`` (``0``: least squares)."),
    ProcessSetting("p", "fraction", 1.0, "fraction of synthetic downstream labels",
                   doc="Fraction of the downstream rows labelled by the ``n``-th generator (the "
                       "synthetic\nrows), in ``[0, 1]``."),
    ProcessSetting("fresh", "fraction", 0.0,
                   "fraction of real rows in each generation's data (replace)",
                   doc="Fraction of each generation's ``T0`` rows that are real (labelled by the "
                       "truth),\nin ``[0, 1]`` (replace only): ``0`` is replace, ``1`` makes "
                       "every generation a\nfit on real data."),
    ProcessSetting("weight", "nonnegative", 1.0,
                   "loss weight of the synthetic downstream rows (0 drops them)",
                   doc="Loss weight ``omega >= 0`` of the synthetic rows in the downstream fit; "
                       "``0``\ndrops them."),
    ProcessSetting("sigma", "nonnegative", None, "downstream label noise",
                   doc="Label noise of the downstream rows, ``>= 0``."),
    ProcessSetting("sigma0", "nonnegative", None, "generator label noise",
                   doc="Label noise of each generator's rows, ``>= 0``."),
    ProcessSetting("mode", "choice", "replace", "generators' data workflow", MODES,
                   doc="Generators' workflow: refit on fresh rows labelled by the previous "
                       "generator\n(replace), or on all rows so far (accumulate; "
                       "least-squares generators with\n``T0 > d + 1``, exact)."),
)
# Their entries in the engines' docstrings (a line ``{process.NAME}``, filled by
# kernelcollapse._util.docs.fill).
PARAMETERS = {setting.name: setting.parameter() for setting in PROCESS if setting.doc}
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
