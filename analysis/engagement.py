"""Engagement from the event log: CTR, clicks and watch time per session, session length,
and the expected regret of slates against the best slate of the same candidates.

All functions take the ``impressions`` table (one row per shown item, see
:mod:`recarena.eventlog`) as a pandas DataFrame and work on simulated and real logs alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recarena.analysis._frame import require, unit_keys
from recarena.errors import ConfigError

__all__ = ["ctr", "cumulative_regret", "engagement_summary", "per_step", "sessions",
           "slate_regret"]


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
        raise ConfigError("window", window, "a positive integer number of steps")
    keys = unit_keys(ev)
    frame: Any = ev.assign(step=(ev["step"] // window) * window, _req=ev["position"] == 0)
    out = frame.groupby(keys + ["step"], sort=True).agg(
        requests=("_req", "sum"), impressions=("clicked", "size"), clicks=("clicked", "sum"),
        reward=("reward", "sum"), watch_time=("watch_time", "sum")).reset_index()
    out["ctr"] = out["clicks"] / out["impressions"]
    out["reward_per_request"] = out["reward"] / out["requests"]
    return out


def slate_regret(ev: pd.DataFrame, model: str = "cascade") -> pd.DataFrame:
    """Expected regret of every slate: the expected reward of the best slate of the same
    candidates minus that of the slate shown, from the privileged columns
    ``oracle_relevance`` (of the item shown at each position) and
    ``oracle_ideal_relevance`` (of the best candidate for that position).

    ``model="cascade"``: relevance is a click (attraction) probability ``w`` and the user
    clicks at most once, scanning top-down (Kveton et al. 2015): the expected reward of a
    slate ``A`` is ``1 - prod_{e in A} (1 - w(e))``, so the regret is
    ``prod (1 - w(shown)) - prod (1 - w(best))``. ``model="sum"``: the expected reward is
    the sum of the relevances. Returns ``[seed, policy,] step, user_id, regret``.

    >>> ev = pd.DataFrame({"step": 0, "user_id": 0, "position": [0, 1],
    ...                    "oracle_relevance": [0.05, 0.2], "oracle_ideal_relevance": [0.2, 0.2]})
    >>> round(float(slate_regret(ev)["regret"].iloc[0]), 4)  # 0.95 * 0.8 - 0.8 * 0.8
    0.12
    """
    require(ev, ["step", "user_id", "position", "oracle_relevance", "oracle_ideal_relevance"],
            "slate_regret")
    rel = ev["oracle_relevance"].to_numpy(np.float64)
    ideal = ev["oracle_ideal_relevance"].to_numpy(np.float64)
    keys = unit_keys(ev) + ["step", "user_id"]
    if model == "cascade":
        if np.nanmin(np.concatenate([rel, ideal, [0.0]])) < 0 or \
                np.nanmax(np.concatenate([rel, ideal, [0.0]])) > 1:
            raise ConfigError("model", model, "relevances in [0, 1] (click probabilities); "
                              "this log's are not: use model='sum'")
        with np.errstate(divide="ignore"):
            frame = ev[keys].assign(a=np.log1p(-rel), b=np.log1p(-ideal))
        s = frame.groupby(keys, sort=True)[["a", "b"]].sum().reset_index()
        regret = np.exp(s["a"].to_numpy()) - np.exp(s["b"].to_numpy())
    elif model == "sum":
        frame = ev[keys].assign(a=rel, b=ideal)
        s = frame.groupby(keys, sort=True)[["a", "b"]].sum().reset_index()
        regret = s["b"].to_numpy() - s["a"].to_numpy()
    else:
        raise ConfigError("model", model, "'cascade' or 'sum'")
    return s[keys].assign(regret=regret)


def cumulative_regret(ev: pd.DataFrame, model: str = "cascade") -> pd.DataFrame:
    """Per unit and step: ``regret`` (mean :func:`slate_regret` over the step's requests:
    the regret of one user row) and ``cumulative_regret`` (its running sum over steps).
    Returns ``[seed, policy,] step, regret, cumulative_regret``."""
    r = slate_regret(ev, model)
    keys = unit_keys(ev)
    out = r.groupby(keys + ["step"], sort=True)["regret"].mean().reset_index()
    out["cumulative_regret"] = (out.groupby(keys)["regret"].cumsum() if keys
                                else out["regret"].cumsum())
    return out
