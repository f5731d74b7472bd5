"""Validation helpers shared by every public constructor.

Each raises :class:`recarena.errors.ConfigError` naming the field, the value received and
what is allowed (the Open Bandit Pipeline's ``check_scalar`` is the model).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from recarena.errors import ConfigError

__all__ = ["check_choice", "check_float", "check_int", "check_probability"]


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
