"""The simulator: Monte-Carlo runs of the collapse process in JAX, the judge of every formula.

:func:`simulate` draws generator chains and downstream ridge fits seed by seed (counter-based
keys: results do not depend on chunking, threads or devices) and returns float64 means and
standard errors (:class:`SimulationResult`); :func:`check_simulation` plans the same call
without running it (:class:`MemoryEstimate`), refusing exactly what :func:`simulate` refuses.
A plain numpy reference runs with ``backend="numpy"``.  The engine's choices (backend, sampler,
memory budget, threads, lanes, downstream solver, devices, compilation cache) are one
object, :class:`Engine`, passed as ``engine=``.
"""

from __future__ import annotations

from kernelcollapse.simulator._api import (
    BACKENDS,
    SAMPLERS,
    Engine,
    MemoryEstimate,
    SimulationResult,
    check_simulation,
    simulate,
)

__all__ = ["BACKENDS", "SAMPLERS", "Engine", "MemoryEstimate", "SimulationResult",
           "check_simulation", "simulate"]
