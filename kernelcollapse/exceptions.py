"""The library's own errors and warnings, so that callers can catch or filter them by class.

Bad arguments raise the built-in ``ValueError`` or ``TypeError`` (with the argument, the value
and the valid range in the message); the classes here mark what is particular to the library.
"""

from __future__ import annotations

__all__ = ["NoiseUnidentified", "UnreliableRecommendation"]


class NoiseUnidentified(ValueError):
    """The labels do not determine the label noise: pass ``sigma`` (the noise of the real
    labels) instead."""


class UnreliableRecommendation(UserWarning):
    """:func:`kernelcollapse.recommend` cannot vouch for its choice (``Recommendation.reliable``
    is False): the message says why and what would help; the recommendation is then the
    safest choice the data support."""
