r"""Scaling laws of the test error under model collapse, symbolic (sympy) and numeric.

Setting: formula (E) of ``docs/theory``.  Power-law spectrum ``s_j = j^-beta``, source
condition ``s_j w0_j^2 ~ j^(-1-2 beta r)``, downstream ridge ``lam = T^-ell``, generators
fitted by least squares on ``T0 = T^b`` samples each, labels of generation ``n = T^a``:

.. math::

    E_{test} \asymp \underbrace{T^{-2\min(r,1)\tilde\ell}}_{\text{bias}}
    + \underbrace{\sigma^2\, T^{-(1-\tilde\ell/\beta)}}_{\text{variance}}
    + \underbrace{n\,\sigma_0^2\, \frac{\max(T/T_0, \varphi_0)}{1-\varphi_0}\,
      T^{-(1-\tilde\ell/\beta)}}_{\text{collapse}},
    \qquad \tilde\ell = \min(\ell, \beta),\ \varphi_0 = d/T_0 .

Every term is written ``T^(-e)`` and this module works with the *decay exponents* ``e``
(larger is faster; a negative one grows with ``T``); the test error decays as
``T^(-rate)`` with ``rate = min(e_bias, e_variance, e_collapse)``.

How each exponent arises (from (B): ``kappa ~ lam`` and ``df2(kappa) ~ kappa^(-1/beta)``
when ``ell < beta``; the ridgeless ``kappa ~ T^-beta`` when ``ell >= beta``, whence
``ell~ = min(ell, beta)``):

* bias ``kappa^2 sum_j s_j w0_j^2/(s_j+kappa)^2 ~ kappa^(2 min(r, 1))``: the head
  ``s_j > kappa`` contributes ``kappa^2 sum j^(2 beta (1 - r) - 1)``, which converges when
  ``r > 1``, so the bias *saturates* at ``kappa^2`` (the qualification of ridge);
  at ``r = 1`` exactly it is ``kappa^2 log(1/kappa)`` (a logarithmic correction);
* variance ``sigma^2 df2/T ~ sigma^2 T^(-(1 - ell~/beta))``;
* collapse ``n Delta`` with
  ``Delta = sigma0^2/(T0-d-1) [df2 + kappa^2 sum_j (s_j+kappa)^-2 df2/(T-df2)]
  ~ sigma0^2 (T/T0 + phi0)/(1 - phi0) T^(-(1 - ell~/beta))``.

Assumptions about the dimension ``d``.  ``T0 > d`` throughout (least-squares
generators).  With ``d`` fixed (the default, ``delta=None``), ``phi0 = d T^-b -> 0``, so
``1/(1 - phi0) -> 1``, and ``phi0 <= T/T0`` as soon as ``T >= d``: the collapse term is
``sigma0^2 T^(a + 1 - b) T^(-(1 - ell~/beta))``, decay exponent ``b - a - ell~/beta``.
The power-law exponents of the bias and variance need the spectrum not to be truncated
at the effective regularisation, ``d >> kappa^(-1/beta) = T^(ell~/beta)``.  So the laws
describe the window ``T^(ell/beta) << d <= T`` (non-empty when ``ell < beta``), which is
where the numerical checks of the tests are done.  With ``d ~ T^delta`` instead
(``delta`` given, ``delta < b``), ``max(T/T0, phi0) = T^(max(1, delta) - b)`` and the
collapse exponent becomes ``b - a + 1 - max(1, delta) - ell~/beta``.  The corner
``ell >= beta`` (ridgeless, ``kappa ~ T^-beta``) needs ``d >> T``; with ``delta=None``
the collapse exponent there is the ``d <= T`` one, an upper bound on the true rate.

Optimal exponents.  The clean optimum balances bias and variance:
``ell_crit = beta/(1 + 2 beta min(r, 1))``.  The paper writes ``beta/(1 + 2 beta r)``;
for ``r > 1`` that choice balances a bias exponent ``2 r ell`` which ridge cannot reach
(saturation), and it is not the optimum: the saturated form is the default here
(``saturate=False`` gives the paper's).  With synthetic labels the variance and the
collapse terms share the factor ``T^(ell~/beta)``, so only the larger of the two
matters: writing ``c = b - a`` (``d`` fixed), the optimum is
``ell* = min(c, 1) ell_crit`` when ``sigma > 0`` and ``ell* = min(c ell_crit, beta)``
when ``sigma = 0``.  The paper's ``ell* = min((b - a) ell_crit, beta)`` is the noiseless
case; for ``sigma > 0`` it agrees when ``b - a <= 1`` (the synthetic noise dominates
the label noise, ``n T >= T0``) and over-regularises when ``b - a > 1``, where the
collapse term is negligible and ``ell_crit`` stays optimal.

Crossover.  With the corrected ``ell*`` the rate is ``2 min(r,1) ell*``: the fast clean
rate ``2 beta r'/(1 + 2 beta r')`` (``r' = min(r, 1)``) while ``b - a >= 1``
(``>= 1 + 2 beta r'`` when ``sigma = 0``), and the slow rate ``(b - a)`` times it below
that threshold: :attr:`ScalingLaw.crossover` is the threshold on ``b - a``.

References
----------
E. Dohmatob, Y. Feng, J. Kempe. *Model Collapse Demystified: The Case of Regression.*
NeurIPS 2024, arXiv:2402.07712, Section 5.
A. Caponnetto, E. De Vito. *Optimal rates for the regularized least-squares algorithm.*
Found. Comput. Math. 7 (2007) (saturation of ridge at ``r = 1``).
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import sympy

from kernelcollapse._util import validate as v

__all__ = [
    "ScalingLaw",
    "critical_exponent",
    "optimal_exponent",
    "rate",
    "scaling_law",
    "symbols",
]

#: A number (numeric result: a float) or a sympy expression (symbolic result).
Exponent = float | sympy.Expr

TERMS = ("bias", "variance", "collapse")


def symbols() -> dict[str, sympy.Symbol]:
    """The default positive symbols ``beta, r, ell, a, b, delta`` (``a`` non-negative)."""
    return {
        "beta": sympy.Symbol("beta", positive=True),
        "r": sympy.Symbol("r", positive=True),
        "ell": sympy.Symbol("ell", nonnegative=True),
        "a": sympy.Symbol("a", nonnegative=True),
        "b": sympy.Symbol("b", positive=True),
        "delta": sympy.Symbol("delta", positive=True),
    }


_LATEX_NAMES = {
    "bias": r"e_{\mathrm{bias}}",
    "variance": r"e_{\mathrm{var}}",
    "collapse": r"e_{\mathrm{coll}}",
    "rate": r"\mathrm{rate}",
    "ell_crit": r"\ell_{\mathrm{crit}}",
    "ell_star": r"\ell^{*}",
    "optimal_rate": r"\mathrm{rate}(\ell^{*})",
    "clean_rate": r"\mathrm{rate}_{\mathrm{clean}}(\ell_{\mathrm{crit}})",
    "crossover": r"(b-a)_{\times}",
}


class ScalingLaw(NamedTuple):
    """Decay exponents of the power-law test error: each term is ``~ T^(-exponent)``.

    All fields are sympy expressions (numbers when the inputs were numbers);
    ``sympy.oo`` marks a term that is absent (``sigma = 0`` or no collapse).

    Attributes
    ----------
    bias, variance, collapse : sympy.Expr
        Decay exponents of the three terms of note (E).
    rate : sympy.Expr
        ``min(bias, variance, collapse)``: ``E_test ~ T^(-rate)``.
    ell_crit : sympy.Expr
        Clean optimum ``beta/(1 + 2 beta min(r, 1))``.
    ell_star : sympy.Expr
        Optimal regularisation exponent with the synthetic labels (see the module notes).
    optimal_rate : sympy.Expr
        ``rate`` at ``ell = ell_star``.
    clean_rate : sympy.Expr
        Rate of clean data at ``ell = ell_crit`` (``2 min(r, 1) ell_crit`` when noisy).
    crossover : sympy.Expr
        Threshold on ``b - a`` (``d`` fixed): at or above it the optimal rate is the clean
        one, below it the slow collapse rate.
    """

    bias: sympy.Expr
    variance: sympy.Expr
    collapse: sympy.Expr
    rate: sympy.Expr
    ell_crit: sympy.Expr
    ell_star: sympy.Expr
    optimal_rate: sympy.Expr
    clean_rate: sympy.Expr
    crossover: sympy.Expr

    def regions(self) -> dict[str, sympy.Basic]:
        """Where each term dominates: ``{term: condition}``, the condition that its decay
        exponent is the smallest (``sympy.true``/``sympy.false`` for numbers)."""
        exps = {name: getattr(self, name) for name in TERMS}
        out = {}
        for name, e in exps.items():
            conds = [sympy.Le(e, other) for k, other in exps.items() if k != name]
            out[name] = sympy.And(*conds) if e != sympy.oo else sympy.false
        return out

    def dominant(self) -> tuple[str, ...]:
        """Names of the terms that set the rate (numeric laws only)."""
        exps = {name: getattr(self, name) for name in TERMS}
        if not all(e.is_number for e in exps.values()):
            raise ValueError("dominant() needs a numeric law; use regions() for symbols")
        vals = {k: float(e) for k, e in exps.items()}
        low = min(vals.values())
        # ties up to rounding (b - a - ell/beta in floating point) count as ties
        return tuple(k for k, e in vals.items() if e <= low + 1e-12 * max(1.0, abs(low)))

    def subs(self, *args, **kwargs) -> ScalingLaw:
        """The law with symbols substituted, as in ``sympy.Expr.subs``."""
        return ScalingLaw(*(sympy.sympify(f).subs(*args, **kwargs) for f in self))

    def latex(self) -> str:
        r"""A LaTeX ``aligned`` block, one line per exponent, plus the law itself."""
        lines = [r"E_{\mathrm{test}} &\asymp T^{-e_{\mathrm{bias}}} + T^{-e_{\mathrm{var}}}"
                 r" + T^{-e_{\mathrm{coll}}} \asymp T^{-\mathrm{rate}}"]
        for name, expr in zip(self._fields, self, strict=True):
            lines.append(f"{_LATEX_NAMES[name]} &= {sympy.latex(expr)}")
        return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"


# ----------------------------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------------------------


def scaling_law(beta: Exponent | None = None, r: Exponent | None = None,
                ell: Exponent | None = None, a: Exponent | None = None,
                b: Exponent | None = None, *, noisy: bool = True, collapse: bool = True,
                delta: Exponent | None = None, saturate: bool = True) -> ScalingLaw:
    r"""Symbolic decay exponents of every term of the power-law test error, note (E).

    Parameters
    ----------
    beta, r, ell, a, b : number, sympy expression or None
        Spectral decay (``s_j = j^-beta``, ``> 1``), source exponent (``> 0``),
        regularisation exponent (``lam = T^-ell``, ``>= 0``), generations ``n = T^a``
        (``>= 0``) and generator sample size ``T0 = T^b`` (``b > a``).  ``None`` uses the
        positive symbol of :func:`symbols`.
    noisy : bool, default True
        Whether the downstream labels are noisy (``sigma > 0``); ``False`` drops the variance.
    collapse : bool, default True
        Whether the synthetic labels add error (``sigma0 > 0``); ``False`` drops the term.
    delta : number, sympy expression or None
        ``d ~ T^delta`` (``0 < delta < b``).  ``None``: ``d`` fixed (see the module notes);
        any ``delta <= 1`` gives the same exponents.
    saturate : bool, default True
        Use ``min(r, 1)`` where ``r`` enters the bias (ridge saturates at ``r = 1``);
        ``False`` gives the paper's unsaturated formulas.

    Returns
    -------
    ScalingLaw
        Exponents, the rate, ``ell_crit``, ``ell*``, the optimal and clean rates and the
        crossover, with :meth:`ScalingLaw.latex`.

    Raises
    ------
    ValueError
        For numeric inputs out of range (see :func:`rate`).

    References
    ----------
    Dohmatob, Feng & Kempe (2024), Section 5; ``docs/theory/scaling.rst``.
    """
    sym = symbols()
    vals = {"beta": beta, "r": r, "ell": ell, "a": a, "b": b, "delta": delta}
    numeric = {k: x for k, x in vals.items() if x is not None and _is_number(x)}
    _check_exponents(**{k: float(x) for k, x in numeric.items()})
    exprs = {k: (sym[k] if x is None else sympy.sympify(x)) for k, x in vals.items()
             if k != "delta"}
    d_exp = None if delta is None else sympy.sympify(delta)
    return _law(exprs["beta"], exprs["r"], exprs["ell"], exprs["a"], exprs["b"], noisy=noisy,
                collapse=collapse, delta=d_exp, saturate=saturate)


def critical_exponent(beta: Exponent, r: Exponent, *, saturate: bool = True) -> Exponent:
    r"""Clean optimal regularisation exponent ``ell_crit = beta / (1 + 2 beta min(r, 1))``.

    ``lam = T^-ell_crit`` balances the bias ``T^(-2 min(r,1) ell)`` against the variance
    ``T^(-(1 - ell/beta))`` and gives the minimax rate ``2 beta r'/(1 + 2 beta r')``.

    Parameters
    ----------
    beta : float or sympy expression
        Spectral decay, ``> 1``.
    r : float or sympy expression
        Source exponent, ``> 0``.
    saturate : bool, default True
        ``True``: ``min(r, 1)`` in place of ``r`` (ridge saturates; the true optimum of the
        deterministic equivalent for ``r > 1``).  ``False``: the paper's ``beta/(1 + 2 beta r)``.

    Returns
    -------
    float or sympy expression
        A float for numbers, a sympy expression for symbols.

    References
    ----------
    Dohmatob, Feng & Kempe (2024), Section 5 (``ell_crit``); Caponnetto & De Vito (2007).
    """
    args = {"beta": beta, "r": r}
    if _all_numbers(args):
        _check_exponents(beta=float(beta), r=float(r))
        rr = min(float(r), 1.0) if saturate else float(r)
        return float(beta) / (1.0 + 2.0 * float(beta) * rr)
    be, rs = sympy.sympify(beta), sympy.sympify(r)
    return _ell_crit(be, rs, saturate)


def optimal_exponent(beta: Exponent, r: Exponent, a: Exponent, b: Exponent, *,
                     noisy: bool = True, delta: Exponent | None = None,
                     saturate: bool = True) -> Exponent:
    r"""Optimal regularisation exponent ``ell*`` with synthetic labels of generation ``n = T^a``.

    With ``c = b - a`` (``d`` fixed; ``c = b - a + 1 - max(1, delta)`` for ``d ~ T^delta``):

    .. math::

        \ell^* = \begin{cases}
            \min(c, 1)\, \ell_{crit} & \sigma > 0, \\
            \min(c\, \ell_{crit}, \beta) & \sigma = 0,
        \end{cases}
        \qquad \text{clipped at } 0 .

    The noiseless line is the paper's ``min((b - a) ell_crit, beta)``; with label noise
    the variance ``T^(-(1 - ell/beta))`` caps the useful regularisation at ``ell_crit``
    (see the module notes).

    Parameters
    ----------
    beta, r, a, b : float or sympy expression
        As in :func:`rate`.
    noisy : bool, default True
        ``sigma > 0``.
    delta : float, sympy expression or None
        ``d ~ T^delta``; ``None``: ``d`` fixed.
    saturate : bool, default True
        Saturated ``ell_crit`` (see :func:`critical_exponent`).

    Returns
    -------
    float or sympy expression

    Examples
    --------
    >>> from kernelcollapse.theory import scaling
    >>> scaling.critical_exponent(2, 0.5)  # clean: beta / (1 + 2 beta r)
    0.6666666666666666
    >>> round(scaling.optimal_exponent(2, 0.5, 0.2, 0.5), 12)  # n = T^0.2, T0 = T^0.5
    0.2

    References
    ----------
    Dohmatob, Feng & Kempe (2024), Section 5 (adaptive regularisation).
    """
    args = {"beta": beta, "r": r, "a": a, "b": b}
    if delta is not None:
        args["delta"] = delta
    if _all_numbers(args):
        _check_exponents(**{k: float(x) for k, x in args.items()})
        beta_f = float(beta)
        ell_c = critical_exponent(beta_f, float(r), saturate=saturate)
        c = _gap_float(float(a), float(b), None if delta is None else float(delta))
        ell = min(c, 1.0) * ell_c if noisy else min(c * ell_c, beta_f)
        return max(ell, 0.0)
    be, rs, as_, bs = (sympy.sympify(x) for x in (beta, r, a, b))
    ds = None if delta is None else sympy.sympify(delta)
    return _ell_star(be, rs, as_, bs, noisy=noisy, delta=ds, saturate=saturate)


def rate(beta: Exponent, r: Exponent, ell: Exponent, a: Exponent, b: Exponent, *,
         noisy: bool = True, collapse: bool = True, delta: Exponent | None = None,
         saturate: bool = True) -> Exponent:
    r"""Decay exponent of the test error: ``E_test ~ T^(-rate)``.

    .. math::

        \mathrm{rate} = \min\big(2\min(r,1)\tilde\ell,\ [\sigma>0](1-\tilde\ell/\beta),\
        [\sigma_0>0](c - \tilde\ell/\beta)\big), \qquad \tilde\ell = \min(\ell, \beta),

    with ``c = b - a`` for fixed ``d`` (``b - a + 1 - max(1, delta)`` for ``d ~ T^delta``).
    A negative rate means the error grows with ``T``.

    Parameters
    ----------
    beta : float or sympy expression
        Spectral decay ``s_j = j^-beta``, ``> 1`` (trace class: the deterministic
        equivalents need ``sum_j s_j < infinity`` as ``d -> infinity``).
    r : float or sympy expression
        Source exponent, ``> 0``.
    ell : float or sympy expression
        Regularisation exponent ``lam = T^-ell``, ``>= 0``.
    a : float or sympy expression
        Generations ``n = T^a``, ``>= 0``.
    b : float or sympy expression
        Generator sample size ``T0 = T^b``, ``b > a`` and ``b > 0``.
    noisy : bool, default True
        Downstream label noise ``sigma > 0``.
    collapse : bool, default True
        Generator noise ``sigma0 > 0`` (the collapse term is present).
    delta : float, sympy expression or None
        ``d ~ T^delta`` with ``0 < delta < b`` (``T0 > d``); ``None``: ``d`` fixed.
    saturate : bool, default True
        ``min(r, 1)`` in the bias.

    Returns
    -------
    float or sympy expression
        A float when every input is a number (``inf`` only if every term is absent, which
        cannot happen: the bias is always there), else a sympy expression.

    Raises
    ------
    ValueError
        A numeric input out of range, naming it, its value and the valid range.

    References
    ----------
    Dohmatob, Feng & Kempe (2024), Section 5; ``docs/theory/scaling.rst``.
    """
    args = {"beta": beta, "r": r, "ell": ell, "a": a, "b": b}
    if delta is not None:
        args["delta"] = delta
    if _all_numbers(args):
        vals = {k: float(x) for k, x in args.items()}
        _check_exponents(**vals)
        exps = _exponents_float(vals["beta"], vals["r"], vals["ell"], vals["a"], vals["b"],
                                noisy=noisy, collapse=collapse, delta=vals.get("delta"),
                                saturate=saturate)
        return min(exps)
    be, rs, ls, as_, bs = (sympy.sympify(x) for x in (beta, r, ell, a, b))
    ds = None if delta is None else sympy.sympify(delta)
    return sympy.Min(*_exponents_sym(be, rs, ls, as_, bs, noisy=noisy, collapse=collapse,
                                     delta=ds, saturate=saturate))


# ----------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------


def _is_number(x) -> bool:
    if isinstance(x, bool):
        raise TypeError(f"expected a number or a sympy expression, got {x!r}")
    if isinstance(x, numbers.Real):
        return True
    if isinstance(x, sympy.Basic):
        return bool(x.is_number)
    raise TypeError(f"expected a number or a sympy expression, got {x!r}")


def _all_numbers(args: dict) -> bool:
    flags = {}
    for k, x in args.items():
        try:
            flags[k] = _is_number(x)
        except TypeError:
            raise TypeError(f"{k} must be a number or a sympy expression, got {x!r}") from None
    return all(flags.values())


# The range of each exponent, and why: (lower bound, strict, reason).
_RANGES = {
    "beta": (1.0, True, "a trace-class power-law spectrum s_j = j^-beta"),
    "r": (0.0, True, "source exponent"),
    "ell": (0.0, False, "lam = T^-ell must not grow with T"),
    "a": (0.0, False, "n = T^a generations, n >= 1"),
    "b": (0.0, True, "T0 = T^b samples per generator"),
    "delta": (0.0, True, "d ~ T^delta"),
}


def _check_exponents(**vals: float) -> None:
    """Range checks on the numeric inputs (those given)."""
    for k, x in vals.items():
        v.require(k, x, math.isfinite(x), "finite")
    for k, x in vals.items():
        low, strict, why = _RANGES[k]
        v.require(k, x, x > low if strict else x >= low,
                  f"{'>' if strict else '>='} {low:g} ({why})")
    if "a" in vals and "b" in vals and not vals["b"] > vals["a"]:
        raise ValueError(
            f"b must be > a (0 <= a < b: T0 = T^b must outgrow n = T^a), got "
            f"a={v.plain(vals['a'])}, b={v.plain(vals['b'])}"
        )
    if "delta" in vals and "b" in vals and not vals["delta"] < vals["b"]:
        raise ValueError(
            f"delta must be < b (least-squares generators need T0 = T^b > d = T^delta), "
            f"got delta={v.plain(vals['delta'])}, b={v.plain(vals['b'])}"
        )


# ----------------------------------------------------------------------------------------------
# Numeric core (plain floats; the symbolic core below is checked against it in the tests)
# ----------------------------------------------------------------------------------------------


def _gap_float(a: float, b: float, delta: float | None) -> float:
    return b - a + 1.0 - max(1.0, delta) if delta is not None else b - a


def _exponents_float(beta, r, ell, a, b, *, noisy, collapse, delta, saturate):
    le = min(ell, beta)
    rr = min(r, 1.0) if saturate else r
    e_bias = 2.0 * rr * le
    e_var = 1.0 - le / beta if noisy else math.inf
    e_coll = _gap_float(a, b, delta) - le / beta if collapse else math.inf
    return e_bias, e_var, e_coll


# ----------------------------------------------------------------------------------------------
# Symbolic core
# ----------------------------------------------------------------------------------------------


def _r_eff(r, saturate):
    return sympy.Min(r, 1) if saturate else r


def _gap_sym(a, b, delta):
    return b - a if delta is None else b - a + 1 - sympy.Max(1, delta)


def _ell_crit(beta, r, saturate):
    return beta / (1 + 2 * beta * _r_eff(r, saturate))


def _ell_star(beta, r, a, b, *, noisy, delta, saturate):
    ell_c = _ell_crit(beta, r, saturate)
    c = _gap_sym(a, b, delta)
    ell = sympy.Min(c, 1) * ell_c if noisy else sympy.Min(c * ell_c, beta)
    # c = b - a > 0 when d is fixed; only d ~ T^delta with delta > 1 can make it <= 0.
    return ell if delta is None else sympy.Max(ell, 0)


def _exponents_sym(beta, r, ell, a, b, *, noisy, collapse, delta, saturate):
    le = sympy.Min(ell, beta)
    e_bias = 2 * _r_eff(r, saturate) * le
    e_var = 1 - le / beta if noisy else sympy.oo
    e_coll = _gap_sym(a, b, delta) - le / beta if collapse else sympy.oo
    return e_bias, e_var, e_coll


def _law(beta, r, ell, a, b, *, noisy, collapse, delta, saturate) -> ScalingLaw:
    e_bias, e_var, e_coll = _exponents_sym(beta, r, ell, a, b, noisy=noisy, collapse=collapse,
                                           delta=delta, saturate=saturate)
    ell_c = _ell_crit(beta, r, saturate)
    if collapse:
        ell_s = _ell_star(beta, r, a, b, noisy=noisy, delta=delta, saturate=saturate)
    else:
        ell_s = ell_c if noisy else beta
    # Closed forms of rate(ell*) and of the clean rate: at ell* the bias balances the larger
    # of variance and collapse (2 r' ell* = min(c, 1) - ell*/beta when noisy), and ell* <= beta;
    # for c <= 0 (d >> T0/T) nothing decays, ell* = 0 and the rate is c.  The tests check these
    # against rate() at ell* and against a brute-force maximisation over ell.
    r_eff = _r_eff(r, saturate)
    clean = 2 * r_eff * (ell_c if noisy else beta)
    if not collapse:
        opt = clean
    elif delta is None:
        opt = 2 * r_eff * ell_s
    else:
        opt = sympy.Min(2 * r_eff * ell_s, _gap_sym(a, b, delta))
    # The corrected rate equals the clean one iff c >= 1 (noisy) or c >= 1 + 2 beta r'
    # (noiseless), c the collapse gap; in units of b - a (d fixed) that is the threshold.
    thresh = sympy.Integer(1) if noisy else 1 + 2 * beta * r_eff
    if delta is not None:
        thresh = thresh + sympy.Max(1, delta) - 1
    crossover = thresh if collapse else sympy.nan
    return ScalingLaw(
        bias=e_bias,
        variance=e_var,
        collapse=e_coll,
        rate=sympy.Min(e_bias, e_var, e_coll),
        ell_crit=ell_c,
        ell_star=ell_s,
        optimal_rate=opt,
        clean_rate=clean,
        crossover=crossover,
    )
