"""What the classic recommenders remember: the interaction log and each user's recent items."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recarena.agents.base import UserRows
from recarena.errors import ConfigError

__all__ = ["InteractionLog", "RecentItems", "positive_feedback"]


def positive_feedback(slates: Any, response: Any, info: dict[str, Any] | None,
                      last_ids: np.ndarray | None, signal: str, owner: str
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Shown item ids ``(N, K)`` and the ``signal`` value of each (e.g. clicks)."""
    if info is not None and "candidate_ids" in info:
        ids = np.asarray(info["candidate_ids"], dtype=np.int64)
        ids = ids[None] if ids.ndim == 1 else ids
    elif last_ids is not None:
        ids = last_ids
    else:
        raise ConfigError(f"{owner}.update info", info,
                          "the info the slates were chosen on (with 'candidate_ids')")
    slates = np.asarray(slates, dtype=np.int64)
    slates = slates[None] if slates.ndim == 1 else slates
    if slates.ndim != 2 or slates.shape[0] != ids.shape[0]:
        raise ConfigError(f"{owner}.update slates", slates.shape, f"({ids.shape[0]}, K) indices")
    shown = np.take_along_axis(ids, slates, axis=1)
    value = np.asarray(getattr(response, signal), dtype=np.float64).reshape(shown.shape)
    return shown, value


class InteractionLog:
    """Append-only log of positive interactions ``(user_id, item_id, weight)``, turned into
    a sparse user-item matrix on demand (duplicates summed)."""

    def __init__(self, num_items: int) -> None:
        self.num_items = num_items
        self._users: list[np.ndarray] = []
        self._items: list[np.ndarray] = []
        self._weights: list[np.ndarray] = []
        self.size = 0

    def add(self, users: np.ndarray, items: np.ndarray, weights: np.ndarray) -> None:
        if users.size:
            self._users.append(users.astype(np.int64, copy=True))
            self._items.append(items.astype(np.int64, copy=True))
            self._weights.append(weights.astype(np.float64, copy=True))
            self.size += users.size

    def matrix(self) -> tuple[sp.csr_matrix, np.ndarray]:
        """``(R, user_ids)``: ``R[u, i]`` is the summed weight of user ``user_ids[u]`` on item ``i``."""
        if not self._users:
            return sp.csr_matrix((0, self.num_items)), np.zeros(0, np.int64)
        users = np.concatenate(self._users)
        items = np.concatenate(self._items)
        weights = np.concatenate(self._weights)
        self._users, self._items, self._weights = [users], [items], [weights]
        uniq, rows = np.unique(users, return_inverse=True)
        r = sp.csr_matrix((weights, (rows, items)), shape=(uniq.size, self.num_items))
        r.sum_duplicates()
        return r, uniq


class RecentItems:
    """Each row's user's last ``length`` positively-rated items (``-1`` = empty), cleared
    when the row's user changes: the profile item-KNN and the MF fold-in score from."""

    def __init__(self, length: int, owner: str) -> None:
        self.length = length
        self.rows = UserRows("user", owner)
        self.items = np.full((0, length), -1, dtype=np.int64)
        self.weights = np.zeros((0, length))

    def reset(self) -> None:
        self.rows.reset()
        self.items = np.full((0, self.length), -1, dtype=np.int64)
        self.weights = np.zeros((0, self.length))

    def sync(self, info: dict[str, Any] | None, n: int) -> None:
        changed = self.rows.sync(info, n)
        if changed is None:
            self.items = np.full((n, self.length), -1, dtype=np.int64)
            self.weights = np.zeros((n, self.length))
        elif changed.size:
            self.items[changed] = -1
            self.weights[changed] = 0.0

    def push(self, shown: np.ndarray, value: np.ndarray) -> None:
        """Append every shown item with a positive value, newest last (vectorised shift)."""
        n, k = shown.shape
        if self.items.shape[0] != n:
            return
        pos = value > 0
        order = np.argsort(~pos, axis=1, kind="stable")  # positives first, slate order kept
        new = np.take_along_axis(np.where(pos, shown, -1), order, axis=1)
        new_w = np.take_along_axis(np.where(pos, value, 0.0), order, axis=1)
        count = pos.sum(axis=1)
        both = np.concatenate([self.items, new], axis=1)
        both_w = np.concatenate([self.weights, new_w], axis=1)
        # row n keeps the last `length` entries of its (old items + its `count` new ones)
        end = self.length + count
        cols = end[:, None] - self.length + np.arange(self.length)[None, :]
        self.items = np.take_along_axis(both, cols, axis=1)
        self.weights = np.take_along_axis(both_w, cols, axis=1)
