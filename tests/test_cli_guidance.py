"""The command line takes its help's own formats and refuses options it would ignore."""

from __future__ import annotations

import numpy as np
import pytest

from kernelcollapse._util import parse as _parse
from kernelcollapse.cli import build_parser, main


@pytest.mark.parametrize("text", ["-2,2", "-2", "-0.5,1", "-.5", "-1e-3,2", "-2.5e+1"])
def test_a_list_starting_with_a_negative_number_is_a_value(text):
    """``zoo gmm --means -2,2`` (the help's format) was an unknown option ``-2,2``."""
    args = build_parser().parse_args(["zoo", "gmm", "--means", text])
    np.testing.assert_array_equal(args.means, _parse.number_list(text))


@pytest.mark.parametrize("text", ["0.1,,0.2", "0.1,", ",0.1", "0.1, ,0.2"])
def test_an_empty_item_in_a_list_is_refused(text, capsys):
    """``--lam 0.1,,0.2`` silently dropped the empty item."""
    with pytest.raises(ValueError, match=r"^an empty item in the list "):
        _parse.number_list(text)
    with pytest.raises(SystemExit):
        main(["theory", "--lam", text])
    assert f"argument --lam: an empty item in the list {text!r}" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--beta", "3"], "--beta: for --spectrum power_law only, not the isotropic spectrum (the "
                      "default); add --spectrum power_law or drop --beta"),
    (["--beta", "3", "--r", "1"], "--beta, --r: for --spectrum power_law only"),
    (["--eigvals", "s.npy", "--w0", "w.npy", "--d", "5"],
     "--d: for the built-in spectra, which --eigvals/--w0 replace; drop --d (d is the length "
     "of the files)"),
    (["--eigvals", "s.npy", "--w0", "w.npy", "--spectrum", "power_law", "--beta", "2"],
     "--spectrum, --beta: for the built-in spectra"),
])
@pytest.mark.parametrize("command", ["theory", "simulate"])
def test_problem_options_that_would_be_ignored_are_refused(tmp_path, monkeypatch, capsys,
                                                           command, argv, message):
    monkeypatch.chdir(tmp_path)
    np.save("s.npy", np.ones(5))
    np.save("w.npy", np.ones(5))
    assert main([command, *argv, "--n", "0", "--seeds", "2"][:None if command == "simulate"
                                                              else -2]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"kernelcollapse {command}: error: {message}"), err


def test_the_options_used_still_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["theory", "--spectrum", "power_law", "--d", "20", "--beta", "1.5", "--r",
                 "0.4", "--n", "0"]) == 0
    assert capsys.readouterr().out.startswith("# d=20 ")
    np.save("s.npy", np.ones(5))
    np.save("w.npy", np.ones(5))
    assert main(["theory", "--eigvals", "s.npy", "--w0", "w.npy", "--n", "0", "--T", "20",
                 "--T0", "20"]) == 0
    assert capsys.readouterr().out.startswith("# d=5 ")


def test_readme_command_lines_parse_as_written():
    """Every line of the README's command-line block parses, its [optional] parts included
    and left out; ``# or --full instead of --quick`` is tried too."""
    import re
    import shlex
    from pathlib import Path

    from kernelcollapse.cli import build_parser

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("## Command line", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    lines = [ln for ln in block.splitlines() if ln.startswith("kernelcollapse ")]
    assert any(ln.startswith("kernelcollapse reproduce") for ln in lines)
    tried = 0
    for line in lines:
        command, _, comment = line.partition("#")
        command = command.split(">", 1)[0]  # a shell redirection, not an argument
        variants = {re.sub(r"\[([^\]]*)\]", r"\1", command),
                    re.sub(r"\[[^\]]*\]", "", command)}
        swap = re.search(r"or (--\S+) instead of (--\S+)", comment)
        if swap:
            variants |= {v.replace(swap.group(2), swap.group(1)) for v in variants}
        for variant in variants:
            argv = shlex.split(variant)[1:]
            try:
                build_parser().parse_args(argv)
            except SystemExit as exc:
                raise AssertionError(f"README line does not parse: {variant}") from exc
            tried += 1
    assert tried > len(lines)  # the optional parts and the swap were tried
