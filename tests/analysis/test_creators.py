"""Creator-side metrics from the ``creators``/``catalog`` tables: Kaplan-Meier against a
textbook life table and a known survival function under censoring, Ginis, entropies,
topic migration and user welfare by hand, the summary and the plots agreeing with it."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from recarena.analysis import creators as cr
from recarena.analysis import stats
from recarena.errors import ConfigError, DataError
from recarena.inequality import gini


# ----------------------------------------------------------------- synthetic tables
def creator_rows(spec: list[dict[str, Any]], seed: int = 0, policy: str = "p",
                 last_round: int = 5, round_length: int = 10) -> pd.DataFrame:
    """One row per round a creator is logged in, as the env logs them: ``enter`` (its
    entered_round: the round at whose end it entered, -1 at the start; logged from that
    round on), ``leave`` (the round at whose end it left, or None: still active at
    ``last_round``), ``id``."""
    rows = []
    for c in spec:
        stop = c["leave"] if c.get("leave") is not None else last_round
        for r in range(max(c["enter"], 0), stop + 1):
            left = c.get("leave") == r
            rows.append({"seed": seed, "policy": policy, "round": r,
                         "step": (r + 1) * round_length - 1, "creator_id": c["id"],
                         "entered_round": c["enter"], "alive": not left, "left": left,
                         "topic": c.get("topic", 0), "home_topic": c.get("home", 0),
                         "effort": 1.0, "items": c.get("items", 1), "live_items": 1,
                         "exposure": c.get("exposure", 1), "clicks": 0, "watch_time": 0.0,
                         "income": c.get("income", 1.0)})
    return pd.DataFrame(rows)


def simulated_creators(rng: np.random.Generator, q: float, rounds: int, initial: int,
                       entry: float, seed: int = 0, policy: str = "p") -> pd.DataFrame:
    """Creators that leave after each round with probability ``q`` (geometric lifetimes),
    ``initial`` from the start (entered_round -1) and Poisson(``entry``) entrants at the end
    of each round; the run ends after ``rounds`` rounds (survivors censored)."""
    enter = np.concatenate([np.full(initial, -1, np.int64),
                            np.repeat(np.arange(0, rounds - 1), rng.poisson(entry, rounds - 1))])
    life = rng.geometric(q, enter.size)  # whole rounds active, if not cut off
    last = np.minimum(enter + life, rounds - 1)
    left = enter + life <= rounds - 1
    first = np.maximum(enter, 0)
    n = last - first + 1
    cid = np.repeat(np.arange(enter.size), n)
    rnd = np.repeat(first, n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
    is_left = np.repeat(left, n) & (rnd == np.repeat(last, n))
    return pd.DataFrame({"seed": seed, "policy": policy, "round": rnd, "step": rnd * 10 + 9,
                         "creator_id": cid, "entered_round": np.repeat(enter, n),
                         "alive": ~is_left, "left": is_left, "topic": 0, "home_topic": 0,
                         "effort": 1.0, "items": 1, "live_items": 1,
                         "exposure": rng.integers(0, 50, rnd.size), "clicks": 0,
                         "watch_time": 0.0, "income": rng.exponential(1.0, rnd.size)})


def catalog_rows(live: list[list[int]], new: list[list[int]] | None = None,
                 exposure: list[list[int]] | None = None, clicks: list[list[int]] | None = None,
                 seed: int = 0, policy: str = "p", round_length: int = 10) -> pd.DataFrame:
    rows = []
    for r, per_topic in enumerate(live):
        for k, n in enumerate(per_topic):
            rows.append({"seed": seed, "policy": policy, "round": r,
                         "step": (r + 1) * round_length - 1, "topic": k, "live_items": n,
                         "new_items": new[r][k] if new else 0,
                         "exposure": exposure[r][k] if exposure else 0,
                         "clicks": clicks[r][k] if clicks else 0, "watch_time": 0.0})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------- survival
# Freireich et al. (1963), 6-MP arm (remission weeks, + = censored), the life table of
# Kaplan-Meier textbooks (e.g. Klein & Moeschberger, Table 4.1A); R survfit gives the same
GEHAN_6MP = ([6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35],
             [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0])


def test_kaplan_meier_table_matches_the_textbook_life_table() -> None:
    d, e = GEHAN_6MP
    tab = cr.kaplan_meier_table(np.array(d, float), np.array(e, bool), ci="plain")
    ev = tab[tab["events"] > 0]
    assert ev["t"].tolist() == [6, 7, 10, 13, 16, 22, 23]
    assert ev["at_risk"].tolist() == [21, 17, 15, 12, 11, 7, 6]
    assert ev["events"].tolist() == [3, 1, 1, 1, 1, 1, 1]
    np.testing.assert_allclose(ev["survival"], [0.8571, 0.8067, 0.7529, 0.6902, 0.6275,
                                                0.5378, 0.4482], atol=5e-5)
    np.testing.assert_allclose(ev["se"], [0.0764, 0.0869, 0.0963, 0.1068, 0.1141, 0.1282,
                                          0.1346], atol=5e-5)
    # censored-only times are listed with S unchanged
    nine = tab[tab["t"] == 9].iloc[0]
    assert (nine["events"], nine["censored"]) == (0, 1)
    assert nine["survival"] == pytest.approx(ev["survival"].iloc[1])
    # plain interval: S ± 1.96 se
    row = ev.iloc[0]
    assert row["low"] == pytest.approx(row["survival"] - 1.959964 * row["se"], abs=1e-5)
    # log-log interval at t = 6 (R: survfit(..., conf.type="log-log"): 0.620, 0.952)
    ll = cr.kaplan_meier_table(np.array(d, float), np.array(e, bool))
    first = ll[ll["t"] == 6].iloc[0]
    assert (first["low"], first["high"]) == (pytest.approx(0.6197, abs=5e-4),
                                             pytest.approx(0.9516, abs=5e-4))
    assert (ll["low"] <= ll["survival"]).all() and (ll["survival"] <= ll["high"]).all()


def test_creator_lifetimes_and_survival_by_hand() -> None:
    df = creator_rows([{"id": 0, "enter": -1, "leave": 1},     # rounds 0-1: 2, exit
                       {"id": 1, "enter": -1, "leave": None},  # censored at round 5: 6
                       {"id": 2, "enter": -1, "leave": 3},     # 4 rounds, exit
                       {"id": 0, "enter": 2, "leave": 4},      # slot 0 reused: 2, exit
                       {"id": 3, "enter": 3, "leave": None}])  # entrant censored: 2
    life = cr.creator_lifetimes(df).sort_values(["entered_round", "creator_id"])
    assert life["duration"].tolist() == [2.0, 6.0, 4.0, 2.0, 2.0]
    assert life["left"].tolist() == [True, False, True, True, False]
    assert life["initial"].tolist() == [True, True, True, False, False]
    s = cr.creator_survival(df, np.arange(0.0, 7.0))
    # t=2: 5 at risk, 2 exits -> 3/5; t=4: 2 at risk (6, 4), 1 exit -> 3/10
    np.testing.assert_allclose(s["survival"], [1, 1, 0.6, 0.6, 0.3, 0.3, 0.3])
    assert s["at_risk"].tolist() == [5, 5, 5, 2, 2, 1, 1]
    # the initial cohort: no censoring before the end -> the plain share still active
    init = cr.creator_survival(df, np.arange(0.0, 7.0), cohort="initial")
    np.testing.assert_allclose(init["survival"], [1, 1, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 1 / 3])
    assert cr.creator_summary(df)["creator_survival_end"] == pytest.approx(1 / 3)
    assert cr.creator_summary(df)["creators_active_end"] == 2.0


def test_survival_follows_geometric_exits_through_censoring_and_entry() -> None:
    # exit probability q per round: S(t) = (1 - q)^t; entrants are censored early, which a
    # plain share (exits / creators) would count as survivors
    rng = np.random.default_rng(3)
    q, rounds = 0.08, 40
    df = simulated_creators(rng, q, rounds, initial=1500, entry=60)
    grid = np.arange(0.0, 31.0)
    km = cr.creator_survival(df, grid)["survival"].to_numpy()
    np.testing.assert_allclose(km, (1 - q) ** grid, atol=0.02)
    life = cr.creator_lifetimes(df)
    naive = np.array([(life["duration"] > t).mean() for t in grid])
    assert naive[20] < (1 - q) ** 20 - 0.05  # ignoring censoring is visibly wrong
    # the Greenwood band of one curve covers the truth at most times
    tab = cr.kaplan_meier_table(life["duration"].to_numpy(), life["left"].to_numpy())
    tab = tab[tab["t"] <= 30]
    cover = (tab["low"] <= (1 - q) ** tab["t"]) & ((1 - q) ** tab["t"] <= tab["high"])
    assert cover.mean() >= 0.8


def test_over_seeds_is_mean_ci_per_policy_and_time() -> None:
    rng = np.random.default_rng(0)
    frames = [cr.creator_survival(simulated_creators(rng, q, 20, 200, 5, seed=s, policy=p),
                                  np.arange(0.0, 11.0))
              for s in range(3) for p, q in (("a", 0.05), ("b", 0.2))]
    units = pd.concat(frames, ignore_index=True)
    band = cr.over_seeds(units, "survival", "t")
    assert len(band) == 2 * 11
    for (p, t), part in units.groupby(["policy", "t"]):
        row = band[(band["policy"] == p) & (band["t"] == t)].iloc[0]
        ref = stats.mean_ci(part["survival"])
        assert row["mean"] == pytest.approx(ref["mean"])
        if ref["low"] is not None:
            assert row["low"] == pytest.approx(ref["low"])
    end = band[band["t"] == 10].set_index("policy")["mean"]
    assert end["a"] > end["b"]  # the slower exit keeps more creators


# ----------------------------------------------------------------- inequality, catalog
def test_exposure_and_income_gini_per_round_by_hand() -> None:
    df = creator_rows([{"id": 0, "enter": -1, "leave": 1, "exposure": 0, "income": 1.0},
                       {"id": 1, "enter": -1, "leave": None, "exposure": 4, "income": 1.0},
                       {"id": 2, "enter": 0, "leave": None, "exposure": 4, "income": 3.0}],
                      last_round=2)
    g = cr.exposure_gini_over_time(df)
    # round 0: (0, 4), the entrant of round 0's end left out -> 0.5; round 1: (0, 4, 4), the
    # leaver included -> 1/3; round 2: (4, 4) -> 0
    np.testing.assert_allclose(g["gini"], [0.5, 1 / 3, 0.0])
    assert g["creators"].tolist() == [2, 3, 2]
    inc = cr.income_gini_over_time(df)
    assert inc["gini"].iloc[1] == pytest.approx(gini(np.array([1.0, 1.0, 3.0])))
    assert cr.creator_summary(df)["creator_exposure_gini"] == pytest.approx(
        (0.5 + 1 / 3 + 0.0) / 3)


def test_catalog_diversity_by_hand() -> None:
    cat = catalog_rows([[1, 1, 1, 1], [2, 1, 1, 0], [4, 0, 0, 0], [0, 0, 0, 0]],
                       new=[[1, 1, 1, 1], [1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    d = cr.catalog_diversity_over_time(cat)
    assert d["entropy"].iloc[0] == pytest.approx(2.0)
    assert d["entropy"].iloc[1] == pytest.approx(1.5)  # (1/2, 1/4, 1/4)
    np.testing.assert_allclose(d["entropy_norm"].iloc[:3], [1.0, 0.75, 0.0])
    assert math.isnan(d["entropy"].iloc[3])
    assert d["topics_live"].tolist() == [4, 3, 1, 0]
    assert d["new_items"].tolist() == [4, 1, 0, 0]
    s = cr.creator_summary(None, cat.iloc[:12])
    assert s == {"catalog_entropy_end": 0.0, "catalog_topics_end": 1.0}


def test_topic_migration_by_hand() -> None:
    # 2 topics. Round 0: topic 0 shown 10 times, 5 clicks; topic 1 shown 10, 0 clicks;
    # its new items (made at its end, after that feedback) (2, 2): w = (1, 0) -> TV = 1/2
    cat = catalog_rows([[2, 2], [3, 5], [3, 5]], new=[[2, 2], [1, 3], [2, 2]],
                       exposure=[[10, 10], [10, 30], [0, 0]], clicks=[[5, 0], [0, 10], [0, 0]])
    cre = creator_rows([{"id": 0, "enter": -1, "leave": None, "topic": 1, "home": 0},
                        {"id": 1, "enter": -1, "leave": None, "topic": 1, "home": 1},
                        {"id": 2, "enter": -1, "leave": None, "topic": 0, "home": 0,
                         "items": 0}], last_round=2)
    m = cr.topic_migration(cre, cat)
    assert m["tv_rewarded"].iloc[0] == pytest.approx(0.5)
    # round 1: rates over rounds 0-1: topic 0: 5/20, topic 1: 10/40 -> w = (1/2, 1/2);
    # its items (1, 3) -> q = (1/4, 3/4) -> 1/4
    assert m["tv_rewarded"].iloc[1] == pytest.approx(0.25)
    # round 2 (nothing shown in it): rates over rounds 0-2 as before; q = (1/2, 1/2) -> 0
    assert m["tv_rewarded"].iloc[2] == pytest.approx(0.0)
    # window=2: rounds 1-2 only: rates (0, 1/3) -> w = (0, 1); q = (1/2, 1/2) -> 1/2
    assert cr.topic_migration(cre, cat, window=2)["tv_rewarded"].iloc[2] == pytest.approx(0.5)
    # window=1: round 2 alone showed nothing: undefined
    assert math.isnan(cr.topic_migration(cre, cat, window=1)["tv_rewarded"].iloc[2])
    # off_home: creators 0 and 1 produce (creator 2 did not), creator 0 off home -> 1/2
    assert m["off_home"].tolist() == [0.5, 0.5, 0.5]
    # home distribution of producers (1 item each on topics 0 and 1) vs q
    assert m["tv_home"].iloc[1] == pytest.approx(0.25)


def test_user_welfare_per_round_by_hand() -> None:
    # rounds end at steps 1 and 3; step 4 belongs to a round the run cut short
    ev = pd.DataFrame({"seed": 0, "policy": "p", "step": [0, 0, 1, 1, 2, 2, 3, 3, 4, 4],
                       "position": [0, 1] * 5,
                       "clicked": [1, 0, 1, 1, 0, 0, 0, 1, 1, 1],
                       "watch_time": [2.0, 0, 1, 1, 0, 0, 0, 4, 9, 9],
                       "reward": [1.0, 0, 2, 0, 0, 0, 1, 0, 5, 0]})
    rounds = pd.DataFrame({"seed": 0, "policy": "p", "round": [0, 1], "step": [1, 3]})
    w = cr.user_welfare_over_time(ev, rounds)
    assert w["requests"].tolist() == [2, 2]
    np.testing.assert_allclose(w["clicks_per_step"], [1.5, 0.5])
    np.testing.assert_allclose(w["watch_time_per_step"], [2.0, 2.0])
    np.testing.assert_allclose(w["reward_per_step"], [1.5, 0.5])
    cre = creator_rows([{"id": 0, "enter": -1, "leave": None}], last_round=1, round_length=2)
    assert cr.creator_summary(cre, None, ev)["user_clicks_per_step"] == pytest.approx(1.0)


def test_summary_without_creator_tables_is_empty_and_unit_metrics_unchanged() -> None:
    from recarena.analysis.summary import METRICS, unit_metrics

    assert cr.creator_summary(None, None, None) == {}
    assert cr.creator_summary(creator_rows([]).reindex(columns=["round"]), None) == {}
    assert set(cr.CREATOR_METRICS) <= set(METRICS)
    ev = pd.DataFrame({"seed": 0, "policy": "p", "step": [0, 0, 1, 1], "day": 0.0,
                       "user_id": 0, "session_id": 0, "position": [0, 1, 0, 1],
                       "item_id": [0, 1, 2, 3], "creator_id": [0, 1, 0, 1], "topic": -1,
                       "clicked": [True, False, False, True], "watch_time": 0.0,
                       "reward": [1.0, 0, 1, 0], "terminated": False, "truncated": False,
                       "left": False})
    plain = unit_metrics(ev)
    assert not set(plain) & set(cr.CREATOR_METRICS)
    cre = creator_rows([{"id": 0, "enter": -1, "leave": None},
                        {"id": 1, "enter": -1, "leave": 0}], last_round=1, round_length=1)
    with_c = unit_metrics(ev, creators=cre)
    assert with_c["creator_survival_end"] == 0.5
    assert with_c["user_clicks_per_step"] == 1.0
    assert {k: v for k, v in with_c.items() if k in plain} == plain


@pytest.mark.parametrize("call, err, words", [
    (lambda: cr.kaplan_meier_table(np.array([1.0, 2.0]), np.array([True])), DataError,
     "one event flag per duration"),
    (lambda: cr.kaplan_meier_table(np.array([1.0]), np.array([1])), DataError, "boolean"),
    (lambda: cr.kaplan_meier_table(np.array([-1.0]), np.array([True])), DataError,
     "non-negative"),
    (lambda: cr.kaplan_meier_table(np.array([1.0]), np.array([True]), ci="wald"),
     ConfigError, "log-log"),
    (lambda: cr.kaplan_meier_table(np.array([1.0]), np.array([True]), level=95), ConfigError,
     "(0, 1)"),
    (lambda: cr.creator_survival(creator_rows([{"id": 0, "enter": 0}]), cohort="new"),
     ConfigError, "'initial'"),
    (lambda: cr.creator_survival(pd.DataFrame({"round": [0]})), DataError, "entered_round"),
    (lambda: cr.creator_lifetimes(creator_rows([{"id": 0, "enter": 0}]).assign(
        entered_round=3)), DataError, "precedes"),
    (lambda: cr.exposure_gini_over_time(pd.DataFrame({"round": [0]})), DataError,
     "exposure"),
    (lambda: cr.catalog_diversity_over_time(catalog_rows([[-1, 2]])), DataError,
     "non-negative"),
    (lambda: cr.topic_migration(creator_rows([{"id": 0, "enter": 0}]), catalog_rows([[1]]),
                                signal="likes"), ConfigError, "'watch_time'"),
    (lambda: cr.topic_migration(creator_rows([{"id": 0, "enter": 0}]), catalog_rows([[1]]),
                                window=0), ConfigError, "positive"),
    (lambda: cr.round_of_steps(np.array([0]), np.array([5, 5])), DataError,
     "strictly increasing"),
])
def test_bad_inputs(call: Any, err: type, words: str) -> None:
    with pytest.raises(err, match=None) as info:
        call()
    assert words in str(info.value)


# ----------------------------------------------------------------- plots
def fake_run(tmp: Path, seeds: int = 2) -> Path:
    """A finished run folder with creators, catalog and impressions for two policies:
    ``keep`` (creators leave with probability 0.03 per round) and ``starve`` (0.15)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from recarena.analysis.summary import aggregate

    rng = np.random.default_rng(5)
    rounds, per_unit = 24, {}
    for seed in range(seeds):
        for pol, q, conc in (("keep", 0.03, 0.0), ("starve", 0.15, 0.6)):
            unit = tmp / "units" / f"seed{seed}-{pol}"
            unit.mkdir(parents=True)
            cre = simulated_creators(rng, q, rounds, 40, 2.0, seed, pol)
            # popularity starving narrows the catalog onto topic 0
            live = [[20 if k == 0 else int(20 * (1 - conc * r / rounds)) for k in range(4)]
                    for r in range(rounds)]
            cat = catalog_rows(live, new=[[1, 1, 1, 1]] * rounds,
                               exposure=[[10, 10, 10, 10]] * rounds,
                               clicks=[list(rng.integers(0, 5, 4)) for _ in range(rounds)],
                               seed=seed, policy=pol)
            steps = rounds * 10
            n = steps * 2
            ev = pd.DataFrame({"seed": seed, "policy": pol, "step": np.repeat(np.arange(
                steps), 2), "position": np.tile([0, 1], steps),
                "clicked": rng.random(n) < (0.3 if pol == "keep" else 0.2),
                "watch_time": rng.exponential(1.0, n), "reward": 0.0})
            for name, frame in (("creators", cre), ("catalog", cat), ("impressions", ev)):
                pq.write_table(pa.Table.from_pandas(frame, preserve_index=False),
                               unit / f"{name}-00000.parquet")
            per_unit[(seed, pol)] = cr.creator_summary(cre, cat, ev)
    summary = aggregate(per_unit, ["keep", "starve"], "keep")
    plots = ["creator_survival", "exposure_gini", "catalog_diversity", "creator_engagement"]
    manifest = {"scenario": {"name": "creator-test", "run": {"users": 1, "steps": steps},
                             "env": {}, "log": {"candidates": False},
                             "report": {"window": 10, "metrics": [], "plots": plots}},
                "seeds": list(range(seeds)),
                "resolved": {"num_items": None, "env_id": "fake/Creators-v0"}}
    (tmp / "manifest.json").write_text(json.dumps(manifest))
    (tmp / "summary.json").write_text(json.dumps(summary))
    return tmp


def test_creator_plots_draw_the_tables_numbers(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    from recarena.analysis import report
    from recarena.scenarios.spec import PLOTS

    run = fake_run(tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    names = ["creator_survival", "exposure_gini", "catalog_diversity", "creator_engagement"]
    assert set(names) <= set(PLOTS)
    figs = report.figures(run, names)
    assert sorted(figs) == sorted(names)
    metric = {"creator_survival": "creator_survival_end", "exposure_gini":
              "creator_exposure_gini", "catalog_diversity": "catalog_entropy_end",
              "creator_engagement": "user_clicks_per_step"}
    for name, fig in figs.items():
        ax = fig.axes[0]
        labels = ax.get_legend_handles_labels()[1]
        for pol in ("keep", "starve"):
            label = next(lab for lab in labels if pol in lab.split(" (")[0].split(" = "))
            assert report._num(summary["policies"][pol][metric[name]]["mean"]) in label
        if name in ("creator_survival", "catalog_diversity"):  # the curve ends at the number
            for line in ax.get_lines():
                pol = line.get_label().split(" ")[0]
                if pol in summary["policies"]:
                    assert line.get_ydata()[-1] == pytest.approx(
                        summary["policies"][pol][metric[name]]["mean"])
        assert getattr(fig, "_recarena_note", "")
        plt.close(fig)
    # starving creators shows: fewer survive, higher Gini... per the table
    p = summary["policies"]
    assert p["starve"]["creator_survival_end"]["mean"] < p["keep"]["creator_survival_end"][
        "mean"]
    # a summary made without the creator tables: the legend computes the same number
    bare = json.loads(json.dumps(summary))
    for entry in bare["policies"].values():
        for m in cr.CREATOR_METRICS:
            entry.pop(m, None)
    (run / "summary.json").write_text(json.dumps(bare))
    fig = report.figures(run, ["creator_engagement"])["creator_engagement"]
    labels = fig.axes[0].get_legend_handles_labels()[1]
    for pol in ("keep", "starve"):
        want = report._num(summary["policies"][pol]["user_clicks_per_step"]["mean"])
        assert any(lab.startswith(pol) and want in lab for lab in labels)
    plt.close(fig)
    # a run without creator tables draws none of them
    for f in run.rglob("creators-*.parquet"):
        f.unlink()
    for f in run.rglob("catalog-*.parquet"):
        f.unlink()
    assert report.figures(run, names) == {}


def test_the_creator_envs_tables_agree_with_its_impressions(tmp_path: Path) -> None:
    # the contract end to end: a CreatorEcosystem run's creators/catalog tables count the
    # same impressions and clicks per round as the impressions log, mapped by round_of_steps
    from recarena.eventlog import read_table
    from recarena.scenarios import run_scenario, scenario_from_dict

    spec = scenario_from_dict({
        "name": "creators-contract",
        "env": {"id": "recarena/CreatorEcosystem-v0", "config": {"round_length": 3}},
        "run": {"users": 4, "steps": 13, "seeds": 1}, "policies": [{"name": "popular"}],
        "log": {"snapshot_every": 0}, "report": {"plots": []}})
    units = run_scenario(spec, tmp_path / "run") / "units"
    ev, cre, cat = (read_table(units, t) for t in ("impressions", "creators", "catalog"))
    welfare = cr.user_welfare_over_time(ev, cat)
    assert welfare["round"].tolist() == [0, 1, 2, 3]  # step 12 starts a round cut short
    assert welfare["requests"].tolist() == [12] * 4
    k = ev["position"].max() + 1
    by_round = cat.groupby("round")[["exposure", "clicks"]].sum()
    assert by_round["exposure"].tolist() == [12 * k] * 4
    assert by_round["clicks"].tolist() == welfare["clicks"].tolist()
    assert cre.groupby("round")["clicks"].sum().tolist() == welfare["clicks"].tolist()
    assert cre.groupby("round")["exposure"].sum().tolist() == [12 * k] * 4
    s = cr.creator_summary(cre, cat, ev)
    assert s["user_clicks_per_step"] == pytest.approx(welfare["clicks"].sum() / 48)
    assert 0.0 <= s["creator_survival_end"] <= 1.0 and s["catalog_topics_end"] >= 1
