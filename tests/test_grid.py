"""One grid convention: the same arguments give the same output shape from the theory, the
simulator and the optimiser (numpy broadcasting), and bad shapes are named."""

from __future__ import annotations

import numpy as np
import pytest

import kernelcollapse as kc

S, W = kc.power_law(12, 1.5, 0.5)
BASE = dict(T=30, T0=40, n=1, lam=0.1, sigma=0.5, sigma0=0.5)

# (arguments, expected broadcast shape)
TABLE = [
    (dict(), ()),
    (dict(n=[0, 1, 2]), (3,)),
    (dict(n=[0, 1], lam=[0.1, 0.2]), (2,)),  # two points, not a 2 x 2 grid
    (dict(n=[[0], [1], [2]], lam=[0.1, 0.2]), (3, 2)),
    (dict(T=[[20], [30]], n=[0, 2], lam=[[[0.1]], [[0.3]]]), (2, 2, 2)),
    (dict(T0=[40, 60], lam0=[[0.0], [0.05]], p=0.5), (2, 2)),
    (dict(p=[0.25, 0.5, 1.0], weight=[[1.0], [0.5]]), (2, 3)),
    (dict(fresh=[0.0, 0.5], sigma=[[0.1], [0.5], [1.0]]), (3, 2)),
    (dict(sigma0=np.array([0.1, 0.2, 0.3, 0.4]).reshape(2, 2), n=[1, 3]), (2, 2)),
]


@pytest.mark.parametrize("kw, shape", TABLE)
def test_theory_simulation_and_optimiser_agree_on_shapes(kw, shape):
    args = {**BASE, **kw}
    th = kc.test_error(S, W, **args)
    sim = kc.simulate(S, W, seeds=2, key=0, **args)
    assert np.shape(th.total) == shape
    assert np.shape(sim.mean) == shape and sim.errors.shape == shape + (2,)
    # the optimiser searches lam, so its grid is the broadcast of the other arguments
    search = {k: v for k, v in args.items() if k != "lam"}
    search_shape = np.broadcast_shapes(*(np.shape(v) for v in search.values()))
    assert np.shape(kc.optimal_lambda(S, W, **search).lam) == search_shape
    # the prepared problem follows the same convention
    assert np.shape(kc.prepare(S, W).test_error(**args).total) == shape


def test_grid_points_equal_single_calls():
    """A point of a grid is the call with its scalars: theory to rounding, simulation draw for draw
    (a seed's draws do not depend on the rest of the grid)."""
    args = {**BASE, "n": [[0], [2]], "lam": [0.05, 0.2], "T": [[[20]], [[30]]]}
    th = kc.test_error(S, W, **args).total
    sim = kc.simulate(S, W, seeds=3, key=4, **args).errors
    for i, T in enumerate((20, 30)):
        for j, n in enumerate((0, 2)):
            for k, lam in enumerate((0.05, 0.2)):
                one = {**BASE, "T": T, "n": n, "lam": lam}
                assert th[i, j, k] == pytest.approx(float(kc.test_error(S, W, **one).total),
                                                    rel=1e-13)
                # Same draws; the downstream solves of a batch of lam sum in another order,
                # so equal to rounding (1e-15), far below any change of draw (1e-2).
                np.testing.assert_allclose(sim[i, j, k],
                                           kc.simulate(S, W, seeds=3, key=4, **one).errors,
                                           rtol=1e-12)


@pytest.mark.parametrize("T0", [40, 8])  # generators fitted by their law / on drawn rows
def test_a_grid_of_p_is_the_calls_one_p_at_a_time(T0):
    """Points with no synthetic row (p = 0) share their generator chain with points that use
    it: the chain must not label their rows (it once did, in the Wishart downstream)."""
    args = {**BASE, "T0": T0, "n": 2, "p": [0.0, 0.5, 1.0]}
    sim = kc.simulate(S, W, seeds=3, key=4, **args).errors
    for i, p in enumerate(args["p"]):
        one = kc.simulate(S, W, seeds=3, key=4, **{**args, "p": p}).errors
        np.testing.assert_allclose(sim[i], one, rtol=1e-12)  # the same draws, see above


@pytest.mark.parametrize("fn", ["test_error", "simulate", "optimal_lambda"])
def test_bad_shapes_name_the_arguments(fn):
    args = {**BASE, "n": [0, 1, 2], "T": [20, 30]}
    if fn == "optimal_lambda":
        args.pop("lam")
    extra = dict(seeds=2) if fn == "simulate" else {}
    with pytest.raises(ValueError, match=r"broadcast together.*T \(2,\), n \(3,\)"):
        getattr(kc, fn)(S, W, **args, **extra)
