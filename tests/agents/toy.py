"""Stationary toy problems with a known optimum, driven straight through the Policy API.

Each problem is N independent rows (users) stepped as one batch, like a vector env, and
reports the expected regret of every step, so learning curves are exact expectations
rather than noisy returns."""

from __future__ import annotations

import numpy as np

from recarena.simulators.records import Response


def _response(clicked: np.ndarray, value: np.ndarray | None = None,
              examined: np.ndarray | None = None) -> Response:
    z = np.zeros(clicked.shape, dtype=bool)
    return Response(clicked, np.ones_like(z) if examined is None else examined,
                       clicked.astype(float) if value is None else value, z, z, z,
                       np.zeros(clicked.shape[0], dtype=bool))


def run_items(policy, p: np.ndarray, slate_size: int, steps: int, rows: int, seed: int = 0,
              kappa: np.ndarray | None = None) -> np.ndarray:
    """Semi-bandit over A items with click probabilities ``p`` (the same for every row);
    all items are candidates every step. With position weights ``kappa`` clicks follow the
    position-based model (``kappa_k * p_i``). Returns the mean expected regret per step
    ``(steps,)``."""
    rng = np.random.default_rng(seed)
    a = p.size
    kappa = np.ones(slate_size) if kappa is None else kappa
    best = np.sort(p)[::-1][:slate_size] @ np.sort(kappa)[::-1]
    ids = np.broadcast_to(np.arange(a), (rows, a))
    info = {"user_id": np.arange(rows), "candidate_ids": ids}
    obs = {"dummy": np.zeros((rows, 1))}
    policy.reset()
    regret = np.empty(steps)
    for t in range(steps):
        slates = policy.recommend(obs, info)
        prob = p[slates] * kappa
        regret[t] = best - prob.sum(axis=1).mean()
        clicked = rng.random(prob.shape) < prob
        policy.update(obs, slates, _response(clicked), clicked.sum(axis=1).astype(float), info)
    return regret


def run_linear(policy, model: str, steps: int, rows: int, dim: int = 5, arms: int = 12,
               noise: float = 0.1, seed: int = 0, context: str = "dense"
               ) -> tuple[np.ndarray, np.ndarray]:
    """Linear payoffs, one item per step (K = 1), reward in ``watch_time``.

    ``model="disjoint"``: every arm ``a`` has a parameter ``theta_a``; each step every row
    gets a fresh unit context ``x`` (``obs["user_profile"]``) and all arms as candidates;
    the mean reward is ``theta_a . x``; ``context="onehot"`` makes ``x`` the one-hot code of
    a random user segment (orthogonal contexts, where a diagonal covariance is exact). ``model="shared"``: every row has its own
    ``theta_u``; each step brings ``arms`` fresh candidate feature vectors
    (``obs["candidate_features"]``); the mean is ``theta_u . x_c``.
    Returns per-step mean regret and the per-step share of rows that chose the best arm."""
    rng = np.random.default_rng(seed)
    regret, hit = np.empty(steps), np.empty(steps)
    ids = np.broadcast_to(np.arange(arms), (rows, arms))
    info = {"user_id": np.arange(rows), "candidate_ids": ids}
    if model == "disjoint":
        theta = rng.normal(size=(arms, dim))
    else:
        theta = rng.normal(size=(rows, dim))
    policy.reset()
    for t in range(steps):
        if model == "disjoint":
            if context == "onehot":
                x = np.eye(dim)[rng.integers(0, dim, rows)]
            else:
                x = rng.normal(size=(rows, dim))
                x /= np.linalg.norm(x, axis=1, keepdims=True)
            obs = {"user_profile": x}
            mean = x @ theta.T  # (rows, arms)
        else:
            f = rng.normal(size=(rows, arms, dim))
            f /= np.linalg.norm(f, axis=2, keepdims=True)
            obs = {"candidate_features": f}
            mean = np.einsum("ncd,nd->nc", f, theta)
        slates = policy.recommend(obs, info)
        chosen = np.take_along_axis(mean, slates, axis=1)[:, 0]
        regret[t] = (mean.max(axis=1) - chosen).mean()
        hit[t] = (slates[:, 0] == mean.argmax(axis=1)).mean()
        value = (chosen + noise * rng.standard_normal(rows))[:, None]
        policy.update(obs, slates, _response(np.zeros((rows, 1), bool), value), value[:, 0], info)
    return regret, hit
