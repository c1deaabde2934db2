"""The check of a formula against the simulator, shared by the test modules:
``|simulation mean - theory| <= k * stderr + allow * theory`` at every point, where each module
states why its ``k`` and ``allow`` (the finite-size allowance) are what they are."""

from __future__ import annotations

import numpy as np


def check_against_theory(sim, th, *, k: float, allow: float) -> None:
    th = np.asarray(th)
    dev = np.abs(sim.mean - th)
    tol = k * sim.stderr + allow * th
    assert np.all(dev <= tol), (
        f"simulation {sim.mean} vs theory {th}: |dev|/theory = {dev / th}, "
        f"stderr/theory = {sim.stderr / th}")
