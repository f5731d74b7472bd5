"""Long-term outcomes from the event log: cumulative return, retention, churn, return time.

Retention is a survival curve: a user's lifetime runs from their first request to their
last; it ends in churn when their last row is ``terminated`` (the user left for good) and is
*censored* otherwise (the run, or the horizon, ended first). The curve is the Kaplan-Meier
estimate (Kaplan & Meier, 1958), which counts censored users as at risk until they drop
out of view instead of treating them as churned.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recarena.analysis._frame import require, unit_keys
from recarena.errors import ConfigError

__all__ = ["churn_rate", "cohort_return", "cumulative_return", "kaplan_meier", "retention_curve",
           "return_time", "user_lifetimes"]


def cumulative_return(ev: pd.DataFrame) -> pd.DataFrame:
    """Per unit and step: ``reward_per_row`` (mean reward over the step's requests) and
    ``cumulative`` (its running sum: the expected return of one user row so far)."""
    require(ev, ["step", "position", "reward"], "cumulative_return")
    keys = unit_keys(ev)
    first = ev[ev["position"] == 0]
    out = first.groupby(keys + ["step"], sort=True)["reward"].mean().rename(
        "reward_per_row").reset_index()
    out["cumulative"] = out.groupby(keys)["reward_per_row"].cumsum() if keys else \
        out["reward_per_row"].cumsum()
    return out


def user_lifetimes(ev: pd.DataFrame, time: str = "step") -> pd.DataFrame:
    """One row per (unit, user): ``start`` and ``end`` (``time`` of the first and last
    request), ``duration`` (``end - start``, plus one for ``time="step"``: a user seen at
    steps 3..5 lived 3 steps) and ``churned`` (the last row is ``terminated``)."""
    if time not in ("step", "day"):
        raise ConfigError("time", time, "'step' or 'day'")
    require(ev, ["user_id", "position", time, "terminated"], "user_lifetimes")
    keys = unit_keys(ev) + ["user_id"]
    first = ev[ev["position"] == 0].sort_values(keys + ["step"], kind="stable")
    g = first.groupby(keys, sort=True)
    out = g.agg(start=(time, "first"), end=(time, "last"), churned=("terminated", "last"))
    out["duration"] = out["end"] - out["start"] + (1 if time == "step" else 0)
    return out.reset_index()


def kaplan_meier(durations: np.ndarray, churned: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Kaplan-Meier survival ``S(t)`` at each ``t`` in ``grid``: the share still active
    after ``t``. A churn at duration ``d`` removes the user from time ``d`` on.

    >>> kaplan_meier(np.array([1., 2., 3.]), np.array([True, False, True]), np.array([0., 1., 3.]))
    array([1.        , 0.66666667, 0.        ])
    """
    d = np.asarray(durations, dtype=np.float64)
    e = np.asarray(churned, dtype=bool)
    grid = np.asarray(grid, dtype=np.float64)
    times = np.unique(d[e])
    if times.size == 0:  # nobody churned: everyone retained
        return np.ones(grid.shape)
    surv = np.ones(times.size)
    s = 1.0
    for j, t in enumerate(times):
        at_risk = np.count_nonzero(d >= t)
        deaths = np.count_nonzero((d == t) & e)
        if at_risk:
            s *= 1.0 - deaths / at_risk
        surv[j] = s
    idx = np.searchsorted(times, grid, side="right") - 1
    return np.where(idx >= 0, surv[np.maximum(idx, 0)], 1.0)


def retention_curve(ev: pd.DataFrame, time: str = "step", grid: np.ndarray | None = None,
                    cohort: str = "initial") -> pd.DataFrame:
    """Share of users still active after each ``time`` in ``grid``, per unit.

    ``cohort="initial"`` follows the users present at the first step (a clean cohort);
    ``"all"`` every user, aligned on their own start. Returns columns ``[seed, policy,]
    t, retained``.
    """
    if cohort not in ("initial", "all"):
        raise ConfigError("cohort", cohort, "'initial' or 'all'")
    life = user_lifetimes(ev, time)
    keys = unit_keys(ev)
    if cohort == "initial":
        first = ev["step"].min()
        starters = ev[(ev["step"] == first) & (ev["position"] == 0)][keys + ["user_id"]]
        life = life.merge(starters, on=keys + ["user_id"])
    if grid is None:
        top = float(life["duration"].max()) if len(life) else 1.0
        grid = np.linspace(0.0, top, 50)
    frames = []
    groups = life.groupby(keys, sort=True) if keys else [((), life)]
    for key, part in groups:
        surv = kaplan_meier(part["duration"].to_numpy(), part["churned"].to_numpy(), grid)
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        frames.append(pd.DataFrame({**{k: [v] * len(grid) for k, v in row.items()},
                                    "t": grid, "retained": surv}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=keys + ["t", "retained"])


def cohort_return(ev: pd.DataFrame) -> float:
    """Mean total reward of the users present at the log's first step (the initial
    cohort), over everything the log holds of them: the long-term value of a policy."""
    require(ev, ["step", "user_id", "reward"], "cohort_return")
    first = ev["step"].min()
    keys = unit_keys(ev) + ["user_id"]
    cohort = ev.loc[ev["step"] == first, keys].drop_duplicates()
    totals = ev.groupby(keys)["reward"].sum().reset_index()
    return float(totals.merge(cohort, on=keys)["reward"].mean()) if len(cohort) else float("nan")


def churn_rate(ev: pd.DataFrame) -> float:
    """Share of users whose last request ended in churn (``terminated``)."""
    life = user_lifetimes(ev)
    return float(life["churned"].mean()) if len(life) else float("nan")


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
