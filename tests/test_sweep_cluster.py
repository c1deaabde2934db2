"""Cluster sweeps (kernelcollapse.sweep._cluster): a job array through submitit, merged into the
same results file as the serial run.

submitit's ``debug`` executor runs the tasks in this process (the simulator can be replaced, as
in test_sweep.py); its ``local`` executor runs each task in a process of its own, with the real
simulator: those tests compare with a serial run of the real simulator.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sweep_child

import kernelcollapse
from kernelcollapse import simulator
from kernelcollapse.cli import main
from kernelcollapse.sweep import (
    ClusterError,
    ClusterInterrupted,
    ResultsFileError,
    TasksFailed,
    load_config,
    merge_shards,
    read_results,
    run_sweep,
    shards_dir,
    submit_sweep,
)

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
ROOT = Path(kernelcollapse.__file__).parent.parent  # the checkout the tests import


def _config_file(tmp_path, ext="jsonl", extra=""):
    path = tmp_path / f"c_{ext}.toml"
    path.write_text(CONFIG.format(ext=ext) + extra)
    return path


def _config(tmp_path, ext="jsonl", extra=""):
    return load_config(_config_file(tmp_path, ext, extra))


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr(simulator, "simulate", sweep_child.fake_simulate)


@pytest.fixture
def submitit():
    return pytest.importorskip("submitit")


def _lines(path):
    return path.read_text().splitlines(keepends=True)


@pytest.mark.parametrize("ext", ["jsonl", "csv"])
def test_debug_executor_writes_the_serial_file_byte_for_byte(tmp_path, fake, submitit, ext):
    """Every task finished: the merged file is the serial run's, byte for byte (the same lines
    in the grid's order; one CSV header); the shards are gone; a rerun has nothing to do."""
    config = _config(tmp_path, ext)
    serial = tmp_path / f"serial.{ext}"
    run_sweep(config, output=serial, progress=False)
    out = tmp_path / f"out.{ext}"
    s = submit_sweep(config, executor="debug", progress=False)
    assert (s.total, s.skipped, s.submitted, s.merged, s.failed) == (4, 0, 4, 4, ())
    assert s.output == out and out.read_bytes() == serial.read_bytes()
    assert not shards_dir(out).exists()
    again = submit_sweep(config, executor="debug", progress=False)
    assert (again.skipped, again.submitted, again.merged) == (4, 0, 0)
    assert out.read_bytes() == serial.read_bytes()
    # the serial run finds everything done too
    assert run_sweep(config, progress=False).ran == 0


def test_local_executor_real_simulation_equals_serial(tmp_path, submitit, monkeypatch):
    """Tasks in processes of their own, with the real simulator: each point's key comes from
    the point, so the numbers are the serial run's and the file is the same byte for byte."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the tasks import this checkout
    path = _config_file(tmp_path)
    path.write_text(path.read_text().replace("sigma0 = [0.5, 1.0]", "sigma0 = 0.5"))
    config = load_config(path)  # 2 points: a JAX process each
    serial = tmp_path / "serial.jsonl"
    run_sweep(config, output=serial, progress=False)
    s = submit_sweep(config, executor="local", options=dict(array_parallelism=2),
                     progress=False, poll=0.2)
    assert (s.submitted, s.merged, s.failed) == (2, 2, ())
    assert len(s.jobs) == 2
    assert (tmp_path / "out.jsonl").read_bytes() == serial.read_bytes()


def _serial_lines(tmp_path, ext="jsonl"):
    config = _config(tmp_path, ext)
    serial = tmp_path / f"serial.{ext}"
    run_sweep(config, output=serial, progress=False)
    return config, _lines(serial)


def test_failed_task_stays_pending_and_the_rerun_submits_only_it(tmp_path, fake, submitit,
                                                                  monkeypatch):
    config, serial = _serial_lines(tmp_path)

    def fail_point_2(*args, **kwargs):  # grid order: (T, sigma0) = (5, .5), (5, 1), (9, ...)
        if kwargs["T"] == 5 and kwargs["sigma0"] == 1.0:
            raise MemoryError("no room on this node")
        return sweep_child.fake_simulate(*args, **kwargs)

    monkeypatch.setattr(simulator, "simulate", fail_point_2)
    with pytest.raises(TasksFailed, match=r"^1 of 4 tasks failed \(point 2 of 4: .*no room on "
                                          r"this node\); 3 points merged into .*out.jsonl; the "
                                          "failed points stay pending") as info:
        submit_sweep(config, executor="debug", progress=False)
    assert info.value.summary.merged == 3 and len(info.value.summary.failed) == 1
    out = tmp_path / "out.jsonl"
    assert _lines(out) == serial[:6] + serial[12:]  # the others, in the grid's order
    monkeypatch.setattr(simulator, "simulate", sweep_child.fake_simulate)
    s = submit_sweep(config, executor="debug", progress=False)
    assert (s.skipped, s.submitted, s.merged) == (3, 1, 1)
    # The same records (lines), no duplicates (read_results is strict), point 2 now last:
    # record-identical to the serial run, not byte-identical.
    assert sorted(_lines(out)) == sorted(serial) and _lines(out) != serial
    assert len(read_results(out)) == 24


def test_ctrl_c_stops_local_tasks_and_the_next_run_resumes(tmp_path, fake, submitit,
                                                           monkeypatch):
    config, serial = _serial_lines(tmp_path)
    calls = []

    def interrupt_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return sweep_child.fake_simulate(*args, **kwargs)

    monkeypatch.setattr(simulator, "simulate", interrupt_second)
    with pytest.raises(ClusterInterrupted, match="the running tasks were stopped; the shards "
                                                 "of 1 finished point are kept in .*out.jsonl."
                                                 "shards: run the same command again") as info:
        submit_sweep(config, executor="debug", progress=False)
    assert isinstance(info.value, KeyboardInterrupt)
    out = tmp_path / "out.jsonl"
    assert not out.exists() and len(list(shards_dir(out).iterdir())) == 1
    monkeypatch.setattr(simulator, "simulate", sweep_child.fake_simulate)
    s = submit_sweep(config, executor="debug", progress=False)
    assert (s.skipped, s.submitted, s.merged) == (0, 3, 4)
    assert _lines(out) == serial  # the shard merged first, in the grid's order anyway


def test_killed_local_run_resumes_without_duplicates(tmp_path, submitit):
    """SIGKILL to a whole local cluster run (the submitting process and its tasks) once a
    point is done: the next run merges the shards there are, submits only the missing points
    and ends with the serial run's records, each once."""
    path = _config_file(tmp_path)
    config = load_config(path)
    serial = tmp_path / "serial.jsonl"
    run_sweep(config, output=serial, progress=False)
    out = tmp_path / "out.jsonl"
    shards = shards_dir(out)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "kernelcollapse", "sweep", str(path),
                             "--executor", "local", "--no-progress"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (shards.is_dir() and any(not p.name.startswith(".")
                                           for p in shards.iterdir())):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no shard written in 120 s"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its tasks (one process group)
        proc.communicate()
    time.sleep(0.5)  # the group's last processes gone
    written = {p.name.split("-")[0] for p in shards.iterdir() if not p.name.startswith(".")}
    assert 1 <= len(written) <= 4
    assert not out.exists() or len(read_results(out)) < 24  # cut off before its merge
    s = submit_sweep(config, executor="debug", progress=False)
    assert s.submitted == 4 - len(written) and s.merged == 4 and s.failed == ()
    assert sorted(_lines(out)) == sorted(_lines(serial))
    assert len(read_results(out)) == 24 and not any(p.name.endswith(".jsonl")
                                                    for p in shards.glob("*"))


# --- shards: duplicates, another config, damage ---------------------------------------------

def _shard(tmp_path, lines, name, out="out.jsonl"):
    folder = shards_dir(tmp_path / out)
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text("".join(lines))
    return path


def _pid(line):
    return json.loads(line)["point"]


def test_duplicate_shards_kept_once_when_identical_refused_when_they_differ(tmp_path, fake):
    config, serial = _serial_lines(tmp_path)
    pid = _pid(serial[0])
    _shard(tmp_path, serial[:6], f"{pid}-a.jsonl")
    _shard(tmp_path, serial[:6], f"{pid}-b.jsonl")
    s = merge_shards(config)
    assert (s.skipped, s.merged) == (0, 1)
    out = tmp_path / "out.jsonl"
    assert _lines(out) == serial[:6] and not shards_dir(out).exists()

    other = serial[6:12]
    changed = other[:2] + [other[2].replace('"mean": ', '"mean": 1')] + other[3:]
    a = _shard(tmp_path, other, f"{_pid(other[0])}-a.jsonl")
    b = _shard(tmp_path, changed, f"{_pid(other[0])}-b.jsonl")
    with pytest.raises(ResultsFileError, match=rf"^{a} and {b}: two shards of point "
                                               rf"{_pid(other[0])} that differ \(mean at n = 0"):
        merge_shards(config)
    assert _lines(out) == serial[:6]  # nothing written
    b.unlink()
    # A shard of a point the file holds already, with other numbers: refused too.
    c = _shard(tmp_path, [serial[0].replace('"mean": ', '"mean": 1')] + serial[1:6],
               f"{pid}-c.jsonl")
    with pytest.raises(ResultsFileError, match=rf"^{c}: a shard of point {pid}, which .* "
                                               "already holds with other numbers"):
        merge_shards(config)
    c.unlink()
    assert merge_shards(config).merged == 1 and _lines(out) == serial[:12]


def test_shard_of_another_config_or_damaged_refused_naming_the_file(tmp_path, fake, capsys):
    config, serial = _serial_lines(tmp_path)
    shard = _shard(tmp_path, serial[:6], f"{_pid(serial[0])}-a.jsonl")
    path = _config_file(tmp_path, extra="").read_text().replace("seeds = 3", "seeds = 4")
    (tmp_path / "c4.toml").write_text(path)
    with pytest.raises(ResultsFileError, match=rf"^{shard}: a shard of point \w+, which this "
                                               "config does not have .*seeds, key or grid"):
        merge_shards(load_config(tmp_path / "c4.toml"))
    assert main(["sweep", str(tmp_path / "c4.toml"), "--merge"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and str(shard) in err
    assert not (tmp_path / "out.jsonl").exists()  # nothing written

    shard.write_text("".join(serial[:3]) + serial[3][:20])  # not renamed whole
    with pytest.raises(ResultsFileError, match=rf"^{shard}: a shard cut off or empty"):
        merge_shards(config)
    shard.write_text("".join(serial[:2]) + "garbage\n" + "".join(serial[3:6]))
    with pytest.raises(ResultsFileError, match=rf"^{shard}, line 3: damaged record"):
        merge_shards(config)
    shard.write_text("".join(serial[:5]))
    with pytest.raises(ResultsFileError, match=rf"^{shard}: 5 of the 6 records of point"):
        merge_shards(config)
    shard.unlink()
    _shard(tmp_path, serial[:6], ".x.jsonl.tmp")  # a task writing (or killed): ignored
    assert merge_shards(config).merged == 0


def test_cli_merge_and_rerun(tmp_path, fake, capsys):
    """``sweep CONFIG --merge`` after a cluster run whose submitting process was stopped."""
    config, serial = _serial_lines(tmp_path, "csv")
    path = _config_file(tmp_path, "csv")
    header = serial[0]
    for k in (1, 0, 3):  # points 2, 1 and 4 came back; point 3 did not
        recs = serial[1 + 6 * k: 7 + 6 * k]
        _shard(tmp_path, [header] + recs, f"{recs[0].rsplit(',', 1)[1].strip()}-x.csv",
               out="out.csv")
    assert main(["sweep", str(path), "--merge"]) == 0
    assert "4 points, 0 already done, 3 merged from" in capsys.readouterr().out
    out = tmp_path / "out.csv"
    assert _lines(out) == [header] + serial[1:13] + serial[19:]  # grid order, one header
    assert main(["sweep", str(path), "--no-progress"]) == 0  # the serial run does the rest
    assert "4 points, 3 already done, 1 run now" in capsys.readouterr().out
    assert sorted(_lines(out)) == sorted(serial) and _lines(out)[0] == header


# --- options and the cluster's absence --------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--executor", "local", "--slurm-time", "0"], "--slurm-time must be an integer >= 1, got 0"),
    (["--executor", "slurm", "--slurm-mem", "-2"], "--slurm-mem must be > 0, got -2"),
    (["--executor", "slurm", "--slurm-gpus", "-1"], "--slurm-gpus must be an integer >= 0"),
    (["--slurm-partition", "gpu"], "--slurm-partition is an option of cluster runs; give "
                                   "--executor slurm"),
    (["--merge", "--executor", "local"], "--merge merges the shards already written"),
    (["--executor", "local", "--max-points", "1"], "--max-points is for the serial run"),
])
def test_cli_cluster_options_checked_in_one_line(tmp_path, capsys, args, message):
    path = _config_file(tmp_path)
    assert main(["sweep", str(path), "--no-progress", *args]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and message in err, err


@pytest.mark.parametrize("table, error, match", [
    ("time = 0", ValueError, r"^executor.time must be an integer >= 1, got 0$"),
    ("array_parallelism = 2.5", ValueError, "executor.array_parallelism must be an integer"),
    ('partition = ""', ValueError, "executor.partition must be the Slurm partition"),
    ("mem = true", TypeError, "executor.mem must be a number"),
    ("tiem = 5", ValueError, r"unknown executor options \['tiem'\]; allowed: \['partition'"),
])
def test_executor_table_checked_even_for_the_serial_run(tmp_path, table, error, match):
    config = _config(tmp_path, extra=f"\n[executor]\n{table}\n")
    with pytest.raises(error, match=match):
        run_sweep(config, progress=False)
    with pytest.raises(error, match=match):
        submit_sweep(config, executor="debug", progress=False)


def test_executor_table_leaves_the_serial_run_as_it_was(tmp_path, fake):
    _, serial = _serial_lines(tmp_path)
    config = _config(tmp_path, extra='\n[executor]\npartition = "gpu"\ntime = 30\nmem = 4\n')
    run_sweep(config, progress=False)
    assert _lines(tmp_path / "out.jsonl") == serial


def test_bad_arguments_name_the_argument(tmp_path):
    config = _config(tmp_path)
    with pytest.raises(ValueError, match=r"^executor must be one of \('local', 'slurm', "
                                         r"'debug'\), got 'pbs'$"):
        submit_sweep(config, executor="pbs")
    with pytest.raises(ValueError, match=r"^poll must be > 0, got 0$"):
        submit_sweep(config, executor="debug", poll=0)
    with pytest.raises(ValueError, match="wait must be True, False or a number of seconds"):
        merge_shards(config, wait=-1)
    with pytest.raises(ValueError, match=r"options\['cpus'\] must be an integer >= 1, got 0"):
        submit_sweep(config, executor="debug", options=dict(cpus=0))


def test_submitit_missing_is_one_line_with_the_install_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "submitit", None)  # import submitit fails
    path = _config_file(tmp_path)
    with pytest.raises(ClusterError, match=r"^the local executor needs submitit, which is not "
                                           r"installed: pip install 'kernelcollapse\[cluster\]'$"):
        submit_sweep(load_config(path), executor="local")
    assert main(["sweep", str(path), "--executor", "slurm"]) == 1
    err = capsys.readouterr().err
    assert err == ("kernelcollapse sweep: error: the slurm executor needs submitit, which is "
                   "not installed: pip install 'kernelcollapse[cluster]'\n")
    assert not (tmp_path / "out.jsonl").exists()


def test_no_slurm_here_is_one_line(tmp_path, submitit, monkeypatch, capsys):
    if shutil.which("sbatch"):
        pytest.skip("this machine has Slurm: the test would submit a job")
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch on it
    path = _config_file(tmp_path)
    assert main(["sweep", str(path), "--executor", "slurm", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    # submitit refuses to set up without srun; with srun but no sbatch, the submission fails
    assert re.match(r"kernelcollapse sweep: error: cannot (set up the slurm executor|submit 4 "
                    "tasks to slurm): ", err), err
    assert "run from a Slurm login node, or use --executor local" in err
    assert not (tmp_path / "out.jsonl").exists()
