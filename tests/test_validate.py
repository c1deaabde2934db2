"""The package's one validation module: plain numbers in messages, one behaviour per check."""

from __future__ import annotations

import numpy as np
import pytest

import kernelcollapse as kc
from kernelcollapse import datasets, kernels
from kernelcollapse._util import validate as v
from kernelcollapse.theory import scaling
from kernelcollapse.zoo import discrete, gaussian, gmm


def test_plain_prints_python_numbers():
    assert v.plain(np.float64(0.5)) == "0.5"
    assert v.plain(np.int64(3)) == "3"
    assert v.plain(np.array(2.5)) == "2.5"
    assert v.plain(0.5) == "0.5" and v.plain("a") == "'a'"


def test_integer_one_behaviour():
    assert v.integer("N", np.int64(4), minimum=1) == 4
    assert v.integer("N", 4.0, minimum=1) == 4
    assert v.integer("N", np.array(4), minimum=1) == 4
    with pytest.raises(ValueError, match=r"^N must be an integer >= 1, got 2.5$"):
        v.integer("N", 2.5, minimum=1)
    with pytest.raises(ValueError, match=r"^N must be an integer >= 1, got 0$"):
        v.integer("N", np.int64(0), minimum=1)
    for bad in ("3", None, True, [3]):
        with pytest.raises(TypeError, match="N must be an integer"):
            v.integer("N", bad, minimum=1)


def test_real_interval_in_the_message():
    assert v.real("x", np.float64(0.25), low=0.0, high=1.0) == 0.25
    with pytest.raises(ValueError, match=r"^x must be a finite number in \(0, 1\], got 0$"):
        v.real("x", 0.0, low=0.0, high=1.0, low_open=True)
    with pytest.raises(ValueError, match=r"in \(-inf, inf\), got nan"):
        v.real("x", float("nan"))
    with pytest.raises(TypeError, match="x must be a real number"):
        v.real("x", "1")


def test_array_checks_index_only_arrays():
    with pytest.raises(ValueError, match=r"^lam must be >= 0, got -0.5$"):
        v.nonnegative("lam", np.float64(-0.5))
    with pytest.raises(ValueError, match=r"^lam must be >= 0, got -0.5 \(at index \(1,\)\)$"):
        v.nonnegative("lam", [1.0, -0.5])
    np.testing.assert_array_equal(v.sequence("n", 3, check=v.nonnegative_integer), [3])
    with pytest.raises(ValueError, match="n must be a number or a non-empty 1-D sequence"):
        v.sequence("n", [[1, 2]], check=v.nonnegative_integer)


# Public functions given numpy scalars: the messages show plain numbers, without an index.
@pytest.mark.parametrize(
    "call",
    [
        lambda: kc.exact_ols_error(np.int64(10), T=np.float64(5.5), T0=30, n=1, sigma=1.0,
                                   sigma0=1.0),
        lambda: kc.power_law(np.int64(0), 1.5, 0.5),
        lambda: scaling.rate(np.float64(0.5), 0.5, 0.3, 0.2, 1.0),
        lambda: kernels.polynomial(np.int64(0)),
        lambda: kernels.median_bandwidth(np.ones((5, 2)), max_points=np.int64(1)),
        lambda: datasets.split_pool(np.zeros((5, 1)), np.zeros(5), n_pool=np.int64(0),
                                    n_test=2),
        lambda: gmm.simulate_mixture(weights=np.array([0.5, 0.6]), progress=False),
        lambda: gmm.simulate_mixture(fresh=np.float64(1.5), progress=False),
        lambda: gmm.separated_approximation(3, weights=(0.01, 0.99), N=100),
        lambda: discrete.loss_probability(np.float64(1.5), N=10, n=3),
        lambda: discrete.mean_loss_time(np.float64(0.0), N=10),
        lambda: gaussian.gaussian_moments(3, N=np.int64(1)),
        # the cases: regimes (p=np.float64(0.5) and T0=np.float64(50.0) were printed as
        # reprs), scalar ranges (an index after a scalar), memory
        lambda: kc.test_error(*kc.isotropic(50), T=np.float64(100), T0=np.float64(50.0),
                              n=np.int64(2), lam=0.1, sigma=0.5, sigma0=0.5),
        lambda: kc.simulate(*kc.isotropic(50), T=100, T0=np.float64(50.0), n=np.int64(2),
                            lam=0.1, sigma=0.5, sigma0=0.5, seeds=2),
        lambda: kc.test_error(*kc.isotropic(50), T=100, T0=80, n=2, lam=0.1, sigma=0.5,
                              sigma0=0.5, p=np.float64(1.0), weight=np.float64(0.0)),
        lambda: kc.test_error(*kc.isotropic(5), T=100, T0=80, n=2, lam=np.float64(-0.1),
                              sigma=0.5, sigma0=0.5),
        lambda: kc.simulate(*kc.isotropic(5), T=np.float64(2.5), T0=80, n=2, lam=0.1,
                            sigma=0.5, sigma0=0.5),
        lambda: kc.simulate(*kc.isotropic(5), T=100, T0=80, n=2, lam=0.1, sigma=0.5,
                            sigma0=0.5, seeds=np.int64(10**9)),
    ],
)
def test_messages_print_plain_numbers(call):
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert "np." not in message and "at index" not in message, message
    assert "float64" not in message and "int64" not in message, message


def test_tune_and_problem_files_say_what_is_wrong_in_plain_words(tmp_path, capsys):
    """A text file named .npy was described as "contains pickled (object) data"."""
    from kernelcollapse.cli import main

    text = tmp_path / "X.npy"
    text.write_text("1,2,3\n4,5,6\n")
    objects = tmp_path / "O.npy"
    np.save(objects, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    strings = tmp_path / "S.npy"
    np.save(strings, np.array(["1", "2"]))
    cut = tmp_path / "C.npy"
    np.save(cut, np.arange(100.0))
    cut.write_bytes(cut.read_bytes()[:40])
    common = ["--n", "1", "--T0", "10", "--sigma0", "1"]
    for path, words in ((text, "is not a NumPy .npy file (it lacks the .npy header; a text or "
                               "CSV table?): save the array with numpy.save"),
                        (objects, "holds Python objects (an array of dtype object), not numbers"),
                        (strings, "holds values of dtype <U1, not numbers"),
                        (cut, "is a damaged .npy file")):
        assert main(["tune", str(path), *common]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"kernelcollapse tune: error: {path} {words}"), err
        assert "pickle" not in err and len(err.splitlines()) == 1, err
    assert main(["theory", "--eigvals", str(text), "--w0", str(text)]) == 2
    assert f"--eigvals: {text} is not a NumPy .npy file" in capsys.readouterr().err


# Strings and booleans are not numbers: numpy would read "3" as 3 and True as 1 in silence.
@pytest.mark.parametrize("bad, shown", [
    ("3", "got '3'"), (True, "got True"), ([0, True], r"got True \(in a list\)"),
    ([[1, "2"]], r"got '2' \(in a list\)"), (None, "got None"),
    (np.array([True, False]), "got an array of dtype bool"),
    (np.array(["1"]), "got an array of dtype <U1"),
])
def test_strings_and_booleans_are_refused(bad, shown):
    with pytest.raises(TypeError, match=f"^n must be a number or an array of numbers, {shown}$"):
        v.nonnegative_integer("n", bad)
    np.testing.assert_array_equal(v.as_float_array("n", [1, 2.5]), [1.0, 2.5])


def test_api_refuses_strings_and_booleans():
    S, W = kc.isotropic(10)
    with pytest.raises(TypeError, match="n must be a number"):
        kc.test_error(S, W, T=20, T0=30, n=["3"], lam=0.1, sigma=0.5, sigma0=0.5)
    with pytest.raises(TypeError, match="T must be a number"):
        kc.simulate(S, W, T=True, T0=30, n=1, lam=0.1, sigma=0.5, sigma0=0.5, seeds=2)


def test_empty_lists_are_refused_by_the_parser_naming_the_text():
    from kernelcollapse._util.parse import int_list, number_list

    for text in ("", " ", ",", "log:1:10:0", "lin:0:1:0"):
        with pytest.raises(ValueError, match="expected at least one number"):
            number_list(text)
    with pytest.raises(ValueError, match="expected at least one number"):
        int_list("")
    np.testing.assert_array_equal(int_list("0,2"), [0, 2])


def test_empty_grids_refused_by_the_api_and_the_cli_naming_the_argument(capsys):
    """test_error(n=[]) returned [], --lam "" printed an empty table with exit 0 (sweeps: see
    test_sweep.test_bad_config_refused_before_any_work_naming_the_key)."""
    from kernelcollapse.cli import main

    S, W = kc.isotropic(10)
    args = dict(T=20, T0=30, n=1, lam=0.1, sigma=0.5, sigma0=0.5)
    for name in ("n", "lam", "T"):
        for call in (kc.test_error, kc.simulate):
            with pytest.raises(ValueError, match=f"^{name} is empty"):
                call(S, W, **{**args, name: []})
    with pytest.raises(ValueError, match="^n is empty"):
        kc.optimal_lambda(S, W, T=20, T0=30, n=[], sigma=0.5, sigma0=0.5)
    for command in ("theory", "simulate"):
        for option in ("--lam", "--n", "--T"):
            with pytest.raises(SystemExit) as info:
                main([command, "--d", "6", option, ""])
            assert info.value.code == 2
            err = capsys.readouterr().err
            assert f"argument {option}: expected at least one number" in err, err


def test_fresh_rows_with_accumulate_refused_in_one_line_everywhere(tmp_path, capsys):
    """The refusal's own message raised ``TypeError: 'float' object is not subscriptable``
    where ``fresh`` is one setting for the whole chain (recommend, generator_moments, tune)."""
    from kernelcollapse.cli import main

    expected = ("fresh real rows per generation are defined for mode='replace' only, got "
                "mode='accumulate' with fresh=0.1")
    s, w = kc.power_law(d=20, beta=1.5, r=0.5)
    X = np.random.default_rng(0).standard_normal((60, 20))
    y = X[:, 0]
    calls = [
        lambda: kc.generator_moments(s, w, T0=100, n=3, sigma0=0.5, mode="accumulate",
                                     fresh=0.1),
        lambda: kc.prepare(s, w).test_error(T=50, T0=100, n=[1, 3], lam=0.1, sigma=0.5,
                                            sigma0=0.5, mode="accumulate", fresh=0.1),
        lambda: kc.recommend(X, y, n=3, T0=100, sigma0=0.5, p=0.4, mode="accumulate",
                             fresh=0.1),
    ]
    for call in calls:
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value) == expected
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    assert main(["tune", str(tmp_path / "X.npy"), "--y", str(tmp_path / "y.npy"), "--n", "3",
                 "--T0", "100", "--sigma0", "0.5", "--mode", "accumulate",
                 "--fresh", "0.1"]) == 2
    assert capsys.readouterr().err == f"kernelcollapse tune: error: {expected}\n"


@pytest.mark.parametrize("n", [2**53 + 2, 2**63, 2**64, 2**70, 1e30])
def test_generation_counts_beyond_float64_integers_refused(n, capsys):
    """From 2**63 on the cast to int64 wrapped round: n = 2**70 gave the clean error (n = 0)
    with collapse 0.0, and the CLI's ``--n 1e30`` reported "got -9.2e+18"."""
    from kernelcollapse.cli import main

    s, w = kc.isotropic(50)
    kw = dict(T=100, T0=200, sigma=0.5, sigma0=1.0)
    calls = [
        lambda: kc.test_error(s, w, n=n, lam=1e-2, **kw),
        lambda: kc.prepare(s, w).test_error(n=[0, n], lam=1e-2, **kw),
        lambda: kc.exact_ols_error(50, n=n, **kw),
        lambda: kc.simulate(s, w, n=[0, n], lam=1e-2, seeds=2, **kw),
        lambda: kc.optimal_lambda(s, w, n=n, **kw),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=r"^n must be a non-negative integer of at most "
                                             r"2\*\*53 = 9007199254740992, got "):
            call()
    with pytest.raises(SystemExit):
        main(["theory", "--n", f"0,{n:.0f}" if isinstance(n, float) else f"0,{n}"])
    err = capsys.readouterr().err
    assert "argument --n: expected integers of at most 2**53 = 9007199254740992" in err
    assert "-9.2" not in err


def test_generation_counts_up_to_2_53_still_computed():
    s, w = kc.isotropic(50)
    kw = dict(T=100, T0=200, lam=1e-2, sigma=0.5, sigma0=1.0)
    one, big = (kc.test_error(s, w, n=n, **kw).collapse for n in (1, 2**53))
    assert big == pytest.approx(2**53 * one, rel=1e-12)


@pytest.mark.parametrize("eigvals", [np.array([1 + 1j, 2.0]), np.array([1 + 0j, 2.0]),
                                     [1 + 0j, 2.0], [[1.0, 2j]]])
def test_complex_eigenvalues_refused_like_a_complex_sigma(eigvals):
    """Complex eigenvalues were cast to their real part (a ComplexWarning at most)."""
    with pytest.raises(TypeError, match=r"^eigvals must be a number or an array of numbers"):
        kc.test_error(eigvals, np.ones(2), T=10, T0=20, n=1, lam=0.1, sigma=0.5, sigma0=1.0)
    with pytest.raises(TypeError, match=r"^sigma must be a number or an array of numbers"):
        kc.test_error(np.ones(2), np.ones(2), T=10, T0=20, n=1, lam=0.1, sigma=0.5 + 0j,
                      sigma0=1.0)


def test_power_law_beyond_float64_refused():
    """power_law(d=1000, beta=1000) returned NaN coefficients with a warning."""
    with pytest.raises(ValueError, match=r"^beta must be <= 102\.333 for d = 1000 \(s_d = "
                                         r"d\^-beta = 10\^-3000 is below the smallest float64"):
        kc.power_law(1000, 1000, 0.5)
    s, w = kc.power_law(1000, 102.3, 0.5)
    assert np.all(s > 0) and np.all(np.isfinite(w))
    assert kc.power_law(1, 1e6, 0.5).eigvals[0] == 1.0  # d = 1: s_1 = 1 for any beta
