"""No global side effects: float64 scoped to the library's own calls, JAX imported on use only.

Each check runs in a fresh interpreter (a subprocess): JAX's x64 flag and ``sys.modules`` are
process-wide, and the test session itself has JAX imported and used by other tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def _run(script: str) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_import_cli_and_theory_do_not_import_jax():
    _run("""
        import sys

        import numpy as np

        import kernelcollapse as kc
        from kernelcollapse.theory import scaling
        from kernelcollapse.cli import build_parser

        assert "jax" not in sys.modules, "import kernelcollapse imported jax"
        build_parser().format_help()  # what `kernelcollapse --help` prints
        s, w0 = kc.power_law(50, 1.5, 0.5)
        kc.test_error(s, w0, T=100, T0=200, n=[0, 3], lam=[0.0, 0.1], sigma=0.5, sigma0=1.0)
        kc.kappa(0.1, s, 100)
        kc.exact_ols_error(10, T=40, T0=30, n=2, sigma=0.5, sigma0=1.0)
        kc.optimal_lambda(s, w0, T=100, T0=200, n=3, sigma=0.5, sigma0=1.0)
        X = np.random.default_rng(0).normal(size=(40, 5))
        kc.recommend(X, n=2, T0=100, sigma0=1.0, sigma=0.5)
        scaling.rate(1.5, 0.5, 0.3, 0.2, 1.0)
        scaling.scaling_law(2.0, 0.5, 0.3, 0.2, 1.0)
        assert "jax" not in sys.modules, sorted(m for m in sys.modules if "jax" in m)[:5]
    """)


def test_import_leaves_the_x64_setting_alone():
    for setting in (False, True):
        out = _run(f"""
            import jax

            jax.config.update("jax_enable_x64", {setting})
            import kernelcollapse
            import kernelcollapse.kernels, kernelcollapse.realdata, kernelcollapse.zoo
            print(jax.config.jax_enable_x64)
        """)
        assert out.strip() == str(setting)


# Runs the library with the user's x64 off, then on, in one interpreter: the user's float32 work
# is the same before and after the library's calls, the library's results are float64 numpy
# arrays either way, and equal for the same key.
_LIBRARY_CALLS = """
    import json

    import jax
    import jax.numpy as jnp
    import numpy as np

    import kernelcollapse as kc
    from kernelcollapse import kernels, realdata, zoo


    def user_work():
        return jnp.ones(3), jax.random.normal(jax.random.PRNGKey(0), (3,))


    def library(key):
        s, w0 = kc.isotropic(6)
        sim = kc.simulate(s, w0, T=10, T0=12, n=[0, 2], lam=0.1, sigma=0.5, sigma0=0.5,
                          seeds=3, key=key)
        x = np.random.default_rng(0).normal(size=(8, 3))
        K = kernels.gram(kernels.rbf(1.0), x)
        data = realdata.kernel_data(kernels.rbf(1.0), x[:6], x[:6, 0], x[6:], x[6:, 0])
        coll = realdata.simulate_collapse(data, T=3, T0=4, n=[0, 1], lam=0.1, lam0=0.1,
                                          sigma=0.1, sigma0=0.1, seeds=2, key=key)
        mix = zoo.simulate_mixture(N=30, generations=2, seeds=2, key=key, progress=False)
        out = {"simulate": sim.errors, "gram": K, "kernel_data": data.gram_test,
               "collapse": coll.heldout, "mixture": mix.variances}
        for name, arr in out.items():
            assert type(arr) is np.ndarray and arr.dtype == np.float64, (name, type(arr))
        return {name: arr.tolist() for name, arr in out.items()}


    results = {}
    for x64 in (False, True):
        jax.config.update("jax_enable_x64", x64)
        before = user_work()
        results[x64] = library(7)
        after = user_work()
        assert jax.config.jax_enable_x64 == x64
        want = jnp.float64 if x64 else jnp.float32
        for a, b in zip(before, after):
            assert a.dtype == b.dtype == want, (a.dtype, b.dtype)
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    print(json.dumps(results))
"""


def test_user_float32_untouched_and_results_float64_either_way():
    results = json.loads(_run(_LIBRARY_CALLS))
    assert results["false"] == results["true"]
