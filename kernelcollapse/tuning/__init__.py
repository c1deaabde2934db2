"""Tuning on a practitioner's rows: the penalty and the weight of synthetic rows recommended
from the labels the user has (:func:`recommend`, :class:`Recommendation`).

The scikit-learn estimator built on it is :class:`kernelcollapse.estimator.CollapseAwareRidge`.
The estimator of the chain from the user's rows and its check are described in
``docs/theory/optimize.rst``.
"""

from __future__ import annotations

from kernelcollapse.tuning._recommend import Recommendation, recommend

__all__ = ["Recommendation", "recommend"]
