"""Import smoke test and the public surface."""

from __future__ import annotations

import numpy as np

import kernelcollapse as kc


def test_public_names_resolve():
    for name in kc.__all__:
        assert getattr(kc, name) is not None, name
    assert callable(kc.simulate) and callable(kc.test_error)
    assert kc.zoo.__name__ == "kernelcollapse.zoo"


def test_theory_and_simulator_results_are_float64():
    s, w0 = kc.isotropic(10)
    th = kc.test_error(s, w0, T=30, T0=40, n=1, lam=0.1, sigma=0.5, sigma0=1.0)
    sim = kc.simulate(s, w0, T=30, T0=40, n=1, lam=0.1, sigma=0.5, sigma0=1.0, seeds=4)
    assert np.asarray(th.total).dtype == np.float64
    assert np.asarray(sim.mean).dtype == np.float64
    assert np.asarray(sim.errors).dtype == np.float64


def test_cli_help_lists_commands(capsys):
    from kernelcollapse.cli import build_parser

    text = build_parser().format_help()
    for cmd in ("theory", "simulate", "reproduce", "exponent", "tune", "zoo"):
        assert cmd in text
