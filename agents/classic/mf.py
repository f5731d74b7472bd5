"""Matrix factorisation for implicit feedback: alternating least squares (Hu, Koren &
Volinsky 2008, "Collaborative Filtering for Implicit Feedback Datasets")."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recarena.agents.bandits.mab import SIGNALS, rank_random_ties
from recarena.agents.base import batch_size, candidate_ids
from recarena.agents.classic.interactions import InteractionLog, RecentItems, positive_feedback
from recarena.errors import ConfigError
from recarena.validation import check_choice, check_float, check_int

__all__ = ["ImplicitALS", "als_fit", "als_fold_in"]


def _solve_side(r: sp.csr_matrix, other: np.ndarray, reg: float, alpha: float) -> np.ndarray:
    """One ALS half-step: for every row ``u`` of ``r`` (weights ``r_ui``; preference
    ``p_ui = 1`` where ``r_ui > 0``, confidence ``c_ui = 1 + alpha r_ui``), solve

        (Y^T Y + Y^T (C_u - I) Y + reg I) x_u = Y^T C_u p_u

    for all rows at once: ``Y^T (C_u - I) Y = alpha * sum_i r_ui y_i y_i^T`` is one sparse
    product with the ``(I, f*f)`` matrix of outer products ``y_i y_i^T``."""
    f = other.shape[1]
    yty = other.T @ other
    outer = np.einsum("id,ie->ide", other, other).reshape(other.shape[0], f * f)
    lhs = (alpha * (r @ outer)).reshape(r.shape[0], f, f) + yty + reg * np.eye(f)
    conf = r.copy()
    conf.data = 1.0 + alpha * conf.data
    rhs = np.asarray(conf @ other)
    return np.linalg.solve(lhs, rhs[:, :, None])[:, :, 0]


def als_fit(r: sp.csr_matrix, factors: int = 16, regularization: float = 0.1,
            alpha: float = 10.0, iterations: int = 10, seed: int = 0
            ) -> tuple[np.ndarray, np.ndarray]:
    """Implicit-feedback ALS on the user-item weight matrix ``r`` ``(U, I)``.

    Returns user factors ``(U, f)`` and item factors ``(I, f)``; ``x_u . y_i`` estimates
    the preference. Deterministic for a given ``seed``."""
    rng = np.random.default_rng(seed)
    r = sp.csr_matrix(r, dtype=np.float64)
    n_users, n_items = r.shape
    x = rng.normal(0.0, 0.01, (n_users, factors))
    y = rng.normal(0.0, 0.01, (n_items, factors))
    rt = r.T.tocsr()
    for _ in range(iterations):
        x = _solve_side(r, y, regularization, alpha)
        y = _solve_side(rt, x, regularization, alpha)
    return x, y


def als_fold_in(items: np.ndarray, weights: np.ndarray, item_factors: np.ndarray,
                regularization: float, alpha: float) -> np.ndarray:
    """User factors of users given as ``(N, H)`` item lists (``weights == 0``: empty slot),
    solved against fixed item factors: one exact ALS user step, no refit needed."""
    n, h = items.shape
    num_items = item_factors.shape[0]
    rows = np.repeat(np.arange(n), h)
    mask = weights.ravel() > 0
    r = sp.csr_matrix((weights.ravel()[mask], (rows[mask], items.ravel()[mask])),
                      shape=(n, num_items))
    r.sum_duplicates()
    return _solve_side(r, item_factors, regularization, alpha)


class ImplicitALS:
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
        return rank_random_ties(self.scores(ids), self.slate_size, self._rng)

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
