"""The package's house: dependencies between subpackages run one way, no module imports itself
round a cycle, and no subpackage takes a private name from another.

The imports are read from the source (those inside functions too, which a runtime check would
miss), so a cycle hidden by a function-level import fails here.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "kernelcollapse"

# Each unit (a subpackage, or a module directly under kernelcollapse/) may import only units of
# a lower layer: utilities <- theory <- simulator, tuning <- sweep, figures, CLI, benchmarks.
# The package's own __init__ is the public API (``kernelcollapse.test_error``), a layer above
# the engines it re-exports; the CLI and the figures may use it.
LAYERS = {
    "exceptions": 0,
    "_util": 1,
    "theory": 2, "kernels": 2, "datasets": 2,
    "simulator": 3, "tuning": 3, "zoo": 3,
    "realdata": 4, "estimator": 4, "sweep": 4,
    "": 5,  # kernelcollapse/__init__.py: the public API
    "bench": 6,
    "figures": 7,  # the practitioner figure draws the practitioner benchmark
    "reproduce": 8,
    "cli": 9, "__main__": 10,
}
SHARED = {"_util"}  # internals every subpackage may use: no domain knowledge, no private API
# The benchmarks time the engines' internals and record their settings: the simulator's engine
# (until its options are one public object) and the zoo's networks and training programs.
BENCH_READS = {"kernelcollapse.simulator._engine", "kernelcollapse.zoo._nn",
               "kernelcollapse.zoo._transformer", "kernelcollapse.zoo.vae", "kernelcollapse.zoo.lm"}


def module_name(path: Path) -> str:
    parts = ("kernelcollapse",) + path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports(module: str):
    """(target module, imported name or None, line) for every import of kernelcollapse."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "kernelcollapse":
                    yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "kernelcollapse":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in MODULES:  # ``from package import submodule``
                    yield sub, None, node.lineno
                else:
                    yield target, alias.name, node.lineno


def edges():
    for module in MODULES:
        for target, name, line in imports(module):
            yield module, target, name, line


def test_the_modules_are_found():
    assert {"kernelcollapse.theory._prepared", "kernelcollapse.simulator._plan",
            "kernelcollapse.tuning._recommend", "kernelcollapse.cli"} <= set(MODULES)
    assert {unit(m) for m in MODULES} <= set(LAYERS), "a new unit needs its layer here"


def test_dependencies_run_one_way():
    wrong = []
    for module, target, _, line in edges():
        a, b = unit(module), unit(target)
        if a != b and LAYERS[b] >= LAYERS[a]:
            wrong.append(f"{module}:{line} imports {target} ({a or 'kernelcollapse'} -> "
                         f"{b or 'kernelcollapse'})")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle_between_modules():
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, target, _, _ in edges():
        if target in MODULES and target != module:
            graph[module].add(target)
    # Tarjan's strongly connected components: any component of two or more modules is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_no_private_name_from_another_subpackage():
    wrong = []
    for module, target, name, line in edges():
        a, b = unit(module), unit(target)
        if a == b or b in SHARED:
            continue
        if a == "bench" and target in BENCH_READS:
            continue
        private_module = any(part.startswith("_") for part in target.split(".")[1:])
        private_name = name is not None and name.startswith("_") and not (
            name.startswith("__") and name.endswith("__"))
        if private_module or private_name:
            wrong.append(f"{module}:{line} takes {target}{'.' + name if name else ''}")
    wrong += private_attributes()
    assert not wrong, "\n".join(wrong)


def private_attributes() -> list[str]:
    """``alias._name`` where ``alias`` is a module of another unit bound by an import (the
    import itself is public, the attribute is not)."""
    found = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        bound = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    if sub in MODULES:
                        bound[alias.asname or alias.name] = sub
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname and alias.name in MODULES:
                        bound[alias.asname] = alias.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in bound and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                target = bound[node.value.id]
                if unit(target) not in (unit(module), *SHARED) and not (
                        unit(module) == "bench" and target in BENCH_READS):
                    found.append(f"{module}:{node.lineno} takes {target}.{node.attr}")
    return found


@pytest.mark.parametrize("package", ["theory", "simulator", "tuning", "sweep", "datasets"])
def test_each_public_name_resolves_and_is_listed_once(package):
    mod = importlib.import_module(f"kernelcollapse.{package}")
    assert len(mod.__all__) == len(set(mod.__all__))
    for name in mod.__all__:
        assert not name.startswith("_")
        getattr(mod, name)


def test_the_check_fails_on_a_private_import(tmp_path, monkeypatch):
    """The checks can fail: a module importing a private name of another subpackage is found."""
    fake = ROOT / "cli" / "_architecture_probe.py"
    monkeypatch.setitem(MODULES, "kernelcollapse.cli._architecture_probe", fake)
    source = "from kernelcollapse.theory._prepared import _out\nfrom kernelcollapse import cli\n"
    real_read = Path.read_text

    def read(self, *args, **kwargs):
        return source if self == fake else real_read(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read)
    with pytest.raises(AssertionError, match="takes kernelcollapse.theory._prepared._out"):
        test_no_private_name_from_another_subpackage()
    theory = "kernelcollapse.theory._formulas"
    monkeypatch.setitem(MODULES, theory, fake)  # _formulas now "imports" the CLI
    with pytest.raises(AssertionError, match="theory -> cli"):
        test_dependencies_run_one_way()
