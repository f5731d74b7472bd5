"""How faithful LLM-played users are to the real users they play (``recarena validate llm``).

The protocol of Agent4Rec (Zhang et al. 2024, "On Generative Agents in Recommendation",
SIGIR) and SimUSER (Bougie & Watanabe 2025, "SimUSER: Simulating User Behavior with Large
Language Models for Recommender System Evaluation", ACL industry track) on held-out
MovieLens ratings: each sampled user is played from a persona built on the *training* part
of their history only (:func:`~recarena.simulators.llm.persona.movielens_personas`, the
temporal split of ``MovieLens-v0``'s fit), and asked about movies they rated *later*.

=========================  ==========================================================================
preference alignment       pairs of held-out movies the real user rated at least ``min_gap`` stars
                           apart; the simulated user is shown both (order drawn by a seeded coin)
                           and picks one (:class:`PairChoice`); alignment = share of answered pairs
                           where it picks the one the real user rated higher, with a 95% Wilson
                           interval (pairs treated as independent draws)
rating RMSE                held-out movies drawn uniformly per user; the simulated user rates each
                           1-5 stars (:class:`StarRating`); RMSE against the real rating (0.5-5 in
                           half stars), with a 95% percentile bootstrap interval that resamples
                           *users* (their ratings stay together: a user's errors correlate)
fitted MNL user            the model-driven MovieLens user of ``MovieLens-v0``
                           (:mod:`recarena.simulators.data.calibrate`), same pairs and movies:
                           **argmax** picks the movie of higher fitted utility
                           ``u = a <x_u, y_i> + c log(1 + pop_i)``; **sampled** is the expected
                           alignment of its logit draw between the two,
                           ``mean sigmoid(u_better - u_worse)`` (normal interval over pairs); its
                           rating is a calibrated map of utility to stars,
                           ``r = rbar_u + alpha + beta (u_ui - ubar_u)`` clipped to [0.5, 5]
                           (``rbar_u``, ``ubar_u``: the user's mean training rating and mean
                           utility of their training movies; ``alpha``, ``beta`` by least squares
                           on the held-out ratings of the users *not* sampled, so no evaluated
                           rating is fitted)
random chooser             50% alignment by construction; its RMSE row predicts the user's mean
                           training rating
published                  SimUSER's 79.1% alignment / RMSE 0.50 and Agent4Rec's 69.1% / 0.76 (as
                           SimUSER reports them, on their own data, users and pairs): for
                           orientation, not the same users or pairs
unanswered                 a request the backend could not get a valid reply for (``fallback``) is
                           left out of its metric and counted
=========================  ==========================================================================

Requests go through :class:`~recarena.simulators.llm.LLMBackend` (cache, budget, typed
errors): two batched calls, one per metric. Every request's seed is drawn from the seeded
generator of the sample, so a rerun with the same cache replays the same replies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from pydantic import Field

from recarena.errors import ConfigError, DataError
from recarena.simulators.llm.prompts import _CompactSchema
from recarena.validation import check_float, check_int

__all__ = ["PUBLISHED", "FidelityReport", "FidelitySample", "MetricRow", "PairChoice",
           "StarRating", "evaluate_fidelity", "movielens_fidelity_sample", "pair_messages",
           "preference_alignment", "rating_messages", "rating_rmse"]

#: published numbers: (label, alignment, RMSE)
PUBLISHED = (("SimUSER (published; own data and pairs)", 0.791, 0.50),
             ("Agent4Rec (as reported by SimUSER)", 0.691, 0.76))

_SYSTEM = ("You are a user of a movie recommender, deciding what to watch. Stay in "
           "character. ")


class PairChoice(_CompactSchema):
    """The reply to a pair: ``choice`` 1 or 2, the movie the user would rather watch."""

    choice: Literal[1, 2]


class StarRating(_CompactSchema):
    """The reply to a rating request: ``rating`` 1-5 stars."""

    rating: int = Field(ge=1, le=5)


def pair_messages(persona: str, first: str, second: str) -> list[dict[str, str]]:
    """The chat messages asking a user which of two movies they would rather watch."""
    return [{"role": "system", "content": _SYSTEM + persona},
            {"role": "user", "content": "Which of these two movies would you rather watch?\n"
                                        f"1. {first}\n2. {second}\n\n"
                                        'Reply with JSON only: {"choice": <1 or 2>}.'}]


def rating_messages(persona: str, movie: str) -> list[dict[str, str]]:
    """The chat messages asking a user to rate a movie they watched, 1-5 stars."""
    return [{"role": "system", "content": _SYSTEM + persona},
            {"role": "user", "content": f"You have just watched this movie:\n{movie}\n\n"
                                        "How many stars (1-5) do you give it? "
                                        'Reply with JSON only: {"rating": <1-5>}.'}]


# --------------------------------------------------------------------------- statistics
def preference_alignment(picked_first: np.ndarray, first_is_better: np.ndarray,
                         level: float = 0.95) -> tuple[float, float, float, int]:
    """``(alignment, low, high, n)``: the share of pairs where the pick (``picked_first``:
    the first shown movie was picked) is the movie the real user rated higher
    (``first_is_better``), with its Wilson interval."""
    p = np.asarray(picked_first, dtype=bool)
    b = np.asarray(first_is_better, dtype=bool)
    if p.shape != b.shape or p.ndim != 1:
        raise ConfigError("preference_alignment.picked_first", p.shape,
                          f"a 1-D array shaped like first_is_better {b.shape}")
    n = p.size
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    hits = int(np.count_nonzero(p == b))
    lo, hi = _wilson(hits, n, level)
    return hits / n, lo, hi, n


def _z(level: float) -> float:
    """The two-sided normal quantile of ``level`` (stdlib: no scipy import)."""
    from statistics import NormalDist

    check_float(level, "level", 0.0, 1.0, low_open=True, high_open=True)
    return NormalDist().inv_cdf(0.5 + level / 2)


def _wilson(k: int, n: int, level: float) -> tuple[float, float]:
    """Wilson score interval of ``k`` successes in ``n`` (the formula of
    :func:`recarena.simulators.data.fit.wilson_interval`)."""
    z = _z(level)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def rating_rmse(predicted: np.ndarray, real: np.ndarray, groups: np.ndarray,
                rng: np.random.Generator, bootstrap: int = 1000,
                level: float = 0.95) -> tuple[float, float, float, int]:
    """``(rmse, low, high, n)``: the RMSE of ``predicted`` against ``real`` and its
    percentile bootstrap interval, resampling the ``groups`` (users) with replacement
    ``bootstrap`` times (``bootstrap=0``: no interval, NaN bounds)."""
    pred = np.asarray(predicted, dtype=np.float64)
    true = np.asarray(real, dtype=np.float64)
    g = np.asarray(groups)
    if pred.shape != true.shape or pred.shape != g.shape or pred.ndim != 1:
        raise ConfigError("rating_rmse.predicted", pred.shape,
                          f"1-D arrays of one shape (real {true.shape}, groups {g.shape})")
    check_int(bootstrap, "rating_rmse.bootstrap", 0)
    n = pred.size
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    sq = (pred - true) ** 2
    rmse = math.sqrt(float(sq.mean()))
    if bootstrap == 0:
        return rmse, float("nan"), float("nan"), n
    ids, inv = np.unique(g, return_inverse=True)
    sse = np.bincount(inv, weights=sq, minlength=ids.size)
    cnt = np.bincount(inv, minlength=ids.size).astype(np.float64)
    draws = rng.integers(0, ids.size, (bootstrap, ids.size))
    boot = np.sqrt(sse[draws].sum(axis=1) / cnt[draws].sum(axis=1))
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return rmse, float(lo), float(hi), n


# --------------------------------------------------------------------------- the sample
@dataclass(frozen=True, eq=False)
class FidelitySample:
    """What the simulated users are asked, and the real answers.

    Attributes:
        user_ids ``(U,)``: the users (MovieLens ids); ``personas``: their persona texts.
        item_texts: the text of each catalog row (``"Heat (1995) [Action, Crime]"``).
        pair_user ``(P,)``: index into ``user_ids``; ``pair_items`` ``(P, 2)``: catalog rows
            in the order shown; ``pair_ratings`` ``(P, 2)``: the real ratings, same order.
        rate_user ``(R,)``, ``rate_items`` ``(R,)``, ``rate_ratings`` ``(R,)``: the movies
            to rate and their real ratings.
        pair_seeds ``(P,)``, ``rate_seeds`` ``(R,)``: the request seeds.
        pair_utility ``(P, 2)``: the fitted MNL user's utilities of the shown movies;
            ``rate_model`` ``(R,)``: its calibrated ratings; ``rate_mean`` ``(R,)``: the
            user's mean training rating (all three optional: no model rows without them).
        seed: the seed the sample was drawn with (also the bootstrap's).
        notes: how the sample was made (dataset, split, calibration coefficients).
    """

    user_ids: np.ndarray
    personas: tuple[str, ...]
    item_texts: Sequence[str]
    pair_user: np.ndarray
    pair_items: np.ndarray
    pair_ratings: np.ndarray
    rate_user: np.ndarray
    rate_items: np.ndarray
    rate_ratings: np.ndarray
    pair_seeds: np.ndarray
    rate_seeds: np.ndarray
    pair_utility: np.ndarray | None = None
    rate_model: np.ndarray | None = None
    rate_mean: np.ndarray | None = None
    seed: int = 0
    notes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        u = len(self.user_ids)
        if len(self.personas) != u:
            raise ConfigError("FidelitySample.personas", len(self.personas),
                              f"one persona per user ({u})")
        p = np.shape(self.pair_user)[0] if np.ndim(self.pair_user) == 1 else -1
        r = np.shape(self.rate_user)[0] if np.ndim(self.rate_user) == 1 else -1
        shapes = {"pair_items": (p, 2), "pair_ratings": (p, 2), "pair_seeds": (p,),
                  "rate_items": (r,), "rate_ratings": (r,), "rate_seeds": (r,),
                  "pair_utility": (p, 2), "rate_model": (r,), "rate_mean": (r,)}
        if p < 0 or r < 0:
            raise ConfigError("FidelitySample.pair_user", np.shape(self.pair_user),
                              "1-D index arrays pair_user and rate_user")
        for name, shape in shapes.items():
            value = getattr(self, name)
            if value is None:
                continue
            if np.shape(value) != shape:
                raise ConfigError(f"FidelitySample.{name}", np.shape(value), f"shape {shape}")
        for name in ("pair_user", "rate_user"):
            idx = np.asarray(getattr(self, name))
            if idx.size and (idx.min() < 0 or idx.max() >= u):
                raise ConfigError(f"FidelitySample.{name}", int(idx.max()),
                                  f"user indices in [0, {u})")
        for name in ("pair_items", "rate_items"):
            idx = np.asarray(getattr(self, name))
            if idx.size and (idx.min() < 0 or idx.max() >= len(self.item_texts)):
                raise ConfigError(f"FidelitySample.{name}", int(idx.max()),
                                  f"catalog rows in [0, {len(self.item_texts)})")

    def pair_requests(self) -> list[Any]:
        """One :class:`~recarena.simulators.llm.LLMRequest` per pair, in order."""
        from recarena.simulators.llm.backend import LLMRequest

        t = self.item_texts
        return [LLMRequest(pair_messages(self.personas[u], t[a], t[b]), int(s),
                           f"user {int(self.user_ids[u])} pair")
                for u, (a, b), s in zip(self.pair_user.tolist(), self.pair_items.tolist(),
                                        self.pair_seeds.tolist(), strict=True)]

    def rating_requests(self) -> list[Any]:
        """One :class:`~recarena.simulators.llm.LLMRequest` per movie to rate, in order."""
        from recarena.simulators.llm.backend import LLMRequest

        t = self.item_texts
        return [LLMRequest(rating_messages(self.personas[u], t[i]), int(s),
                           f"user {int(self.user_ids[u])} rating")
                for u, i, s in zip(self.rate_user.tolist(), self.rate_items.tolist(),
                                   self.rate_seeds.tolist(), strict=True)]


def _rowwise_utility(fitted: Any, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Fitted utility of (user row, catalog row) pairs, elementwise."""
    return np.einsum("ef,ef->e", fitted.interests[users], fitted.features[items])


@lru_cache(maxsize=1)
def _shipped_inputs() -> tuple[Any, Any, dict[int, Any], Any, Any]:
    """The shipped ml-latest-small, its fit, personas and split (read once a process)."""
    from recarena.simulators.data.calibrate import load_fitted
    from recarena.simulators.data.fit import temporal_split
    from recarena.simulators.data.movielens import load_movielens
    from recarena.simulators.llm.persona import movielens_personas

    data, fitted = load_movielens(), load_fitted()
    holdout = float(fitted.settings.get("holdout", 0.2))
    personas, _ = movielens_personas(data.ratings, data.movies, holdout)
    train, test = temporal_split(data.ratings, holdout)
    return data, fitted, personas, train, test


def movielens_fidelity_sample(users: int = 20, pairs: int = 5, ratings: int | None = None,
                              seed: int = 0, min_gap: float = 1.0, data: Any = None,
                              fitted: Any = None) -> FidelitySample:
    """Draw the fidelity sample from MovieLens (default: the shipped ml-latest-small and
    its shipped fit; ``data`` and ``fitted`` must belong together).

    ``users`` users are drawn uniformly (seeded) among those with a persona and at least
    one held-out pair rated ``min_gap`` or more stars apart; per user up to ``pairs`` such
    pairs (uniformly, without replacement) and up to ``ratings`` (default ``pairs``)
    held-out movies to rate."""
    from recarena.simulators.data.calibrate import load_fitted
    from recarena.simulators.data.fit import temporal_split
    from recarena.simulators.data.movielens import load_movielens
    from recarena.simulators.llm.persona import movielens_personas
    from recarena.simulators.llm.prompts import CatalogTexts

    check_int(users, "users", 1)
    check_int(pairs, "pairs", 1, 10_000)
    ratings = pairs if ratings is None else check_int(ratings, "ratings", 0, 10_000)
    check_int(seed, "seed", 0)
    check_float(min_gap, "min_gap", 0.0, low_open=True)
    if data is None and fitted is None:
        data, fitted, personas, train, test = _shipped_inputs()
    else:
        data = load_movielens() if data is None else data
        fitted = load_fitted() if fitted is None else fitted
        if not np.array_equal(np.sort(data.movies["item_id"].to_numpy()), fitted.item_ids):
            raise DataError("movielens_fidelity_sample: the fit's movies are not the data's "
                            "(pass the fit made from this MovieLens)")
        holdout = float(fitted.settings.get("holdout", 0.2))
        personas, _ = movielens_personas(data.ratings, data.movies, holdout)
        train, test = temporal_split(data.ratings, holdout)
    holdout = float(fitted.settings.get("holdout", 0.2))
    uid_all = fitted.user_ids
    # the held-out ratings, grouped by user (held-out ids by item id within a user)
    test = test.sort_values(["user_id", "item_id"], kind="stable")
    t_user = test["user_id"].to_numpy()
    t_item = np.searchsorted(fitted.item_ids, test["item_id"].to_numpy())
    t_rating = test["rating"].to_numpy(np.float64)
    starts = np.searchsorted(t_user, uid_all)
    ends = np.searchsorted(t_user, uid_all, side="right")

    def valid_pairs(k: int) -> np.ndarray:
        r = t_rating[starts[k]:ends[k]]
        i, j = np.triu_indices(r.size, 1)
        keep = np.abs(r[i] - r[j]) >= min_gap - 1e-9
        return np.stack([i[keep], j[keep]], axis=1)

    eligible = [k for k, u in enumerate(uid_all.tolist())
                if int(u) in personas and ends[k] - starts[k] >= 2 and len(valid_pairs(k))]
    if users > len(eligible):
        raise ConfigError("users", users, f"at most {len(eligible)} (the users with a persona "
                          f"and a held-out pair rated >= {min_gap:g} stars apart)")
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(np.array(eligible), size=users, replace=False))
    pu, pi, pr, ru, ri, rr = [], [], [], [], [], []
    for n, k in enumerate(chosen.tolist()):
        lo = starts[k]
        vp = valid_pairs(k)
        take = vp[np.sort(rng.choice(len(vp), size=min(pairs, len(vp)), replace=False))]
        flip = rng.random(len(take)) < 0.5
        take = np.where(flip[:, None], take[:, ::-1], take)
        pu.append(np.full(len(take), n))
        pi.append(t_item[lo + take])
        pr.append(t_rating[lo + take])
        m = ends[k] - lo
        rows = np.sort(rng.choice(m, size=min(ratings, m), replace=False))
        ru.append(np.full(len(rows), n))
        ri.append(t_item[lo + rows])
        rr.append(t_rating[lo + rows])
    pair_user, pair_items, pair_ratings = (np.concatenate(pu), np.concatenate(pi),
                                           np.concatenate(pr))
    rate_user = np.concatenate(ru).astype(np.int64)
    rate_items = np.concatenate(ri).astype(np.int64)
    rate_ratings = np.concatenate(rr)
    pair_seeds = rng.integers(0, 2 ** 63 - 1, len(pair_user), dtype=np.int64)
    rate_seeds = rng.integers(0, 2 ** 63 - 1, len(rate_user), dtype=np.int64)

    # the fitted MNL user: utilities, and the calibrated map of utility to stars
    tr_user = np.searchsorted(uid_all, train["user_id"].to_numpy())
    tr_util = _rowwise_utility(fitted, tr_user,
                               np.searchsorted(fitted.item_ids, train["item_id"].to_numpy()))
    cnt = np.bincount(tr_user, minlength=len(uid_all)).astype(np.float64)
    rbar = np.bincount(tr_user, train["rating"].to_numpy(np.float64), len(uid_all)) / cnt
    ubar = np.bincount(tr_user, tr_util, len(uid_all)) / cnt
    te_row = np.searchsorted(uid_all, t_user)
    te_util = _rowwise_utility(fitted, te_row, t_item)
    calib = ~np.isin(te_row, chosen)
    x = te_util[calib] - ubar[te_row[calib]]
    y = t_rating[calib] - rbar[te_row[calib]]
    design = np.stack([np.ones_like(x), x], axis=1)
    (alpha, beta), *_ = np.linalg.lstsq(design, y, rcond=None)
    rows_of = chosen[rate_user]
    rate_util = _rowwise_utility(fitted, rows_of, rate_items)
    rate_model = np.clip(rbar[rows_of] + alpha + beta * (rate_util - ubar[rows_of]), 0.5, 5.0)
    pair_rows = chosen[pair_user]
    pair_utility = np.stack([_rowwise_utility(fitted, pair_rows, pair_items[:, 0]),
                             _rowwise_utility(fitted, pair_rows, pair_items[:, 1])], axis=1)
    texts = CatalogTexts(fitted.titles, fitted.genres)._texts.tolist()
    uids = uid_all[chosen]
    return FidelitySample(
        uids, tuple(personas[int(u)].describe() for u in uids.tolist()), texts, pair_user,
        pair_items, pair_ratings, rate_user, rate_items, rate_ratings, pair_seeds, rate_seeds,
        pair_utility, rate_model, rbar[rows_of], seed,
        {"dataset": getattr(data, "name", "movielens"), "holdout": holdout,
         "min_gap": min_gap, "pairs_per_user": pairs, "ratings_per_user": ratings,
         "eligible_users": len(eligible), "mnl_weights": [float(w) for w in fitted.weights],
         "rating_map": {"alpha": float(alpha), "beta": float(beta),
                        "calibration_ratings": int(calib.sum())}})


# --------------------------------------------------------------------------- the report
@dataclass(frozen=True)
class MetricRow:
    """One user's (or reference's) numbers: ``alignment`` with ``[low, high]`` over
    ``pairs`` answered pairs, ``rmse`` with ``[low, high]`` over ``ratings`` answered
    ratings (NaN: not measured)."""

    name: str
    alignment: float = float("nan")
    alignment_low: float = float("nan")
    alignment_high: float = float("nan")
    pairs: int = 0
    rmse: float = float("nan")
    rmse_low: float = float("nan")
    rmse_high: float = float("nan")
    ratings: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class FidelityReport:
    """The table of :func:`evaluate_fidelity`: ``rows`` (the LLM user first), what the
    backend did (``decided_by`` counts per metric, ``usage``) and the sample's ``notes``."""

    rows: tuple[MetricRow, ...]
    users: int
    pair_decided: dict[str, int]
    rating_decided: dict[str, int]
    usage: dict[str, Any]
    notes: dict[str, Any]
    llm_name: str = "LLM user"
    #: ``first_share`` (share of answered pairs where the LLM picked the first shown: 0.5
    #: without position bias) and ``stars`` (answered ratings per star, 1-5)
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def row(self, name: str) -> MetricRow:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        return {"rows": [r.as_dict() for r in self.rows], "users": self.users,
                "pair_decided_by": self.pair_decided, "rating_decided_by": self.rating_decided,
                "usage": self.usage, "notes": self.notes, "diagnostics": self.diagnostics}

    def table(self) -> str:
        """The report as text: the metrics table, then what the backend did."""

        def cell(v: float, lo: float, hi: float, n: int, pct: bool) -> str:
            if not math.isfinite(v):
                return "-"
            f = (lambda x: f"{100 * x:.1f}%") if pct else (lambda x: f"{x:.3f}")
            ci = f" [{f(lo)}, {f(hi)}]" if math.isfinite(lo) else ""
            return f"{f(v)}{ci}" + (f" n={n}" if n else "")

        w = max(len(r.name) for r in self.rows)
        lines = [f"{'user':<{w}}  {'preference alignment [95% CI]':<34}  "
                 "rating RMSE [95% CI]", "-" * (w + 2 + 34 + 2 + 28)]
        for r in self.rows:
            lines.append(f"{r.name:<{w}}  "
                         f"{cell(r.alignment, r.alignment_low, r.alignment_high, r.pairs, True):<34}"
                         f"  {cell(r.rmse, r.rmse_low, r.rmse_high, r.ratings, False)}")
        n = self.notes
        lines.append("")
        lines.append(f"{self.users} users; pairs rated >= {n.get('min_gap', '?')} stars apart "
                     "(shown in a seeded random order); ratings 0.5-5 in half stars vs 1-5 "
                     "stars asked")
        if "rating_map" in n:
            m = n["rating_map"]
            lines.append(f"fitted MNL ratings: rbar_u + {m['alpha']:.3f} + {m['beta']:.3f} "
                         f"(u - ubar_u), fitted on {m['calibration_ratings']:,} held-out "
                         "ratings of the users not sampled")
        dg = self.diagnostics
        if dg.get("first_share") is not None:
            lines.append(f"LLM picked the first movie shown in {100 * dg['first_share']:.0f}% of "
                         "its answered pairs (50% without position bias); its stars: "
                         + ", ".join(f"{k}: {v}" for k, v in dg.get("stars", {}).items()))
        for what, d in (("pairs", self.pair_decided), ("ratings", self.rating_decided)):
            lines.append(f"LLM {what}: " + ", ".join(f"{v} {k}" for k, v in d.items()))
        u = self.usage
        cost = "n/a (no price for this model)" if u.get("cost") is None else f"${u['cost']:.4f}"
        lines.append(f"tokens: {u.get('prompt_tokens', 0):,} prompt + "
                     f"{u.get('completion_tokens', 0):,} completion sent now, cost {cost}, "
                     f"{u.get('requests', 0)} requests")
        lines.append("published rows: other users, pairs and data: for orientation only; the "
                     "rows above share one sample")
        return "\n".join(lines)


def _decided(decisions: Sequence[Any]) -> dict[str, int]:
    out = {"llm": 0, "cache": 0, "fallback": 0}
    for d in decisions:
        out[d.decided_by] = out.get(d.decided_by, 0) + 1
    return out


def evaluate_fidelity(sample: FidelitySample, backend: Any, bootstrap: int = 1000,
                      llm_name: str = "LLM user") -> FidelityReport:
    """Ask the simulated users (through ``backend``: anything with
    ``decide(requests, schema)``) and score them next to the fitted MNL user, the random
    chooser and the published numbers (see the module docstring)."""
    if not isinstance(sample, FidelitySample):
        raise ConfigError("evaluate_fidelity.sample", sample, "a FidelitySample")
    if not callable(getattr(backend, "decide", None)):
        raise ConfigError("evaluate_fidelity.backend", backend,
                          "an LLM backend with decide(requests, schema)")
    check_int(bootstrap, "evaluate_fidelity.bootstrap", 0)
    pair_dec = backend.decide(sample.pair_requests(), PairChoice) if len(sample.pair_user) else []
    rate_dec = (backend.decide(sample.rating_requests(), StarRating)
                if len(sample.rate_user) else [])
    first_better = sample.pair_ratings[:, 0] > sample.pair_ratings[:, 1]
    ok_p = np.array([d.value is not None for d in pair_dec], dtype=bool)
    picked_first = np.array([d.value is not None and d.value.choice == 1 for d in pair_dec],
                            dtype=bool)
    ok_r = np.array([d.value is not None for d in rate_dec], dtype=bool)
    stars = np.array([d.value.rating if d.value is not None else np.nan for d in rate_dec],
                     dtype=np.float64)

    def rmse(pred: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, ...]:
        m = np.ones(len(pred), bool) if mask is None else mask
        # the same bootstrap draws for every row: a fresh generator from the same seed
        return rating_rmse(pred[m], sample.rate_ratings[m], sample.rate_user[m],
                           np.random.default_rng([sample.seed, 1]), bootstrap)

    al = preference_alignment(picked_first[ok_p], first_better[ok_p]) if len(ok_p) else (
        float("nan"),) * 3 + (0,)
    rm = rmse(stars, ok_r) if len(ok_r) else (float("nan"),) * 3 + (0,)
    rows = [MetricRow(llm_name, *al, *rm)]
    if sample.pair_utility is not None and sample.rate_model is not None:
        util = sample.pair_utility
        al_m = preference_alignment(util[:, 0] >= util[:, 1], first_better)
        rows.append(MetricRow("fitted MNL user (argmax utility)", *al_m, *rmse(sample.rate_model)))
        gap = np.where(first_better, util[:, 0] - util[:, 1], util[:, 1] - util[:, 0])
        prob = 1.0 / (1.0 + np.exp(-gap))
        mean = float(prob.mean()) if prob.size else float("nan")
        half = (_z(0.95) * float(prob.std(ddof=1)) / math.sqrt(prob.size)
                if prob.size > 1 else float("nan"))
        rows.append(MetricRow("fitted MNL user (sampled, expected)", mean, mean - half,
                              mean + half, int(prob.size)))
    mean_row = (rmse(sample.rate_mean) if sample.rate_mean is not None
                else (float("nan"),) * 3 + (0,))
    rows.append(MetricRow("random chooser / user's mean rating", 0.5, float("nan"),
                          float("nan"), 0, *mean_row))
    for name, a, r in PUBLISHED:
        rows.append(MetricRow(name, alignment=a, rmse=r))
    usage = getattr(backend, "usage", None)
    usage_dict = usage.as_dict() if hasattr(usage, "as_dict") else {}
    diagnostics = {"first_share": float(picked_first[ok_p].mean()) if ok_p.any() else None,
                   "stars": {k: int(np.count_nonzero(stars == k)) for k in range(1, 6)}}
    return FidelityReport(tuple(rows), len(sample.user_ids), _decided(pair_dec),
                          _decided(rate_dec), usage_dict, dict(sample.notes), llm_name,
                          diagnostics)


# --------------------------------------------------------------------------- the command
def validate_llm(base_url: str | None = None, model: str | None = None,
                 api_key_env: str | None = None, users: int = 20, pairs: int = 5,
                 seed: int = 0, cache: str | None = None, local: bool = False,
                 timeout: float | None = None, max_retries: int = 4,
                 max_cost: float | None = None, response_format: str | None = None,
                 bootstrap: int = 1000) -> FidelityReport:
    """``recarena validate llm``: check the endpoint, draw the MovieLens sample, ask, score.

    ``local=True`` starts the embedded SmolLM2-135M server
    (:class:`~recarena.simulators.llm.local.LocalLLMServer`; ``base_url`` and ``model``
    must then be left out) and stops it afterwards. ``api_key_env`` names the environment
    variable holding the key (default ``$OPENAI_API_KEY``; none needed for a local URL).
    ``response_format`` defaults to ``"json_schema"`` (``"json_object_schema"`` locally).
    Bad arguments raise :class:`~recarena.errors.ConfigError` before anything is sent; an
    endpoint that cannot be used raises :class:`~recarena.errors.LLMBackendError`."""
    import os

    from recarena.simulators.llm.backend import LLMBackend
    from recarena.simulators.llm.config import LLMConfig

    check_int(users, "--users", 1)
    check_int(pairs, "--pairs", 1, 10_000)
    check_int(seed, "--seed", 0)
    check_int(max_retries, "--max-retries", 0, 100)
    if timeout is not None:
        check_float(timeout, "--timeout", 0.0, low_open=True)
    if max_cost is not None:
        check_float(max_cost, "--max-cost", 0.0)
    if local and (base_url is not None or model is not None):
        raise ConfigError("--local", True, "no --base-url / --model with --local (the "
                          "local server sets both)")
    if not local and not base_url:
        raise ConfigError("--base-url", base_url, "the URL of an OpenAI-compatible endpoint "
                          "(e.g. http://localhost:11434/v1), or --local")
    if not local and not model:
        raise ConfigError("--model", model, "the model name to send to the endpoint")
    key = None
    if api_key_env is not None:
        if not api_key_env or not api_key_env.replace("_", "a").isalnum():
            raise ConfigError("--api-key-env", api_key_env, "the name of an environment "
                              "variable holding the API key")
        key = os.environ.get(api_key_env)
        if not key:
            raise ConfigError("--api-key-env", api_key_env,
                              f"an environment variable that is set (${api_key_env} is empty "
                              "or unset)")
    server = None
    try:
        if local:
            from recarena.simulators.llm.local import LocalLLMServer

            server = LocalLLMServer().start()
            base_url, model = server.base_url, server.model
            fmt = response_format or "json_object_schema"  # llama.cpp: schema-constrained
            timeout = 300.0 if timeout is None else timeout
        else:
            fmt = response_format or "json_schema"
        config = LLMConfig(base_url=base_url, model=model, api_key=key, temperature=0.0,
                           max_tokens=32, timeout=30.0 if timeout is None else timeout,
                           max_retries=max_retries, response_format=fmt, cache=cache,
                           max_cost=max_cost, concurrency=1 if local else 16)
        with LLMBackend(config) as backend:
            backend.check()  # a wrong URL, key or model fails here, before the data loads
            sample = movielens_fidelity_sample(users, pairs, seed=seed)
            return evaluate_fidelity(sample, backend, bootstrap,
                                     llm_name=f"LLM user ({model})")
    finally:
        if server is not None:
            server.stop()
