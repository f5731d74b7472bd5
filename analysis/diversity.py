"""Diversity and filter bubbles from the event log.

* intra-list diversity: share of slate position pairs showing different topics (topic
  distance, Ziegler et al. 2005);
* catalog coverage: distinct items shown / catalog size;
* novelty: mean self-information ``-log2 p(i)`` of shown items, ``p(i)`` the (add-one
  smoothed) share of users who clicked ``i`` in the same log (Zhou et al. 2010);
* exposure Gini and Lorenz curve over items or creators, position-discounted;
* homogenisation over time (T-RECS; Chaney, Stewart & Engelhardt 2018, who measure it
  by the similarity of what different users consume): the mean pairwise cosine similarity
  of users' clicked-topic distributions per window; and the mean normalised entropy of
  each user's clicked topics (consumption entropy) per window;
* interest entropy over time from the ``snapshots`` table (privileged truth): the
  normalised entropy of each user's interest profile, ``p ∝ max(interest, 0)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recarena.analysis._frame import require, slate_size, unit_keys
from recarena.errors import ConfigError, DataError
from recarena.inequality import gini, lorenz

__all__ = ["catalog_coverage", "consumption_over_time", "exposure", "exposure_gini",
           "exposure_lorenz", "gini", "interest_entropy", "intra_list_diversity", "lorenz",
           "novelty", "position_weights"]


def position_weights(position: np.ndarray, discount: str = "log") -> np.ndarray:
    """Exposure of a rank: ``"log"``: ``1 / log2(rank + 2)`` (DCG); ``"none"``: 1;
    ``"rbp"``: ``0.8 ** rank`` (rank-biased precision, patience 0.8)."""
    p = np.asarray(position, dtype=np.float64)
    if discount == "log":
        return 1.0 / np.log2(p + 2.0)
    if discount == "none":
        return np.ones_like(p)
    if discount == "rbp":
        return 0.8 ** p
    raise ConfigError("discount", discount, "'log', 'none' or 'rbp'")


def _entity_exposure(ev: pd.DataFrame, by: str, discount: str) -> pd.Series:
    require(ev, [by, "position"], f"exposure by {by}")
    if (ev[by] < 0).all():
        raise DataError(f"the log has no {by} (all -1): this env does not report it")
    w = position_weights(ev["position"].to_numpy(), discount)
    return pd.Series(w, index=ev.index).groupby(ev[by].to_numpy()).sum()


def exposure(ev: pd.DataFrame, by: str = "item_id", num_entities: int | None = None,
             discount: str = "log") -> np.ndarray:
    """Position-discounted exposure of each item (or creator) in the log; with
    ``num_entities`` (catalog size) the unexposed entities are added as zeros. The values
    that :func:`exposure_gini` and :func:`exposure_lorenz` summarise."""
    exp = _entity_exposure(ev, by, discount).to_numpy()
    if num_entities is not None:
        if num_entities < exp.size:
            raise ConfigError("num_entities", num_entities,
                              f"at least the {exp.size} distinct {by}s in the log")
        exp = np.concatenate([exp, np.zeros(num_entities - exp.size)])
    return exp


def exposure_gini(ev: pd.DataFrame, by: str = "item_id", num_entities: int | None = None,
                  discount: str = "log") -> float:
    """Gini of position-discounted exposure over items (or creators). With
    ``num_entities`` (catalog size) unexposed entities count as zeros."""
    return gini(exposure(ev, by, num_entities, discount))


def exposure_lorenz(ev: pd.DataFrame, by: str = "item_id", num_entities: int | None = None,
                    discount: str = "log") -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curve of the same exposure as :func:`exposure_gini`: its Gini is
    ``1 - mean(L[i-1] + L[i])`` over the curve's points, exactly ``exposure_gini``; the
    mean of several such curves over one catalog has the mean of their Ginis."""
    return lorenz(exposure(ev, by, num_entities, discount))


def intra_list_diversity(ev: pd.DataFrame) -> float:
    """Mean share of position pairs in a slate whose topics differ (NaN for K = 1)."""
    require(ev, ["topic", "step", "user_id", "position"], "intra_list_diversity")
    if (ev["topic"] < 0).all():
        raise DataError("intra_list_diversity needs item topics; this log has none (topic -1)")
    k = slate_size(ev)
    if k < 2:
        return float("nan")
    keys = unit_keys(ev) + ["step", "user_id"]
    order = ev.sort_values(keys + ["position"], kind="stable")
    topics = order["topic"].to_numpy().reshape(-1, k)
    same = (topics[:, :, None] == topics[:, None, :]).sum(axis=(1, 2)) - k
    pairs = k * (k - 1)
    return float(np.mean(1.0 - same / pairs))


def catalog_coverage(ev: pd.DataFrame, num_items: int) -> float:
    """Distinct items shown / catalog size."""
    require(ev, ["item_id"], "catalog_coverage")
    if not isinstance(num_items, (int, np.integer)) or num_items < 1:
        raise ConfigError("num_items", num_items, "the catalog size, a positive integer")
    return float(ev["item_id"].nunique() / num_items)


def novelty(ev: pd.DataFrame) -> float:
    """Mean self-information (bits) of shown items under click popularity."""
    require(ev, ["item_id", "user_id", "clicked"], "novelty")
    users = ev["user_id"].nunique()
    if users == 0:
        return float("nan")
    clickers = ev[ev["clicked"]].groupby("item_id")["user_id"].nunique()
    pop = (ev["item_id"].map(clickers).fillna(0.0).to_numpy() + 1.0) / (users + 1.0)
    return float(np.mean(-np.log2(pop)))


def _norm_entropy(p: np.ndarray) -> np.ndarray:
    """Row entropy of ``p`` (rows sum to 1) divided by ``log(d)``."""
    d = p.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.nansum(np.where(p > 0, p * np.log(p), 0.0), axis=1)
    return h / np.log(d) if d > 1 else np.zeros(p.shape[0])


def consumption_over_time(ev: pd.DataFrame, window: int = 10,
                          num_topics: int | None = None) -> pd.DataFrame:
    """Per unit and window: ``consumption_entropy`` (mean normalised entropy of each
    user's clicked topics) and ``homogenization`` (mean pairwise cosine similarity of
    users' clicked-topic counts), over users with at least one click in the window."""
    require(ev, ["topic", "clicked", "step", "user_id"], "consumption_over_time")
    clicks = ev[ev["clicked"] & (ev["topic"] >= 0)]
    t = int(num_topics if num_topics is not None else (ev["topic"].max() + 1))
    keys = unit_keys(ev)
    rows = []
    frame = clicks.assign(window=(clicks["step"] // window) * window)
    for key, part in frame.groupby(keys + ["window"], sort=True):
        users, inv = np.unique(part["user_id"].to_numpy(), return_inverse=True)
        counts = np.zeros((users.size, t))
        np.add.at(counts, (inv, part["topic"].to_numpy()), 1.0)
        p = counts / counts.sum(axis=1, keepdims=True)
        ent = float(_norm_entropy(p).mean())
        u = counts / np.linalg.norm(counts, axis=1, keepdims=True)
        n = u.shape[0]
        s = u.sum(axis=0)
        homog = float((s @ s - n) / (n * (n - 1))) if n > 1 else float("nan")
        rows.append(dict(zip(keys + ["step"], key, strict=True))
                    | {"consumption_entropy": ent, "homogenization": homog, "users": n})
    return pd.DataFrame(rows, columns=keys + ["step", "consumption_entropy", "homogenization",
                                              "users"])


def interest_entropy(snapshots: pd.DataFrame) -> pd.DataFrame:
    """Per unit and snapshot step: mean normalised entropy of users' interest profiles
    (``p ∝ max(interest, 0)``; uniform when no interest is positive). Needs the
    privileged ``oracle_interest_*`` columns."""
    cols = sorted((c for c in snapshots.columns if c.startswith("oracle_interest_")),
                  key=lambda c: int(c.rsplit("_", 1)[1]))
    if not cols:
        raise DataError("interest_entropy needs oracle_interest_* columns in the snapshots "
                        "table (privileged truth; the env must report interests)")
    x = np.maximum(snapshots[cols].to_numpy(), 0.0)
    tot = x.sum(axis=1, keepdims=True)
    p = np.where(tot > 0, x / np.where(tot > 0, tot, 1.0), 1.0 / len(cols))
    keys = unit_keys(snapshots)
    out = snapshots[keys + ["step"]].assign(interest_entropy=_norm_entropy(p))
    return out.groupby(keys + ["step"], sort=True)["interest_entropy"].mean().reset_index()
