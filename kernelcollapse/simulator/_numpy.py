"""Plain numpy reference of the simulator: the same process on the same random draws.

Written as directly as possible (a loop over seeds, generations, ``n`` and ``lam``, one
``numpy.linalg`` solve per fit) so that it checks the JAX core rather than copying it: the JAX
core uses Cholesky and eigen-decompositions, this one ``solve`` and ``lstsq``.  The draws come from
:func:`kernelcollapse.simulator._jax.seed_draws`, the exact draws the JAX core makes inside its
jit-compiled function, handed over as numpy arrays.  Nothing here validates its input.
"""

from __future__ import annotations

import numpy as np


def ridge(X: np.ndarray, Y: np.ndarray, lam: float) -> np.ndarray:
    """``(X^T X / m + lam I)^{-1} X^T Y / m`` (``m`` the rows of ``X``); minimum-norm least
    squares when ``lam = 0``."""
    m, d = X.shape
    if lam == 0.0:
        return np.linalg.lstsq(X, Y, rcond=None)[0]
    return np.linalg.solve(X.T @ X / m + lam * np.eye(d), X.T @ Y / m)


def simulate_numpy(keys, s, w0, lams, ns, sigma, sigma0, lam0, *, T, T0, mode, m_rows,
                   m_fresh=0, weight=1.0, drop=0):
    """Test errors, shape ``(len(ns), len(lams), len(keys))``.  ``m_fresh``: real rows of each
    generation; ``weight``: loss weight of the ``m_rows`` synthetic downstream rows;
    ``drop``: fit on the rows after the first ``drop`` only (``lams`` already rescaled)."""
    from kernelcollapse.simulator._jax import seed_draws

    d = s.shape[0]
    N = int(max(ns))
    sqrt_s = np.sqrt(s)
    errors = np.empty((len(ns), len(lams), len(keys)))
    for i_seed, seed_key in enumerate(keys):
        Z, E, Zg, Eg = (np.asarray(a) for a in seed_draws(seed_key, d=d, T=T, T0=T0, N=N))
        # Generator chain: w_0 = w0; w_{k+1} fitted on generation k's data (and, in accumulate
        # mode, on every earlier generation's data too).
        ws = [w0]
        Xs, Ys = [], []
        for k in range(N):
            X = Zg[k] * sqrt_s
            Y = X @ ws[-1] + sigma0 * Eg[k]
            Y[:m_fresh] = X[:m_fresh] @ w0 + sigma0 * Eg[k][:m_fresh]
            Xs.append(X)
            Ys.append(Y)
            if mode == "replace":
                ws.append(ridge(X, Y, lam0))
            else:
                ws.append(ridge(np.vstack(Xs), np.concatenate(Ys), lam0))
        # Downstream: T samples, the first m_rows labelled by w_n, the rest by w0; the
        # synthetic rows weighted by scaling them with sqrt(weight).
        X = Z * sqrt_s
        root = np.where(np.arange(T) < m_rows, np.sqrt(weight), 1.0)
        for i_n, n in enumerate(ns):
            clean = X @ ws[n]
            clean[m_rows:] = X[m_rows:] @ w0
            Y = clean + sigma * E
            Xf, Yf = (X * root[:, None])[drop:], (Y * root)[drop:]
            for i_lam, lam in enumerate(lams):
                w_pred = ridge(Xf, Yf, float(lam))
                errors[i_n, i_lam, i_seed] = np.sum(s * (w_pred - w0) ** 2)
    return errors
