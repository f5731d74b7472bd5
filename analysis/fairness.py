"""Fairness from the event log: item exposure, exposure vs relevance, user fairness, and
the joint fairness-relevance distance to the Pareto frontier.

Throughout, one *list* is one slate shown to one user at one step (``m`` lists of ``k``
items over a catalog of ``n`` items, ``m * k`` slots).

* **Individual item exposure fairness, corrected** (Rampisela, Maistro, Ruotsalo & Lioma,
  "Evaluation Measures of Individual Item Fairness for Recommender Systems: A Critical
  Study", ACM TORS 2024). Raw Gini and entropy cannot reach their nominal bounds when
  every list holds ``k`` distinct items of ``n``; the paper rescales them by their
  attainable extremes:

  - ``Gini_our = (Gini - Gini_min) / (1 - k/n - Gini_min)``, with
    ``Gini_min = (n - r) r / (n m k)`` and ``r = m k mod n`` (the most even allocation),
    and ``1 - k/n`` the Gini of showing the same ``k`` items in every list. 0 fair, 1 unfair.
  - ``Ent_our = (H - log_n k) / (H_max - log_n k)`` with ``H`` the base-``n`` entropy of
    the exposure shares, ``H_max`` that of the most even allocation (``log_n m k`` when
    ``m k < n``). 1 fair, 0 unfair.
  - ``Jain_our = (J - k/n) / (J_max - k/n)``, Jain's index rescaled the same way. 1 fair.
* **Exposure relative to relevance**: expected-exposure II-F and AI-F (Diaz, Mitra,
  Ekstrand, Biega & Carterette, "Evaluating Stochastically-Ranked Rankings", CIKM 2020), as
  analysed in the same paper: the mean squared gap between each user-item pair's system
  exposure (RBP weight ``gamma ** rank``, averaged over the user's lists) and its target
  exposure (relevant items of a user share equally the exposure an ideal ranking gives:
  ``(1 - gamma ** min(r, k)) / ((1 - gamma) r)`` each for ``r`` relevant items; the
  ``min(r, k)`` is our slate-length truncation of the full-ranking formula), per pair
  (II-F) and averaged over users first (AI-F). Lower is fairer.
* **PUF**, pairwise user unfairness (Rampisela et al., "Measuring Individual User
  Fairness with User Similarity and Effectiveness Disparity", ECIR 2026): similar users
  should get similar effectiveness. We compute ``sum_{u<v} s(u,v) |E_u - E_v| /
  sum_{u<v} s(u,v)`` with ``s`` the positive part of the cosine similarity of the users'
  profiles (their true interests from the snapshots when logged, else their clicked-topic
  distributions) and ``E`` the user's mean NDCG (oracle relevance) or, on logs without
  truth, their CTR. The paper's exact normalisation was not available to us offline; this
  similarity-weighted mean disparity is our reading of its definition and is in [0, 1]
  for ``E`` in [0, 1].
* **DPFR**, distance to the Pareto frontier (Rampisela, Ruotsalo, Maistro & Lioma, "Joint
  Evaluation of Fairness and Relevance in Recommender Systems with Pareto Frontier", WWW
  2025): the frontier of (NDCG, Ent_our) achievable *on the same requests* (the logged
  candidate sets and their true relevance, ``log.candidates = true``) is estimated by an
  exposure-aware greedy re-ranking swept from pure relevance to pure exposure balance; the
  reference point is where the frontier meets the ray ``fair / rel = (1 - alpha) / alpha``
  (its midpoint at ``alpha = 0.5``), and DPFR is the Euclidean distance from the policy's
  (NDCG, Ent_our) to it. Lower is better.

Measures that need truth read ``oracle_`` columns and say so; relevance falls back to
clicks where a measure allows it (``relevance="clicks"``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from recarena.analysis._frame import require, slate_size, unit_keys
from recarena.errors import ConfigError, DataError

__all__ = ["dpfr", "expected_exposure", "item_exposure_fairness", "pareto_front", "puf",
           "slate_ndcg", "exposure_measures"]


# --------------------------------------------------------------------------- item exposure
def exposure_measures(counts: np.ndarray, num_items: int, k: int) -> dict[str, float]:
    """Corrected Gini, entropy and Jain of per-item slot counts (``counts`` of the exposed
    items; the other ``num_items - len(counts)`` items had none) for lists of ``k``.

    >>> m = exposure_measures(np.array([2, 2, 2, 2]), num_items=4, k=2)  # perfectly even
    >>> round(m["gini_our"], 6), round(m["ent_our"], 6), round(m["jain_our"], 6)
    (0.0, 1.0, 1.0)
    >>> m = exposure_measures(np.array([4, 4]), num_items=4, k=2)  # same 2 items always
    >>> round(m["gini_our"], 6), round(m["ent_our"], 6), round(m["jain_our"], 6)
    (1.0, 0.0, 0.0)
    """
    n = int(num_items)
    c = np.asarray(counts, dtype=np.float64)
    c = c[c > 0]
    slot = float(c.sum())
    if n <= k:
        raise ConfigError("num_items", n, f"more items than the slate size {k}")
    if c.size > n:
        raise ConfigError("num_items", n, f"at least the {c.size} exposed items")
    if slot <= 0:
        return {"gini": math.nan, "gini_our": math.nan, "ent_our": math.nan, "jain_our": math.nan}
    m = slot / k
    full = np.sort(np.concatenate([c, np.zeros(n - c.size)]))
    idx = np.arange(1, n + 1)
    g = float(np.sum((2 * idx - n - 1) * full) / (n * slot))
    r = int(round(slot)) % n
    q = int(round(slot)) // n
    g_min = (n - r) * r / (n * slot)
    gini_our = (g - g_min) / (1 - k / n - g_min)
    p = c / slot
    h = float(-(p * np.log(p)).sum() / math.log(n))
    log_k = math.log(k) / math.log(n)
    if slot >= n:
        def plogp(x: float) -> float:
            return x * math.log(x) / math.log(n) if x > 0 else 0.0
        h_max = -(n - r) * plogp(q / slot) - r * plogp((q + 1) / slot)
        denom = h_max - log_k
    else:
        denom = math.log(m) / math.log(n)
    ent_our = (h - log_k) / denom if denom > 0 else math.nan
    j = slot ** 2 / (n * float((c ** 2).sum()))
    j_max = slot ** 2 / (n * (n * q ** 2 + r * (2 * q + 1)))
    jain_our = (j - k / n) / (j_max - k / n) if j_max > k / n else math.nan
    return {"gini": g, "gini_our": _unit(gini_our), "ent_our": _unit(ent_our),
            "jain_our": _unit(jain_our)}


def _unit(v: float) -> float:
    """``v`` (in [0, 1] by construction) with floating-point overshoot of 1e-9 removed."""
    if not math.isfinite(v):
        return math.nan
    if -1e-9 < v < 0.0 or 1.0 < v < 1.0 + 1e-9:
        return float(min(1.0, max(0.0, v)))
    return float(v)


def item_exposure_fairness(ev: pd.DataFrame, num_items: int) -> dict[str, float]:
    """:func:`exposure_measures` of the log's slates (counts of slots per item)."""
    require(ev, ["item_id", "position"], "item_exposure_fairness")
    if not isinstance(num_items, (int, np.integer)) or num_items < 1:
        raise ConfigError("num_items", num_items, "the catalog size, a positive integer "
                          "(item fairness needs a fixed catalog)")
    counts = ev["item_id"].value_counts().to_numpy()
    return exposure_measures(counts, int(num_items), slate_size(ev))


# --------------------------------------------------------------------------- relevance
def _relevance(ev: pd.DataFrame, relevance: str) -> np.ndarray:
    if relevance == "oracle":
        require(ev, ["oracle_relevance"], "relevance='oracle'")
        return np.maximum(ev["oracle_relevance"].to_numpy(np.float64), 0.0)
    if relevance == "clicks":
        require(ev, ["clicked"], "relevance='clicks'")
        return ev["clicked"].to_numpy(np.float64)
    raise ConfigError("relevance", relevance, "'oracle' (needs oracle_ columns) or 'clicks'")


def slate_ndcg(ev: pd.DataFrame) -> pd.DataFrame:
    """NDCG of every slate against the best slate of its candidates (oracle truth,
    negative relevance counted as 0): columns ``[seed, policy,] step, user_id, ndcg``;
    slates whose best candidates all have zero relevance are dropped."""
    require(ev, ["oracle_relevance", "oracle_ideal_relevance", "step", "user_id", "position"],
            "slate_ndcg")
    keys = unit_keys(ev) + ["step", "user_id"]
    w = 1.0 / np.log2(ev["position"].to_numpy(np.float64) + 2.0)
    frame = ev[keys].assign(
        dcg=np.maximum(ev["oracle_relevance"].to_numpy(np.float64), 0.0) * w,
        idcg=np.maximum(ev["oracle_ideal_relevance"].to_numpy(np.float64), 0.0) * w)
    s = frame.groupby(keys, sort=True)[["dcg", "idcg"]].sum().reset_index()
    s = s[s["idcg"] > 0]
    return s.assign(ndcg=s["dcg"] / s["idcg"])[keys + ["ndcg"]]


def expected_exposure(ev: pd.DataFrame, gamma: float = 0.8, threshold: float = 0.5,
                      relevance: str = "oracle", num_items: int | None = None) -> dict[str, float]:
    """II-F and AI-F (see the module docstring). A user-item pair is relevant when its
    mean ``oracle_relevance`` over the user's impressions is at least ``threshold``
    (``relevance="oracle"``), or when the user clicked it (``"clicks"``). Pairs never
    shown have zero exposure and unknown (taken as zero) relevance. Computed sparsely."""
    if not 0 < gamma < 1:
        raise ConfigError("gamma", gamma, "a patience in (0, 1)")
    require(ev, ["user_id", "item_id", "position", "step"], "expected_exposure")
    rel = _relevance(ev, relevance)
    k = slate_size(ev)
    ukeys = unit_keys(ev) + ["user_id"]
    lists = ev[ev["position"] == 0].groupby(ukeys).size().rename("lists")
    frame = ev[ukeys + ["item_id"]].assign(exp=gamma ** ev["position"].to_numpy(np.float64),
                                          rel=rel)
    pairs = frame.groupby(ukeys + ["item_id"], sort=True).agg(exp=("exp", "sum"),
                                                             rel=("rel", "mean"),
                                                             clicked=("rel", "max"))
    pairs = pairs.join(lists, on=ukeys)
    e = pairs["exp"].to_numpy() / pairs["lists"].to_numpy()
    relevant = (pairs["rel"] >= threshold) if relevance == "oracle" else pairs["clicked"] > 0
    pairs = pairs.assign(relevant=relevant.to_numpy())
    r_u = pairs.groupby(level=list(range(len(ukeys))))["relevant"].transform("sum").to_numpy()
    target = np.where(pairs["relevant"].to_numpy(),
                      (1 - gamma ** np.minimum(r_u, k)) / ((1 - gamma) * np.maximum(r_u, 1)), 0.0)
    diff = e - target
    users = len(lists)
    items = int(num_items) if num_items is not None else int(ev["item_id"].nunique())
    ii_f = float(np.sum(diff ** 2) / (users * items))
    per_item = pd.Series(diff).groupby(pairs.index.get_level_values("item_id").to_numpy()).sum()
    ai_f = float(np.sum((per_item.to_numpy() / users) ** 2) / items)
    return {"ii_f": ii_f, "ai_f": ai_f}


# --------------------------------------------------------------------------- PUF
def _profiles(ev: pd.DataFrame, snapshots: pd.DataFrame | None, users: pd.Index) -> np.ndarray:
    cols = []
    if snapshots is not None:
        cols = sorted((c for c in snapshots.columns if c.startswith("oracle_interest_")),
                      key=lambda c: int(c.rsplit("_", 1)[1]))
    if cols:
        first = snapshots.sort_values("step", kind="stable").groupby("user_id")[cols].first()
        prof = first.reindex(users).to_numpy()
        if np.isnan(prof).any():  # users never snapshotted: fall back for everyone
            cols = []
        else:
            return prof
    require(ev, ["topic", "clicked", "user_id"], "puf (click-topic profiles)")
    if (ev["topic"] < 0).all():
        raise DataError("puf needs user profiles: oracle interests in the snapshots or item "
                        "topics in the log")
    t = int(ev["topic"].max()) + 1
    prof = np.zeros((len(users), t))
    clicks = ev[ev["clicked"] & (ev["topic"] >= 0)]
    pos = users.get_indexer(clicks["user_id"])
    np.add.at(prof, (pos, clicks["topic"].to_numpy()), 1.0)
    return prof


def puf(ev: pd.DataFrame, snapshots: pd.DataFrame | None = None,
        effectiveness: str = "ndcg", block: int = 2048) -> float:
    """Pairwise user unfairness of one unit's log (see the module docstring).

    ``effectiveness``: ``"ndcg"`` (needs oracle columns) or ``"ctr"`` (clicks only)."""
    if effectiveness == "ndcg":
        nd = slate_ndcg(ev)
        eff = nd.groupby("user_id")["ndcg"].mean()
    elif effectiveness == "ctr":
        require(ev, ["user_id", "clicked"], "puf")
        eff = ev.groupby("user_id")["clicked"].mean()
    else:
        raise ConfigError("effectiveness", effectiveness, "'ndcg' or 'ctr'")
    if len(eff) < 2:
        return float("nan")
    prof = _profiles(ev, snapshots, eff.index)
    norm = np.linalg.norm(prof, axis=1, keepdims=True)
    u = np.divide(prof, norm, out=np.zeros_like(prof), where=norm > 0)
    e = eff.to_numpy(np.float64)
    num = den = 0.0
    n = len(e)
    for a in range(0, n, block):
        s = np.maximum(u[a:a + block] @ u.T, 0.0)
        rows = np.arange(a, min(a + block, n))
        s[rows - a, rows] = 0.0  # no self-pairs; each unordered pair counted twice
        num += float((s * np.abs(e[a:a + block, None] - e[None, :])).sum())
        den += float(s.sum())
    return num / den if den > 0 else float("nan")


# --------------------------------------------------------------------------- DPFR
def pareto_front(points: np.ndarray) -> np.ndarray:
    """The non-dominated points of ``(rel, fair)`` pairs (both maximised), sorted by rel."""
    p = np.asarray(points, dtype=np.float64)
    p = p[np.all(np.isfinite(p), axis=1)]
    order = np.lexsort((-p[:, 1], -p[:, 0]))
    front, best = [], -np.inf
    for i in order:
        if p[i, 1] > best:
            front.append(p[i])
            best = p[i, 1]
    return np.array(front[::-1]).reshape(-1, 2)


def _ray_point(front: np.ndarray, alpha: float) -> np.ndarray:
    """Where the frontier polyline meets the ray fair/rel = (1 - alpha) / alpha."""
    angle = math.atan2(1 - alpha, alpha)
    ang = np.arctan2(front[:, 1], front[:, 0])
    if front.shape[0] == 1:
        return front[0]
    for i in range(front.shape[0] - 1):
        a0, a1 = ang[i], ang[i + 1]
        if min(a0, a1) <= angle <= max(a0, a1):
            p0, p1 = front[i], front[i + 1]
            d = p1 - p0
            # solve (p0 + s d) x (cos, sin) = 0
            c, s_ = math.cos(angle), math.sin(angle)
            denom = d[0] * s_ - d[1] * c
            s = 0.0 if abs(denom) < 1e-15 else (p0[1] * c - p0[0] * s_) / denom
            return p0 + min(max(s, 0.0), 1.0) * d
    return front[int(np.argmin(np.abs(ang - angle)))]


def dpfr(ev: pd.DataFrame, candidates: pd.DataFrame, num_items: int, alpha: float = 0.5,
         grid: int = 21) -> dict[str, Any]:
    """Distance of one unit's (NDCG, Ent_our) to the estimated fairness-relevance frontier
    of the same requests (see the module docstring). ``candidates`` is the unit's
    ``candidates`` table. Returns ``ndcg``, ``ent_our``, ``reference`` (the frontier point),
    ``dpfr`` and ``frontier`` (an array of (NDCG, Ent_our) points)."""
    if not 0 < alpha < 1:
        raise ConfigError("alpha", alpha, "a weight in (0, 1)")
    require(candidates, ["step", "user_id", "item_id", "oracle_relevance"], "dpfr candidates")
    k = slate_size(ev)
    n = int(num_items)
    nd = slate_ndcg(ev)
    point = np.array([float(nd["ndcg"].mean()),
                      item_exposure_fairness(ev, n)["ent_our"]])
    cands = candidates.sort_values(["step", "user_id"], kind="stable")
    counts_per_req = cands.groupby(["step", "user_id"], sort=True).size()
    c = int(counts_per_req.iloc[0])
    if not (counts_per_req == c).all():
        raise DataError("dpfr needs the same number of candidates in every request")
    ids = cands["item_id"].to_numpy(np.int64).reshape(-1, c)
    rel = np.maximum(cands["oracle_relevance"].to_numpy(np.float64), 0.0).reshape(-1, c)
    steps = cands["step"].to_numpy().reshape(-1, c)[:, 0]
    bounds = np.flatnonzero(np.diff(steps)) + 1
    chunks = np.split(np.arange(ids.shape[0]), bounds)
    if ids.max() >= n:
        raise ConfigError("num_items", n, f"more than the largest item id {int(ids.max())}")
    w = 1.0 / np.log2(np.arange(k) + 2.0)
    ideal = (-np.sort(-rel, axis=1)[:, :k] * w).sum(axis=1)
    ok = ideal > 0
    scale = rel / np.maximum(rel.max(axis=1, keepdims=True), 1e-12)
    # every re-ranking of the sweep at once (they share nothing but the requests): row g
    # of counts / dcg is the greedy re-ranking with weight lams[g] on exposure balance
    lams = np.linspace(0.0, 1.0, grid)[:, None, None]
    counts = np.zeros((grid, n))
    dcg = np.zeros((grid, ids.shape[0]))
    offset = (np.arange(grid) * n)[:, None]
    shown_so_far = 0.0
    for rows in chunks:
        fair_share = shown_so_far / n + 1.0
        score = (1 - lams) * scale[rows] - lams * counts[:, ids[rows]] / fair_share
        pick = np.argsort(-score, axis=2, kind="stable")[:, :, :k]
        shape = pick.shape[:2] + (c,)
        dcg[:, rows] = (np.take_along_axis(np.broadcast_to(rel[rows], shape), pick, 2)
                        * w).sum(axis=2)
        picked = np.take_along_axis(np.broadcast_to(ids[rows], shape), pick, 2)
        counts += np.bincount((offset + picked.reshape(grid, -1)).ravel(),
                              minlength=grid * n).reshape(grid, n)
        shown_so_far += rows.size * k
    points = []
    for g in range(grid):
        ndcg = float((dcg[g, ok] / ideal[ok]).mean())
        points.append((ndcg, exposure_measures(counts[g][counts[g] > 0], n, k)["ent_our"]))
    front = pareto_front(np.array(points))
    ref = _ray_point(front, alpha)
    return {"ndcg": float(point[0]), "ent_our": float(point[1]),
            "reference": (float(ref[0]), float(ref[1])),
            "dpfr": float(np.linalg.norm(point - ref)), "frontier": front}
