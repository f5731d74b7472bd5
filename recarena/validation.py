"""Validation helpers shared by every public constructor.

Each raises :class:`recarena.errors.ConfigError` naming the field, the value received and
what is allowed (the Open Bandit Pipeline's ``check_scalar`` is the model).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from recarena.errors import ConfigError

__all__ = ["check_choice", "check_float", "check_float_vector", "check_int", "check_probability"]


def check_int(value: Any, name: str, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]``; bools and non-integral numbers are rejected."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok and hasattr(value, "dtype") and getattr(value, "shape", None) == ():
        ok = value.dtype.kind in "iu"
    if not ok:
        raise ConfigError(name, value, _range_text("an integer", low, high))
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(name, value, _range_text("an integer", low, high))
    return value


def check_float(value: Any, name: str, low: float | None = None, high: float | None = None,
                *, low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float in the given (open or closed) interval."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not (
        hasattr(value, "dtype") and getattr(value, "shape", None) == ()
        and value.dtype.kind in "iuf"
    ):
        raise ConfigError(name, value, _interval_text(low, high, low_open, high_open))
    value = float(value)
    bad = not math.isfinite(value)
    if low is not None:
        bad |= value <= low if low_open else value < low
    if high is not None:
        bad |= value >= high if high_open else value > high
    if bad:
        raise ConfigError(name, value, _interval_text(low, high, low_open, high_open))
    return value


def check_probability(value: Any, name: str) -> float:
    """``value`` as a float in ``[0, 1]``."""
    return check_float(value, name, 0.0, 1.0)


def check_float_vector(values: Sequence[float] | np.ndarray, name: str, length: int | None = None,
                       low: float = -math.inf, high: float = math.inf) -> np.ndarray:
    """``values`` as a 1-D float64 array (of ``length`` entries if given), every entry finite
    and in ``[low, high]``."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(name, values, "a 1-D sequence of numbers") from None
    if arr.ndim != 1 or (length is not None and arr.shape[0] != length):
        want = f"length {length}" if length is not None else "1-D"
        raise ConfigError(name, values, f"a {want} sequence of numbers")
    if not np.all(np.isfinite(arr)) or np.any(arr < low) or np.any(arr > high):
        raise ConfigError(name, values, f"finite values in [{low}, {high}]")
    return arr


def check_choice(value: Any, name: str, allowed: Iterable[Any]) -> Any:
    """``value`` if it is one of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ConfigError(name, value, "one of " + ", ".join(repr(a) for a in allowed))
    return value


def _range_text(what: str, low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"{what} in [{low}, {high}]"
    if low is not None:
        return f"{what} >= {low}"
    if high is not None:
        return f"{what} <= {high}"
    return what


def _interval_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    lo = "-inf" if low is None else repr(low)
    hi = "inf" if high is None else repr(high)
    return f"a finite number in {'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
