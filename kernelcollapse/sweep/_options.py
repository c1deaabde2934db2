"""The options of a cluster sweep (the config's ``[executor]`` table, the CLI's ``--slurm-*``),
checked by the sweep when it reads a config and by :func:`kernelcollapse.sweep.submit_sweep`."""

from __future__ import annotations

from collections.abc import Callable

from kernelcollapse._util import validate as v

EXECUTORS = ("local", "slurm", "debug")
INSTALL = "pip install 'kernelcollapse[cluster]'"
# The [executor] table (and the CLI's --slurm-* options): what each key is, for the messages.
OPTIONS = {
    "partition": "the Slurm partition (a name)",
    "time": "each task's time limit in minutes (an integer >= 1)",
    "mem": "each task's memory in GB (a number > 0)",
    "array_parallelism": "how many tasks run at once (an integer >= 1)",
    "gpus": "GPUs per task (an integer >= 0)",
    "cpus": "CPU cores per task (an integer >= 1)",
}


def check_options(options: dict, *, name: Callable[[str], str] = lambda k: f"executor.{k}"
                  ) -> dict:
    """The executor options (an ``[executor]`` table, or ``options=`` of :func:`submit_sweep`)
    checked: keys from :data:`OPTIONS`; ``name(key)`` is how a message calls the key.

    Raises
    ------
    ValueError, TypeError
        An unknown key, or a value out of its range (naming the key, the value and the range).
    """
    if not isinstance(options, dict):
        raise TypeError(f"{name('')[:-1] or 'executor'} must be a table of options "
                        f"({', '.join(OPTIONS)}), got {options!r}")
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(f"unknown executor options {unknown}; allowed: {list(OPTIONS)}")
    out = {}
    for key, value in options.items():
        if value is None:
            continue
        label = name(key)
        if key == "partition":
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{label} must be {OPTIONS[key]}, got {value!r}")
            out[key] = value
        elif key == "mem":
            out[key] = v.scalar(label, value, check=v.positive)
        else:
            out[key] = v.integer(label, value, minimum=0 if key == "gpus" else 1)
    return out
