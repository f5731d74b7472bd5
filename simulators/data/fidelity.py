"""How close the fitted simulator is to the real logs, measured on data it was not fitted on.

* :func:`ranking_fidelity`: for every user with held-out (later) ratings, rank every movie
  the user had not rated in the fitting period by the simulator's choice utility (its
  choice probabilities are monotone in it) and score the held-out movies: per-user AUC
  (held-out movies above the other unseen ones) and recall@k, averaged over users; next to
  most-popular (fitting-period counts) and random scores.
* :func:`distribution_fidelity`: the fitted users, simulated facing uniformly random
  slates for their drawn session budgets, against the real logs: item popularity (share of
  clicks vs share of ratings per movie) and user activity (clicks per simulated user vs
  ratings per real user), each by the two-sample KS statistic, plus the exposure Gini of
  both.
* :func:`position_fidelity`: the position-examination curve fitted on the first half (in
  time) of the Open Bandit random-policy log next to the CTR by position of the held-out
  second half, with a chi-squared test of the held-out clicks against the fitted curve.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recarena.simulators.data.calibrate import (
    FittedMovieLens,
    movielens_catalog,
    movielens_user_model,
)
from recarena.simulators.data.fit import fit_position_bias, wilson_interval
from recarena.simulators.data.obd import OpenBanditLog

__all__ = ["distribution_fidelity", "position_fidelity", "ranking_fidelity"]


def _user_auc_recall(scores: np.ndarray, seen: np.ndarray, held: np.ndarray,
                     k: int) -> tuple[float, float]:
    """Per-user AUC (ties count one half: the mean-rank formula) and recall@k (top k by a
    stable descending sort: tied scores in index order) over the unseen items."""
    cand = ~seen
    s = scores[cand]
    pos = held[cand]
    npos = int(np.count_nonzero(pos))
    nneg = s.size - npos
    # a value's mean rank among ties is (#smaller + #smaller-or-equal + 1) / 2, as in
    # scipy.stats.rankdata; only the held-out items' ranks are needed
    srt = np.sort(s)
    v = s[pos]
    ranks = (np.searchsorted(srt, v, "left") + np.searchsorted(srt, v, "right") + 1) / 2
    auc = (ranks.sum() - npos * (npos + 1) / 2) / (npos * nneg)
    if s.size > k:  # the k largest; of those tied with the k-th, the first by index
        kth = np.partition(s, s.size - k)[s.size - k]
        above = np.flatnonzero(s > kth)
        top = np.concatenate([above, np.flatnonzero(s == kth)[:k - above.size]])
    else:
        top = np.arange(s.size)
    recall = np.count_nonzero(pos[top]) / min(k, npos)
    return float(auc), float(recall)


def ranking_fidelity(fitted: FittedMovieLens, train: pd.DataFrame, test: pd.DataFrame,
                     k: int = 10, seed: int = 0) -> pd.DataFrame:
    """AUC and recall@k of held-out choices for the simulator, most-popular and random
    scores (one row each, with the number of users)."""
    items, users = fitted.item_ids, fitted.user_ids
    n_items = len(items)
    tu = np.searchsorted(users, train["user_id"].to_numpy())
    ti = np.searchsorted(items, train["item_id"].to_numpy())
    eu = np.searchsorted(users, test["user_id"].to_numpy())
    ei = np.searchsorted(items, test["item_id"].to_numpy())
    popularity = np.bincount(ti, minlength=n_items).astype(np.float64)
    rng = np.random.default_rng(seed)
    rows: dict[str, list[tuple[float, float]]] = {"simulator": [], "most popular": [],
                                                  "random": []}
    interests, features = fitted.interests, fitted.features  # built once, not per user
    order = np.argsort(tu, kind="stable")
    starts = np.searchsorted(tu[order], np.arange(len(users) + 1))
    for u in np.unique(eu):
        seen = np.zeros(n_items, dtype=bool)
        seen[ti[order[starts[u]:starts[u + 1]]]] = True
        held = np.zeros(n_items, dtype=bool)
        held[ei[eu == u]] = True
        held &= ~seen
        if not held.any():
            continue
        util = features @ interests[u]
        rows["simulator"].append(_user_auc_recall(util, seen, held, k))
        rows["most popular"].append(_user_auc_recall(popularity, seen, held, k))
        rows["random"].append(_user_auc_recall(rng.random(n_items), seen, held, k))
    out = []
    for name, vals in rows.items():
        arr = np.array(vals)
        out.append({"scorer": name, "auc": float(arr[:, 0].mean()),
                    f"recall@{k}": float(arr[:, 1].mean()), "users": len(arr)})
    return pd.DataFrame(out)


def distribution_fidelity(fitted: FittedMovieLens, ratings: pd.DataFrame,
                          num_candidates: int = 50, slate_size: int = 10, seed: int = 0,
                          max_steps: int = 2000) -> dict[str, Any]:
    """Simulate every fitted user once (random slates until their budget is spent) and
    compare item popularity and user activity with the real ``ratings``."""
    from scipy import stats

    from recarena.inequality import gini  # the package's one Gini (analysis uses it too)
    from recarena.simulators.catalog import CorpusCandidates
    from recarena.simulators.world import SlateWorld

    users = len(fitted.user_ids)
    world = SlateWorld(movielens_user_model(fitted, new_user_share=0.0),
                       CorpusCandidates(movielens_catalog(fitted), num_candidates, "uniform"),
                       slate_size)
    rng = np.random.default_rng(seed)
    world.reset(users, rng)
    # every fitted user once, in order (the prior draws rows with replacement)
    assert world.state is not None
    world.state.interests[:] = fitted.interests
    policy_rng = np.random.default_rng(seed + 1)
    active = np.ones(users, dtype=bool)
    clicks_per_item = np.zeros(len(fitted.item_ids))
    clicks_per_user = np.zeros(users)
    for _ in range(max_steps):
        slates = np.argsort(policy_rng.random((users, num_candidates)), axis=1)[:, :slate_size]
        out = world.step(slates)
        clicked = out.response.clicked & active[:, None]
        ids = out.slate.item_id[clicked]
        np.add.at(clicks_per_item, np.searchsorted(fitted.item_ids, ids), 1.0)
        clicks_per_user += clicked.sum(axis=1)
        active &= ~out.gone
        if not active.any():
            break
    real_item = ratings.groupby("item_id").size().reindex(fitted.item_ids, fill_value=0).to_numpy(
        np.float64)
    real_user = ratings.groupby("user_id").size().to_numpy(np.float64)
    share_sim = clicks_per_item / clicks_per_item.sum()
    share_real = real_item / real_item.sum()
    return {
        "item_popularity_ks": float(stats.ks_2samp(share_sim, share_real).statistic),
        "item_popularity_spearman": float(stats.spearmanr(share_sim, share_real).statistic),
        "gini_simulated": gini(clicks_per_item), "gini_real": gini(real_item),
        "user_activity_ks": float(stats.ks_2samp(clicks_per_user, real_user).statistic),
        "activity_median_simulated": float(np.median(clicks_per_user)),
        "activity_median_real": float(np.median(real_user)),
        "clicks_simulated": int(clicks_per_item.sum()), "ratings_real": int(real_item.sum()),
    }


def position_fidelity(log: OpenBanditLog, fit_share: float = 0.5) -> dict[str, Any]:
    """Fit the examination curve on the first ``fit_share`` of the log (time order),
    compare with the held-out rest."""
    from scipy import stats

    df = log.log
    cut = int(len(df) * fit_share)
    fit = fit_position_bias(df.iloc[:cut])
    held = df.iloc[cut:].groupby("position")["click"].agg(["size", "sum"]).reindex(
        fit["position"], fill_value=0)
    n = held["size"].to_numpy(np.float64)
    k = held["sum"].to_numpy(np.float64)
    lo, hi = wilson_interval(k, n)
    theta = fit["examination"].to_numpy()
    expected = k.sum() * n * theta / np.sum(n * theta)
    chi2 = float(np.sum((k - expected) ** 2 / expected))
    table = fit.assign(heldout_impressions=n.astype(np.int64), heldout_clicks=k.astype(np.int64),
                       heldout_ctr=k / n, heldout_ctr_low=lo, heldout_ctr_high=hi,
                       heldout_expected_clicks=expected)
    return {"table": table, "chi2": chi2,
            "p_value": float(stats.chi2.sf(chi2, len(theta) - 1)),
            "fit_rows": cut, "heldout_rows": len(df) - cut}
