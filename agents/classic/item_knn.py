"""Item-based k-nearest-neighbour collaborative filtering."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recarena.agents.bandits.mab import SIGNALS, rank_random_ties
from recarena.agents.base import ReportsPropensity, batch_size, candidate_ids
from recarena.agents.classic.interactions import InteractionLog, RecentItems, positive_feedback
from recarena.validation import check_choice, check_int

__all__ = ["ItemKNN", "item_cosine_neighbours"]

#: catalogs up to this size keep the neighbour matrix dense (float32) for fast gathers
_DENSE_MAX = 8192


def item_cosine_neighbours(r: sp.csr_matrix, neighbours: int) -> sp.csr_matrix:
    """Item-item cosine similarity of the columns of the user-item matrix ``r`` (binarised),
    keeping each item's ``neighbours`` most similar other items (Sarwar, Karypis, Konstan &
    Riedl 2001; top-k pruning as in Deshpande & Karypis 2004). Returns ``(A, A)``."""
    a = r.shape[1]
    b = (r > 0).astype(np.float64).tocsc()
    co = (b.T @ b).tocsr()
    norms = np.sqrt(np.asarray(co.diagonal()))
    co.setdiag(0.0)
    co.eliminate_zeros()
    co = co.tocoo()
    sim = co.data / (norms[co.row] * norms[co.col])
    if sim.size == 0:
        return sp.csr_matrix((a, a))
    # keep the top `neighbours` per row: sort by (row, -sim) and cut each row's run
    order = np.lexsort((-sim, co.row))
    rows, cols, sim = co.row[order], co.col[order], sim[order]
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    rank = np.arange(rows.size) - np.repeat(starts, np.diff(np.r_[starts, rows.size]))
    keep = rank < neighbours
    return sp.csr_matrix((sim[keep], (rows[keep], cols[keep])), shape=(a, a))


class ItemKNN(ReportsPropensity):
    """Item-KNN: a candidate's score is the summed cosine similarity between it and the
    user's recently liked items (their last ``history`` positive interactions).

    Similarities are computed from the interaction log of all users (item-item cosine over
    the binarised user-item matrix, each item keeping its ``neighbours`` nearest) and
    refitted every ``refit_every`` steps. Candidates the user's history says nothing about
    fall back to popularity (a 1e-6-weighted tie-breaker), then to random order.
    Sarwar et al. 2001, "Item-Based Collaborative Filtering Recommendation Algorithms".
    """

    name = "item_knn"
    is_oracle = False

    def __init__(self, num_items: int, slate_size: int, neighbours: int = 20,
                 history: int = 20, refit_every: int = 50, signal: str = "clicked",
                 seed: int | None = 0) -> None:
        self.num_items = check_int(num_items, "ItemKNN.num_items", 1)
        self.slate_size = check_int(slate_size, "ItemKNN.slate_size", 1, self.num_items)
        self.neighbours = check_int(neighbours, "ItemKNN.neighbours", 1)
        self.history = check_int(history, "ItemKNN.history", 1)
        self.refit_every = check_int(refit_every, "ItemKNN.refit_every", 1)
        self.signal = check_choice(signal, "ItemKNN.signal", SIGNALS)
        self.seed = None if seed is None else check_int(seed, "ItemKNN.seed", 0)
        self.reset()

    def reset(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self._chose_unknown()
        self.log = InteractionLog(self.num_items)
        self.recent = RecentItems(self.history, "ItemKNN")
        self.popularity = np.zeros(self.num_items)
        self.similarity: Any = None
        self._steps = 0
        self._last_ids: np.ndarray | None = None
        self._last_users: np.ndarray | None = None

    def fit(self) -> None:
        """Recompute the neighbour matrix from the whole log."""
        r, _ = self.log.matrix()
        s = item_cosine_neighbours(r, self.neighbours)
        self.similarity = s.toarray().astype(np.float32) if self.num_items <= _DENSE_MAX else s

    def scores(self, ids: np.ndarray) -> np.ndarray:
        hist, w = self.recent.items, self.recent.weights > 0
        n, c = ids.shape
        pop = self.popularity[ids]
        knn = np.zeros((n, c))
        if self.similarity is not None and w.any():
            h = np.where(w, hist, 0)
            if isinstance(self.similarity, np.ndarray):
                sims = self.similarity[ids[:, :, None], h[:, None, :]]
            else:
                rr = np.broadcast_to(ids[:, :, None], (n, c, self.history)).ravel()
                cc = np.broadcast_to(h[:, None, :], (n, c, self.history)).ravel()
                sims = np.asarray(self.similarity[rr, cc]).reshape(n, c, self.history)
            knn = (sims * w[:, None, :]).sum(axis=2)
        return knn + 1e-6 * pop / max(pop.max(), 1.0)

    def recommend(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> np.ndarray:
        n = batch_size(obs, info, "ItemKNN")
        ids = candidate_ids(info, n, "ItemKNN")
        self.recent.sync(info, n)
        self._last_ids = ids
        self._last_users = self.recent.rows.users
        scores = self.scores(ids)
        self._chose_ranking(scores)  # propensities: the top-K of scores, random ties
        return rank_random_ties(scores, self.slate_size, self._rng)

    def update(self, obs: dict[str, np.ndarray], slates: np.ndarray, response: Any,
               reward: np.ndarray, info: dict[str, Any] | None = None) -> None:
        shown, value = positive_feedback(slates, response, info, self._last_ids, self.signal,
                                         "ItemKNN")
        pos = value > 0
        users = self._last_users if self._last_users is not None else np.zeros(shown.shape[0], np.int64)
        self.log.add(np.broadcast_to(users[:, None], shown.shape)[pos], shown[pos], value[pos])
        self.popularity += np.bincount(shown[pos], value[pos], minlength=self.num_items)
        self.recent.push(shown, value)
        self._steps += 1
        if self._steps % self.refit_every == 0:
            self.fit()
