r"""Deterministic equivalent of one ridge fit on mixed, weighted rows: the trusted core shared by
the downstream model and the generators (fresh real data).

A fit sees ``T`` rows ``x ~ N(0, Sigma)``; a fraction ``p`` of them (the *synthetic* rows) are
labelled by a random teacher ``w0 + delta`` (``delta`` independent of the rows, with
per-coordinate mean ``mu`` and second moment ``S = E delta^2``), the others by ``w0``; every
label carries noise of variance ``sigma^2``.  The fit minimises

.. math:: \frac1T \sum_i \omega_i (y_i - x_i^\top w)^2 + \lambda \|w\|^2,

with weight ``omega`` on the synthetic rows and 1 on the others.  Leave-one-out (each row's
quadratic form concentrates on ``delta_* = tr(Sigma E R^{-1}) / T``) gives the effective
regularisation ``kappa = lam / theta`` with

.. math:: \theta = \frac{1 - p}{1 + \delta_*} + \frac{p\,\omega}{1 + \omega\delta_*},
          \qquad \delta_*\,\theta = \mathrm{df}_1(\kappa) / T,

and, with ``M = s/(s+kappa)``, ``W = s/(s+kappa)^2``, the synthetic rows' relative gain
``g = omega / ((1 + omega delta_*) theta)``, ``phi = (1-p) g_r^2 + p g^2`` (``g_r`` the real
rows' gain) and ``rho = phi df2 / T``, the per-coordinate second moment of ``w_fit - w0``:

.. math::

    E (w_{fit} - w_0)_j^2 \approx \big((M_j - 1) w_{0,j} + p g M_j \mu_j\big)^2
        + p^2 g^2 M_j^2 (S_j - \mu_j^2) + \frac{W_j \hat\beta}{T (1 - \rho)},

    \hat\beta = \phi\kappa^2 \textstyle\sum W w_0^2
        - 2 p g \kappa \sum (\phi M^2 - g M) w_0 \mu + \sigma^2 \phi
        + g^2 \big[p^2 \sum s (\phi M^2 - 2 g M) S + p \sum s S\big].

Summed against ``s`` this is the test error; applied to a generator it is one step of the
chain.  With ``p = 1`` or ``omega = 1`` it is note (C) of the theory (and (B) for least-squares
generators); with ``S = U / s``, ``mu = 0`` it is note (D).  Derivation: the project's theory
docs ("mixed and weighted data").  Nothing here validates its input.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from kernelcollapse.theory import _spectral as _sp

_MAX_ITER = 200


class Gains(NamedTuple):
    """Row gains of a fit at given ``kappa``, all arrays of the points' shape.

    lam_over_kappa : ``theta = lam / kappa``.
    g : the synthetic rows' gain relative to the average, ``gamma_s / theta``.
    phi : ``sum_groups fraction * gain^2 / theta^2``; 1 for unweighted rows.
    slope : ``d log theta / d log kappa`` divided by ``(df1 - df2) / T`` (for Newton).
    """

    lam_over_kappa: np.ndarray
    g: np.ndarray
    phi: np.ndarray
    slope: np.ndarray


def gains(r, p, weight) -> Gains:
    """Gains from ``r = df1(kappa) / T`` (``r < 1``, or ``r >= 1`` for the interpolation limit
    ``lam = 0``, ``T < d``, where ``delta_* -> inf``).

    ``delta_*`` is the positive root of ``w (1-r) x^2 + (1 - p + p w - r (1 + w)) x - r = 0``,
    written as ``2 r / (B + sqrt(B^2 + 4 A r))`` (no cancellation, and valid for ``A = 0``).
    """
    r, p, w = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (r, p, weight)))
    interp = r >= 1.0
    rr = np.where(interp, 0.5, r)
    A = w * (1.0 - rr)
    B = 1.0 - p + p * w - rr * (1.0 + w)
    x = 2.0 * rr / (B + np.sqrt(B * B + 4.0 * A * rr))
    gain_r = 1.0 / (1.0 + x)
    gain_s = w / (1.0 + w * x)
    theta = (1.0 - p) * gain_r + p * gain_s
    g = gain_s / theta
    g_r = gain_r / theta
    phi = (1.0 - p) * g_r * g_r + p * g * g
    # d theta/dr = -phi theta^2 / psi with psi = d(x theta)/dx, so that
    # d log theta / d log kappa = phi theta (df1 - df2) / (T psi).
    psi = (1.0 - p) * gain_r * gain_r + p * gain_s * gain_s / np.where(w > 0, w, 1.0)
    slope = phi * theta / psi
    # Interpolation limit (every row fitted exactly): the weights no longer matter.
    return Gains(np.where(interp, 0.0, theta), np.where(interp, 1.0, g),
                 np.where(interp, 1.0, phi), np.where(interp, 0.0, slope))


def solve_kappa(lam, T, p, weight, spec: _sp.Spectrum) -> np.ndarray:
    """``kappa`` for 1-D arrays ``lam, T, p, weight`` of equal size.

    Unweighted rows (``weight = 1``, or ``p = 0``) and the homogeneous cases reduce to the
    classical equation (:func:`kernelcollapse.theory._spectral.kappa`): all rows weighted ``w``
    (``p = 1``) is ridge with ``lam / w``; ``weight = 0`` is ridge with ``lam / (1 - p)`` on the
    ``(1 - p) T`` real rows.  Otherwise ``lam(kappa) = kappa theta(kappa)`` is increasing and
    is solved by safeguarded Newton in ``log kappa`` inside the bracket of the two homogeneous
    fits with all weights ``min(1, w)`` and ``max(1, w)``.
    """
    lam, T, p, w = (np.asarray(a, dtype=np.float64) for a in (lam, T, p, weight))
    out = np.empty(lam.shape)
    plain = (w == 1.0) | (p == 0.0)
    scaled = ~plain & (p == 1.0)
    dropped = ~plain & ~scaled & (w == 0.0)
    mixed = ~(plain | scaled | dropped)
    out[plain] = _sp.kappa(lam[plain], T[plain], spec)
    out[scaled] = _sp.kappa(lam[scaled] / w[scaled], T[scaled], spec)
    keep = 1.0 - p[dropped]
    out[dropped] = _sp.kappa(lam[dropped] / keep, keep * T[dropped], spec)
    if np.any(mixed):
        out[mixed] = _solve_mixed(lam[mixed], T[mixed], p[mixed], w[mixed], spec)
    return out


def _solve_mixed(lam, T, p, w, spec):
    zero = lam == 0.0
    out = np.empty(lam.shape)
    # lam = 0: the least-squares or minimum-norm fit does not depend on positive weights.
    out[zero] = _sp.kappa(lam[zero], T[zero], spec)
    pos = ~zero
    if not np.any(pos):
        return out
    lam, T, p, w = lam[pos], T[pos], p[pos], w[pos]
    lo = _sp.kappa(lam / np.maximum(w, 1.0), T, spec)
    hi = _sp.kappa(lam / np.minimum(w, 1.0), T, spec)
    t = 0.5 * (np.log(lo) + np.log(hi))
    t_lo, t_hi = np.log(lo), np.log(hi)
    active = np.arange(lam.size)
    for _ in range(_MAX_ITER):
        k = np.exp(t[active])
        f1, f2 = _sp.degrees_of_freedom(k, spec)
        Ta, pa, wa = T[active], p[active], w[active]
        gn = gains(f1 / Ta, pa, wa)
        resid = np.log(k * gn.lam_over_kappa) - np.log(lam[active])
        slope = 1.0 + gn.slope * (f1 - f2) / Ta
        below = resid < 0
        t_lo[active] = np.where(below, t[active], t_lo[active])
        t_hi[active] = np.where(below, t_hi[active], t[active])
        step = resid / slope
        new = t[active] - step
        inside = (new >= t_lo[active]) & (new <= t_hi[active])
        t[active] = np.where(inside, new, 0.5 * (t_lo[active] + t_hi[active]))
        done = (inside & (np.abs(step) <= 1e-12)) | (t_hi[active] - t_lo[active] <= 1e-14)
        active = active[~done]
        if active.size == 0:
            break
    out[pos] = np.exp(t)
    return out
