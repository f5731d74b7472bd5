"""Multi-armed bandits over catalog items, batched over users.

Every arm is a catalog item (``info["candidate_ids"]``); a step shows K of the C current
candidates and observes semi-bandit feedback: the chosen ``signal`` (clicks by default) of
every shown item, or, with ``feedback="examined"``, only of the items the user examined
(the cascade model's observation: the prefix up to the click, Kveton et al. 2015).

``scope="user"`` keeps one set of arm statistics per batch row, wiped when the row's user
changes: N independent bandit problems stepped as one (the classic per-user bandit of a
vector env, or one bandit run per episode of a single env). ``scope="shared"`` keeps one
set for every user: a platform-wide learner of item appeal.

Statistics are ``(R, A)`` arrays (R = N rows or 1, A = catalog size), indexed with the
candidates' ids; selection is a top-K of an index with random tie-breaking from the
policy's own generator (``seed``), so runs are reproducible.

Propensities (:class:`~recarena.agents.base.ReportsPropensity`): the index bandits
(UCB1, top-K UCB, the cascading bandits) rank a deterministic index with uniformly random
ties, so their position-wise and slate propensities are exact; epsilon-greedy's are the
exact mixture of a uniformly random slate and its greedy ranking; Thompson sampling's
(and in-slate TS's) have no closed form and are NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recarena.agents.base import ReportsPropensity, UserRows, batch_size, candidate_ids
from recarena.errors import ConfigError
from recarena.validation import check_choice, check_float, check_int

__all__ = ["BernoulliTS", "EpsilonGreedy", "InSlateTS", "ItemBandit", "TopKUCB", "UCB1",
           "rank_random_ties"]

#: Response fields a bandit can learn from; Thompson sampling needs a binary one.
SIGNALS = ("clicked", "watch_time", "liked", "shared", "followed")
BINARY_SIGNALS = ("clicked", "liked", "shared", "followed")


def rank_random_ties(scores: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """The ``k`` best entries of each row, best first, ties broken uniformly at random.

    Long rows take the ``k`` best by ``argpartition`` and sort only those; rows where the
    k-th value is tied with entries left outside fall back to a full random-key sort, so
    the tie-breaking is exactly uniform either way."""
    n, c = scores.shape
    noise = rng.random(scores.shape)
    if c <= 256 or k >= c:
        return np.lexsort((noise, -scores), axis=-1)[:, :k]
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    top = np.take_along_axis(scores, part, axis=1)
    kth = top.min(axis=1)
    boundary = (scores == kth[:, None]).sum(axis=1) > (top == kth[:, None]).sum(axis=1)
    order = np.lexsort((np.take_along_axis(noise, part, axis=1), -top), axis=-1)
    out = np.take_along_axis(part, order, axis=1)
    if boundary.any():
        rows = np.flatnonzero(boundary)
        out[rows] = np.lexsort((noise[rows], -scores[rows]), axis=-1)[:, :k]
    return out


class ItemBandit(ReportsPropensity):
    """Base of the item bandits: per-(row, item) counts and sums, feedback handling and the
    user bookkeeping. Subclasses implement :meth:`_index` (``(N, C)`` arm indices of the
    current candidates) and may override :meth:`_select`.

    Args:
        num_items: A, the catalog size (arms).
        slate_size: K.
        scope: ``"user"`` or ``"shared"`` (see the module docstring).
        feedback: ``"slate"`` (every shown item is observed) or ``"examined"`` (only the
            examined positions, from ``response.examined``).
        signal: the response field that is the arm's reward (``clicked`` ...).
        seed: seed of the policy's generator (exploration and tie-breaking).
    """

    name = "item_bandit"
    is_oracle = False
    binary_only = False
    #: whether :meth:`_index` is itself random (a posterior draw): then the slate's
    #: propensities are unknown instead of the ranking's
    random_index = False

    def __init__(self, num_items: int, slate_size: int, scope: str = "user",
                 feedback: str = "slate", signal: str = "clicked", seed: int | None = 0) -> None:
        owner = type(self).__name__
        self.num_items = check_int(num_items, f"{owner}.num_items", 1)
        self.slate_size = check_int(slate_size, f"{owner}.slate_size", 1, self.num_items)
        self.rows = UserRows(scope, owner)
        self.feedback = check_choice(feedback, f"{owner}.feedback", ("slate", "examined"))
        self.signal = check_choice(signal, f"{owner}.signal",
                                   BINARY_SIGNALS if self.binary_only else SIGNALS)
        if seed is not None:
            seed = check_int(seed, f"{owner}.seed", 0)
        self.seed = seed
        self.reset()

    # ---------------------------------------------------------------- state
    def reset(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self.rows.reset()
        self.counts = np.zeros((0, self.num_items))
        self.sums = np.zeros((0, self.num_items))
        self.rounds = np.zeros(0)
        self._last_ids: np.ndarray | None = None
        self._chose_unknown()

    def _alloc(self, r: int) -> None:
        self.counts = np.zeros((r, self.num_items))
        self.sums = np.zeros((r, self.num_items))
        self.rounds = np.zeros(r)

    def _clear(self, rows: np.ndarray) -> None:
        self.counts[rows] = 0.0
        self.sums[rows] = 0.0
        self.rounds[rows] = 0.0

    def _prepare(self, obs: Any, info: dict[str, Any] | None) -> tuple[np.ndarray, np.ndarray]:
        owner = type(self).__name__
        n = batch_size(obs, info, owner)
        changed = self.rows.sync(info, n)
        if changed is None:
            self._alloc(self.rows.size(n))
        elif self.rows.per_user and changed.size:
            self._clear(changed)
        ids = candidate_ids(info, n, owner, self.num_items)
        c = ids.shape[1]
        if c < self.slate_size:
            raise ConfigError(f"{owner}.recommend candidates", c,
                              f"at least slate_size={self.slate_size} candidates")
        self._last_ids = ids
        return self.rows.index(n), ids

    # ---------------------------------------------------------------- API
    def recommend(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> np.ndarray:
        r, ids = self._prepare(obs, info)
        self._chose_unknown()  # until _select says how it chose
        return self._select(r, ids)

    def _index(self, r: np.ndarray, ids: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _select(self, r: np.ndarray, ids: np.ndarray) -> np.ndarray:
        index = self._index(r, ids)
        if not self.random_index:
            self._chose_ranking(index)
        return rank_random_ties(index, self.slate_size, self._rng)

    def _feedback(self, slates: np.ndarray, response: Any,
                  info: dict[str, Any] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Shown item ids ``(N, K)``, whether each was observed, and its reward value."""
        owner = type(self).__name__
        if info is not None and "candidate_ids" in info:
            ids = np.asarray(info["candidate_ids"], dtype=np.int64)
            ids = ids[None] if ids.ndim == 1 else ids
        elif self._last_ids is not None:
            ids = self._last_ids
        else:
            raise ConfigError(f"{owner}.update info", info,
                              "the info the slates were chosen on (with 'candidate_ids')")
        slates = np.asarray(slates, dtype=np.int64)
        slates = slates[None] if slates.ndim == 1 else slates
        if slates.shape != (ids.shape[0], self.slate_size):
            raise ConfigError(f"{owner}.update slates", slates.shape,
                              f"shape ({ids.shape[0]}, {self.slate_size})")
        shown = np.take_along_axis(ids, slates, axis=1)
        value = np.asarray(getattr(response, self.signal), dtype=np.float64).reshape(shown.shape)
        if self.feedback == "examined":
            seen = np.asarray(response.examined, dtype=bool).reshape(shown.shape)
        else:
            seen = np.ones(shown.shape, dtype=bool)
        return shown, seen, value

    def update(self, obs: dict[str, np.ndarray], slates: np.ndarray, response: Any,
               reward: np.ndarray, info: dict[str, Any] | None = None) -> None:
        shown, seen, value = self._feedback(slates, response, info)
        self._accumulate(self.rows.index(shown.shape[0]), shown, seen.astype(np.float64),
                         value * seen)

    def _accumulate(self, r: np.ndarray, shown: np.ndarray, weight: np.ndarray,
                    value: np.ndarray) -> None:
        if self.rows.per_user:
            # items are distinct within a row, so fancy-index addition is exact
            rr = r[:, None]
            self.counts[rr, shown] += weight
            self.sums[rr, shown] += value
            self.rounds[r] += 1.0
        else:
            flat = shown.ravel()
            self.counts[0] += np.bincount(flat, weight.ravel(), minlength=self.num_items)
            self.sums[0] += np.bincount(flat, value.ravel(), minlength=self.num_items)
            self.rounds[0] += shown.shape[0]

    # ---------------------------------------------------------------- helpers
    def _stats(self, r: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rr = r[:, None]
        return self.counts[rr, ids], self.sums[rr, ids]

    def means(self, r: np.ndarray, ids: np.ndarray) -> np.ndarray:
        n, s = self._stats(r, ids)
        return s / np.maximum(n, 1e-12)


class EpsilonGreedy(ItemBandit):
    """epsilon-greedy (Sutton & Barto 2018, sec. 2.2; the decaying schedule is Auer,
    Cesa-Bianchi & Fischer 2002's epsilon_n-greedy).

    Untried candidates first; otherwise, with probability ``eps_t`` a row's slate is
    uniformly random, else the K best empirical means. ``schedule="decay"``:
    ``eps_t = min(1, epsilon * C / t)`` (t = the row's round, C = candidates), which keeps
    regret logarithmic; ``"constant"``: ``eps_t = epsilon`` (linear regret, for comparison).
    Propensities: ``eps_t * uniform + (1 - eps_t) * greedy ranking`` (exact).
    """

    name = "epsilon_greedy"

    def __init__(self, num_items: int, slate_size: int, epsilon: float = 1.0,
                 schedule: str = "decay", scope: str = "user", feedback: str = "slate",
                 signal: str = "clicked", seed: int | None = 0) -> None:
        self.epsilon = check_float(epsilon, "EpsilonGreedy.epsilon", 0.0)
        self.schedule = check_choice(schedule, "EpsilonGreedy.schedule", ("decay", "constant"))
        if self.schedule == "constant":
            check_float(epsilon, "EpsilonGreedy.epsilon", 0.0, 1.0)
        super().__init__(num_items, slate_size, scope, feedback, signal, seed)

    def _index(self, r: np.ndarray, ids: np.ndarray) -> np.ndarray:
        n, s = self._stats(r, ids)
        greedy = np.where(n > 0, s / np.maximum(n, 1e-12), np.inf)
        t = self.rounds[r] + 1.0
        eps = (np.minimum(1.0, self.epsilon * ids.shape[1] / t) if self.schedule == "decay"
               else np.full(t.shape, self.epsilon))
        self._chose_epsilon(eps, greedy)
        explore = self._rng.random(ids.shape[0]) < eps
        if not explore.any():
            return greedy
        index = greedy.copy()
        index[explore] = self._rng.random((int(explore.sum()), ids.shape[1]))
        return index

    def _select(self, r: np.ndarray, ids: np.ndarray) -> np.ndarray:
        # a uniformly random slate on exploring rows, else the greedy ranking (recorded by
        # _index), both through the same random-tie top-K
        return rank_random_ties(self._index(r, ids), self.slate_size, self._rng)


class UCB1(ItemBandit):
    """UCB1 (Auer, Cesa-Bianchi & Fischer 2002): index ``mean + sqrt(c * ln t / n)``,
    ``c = exploration`` (2 in the paper), untried items first; the K highest indices form
    the slate (with K > 1 this is the semi-bandit CombUCB1 of Kveton et al. 2015,
    "Tight Regret Bounds for Stochastic Combinatorial Semi-Bandits")."""

    name = "ucb1"

    def __init__(self, num_items: int, slate_size: int, exploration: float = 2.0,
                 scope: str = "user", feedback: str = "slate", signal: str = "clicked",
                 seed: int | None = 0) -> None:
        self.exploration = check_float(exploration, f"{type(self).__name__}.exploration", 0.0)
        super().__init__(num_items, slate_size, scope, feedback, signal, seed)

    def _index(self, r: np.ndarray, ids: np.ndarray) -> np.ndarray:
        n, s = self._stats(r, ids)
        log_t = np.log(np.maximum(self.rounds[r], 1.0))[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            index = s / n + np.sqrt(self.exploration * log_t / n)
        return np.where(n > 0, index, np.inf)

    def candidate_scores(self, obs: dict[str, np.ndarray],
                         info: dict[str, Any] | None = None) -> np.ndarray:
        """The UCB1 index of every candidate ``(N, C)`` (``inf`` for untried items)."""
        return self._index(*self._prepare(obs, info))


class BernoulliTS(ItemBandit):
    """Bernoulli Thompson sampling (Thompson 1933; Agrawal & Goyal 2012): each item's
    success probability has a ``Beta(prior_alpha + s, prior_beta + n - s)`` posterior; one
    draw per candidate and step, the K largest draws form the slate."""

    name = "thompson"
    binary_only = True
    random_index = True

    def __init__(self, num_items: int, slate_size: int, prior_alpha: float = 1.0,
                 prior_beta: float = 1.0, scope: str = "user", feedback: str = "slate",
                 signal: str = "clicked", seed: int | None = 0) -> None:
        owner = type(self).__name__
        self.prior_alpha = check_float(prior_alpha, f"{owner}.prior_alpha", 0.0, low_open=True)
        self.prior_beta = check_float(prior_beta, f"{owner}.prior_beta", 0.0, low_open=True)
        super().__init__(num_items, slate_size, scope, feedback, signal, seed)

    def _posterior(self, r: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n, s = self._stats(r, ids)
        return self.prior_alpha + s, self.prior_beta + n - s

    def _index(self, r: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return self._rng.beta(*self._posterior(r, ids))


class InSlateTS(BernoulliTS):
    """In-slate Thompson sampling (Eide, Leslie & Frigessi 2022, "Dynamic Slate
    Recommendation with Gated Recurrent Units and Thompson Sampling", sec. 5): instead of
    one posterior draw per slate, every position gets its own draw and is filled with the
    best not-yet-placed item under that draw, so exploration is spread across the slate.
    The posterior here is the conjugate Beta model of :class:`BernoulliTS`."""

    name = "in_slate_ts"

    def _select(self, r: np.ndarray, ids: np.ndarray) -> np.ndarray:
        a, b = self._posterior(r, ids)
        n = ids.shape[0]
        taken = np.zeros(ids.shape, dtype=bool)
        slates = np.empty((n, self.slate_size), dtype=np.int64)
        rows = np.arange(n)
        for k in range(self.slate_size):
            draw = np.where(taken, -np.inf, self._rng.beta(a, b))
            pick = np.argmax(draw, axis=1)
            slates[:, k] = pick
            taken[rows, pick] = True
        return slates


class TopKUCB(ItemBandit):
    """Top-K combinatorial slate bandit: PBM-UCB (Lagree, Vernade & Cappe 2016,
    "Multiple-Play Bandits in the Position-Based Model").

    Clicks follow the position-based model: item ``i`` shown at position ``k`` is clicked
    with probability ``kappa_k * theta_i`` with known examination weights ``kappa``
    (``position_weights``, non-increasing; all ones is the plain semi-bandit, where this
    is CombUCB1). Each item keeps its raw count ``N_i``, its examination-weighted count
    ``Ñ_i = sum kappa`` and its clicks ``S_i``; its index is

        U_i = S_i / Ñ_i + sqrt(N_i * exploration * ln t / (2 Ñ_i**2))

    and the K largest indices are placed on the positions in decreasing ``kappa`` order.
    """

    name = "topk_ucb"

    def __init__(self, num_items: int, slate_size: int,
                 position_weights: tuple[float, ...] | None = None, exploration: float = 1.0,
                 scope: str = "user", signal: str = "clicked", seed: int | None = 0) -> None:
        self.exploration = check_float(exploration, "TopKUCB.exploration", 0.0)
        super().__init__(num_items, slate_size, scope, "slate", signal, seed)
        if position_weights is None:
            position_weights = (1.0,) * self.slate_size
        kappa = np.asarray(position_weights, dtype=np.float64)
        if kappa.shape != (self.slate_size,) or not np.all((kappa > 0) & (kappa <= 1)):
            raise ConfigError("TopKUCB.position_weights", position_weights,
                              f"{self.slate_size} examination probabilities in (0, 1]")
        if np.any(np.diff(kappa) > 0):
            raise ConfigError("TopKUCB.position_weights", position_weights,
                              "non-increasing weights (position 0 is examined most)")
        self.kappa = kappa

    def _alloc(self, r: int) -> None:
        super()._alloc(r)
        self.raw = np.zeros((r, self.num_items))

    def _clear(self, rows: np.ndarray) -> None:
        super()._clear(rows)
        self.raw[rows] = 0.0

    def reset(self) -> None:
        super().reset()
        self.raw = np.zeros((0, self.num_items))

    def update(self, obs: dict[str, np.ndarray], slates: np.ndarray, response: Any,
               reward: np.ndarray, info: dict[str, Any] | None = None) -> None:
        shown, _, value = self._feedback(slates, response, info)
        r = self.rows.index(shown.shape[0])
        weight = np.broadcast_to(self.kappa, shown.shape)
        if self.rows.per_user:
            self.raw[r[:, None], shown] += 1.0
        else:
            self.raw[0] += np.bincount(shown.ravel(), minlength=self.num_items)
        self._accumulate(r, shown, weight, value)

    def _index(self, r: np.ndarray, ids: np.ndarray) -> np.ndarray:
        wn, s = self._stats(r, ids)
        raw = self.raw[r[:, None], ids]
        log_t = np.log(np.maximum(self.rounds[r], 1.0))[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            index = s / wn + np.sqrt(raw * self.exploration * log_t / (2.0 * wn**2))
        return np.where(wn > 0, index, np.inf)
