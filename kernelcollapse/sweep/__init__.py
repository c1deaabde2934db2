"""Resumable sweeps of :func:`kernelcollapse.simulate` over a grid of settings (a TOML config),
into a strict results file (JSON lines or CSV) under a lock.

See :func:`run_sweep` for the config format, and :func:`example_config` for the commented
example shipped with the package.
"""

from __future__ import annotations

from kernelcollapse.sweep._run import (
    FileInUseError,
    ResultsFileError,
    SweepInterrupted,
    SweepSummary,
    check_points,
    example_config,
    load_config,
    point_id,
    points,
    read_results,
    run_point,
    run_sweep,
)

__all__ = ["FileInUseError", "ResultsFileError", "SweepInterrupted", "SweepSummary",
           "check_points", "example_config", "load_config", "point_id", "points", "read_results",
           "run_point", "run_sweep"]
