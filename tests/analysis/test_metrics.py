"""Every metric against values computed by hand on tiny logs, with edge cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from recarena.analysis import diversity, engagement, fairness, long_term
from recarena.analysis.stats import mean_ci, paired_difference
from recarena.errors import ConfigError, DataError


def log(slates: list[dict]) -> pd.DataFrame:
    """Impressions from a list of slates: each dict has step, user_id, items and optional
    per-position lists (clicked, topic, rel, ideal) and per-slate values."""
    rows = []
    for s in slates:
        k = len(s["items"])
        for p in range(k):
            rows.append({
                "seed": s.get("seed", 0), "policy": s.get("policy", "p"), "step": s["step"],
                "day": s.get("day", 0.0), "user_id": s["user_id"],
                "session_id": s.get("session", 0), "position": p, "item_id": s["items"][p],
                "creator_id": s.get("creators", [-1] * k)[p], "topic": s.get("topic", [-1] * k)[p],
                "clicked": bool(s.get("clicked", [0] * k)[p]), "watch_time": 0.0,
                "reward": float(s.get("reward", 0.0)) if p == 0 else 0.0,
                "left": s.get("left", False), "terminated": s.get("terminated", False),
                "truncated": s.get("truncated", False),
                "oracle_relevance": s.get("rel", [0.0] * k)[p],
                "oracle_ideal_relevance": s.get("ideal", [0.0] * k)[p]})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------- engagement
def test_ctr_and_sessions_by_hand() -> None:
    ev = log([
        {"step": 0, "user_id": 1, "items": [1, 2], "clicked": [1, 0], "reward": 1.0},
        {"step": 1, "user_id": 1, "items": [3, 4], "clicked": [0, 1], "reward": 2.0, "left": True},
        {"step": 0, "user_id": 2, "items": [1, 3], "clicked": [0, 0], "reward": 0.5},
    ])
    assert engagement.ctr(ev) == pytest.approx(2 / 6)
    s = engagement.engagement_summary(ev)
    # only user 1's session is complete: 2 clicks, 2 requests, return 3
    assert s["clicks_per_session"] == 2 and s["session_length"] == 2
    assert s["return_per_session"] == 3.0
    assert s["reward_per_step"] == pytest.approx(3.5 / 3)
    per = engagement.per_step(ev, window=2)
    assert per["requests"].tolist() == [3] and per["clicks"].tolist() == [2]


def test_no_clicks_edge_case() -> None:
    ev = log([{"step": 0, "user_id": 1, "items": [1, 2]}])
    assert engagement.ctr(ev) == 0.0
    assert math.isnan(engagement.engagement_summary(ev)["clicks_per_session"])
    assert diversity.consumption_over_time(log([{"step": 0, "user_id": 1, "items": [1],
                                                  "topic": [0]}])).empty


# ----------------------------------------------------------------- long term
def test_kaplan_meier_with_censoring_by_hand() -> None:
    # durations 2 (churn), 3 (censored), 4 (churn): S(2) = 2/3, S(4) = 2/3 * (1 - 1/1) = 0
    km = long_term.kaplan_meier(np.array([2.0, 3.0, 4.0]), np.array([True, False, True]),
                                np.array([0.0, 2.0, 3.0, 4.0]))
    np.testing.assert_allclose(km, [1.0, 2 / 3, 2 / 3, 0.0])
    none = long_term.kaplan_meier(np.array([2.0]), np.array([False]), np.array([0.0, 5.0]))
    np.testing.assert_allclose(none, [1.0, 1.0])  # no churn at all


def test_retention_churn_return_time_by_hand() -> None:
    ev = log([
        {"step": 0, "user_id": 1, "items": [1], "day": 0.0, "session": 0, "left": True},
        {"step": 1, "user_id": 1, "items": [2], "day": 2.5, "session": 1, "terminated": True},
        {"step": 0, "user_id": 2, "items": [3], "day": 0.0},
        {"step": 1, "user_id": 2, "items": [4], "day": 0.1},
        {"step": 1, "user_id": 3, "items": [5], "day": 0.0},  # not in the initial cohort
    ])
    # churn_rate: 1 - Kaplan-Meier retention of the initial cohort (users 1 and 2) at the
    # end. In days (the log has a calendar) user 2 is last seen at day 0.1, so at day 2.5
    # user 1 is the only one at risk and churns: 1. In steps both are at risk at step 2: 1/2.
    assert long_term.churn_rate(ev) == pytest.approx(1.0)
    assert long_term.churn_rate(ev, "step") == pytest.approx(0.5)
    assert long_term.return_time(ev) == pytest.approx(2.5)
    curve = long_term.retention_curve(ev, "step", np.array([0.0, 1.0, 2.0]))
    # cohort users 1 (lived 2 steps, churned) and 2 (censored): S = 1, 1, 1/2 ... at t=2
    # user 1 churns: at risk 2 -> S = 0.5
    np.testing.assert_allclose(curve["retained"], [1.0, 1.0, 0.5])
    cum = long_term.cumulative_return(log([
        {"step": 0, "user_id": 1, "items": [1], "reward": 1.0},
        {"step": 0, "user_id": 2, "items": [2], "reward": 3.0},
        {"step": 1, "user_id": 1, "items": [3], "reward": 2.0}]))
    assert cum["cumulative"].tolist() == [2.0, 4.0]
    assert long_term.cohort_return(ev) == 0.0


# ----------------------------------------------------------------- diversity
def test_gini_lorenz_ild_novelty_by_hand() -> None:
    assert diversity.gini(np.array([0.0, 0.0, 0.0, 4.0])) == pytest.approx(0.75)
    assert diversity.gini(np.array([2.0, 2.0])) == 0.0  # ties
    x, y = diversity.lorenz(np.array([1.0, 3.0]))
    np.testing.assert_allclose(y, [0.0, 0.25, 1.0])
    ev = log([{"step": 0, "user_id": 1, "items": [1, 2, 3], "topic": [0, 0, 1]},
              {"step": 0, "user_id": 2, "items": [4, 5, 6], "topic": [0, 1, 2]}])
    assert diversity.intra_list_diversity(ev) == pytest.approx((2 / 3 + 1) / 2)
    # item 1 clicked by 1 of 2 users: p = (1 + 1) / 3; others p = 1/3
    ev = log([{"step": 0, "user_id": 1, "items": [1, 2], "clicked": [1, 0]},
              {"step": 0, "user_id": 2, "items": [1, 3]}])
    expected = np.mean([-np.log2(2 / 3), -np.log2(1 / 3), -np.log2(2 / 3), -np.log2(1 / 3)])
    assert diversity.novelty(ev) == pytest.approx(expected)
    assert diversity.catalog_coverage(ev, 6) == pytest.approx(0.5)
    # exposure: item 1 at rank 0 twice = 2, items 2, 3 at rank 1: 1/log2(3) each
    w = 1 / np.log2(3)
    assert diversity.exposure_gini(ev, "item_id", 4) == pytest.approx(
        diversity.gini(np.array([0.0, w, w, 2.0])))
    with pytest.raises(DataError, match="topic"):
        diversity.intra_list_diversity(log([{"step": 0, "user_id": 1, "items": [1, 2]}]))


def test_homogenization_and_interest_entropy_by_hand() -> None:
    ev = log([{"step": 0, "user_id": 1, "items": [1, 2], "topic": [0, 1], "clicked": [1, 0]},
              {"step": 0, "user_id": 2, "items": [3, 4], "topic": [0, 1], "clicked": [1, 0]},
              {"step": 0, "user_id": 3, "items": [5, 6], "topic": [0, 1], "clicked": [0, 1]}])
    out = diversity.consumption_over_time(ev, window=10)
    # profiles e0, e0, e1: pairwise cosines 1, 0, 0 -> mean 1/3; each user one topic
    assert out["homogenization"].iloc[0] == pytest.approx(1 / 3)
    assert out["consumption_entropy"].iloc[0] == 0.0
    snaps = pd.DataFrame({"seed": 0, "policy": "p", "step": [0, 0], "user_id": [1, 2],
                          "oracle_interest_0": [1.0, 0.5], "oracle_interest_1": [1.0, -1.0]})
    ie = diversity.interest_entropy(snaps)
    assert ie["interest_entropy"].iloc[0] == pytest.approx(0.5)  # (1 + 0) / 2
    with pytest.raises(DataError, match="oracle_interest"):
        diversity.interest_entropy(snaps.drop(columns=["oracle_interest_0", "oracle_interest_1"]))


# ----------------------------------------------------------------- fairness
def test_corrected_exposure_measures_by_hand() -> None:
    # n = 4, k = 2, lists [a, b], [a, c]: Gini = 0.375, Gini_our = 0.75; H = 0.75 ->
    # Ent_our = 0.5; J = 2/3 -> Jain_our = 1/3
    m = fairness.exposure_measures(np.array([2, 1, 1]), num_items=4, k=2)
    assert m["gini"] == pytest.approx(0.375)
    assert m["gini_our"] == pytest.approx(0.75)
    assert m["ent_our"] == pytest.approx(0.5)
    assert m["jain_our"] == pytest.approx(1 / 3)
    # fewer slots than items (m k < n): all-distinct lists are the fairest possible
    m = fairness.exposure_measures(np.array([1, 1, 1, 1]), num_items=10, k=2)
    assert m["gini_our"] == pytest.approx(0.0) and m["ent_our"] == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="num_items"):
        fairness.exposure_measures(np.array([1]), num_items=1, k=1)  # one item


def test_ndcg_expected_exposure_by_hand() -> None:
    ev = log([{"step": 0, "user_id": 1, "items": [7, 8], "rel": [0.5, 1.0], "ideal": [1.0, 0.5]}])
    w = 1 / np.log2(3)
    assert fairness.slate_ndcg(ev)["ndcg"].iloc[0] == pytest.approx((0.5 + w) / (1 + 0.5 * w))
    ev = log([{"step": 0, "user_id": 1, "items": [1, 2], "rel": [1.0, 0.0]}])
    ee = fairness.expected_exposure(ev, gamma=0.5, threshold=0.5)
    assert ee["ii_f"] == pytest.approx(0.125) and ee["ai_f"] == pytest.approx(0.125)
    clicks = fairness.expected_exposure(log([{"step": 0, "user_id": 1, "items": [1, 2],
                                              "clicked": [1, 0]}]), gamma=0.5,
                                        relevance="clicks")
    assert clicks == ee  # the same relevance, from clicks
    with pytest.raises(DataError, match="oracle_relevance"):
        fairness.slate_ndcg(ev.drop(columns=["oracle_relevance"]))


def test_puf_by_hand() -> None:
    def users(effs: list[float]) -> pd.DataFrame:
        return log([{"step": 0, "user_id": u, "items": [1], "rel": [e], "ideal": [1.0]}
                    for u, e in enumerate(effs)])

    snaps = pd.DataFrame({"step": 0, "user_id": [0, 1, 2], "oracle_interest_0": [1.0, 2.0, 0.0],
                          "oracle_interest_1": [0.0, 0.0, 1.0]})
    # users 0 and 1 similar (cos 1), user 2 orthogonal: PUF = |0.8 - 0.6| = 0.2
    assert fairness.puf(users([0.8, 0.6, 0.0]), snaps) == pytest.approx(0.2)
    # equal effectiveness among similar users is fair whatever the dissimilar user gets
    assert fairness.puf(users([0.7, 0.7, 0.0]), snaps) == pytest.approx(0.0)


def test_pareto_front_and_dpfr_reference() -> None:
    pts = np.array([[1.0, 0.0], [0.5, 0.5], [0.4, 0.4], [0.0, 1.0]])
    np.testing.assert_allclose(fairness.pareto_front(pts), [[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])
    ref = fairness._ray_point(fairness.pareto_front(pts), 0.5)
    np.testing.assert_allclose(ref, [0.5, 0.5])


def test_stats_ci_and_paired_difference() -> None:
    ci = mean_ci([1.0, 2.0, 3.0])
    assert ci["mean"] == 2.0 and ci["low"] == pytest.approx(2 - 4.302653 / np.sqrt(3), rel=1e-5)
    assert mean_ci([5.0])["low"] is None and mean_ci([])["mean"] is None
    d = paired_difference([2.0, 3.0, 4.0], [1.0, 2.0, 3.0])
    assert d["mean"] == 1.0 and d["low"] == d["high"] == 1.0
