"""Fault injection: a sweep and a reproduce run killed with SIGKILL at 20 seeded random moments
each, then resumed, end with the files of an uninterrupted run, byte for byte.

A moment is a byte offset in what the run writes, drawn uniformly (seeded) over a whole run: the
child process writes up to it, mid-line if it falls there, and SIGKILLs itself (a real kill:
no handler runs, the OS releases the lock).  The sweeps use stand-in numbers
(sweep_child.fake_simulate) and the figures are quick fake scripts: what is tested is the
writing, the lock and the resume, in processes that start in a fraction of a second.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import sweep_child
from test_sweep import CONFIG

from kernelcollapse import simulator, sweep
from kernelcollapse.reproduce import MANIFEST, reproduce

HERE = Path(__file__).parent
KILLS = 20

# More points than test_sweep's config, so that the kills fall at many places of many points.
BIG = CONFIG.replace("T = [5, 9]", "T = [5, 9, 12]").replace("sigma = 0.5", "sigma = [0.5, 1.0]")


def _moments(seed: int, total: int) -> list[int]:
    return sorted(np.random.default_rng(seed).choice(total, KILLS, replace=False).tolist())


@pytest.mark.parametrize("ext", ["jsonl", "csv"])
def test_sweep_killed_at_20_random_moments_resumes_to_the_same_file(tmp_path, monkeypatch, ext):
    monkeypatch.setattr(simulator, "simulate", sweep_child.fake_simulate)
    path = tmp_path / "c.toml"
    path.write_text(BIG.format(ext=ext))
    config = sweep.load_config(path)
    whole = tmp_path / f"whole.{ext}"
    assert sweep.run_sweep(config, output=whole, progress=False).ran == 12
    want = whole.read_bytes()
    out = tmp_path / f"out.{ext}"
    for moment in _moments(17, len(want)):
        out.unlink(missing_ok=True)
        proc = subprocess.run([sys.executable, str(HERE / "sweep_child.py"), "--kill-at",
                               str(moment), "--", "sweep", str(path), "--no-progress"],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        assert out.stat().st_size == moment  # killed there, mid-write
        s = sweep.run_sweep(config, progress=False)  # resumed (the lock is free again)
        assert s.skipped + s.ran == 12
        assert out.read_bytes() == want, f"killed at byte {moment}"


FIGURE = """
from pathlib import Path
NAME = "{name}"
TITLE = "fake figure {name}"

def run(out_dir, *, size="quick", progress=True):
    out_dir = Path(out_dir)
    rows = "".join(f"{{i}},{{(i * i + {k}) % 97}}\\n" for i in range(150))
    (out_dir / f"{{NAME}}.csv").write_text("x,y\\n" + rows)
    (out_dir / f"{{NAME}}.png").write_bytes(bytes(range(256)) * {k})
    return [out_dir / f"{{NAME}}.csv", out_dir / f"{{NAME}}.png"]
"""


def _snapshot(out: Path) -> dict[str, bytes]:
    """Every file of ``out``; the manifest without its timings (seconds differ per run)."""
    files = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    manifest = json.loads(files.pop(MANIFEST))
    for entry in manifest.values():
        entry.pop("seconds")
    files[MANIFEST] = json.dumps(manifest, sort_keys=True).encode()
    return files


def test_reproduce_killed_at_20_random_moments_resumes_to_the_same_files(tmp_path):
    figs = tmp_path / "figs"
    figs.mkdir()
    for k, name in enumerate(("alpha", "beta", "gamma"), start=1):
        (figs / f"fig0{k}_{name}.py").write_text(textwrap.dedent(FIGURE.format(name=name, k=k)))
    child = [sys.executable, str(HERE / "reproduce_child.py"), str(figs)]
    whole = tmp_path / "whole"
    proc = subprocess.run([*child, str(whole)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    total = int(proc.stdout)
    want = _snapshot(whole)
    assert sorted(want) == ["alpha.csv", "alpha.png", "beta.csv", "beta.png", "gamma.csv",
                            "gamma.png", MANIFEST]
    for i, moment in enumerate(_moments(23, total)):
        out = tmp_path / f"out{i}"
        proc = subprocess.run([*child, str(out), "--kill-at", str(moment)], capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        result = reproduce(out, size="tiny", fig_dir=figs, progress=False,
                           echo=lambda line: None)  # resumed
        assert result.ok and len(result.done) + len(result.skipped) == 3
        assert _snapshot(out) == want, f"killed at byte {moment}"
