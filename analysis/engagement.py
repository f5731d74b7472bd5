"""Engagement from the event log: CTR, clicks and watch time per session, session length.

All functions take the ``impressions`` table (one row per shown item, see
:mod:`recarena.eventlog`) as a pandas DataFrame and work on simulated and real logs alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recarena.analysis._frame import require, unit_keys

__all__ = ["ctr", "engagement_summary", "per_step", "sessions"]


def ctr(ev: pd.DataFrame) -> float:
    """Clicks per impression (NaN on an empty log)."""
    require(ev, ["clicked"], "ctr")
    return float(ev["clicked"].mean()) if len(ev) else float("nan")


def sessions(ev: pd.DataFrame) -> pd.DataFrame:
    """One row per (unit, user, session): ``steps`` (requests), ``impressions``, ``clicks``,
    ``watch_time``, ``return`` (summed reward) and ``complete`` (the session ended in the
    log: the user left, churned or hit the horizon; incomplete sessions were cut off by the
    end of the run)."""
    require(ev, ["user_id", "session_id", "step", "position", "clicked", "watch_time", "reward",
                 "left", "terminated", "truncated"], "sessions")
    keys = unit_keys(ev) + ["user_id", "session_id"]
    ended = ev["left"] | ev["terminated"] | ev["truncated"]
    g = ev.assign(_ended=ended, _req=ev["position"] == 0).groupby(keys, sort=True)
    out = g.agg(steps=("_req", "sum"), impressions=("clicked", "size"),
                clicks=("clicked", "sum"), watch_time=("watch_time", "sum"),
                **{"return": ("reward", "sum")}, complete=("_ended", "any"))
    return out.reset_index()


def engagement_summary(ev: pd.DataFrame) -> dict[str, float]:
    """``ctr``, ``reward_per_step``, ``watch_time_per_step`` (per request) and, over
    complete sessions, ``clicks_per_session``, ``watch_time_per_session``,
    ``session_length`` (requests) and ``return_per_session``; NaN where undefined."""
    s = sessions(ev)
    done = s[s["complete"]]
    requests = float((ev["position"] == 0).sum())
    nan = float("nan")

    def mean(col: str) -> float:
        return float(done[col].mean()) if len(done) else nan

    return {
        "ctr": ctr(ev),
        "reward_per_step": float(ev["reward"].sum()) / requests if requests else nan,
        "watch_time_per_step": float(ev["watch_time"].sum()) / requests if requests else nan,
        "clicks_per_session": mean("clicks"),
        "watch_time_per_session": mean("watch_time"),
        "session_length": mean("steps"),
        "return_per_session": mean("return"),
    }


def per_step(ev: pd.DataFrame, window: int = 1) -> pd.DataFrame:
    """Aggregates per unit and window of ``window`` steps (``step`` is the window start):
    ``requests``, ``impressions``, ``clicks``, ``reward``, ``watch_time``, ``ctr`` and
    ``reward_per_request``."""
    require(ev, ["step", "position", "clicked", "reward", "watch_time"], "per_step")
    if not isinstance(window, (int, np.integer)) or window < 1:
        from recarena.errors import ConfigError

        raise ConfigError("window", window, "a positive integer number of steps")
    keys = unit_keys(ev)
    frame: Any = ev.assign(step=(ev["step"] // window) * window, _req=ev["position"] == 0)
    out = frame.groupby(keys + ["step"], sort=True).agg(
        requests=("_req", "sum"), impressions=("clicked", "size"), clicks=("clicked", "sum"),
        reward=("reward", "sum"), watch_time=("watch_time", "sum")).reset_index()
    out["ctr"] = out["clicks"] / out["impressions"]
    out["reward_per_request"] = out["reward"] / out["requests"]
    return out
