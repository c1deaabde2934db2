"""Resumable sweeps of :func:`kernelcollapse.simulate` over a grid of settings (a TOML config),
into a strict results file (JSON lines or CSV) under a lock.

See :func:`run_sweep` for the config format, and :func:`example_config` for the commented
example shipped with the package.  On a cluster, :func:`submit_sweep` runs the pending points
as a job array through submitit and :func:`merge_shards` merges their shards into the same
results file.
"""

from __future__ import annotations

from kernelcollapse.sweep._cluster import (
    ClusterError,
    ClusterInterrupted,
    ClusterSummary,
    TasksFailed,
    merge_shards,
    shards_dir,
    submit_sweep,
)
from kernelcollapse.sweep._options import EXECUTORS, check_options
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

__all__ = ["EXECUTORS", "ClusterError", "ClusterInterrupted", "ClusterSummary",
           "FileInUseError", "ResultsFileError", "SweepInterrupted", "SweepSummary",
           "TasksFailed", "check_options", "check_points", "example_config", "load_config",
           "merge_shards", "point_id", "points", "read_results", "run_point", "run_sweep",
           "shards_dir", "submit_sweep"]
