"""Matrix factorisation for implicit feedback: alternating least squares (Hu, Koren &
Volinsky 2008, "Collaborative Filtering for Implicit Feedback Datasets")."""

from __future__ import annotations

from typing import Any

import numpy as np

from recarena.agents.bandits.mab import SIGNALS, rank_random_ties
from recarena.agents.base import ReportsPropensity, batch_size, candidate_ids
from recarena.agents.classic.interactions import InteractionLog, RecentItems, positive_feedback
from recarena.errors import ConfigError
from recarena.simulators.data.factorization import als_fit, als_fold_in
from recarena.validation import check_choice, check_float, check_int

__all__ = ["ImplicitALS", "als_fit", "als_fold_in"]


class ImplicitALS(ReportsPropensity):
    """Matrix factorisation for implicit feedback, refitted from the interaction log.

    Every ``refit_every`` steps, item factors are refitted by ALS on the log of all users'
    positive interactions (``signal``, clicks by default); a user's factors are folded in
    at every step from their recent positive items (one exact ALS user step against the
    item factors), so users met after the last refit are personalised too. Candidates are
    scored by ``x_u . y_i`` (plus a 1e-6-weighted popularity tie-breaker for cold users).

    Args:
        num_items: catalog size; slate_size: K.
        factors: f; regularization: lambda; alpha: confidence weight (``c = 1 + alpha r``);
        iterations: ALS sweeps per refit; refit_every: steps between refits;
        history: recent items per user used in the fold-in; signal; seed.
    """

    name = "als"
    is_oracle = False

    def __init__(self, num_items: int, slate_size: int, factors: int = 16,
                 regularization: float = 0.1, alpha: float = 10.0, iterations: int = 8,
                 refit_every: int = 50, history: int = 50, signal: str = "clicked",
                 seed: int | None = 0) -> None:
        self.num_items = check_int(num_items, "ImplicitALS.num_items", 1)
        self.slate_size = check_int(slate_size, "ImplicitALS.slate_size", 1, self.num_items)
        self.factors = check_int(factors, "ImplicitALS.factors", 1, 512)
        self.regularization = check_float(regularization, "ImplicitALS.regularization", 0.0,
                                          low_open=True)
        self.alpha = check_float(alpha, "ImplicitALS.alpha", 0.0)
        self.iterations = check_int(iterations, "ImplicitALS.iterations", 1)
        self.refit_every = check_int(refit_every, "ImplicitALS.refit_every", 1)
        self.history = check_int(history, "ImplicitALS.history", 1)
        self.signal = check_choice(signal, "ImplicitALS.signal", SIGNALS)
        self.seed = 0 if seed is None else check_int(seed, "ImplicitALS.seed", 0)
        self.reset()

    def reset(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self._chose_unknown()
        self.log = InteractionLog(self.num_items)
        self.recent = RecentItems(self.history, "ImplicitALS")
        self.popularity = np.zeros(self.num_items)
        self.item_factors: np.ndarray | None = None
        self._steps = 0
        self._fits = 0
        self._last_ids: np.ndarray | None = None
        self._last_users: np.ndarray | None = None

    def fit(self) -> None:
        r, _ = self.log.matrix()
        if r.shape[0] == 0:
            return
        _, self.item_factors = als_fit(r, self.factors, self.regularization, self.alpha,
                                       self.iterations, self.seed + self._fits)
        self._fits += 1

    def scores(self, ids: np.ndarray) -> np.ndarray:
        pop = self.popularity[ids]
        base = 1e-6 * pop / max(pop.max(), 1.0)
        if self.item_factors is None:
            return base
        x = als_fold_in(self.recent.items, self.recent.weights, self.item_factors,
                        self.regularization, self.alpha)
        cold = ~(self.recent.weights > 0).any(axis=1)
        x[cold] = 0.0
        return np.einsum("nd,ncd->nc", x, self.item_factors[ids]) + base

    def recommend(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> np.ndarray:
        n = batch_size(obs, info, "ImplicitALS")
        ids = candidate_ids(info, n, "ImplicitALS")
        self.recent.sync(info, n)
        self._last_ids = ids
        self._last_users = self.recent.rows.users
        scores = self.scores(ids)
        self._chose_ranking(scores)  # propensities: the top-K of scores, random ties
        return rank_random_ties(scores, self.slate_size, self._rng)

    def update(self, obs: dict[str, np.ndarray], slates: np.ndarray, response: Any,
               reward: np.ndarray, info: dict[str, Any] | None = None) -> None:
        shown, value = positive_feedback(slates, response, info, self._last_ids, self.signal,
                                         "ImplicitALS")
        if self._last_users is None:
            raise ConfigError("ImplicitALS.update", "no slates recommended yet",
                              "update() after recommend()")
        pos = value > 0
        users = np.broadcast_to(self._last_users[:, None], shown.shape)
        self.log.add(users[pos], shown[pos], value[pos])
        self.popularity += np.bincount(shown[pos], value[pos], minlength=self.num_items)
        self.recent.push(shown, value)
        self._steps += 1
        if self._steps % self.refit_every == 0:
            self.fit()
