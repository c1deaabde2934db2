"""Ctrl-C in the command line: one line on what is saved and how to resume, exit status 130,
no traceback; for ``sweep`` and ``reproduce`` also with a real SIGINT in a process of its own."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sweep_child
from test_sweep import CONFIG

from kernelcollapse import simulator, sweep
from kernelcollapse.cli import EXIT_INTERRUPTED, main

CHILD = Path(__file__).with_name("sweep_child.py")


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_sweep(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(simulator, "simulate", sweep_child.fake_simulate)
    calls = []
    real = sweep.run_point

    def run_point(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep, "run_point", run_point)
    path = tmp_path / "c.toml"
    path.write_text(CONFIG.format(ext="jsonl"))
    assert main(["sweep", str(path), "--no-progress"]) == EXIT_INTERRUPTED
    line = _one_line(capsys.readouterr().err)
    assert line == (f"kernelcollapse sweep: interrupted; 1 of 4 points saved in "
                    f"{tmp_path / 'out.jsonl'}; the point that was running is redone; run the "
                    "same command again to resume")


FIGURE = """
NAME = "{name}"
TITLE = "{name}"

def run(out_dir, *, size="quick", progress=True):
    from pathlib import Path
    {body}
    for ext in ("csv", "png"):
        (Path(out_dir) / f"{name}.{{ext}}").write_text(ext)
    return [Path(out_dir) / f"{name}.{{ext}}" for ext in ("csv", "png")]
"""


def _figures(tmp_path, body_b="pass"):
    d = tmp_path / "figs"
    d.mkdir()
    for stem, body in (("fig01_alpha", "pass"), ("fig02_beta", body_b)):
        name = stem.split("_")[1]
        (d / f"{stem}.py").write_text(textwrap.dedent(FIGURE.format(name=name, body=body)))
    return d


def test_reproduce(tmp_path, capsys):
    figs = _figures(tmp_path, body_b="raise KeyboardInterrupt")
    out = tmp_path / "out"
    assert main(["reproduce", "--figures-dir", str(figs), "--out", str(out),
                 "--no-progress"]) == EXIT_INTERRUPTED
    line = _one_line(capsys.readouterr().err)
    assert line == (f"kernelcollapse reproduce: interrupted; 1 figure saved in {out} "
                    "(manifest.json); figure beta was running and is not saved; run the same "
                    "command again to resume (saved figures are skipped)")


@pytest.mark.parametrize("argv, target, expected", [
    (["simulate", "--d", "6", "--seeds", "3"], "kernelcollapse.simulator.simulate",
     "nothing was saved (results are printed at the end); run the command again"),
    (["theory", "--d", "6"], "kernelcollapse.theory.test_error",
     "nothing was saved (results are printed at the end); run the command again"),
    (["zoo", "discrete", "--no-progress"], "kernelcollapse.zoo.discrete.simulate_discrete",
     "nothing was saved (results are printed at the end); run the command again"),
    (["bench", "--quick", "--out", "bench-out"], "kernelcollapse.bench.run_benchmarks",
     "the parts finished so far are saved in the results JSON in bench-out; a new run starts "
     "over"),
])
def test_commands_that_print_at_the_end(monkeypatch, capsys, argv, target, expected):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(target, interrupted)
    assert main(argv) == EXIT_INTERRUPTED
    line = _one_line(capsys.readouterr().err)
    assert line == f"kernelcollapse {argv[0]}: interrupted; {expected}"


def _run_until(proc, predicate, what):
    deadline = time.monotonic() + 60
    while not predicate():
        assert proc.poll() is None, f"ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_real_sigint_during_a_sweep_then_resume(tmp_path, monkeypatch):
    path = tmp_path / "c.toml"
    path.write_text(CONFIG.format(ext="csv"))
    out = tmp_path / "out.csv"
    proc = subprocess.Popen([sys.executable, str(CHILD), "--delay", "0.2", "--", "sweep",
                             str(path), "--no-progress"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _run_until(proc, lambda: out.exists() and out.read_text().count("\n") >= 7, "a point")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_INTERRUPTED
    line = _one_line(err)
    assert line.startswith("kernelcollapse sweep: interrupted; ") and "to resume" in line
    monkeypatch.setattr(simulator, "simulate", sweep_child.fake_simulate)
    config = sweep.load_config(path)
    s = sweep.run_sweep(config, progress=False)
    assert s.skipped >= 1 and s.skipped + s.ran == 4
    whole = tmp_path / "whole.csv"
    sweep.run_sweep(config, output=whole, progress=False)
    assert out.read_bytes() == whole.read_bytes()


def test_real_sigint_during_reproduce(tmp_path):
    figs = _figures(tmp_path, body_b="import os, signal, time; os.kill(os.getpid(), "
                                     "signal.SIGINT); time.sleep(30)")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "kernelcollapse", "reproduce", "--figures-dir",
                           str(figs), "--out", str(out), "--no-progress"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == EXIT_INTERRUPTED
    assert _one_line(proc.stderr).startswith("kernelcollapse reproduce: interrupted; 1 figure "
                                             "saved in")
    assert (out / "alpha.png").exists() and not (out / "beta.png").exists()
