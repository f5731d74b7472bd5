"""Creator-side outcomes from the event log: survival, inequality, catalog diversity,
topic migration, and the users' engagement beside them.

Reads the ``creators`` and ``catalog`` tables that a world with a creator population
writes once per *creator round* (every ``round_length`` user steps), and ``impressions``
for the users' side; never a simulator object.

``creators`` (one row per creator present in a round)
    ``seed, policy, round, step, creator_id, entered_round, alive, left, topic,
    home_topic, effort, items, live_items, exposure, clicks, watch_time, income``:
    ``step`` is the env step at the round's end, ``left`` marks the round at whose end the
    creator left (its row then has ``alive`` False; it is not logged after), ``topic`` the
    topic of most of its items produced in the round (-1 if none), ``entered_round`` the
    round at whose end it entered (-1: there from the start; an entrant's first row is
    that round, in which it could not be shown yet), ``home_topic`` the argmax
    of its expertise, ``exposure``/``clicks``/``watch_time`` what its items earned in the
    round and ``income`` what the platform's creator reward paid it.
``catalog`` (one row per round and topic)
    ``seed, policy, round, step, topic, live_items, new_items, exposure, clicks,
    watch_time``.

Definitions (each function says its own in full):

* a creator is identified by ``(creator_id, entered_round)`` within a unit, so a slot
  reused by an entrant is a new creator;
* *lifetime*: the number of whole rounds a creator was active in, ``last round -
  entered_round`` (it enters at the end of ``entered_round`` and leaves, if it does, at the
  end of its last round). It ends in an *exit* when its last row has ``left``; a creator
  still present at the unit's last round is *right-censored* there (the run ended, not the
  creator), as is one that drops out of the log without ``left`` (censored at its last
  round);
* *present in a round*: active during it: every row of the round but those of creators
  that entered at its end (``round == entered_round``); leavers count in their last round;
* *survival* ``S(t)``: the Kaplan-Meier estimate (Kaplan & Meier, 1958) of the share of
  creators still active after ``t`` rounds since their entry, with Greenwood's (1926)
  variance for one curve (:func:`kaplan_meier_table`);
* *Gini*: :func:`recarena.inequality.gini`, the package's one Gini, over the creators
  present in a round.

Every ``*_over_time`` function returns one row per unit (``seed``, ``policy``) and round;
:func:`over_seeds` turns any of them into the mean across seeds with its 95% t-interval
per policy and round (each seed is one independent replicate, :mod:`.stats`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from recarena.analysis._frame import require, unit_keys
from recarena.analysis.long_term import kaplan_meier
from recarena.analysis.stats import mean_ci_by
from recarena.errors import ConfigError, DataError
from recarena.inequality import gini

__all__ = ["CATALOG_COLUMNS", "CREATOR_COLUMNS", "CREATOR_METRICS", "catalog_diversity_over_time",
           "creator_lifetimes", "creator_summary", "creator_survival", "exposure_gini_over_time",
           "income_gini_over_time", "kaplan_meier_table", "over_seeds", "round_of_steps",
           "topic_migration", "user_welfare_over_time"]

#: the columns of the ``creators`` table after ``run, seed, policy``
CREATOR_COLUMNS = ("round", "step", "creator_id", "entered_round", "alive", "left", "topic",
                   "home_topic", "effort", "items", "live_items", "exposure", "clicks",
                   "watch_time", "income")
#: the columns of the ``catalog`` table after ``run, seed, policy``
CATALOG_COLUMNS = ("round", "step", "topic", "live_items", "new_items", "exposure", "clicks",
                   "watch_time")


def _groups(df: pd.DataFrame, keys: list[str]) -> Any:
    """``(key tuple, part)`` per unit (one group with key ``()`` when no unit columns)."""
    if not keys:
        return [((), df)]
    return ((k if isinstance(k, tuple) else (k,), p) for k, p in df.groupby(keys, sort=True))


# --------------------------------------------------------------------------- survival
def kaplan_meier_table(durations: np.ndarray, events: np.ndarray, level: float = 0.95,
                       ci: str = "log-log") -> pd.DataFrame:
    """The Kaplan-Meier life table of one sample, with Greenwood's variance.

    One row per distinct time ``t`` (event or censoring): ``at_risk`` ``n_t`` (durations
    ``>= t``), ``events`` ``d_t``, ``censored``, ``survival``
    ``S(t) = prod_{s <= t} (1 - d_s / n_s)``, ``variance`` (Greenwood:
    ``S(t)^2 sum_{s <= t} d_s / (n_s (n_s - d_s))``), ``se`` and the pointwise ``level``
    interval ``low``/``high``: ``ci="log-log"`` (Kalbfleisch & Prentice: the interval of
    ``log(-log S)``, ``S^exp(±z se / |log S|)``, always inside [0, 1]) or ``"plain"``
    (``S ± z se`` cut to [0, 1]). Where ``S`` is 1 or 0 the interval is the point.

    ``events[i]`` is True when duration ``i`` ended in the event (an exit), False when it
    was censored (still at risk at ``t``, gone after).

    >>> kaplan_meier_table(np.array([1., 2., 2., 3.]), np.array([True, True, False, True]))[
    ...     "survival"].round(3).tolist()
    [0.75, 0.5, 0.0]
    """
    from scipy import stats

    d = np.asarray(durations, dtype=np.float64).ravel()
    e = np.asarray(events).ravel()
    if d.shape != e.shape:
        raise DataError(f"kaplan_meier_table needs one event flag per duration; received "
                        f"{d.size} durations and {e.size} flags")
    if e.dtype != bool:
        raise DataError(f"kaplan_meier_table needs boolean event flags; received dtype "
                        f"{e.dtype}")
    if d.size and (not np.isfinite(d).all() or d.min() < 0):
        raise DataError("kaplan_meier_table needs finite non-negative durations; received "
                        f"values from {d.min()} to {d.max()}")
    if ci not in ("log-log", "plain"):
        raise ConfigError("ci", ci, "'log-log' or 'plain'")
    if not 0.0 < level < 1.0:
        raise ConfigError("level", level, "a confidence level in (0, 1)")
    times = np.unique(d)
    ordered = np.sort(d)
    at_risk = d.size - np.searchsorted(ordered, times, side="left")
    pos = np.searchsorted(times, d)
    n_event = np.bincount(pos[e], minlength=times.size)
    n_cens = np.bincount(pos[~e], minlength=times.size)
    surv = np.cumprod(1.0 - n_event / at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        gw = np.cumsum(np.where(n_event > 0, n_event / (at_risk * (at_risk - n_event)), 0.0))
        var = np.where(surv > 0, surv ** 2 * gw, 0.0)
        se = np.sqrt(var)
        z = float(stats.norm.ppf(0.5 + level / 2))
        inside = (surv > 0) & (surv < 1)
        if ci == "log-log":
            s_theta = np.sqrt(gw) / np.abs(np.log(surv))
            low = np.where(inside, surv ** np.exp(z * s_theta), surv)
            high = np.where(inside, surv ** np.exp(-z * s_theta), surv)
        else:
            low = np.where(inside, np.clip(surv - z * se, 0.0, 1.0), surv)
            high = np.where(inside, np.clip(surv + z * se, 0.0, 1.0), surv)
    return pd.DataFrame({"t": times, "at_risk": at_risk, "events": n_event,
                         "censored": n_cens, "survival": surv, "variance": var, "se": se,
                         "low": low, "high": high}).loc[
        lambda f: (f["events"] > 0) | (f["censored"] > 0)].reset_index(drop=True)


def creator_lifetimes(creators: pd.DataFrame) -> pd.DataFrame:
    """One row per creator and unit: ``entered_round``, ``first_round`` and ``last_round``
    (rounds it was logged), ``duration`` (``last_round - entered_round``: the whole rounds
    it was active in), ``left`` (the event: its last row has ``left``), ``initial`` (it
    entered before the unit's first logged round: there from the start). A creator that is
    not ``left`` is censored at its last round: at the unit's last round when the run ended
    with it still active."""
    require(creators, ["round", "creator_id", "entered_round", "left"], "creator_lifetimes")
    if len(creators) and (creators["round"] < creators["entered_round"]).any():
        bad = creators[creators["round"] < creators["entered_round"]].iloc[0]
        raise DataError(f"creators: a row's round precedes the creator's entered_round "
                        f"(creator {bad['creator_id']}: round {bad['round']}, entered "
                        f"{bad['entered_round']})")
    ukeys = unit_keys(creators)
    keys = ukeys + ["creator_id", "entered_round"]
    c = creators.sort_values(keys + ["round"], kind="stable")
    out = c.groupby(keys, sort=True).agg(first_round=("round", "first"),
                                         last_round=("round", "last"),
                                         left=("left", "last")).reset_index()
    out["left"] = out["left"].astype(bool)
    out["duration"] = (out["last_round"] - out["entered_round"]).astype(np.float64)
    if ukeys:
        start = creators.groupby(ukeys)["round"].min().rename("_start").reset_index()
        out = out.merge(start, on=ukeys, how="left")
    else:
        out["_start"] = creators["round"].min()
    out["initial"] = out["entered_round"] < out["_start"]
    return out[keys + ["first_round", "last_round", "duration", "left", "initial"]]


def creator_survival(creators: pd.DataFrame, grid: np.ndarray | None = None,
                     cohort: str = "all") -> pd.DataFrame:
    """Kaplan-Meier share of creators still active after ``t`` rounds since their entry,
    per unit (lifetimes and censoring as :func:`creator_lifetimes`).

    ``cohort="all"`` takes every creator, entrants included (each aligned on its own entry;
    those still active when the run ends are censored there); ``"initial"`` only the
    creators there from the start (``entered_round`` before the first logged round;
    followed to the end, so censored only there: the curve is the plain share of them
    still active after ``t`` rounds). ``grid`` defaults to ``0, 1, ...`` up
    to the longest lifetime. Returns columns ``[seed, policy,] t, survival, at_risk``
    (creators followed at least ``t`` rounds: bands from a handful of curves grow wide).
    For one curve with its Greenwood interval use :func:`kaplan_meier_table`; across seeds
    :func:`over_seeds`.
    """
    if cohort not in ("all", "initial"):
        raise ConfigError("cohort", cohort, "'all' or 'initial'")
    life = creator_lifetimes(creators)
    if cohort == "initial":
        life = life[life["initial"]]
    ukeys = unit_keys(creators)
    if grid is None:
        top = float(life["duration"].max()) if len(life) else 0.0
        grid = np.arange(0.0, top + 1.0)
    grid = np.asarray(grid, dtype=np.float64)
    frames = []
    for key, part in _groups(life, ukeys):
        dur = part["duration"].to_numpy()
        surv = kaplan_meier(dur, part["left"].to_numpy(), grid)
        at_risk = dur.size - np.searchsorted(np.sort(dur), grid, side="left")
        frames.append(pd.DataFrame({**{k: [v] * grid.size for k, v in zip(ukeys, key,
                                                                          strict=True)},
                                    "t": grid, "survival": surv, "at_risk": at_risk}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=ukeys + ["t", "survival", "at_risk"])


def over_seeds(frame: pd.DataFrame, value: str, x: str = "round",
               level: float = 0.95) -> pd.DataFrame:
    """Per policy and ``x``: the mean of ``value`` across seeds with its ``level``
    t-interval (:func:`recarena.analysis.stats.mean_ci_by`; ``low``/``high`` NaN with one
    seed). ``frame`` is one of this module's per-unit results (one row per seed, policy and
    ``x``).

    >>> f = pd.DataFrame({"seed": [0, 1], "policy": "p", "round": 0, "g": [0.2, 0.4]})
    >>> over_seeds(f, "g")[["policy", "round", "mean", "n"]].values.tolist()
    [['p', 0, 0.30000000000000004, 2]]
    """
    require(frame, [x, value], "over_seeds")
    by = (["policy"] if "policy" in frame.columns else []) + [x]
    return mean_ci_by(frame, by, value, level)


# --------------------------------------------------------------------------- inequality
def _gini_over_time(creators: pd.DataFrame, column: str, name: str) -> pd.DataFrame:
    require(creators, ["round", "entered_round", column], name)
    creators = creators[creators["round"] != creators["entered_round"]]
    keys = unit_keys(creators) + ["round"]
    g = creators.groupby(keys, sort=True)[column]
    out = g.apply(lambda s: gini(s.to_numpy(np.float64))).rename("gini").reset_index()
    out["creators"] = g.size().to_numpy()
    out["total"] = g.sum().to_numpy(np.float64)
    return out


def exposure_gini_over_time(creators: pd.DataFrame) -> pd.DataFrame:
    """Per unit and round: ``gini`` of the impressions (``exposure``) of the creators
    present in the round (active during it: creators entering at its end are left out,
    leavers count in their last round; :func:`recarena.inequality.gini`; NaN in a round
    where no creator was shown), ``creators`` (how many were present) and ``total`` (their
    impressions)."""
    return _gini_over_time(creators, "exposure", "exposure_gini_over_time")


def income_gini_over_time(creators: pd.DataFrame) -> pd.DataFrame:
    """As :func:`exposure_gini_over_time` for ``income``: what the configured creator
    reward paid each creator present in the round."""
    return _gini_over_time(creators, "income", "income_gini_over_time")


# --------------------------------------------------------------------------- catalog
def catalog_diversity_over_time(catalog: pd.DataFrame) -> pd.DataFrame:
    """Per unit and round, the topic diversity of the live catalog: with ``p_k`` the share
    of live items on topic ``k``, ``entropy`` ``-sum_k p_k log2 p_k`` (bits),
    ``entropy_norm`` that over ``log2 T`` (``T``: the topics of the unit's catalog table;
    1 when every topic holds as many items, 0 when one holds them all), ``topics_live``
    (topics with at least one live item), ``live_items`` and ``new_items`` (their sums).
    A round with an empty catalog has NaN entropies and 0 topics."""
    require(catalog, ["round", "topic", "live_items", "new_items"], "catalog_diversity_over_time")
    if len(catalog) and (catalog["live_items"] < 0).any():
        raise DataError("catalog: live_items must be non-negative; received "
                        f"{int(catalog['live_items'].min())}")
    ukeys = unit_keys(catalog)
    frames = []
    for key, part in _groups(catalog, ukeys):
        live = part.pivot_table(index="round", columns="topic", values="live_items",
                                aggfunc="sum", fill_value=0).sort_index()
        new = part.groupby("round", sort=True)["new_items"].sum()
        x = live.to_numpy(np.float64)
        total = x.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = x / total[:, None]
            h = -np.sum(np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0), axis=1)
        h = np.where(total > 0, h, np.nan)
        topics = x.shape[1]
        norm = h / math.log2(topics) if topics > 1 else np.where(total > 0, 0.0, np.nan)
        frames.append(pd.DataFrame({
            **{k: [v] * len(live) for k, v in zip(ukeys, key, strict=True)},
            "round": live.index.to_numpy(), "entropy": h, "entropy_norm": norm,
            "topics_live": (x > 0).sum(axis=1), "live_items": total.astype(np.int64),
            "new_items": new.reindex(live.index).to_numpy(np.int64)}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=ukeys + ["round", "entropy", "entropy_norm", "topics_live", "live_items",
                         "new_items"])


def topic_migration(creators: pd.DataFrame, catalog: pd.DataFrame, signal: str = "clicks",
                    window: int | None = None) -> pd.DataFrame:
    """How far creators move away from their expertise and toward what the platform
    rewards, per unit and round ``r``:

    ``off_home``
        among the creators that produced in round ``r`` (``items > 0``), the share whose
        ``topic`` (that of most of their round's items) is not their ``home_topic`` (the
        argmax of their expertise). NaN in a round where nobody produced.
    ``tv_rewarded``
        the total-variation distance ``1/2 sum_k |q_k - w_k|`` between ``q``, the topic
        distribution of the items produced in round ``r`` (the catalog's ``new_items``),
        and ``w``, what the platform has rewarded: ``w_k ∝ E_k / X_k``, with ``E_k`` the
        engagement (``signal``: ``"clicks"`` or ``"watch_time"``) and ``X_k`` the
        impressions of topic ``k`` over the rounds up to and including ``r`` (the last
        ``window`` of them; all when ``None``): round ``r``'s items are made at its end,
        after its feedback. ``E_k / X_k = 0`` for a topic never shown. 0: creators produce
        exactly in proportion to engagement per impression; 1: only on topics that earned
        nothing. NaN in a round without production and while nothing has been engaged
        with in the window.
    ``tv_home``
        the same distance between ``q`` and the distribution of the producing creators'
        ``home_topic`` (0 when each produces on its home topic, as a reference).

    Returns columns ``[seed, policy,] round, off_home, tv_rewarded, tv_home``.
    """
    if signal not in ("clicks", "watch_time"):
        raise ConfigError("signal", signal, "'clicks' or 'watch_time'")
    if window is not None and (isinstance(window, bool)
                               or not isinstance(window, (int, np.integer)) or window < 1):
        raise ConfigError("window", window, "None or a positive number of rounds")
    require(creators, ["round", "topic", "home_topic", "items"], "topic_migration")
    require(catalog, ["round", "topic", "new_items", "exposure", signal], "topic_migration")
    ukeys = unit_keys(catalog)
    if catalog.empty:  # no creator round finished: nothing to measure
        return pd.DataFrame(columns=ukeys + ["round", "off_home", "tv_rewarded", "tv_home"])
    prod = creators[creators["items"] > 0]
    off = (prod["topic"] != prod["home_topic"]).astype(np.float64)
    off_home = prod.assign(off=off).groupby(ukeys + ["round"])["off"].mean()
    frames = []
    for key, part in _groups(catalog, ukeys):
        piv = part.pivot_table(index="round", values=["new_items", "exposure", signal],
                               columns="topic", aggfunc="sum", fill_value=0).sort_index()
        rounds = piv.index.to_numpy()
        topics = piv["new_items"].columns.to_numpy()
        q_raw = piv["new_items"].to_numpy(np.float64)
        eng = np.cumsum(piv[signal].to_numpy(np.float64), axis=0)
        exp = np.cumsum(piv["exposure"].to_numpy(np.float64), axis=0)
        zero = np.zeros((1, topics.size))
        eng, exp = np.vstack([zero, eng]), np.vstack([zero, exp])  # row j: rounds < j
        hi = np.arange(rounds.size) + 1  # rounds up to and including r
        lo = np.zeros_like(hi) if window is None else np.maximum(hi - window, 0)
        e_sum, x_sum = eng[hi] - eng[lo], exp[hi] - exp[lo]
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(x_sum > 0, e_sum / np.where(x_sum > 0, x_sum, 1.0), 0.0)
            w = rate / rate.sum(axis=1, keepdims=True)
            q = q_raw / q_raw.sum(axis=1, keepdims=True)
        tv_r = 0.5 * np.abs(q - w).sum(axis=1)
        tv_r[(rate.sum(axis=1) <= 0) | (q_raw.sum(axis=1) <= 0)] = np.nan
        # home-topic distribution of the producers of the round, on the same topics
        mine = prod
        for k, v in zip(ukeys, key, strict=True):
            mine = mine[mine[k] == v]
        home = np.zeros((rounds.size, topics.size))
        r_i = np.searchsorted(rounds, mine["round"].to_numpy())
        t_i = np.searchsorted(topics, mine["home_topic"].to_numpy())
        ok = (r_i < rounds.size) & (t_i < topics.size)
        ok[ok] &= (rounds[r_i[ok]] == mine["round"].to_numpy()[ok]) & \
            (topics[t_i[ok]] == mine["home_topic"].to_numpy()[ok])
        np.add.at(home, (r_i[ok], t_i[ok]), mine["items"].to_numpy(np.float64)[ok])
        with np.errstate(divide="ignore", invalid="ignore"):
            h = home / home.sum(axis=1, keepdims=True)
            tv_h = 0.5 * np.abs(q - h).sum(axis=1)
        frame = pd.DataFrame({**{k: [v] * rounds.size for k, v in zip(ukeys, key, strict=True)},
                              "round": rounds, "tv_rewarded": tv_r, "tv_home": tv_h})
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=ukeys + ["round", "tv_rewarded", "tv_home"])
    out = out.merge(off_home.rename("off_home").reset_index(), on=ukeys + ["round"],
                    how="left")
    return out[ukeys + ["round", "off_home", "tv_rewarded", "tv_home"]]


# --------------------------------------------------------------------------- users
def round_of_steps(steps: np.ndarray, round_ends: np.ndarray) -> np.ndarray:
    """The index of the creator round each env step belongs to: round ``i`` covers the
    steps after the end of round ``i - 1`` up to and including ``round_ends[i]`` (the
    ``step`` column of ``creators``/``catalog``, ascending); -1 for a step after the last
    round's end (a round the run cut short).

    >>> round_of_steps(np.array([0, 9, 10, 19, 20]), np.array([9, 19])).tolist()
    [0, 0, 1, 1, -1]
    """
    ends = np.asarray(round_ends, dtype=np.int64)
    if ends.size > 1 and (np.diff(ends) <= 0).any():
        raise DataError("round ends must be strictly increasing steps; received "
                        f"{ends.tolist()[:10]}")
    idx = np.searchsorted(ends, np.asarray(steps, dtype=np.int64), side="left")
    return np.where(idx < ends.size, idx, -1)


def user_welfare_over_time(ev: pd.DataFrame, rounds: pd.DataFrame) -> pd.DataFrame:
    """The users' side per unit and creator round, from ``impressions``: ``requests``
    (user-steps: slates served), ``clicks``, ``watch_time`` and ``reward`` summed over the
    round's steps, and per request ``clicks_per_step``, ``watch_time_per_step`` and
    ``reward_per_step``. ``rounds`` is the ``creators`` or ``catalog`` table (its ``round``
    and ``step``: the env step at each round's end, :func:`round_of_steps`); steps after the
    last logged round's end (a round the run cut short) are left out."""
    require(ev, ["step", "position", "clicked"], "user_welfare_over_time")
    require(rounds, ["round", "step"], "user_welfare_over_time")
    ukeys = unit_keys(ev)
    rk = [k for k in ukeys if k in rounds.columns]
    ends_all = rounds[rk + ["round", "step"]].drop_duplicates()
    cols = {"requests": ("_req", "sum"), "clicks": ("clicked", "sum")}
    ev = ev.assign(_req=(ev["position"] == 0).astype(np.int64))
    for c in ("watch_time", "reward"):
        if c in ev.columns:
            cols[c] = (c, "sum")
    per_step = ev.groupby(ukeys + ["step"], sort=True).agg(**cols).reset_index()
    frames = []
    for key, part in _groups(per_step, ukeys):
        ends = ends_all
        for k, v in zip(ukeys, key, strict=True):
            if k in ends.columns:
                ends = ends[ends[k] == v]
        ends = ends.sort_values("round")
        if ends["round"].duplicated().any():
            raise DataError(f"rounds table: a round has more than one end step in unit "
                            f"{dict(zip(ukeys, key, strict=True))}")
        i = round_of_steps(part["step"].to_numpy(), ends["step"].to_numpy())
        keep = part[i >= 0].assign(round=ends["round"].to_numpy()[i[i >= 0]])
        agg = keep.groupby(ukeys + ["round"], sort=True)[list(cols)].sum().reset_index()
        frames.append(agg)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=ukeys + ["round"] + list(cols))
    req = out["requests"].to_numpy(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        for c in ("clicks", "watch_time", "reward"):
            if c in out.columns:
                out[f"{c}_per_step"] = np.where(req > 0, out[c].to_numpy(np.float64) / req,
                                                np.nan)
    return out


# --------------------------------------------------------------------------- summary
#: the headline creator metrics (:func:`creator_summary`): (description, higher is better?)
CREATOR_METRICS: dict[str, tuple[str, bool]] = {
    "creator_survival_end": ("share of the creators there from the start still active after "
                             "the last creator round", True),
    "creators_active_end": ("creators active after the last round (entrants included)", True),
    "creator_exposure_gini": ("Gini of impressions across the creators present, mean over "
                              "creator rounds", False),
    "creator_income_gini": ("Gini of creator income across the creators present, mean over "
                            "creator rounds", False),
    "catalog_entropy_end": ("normalised topic entropy of the live catalog after the last "
                            "creator round", True),
    "catalog_topics_end": ("topics with live items after the last creator round", True),
    "user_clicks_per_step": ("clicks per request over the creator rounds", True),
}


def _mean(values: Any) -> float:
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else float("nan")


def creator_summary(creators: pd.DataFrame | None, catalog: pd.DataFrame | None = None,
                    ev: pd.DataFrame | None = None) -> dict[str, float]:
    """The headline creator metrics of a log (:data:`CREATOR_METRICS`); over a log of
    several units, the mean of the units' values. Metrics whose table is absent (``None``
    or empty) are left out, so a log without creators gives ``{}``.

    ``creator_survival_end`` is the last value of :func:`creator_survival` with
    ``cohort="initial"`` (the share of the creators there from the start still active);
    ``creator_exposure_gini``/``creator_income_gini`` the mean over rounds of
    :func:`exposure_gini_over_time`/:func:`income_gini_over_time`;
    ``catalog_entropy_end``/``catalog_topics_end`` the last round's ``entropy_norm`` and
    ``topics_live`` of :func:`catalog_diversity_over_time`; ``user_clicks_per_step`` the
    clicks over the requests of the rounds of :func:`user_welfare_over_time` (steps of a
    round cut short left out).
    """
    out: dict[str, float] = {}
    have_c = creators is not None and len(creators) > 0
    have_k = catalog is not None and len(catalog) > 0
    if have_c:
        assert creators is not None
        ukeys = unit_keys(creators)
        surv = creator_survival(creators, np.array([np.inf]), cohort="initial")
        out["creator_survival_end"] = _mean(surv["survival"])
        last = creators.groupby(ukeys)["round"].transform("max") if ukeys else \
            pd.Series(creators["round"].max(), index=creators.index)
        end = creators[(creators["round"] == last) & ~creators["left"].astype(bool)]
        counts = end.groupby(ukeys).size() if ukeys else pd.Series([len(end)])
        n_units = creators[ukeys].drop_duplicates().shape[0] if ukeys else 1
        out["creators_active_end"] = float(counts.sum() / n_units)
        for name, fn in (("creator_exposure_gini", exposure_gini_over_time),
                         ("creator_income_gini", income_gini_over_time)):
            g = fn(creators)
            per_unit = g.groupby(ukeys)["gini"].mean() if ukeys else g["gini"].mean()
            out[name] = _mean(per_unit)
    if have_k:
        assert catalog is not None
        div = catalog_diversity_over_time(catalog)
        ukeys = unit_keys(catalog)
        last = div.groupby(ukeys)["round"].transform("max") == div["round"] if ukeys else \
            div["round"] == div["round"].max()
        out["catalog_entropy_end"] = _mean(div.loc[last, "entropy_norm"])
        out["catalog_topics_end"] = _mean(div.loc[last, "topics_live"])
    if ev is not None and len(ev) and (have_k or have_c):
        w = user_welfare_over_time(ev, catalog if have_k else creators)
        ukeys = unit_keys(w)
        if ukeys:
            s = w.groupby(ukeys)[["clicks", "requests"]].sum()
            out["user_clicks_per_step"] = _mean(s["clicks"] / s["requests"])
        elif w["requests"].sum() > 0:
            out["user_clicks_per_step"] = float(w["clicks"].sum() / w["requests"].sum())
    return {k: v for k, v in out.items() if math.isfinite(v)}
