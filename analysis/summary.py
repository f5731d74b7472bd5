"""One unit's headline metrics, and their aggregation across seeds with paired CIs."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from recarena.analysis import creators as creator_metrics
from recarena.analysis import diversity, engagement, fairness, long_term
from recarena.analysis.stats import mean_ci, paired_difference
from recarena.errors import DataError

__all__ = ["METRICS", "aggregate", "unit_metrics"]

#: every headline metric: (description, higher is better?)
METRICS: dict[str, tuple[str, bool]] = {
    "cohort_return": ("total reward per user of the initial cohort over the run", True),
    "reward_per_step": ("mean reward per request", True),
    "ctr": ("clicks per impression", True),
    "watch_time_per_step": ("watch time per request", True),
    "clicks_per_session": ("clicks per complete session", True),
    "session_length": ("requests per complete session", True),
    "return_per_session": ("reward per complete session", True),
    "churn_rate": ("share of the initial cohort who churned during the run (1 - its "
                   "Kaplan-Meier retention at the end)", False),
    "return_time": ("days between sessions", False),
    "intra_list_diversity": ("share of slate pairs with different topics", True),
    "novelty": ("mean self-information of shown items (bits)", True),
    "catalog_coverage": ("distinct items shown / catalog", True),
    "exposure_gini": ("Gini of position-discounted item exposure", False),
    "creator_gini": ("Gini of position-discounted creator exposure", False),
    "interest_entropy_end": ("mean normalised interest entropy at the last snapshot (oracle)",
                             True),
    "homogenization_end": ("mean pairwise similarity of clicked topics, last window", False),
    "ndcg": ("NDCG of slates vs the best candidates (oracle)", True),
    "gini_our": ("corrected item-exposure Gini (Rampisela et al.)", False),
    "ent_our": ("corrected item-exposure entropy (Rampisela et al.)", True),
    "jain_our": ("corrected Jain index of item exposure", True),
    "ii_f": ("II-F: exposure vs relevance gap per user-item pair (oracle)", False),
    "ai_f": ("AI-F: exposure vs relevance gap per item (oracle)", False),
    "puf": ("pairwise user unfairness: effectiveness gaps of similar users", False),
    "dpfr": ("distance to the NDCG-Ent Pareto frontier (needs log.candidates)", False),
    **creator_metrics.CREATOR_METRICS,  # only where the log has creators / catalog tables
}


def _try(out: dict[str, float], fn: Callable[[], Any], *names: str) -> None:
    """Run a metric; a DataError (the log lacks what it needs) leaves it out."""
    try:
        value = fn()
    except DataError:
        return
    if isinstance(value, dict):
        for name in names:
            out[name] = float(value[name])
    else:
        out[names[0]] = float(value)


def unit_metrics(ev: pd.DataFrame, snapshots: pd.DataFrame | None = None,
                 candidates: pd.DataFrame | None = None,
                 num_items: int | None = None, window: int = 10,
                 creators: pd.DataFrame | None = None,
                 catalog: pd.DataFrame | None = None) -> dict[str, float]:
    """Headline metrics of one unit's log; metrics the log cannot support are left out.
    ``creators``/``catalog`` (the creator-round tables, where the env has creators) add
    :func:`recarena.analysis.creators.creator_summary`'s metrics."""
    out: dict[str, float] = {}
    eng = engagement.engagement_summary(ev)
    for key in ("reward_per_step", "ctr", "watch_time_per_step", "clicks_per_session",
                "session_length", "return_per_session"):
        out[key] = eng[key]
    out["cohort_return"] = long_term.cohort_return(ev)
    out["churn_rate"] = long_term.churn_rate(ev)
    rt = long_term.return_time(ev)
    if math.isfinite(rt):
        out["return_time"] = rt
    _try(out, lambda: diversity.intra_list_diversity(ev), "intra_list_diversity")
    _try(out, lambda: diversity.novelty(ev), "novelty")
    if (ev["creator_id"] >= 0).any():
        _try(out, lambda: diversity.exposure_gini(ev, "creator_id"), "creator_gini")
    if snapshots is not None and len(snapshots):
        _try(out, lambda: diversity.interest_entropy(snapshots)["interest_entropy"].iloc[-1],
             "interest_entropy_end")
    if (ev["topic"] >= 0).any():
        def homog() -> float:
            c = diversity.consumption_over_time(ev, window)["homogenization"].dropna()
            if c.empty:
                raise DataError("no window with two clicking users")
            return float(c.iloc[-1])
        _try(out, homog, "homogenization_end")
    _try(out, lambda: fairness.slate_ndcg(ev)["ndcg"].mean(), "ndcg")
    if num_items is not None:
        out["catalog_coverage"] = diversity.catalog_coverage(ev, num_items)
        out["exposure_gini"] = diversity.exposure_gini(ev, "item_id", num_items)
        _try(out, lambda: fairness.item_exposure_fairness(ev, num_items),
             "gini_our", "ent_our", "jain_our")
        _try(out, lambda: fairness.expected_exposure(ev, num_items=num_items), "ii_f", "ai_f")
        if candidates is not None and len(candidates):
            _try(out, lambda: fairness.dpfr(ev, candidates, num_items), "dpfr")
    effect = "ndcg" if "oracle_relevance" in ev.columns else "ctr"
    _try(out, lambda: fairness.puf(ev, snapshots, effectiveness=effect), "puf")
    out |= creator_metrics.creator_summary(creators, catalog, ev)
    return {k: v for k, v in out.items() if v is None or not (isinstance(v, float)
                                                              and math.isnan(v))}


def aggregate(per_unit: dict[tuple[int, str], dict[str, float]], policies: list[str],
              baseline: str) -> dict[str, Any]:
    """Per policy and metric: mean and CI across seeds; per non-baseline policy the paired
    difference to ``baseline`` (seeds present for both)."""
    seeds = sorted({s for s, _ in per_unit})
    metrics = [m for m in METRICS if any(m in v for v in per_unit.values())]
    out: dict[str, Any] = {"seeds": seeds, "baseline": baseline, "policy_order": list(policies),
                           "policies": {}}
    for pol in policies:
        entry: dict[str, Any] = {}
        for m in metrics:
            vals = [per_unit[(s, pol)].get(m, np.nan) for s in seeds if (s, pol) in per_unit]
            entry[m] = mean_ci(vals)
            if pol != baseline:
                both = [s for s in seeds if (s, pol) in per_unit and (s, baseline) in per_unit]
                a = [per_unit[(s, pol)].get(m, np.nan) for s in both]
                b = [per_unit[(s, baseline)].get(m, np.nan) for s in both]
                entry[m]["diff_vs_baseline"] = paired_difference(a, b)
        out["policies"][pol] = entry
    return out
