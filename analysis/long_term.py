"""Long-term outcomes from the event log: cohort return, retention, churn, return time.

Retention is a survival curve: a user's lifetime runs from their first request to their
last; it ends in churn when their last row is ``terminated`` (the user left for good) and is
*censored* otherwise. The curve is the Kaplan-Meier estimate (Kaplan & Meier, 1958), which
counts censored users as at risk until they drop out of view instead of treating them as
churned. Censoring has two causes, and they are timed differently:

* the user hit the env's horizon (their last row is ``truncated``: with a calendar, their
  next session would start after ``horizon_days``): they are known to be active up to the
  horizon, not only up to their last request, so they are censored at the end of follow-up
  (``horizon`` when given, else the longest lifetime observed in the unit, which is at
  least every churn time, so the estimate at every churn time is the same);
* the run ended first: censored at their last request.

Censoring a horizon-truncated user at their last request instead (the days between their
last session and the horizon are then unobserved) empties the at-risk set just before the
horizon, and the few churns there make the curve plunge on the last day.

The *initial cohort* is the users present at the log's first step: ``cohort_return``,
``churn_rate``, the retention curve and the cohort-return curve all follow that one
population, so their numbers agree (``churn_rate`` is one minus the curve's last value, and
the cohort-return curve ends at ``cohort_return``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recarena.analysis._frame import require, unit_keys
from recarena.errors import ConfigError

__all__ = ["churn_rate", "cohort_return", "cohort_return_curve", "cumulative_return",
           "initial_cohort", "kaplan_meier", "retention_curve", "return_time", "time_axis",
           "user_lifetimes"]


def cumulative_return(ev: pd.DataFrame) -> pd.DataFrame:
    """Per unit and step: ``reward_per_row`` (mean reward over the step's requests) and
    ``cumulative`` (its running sum: the return of one user *row* so far).

    A row is refilled with a new user when one leaves, so this is not any user's return;
    :func:`cohort_return_curve` follows the users themselves."""
    require(ev, ["step", "position", "reward"], "cumulative_return")
    keys = unit_keys(ev)
    first = ev[ev["position"] == 0]
    out = first.groupby(keys + ["step"], sort=True)["reward"].mean().rename(
        "reward_per_row").reset_index()
    out["cumulative"] = out.groupby(keys)["reward_per_row"].cumsum() if keys else \
        out["reward_per_row"].cumsum()
    return out


def initial_cohort(ev: pd.DataFrame) -> pd.DataFrame:
    """The users present at the log's first step: columns ``[seed, policy,] user_id``."""
    require(ev, ["step", "user_id"], "initial_cohort")
    keys = unit_keys(ev) + ["user_id"]
    return ev.loc[ev["step"] == ev["step"].min(), keys].drop_duplicates().reset_index(drop=True)


def time_axis(ev: pd.DataFrame) -> str:
    """``"day"`` when the log has a calendar (some ``day`` is positive), else ``"step"``:
    the time axis of lifetimes in :func:`churn_rate` and the report's plots."""
    return "day" if "day" in ev.columns and bool((ev["day"] > 0).any()) else "step"


def _check_time(time: str) -> None:
    if time not in ("step", "day"):
        raise ConfigError("time", time, "'step' or 'day'")


def user_lifetimes(ev: pd.DataFrame, time: str = "step",
                   horizon: float | None = None) -> pd.DataFrame:
    """One row per (unit, user): ``start`` and ``end`` (``time`` of the first and last
    request), ``churned`` (the last row is ``terminated``), ``at_horizon`` (the last row is
    ``truncated``: the user reached the env's horizon) and ``duration``: ``end - start``
    (plus one for ``time="step"``: a user seen at steps 3..5 lived 3 steps) for users who
    churned or whom the run cut off, and the end of follow-up for users at the horizon
    (``horizon`` when given, else the unit's longest duration; see the module docstring).
    """
    _check_time(time)
    require(ev, ["user_id", "position", time, "terminated"], "user_lifetimes")
    keys = unit_keys(ev) + ["user_id"]
    cols = ["step", time] if time != "step" else ["step"]
    trunc = ev["truncated"] if "truncated" in ev.columns else pd.Series(False, index=ev.index)
    first = ev.loc[ev["position"] == 0, keys + cols + ["terminated"]].assign(
        _trunc=trunc[ev["position"] == 0].to_numpy())
    first = first.sort_values(keys + ["step"], kind="stable")
    g = first.groupby(keys, sort=True)
    out = g.agg(start=(time, "first"), end=(time, "last"), churned=("terminated", "last"),
                at_horizon=("_trunc", "last")).reset_index()
    out["churned"] = out["churned"].astype(bool)
    out["at_horizon"] = out["at_horizon"].astype(bool) & ~out["churned"]
    out["duration"] = (out["end"] - out["start"] + (1 if time == "step" else 0)).astype(
        np.float64)
    if out["at_horizon"].any():
        ukeys = unit_keys(ev)
        longest = (out.groupby(ukeys)["duration"].transform("max") if ukeys
                   else pd.Series(out["duration"].max(), index=out.index))
        follow = longest if horizon is None else np.maximum(longest, float(horizon))
        out.loc[out["at_horizon"], "duration"] = np.maximum(
            out.loc[out["at_horizon"], "duration"], follow[out["at_horizon"]])
    return out[keys + ["start", "end", "churned", "at_horizon", "duration"]]


def kaplan_meier(durations: np.ndarray, churned: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Kaplan-Meier survival ``S(t)`` at each ``t`` in ``grid``: the share still active
    after ``t``. A churn at duration ``d`` removes the user from time ``d`` on; a user
    censored at ``d`` is at risk at every churn time up to and including ``d``.

    >>> kaplan_meier(np.array([1., 2., 3.]), np.array([True, False, True]), np.array([0., 1., 3.]))
    array([1.        , 0.66666667, 0.        ])
    """
    d = np.asarray(durations, dtype=np.float64)
    e = np.asarray(churned, dtype=bool)
    grid = np.asarray(grid, dtype=np.float64)
    times, deaths = np.unique(d[e], return_counts=True)
    if times.size == 0:  # nobody churned: everyone retained
        return np.ones(grid.shape)
    at_risk = d.size - np.searchsorted(np.sort(d), times, side="left")
    surv = np.cumprod(1.0 - deaths / at_risk)
    idx = np.searchsorted(times, grid, side="right") - 1
    return np.where(idx >= 0, surv[np.maximum(idx, 0)], 1.0)


def _cohort_lifetimes(ev: pd.DataFrame, time: str, horizon: float | None,
                      cohort: str) -> pd.DataFrame:
    if cohort not in ("initial", "all"):
        raise ConfigError("cohort", cohort, "'initial' or 'all'")
    life = user_lifetimes(ev, time, horizon)
    if cohort == "initial":
        keys = unit_keys(ev) + ["user_id"]
        life = life.merge(initial_cohort(ev), on=keys)
    return life


def retention_curve(ev: pd.DataFrame, time: str = "step", grid: np.ndarray | None = None,
                    cohort: str = "initial", horizon: float | None = None) -> pd.DataFrame:
    """Kaplan-Meier share of users still active after each ``time`` in ``grid``, per unit
    (lifetimes and censoring as :func:`user_lifetimes`).

    ``cohort="initial"`` follows the users present at the first step (a clean cohort);
    ``"all"`` every user, aligned on their own start. ``grid`` defaults to 50 points from
    0 to the longest duration. Returns columns ``[seed, policy,] t, retained``.
    """
    life = _cohort_lifetimes(ev, time, horizon, cohort)
    keys = unit_keys(ev)
    if grid is None:
        top = float(life["duration"].max()) if len(life) else 1.0
        grid = np.linspace(0.0, top, 50)
    grid = np.asarray(grid, dtype=np.float64)
    frames = []
    groups = life.groupby(keys, sort=True) if keys else [((), life)]
    for key, part in groups:
        surv = kaplan_meier(part["duration"].to_numpy(), part["churned"].to_numpy(), grid)
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        frames.append(pd.DataFrame({**{k: [v] * len(grid) for k, v in row.items()},
                                    "t": grid, "retained": surv}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=keys + ["t", "retained"])


def _cohort_rewards(ev: pd.DataFrame, time: str) -> tuple[pd.DataFrame, pd.Series]:
    """The initial cohort's rows with ``tau`` (``time`` since the user's first request) and
    the cohort's size per unit."""
    require(ev, ["step", "user_id", "reward", time], "cohort return")
    keys = unit_keys(ev) + ["user_id"]
    cohort = initial_cohort(ev)
    rows = ev[keys + [time, "reward"]].merge(cohort, on=keys)
    start = rows.groupby(keys)[time].transform("min")
    rows = rows.assign(tau=(rows[time] - start).astype(np.float64))
    ukeys = unit_keys(ev)
    size = cohort.groupby(ukeys).size() if ukeys else pd.Series([len(cohort)])
    return rows, size


def cohort_return(ev: pd.DataFrame) -> float:
    """Mean total reward of the users present at the log's first step (the initial
    cohort), over everything the log holds of them: the long-term value of a policy.
    Over a log of several units, the mean over all their cohort users."""
    rows, size = _cohort_rewards(ev, "step")
    total = int(size.sum())
    return float(rows["reward"].sum() / total) if total else float("nan")


def cohort_return_curve(ev: pd.DataFrame, time: str = "step",
                        grid: np.ndarray | None = None) -> pd.DataFrame:
    """Mean cumulative reward per user of the initial cohort, against ``time`` since the
    user's first request: at ``t``, the mean over the cohort's users of the reward each
    collected within ``t`` of their start (users who left keep their total). Past the
    last request of the log it equals :func:`cohort_return` of the unit.

    ``grid`` defaults to every step (``time="step"``) or 121 points (``"day"``) from 0 to
    the longest follow-up. Returns columns ``[seed, policy,] t, cohort_return``.
    """
    _check_time(time)
    rows, size = _cohort_rewards(ev, time)
    ukeys = unit_keys(ev)
    if grid is None:
        top = float(rows["tau"].max()) if len(rows) else 0.0
        grid = np.arange(0.0, top + 1.0) if time == "step" else np.linspace(0.0, top, 121)
    grid = np.asarray(grid, dtype=np.float64)
    per_tau = rows.groupby(ukeys + ["tau"], sort=True)["reward"].sum().reset_index()
    frames = []
    groups = per_tau.groupby(ukeys, sort=True) if ukeys else [((), per_tau)]
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        n = int(size.loc[key] if ukeys else size.iloc[0])
        cum = np.cumsum(part["reward"].to_numpy()) / n
        idx = np.searchsorted(part["tau"].to_numpy(), grid, side="right") - 1
        values = np.where(idx >= 0, cum[np.maximum(idx, 0)], 0.0)
        row = dict(zip(ukeys, key, strict=True))
        frames.append(pd.DataFrame({**{k: [v] * len(grid) for k, v in row.items()},
                                    "t": grid, "cohort_return": values}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=ukeys + ["t", "cohort_return"])


def churn_rate(ev: pd.DataFrame, time: str | None = None) -> float:
    """Share of the initial cohort who churned (their last request is ``terminated``)
    during the log: one minus the Kaplan-Meier retention of that cohort after its longest
    follow-up (the last value of :func:`retention_curve`). When no cohort user is censored
    before the last churn (the run follows the cohort to the end, or every censoring is at
    the horizon), it is the plain share of the cohort who churned. ``time`` (default
    :func:`time_axis`) orders churns and censorings. Over a log of several units, the mean
    of the units' rates."""
    life = _cohort_lifetimes(ev, time or time_axis(ev), None, "initial")
    if not len(life):
        return float("nan")
    keys = unit_keys(ev)
    groups = life.groupby(keys, sort=True) if keys else [((), life)]
    rates = [1.0 - float(kaplan_meier(p["duration"].to_numpy(), p["churned"].to_numpy(),
                                      np.array([np.inf]))[0]) for _, p in groups]
    return float(np.mean(rates))


def return_time(ev: pd.DataFrame) -> float:
    """Mean days between the end of a session and the start of the user's next one (NaN
    when no user came back, e.g. envs without a calendar)."""
    require(ev, ["user_id", "session_id", "day", "position"], "return_time")
    keys = unit_keys(ev) + ["user_id"]
    first = ev[ev["position"] == 0]
    s = first.groupby(keys + ["session_id"], sort=True)["day"].agg(["first", "last"]).reset_index()
    s = s.sort_values(keys + ["session_id"], kind="stable")
    nxt = s.groupby(keys)["first"].shift(-1)
    gaps = (nxt - s["last"]).dropna()
    return float(gaps.mean()) if len(gaps) else float("nan")
