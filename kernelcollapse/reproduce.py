"""Run the paper figures (``kernelcollapse.figures.figNN_name``), resumably.

Each figure module follows the conventions of :mod:`kernelcollapse.figures` (``NAME``, ``TITLE``,
``run(out_dir, *, size, progress) -> list[Path]``).  By default :func:`reproduce` runs the
figures shipped inside the package (so an installed package reproduces them from any
directory); ``fig_dir`` runs the ``fig*.py`` scripts of a directory instead, imported by path.
It records in ``<out_dir>/manifest.json`` the size and the files of each finished figure, so
that an interrupted run resumes without redoing finished figures (a figure is skipped when its
manifest entry has the same size and its PNG and CSV exist, unless ``force``).  A figure that
raises :class:`FileNotFoundError` (MNIST not available) is reported with instructions to get
the data; any other exception is reported and the run goes on; the caller decides the exit
status from :class:`ReproduceResult`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

from kernelcollapse._util import validate as v
from kernelcollapse.figures import check_size

__all__ = ["FigureScript", "ReproduceInterrupted", "ReproduceResult", "data_help", "discover",
           "find_figure_dir", "is_done", "load", "read_manifest", "reproduce"]

MANIFEST = "manifest.json"
FIGURE_GLOB = "fig*.py"


class FigureScript(NamedTuple):
    """One discovered figure: its stem (``figNN_name``) and either the file of a script
    (``path``) or the module inside the package (``path`` is ``None``)."""

    stem: str
    path: Path | None


class ReproduceResult(NamedTuple):
    """Outcome of :func:`reproduce`: names of the figures in each state, in run order.

    ``failed`` maps a name to its one-line error; ``missing_data`` to the
    FileNotFoundError message.  ``files`` maps each produced or skipped name to its paths.
    """

    done: list[str]
    skipped: list[str]
    missing_data: dict[str, str]
    failed: dict[str, str]
    files: dict[str, list[Path]]

    @property
    def ok(self) -> bool:
        return not self.failed


class ReproduceInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`reproduce`: ``result`` holds the figures finished so far (saved,
    in the manifest), ``current`` the figure that was running (not saved, redone next time)."""

    def __init__(self, result: ReproduceResult, current: str | None, out_dir: Path):
        saved = len(result.done) + len(result.skipped)
        running = f"; figure {current} was running and is not saved" if current else ""
        super().__init__(f"{saved} figure{'' if saved == 1 else 's'} saved in {out_dir} "
                         f"({MANIFEST}){running}")
        self.result, self.current, self.out_dir = result, current, out_dir


def data_help() -> str:
    """How to make MNIST and the WikiText-2 sample available (printed when a figure cannot
    find its data)."""
    from kernelcollapse import datasets

    files = ", ".join(datasets.FILES["test"])
    return (f"Set {datasets.ENV_VAR} to a data directory DIR: DIR/mnist/ holds the MNIST IDX "
            f"files ({files}; the training-set files too for the full set) and "
            f"DIR/wikitext2/ the language model's {datasets.WIKITEXT2_FILE}. Without them MNIST "
            "is downloaded and checksummed into the cache when the network can be reached; "
            f"{datasets.WIKITEXT2_ENV_VAR} names a folder holding {datasets.WIKITEXT2_FILE} "
            f"itself and overrides {datasets.ENV_VAR} for it.")


def find_figure_dir(fig_dir: str | Path) -> Path:
    """``fig_dir`` as a directory of figure scripts.

    Raises
    ------
    FileNotFoundError
        ``fig_dir`` is not a directory.
    """
    cand = Path(fig_dir)
    if not cand.is_dir():
        raise FileNotFoundError(f"figure directory {cand} not found (the figures shipped with "
                                "the package run without one)")
    return cand


def discover(fig_dir: Path | None = None) -> list[FigureScript]:
    """The figures, sorted by stem: the package's modules ``kernelcollapse.figures.fig*``, or
    the scripts ``fig*.py`` of ``fig_dir``."""
    if fig_dir is None:
        import pkgutil

        from kernelcollapse import figures

        stems = sorted(m.name for m in pkgutil.iter_modules(figures.__path__)
                       if m.name.startswith("fig") and not m.ispkg)
        return [FigureScript(stem, None) for stem in stems]
    return [FigureScript(p.stem, p) for p in sorted(Path(fig_dir).glob(FIGURE_GLOB))
            if p.is_file()]


def load(script: FigureScript) -> ModuleType:
    """Import a figure: the package module, or a script by path (a fresh module each call)."""
    if script.path is None:
        module = importlib.import_module(f"kernelcollapse.figures.{script.stem}")
    else:
        spec = importlib.util.spec_from_file_location(f"kernelcollapse_figure_{script.stem}",
                                                      script.path)
        if spec is None or spec.loader is None:  # pragma: no cover - glob only yields .py
            raise ImportError(f"cannot import {script.path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    for attr in ("NAME", "run"):
        if not hasattr(module, attr):
            raise AttributeError(f"{script.path or module.__name__} defines no {attr} (see "
                                 "kernelcollapse.figures)")
    return module


def _name_of(script: FigureScript) -> str:
    """Fallback name (the stem without ``figNN_``) for a script that fails to import."""
    return script.stem.split("_", 1)[1] if "_" in script.stem else script.stem


def read_manifest(out_dir: Path) -> dict:
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):  # a corrupt manifest only costs a recomputation
        return {}
    return data if isinstance(data, dict) else {}


def _write_manifest(out_dir: Path, manifest: dict) -> None:
    path = Path(out_dir) / MANIFEST
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    tmp.replace(path)  # atomic: an interrupted run never leaves a half-written manifest


def is_done(manifest: dict, name: str, out_dir: Path, size: str) -> bool:
    """A figure is done when recorded at ``size`` and its PNG, CSV and files all exist."""
    entry = manifest.get(name)
    if not isinstance(entry, dict) or entry.get("size") != size:
        return False
    files = [Path(out_dir) / f for f in entry.get("files", [])]
    wanted = [Path(out_dir) / f"{name}.png", Path(out_dir) / f"{name}.csv"]
    return all(f.is_file() for f in files + wanted)


def _matches(only: Sequence[str], script: FigureScript, name: str) -> bool:
    keys = {name, script.stem, script.stem.split("_", 1)[0]}
    return any(o in keys for o in only)


def reproduce(out_dir: str | os.PathLike, *, size: str = "quick",
              only: Sequence[str] | None = None, force: bool = False, progress: bool = True,
              fig_dir: str | os.PathLike | None = None,
              echo: Callable[[str], None] = print) -> ReproduceResult:
    """Run the figure scripts into ``out_dir``, skipping those already done at this size.

    Parameters
    ----------
    out_dir : path
        Output directory (created); holds ``NAME.png``, ``NAME.csv`` and ``manifest.json``.
    size : {"tiny", "quick", "full"}
        Passed to each script's ``run``.
    only : sequence of str, optional
        Run only these figures, each given by ``NAME`` (e.g. ``mnist``), file stem
        (``fig08_mnist``) or prefix (``fig08``).
    force : bool
        Recompute figures even when done.
    progress : bool
        Passed to the scripts (tqdm bars).
    fig_dir : path, optional
        A directory of figure scripts ``fig*.py`` to run instead of the package's figures.
    echo : callable
        Where the progress lines go.

    Returns
    -------
    ReproduceResult

    Raises
    ------
    ValueError
        ``size`` invalid, an ``only`` entry that matches no figure (the message lists them),
        or ``out_dir`` a file (or below one).
    FileNotFoundError
        ``fig_dir`` given but not a directory.
    ReproduceInterrupted
        Ctrl-C (a KeyboardInterrupt), saying which figures are saved.
    """
    size = check_size(size)
    out_dir = v.directory_path("out_dir (--out)", out_dir)
    scripts = discover(None if fig_dir is None else find_figure_dir(fig_dir))
    if not scripts:
        raise FileNotFoundError(f"no figure scripts {FIGURE_GLOB} in {fig_dir}")
    modules: dict[str, object] = {}
    load_errors: dict[str, str] = {}
    names: dict[str, str] = {}
    for script in scripts:
        try:
            modules[script.stem] = load(script)
            names[script.stem] = str(modules[script.stem].NAME)
        except Exception as exc:  # a broken script must not stop the others
            names[script.stem] = _name_of(script)
            load_errors[script.stem] = f"{type(exc).__name__}: {exc}"
    if only:
        only = [o.strip() for item in only for o in str(item).split(",") if o.strip()]
        unknown = [o for o in only
                   if not any(_matches([o], s, names[s.stem]) for s in scripts)]
        if unknown:
            avail = ", ".join(f"{names[s.stem]} ({s.stem})" for s in scripts)
            raise ValueError(f"--only {', '.join(unknown)} matches no figure; available: {avail}")
        scripts = [s for s in scripts if _matches(only, s, names[s.stem])]

    out_dir.mkdir(parents=True, exist_ok=True)
    result = ReproduceResult([], [], {}, {}, {})
    current = None
    try:
        for i, script in enumerate(scripts, 1):
            current = names[script.stem]
            _run_one(i, len(scripts), script, names[script.stem], modules.get(script.stem),
                     load_errors.get(script.stem), out_dir, size=size, force=force,
                     progress=progress, echo=echo, result=result)
            current = None
    except KeyboardInterrupt:
        raise ReproduceInterrupted(result, current, out_dir) from None
    return result


def _run_one(i: int, total: int, script: FigureScript, name: str, module, load_error,
             out_dir: Path, *, size: str, force: bool, progress: bool,
             echo: Callable[[str], None], result: ReproduceResult) -> None:
    """Run (or skip) one figure, recording it in ``result`` and the manifest."""
    head = f"[{i}/{total}] {name}"
    if load_error is not None:
        result.failed[name] = load_error
        echo(f"{head}: FAILED to import {script.path or script.stem}: {load_error}")
        return
    manifest = read_manifest(out_dir)
    if not force and is_done(manifest, name, out_dir, size):
        files = [out_dir / f for f in manifest[name]["files"]]
        result.skipped.append(name)
        result.files[name] = files
        echo(f"{head}: already done at size {size}, skipped (--force to redo): "
             + ", ".join(str(f) for f in files))
        return
    echo(f"{head}: {getattr(module, 'TITLE', '')} (size {size}) ...")
    start = time.perf_counter()
    try:
        files = [Path(f) for f in module.run(out_dir, size=size, progress=progress)]
    except FileNotFoundError as exc:
        result.missing_data[name] = str(exc)
        echo(f"{head}: SKIPPED, data not found: {exc}")
        echo(f"    {data_help()}")
        return
    except Exception as exc:  # report, go on with the other figures
        result.failed[name] = f"{type(exc).__name__}: {exc}"
        echo(f"{head}: FAILED: {type(exc).__name__}: {exc}")
        echo("".join(traceback.format_exception(exc)).rstrip())
        return
    seconds = time.perf_counter() - start
    manifest = read_manifest(out_dir)
    manifest[name] = {"size": size, "stem": script.stem, "seconds": round(seconds, 2),
                      "files": [_relative(f, out_dir) for f in files]}
    _write_manifest(out_dir, manifest)
    result.done.append(name)
    result.files[name] = files
    echo(f"{head}: done in {seconds:.1f} s: " + ", ".join(str(f) for f in files))


def _relative(path: Path, out_dir: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path(out_dir).resolve()))
    except ValueError:
        return str(path)
