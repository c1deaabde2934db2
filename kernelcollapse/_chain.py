"""The generator chain of note (C): how mean and variance of ``w_k`` evolve over generations.

Trusted core for :mod:`kernelcollapse.theory` (inputs already validated).  The
second moment of ``w_k`` stays ``a_k a_k' + diag(g_k)``; per distinct eigenvalue
we carry the group totals ``A_k = sum a_k^2`` and ``G_k = sum g_k``.
"""

from __future__ import annotations

import numpy as np

from kernelcollapse import _spectral as _sp


def unique_rows(*cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of the stacked columns and, for each input row, the index of its key."""
    keys, inverse = np.unique(np.stack(cols, axis=1), axis=0, return_inverse=True)
    return keys, inverse.reshape(-1)


def constants(spec, lam0: float, T0: float, sigma0: float):
    """(log M0, W0, D0, N0) of note (C) for one generator setting, per distinct eigenvalue."""
    s, d = spec.s, spec.d
    if lam0 == 0 and T0 > d + 1:
        # Least squares: unbiased, exact inverse-Wishart constant.
        W0 = 1.0 / s
        e0 = T0 - d - 1
        return np.zeros_like(s), W0, np.zeros_like(s), sigma0**2 * W0 / e0
    k0 = float(_sp.kappa(np.array([lam0]), np.array([T0]), spec)[0])
    e0 = T0 - float(_sp.df2(np.array([k0]), spec)[0])
    W0 = s / (s + k0) ** 2
    return -np.log1p(k0 / s), W0, k0**2 * W0 / e0, sigma0**2 * W0 / e0


def recursion(spec, lam0, T0, sigma0, ns):
    """Group totals ``A_n + G_n`` and ``B_n = sum w0 a_n`` minus ``q``, for each n in ``ns``.

    ``A_n = M0^(2n) q`` (squared mean), ``G_n = c g_n`` (summed variance),
    ``B_n = M0^n q``; all relative to the clean ``q`` so that ``n = 0`` gives 0
    exactly and the collapse term carries no cancellation error.
    Also returns per-coordinate ``g_n`` (variance) for ``theory.generator_moments``.
    """
    logM0, W0, D0, N0 = constants(spec, lam0, T0, sigma0)
    c, q = spec.c, spec.q
    ns, back = np.unique(np.asarray(ns, dtype=np.int64), return_inverse=True)
    wanted = {int(k): i for i, k in enumerate(ns)}
    G = np.zeros_like(q)
    g_out = np.zeros((ns.size, q.size))
    M0sq = np.exp(2.0 * logM0)
    if not np.any(D0) and not np.any(logM0):
        # Least squares (M0 = 1, D0 = 0): the variance just adds N0 per generation.
        g_out = ns[:, None] * (c * N0)
        ag = g_out.astype(np.float64)
        b = np.zeros_like(ag)
        back = back.reshape(-1)
        return ag[back], b[back], (g_out / c)[back], logM0
    for k in range(int(ns.max()) + 1):
        if k in wanted:
            g_out[wanted[k]] = G
        t = W0 @ (np.exp(2.0 * k * logM0) * q + G)
        G = M0sq * G + c * (t * D0 + N0)
    ag = np.expm1(2.0 * ns[:, None] * logM0) * q + g_out
    b = np.expm1(ns[:, None] * logM0) * q
    back = back.reshape(-1)
    return ag[back], b[back], (g_out / c)[back], logM0


def generator_rows(spec, gen_keys: np.ndarray, sigma0: float):
    u = spec.s.size
    ag = np.empty((gen_keys.shape[0], u))
    b = np.empty((gen_keys.shape[0], u))
    if gen_keys.shape[0] == 0:
        return ag, b
    setting_keys, setting_inv = unique_rows(gen_keys[:, 0], gen_keys[:, 1])
    for i, (lam0, T0) in enumerate(setting_keys):
        rows = np.flatnonzero(setting_inv == i)
        ag[rows], b[rows], _, _ = recursion(
            spec, lam0, T0, sigma0, gen_keys[rows, 2].astype(np.int64)
        )
    return ag, b
