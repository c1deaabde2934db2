"""Sweeps: a sweep interrupted and resumed writes the same file as an uninterrupted one."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kernelcollapse.cli import main
from kernelcollapse.sweep import load_config, read_results, run_sweep

CONFIG = """
output = "out.{ext}"
seeds = 3
key = 4

[grid]
spectrum = "isotropic"
d = 6
T = [5, 9]
T0 = 8
n = [0, 2]
lam = "log:0.01:1:3"
sigma = 0.5
sigma0 = [0.5, 1.0]
"""


def _config(tmp_path, ext):
    path = tmp_path / f"sweep_{ext}.toml"
    path.write_text(CONFIG.format(ext=ext))
    return load_config(path)


@pytest.mark.parametrize("ext", ["jsonl", "csv"])
def test_resume_gives_same_file(tmp_path, ext):
    config = _config(tmp_path, ext)
    whole = tmp_path / f"whole.{ext}"
    part = tmp_path / f"part.{ext}"
    s = run_sweep(config, output=whole, progress=False)
    assert (s.total, s.skipped, s.ran) == (4, 0, 4)

    # Interrupted: 1 point, then an exception in the middle of the sweep, then a partial line
    # as if killed during a write.
    run_sweep(config, output=part, max_points=1, progress=False)

    def boom(i, params):
        if i >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(config, output=part, progress=False, on_point=boom)
    with part.open("a") as f:
        f.write('{"spectrum": "isotr')
    s = run_sweep(config, output=part, progress=False)
    assert (s.skipped, s.ran) == (3, 1)
    assert part.read_bytes() == whole.read_bytes()
    s = run_sweep(config, output=part, progress=False)  # nothing left to do
    assert s.ran == 0 and part.read_bytes() == whole.read_bytes()

    records = read_results(whole)
    assert len(records) == 4 * 2 * 3
    assert {r["n"] for r in records} == {0, 2} and len({r["point"] for r in records}) == 4
    assert all(r["mean"] > 0 and r["stderr"] > 0 for r in records)


def test_point_cut_off_mid_write_is_redone(tmp_path):
    config = _config(tmp_path, "jsonl")
    whole = tmp_path / "whole.jsonl"
    run_sweep(config, output=whole, max_points=2, progress=False)
    lines = whole.read_text().splitlines(keepends=True)
    part = tmp_path / "part.jsonl"
    part.write_text("".join(lines[:8]))  # second point's 6 records cut after 2
    s = run_sweep(config, output=part, max_points=1, progress=False)
    assert (s.skipped, s.ran) == (1, 1)
    assert part.read_bytes() == whole.read_bytes()


def test_cli_sweep_and_bad_config(tmp_path, capsys):
    path = tmp_path / "c.toml"
    path.write_text(CONFIG.format(ext="jsonl"))
    assert main(["sweep", str(path), "--no-progress", "--max-points", "1"]) == 0
    assert "4 points, 0 already done, 1 run now" in capsys.readouterr().out
    first = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])
    assert first["d"] == 6 and first["seeds"] == 3
    path.write_text(CONFIG.format(ext="jsonl").replace("sigma = 0.5", "sigma = -1.0"))
    assert main(["sweep", str(path), "--no-progress", "--output", str(tmp_path / "x.jsonl")]) == 2
    assert "sigma must be >= 0" in capsys.readouterr().err
    path.write_text(CONFIG.format(ext="jsonl").replace("sigma = 0.5", "sgima = 0.5"))
    assert main(["sweep", str(path), "--no-progress"]) == 2
    assert "unknown [grid] keys ['sgima']" in capsys.readouterr().err


def test_cli_simulate(capsys):
    assert main(["simulate", "--d", "6", "--T", "9", "--T0", "8", "--n", "0,2", "--lam",
                 "log:0.01:1:3", "--seeds", "3", "--key", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [row["n"] for row in out["rows"]] == [0, 0, 0, 2, 2, 2] and out["d"] == 6
    assert all(row["T"] == 9 for row in out["rows"])
    assert main(["simulate", "--d", "6", "--T", "9,30", "--T0", "8", "--n", "0,2", "--lam",
                 "log:0.01:1:3", "--seeds", "3", "--key", "4", "--json"]) == 0
    both = json.loads(capsys.readouterr().out)["rows"]
    assert [row["T"] for row in both] == [9] * 6 + [30] * 6
    assert both[:6] == out["rows"]  # the same key: T = 9 is the call with T = 9 alone
    assert main(["simulate", "--d", "6", "--seeds", "1"]) == 2
    assert "seeds must be an integer >= 2" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# Reliability (docs/reliability.rst).  The file tests replace the simulator by deterministic
# stand-in numbers (sweep_child.fake_simulate): they are about the files, not the numbers.
# ---------------------------------------------------------------------------------------------

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import sweep_child  # noqa: E402

from kernelcollapse import simulator  # noqa: E402
from kernelcollapse.sweep import (  # noqa: E402
    FileInUseError,
    ResultsFileError,
    SweepInterrupted,
    check_points,
)

CHILD = Path(__file__).with_name("sweep_child.py")


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr(simulator, "simulate", sweep_child.fake_simulate)


def _with(tmp_path, old, new, ext="jsonl"):
    text = CONFIG.format(ext=ext)
    assert old in text
    path = tmp_path / f"c_{ext}.toml"
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize("old, new, error, match", [
    # values the API refuses were truncated: 1.5 ran as 1, [0, 2.9] as [0, 2], true as 1, "3" as 3
    ("n = [0, 2]", "n = 1.5", ValueError, r"^grid.n must be a non-negative integer, got 1.5$"),
    ("n = [0, 2]", "n = [0, 2.9]", ValueError, r"grid.n must be .*got 2.9 \(at index \(1,\)\)$"),
    ("n = [0, 2]", "n = true", TypeError, "^grid.n must be a number or an array of numbers, "
                                          "got True$"),
    ("n = [0, 2]", 'n = "3"', TypeError, "^grid.n must be .*, got '3'$"),
    ("T = [5, 9]", "T = [5, 2.5]", ValueError, "grid.T must be an integer >= 1, got 2.5"),
    ("T = [5, 9]", "T = [[5, 9]]", ValueError, "grid.T must be a number or a list of numbers"),
    ("d = 6", "d = 0", ValueError, "grid.d must be an integer >= 1, got 0"),
    ("sigma = 0.5", 'sigma = "0.5"', TypeError, "grid.sigma must be a number"),
    ("sigma = 0.5", "sigma = -1.0", ValueError, "^grid.sigma must be >= 0, got -1$"),
    ('spectrum = "isotropic"', 'spectrum = "flat"', ValueError, "grid.spectrum must be one of"),
    ("seeds = 3", "seeds = true", TypeError, "seeds must be an integer"),
    ("seeds = 3", "seeds = 2.5", ValueError, "seeds must be an integer >= 2, got 2.5"),
    ("seeds = 3", 'seeds = 3\nmemory_budget = "2G"', TypeError, "memory_budget must be a number"),
    # empty grids were 0 points, exit 0
    ("T = [5, 9]", "T = []", ValueError, "^grid.T is empty; give at least one value$"),
    ("n = [0, 2]", "n = []", ValueError, "^grid.n is empty"),
    ('lam = "log:0.01:1:3"', "lam = []", ValueError, "^grid.lam is empty"),
    ('lam = "log:0.01:1:3"', 'lam = "log:0.01:1:0"', ValueError, "grid.lam: expected at least"),
    # every point is checked before the first one runs
    ("T0 = 8", "T0 = [8, 6]\nlam0 = 0.0", ValueError,
     r"^grid point 3 of 8 \(T=5, T0=6, sigma0=0.5\): least-squares generators .*T0=6"),
    ("seeds = 3", "seeds = 1000000000", ValueError,
     r"^grid point 1 of 4 \(T=5, sigma0=0.5\): simulate on 6 grid points with "
     r"seeds=1000000000 needs about .*beyond memory_budget = 2 GiB"),
    # the engine's table: its keys and values checked like Engine's, the budget given once
    ("key = 4", 'key = 4\n[engine]\nsolver = "eigh"', ValueError,
     r"^unknown \[engine\] keys \['solver'\]; allowed: \('backend', 'sampler'"),
    ("key = 4", 'key = 4\n[engine]\nsampler = "exact"', ValueError,
     r"^\[engine\]: sampler must be one of \('auto', 'rows'\), got 'exact'$"),
    ("key = 4", 'key = 4\nmemory_budget = 1e9\n[engine]\nmemory_budget = 1e9', ValueError,
     "^memory_budget is given twice"),
    ("key = 4", 'key = 4\nengine = "rows"', TypeError, "^engine must be a table"),
])
def test_bad_config_refused_before_any_work_naming_the_key(tmp_path, capsys, old, new, error,
                                                           match):
    path = _with(tmp_path, old, new)
    config = load_config(path)
    with pytest.raises(error, match=match):
        check_points(config)
    with pytest.raises(error, match=match):
        run_sweep(config, progress=False)
    assert not (tmp_path / "out.jsonl").exists()  # nothing written, not even a lock taken
    assert main(["sweep", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "np." not in err, err


def _whole(tmp_path, ext, name="whole"):
    config = _config(tmp_path, ext)
    whole = tmp_path / f"{name}.{ext}"
    run_sweep(config, output=whole, progress=False)
    return config, whole


def test_damaged_line_reported_with_file_and_line_and_nothing_written(tmp_path, fake):
    config, whole = _whole(tmp_path, "jsonl")
    lines = whole.read_text().splitlines(keepends=True)
    part = tmp_path / "part.jsonl"
    for bad, why in (("garbage\n", r"line 3: damaged record \(not JSON: Expecting value"),
                     ('{"spectrum": "isotropic"}\n', r"line 3: damaged record \(no field seeds"),
                     ("[1, 2]\n", r"line 3: damaged record \(not a JSON object"),
                     (lines[2].replace('"mean": ', '"mean": "x", "m": '),
                      r"line 3: damaged record \(mean is not a number")):
        text = "".join(lines[:2]) + bad + "".join(lines[3:8])
        part.write_text(text)
        with pytest.raises(ResultsFileError, match=f"^{part}, {why}"):
            run_sweep(config, output=part, progress=False)
        assert part.read_text() == text  # the run stopped without writing
        with pytest.raises(ResultsFileError, match=why):
            read_results(part)
    # a line without "point" was a KeyError traceback
    part.write_text("".join(lines[:2]) + lines[2].replace('"point"', '"pt"') + "".join(lines[3:]))
    with pytest.raises(ResultsFileError, match="line 3: damaged record .no field point"):
        run_sweep(config, output=part, progress=False)


def test_point_with_records_missing_is_not_done(tmp_path, fake, capsys):
    """A point missing 3 of its 6 records counted as done, and they were never computed."""
    config, whole = _whole(tmp_path, "jsonl")
    lines = whole.read_text().splitlines(keepends=True)
    part = tmp_path / "part.jsonl"
    part.write_text("".join(lines[:9] + lines[12:]))  # point 2 keeps 3 of its 6 records
    with pytest.raises(ResultsFileError, match="has 3 of its 6 records .lines 7, 8, 9."):
        run_sweep(config, output=part, progress=False)
    s = run_sweep(config, output=part, progress=False, repair=True)
    assert (s.skipped, s.ran) == (3, 1) and "1 incomplete or inconsistent points" in s.repaired
    assert sorted(part.read_text().splitlines()) == sorted(whole.read_text().splitlines())
    assert Path(f"{part}.bak").read_text() == "".join(lines[:9] + lines[12:])
    # the last point cut short (a kill between lines) is redone without a word
    part.write_text("".join(lines[:21]))
    assert run_sweep(config, output=part, progress=False).ran == 1
    assert part.read_bytes() == whole.read_bytes()


@pytest.mark.parametrize("ext", ["jsonl", "csv"])
def test_duplicates_detected_and_repaired(tmp_path, fake, ext):
    """Two runs at once wrote every record twice and a second CSV header."""
    config, whole = _whole(tmp_path, ext)
    part = tmp_path / f"part.{ext}"
    part.write_bytes(whole.read_bytes() * 2)
    first = 2 if ext == "csv" else 1
    match = (r"line 26: damaged record \(a second header" if ext == "csv" else
             f"lines {first} and {first + 24} are two records of the same point")
    for call in (lambda: run_sweep(config, output=part, progress=False),
                 lambda: read_results(part)):
        with pytest.raises(ResultsFileError, match=match):
            call()
    assert part.read_bytes() == whole.read_bytes() * 2
    s = run_sweep(config, output=part, progress=False, repair=True)
    assert s.ran == 0 and "kept 24 records of 4 points" in s.repaired
    assert part.read_bytes() == whole.read_bytes()
    if ext == "jsonl":  # duplicates without a header in between
        lines = whole.read_text().splitlines(keepends=True)
        part.write_text("".join(lines + lines[:1]))
        with pytest.raises(ResultsFileError, match="lines 1 and 25 are two records"):
            run_sweep(config, output=part, progress=False)


def test_csv_has_one_header_and_read_results_no_header_row(tmp_path, fake):
    config, whole = _whole(tmp_path, "csv")
    text = whole.read_text()
    assert text.count("spectrum,d,") == 1
    records = read_results(whole)
    assert len(records) == 24 and all(r["spectrum"] == "isotropic" for r in records)
    assert all(isinstance(r["T"], int) and isinstance(r["mean"], float) for r in records)
    other = load_config(_with(tmp_path, "sigma0 = [0.5, 1.0]", "sigma0 = 0.5\nfresh = 0.0",
                              "csv"))
    with pytest.raises(ResultsFileError, match="its columns .* are not this sweep's"):
        run_sweep(other, output=whole, progress=False)
    whole.write_text(text + "isotropic,6,2.0")  # cut off mid-line: left out, with a warning
    with pytest.warns(UserWarning, match="line 26: cut off mid-write"):
        assert len(read_results(whole)) == 24


def test_record_that_does_not_match_its_point(tmp_path, fake):
    config, whole = _whole(tmp_path, "jsonl")
    text = whole.read_text()
    first = text.splitlines()[0]
    whole.write_text(text.replace(first, first.replace('"T": 5', '"T": 6'), 1))
    with pytest.raises(ResultsFileError, match=r"line 1: a record of point .* does not match it "
                                                r"\(T = 6 where the point has T = 5"):
        run_sweep(config, output=whole, progress=False)


def test_ctrl_c_raises_sweep_interrupted_with_what_is_saved(tmp_path, fake):
    config = _config(tmp_path, "jsonl")

    def stop(i, params):
        if i == 1:
            raise KeyboardInterrupt

    with pytest.raises(SweepInterrupted) as info:
        run_sweep(config, output=tmp_path / "o.jsonl", progress=False, on_point=stop)
    assert str(info.value) == f"2 of 4 points saved in {tmp_path / 'o.jsonl'}"
    assert isinstance(info.value, KeyboardInterrupt)


def _child(*args, hold=None):
    extra = ["--hold", str(hold)] if hold else []
    return subprocess.Popen([sys.executable, str(CHILD), *extra, "--", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, proc, what):
    deadline = time.monotonic() + 60
    while not predicate():
        assert proc.poll() is None, f"the first run ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_second_run_on_the_same_file_refuses_or_waits(tmp_path):
    """Two processes: the first holds the results file; a second refuses in one line naming
    the file and the holder, or waits with --wait and then finds everything done."""
    path = tmp_path / "c.toml"
    path.write_text(CONFIG.format(ext="csv"))
    out = tmp_path / "out.csv"
    lock = Path(f"{out}.lock")
    go = tmp_path / "go"  # the first run's points wait for this file
    first = _child("sweep", str(path), "--no-progress", hold=go)
    try:
        _wait_for(lambda: lock.exists() and lock.read_text(), first, "the lock")
        second = _child("sweep", str(path), "--no-progress")
        _, err = second.communicate(timeout=60)
        assert second.returncode == 1
        assert err.count("\n") == 1 and f"results file {out} is in use by another run" in err
        assert f"pid {first.pid} on host " in err and "--wait" in err, err
        waiting = _child("sweep", str(path), "--no-progress", "--wait")
        time.sleep(0.5)
        assert waiting.poll() is None  # still waiting for the first run
        go.touch()
        assert first.wait(timeout=60) == 0
        text, err = waiting.communicate(timeout=60)
        assert waiting.returncode == 0, err
        assert "4 points, 4 already done, 0 run now" in text
    finally:
        go.touch()
        first.communicate(timeout=60)
    text = out.read_text()
    assert text.count("spectrum,d,") == 1 and len(read_results(out)) == 24
    assert lock.read_text() == ""  # released: no stale holder


def test_wait_with_a_limit(tmp_path):
    from kernelcollapse.sweep import _lock

    out = tmp_path / "r.jsonl"
    with _lock.exclusive(out):
        holder = Path(f"{out}.lock").read_text()
        assert f"pid {os.getpid()} on host" in holder
        with pytest.raises(FileInUseError, match=r"after waiting 0.3 s$"):
            with _lock.exclusive(out, wait=0.3):
                pass
    with _lock.exclusive(out, wait=0.3):  # free again
        pass


def test_wait_must_be_a_flag_or_seconds(tmp_path):
    config = _config(tmp_path, "jsonl")
    for bad in (-1, "5", np.float64(-0.5), float("nan")):
        with pytest.raises(ValueError, match="wait must be True, False or a number of seconds"):
            run_sweep(config, progress=False, wait=bad)


@pytest.mark.parametrize("ext", ["jsonl", "csv"])
def test_non_finite_or_negative_result_is_damage_naming_file_and_line(tmp_path, fake, ext):
    """A record with "mean": NaN was accepted (and a NaN passes every check of a point)."""
    import re

    config, whole = _whole(tmp_path, ext)
    lines = whole.read_text().splitlines(keepends=True)
    part = tmp_path / f"part.{ext}"
    first = 1 if ext == "csv" else 0  # the header
    target = first + 2  # the third record
    line_no = target + 1
    for field, value in (("mean", "NaN"), ("stderr", "Infinity"), ("mean", "-0.5"),
                         ("lam", "NaN")):
        if ext == "jsonl":
            bad = re.sub(rf'"{field}": [^,}}]+', f'"{field}": {value}', lines[target])
        else:
            header = lines[0].strip().split(",")
            cells = lines[target].rstrip("\n").split(",")
            cells[header.index(field)] = value
            bad = ",".join(cells) + "\n"
        assert bad != lines[target]
        text = "".join(lines[:target]) + bad + "".join(lines[target + 1:])
        part.write_text(text)
        why = rf"^{re.escape(str(part))}, line {line_no}: damaged record \({field} is not a " \
              rf"finite number >= 0: {re.escape(value)}"
        with pytest.raises(ResultsFileError, match=why):
            read_results(part)
        with pytest.raises(ResultsFileError, match=why):
            run_sweep(config, output=part, progress=False)
        assert part.read_text() == text


def test_engine_table_runs_its_engine_and_names_its_points(tmp_path):
    """``[engine]``: the sweep runs the given Engine; the choices that change the numbers
    (here the sampler) give other points (identifiers, keys, results), the others (threads)
    the points of a config without the table."""
    from kernelcollapse.sweep import point_id, points
    from kernelcollapse.sweep._run import run_point

    plain = load_config(_with(tmp_path, "key = 4", "key = 4"))
    rows = load_config(_with(tmp_path, "key = 4", 'key = 4\n[engine]\nsampler = "rows"',
                             ext="csv"))
    threads = load_config(_with(tmp_path, "key = 4", "key = 4\n[engine]\nthreads = 1",
                                ext="json"))
    a, b, c = (run_sweep(cfg, progress=False) for cfg in (plain, rows, threads))
    ra, rb, rc = (read_results(x.output) for x in (a, b, c))
    assert [r["point"] for r in ra] == [r["point"] for r in rc]
    assert [r["mean"] for r in ra] == [r["mean"] for r in rc]
    assert not {r["point"] for r in ra} & {r["point"] for r in rb}
    grid, ns, lams = points(rows)
    from kernelcollapse.simulator import Engine

    expected = run_point(grid[0], ns, lams, seeds=3, key=4, engine=Engine(sampler="rows"))
    assert [r["mean"] for r in rb[:len(expected)]] == [r["mean"] for r in expected]
    assert expected[0]["point"] == point_id(grid[0], ns, lams, 3, 4, {"sampler": "rows"})
