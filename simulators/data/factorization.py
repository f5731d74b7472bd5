"""Implicit-feedback matrix factorisation by alternating least squares (Hu, Koren &
Volinsky 2008, "Collaborative Filtering for Implicit Feedback Datasets"): the math shared
by the ALS recommender (:class:`recarena.agents.classic.ImplicitALS`) and the fitting of
simulated users to real logs (:mod:`recarena.simulators.data.fit`)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["als_fit", "als_fold_in"]


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
