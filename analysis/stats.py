"""Confidence intervals across seeds: each seed is one independent replicate.

Within a seed every policy faces the same users and the same exogenous randomness
(common random numbers), so policy comparisons are *paired* by seed: the interval of a
difference is the t-interval of the per-seed differences, usually much tighter than the
two marginal intervals suggest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["band_note", "mean_ci", "mean_ci_by", "paired_difference"]


def mean_ci(values: Sequence[float] | np.ndarray, level: float = 0.95) -> dict[str, float | int | None]:
    """Mean and Student-t confidence interval of per-seed values (NaNs dropped).

    Returns ``{"mean", "low", "high", "n"}``; ``low``/``high`` are ``None`` with fewer than
    two finite values, and everything is ``None`` with none.

    >>> mean_ci([1.0, 2.0, 3.0])["mean"]
    2.0
    """
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return {"mean": None, "low": None, "high": None, "n": 0}
    mean = float(x.mean())
    if n < 2:
        return {"mean": mean, "low": None, "high": None, "n": n}
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": n}


def paired_difference(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray,
                      level: float = 0.95) -> dict[str, float | int | None]:
    """CI of ``a - b`` where ``a[i]`` and ``b[i]`` come from the same seed."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired values need equal lengths; received {a.shape} and {b.shape}")
    return mean_ci(a - b, level)


def mean_ci_by(frame: Any, by: str | list[str], value: str, level: float = 0.95) -> Any:
    """:func:`mean_ci` of ``value`` within each group of ``by`` (vectorised): a pandas
    DataFrame with columns ``by``, ``mean``, ``low``, ``high`` and ``n`` (``low``/``high``
    NaN where a group has fewer than two finite values). Each row of ``frame`` is one
    seed's value, so this is the band across seeds that the report's curves draw.

    >>> import pandas as pd
    >>> mean_ci_by(pd.DataFrame({"t": [0, 0, 0], "y": [1.0, 2.0, 3.0]}), "t", "y")["mean"].tolist()
    [2.0]
    """
    from scipy import stats

    keys = [by] if isinstance(by, str) else list(by)
    finite = frame[np.isfinite(frame[value].to_numpy(np.float64))]
    g = finite.groupby(keys, sort=True)[value]
    out = g.agg(mean="mean", sd="std", n="count").reset_index()  # std: ddof=1
    n = out["n"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1)) * out["sd"].to_numpy() \
            / np.sqrt(n)
    half = np.where(n >= 2, half, np.nan)
    out["low"] = out["mean"] - half
    out["high"] = out["mean"] + half
    return out[keys + ["mean", "low", "high", "n"]]


def band_note(seeds: int, level: float = 0.95) -> str:
    """What a shaded band across ``seeds`` seeds is, in words (for figure captions).

    >>> band_note(1)
    'One seed: no band'
    """
    if seeds < 2:
        return "One seed: no band"
    return f"Line: mean over {seeds} seeds; band: {level:.0%} t-interval across the {seeds} seeds"
