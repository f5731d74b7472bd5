"""The report's plots tell what the summary table tells: the number in every legend is the
table's, the cohort-return curve ends at cohort_return, the Kaplan-Meier curve follows a
known survival function through horizon censoring, and identical curves are said to be."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from recarena.analysis import engagement, long_term, report, stats
from recarena.scenarios import run_scenario, scenario_from_dict


# ----------------------------------------------------------------- synthetic logs
def first_rows(users: list[dict[str, Any]]) -> pd.DataFrame:
    """Position-0 rows: each user has ``days`` (one request per entry, steps 0, 1, ...),
    ``start`` (first step) and an ``end`` of "churn", "horizon" or "cut"."""
    rows = []
    for uid, u in enumerate(users):
        n = len(u["days"])
        for k, day in enumerate(u["days"]):
            last = k == n - 1
            rows.append({"seed": 0, "policy": "p", "step": u.get("start", 0) + k, "day": day,
                         "user_id": uid, "position": 0, "reward": u.get("reward", 1.0),
                         "terminated": last and u["end"] == "churn",
                         "truncated": last and u["end"] == "horizon"})
    return pd.DataFrame(rows)


def test_km_follows_geometric_lifetimes_with_censoring_at_the_step_horizon() -> None:
    # per-step churn probability q: S(t) = P(T > t) = (1 - q) ** t; censored at H steps
    rng = np.random.default_rng(7)
    q, horizon, n = 0.05, 30, 3000
    life = rng.geometric(q, n)
    users = [{"days": [0.0] * min(t, horizon), "end": "churn" if t <= horizon else "horizon"}
             for t in life]
    ev = first_rows(users)
    grid = np.arange(0.0, horizon + 1.0)
    km = long_term.retention_curve(ev, "step", grid)["retained"].to_numpy()
    np.testing.assert_allclose(km, (1 - q) ** grid, atol=0.025)
    # no plunge at the horizon: the last step loses about q of the survivors, no more
    assert km[-1] / km[-2] == pytest.approx(1 - q, abs=0.03)
    assert long_term.churn_rate(ev) == pytest.approx(1 - (1 - q) ** horizon, abs=0.025)
    assert long_term.churn_rate(ev) == pytest.approx(1 - km[-1], abs=1e-12)


def test_km_follows_exponential_lifetimes_with_censoring_at_the_day_horizon() -> None:
    # lifetimes T ~ Exp(rate) in days; a user who outlives the horizon H is last seen at a
    # session up to 2 days before H (their next one would start after H): truncated
    rng = np.random.default_rng(11)
    rate, horizon, n = 0.03, 30.0, 4000
    t = rng.exponential(1 / rate, n)
    last_seen = horizon - rng.uniform(0.0, 2.0, n)
    users = [{"days": [0.0, float(ti)], "end": "churn"} if ti < horizon
             else {"days": [0.0, float(ls)], "end": "horizon"}
             for ti, ls in zip(t, last_seen, strict=True)]
    ev = first_rows(users)
    grid = np.linspace(0.0, horizon, 61)
    km = long_term.retention_curve(ev, "day", grid, horizon=horizon)["retained"].to_numpy()
    np.testing.assert_allclose(km, np.exp(-rate * grid), atol=0.025)
    # without the horizon (censored at the longest observed lifetime): the same estimate
    km_log = long_term.retention_curve(ev, "day", grid)["retained"].to_numpy()
    np.testing.assert_allclose(km_log[:-1], km[:-1], atol=1e-12)
    assert long_term.churn_rate(ev) == pytest.approx(1 - np.exp(-rate * horizon), abs=0.025)
    # the old estimator (censored at the last request) plunges over the last two days
    life = long_term.user_lifetimes(ev, "day")
    raw = (life["end"] - life["start"]).to_numpy()
    naive = long_term.kaplan_meier(raw, life["churned"].to_numpy(), grid)
    assert naive[-1] < np.exp(-rate * horizon) - 0.1
    assert km[-1] == pytest.approx(np.exp(-rate * horizon), abs=0.025)


def test_lifetimes_censoring_kinds_by_hand() -> None:
    ev = first_rows([{"days": [0.0, 1.0, 4.0], "end": "churn"},
                     {"days": [0.0, 2.5], "end": "horizon"},
                     {"days": [0.0, 3.0], "end": "cut"}])
    life = long_term.user_lifetimes(ev, "day")
    assert life["churned"].tolist() == [True, False, False]
    assert life["at_horizon"].tolist() == [False, True, False]
    # the horizon user is followed to the longest lifetime (4), the cut-off user is not
    assert life["duration"].tolist() == [4.0, 4.0, 3.0]
    assert long_term.user_lifetimes(ev, "day", horizon=10.0)["duration"].tolist() == [
        4.0, 10.0, 3.0]
    # S: at t=4 the churner is 1 of 2 at risk -> 1/2; the table says the same
    assert long_term.churn_rate(ev) == pytest.approx(0.5)


def test_cohort_return_curve_by_hand() -> None:
    ev = first_rows([
        {"days": [0.0, 0.0, 0.0], "end": "churn", "reward": 2.0},   # total 6
        {"days": [0.0], "end": "churn", "reward": 1.0},             # total 1, leaves early
        {"days": [0.0, 0.0], "end": "cut", "reward": 5.0, "start": 1}])  # joins later
    curve = long_term.cohort_return_curve(ev, "step")
    # the two initial users only: after steps 0, 1, 2 they hold (2+1), (4+1), (6+1)
    assert curve["t"].tolist() == [0.0, 1.0, 2.0]
    np.testing.assert_allclose(curve["cohort_return"], [1.5, 2.5, 3.5])
    assert curve["cohort_return"].iloc[-1] == pytest.approx(long_term.cohort_return(ev))


def test_cascade_regret_by_hand() -> None:
    ev = pd.DataFrame({"seed": 0, "policy": "p", "step": [0, 0, 1, 1], "user_id": 0,
                       "position": [0, 1, 0, 1], "oracle_relevance": [0.5, 0.1, 0.5, 0.5],
                       "oracle_ideal_relevance": [0.5, 0.5, 0.5, 0.5]})
    # step 0: P(click | best) = 1 - 0.25 = 0.75, shown: 1 - 0.5 * 0.9 = 0.55 -> 0.2
    out = engagement.cumulative_regret(ev)
    np.testing.assert_allclose(out["regret"], [0.2, 0.0])
    np.testing.assert_allclose(out["cumulative_regret"], [0.2, 0.2])
    np.testing.assert_allclose(engagement.cumulative_regret(ev, "sum")["regret"], [0.4, 0.0])


def test_mean_ci_by_equals_mean_ci() -> None:
    frame = pd.DataFrame({"t": [0, 0, 0, 1, 1, 2], "y": [1.0, 2.0, 4.0, 3.0, 5.0, 7.0]})
    out = stats.mean_ci_by(frame, "t", "y").set_index("t")
    for t, part in frame.groupby("t"):
        ci = stats.mean_ci(part["y"].to_numpy())
        assert out.loc[t, "mean"] == pytest.approx(ci["mean"])
        if ci["low"] is None:
            assert np.isnan(out.loc[t, "low"])
        else:
            assert out.loc[t, "low"] == pytest.approx(ci["low"])
            assert out.loc[t, "high"] == pytest.approx(ci["high"])
    assert stats.band_note(3) == "Line: mean over 3 seeds; band: 95% t-interval across the 3 seeds"


def test_window_edges_and_identical_groups() -> None:
    assert report._window_edges(300, 20).tolist()[:8] == [0, 1, 2, 4, 8, 16, 20, 40]
    assert report._window_edges(5, 10).tolist() == [0, 1, 2, 4, 5]
    a = np.array([[1.0, 0.5], [1.0, 0.4]])
    groups = report._identical_groups({"x": a, "y": a + 1e-4, "z": a - 0.1}, 1e-3)
    assert groups == [["x", "y"], ["z"]]


# ----------------------------------------------------------------- tiny runs
IE = {"name": "tiny-ie", "env": {"id": "recarena/InterestEvolution-v0"},
      "run": {"users": 24, "steps": 60, "seeds": 2, "baseline": "random"},
      "policies": [{"name": "random"}, {"name": "greedy_oracle"}, {"name": "quality_oracle"}],
      "log": {"snapshot_every": 10},
      "report": {"plots": ["cumulative_return", "retention", "interest_entropy",
                           "ctr_over_time"]}}
CASCADE = {"name": "tiny-cascade", "env": {"id": "recarena/Cascade-v0",
                                           "config": {"shuffle": False}},
           "run": {"users": 8, "steps": 30, "seeds": 2},
           "policies": [{"name": "random"}, {"name": "kl", "policy": "cascade_kl_ucb",
                                             "args": {"scope": "shared"}},
                        {"name": "greedy_oracle"}],
           "log": {"candidates": True, "snapshot_every": 0},
           "report": {"plots": ["regret", "lorenz", "fairness_relevance", "retention"]}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("plots")
    return {name: run_scenario(scenario_from_dict(spec), out=root / name, quiet=True,
                               report=False)
            for name, spec in (("ie", IE), ("cascade", CASCADE))}


def summary_of(run: Path) -> dict[str, Any]:
    return json.loads((run / "summary.json").read_text())


def legend(ax: Any) -> dict[str, str]:
    """Legend entries by their first word (the policy)."""
    return {t.get_text().split(" ")[0]: t.get_text() for t in ax.get_legend().get_texts()}


def number(text: str, metric: str) -> float:
    return float(re.search(re.escape(metric) + r" ([-+0-9.]+)", text).group(1))


def close(figs: dict[str, Any]) -> None:
    import matplotlib.pyplot as plt

    for f in figs.values():
        plt.close(f)


def test_cumulative_return_ends_at_the_tables_cohort_return(runs: dict[str, Path]) -> None:
    figs = report.figures(runs["ie"], ["cumulative_return"])
    summary = summary_of(runs["ie"])
    ax = figs["cumulative_return"].axes[0]
    lines = {ln.get_label().split(" ")[0]: ln for ln in ax.get_lines()}
    for p in ("random", "greedy_oracle", "quality_oracle"):
        want = summary["policies"][p]["cohort_return"]["mean"]
        assert lines[p].get_ydata()[-1] == pytest.approx(want, rel=1e-9)
        assert number(legend(ax)[p], "cohort_return") == pytest.approx(want, abs=0.05)
    # the quality oracle keeps its users: the plot and the table agree on who wins
    ends = {p: lines[p].get_ydata()[-1] for p in lines}
    best = max(summary["policies"], key=lambda p: summary["policies"][p]["cohort_return"]["mean"])
    assert max(ends, key=ends.get) == best
    assert "band: 95% t-interval across the 2 seeds" in figs["cumulative_return"]._recarena_note
    close(figs)


def test_retention_and_entropy_legends_are_the_tables(runs: dict[str, Path]) -> None:
    figs = report.figures(runs["ie"], ["retention", "interest_entropy"])
    summary = summary_of(runs["ie"])
    ax = figs["retention"].axes[0]
    entries = legend(ax)
    for line in ax.get_lines():
        p = line.get_label().split(" ")[0]
        want = summary["policies"][p]["churn_rate"]["mean"]
        assert 1.0 - line.get_ydata()[-1] == pytest.approx(want, abs=1e-9)
        assert number(entries[p], "churn_rate") == pytest.approx(want, abs=5e-4)
    top, bottom = figs["interest_entropy"].axes
    entries = legend(top)
    for p in ("random", "greedy_oracle", "quality_oracle"):
        e = summary["policies"][p]["interest_entropy_end"]
        assert number(entries[p], "interest_entropy_end") == pytest.approx(e["mean"], abs=5e-4)
    # the paired-difference panel ends at the table's difference to the baseline
    diffs = {ln.get_label().split(" ")[0]: ln.get_ydata()[-1] for ln in bottom.get_lines()
             if "Δ" in ln.get_label()}
    for p in ("greedy_oracle", "quality_oracle"):
        want = summary["policies"][p]["interest_entropy_end"]["diff_vs_baseline"]["mean"]
        assert diffs[p] == pytest.approx(want, abs=1e-12)
    close(figs)


def test_exposure_and_fairness_legends_are_the_tables(runs: dict[str, Path]) -> None:
    figs = report.figures(runs["cascade"], ["lorenz", "fairness_relevance", "regret",
                                            "retention"])
    summary = summary_of(runs["cascade"])
    ax = figs["lorenz"].axes[0]
    entries = legend(ax)
    for line in ax.get_lines():
        p = line.get_label().split(" ")[0]
        if p not in summary["policies"]:
            continue
        want = summary["policies"][p]["exposure_gini"]["mean"]
        assert number(entries[p], "exposure_gini") == pytest.approx(want, abs=5e-4)
        # the Gini of the drawn (mean) Lorenz curve is the table's mean Gini, exactly
        y = np.asarray(line.get_ydata())
        assert 1.0 - np.mean(y[:-1] + y[1:]) == pytest.approx(want, abs=1e-9)
    ax = figs["fairness_relevance"].axes[0]
    entries = legend(ax)
    assert "seed 0" not in ax.get_xlabel()
    for p in ("random", "kl", "greedy_oracle"):
        e = summary["policies"][p]
        assert number(entries[p], "dpfr") == pytest.approx(e["dpfr"]["mean"], abs=5e-4)
    points = [c for c in ax.get_children() if hasattr(c, "get_xydata")]
    xy = np.concatenate([np.asarray(c.get_xydata()).reshape(-1, 2) for c in points])
    for p in ("random", "kl", "greedy_oracle"):
        e = summary["policies"][p]
        assert np.any(np.all(np.isclose(xy, [e["ndcg"]["mean"], e["ent_our"]["mean"]],
                                        atol=1e-12), axis=1)), p
    # regret: the oracle has none, random the most; on a log step axis
    ax = figs["regret"].axes[0]
    assert ax.get_xscale() == "log"
    ends = {ln.get_label().split(" ")[0]: ln.get_ydata()[-1] for ln in ax.get_lines()}
    assert ends["greedy_oracle"] == pytest.approx(0.0, abs=1e-12)
    assert ends["random"] > ends["kl"] > 0
    # nobody leaves a cascade: one curve for all, and the figure says so
    ax = figs["retention"].axes[0]
    assert len(ax.get_lines()) == 1 and ax.get_lines()[0].get_label().startswith("all 3")
    assert "All 3 policies give the same curve" in figs["retention"]._recarena_note
    close(figs)
