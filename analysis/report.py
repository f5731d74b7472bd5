"""Plots (matplotlib, headless) and ``report.md`` for a run folder.

Everything here reads the run folder only (``manifest.json``, ``summary.json``,
``metrics.parquet`` and the units' event logs), so ``recarena plot`` / ``recarena report``
can be re-run on any finished run.

Every figure says under it what is plotted and what its shaded band is (a 95%
t-interval across seeds; none with one seed), and every number in a legend is the summary
table's number for that policy, computed by the same functions and the same per-seed
aggregation (:mod:`recarena.analysis.summary`): cohort return, churn rate, exposure Gini,
DPFR and interest entropy are never recomputed another way for a plot.
"""

from __future__ import annotations

import json
import math
import re
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recarena.analysis import diversity, engagement, fairness, long_term, stats
from recarena.analysis.tables import format_table, wall_time_text
from recarena.errors import DataError

__all__ = ["figures", "format_table", "plot_run", "write_report"]

_UNITS_LABEL = {"step": "step (one request per user row)", "day": "day"}


def _load(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    for name in ("manifest.json", "summary.json"):
        if not (run_dir / name).is_file():
            raise DataError(f"{run_dir} is not a finished run folder: {name} is missing")
    return (json.loads((run_dir / "manifest.json").read_text()),
            json.loads((run_dir / "summary.json").read_text()))


# --------------------------------------------------------------------------- plots
#: the metric of the summary table that each policy's legend entry quotes, per plot
LEGEND_METRIC = {"reward_over_time": "reward_per_step", "ctr_over_time": "ctr",
                 "cumulative_return": "cohort_return", "retention": "churn_rate",
                 "interest_entropy": "interest_entropy_end", "lorenz": "exposure_gini",
                 "fairness_relevance": "dpfr"}
#: curves closer than this (at every time and seed) are drawn as one, and the figure says so
IDENTICAL_TOL = 1e-3


def _num(x: float) -> str:
    """A number as legends print it (3 decimals, 1 above 100)."""
    if not math.isfinite(x):
        return "–"
    return f"{x:.1f}" if abs(x) >= 100 else f"{x:.3f}"


def _window_edges(steps: int, window: int) -> np.ndarray:
    """Window edges over ``[0, steps)``: 1 step wide at first, doubling (1, 1, 2, 4, ...)
    while narrower than ``window``, then ``window`` wide from the first multiple of it, so
    the first steps of learning are not averaged away.

    >>> _window_edges(50, 10).tolist()
    [0, 1, 2, 4, 8, 10, 20, 30, 40, 50]
    """
    edges = [0, 1]
    while edges[-1] * 2 < window and edges[-1] * 2 < steps:
        edges.append(edges[-1] * 2)
    nxt = window
    while edges[-1] < steps:
        edges.append(min(max(nxt, edges[-1] + 1), steps))
        nxt += window
    return np.array(sorted(set(edges)))


def _parse_horizon(manifest: dict[str, Any]) -> float | None:
    """The env's horizon in days (``run.days`` or ``env.config.horizon_days``), if any."""
    scen = manifest["scenario"]
    for value in (scen["run"].get("days"), scen["env"].get("config", {}).get("horizon_days")):
        if value is not None:
            return float(value)
    m = re.search(r"horizon_days=([0-9.eE+-]+)", manifest["resolved"].get("env_config", ""))
    return float(m.group(1)) if m else None


class _Run:
    """A finished run folder, read once for all its plots."""

    def __init__(self, run_dir: str | Path) -> None:
        self.dir = Path(run_dir)
        self.manifest, self.summary = _load(self.dir)
        self.scen = self.manifest["scenario"]
        self.policies: list[str] = self.summary.get("policy_order") or list(
            self.summary["policies"])
        self.seeds: list[int] = list(self.manifest["seeds"])
        self.baseline: str = self.summary["baseline"]
        self.num_items = self.manifest["resolved"]["num_items"]
        self.window = int(self.scen["report"]["window"])
        self.env_id = self.manifest["resolved"]["env_id"]
        self.title = (f"{self.scen['name']}: {self.env_id}, {self.scen['run']['users']} user "
                      f"rows, {len(self.seeds)} seed(s)")
        self.band = stats.band_note(len(self.seeds))

    def where(self, *metrics: str) -> str:
        """Where the report shows ``metrics``: "the table's" when the scenario's table
        lists them all, else "summary.json's" (computed for every run, not tabled here)."""
        listed = self.scen["report"]["metrics"]
        return "the table's" if not listed or all(m in listed for m in metrics) \
            else "summary.json's"

    def table(self, policy: str, metric: str) -> float | None:
        """The summary table's mean of ``metric`` for ``policy``."""
        e = self.summary["policies"].get(policy, {}).get(metric)
        return None if not e or e["mean"] is None else float(e["mean"])

    def read(self, table: str, columns: list[str], unit: str | None = None) -> pd.DataFrame:
        """The columns of ``table`` that the log has (all units, or one unit folder)."""
        import pyarrow.parquet as pq

        from recarena.eventlog import read_table, table_files

        src = self.dir / "units" / unit if unit else self.dir / "units"
        files = table_files(src, table)
        if not files:
            raise DataError(f"no {table!r} files under {src}")
        have = set(pq.read_schema(files[0]).names)
        return read_table(src, table, [c for c in columns if c in have])


def _draw_band(ax: Any, frame: pd.DataFrame, x: str, y: str, label: str, **kw: Any) -> Any:
    """The mean of ``y`` over seeds (one row per seed and ``x``) with its 95% t band."""
    ci = stats.mean_ci_by(frame, x, y)
    line = ax.plot(ci[x].to_numpy(), ci["mean"].to_numpy(), label=label, lw=1.6, **kw)[0]
    ok = ci["n"].to_numpy() > 1
    if ok.any():
        ax.fill_between(ci[x].to_numpy()[ok], ci["low"].to_numpy()[ok],
                        ci["high"].to_numpy()[ok], color=line.get_color(), alpha=0.2, lw=0)
    return line


def _log_steps(ax: Any) -> None:
    """A log-scale step axis with plain tick labels (1, 10, 100)."""
    from matplotlib.ticker import FuncFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def _finish(fig: Any, axes: list[Any], run: _Run, note: str, legends: bool = True) -> None:
    """Title, grid, legends outside the axes (right), and the caption under the figure."""
    axes[0].set_title(run.title, fontsize=9)
    for ax in axes:
        ax.grid(alpha=0.3)
        if legends and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                      frameon=False, borderaxespad=0.0)
    fig.tight_layout()
    note = " ".join(note.split())
    width = int(fig.get_size_inches()[0] * 15)
    fig.text(0.01, 0.0, textwrap.fill(note, width), ha="left", va="top", fontsize=7,
             color="0.25")
    fig._recarena_note = note  # noqa: SLF001 - read by write_report for the caption


def _time_series(run: _Run, name: str) -> Any:
    """Reward per request (``reward_over_time``) or clicks per impression
    (``ctr_over_time``) per window of steps: windows 1, 1, 2, 4, ... steps wide at first
    (then ``report.window``) on a log-scale step axis, so early learning shows."""
    import matplotlib.pyplot as plt

    metrics = pd.read_parquet(run.dir / "metrics.parquet")
    col, denom, ylabel = (("reward", "requests", "reward per request")
                          if name == "reward_over_time"
                          else ("clicks", "impressions", "click-through rate (clicks / impressions)"))
    steps = int(metrics["step"].max()) + 1
    edges = _window_edges(steps, run.window)
    idx = np.searchsorted(edges, metrics["step"].to_numpy(), side="right") - 1
    centre = (edges[:-1] + edges[1:]) / 2.0
    m = metrics.assign(x=centre[idx])
    agg = m.groupby(["seed", "policy", "x"], sort=True)[[col, denom]].sum().reset_index()
    agg["y"] = agg[col] / agg[denom]
    fig, ax = plt.subplots(figsize=(9, 4.4))
    metric = LEGEND_METRIC[name]

    def label(g: list[str]) -> str:
        v = [run.table(p, metric) for p in g]
        nums = ", ".join(_num(x) for x in v if x is not None)
        return " = ".join(g) + (f" ({metric} {nums})" if nums else "")

    _, same = _draw_policies(ax, agg, "x", "y", run, label, "step")
    _log_steps(ax)
    ax.set_xlabel(f"step (log scale; windows 1, 1, 2, 4, … steps wide, then {run.window}; "
                  "points at window centres)")
    ax.set_ylabel(ylabel)
    ends = metrics.groupby(["seed", "policy"])["step"].max()
    fewer = " Where a unit's log ended earlier, fewer seeds remain." if ends.nunique() > 1 else ""
    what = ("total reward / requests" if name == "reward_over_time"
            else "clicks / impressions")
    note = (f"Each point: {what} of a window, per seed. {run.band}.{fewer} "
            f"Legend: {run.where(metric)} {metric} (whole run, mean over seeds). {same}")
    _finish(fig, [ax], run, note)
    return fig


def _cumulative_return(run: _Run) -> Any:
    """Mean cumulative reward per user of the initial cohort against time since the
    user's first request (:func:`recarena.analysis.long_term.cohort_return_curve`); its
    last value is the table's ``cohort_return``."""
    import matplotlib.pyplot as plt

    ev = run.read("impressions", ["seed", "policy", "step", "day", "user_id", "reward"])
    axis = long_term.time_axis(ev)
    horizon = _parse_horizon(run.manifest) if axis == "day" else None
    rows = ev[ev["step"] == ev["step"].min()]
    cohort = rows.groupby(["seed", "policy"])["user_id"].nunique().max()
    if axis == "step":
        grid = np.arange(0.0, float(ev["step"].max() - ev["step"].min()) + 1.0)
    else:
        grid = np.linspace(0.0, max(horizon or 0.0, float(ev["day"].max())), 121)
    curve = long_term.cohort_return_curve(ev, axis, grid)
    ends = curve[curve["t"] == grid[-1]].groupby("policy")["cohort_return"].mean()
    fig, ax = plt.subplots(figsize=(9, 4.4))
    _, same = _draw_policies(
        ax, curve, "t", "cohort_return", run,
        lambda g: " = ".join(g) + " (cohort_return "
        + ", ".join(_num(float(ends[p])) for p in g) + ")", axis)
    ax.set_xlabel(f"{_UNITS_LABEL[axis]}s since the user's first request" if axis == "day"
                  else "steps since the user's first request (one request per step)")
    ax.set_ylabel("mean cumulative reward per user\n(initial cohort)")
    note = (f"The {cohort} users present at the first step (per seed) each accumulate their "
            "own reward until they leave; users who replace them in the rows are not "
            f"counted. The last value is {run.where('cohort_return')} cohort_return. "
            f"{run.band}. {same}")
    _finish(fig, [ax], run, note)
    return fig


def _close(a: np.ndarray, b: np.ndarray, tol: float) -> np.ndarray:
    """Per column (time point): every seed's values within ``tol`` (or missing in both)."""
    both = np.isnan(a) & np.isnan(b)
    with np.errstate(invalid="ignore"):
        near = np.abs(a - b) <= tol
    return np.all(near | both, axis=0)


def _identical_groups(curves: dict[str, np.ndarray], tol: float) -> list[list[str]]:
    """Policies whose curves (arrays seeds x grid, NaN where missing) are within ``tol`` of
    the first policy of their group at every point, in order."""
    groups: list[list[str]] = []
    for p, c in curves.items():
        for g in groups:
            ref = curves[g[0]]
            if ref.shape == c.shape and bool(_close(ref, c, tol).all()):
                g.append(p)
                break
        else:
            groups.append([p])
    return groups


_STYLES = ("-", "--", "-.", ":")


def _draw_policies(ax: Any, frame: pd.DataFrame, x: str, y: str, run: _Run,
                   label: Any, what: str = "step") -> tuple[dict[str, Any], str]:
    """One mean-and-band curve per policy (rows: seed, policy, ``x``, ``y``), each with its
    own colour and line style, so that curves lying on each other stay visible. Policies
    whose curves are identical (within ``IDENTICAL_TOL`` of the plotted range, at every
    point and seed) are drawn once, labelled ``label(group)``. Returns each policy's colour
    and a sentence for the caption naming identical curves and curves that coincide at
    first (up to ``what`` x) before they part."""
    present = [p for p in run.policies if (frame["policy"] == p).any()]
    curves = {p: frame[frame["policy"] == p].pivot_table(index="seed", columns=x, values=y,
                                                         dropna=False).to_numpy(np.float64)
              for p in present}
    values = frame[y].to_numpy(np.float64)
    finite = values[np.isfinite(values)]
    span = float(finite.max() - finite.min()) if finite.size else 0.0
    tol = IDENTICAL_TOL * span if span > 0 else 1e-12
    groups = _identical_groups(curves, tol)
    colors: dict[str, Any] = {}
    for g in groups:
        i = run.policies.index(g[0])
        line = _draw_band(ax, frame[frame["policy"] == g[0]], x, y, label(g),
                          color=f"C{i % 10}", ls=_STYLES[i % len(_STYLES)])
        colors.update({p: line.get_color() for p in g})
    notes = []
    if len(groups) == 1 and len(present) > 1:
        notes.append(f"All {len(present)} policies give the same curve (within "
                     f"{IDENTICAL_TOL:.1%} of the plotted range at every point and seed), so "
                     "one curve is drawn.")
    elif any(len(g) > 1 for g in groups):
        notes.append("Identical curves (within " f"{IDENTICAL_TOL:.1%} of the plotted range) "
                     "drawn once: " + "; ".join(" = ".join(g) for g in groups if len(g) > 1)
                     + ".")
    xs = np.sort(frame[x].unique())
    follow = []
    for j, g in enumerate(groups[1:], start=1):
        best, lead = 0, ""
        for h in groups[:j]:
            a, b = curves[h[0]], curves[g[0]]
            if a.shape != b.shape:
                continue
            ok = _close(a, b, 1e-9 * max(span, 1e-3))  # the very same numbers
            k = int(np.argmin(ok)) if not ok.all() else ok.size
            flat = float(np.nanmax(a[:, :k]) - np.nanmin(a[:, :k])) <= tol if k else True
            if k > best and not flat:  # equal constants (all retained) say nothing
                best, lead = k, h[0]
        if best >= 3:
            follow.append(f"{g[0]} follows {lead} up to {what} {xs[best - 1]:g}")
    if follow:
        notes.append("Curves with the very same values at first (the same behaviour until "
                     "then, e.g. the same fallback before any data): " + "; ".join(follow)
                     + ".")
    return colors, " ".join(notes)


def _retention(run: _Run) -> Any:
    """Kaplan-Meier retention of the initial cohort
    (:func:`recarena.analysis.long_term.retention_curve`; horizon-truncated users censored
    at the horizon). Policies with identical curves are drawn once and named together."""
    import matplotlib.pyplot as plt

    ev = run.read("impressions", ["seed", "policy", "step", "day", "user_id", "position",
                                  "terminated", "truncated"])
    ev = ev[ev["position"] == 0]
    axis = long_term.time_axis(ev)
    horizon = _parse_horizon(run.manifest) if axis == "day" else None
    life = long_term.user_lifetimes(ev, axis, horizon)
    top = float(life["duration"].max())
    grid = (np.arange(0.0, top + 1.0) if axis == "step" and top <= 5000
            else np.linspace(0.0, top, 241))
    curve = long_term.retention_curve(ev, axis, grid, horizon=horizon)
    cohort = len(long_term.initial_cohort(ev)) // max(1, curve[["seed", "policy"]]
                                                      .drop_duplicates().shape[0])
    ends = curve[curve["t"] == grid[-1]].groupby("policy")["retained"].mean()

    def label(g: list[str]) -> str:
        name = f"all {len(g)} policies" if len(g) == len(run.policies) > 1 else " = ".join(g)
        return f"{name} (churn_rate {_num(1.0 - float(ends[g[0]]))})"

    fig, ax = plt.subplots(figsize=(9, 4.4))
    _, same = _draw_policies(ax, curve, "t", "retained", run, label,
                             "day" if axis == "day" else "step")
    if same.startswith("All") and float(ends.min()) >= 1.0:
        same += " No user of the initial cohort churned during the run."
    elif same.startswith("All"):
        same += (" How long users stay does not depend on the policy in this env (e.g. "
                 "users leave when their own session budget runs out).")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"{'days' if axis == 'day' else 'steps'} since the user's first request")
    ax.set_ylabel("share of the initial cohort\nstill active (Kaplan-Meier)")
    censor = ("Users who reach the env's horizon are censored there (known active until "
              "then), users the run cut off at their last request."
              if life["at_horizon"].any() or horizon is not None else
              "Users still active when the run ends are censored there.")
    note = (f"Kaplan-Meier estimate over the {cohort} users present at the first step (per "
            f"seed). {censor} churn_rate ({run.where('churn_rate')} number) = 1 − the last "
            f"value. {same} {run.band}.")
    _finish(fig, [ax], run, note)
    return fig


def _paired(frame: pd.DataFrame, x: str, y: str, policy: str, baseline: str) -> pd.DataFrame:
    """Per seed and ``x``: ``y`` of ``policy`` minus ``y`` of ``baseline``."""
    a = frame[frame["policy"] == policy].set_index(["seed", x])[y]
    b = frame[frame["policy"] == baseline].set_index(["seed", x])[y]
    d = (a - b).dropna().rename("diff").reset_index()
    return d


def _interest_entropy(run: _Run) -> Any | None:
    """Mean normalised interest entropy (oracle snapshots) per policy, and below it the
    paired difference to the baseline policy (per seed: same users at the start, same
    exogenous randomness) with its band; its last value is the table's difference."""
    import matplotlib.pyplot as plt

    try:
        snaps = run.read("snapshots", ["seed", "policy", "step", "user_id"] + [
            f"oracle_interest_{i}" for i in range(4096)])
        ie = diversity.interest_entropy(snaps)
    except DataError:
        return None
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.2), sharex=True,
                                      gridspec_kw={"height_ratios": [1, 1]})
    metric = LEGEND_METRIC["interest_entropy"]
    last = ie.groupby(["seed", "policy"])["step"].transform("max") == ie["step"]
    ends = ie[last].groupby("policy")["interest_entropy"].mean()
    colors, same = _draw_policies(
        top, ie, "step", "interest_entropy", run,
        lambda g: " = ".join(g) + f" ({metric} " + ", ".join(_num(float(ends[p])) for p in g)
        + ")")
    bottom.axhline(0.0, color=colors.get(run.baseline, "grey"), lw=1.2,
                   label=f"{run.baseline} (baseline)")
    for p in run.policies:
        if p == run.baseline:
            continue
        d = _paired(ie, "step", "interest_entropy", p, run.baseline)
        end = d[d["step"] == d["step"].max()]["diff"].mean()
        i = run.policies.index(p)
        _draw_band(bottom, d, "step", "diff", f"{p} (Δ at end {'+' if end >= 0 else ''}"
                   f"{_num(end)})", color=colors[p], ls=_STYLES[i % len(_STYLES)])
    top.set_ylabel("mean normalised interest\nentropy (oracle)")
    bottom.set_ylabel(f"difference to {run.baseline}\n(paired by seed)")
    bottom.set_xlabel("step")
    note = (f"Top: mean over users of the normalised entropy of their true interests, from the "
            f"snapshots; the last value is {run.where(metric)} {metric}. Bottom: per seed, "
            f"the policy's "
            f"value minus {run.baseline}'s at the same step (common random numbers), which "
            f"is what the paired Δ uses; its last value is {run.where(metric)} Δ. {run.band}. "
            f"{same}")
    _finish(fig, [top, bottom], run, note)
    return fig


def _lorenz(run: _Run) -> Any | None:
    """Per policy, the mean over seeds of each seed's Lorenz curve of position-discounted
    item exposure (:func:`recarena.analysis.diversity.exposure_lorenz`); the Gini of that
    mean curve is the mean of the seeds' ``exposure_gini``, the table's number."""
    import matplotlib.pyplot as plt

    if run.num_items is None:
        return None
    ev = run.read("impressions", ["seed", "policy", "item_id", "position"])
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for p in run.policies:
        ys, ginis = [], []
        for _, part in ev[ev["policy"] == p].groupby("seed", sort=True):
            x, y = diversity.exposure_lorenz(part, "item_id", run.num_items)
            ys.append(y)
            ginis.append(diversity.exposure_gini(part, "item_id", run.num_items))
        g = stats.mean_ci(ginis)["mean"]
        i = run.policies.index(p)
        ax.plot(x, np.mean(ys, axis=0), lw=1.6, color=f"C{i % 10}",
                ls=_STYLES[i % len(_STYLES)], label=f"{p} (exposure_gini {_num(g)})")
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="equal exposure")
    ax.set_xlabel("share of catalog items (least exposed first)")
    ax.set_ylabel("share of position-discounted exposure")
    ax.set_aspect("equal")
    gini_our = (" gini_our in the table is a different measure (slot counts rescaled to the "
                "attainable range, Rampisela et al.)."
                if "gini_our" in (run.scen["report"]["metrics"] or []) else "")
    note = (f"Exposure of an item: sum of 1/log2(rank + 2) over its impressions; the "
            f"{run.num_items} catalog items, unexposed ones as zeros. Curve: mean over "
            f"{len(run.seeds)} seed(s) of each seed's Lorenz curve; its Gini is the mean of the "
            f"seeds' Ginis, {run.where('exposure_gini')} exposure_gini (legend).{gini_our} "
            "No band: the spread across seeds is exposure_gini's interval in summary.json.")
    _finish(fig, [ax], run, note)
    return fig


def _fairness_relevance(run: _Run) -> Any | None:
    """Each policy's (ndcg, ent_our) against the fairness-relevance Pareto frontiers of
    the same requests (:func:`recarena.analysis.fairness.dpfr`, one frontier per seed):
    the points are the table's ndcg and ent_our, the legend its dpfr (means over seeds)."""
    import matplotlib.pyplot as plt

    if run.num_items is None or not run.scen["log"]["candidates"]:
        return None
    res: dict[str, list[dict[str, Any]]] = {p: [] for p in run.policies}
    for seed in run.seeds:
        for p in run.policies:
            unit = f"seed{seed}-{p}"
            ev = run.read("impressions", ["seed", "policy", "step", "user_id", "item_id",
                                          "position", "oracle_relevance",
                                          "oracle_ideal_relevance"], unit)
            if "oracle_relevance" not in ev.columns:
                return None
            res[p].append(fairness.dpfr(ev, run.read("candidates", [
                "step", "user_id", "item_id", "oracle_relevance"], unit), run.num_items))
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for i, r in enumerate(res[run.policies[0]]):
        f = r["frontier"]
        ax.plot(f[:, 0], f[:, 1], ".-", color="0.3", lw=0.8, ms=3, alpha=0.7,
                label="estimated Pareto frontier (one per seed)" if i == 0 else None)
    for p in run.policies:
        nd = stats.mean_ci([r["ndcg"] for r in res[p]])
        en = stats.mean_ci([r["ent_our"] for r in res[p]])
        d = stats.mean_ci([r["dpfr"] for r in res[p]])["mean"]
        xerr = None if nd["low"] is None else [[nd["mean"] - nd["low"]], [nd["high"] - nd["mean"]]]
        yerr = None if en["low"] is None else [[en["mean"] - en["low"]], [en["high"] - en["mean"]]]
        ax.errorbar([nd["mean"]], [en["mean"]], xerr=xerr, yerr=yerr, fmt="o", ms=7, capsize=3,
                    zorder=3, label=f"{p} (dpfr {_num(d)})")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("ndcg: NDCG@K against the best candidates (oracle relevance)")
    ax.set_ylabel("ent_our: corrected exposure entropy\n(1 = fair)")
    bars = ("bars: 95% t-intervals across the seeds" if len(run.seeds) > 1
            else "one seed: no bars")
    note = (f"Points: {run.where('ndcg', 'ent_our')} ndcg and ent_our (mean over "
            f"{len(run.seeds)} seed(s)); "
            f"{bars}. Frontier: exposure-aware re-rankings of each seed's own logged "
            f"candidates. dpfr (legend, = {run.where('dpfr')} number): mean over seeds of "
            "each seed's distance to "
            "where its frontier meets the diagonal.")
    _finish(fig, [ax], run, note)
    return fig


def _regret(run: _Run) -> Any | None:
    """Cumulative expected regret per user row against the best slate of the same
    candidates (:func:`recarena.analysis.engagement.cumulative_regret`), log-scale steps.
    The cascade model is used on ``recarena/Cascade-v0`` (attractions are click
    probabilities), the sum of relevances elsewhere."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    ev = run.read("impressions", ["seed", "policy", "step", "user_id", "position",
                                  "oracle_relevance", "oracle_ideal_relevance"])
    if "oracle_ideal_relevance" not in ev.columns:
        return None
    cascade = run.env_id.startswith("recarena/Cascade")
    reg = engagement.cumulative_regret(ev, "cascade" if cascade else "sum")
    reg = reg.assign(x=reg["step"] + 1.0)
    last = reg.groupby(["seed", "policy"])["step"].transform("max") == reg["step"]
    ends = reg[last].groupby("policy")["cumulative_regret"].mean()
    fig, ax = plt.subplots(figsize=(9, 4.4))
    _, same = _draw_policies(
        ax, reg, "x", "cumulative_regret", run,
        lambda g: " = ".join(g) + " (" + ", ".join(_num(float(ends[p])) for p in g)
        + " at the end)", "step")
    _log_steps(ax)
    # random's linear regret would flatten the learners' logarithmic ones on a linear axis
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_ylim(0.0, 1.5 * max(1.0, float(reg["cumulative_regret"].max())))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("steps (requests per user row; log scale)")
    if cascade:
        ax.set_ylabel("cumulative expected regret per user\n"
                      "Σ_t [P(click | best list) − P(click | shown list)]", fontsize=9)
        how = ("Expected reward of a list = P(click) = 1 − Π(1 − w) over its items (cascade "
               "model), w = the true attraction logged in oracle_relevance; best list = the K "
               "most attractive candidates (oracle_ideal_relevance).")
    else:
        ax.set_ylabel("cumulative regret per user row\nΣ_t [Σ best relevance − Σ shown relevance]")
        how = ("Regret of a slate = sum of oracle_ideal_relevance (best candidates) minus sum "
               "of oracle_relevance of the items shown.")
    note = (f"{how} Per step: mean over user rows; cumulated over steps. Axes: log steps; "
            "regret linear below 1 and logarithmic above (symlog). Regret is never negative: "
            f"bands are cut at 0. {run.band}. {same}")
    _finish(fig, [ax], run, note)
    return fig


# ----------------------------------------------------------------- creator plots
#: per creator plot: (summary metric of each panel's legend, or None), top to bottom
CREATOR_PLOTS = {"creator_survival": ("creator_survival_end", None),
                 "exposure_gini": ("creator_exposure_gini", "creator_income_gini"),
                 "catalog_diversity": ("catalog_entropy_end", "catalog_topics_end"),
                 "creator_engagement": ("user_clicks_per_step", None)}


def _creator_tables(run: _Run, impressions: bool = False) -> dict[str, pd.DataFrame] | None:
    """The run's ``creators`` and ``catalog`` tables (all units) and, with ``impressions``,
    the impressions' click columns; read once per run for all its creator plots. ``None``
    when the log has no creator tables (an env without creators)."""
    import pyarrow.parquet as pq

    from recarena.eventlog import table_files

    cache = run.__dict__.setdefault("_creator_tables", {})
    for table in ("creators", "catalog"):
        if table not in cache:
            files = table_files(run.dir / "units", table)
            cache[table] = pd.concat([pq.read_table(f).to_pandas() for f in files],
                                     ignore_index=True) if files else None
    if cache["creators"] is None or cache["catalog"] is None:
        return None
    if impressions and "impressions" not in cache:
        cache["impressions"] = run.read("impressions", ["seed", "policy", "step", "position",
                                                        "clicked", "watch_time", "reward"])
    return cache


def _creator_numbers(run: _Run, tabs: dict[str, pd.DataFrame]) -> tuple[
        dict[str, dict[str, float]], str]:
    """Per policy, the summary table's creator metrics, and where they come from in words
    (for captions). Where summary.json lacks them (a run summarised without its creator
    tables), the same function's value on the log
    (:func:`recarena.analysis.creators.creator_summary`, mean over seeds as the table)."""
    from recarena.analysis import creators as cr

    out: dict[str, dict[str, float]] = {}
    computed_any = False
    for p in run.policies:
        out[p] = {m: run.table(p, m) for m in cr.CREATOR_METRICS}
        if any(v is None for v in out[p].values()):
            computed_any = True
            tabs = _creator_tables(run, impressions=True) or tabs
            own = {k: f[f["policy"] == p] for k, f in tabs.items()}
            computed = cr.creator_summary(own["creators"], own["catalog"],
                                          own.get("impressions"))
            out[p] = {m: computed.get(m, float("nan")) if v is None else v
                      for m, v in out[p].items()}
    where = "the log's" if computed_any else run.where(*cr.CREATOR_METRICS)
    return out, where


def _creator_plot(run: _Run, name: str) -> Any | None:
    """The creator-side plots, one curve per policy with its band across seeds
    (:mod:`recarena.analysis.creators`): ``creator_survival`` (top: the creators there from
    the start still active, ending at the table's ``creator_survival_end``; bottom:
    Kaplan-Meier over every creator by rounds since its entry), ``exposure_gini`` (Gini of
    impressions, then of income, across the creators present per round), ``catalog_diversity``
    (normalised topic entropy and live topics of the catalog per round) and
    ``creator_engagement`` (the users' clicks and watch time per request per round).
    Bounded quantities (shares, Ginis, normalised entropies) are drawn on [0, 1]: a band
    that reaches past a bound is cut there."""
    import matplotlib.pyplot as plt

    from recarena.analysis import creators as cr

    tabs = _creator_tables(run)
    if tabs is None:
        return None
    numbers, where = _creator_numbers(run, tabs)
    cre, cat = tabs["creators"], tabs["catalog"]
    bounded = [True, True]
    if name == "creator_survival":
        rounds = float(cre["round"].max() - cre["round"].min() + 1) if len(cre) else 0.0
        top = cr.creator_survival(cre, np.arange(0.0, rounds + 1.0), cohort="initial")
        bottom = cr.creator_survival(cre, cohort="all")
        panels = [(top, "t", "survival", "share of the initial\ncreators still active"),
                  (bottom, "t", "survival", "Kaplan-Meier survival\n(all creators)")]
        xlabels = ["creator rounds completed", "rounds since the creator's entry"]
        note = ("Top: the creators there from the start, share still active after each round "
                "(none is censored before the run ends); the last value is "
                f"{where} creator_survival_end. Bottom: Kaplan-Meier estimate over every "
                "creator, entrants included, against whole rounds since its entry; creators "
                "still active when the run ends are censored there, so the tail rests on the "
                "earliest creators only.")
    elif name == "exposure_gini":
        panels = [(cr.exposure_gini_over_time(cre), "round", "gini",
                   "Gini of impressions\nacross creators"),
                  (cr.income_gini_over_time(cre), "round", "gini",
                   "Gini of income\nacross creators")]
        xlabels = ["creator round"] * 2
        note = ("Per round, the Gini coefficient of the impressions (top) and of the income "
                "paid by the creator reward (bottom) across the creators active in the round "
                "(leavers included in their last round, entrants from their first whole "
                f"round). Legend: {where} creator_exposure_gini and creator_income_gini: the "
                "mean over rounds of each seed's curve, mean over seeds.")
    elif name == "catalog_diversity":
        d = cr.catalog_diversity_over_time(cat)
        panels = [(d, "round", "entropy_norm", "normalised topic entropy\nof the live catalog"),
                  (d.assign(topics_live=d["topics_live"].astype(np.float64)), "round",
                   "topics_live", "topics with\nlive items")]
        bounded = [True, False]
        xlabels = ["creator round"] * 2
        note = ("Per round, the entropy of the topic shares of the items live in the catalog "
                "over log2 of the number of topics (1: every topic as large, 0: one topic "
                "holds everything), and the number of topics with at least one live item. "
                f"The last values are {where} catalog_entropy_end and catalog_topics_end.")
    else:
        w = cr.user_welfare_over_time(_creator_tables(run, impressions=True)["impressions"],
                                      cat)
        panels = [(w, "round", "clicks_per_step", "clicks per request")]
        if "watch_time_per_step" in w.columns and (w["watch_time"] > 0).any():
            panels.append((w, "round", "watch_time_per_step", "watch time per request"))
        bounded = [False, False]
        xlabels = ["creator round"] * len(panels)
        note = ("The users' side: clicks (and watch time) per request over each creator "
                f"round's steps. Legend: {where} user_clicks_per_step (clicks over requests "
                "of the whole run's rounds, mean over seeds).")
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 3.3 * len(panels) + 0.4),
                             squeeze=False)
    axes = list(axes[:, 0])
    sames = []
    for i, (ax, (frame, x, y, ylabel), xlabel, metric) in enumerate(zip(
            axes, panels, xlabels, CREATOR_PLOTS[name], strict=False)):
        def label(g: list[str], metric: str | None = metric) -> str:
            # policies whose curves coincide share one entry: "all N policies" when that is
            # every policy, and their number once when it is the same for all of them
            name = f"all {len(g)} policies" if len(g) == len(run.policies) > 1 else " = ".join(g)
            if metric is None:
                return name
            values = [_num(numbers[p][metric]) for p in g]
            shown = values[0] if len(set(values)) == 1 else ", ".join(values)
            return f"{name} ({metric} {shown})"

        _, same = _draw_policies(ax, frame, x, y, run, label, xlabel.split(" ")[-1])
        if same:
            sames.append(("" if len(panels) == 1 else "Top: " if i == 0 else "Bottom: ")
                         + same)
        ax.set_ylabel(ylabel)
        ax.set_xlabel(xlabel)
        if bounded[i]:
            lo, hi = ax.get_ylim()
            pad = 0.02 * max(hi - lo, 1e-3)
            ax.set_ylim(max(lo, -pad), min(hi, 1.0 + pad))
    if name == "creator_survival":
        for ax in axes:
            ax.set_ylim(-0.02, 1.02)
    seeds = sorted(cre["seed"].unique()) if "seed" in cre.columns else run.seeds
    band = stats.band_note(len(seeds))
    cut = " Bands are cut at the bounds 0 and 1." if any(bounded[:len(panels)]) else ""
    if where == "the log's":
        note += (" This run's summary.json has no creator metrics (it was summarised without "
                 "the creator tables): the legend's numbers are computed from the log by the "
                 "same functions (recarena.analysis.creators.creator_summary).")
    _finish(fig, axes, run, f"{note} {band}.{cut} {' '.join(sames)}")
    return fig


def figures(run_dir: str | Path, names: list[str] | None = None) -> dict[str, Any]:
    """The run's figures (matplotlib, headless), by plot name: the scenario's
    ``report.plots`` or ``names``. Plots the log cannot support are left out. The caller
    closes them (:func:`plot_run` saves and closes)."""
    import matplotlib

    matplotlib.use("Agg")
    run = _Run(run_dir)
    draw = {"reward_over_time": lambda: _time_series(run, "reward_over_time"),
            "ctr_over_time": lambda: _time_series(run, "ctr_over_time"),
            "cumulative_return": lambda: _cumulative_return(run),
            "retention": lambda: _retention(run),
            "interest_entropy": lambda: _interest_entropy(run),
            "lorenz": lambda: _lorenz(run),
            "fairness_relevance": lambda: _fairness_relevance(run),
            "regret": lambda: _regret(run)}
    draw |= {name: (lambda name=name: _creator_plot(run, name)) for name in CREATOR_PLOTS}
    out = {}
    for name in names if names is not None else run.scen["report"]["plots"]:
        if name not in draw:
            raise DataError(f"unknown plot {name!r}; known: {', '.join(draw)}")
        fig = draw[name]()
        if fig is not None:
            out[name] = fig
    return out


def _plot(run_dir: Path) -> list[tuple[Path, str]]:
    import matplotlib.pyplot as plt

    out_dir = run_dir / "plots"
    out_dir.mkdir(exist_ok=True)
    written = []
    for name, fig in figures(run_dir).items():
        path = out_dir / f"{name}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        written.append((path, getattr(fig, "_recarena_note", "")))
        plt.close(fig)
    return written


def plot_run(run_dir: str | Path) -> list[Path]:
    """Draw the scenario's plots into ``run_dir/plots``; returns the files written. Each
    figure says under it what is plotted and what its band is; every number in a legend is
    the summary table's (same functions, same per-seed mean)."""
    return [p for p, _ in _plot(Path(run_dir))]


def write_report(run_dir: str | Path) -> Path:
    """Write ``report.md`` (summary table, then every plot with its caption) and the plots;
    returns its path."""
    run_dir = Path(run_dir)
    manifest, summary = _load(run_dir)
    scen = manifest["scenario"]
    plots = _plot(run_dir)
    res = manifest["resolved"]
    order = summary.get("policy_order") or list(summary["policies"])
    lines = [f"# {scen['name']}", "", scen.get("description", "").strip(), "",
             f"- environment: `{res['env_id']}` ({res['num_candidates']} candidates, slate of "
             f"{res['slate_size']}, catalog: {res['num_items'] or 'new items every step'})",
             f"- users: {scen['run']['users']} rows, {scen['run']['steps']} steps "
             f"(until: {scen['run']['until']}); seeds: {manifest['seeds']}",
             f"- policies: {', '.join(order)}; baseline: {summary['baseline']}",
             f"- recarena {manifest['versions'].get('recarena', '?')}, commit "
             f"{manifest.get('git_commit') or 'unknown'}, wall time "
             f"{wall_time_text(manifest)}", "",
             "## Summary", "",
             "Mean across seeds ± the 95% t-interval half-width; in brackets, the paired "
             "difference to the baseline (same users and randomness per seed) with its 95% "
             "interval. ↑: higher is better, ↓: lower is better. Metrics marked (oracle) use "
             "privileged truth that a real log does not have.", "",
             format_table(summary, scen["report"]["metrics"] or None), "",
             "### Metrics", ""]
    for m, desc in summary["metric_descriptions"].items():
        if any(m in summary["policies"][p] for p in summary["policies"]):
            lines.append(f"- `{m}`: {desc}")
    if plots:
        lines += ["", "## Plots", ""]
        for p, note in plots:
            lines += [f"![{p.stem}](plots/{p.name})", ""]
            if note:
                lines += [f"*{p.stem}*: {note}", ""]
    path = run_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
