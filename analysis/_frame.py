"""Shared checks for analysis functions (they take pandas DataFrames of the event log)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from recarena.errors import DataError

#: the columns that identify one unit of a run (present in logs the runner writes)
UNIT_KEYS = ("seed", "policy")


def require(df: Any, columns: Iterable[str], what: str) -> None:
    """Raise DataError naming the columns ``what`` needs and the log lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        hint = (" (privileged truth: logs of real systems have no oracle_ columns)"
                if any(c.startswith("oracle_") for c in missing) else "")
        raise DataError(f"{what} needs the column(s) {', '.join(missing)}; the log has "
                        f"{', '.join(map(str, df.columns))}{hint}")


def unit_keys(df: Any) -> list[str]:
    """The unit columns present in ``df`` (metrics are computed per unit)."""
    return [k for k in UNIT_KEYS if k in df.columns]


def slate_size(df: Any) -> int:
    """K: one more than the largest position in the log."""
    return int(df["position"].max()) + 1 if len(df) else 0
