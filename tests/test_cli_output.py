"""Where the command line writes: a closed pipe ends it quietly, and an output path of the
wrong kind (a directory for a file, a file for a directory) is refused in one line before
anything is created."""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_sweep import CONFIG

from kernelcollapse import reproduce, sweep
from kernelcollapse.cli import EXIT_BROKEN_PIPE, main


def test_closed_pipe_ends_quietly():
    """``kernelcollapse theory ... | head -1`` ended in a 15-line BrokenPipeError traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "kernelcollapse", "theory", "--d", "50", "--n", "0,1,2,3,4,5",
         "--lam", "log:1e-4:1:400"],  # 2400 rows, well beyond a pipe's buffer
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline().startswith(b"# d=50")
        proc.stdout.close()  # what head does after its line
        err = proc.stderr.read().decode()
        proc.wait(timeout=120)
    finally:
        proc.kill()
        proc.wait()
    assert err == ""
    assert proc.returncode == EXIT_BROKEN_PIPE


def _config(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(CONFIG.format(ext="jsonl"))
    return path


def test_sweep_output_a_directory_refused_without_a_lock_file(tmp_path, capsys):
    config = _config(tmp_path)
    out = tmp_path / "results"
    out.mkdir()
    assert main(["sweep", str(config), "--output", str(out), "--no-progress"]) == 2
    assert capsys.readouterr().err == (
        f"kernelcollapse sweep: error: output must be a file, got the directory {out}; give a "
        f"file in it, e.g. {out / 'results.jsonl'}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml", "results"]
    assert list(out.iterdir()) == []


def test_sweep_output_below_a_file_refused(tmp_path):
    config = sweep.load_config(_config(tmp_path))
    with pytest.raises(ValueError, match=r"^output must be a file in a directory, got .*c\.toml"
                                         r"/r\.jsonl, but .*c\.toml is a file$"):
        sweep.run_sweep(config, output=tmp_path / "c.toml" / "r.jsonl", progress=False)


@pytest.mark.parametrize("below", [False, True])
def test_reproduce_out_a_file_refused(tmp_path, capsys, below):
    file = tmp_path / "figures"
    file.write_text("not a directory\n")
    out = file / "sub" if below else file
    assert main(["reproduce", "--size", "tiny", "--only", "fig01", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    expected = (f"got {out}, but {file} is a file" if below
                else f"got the file {file}; give another path")
    assert err == ("kernelcollapse reproduce: error: out_dir (--out) must be a directory "
                   f"(created when missing), {expected}\n")
    assert file.read_text() == "not a directory\n"
    with pytest.raises(ValueError, match=r"^out_dir \(--out\) must be a directory"):
        reproduce.reproduce(out, size="tiny", only=["fig01"], progress=False)
