"""Built-in problems: a covariance spectrum and a teacher, in the eigenbasis."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from kernelcollapse._util import memory as _memory
from kernelcollapse._util import validate as v

__all__ = ["Problem", "isotropic", "power_law"]


# -log10 of the smallest normal float64 (2.2e-308), rounded down.
_MIN_LOG10 = 307

# Peak bytes per dimension while building each problem (tracemalloc: 16 and 52), with room:
# the results and power_law's temporaries (tests/test_memory_guard.py checks the bounds).
BYTES_PER_DIM = {"isotropic": 24, "power_law": 64}


def _check_memory(name: str, d: int) -> None:
    _memory.check_machine(f"{name}(d={d})", BYTES_PER_DIM[name] * d, "use a smaller d")


class Problem(NamedTuple):
    """Covariance eigenvalues and teacher coefficients, both of shape ``(d,)``.

    Unpacks as ``eigvals, w0 = problem`` and passes straight to
    :func:`kernelcollapse.theory.test_error` or :func:`kernelcollapse.simulate`
    as ``test_error(*problem, T=...)``.
    """

    eigvals: np.ndarray
    w0: np.ndarray


def isotropic(d: int, *, norm: float = 1.0) -> Problem:
    """Isotropic features, ``Sigma = I_d``, and a flat teacher.

    Parameters
    ----------
    d : int
        Dimension, ``d >= 1``.
    norm : float, default 1.0
        Signal strength ``||w0||^2 = ||w0||_Sigma^2`` (``> 0``).

    Returns
    -------
    Problem
        ``eigvals = ones(d)`` and ``w0 = sqrt(norm / d) * ones(d)``.  The theory
        depends on the teacher only through ``w0_j**2`` summed over equal
        eigenvalues, so for an isotropic spectrum only ``norm`` matters.
    """
    d = v.integer("d", d, minimum=1)
    norm = v.scalar("norm", norm, check=v.positive)
    _check_memory("isotropic", d)
    return Problem(np.ones(d), np.full(d, np.sqrt(norm / d)))


def power_law(d: int, beta: float, r: float, *, norm: float = 1.0) -> Problem:
    """Power-law spectrum with a source condition, formula (E) of ``docs/theory``.

    .. math::

        s_j = j^{-\\beta}, \\qquad
        s_j w_{0,j}^2 = \\frac{\\text{norm}}{\\zeta(1 + 2\\beta r)}\\, j^{-1-2\\beta r},
        \\qquad j = 1, \\dots, d.

    The teacher is normalised with the infinite sum, so its coefficients do not
    depend on ``d`` and ``||w0||_Sigma^2 -> norm`` as ``d -> infinity``; scaling
    experiments can then grow ``d`` without moving the target.

    Parameters
    ----------
    d : int
        Number of directions, ``d >= 1``.
    beta : float
        Spectral decay, ``> 0`` (``> 1`` for a trace-class kernel as ``d -> inf``).
    r : float
        Source exponent, ``> 0``: larger ``r`` is a smoother target.
    norm : float, default 1.0
        Limit of ``||w0||_Sigma^2`` (``> 0``).

    Returns
    -------
    Problem
        ``eigvals`` (descending) and positive ``w0``.

    References
    ----------
    E. Dohmatob, Y. Feng, J. Kempe. Model Collapse Demystified: The Case of
    Regression. NeurIPS 2024, arXiv:2402.07712, Section 5 (power-law spectra).
    """
    d = v.integer("d", d, minimum=1)
    beta = v.scalar("beta", beta, check=v.positive)
    r = v.scalar("r", r, check=v.positive)
    norm = v.scalar("norm", norm, check=v.positive)
    # s_d = d^-beta must be a normal float64: past it the eigenvalues round to 0 and the teacher
    # energy / s is 0/0 (NaN coefficients, with only a numpy warning).
    if beta * math.log10(d) > _MIN_LOG10:
        raise ValueError(f"beta must be <= {_MIN_LOG10 / math.log10(d):.6g} for d = {d} (s_d = "
                         f"d^-beta = 10^-{beta * math.log10(d):.4g} is below the smallest "
                         f"float64, 10^-{_MIN_LOG10}), got {v.plain(beta)}; use a smaller beta "
                         "or d")
    _check_memory("power_law", d)
    from scipy.special import zeta  # here: scipy.special takes ~0.2 s to import

    j = np.arange(1, d + 1, dtype=np.float64)
    s = j**-beta
    energy = norm / zeta(1.0 + 2.0 * beta * r) * j ** (-1.0 - 2.0 * beta * r)
    return Problem(s, np.sqrt(energy / s))
