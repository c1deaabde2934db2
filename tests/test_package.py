"""Import smoke test and the public surface."""

from __future__ import annotations

import numpy as np
import pytest

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


# Layers, top to bottom: cli; reproduce; figures; sweep; the core (everything else).  A module
# may import from its own layer and the ones below, never from a layer above.
_LAYERS = {"cli": 4, "__main__": 4, "reproduce": 3, "figures": 2, "sweep": 1,
           "_cluster": 1}  # the sweep's cluster runs (imports the sweep's own helpers)


def _layer(module: str) -> int:
    parts = module.split(".")
    return _LAYERS.get(parts[1], 0) if len(parts) > 1 and parts[0] == "kernelcollapse" else 0


def test_nothing_imports_upward():
    import ast
    from pathlib import Path

    root = Path(kc.__file__).parent
    bad = []
    for path in root.rglob("*.py"):
        name = ".".join(("kernelcollapse",) + path.relative_to(root).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):  # function-level imports included
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for target in targets:
                if _layer(target) > _layer(name):
                    bad.append(f"{name} imports {target}")
    assert not bad, bad


def test_number_lists():
    from kernelcollapse._parse import int_list, number_list

    np.testing.assert_allclose(number_list("0.1, 1,10"), [0.1, 1.0, 10.0])
    np.testing.assert_allclose(number_list("log:1e-2:1:3"), [1e-2, 1e-1, 1.0])
    np.testing.assert_allclose(number_list("lin:0:1:3"), [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(int_list("1,2,5"), [1, 2, 5])
    for bad, parse in (("log:0:1:3", number_list), ("a,b", number_list), ("1.5", int_list)):
        with pytest.raises(ValueError, match="expected"):
            parse(bad)


PUBLIC_MODULES = ["theory", "simulator", "sweep", "scaling", "optimize", "tuning", "estimator",
                  "datasets", "kernels", "realdata", "figures", "reproduce", "problems", "cli",
                  "zoo", "zoo.discrete", "zoo.gaussian", "zoo.gmm"]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_modules_declare_and_annotate_their_api(name):
    """``__all__`` lists existing names, and every public function annotates its parameters and
    its return type."""
    import importlib
    import inspect

    module = importlib.import_module(f"kernelcollapse.{name}")
    assert module.__all__, name
    missing = []
    for attr in module.__all__:
        obj = getattr(module, attr)
        if not inspect.isfunction(obj):
            continue
        sig = inspect.signature(obj)
        missing += [f"{attr}({p})" for p in sig.parameters
                    if sig.parameters[p].annotation is inspect.Parameter.empty]
        if sig.return_annotation is inspect.Signature.empty:
            missing.append(f"{attr} -> ?")
    assert not missing, missing


def test_figure_modules_declare_their_api():
    from kernelcollapse.reproduce import discover, load

    for script in discover():
        module = load(script)
        assert set(module.__all__) >= {"NAME", "TITLE", "run"}, script.stem
