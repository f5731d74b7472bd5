"""Inequality measures on plain arrays: the one Gini and Lorenz curve of the package.

A leaf module (numpy only), so that both the analysis of event logs
(:mod:`recarena.analysis.diversity`) and the validation of fitted users
(:mod:`recarena.simulators.data.fidelity`) use the same definition without the simulator
importing the analysis layer.
"""

from __future__ import annotations

import numpy as np

__all__ = ["gini", "lorenz"]


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0: equal; ``1 - 1/n``: one holder).

    The sample form ``sum_i (2i - n - 1) x_(i) / (n sum x)`` over values sorted ascending;
    ``nan`` when there is nothing to share.

    >>> gini(np.array([1.0, 1.0, 1.0, 1.0]))
    0.0
    >>> gini(np.array([0.0, 0.0, 0.0, 4.0]))
    0.75
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = x.size
    if n == 0 or x.sum() <= 0:
        return float("nan")
    i = np.arange(1, n + 1)
    return float(np.sum((2 * i - n - 1) * x) / (n * x.sum()))


def lorenz(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curve: cumulative share of holders (poorest first) vs cumulative share held.

    >>> lorenz(np.array([0.0, 1.0, 3.0]))[1].tolist()
    [0.0, 0.0, 0.25, 1.0]
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    cum = np.concatenate([[0.0], np.cumsum(x)])
    return np.linspace(0.0, 1.0, x.size + 1), cum / cum[-1] if cum[-1] > 0 else cum
