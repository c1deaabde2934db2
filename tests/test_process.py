"""The process is declared once (kernelcollapse.theory.PROCESS): every engine takes every
setting under the table's name, with the table's default, and refuses a bad value alike."""

from __future__ import annotations

import argparse
import inspect

import pytest

import kernelcollapse as kc
from kernelcollapse.theory import PROCESS, check_process

ENGINES = {
    "test_error": kc.test_error,
    "PreparedProblem.test_error": kc.PreparedProblem.test_error,
    "PreparedProblem.evaluator": kc.PreparedProblem.evaluator,
    "simulate": kc.simulate,
    "check_simulation": kc.simulator.check_simulation,
}
# The optimizers search lam (and the weight); they take every other setting.
SEARCHES = {"optimal_lambda": (kc.optimal_lambda, {"lam"}),
            "optimal_weight": (kc.optimal_weight, {"lam", "weight"})}


@pytest.mark.parametrize("name", list(ENGINES) + list(SEARCHES))
def test_every_engine_takes_every_setting_with_its_default(name):
    fn, searched = SEARCHES.get(name, (ENGINES.get(name), set()))
    params = inspect.signature(fn).parameters
    for setting in PROCESS:
        if setting.name in searched:
            assert setting.name not in params, (name, setting.name)
            continue
        assert setting.name in params, f"{name} lacks {setting.name}"
        default = params[setting.name].default
        if setting.default is None:
            assert default is inspect.Parameter.empty, (name, setting.name)
        elif not (name == "optimal_weight" and setting.name == "p"):  # p is what it is about
            assert default == setting.default, (name, setting.name, default)


def test_the_sweep_and_the_command_line_know_every_setting():
    from kernelcollapse.cli import build_parser
    from kernelcollapse.sweep import _run

    for setting in PROCESS:
        assert setting.name in _run.POINT_PARAMS + _run.OPTIONAL_PARAMS + ("n", "lam")
        assert setting.name in (_run._CHOICES if setting.kind == "choice" else _run._CHECKS)
    text = build_parser().parse_args(["theory"])
    for setting in PROCESS:
        assert hasattr(text, setting.name), setting.name


def test_tune_takes_the_process_settings_from_the_table():
    """``tune`` describes one process: every setting but the two it searches (``lam`` and
    ``weight``) is an option with the table's meaning, type and (where tune has none of its own:
    the generators') default."""
    from kernelcollapse.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    options = {a.dest: a for a in sub.choices["tune"]._actions}
    for setting in PROCESS:
        if setting.name in ("lam", "weight"):
            assert setting.name not in options
            continue
        opt = options[setting.name]
        assert opt.help.startswith(setting.help), (setting.name, opt.help)
        if setting.kind == "choice":
            assert tuple(opt.choices) == setting.choices
        else:
            assert opt.type is (int if setting.kind == "count" else float), setting.name
        if setting.name in ("lam0", "fresh", "mode"):
            assert opt.default == setting.default, setting.name


@pytest.mark.parametrize("setting", PROCESS, ids=lambda s: s.name)
def test_theory_and_simulator_refuse_a_bad_value_alike(setting):
    s, w0 = kc.isotropic(4)
    args = dict(T=10, T0=12, n=1, lam=0.1, sigma=0.1, sigma0=0.1)
    bad = {"size": 0, "count": -1, "nonnegative": -1.0, "fraction": 1.5, "choice": "swap"}
    args[setting.name] = bad[setting.kind]
    with pytest.raises(ValueError) as theory:
        kc.test_error(s, w0, **args)
    with pytest.raises(ValueError) as simulator:
        kc.simulator.check_simulation(s, w0, seeds=2, **args)
    assert setting.name in str(theory.value)
    if setting.kind != "size":  # the simulator draws rows: sizes are integers there
        assert str(theory.value) == str(simulator.value)
    with pytest.raises(ValueError):
        check_process({setting.name: bad[setting.kind]})


@pytest.mark.parametrize("engine", [kc.test_error, kc.simulate], ids=["test_error", "simulate"])
def test_the_engines_document_the_settings_with_the_tables_entries(engine):
    """One description per setting: the theory's and the simulator's docstrings carry the
    table's numpydoc entries as they are, and no placeholder is left."""
    from kernelcollapse.theory import PARAMETERS

    doc = engine.__doc__
    assert "{process." not in doc
    for name, entry in PARAMETERS.items():
        head, *body = entry.splitlines()
        block = "\n".join(["    " + head] + ["        " + line for line in body])
        assert block in doc, (engine.__name__, name)


def test_a_placeholder_without_an_entry_is_refused():
    from kernelcollapse._util.docs import fill

    assert fill(None, {}) is None
    filled = fill("x\n    {process.a}\n", {"a": "a : int\nAn a."})
    assert filled == "x\n    a : int\n        An a.\n"
    both = fill("    {process.a,b}\n", {"a": "a : int\nAn a.", "b": "b : str\nA b."})
    assert both == "    a : int\n        An a.\n    b : str\n        A b.\n"
    with pytest.raises(KeyError, match="'b'"):
        fill("    {process.b}", {"a": "a : int"})
