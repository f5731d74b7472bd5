"""Estimators that fit simulator parameters to real logs.

Every estimator here is first tested on synthetic data drawn from our own simulator with
known parameters (tests/simulators/data/test_fit.py) and only then run on real data.

* :func:`temporal_split`: each user's earlier interactions for fitting, later ones held out.
* :func:`fit_mnl`: maximum likelihood of a multinomial logit over sampled choice sets
  (McFadden 1978: with alternatives sampled uniformly, the conditional logit over the
  sampled set is consistent for the full-set parameters).
* :func:`sample_choice_sets`: the assumption that turns MovieLens into choices: each
  rating event is a choice of the rated movie among the movies the user had not rated
  yet, represented by ``negatives`` of them drawn uniformly.
* :func:`fit_lognormal`: user activity (ratings per user) as a log-normal.
* :func:`fit_position_bias`: examination probability per position from a uniform-random
  logging policy's clicks (position-based model, Craswell et al. 2008; under uniform
  random item assignment ``CTR_p = theta_p * E[attraction]``, so ``theta_p / theta_0 =
  CTR_p / CTR_0``), with Wilson intervals for CTRs and Katz log-ratio intervals for the
  relative examination.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recarena.errors import ConfigError, DataError
from recarena.validation import check_float, check_int

__all__ = ["ChoiceFit", "fit_lognormal", "fit_mnl", "fit_position_bias", "sample_choice_sets",
           "temporal_split", "wilson_interval"]


def temporal_split(ratings: pd.DataFrame, holdout: float = 0.2,
                   min_train: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per user, the last ``holdout`` share of their ratings (by time; ties by item id)
    held out, keeping at least ``min_train`` for fitting. Returns ``(train, test)``."""
    check_float(holdout, "temporal_split.holdout", 0.0, 1.0, low_open=True, high_open=True)
    check_int(min_train, "temporal_split.min_train", 1)
    for col in ("user_id", "item_id", "timestamp"):
        if col not in ratings.columns:
            raise DataError(f"temporal_split needs the column {col}; the ratings have "
                            f"{', '.join(ratings.columns)}")
    df = ratings.sort_values(["user_id", "timestamp", "item_id"], kind="stable")
    rank = df.groupby("user_id").cumcount().to_numpy()
    n = df.groupby("user_id")["item_id"].transform("size").to_numpy()
    k = np.minimum(np.floor(holdout * n).astype(np.int64), np.maximum(n - min_train, 0))
    test = rank >= n - k
    return df[~test].reset_index(drop=True), df[test].reset_index(drop=True)


def sample_choice_sets(users: np.ndarray, chosen: np.ndarray, times: np.ndarray,
                       history: tuple[np.ndarray, np.ndarray, np.ndarray], num_items: int,
                       negatives: int, rng: np.random.Generator) -> np.ndarray:
    """``(E, 1 + negatives)`` item indices: each event's chosen item first, then
    ``negatives`` distinct items drawn uniformly from those the user had not consumed at
    the event's time (an item consumed later was still available then).

    ``history`` is ``(users, items, times)`` of every consumption (the events themselves
    included); an item counts as consumed from the earliest time the user consumed it."""
    check_int(negatives, "sample_choice_sets.negatives", 1)
    hu, hi, ht = (np.asarray(a) for a in history)
    keys = hu.astype(np.int64) * num_items + hi
    order = np.lexsort((ht, keys))
    keys, ht = keys[order], np.asarray(ht, dtype=np.float64)[order]
    first = np.r_[True, keys[1:] != keys[:-1]]  # earliest consumption of each pair
    keys, ht = keys[first], ht[first]
    users = np.asarray(users, dtype=np.int64)
    chosen = np.asarray(chosen, dtype=np.int64)
    t_event = np.asarray(times, dtype=np.float64)[:, None]
    e = len(chosen)
    draws = rng.integers(0, num_items, (e, negatives))
    for _ in range(200):
        cand = users[:, None] * num_items + draws
        pos = np.minimum(np.searchsorted(keys, cand), len(keys) - 1)
        consumed = (keys[pos] == cand) & (ht[pos] <= t_event)
        order2 = np.argsort(draws, axis=1, kind="stable")
        srt = np.take_along_axis(draws, order2, axis=1)
        dup_sorted = np.zeros(draws.shape, dtype=bool)
        dup_sorted[:, 1:] = srt[:, 1:] == srt[:, :-1]  # later copies of an item
        dup = np.zeros(draws.shape, dtype=bool)
        np.put_along_axis(dup, order2, dup_sorted, axis=1)
        redo = consumed | dup | (draws == chosen[:, None])
        if not redo.any():
            break
        draws[redo] = rng.integers(0, num_items, int(redo.sum()))
    else:
        raise DataError("sample_choice_sets: could not draw enough unconsumed items (a user "
                        "has consumed nearly the whole catalog)")
    return np.concatenate([chosen[:, None], draws], axis=1)


@dataclass(frozen=True)
class ChoiceFit:
    """A fitted multinomial logit ``P(i | set) ∝ exp(sum_j w_j x_ij)``.

    Attributes:
        weights: the coefficients ``w`` (one per feature).
        stderr: their standard errors (inverse observed information).
        log_likelihood: at the optimum; ``null_log_likelihood``: of uniform choice.
        events: choices used.
    """

    weights: np.ndarray
    stderr: np.ndarray
    log_likelihood: float
    null_log_likelihood: float
    events: int


def fit_mnl(features: np.ndarray, max_iter: int = 100, tol: float = 1e-10) -> ChoiceFit:
    """Maximum likelihood of a conditional logit where alternative 0 of every set was
    chosen. ``features``: ``(E, S, F)`` (events, alternatives, features). Newton's
    method on the concave log-likelihood, with step halving."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 3 or x.shape[0] == 0 or x.shape[1] < 2:
        raise ConfigError("fit_mnl.features", x, "an array (events, alternatives >= 2, features)")
    if not np.all(np.isfinite(x)):
        raise ConfigError("fit_mnl.features", x, "finite values")
    e, s, f = x.shape
    w = np.zeros(f)

    def loglik(w: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        u = x @ w
        u -= u.max(axis=1, keepdims=True)
        p = np.exp(u)
        z = p.sum(axis=1, keepdims=True)
        p /= z
        ll = float(np.sum(u[:, 0] - np.log(z[:, 0])))
        mean = np.einsum("es,esf->ef", p, x)
        grad = (x[:, 0, :] - mean).sum(axis=0)
        second = np.einsum("es,esf,esg->fg", p, x, x)
        hess = -(second - mean.T @ mean)
        return ll, grad, hess

    ll, grad, hess = loglik(w)
    for _ in range(max_iter):
        step = np.linalg.solve(hess - 1e-12 * np.eye(f), -grad)
        t = 1.0
        while True:
            new = loglik(w + t * step)
            if new[0] >= ll - 1e-12 or t < 1e-8:
                break
            t /= 2
        w = w + t * step
        improvement = new[0] - ll
        ll, grad, hess = new
        if abs(improvement) < tol:
            break
    cov = np.linalg.inv(-hess)
    return ChoiceFit(w, np.sqrt(np.clip(np.diag(cov), 0, None)), ll, -e * math.log(s), e)


def fit_lognormal(counts: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood log-normal ``(mu, sigma)`` of positive counts."""
    c = np.asarray(counts, dtype=np.float64)
    if c.size < 2 or np.any(c <= 0) or not np.all(np.isfinite(c)):
        raise ConfigError("fit_lognormal.counts", c, "at least two positive finite counts")
    logs = np.log(c)
    return float(logs.mean()), float(logs.std())


def wilson_interval(clicks: np.ndarray, n: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of binomial proportions (good with few successes)."""
    from scipy import stats

    k = np.asarray(clicks, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    zq = stats.norm.ppf(0.5 + level / 2)
    p = k / n
    centre = (p + zq ** 2 / (2 * n)) / (1 + zq ** 2 / n)
    half = zq * np.sqrt(p * (1 - p) / n + zq ** 2 / (4 * n ** 2)) / (1 + zq ** 2 / n)
    return centre - half, centre + half


def fit_position_bias(log: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Examination per position from a uniform-random logging policy's clicks.

    ``log`` has ``position`` (0-based) and ``click``. Returns one row per position:
    ``impressions, clicks, ctr, ctr_low, ctr_high`` (Wilson) and ``examination``
    (``theta_p / theta_0``) with ``examination_low/high`` (Katz log-ratio interval; 0.5 is
    added to zero click counts)."""
    from scipy import stats

    for col in ("position", "click"):
        if col not in log.columns:
            raise DataError(f"fit_position_bias needs the column {col}")
    g = log.groupby("position")["click"].agg(["size", "sum"]).sort_index()
    n = g["size"].to_numpy(np.float64)
    k = g["sum"].to_numpy(np.float64)
    lo, hi = wilson_interval(k, n, level)
    kk = np.where(k > 0, k, 0.5)
    ratio = (kk / n) / (kk[0] / n[0])
    se = np.sqrt(1 / kk - 1 / n + 1 / kk[0] - 1 / n[0])
    se[0] = 0.0
    zq = stats.norm.ppf(0.5 + level / 2)
    return pd.DataFrame({"position": g.index.to_numpy(), "impressions": n.astype(np.int64),
                         "clicks": k.astype(np.int64), "ctr": k / n, "ctr_low": lo,
                         "ctr_high": hi, "examination": ratio,
                         "examination_low": ratio * np.exp(-zq * se),
                         "examination_high": ratio * np.exp(zq * se)})
