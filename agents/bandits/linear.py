"""Linear contextual bandits: LinUCB, Diag-LinUCB and linear Thompson sampling, batched.

Two models of the expected reward of showing candidate ``c`` to the user in row ``n``:

* ``model="shared"``: one parameter vector per statistics row (per user with
  ``scope="user"``, one for everybody with ``scope="shared"``) and the candidate's
  features as context, ``E[r] = theta_u . x_c`` with ``x_c = obs[feature_key][n, c]``
  (Li et al. 2010's shared/hybrid form; per user it learns the user's interest vector).
* ``model="disjoint"``: one parameter vector per catalog item and the user's features as
  context, ``E[r] = theta_a . x_n`` with ``x_n = obs[context_key][n]`` (Li et al. 2010,
  Algorithm 1, "LinUCB with disjoint linear models"); items come from
  ``info["candidate_ids"]``, so the env needs a catalog.

Ridge-regression statistics per key: ``A = ridge * I + sum x x^T`` and ``b = sum r x``;
``covariance="full"`` keeps ``A^-1`` (rank-one Sherman-Morrison updates, exact), ``"diag"``
keeps only the diagonal of ``A`` (O(d) memory and time per key: the Diag-LinUCB of
"Online Matching: A Real-time Bandit System for Large-scale Recommendations", Yi et al.
2023, whose per-item updates are incremental sums that can be sharded and merged).

Propensities (:class:`~recarena.agents.base.ReportsPropensity`): LinUCB ranks a
deterministic score with uniformly random ties, so its propensities are exact; linear
Thompson sampling's have no closed form and are NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recarena.agents.bandits.mab import SIGNALS, rank_random_ties
from recarena.agents.base import (
    ReportsPropensity,
    UserRows,
    batch_size,
    candidate_ids,
    observation,
)
from recarena.errors import ConfigError
from recarena.validation import check_choice, check_float, check_int

__all__ = ["DiagLinUCB", "LinTS", "LinUCB", "LinearBandit"]

#: gathered covariance blocks are processed in chunks of at most this many floats
_CHUNK_FLOATS = 4_000_000


class LinearBandit(ReportsPropensity):
    """Base of the linear bandits: ridge statistics, batched scoring and updates.

    Args:
        dim: d, the context dimension.
        slate_size: K.
        model: ``"shared"`` (candidate features) or ``"disjoint"`` (per-item models on
            user features).
        scope: ``"user"`` or ``"shared"`` statistics rows for the shared model (the
            disjoint model's per-item statistics are always shared by all users).
        num_items: catalog size (required by the disjoint model).
        feature_key: observation entry ``(N, C, d)`` of candidate features (shared model).
        context_key: observation entry ``(N, d)`` of user features (disjoint model).
        covariance: ``"full"`` or ``"diag"``.
        ridge: lambda > 0, the prior precision.
        feedback: ``"slate"`` or ``"examined"`` (see :mod:`recarena.agents.bandits.mab`).
        signal: the response field that is the reward of a shown item.
        seed: seed of the policy's generator.
    """

    name = "linear_bandit"
    is_oracle = False

    def __init__(self, dim: int, slate_size: int, model: str = "shared", scope: str = "user",
                 num_items: int | None = None, feature_key: str = "candidate_features",
                 context_key: str = "user_profile", covariance: str = "full",
                 ridge: float = 1.0, feedback: str = "slate", signal: str = "clicked",
                 seed: int | None = 0) -> None:
        owner = type(self).__name__
        self.dim = check_int(dim, f"{owner}.dim", 1)
        self.slate_size = check_int(slate_size, f"{owner}.slate_size", 1)
        self.model = check_choice(model, f"{owner}.model", ("shared", "disjoint"))
        if self.model == "disjoint":
            if num_items is None:
                raise ConfigError(f"{owner}.num_items", None,
                                  "the catalog size (int >= 1) for the disjoint model")
            num_items = check_int(num_items, f"{owner}.num_items", 1)
            if scope != "shared":
                raise ConfigError(f"{owner}.scope", scope,
                                  "'shared' for the disjoint model (per-item statistics are "
                                  "learned from every user)")
        self.num_items = num_items
        self.rows = UserRows(scope, owner)
        for key, value in (("feature_key", feature_key), ("context_key", context_key)):
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{owner}.{key}", value, "an observation key (str)")
        self.feature_key, self.context_key = feature_key, context_key
        self.covariance = check_choice(covariance, f"{owner}.covariance", ("full", "diag"))
        self.ridge = check_float(ridge, f"{owner}.ridge", 0.0, low_open=True)
        self.feedback = check_choice(feedback, f"{owner}.feedback", ("slate", "examined"))
        self.signal = check_choice(signal, f"{owner}.signal", SIGNALS)
        if seed is not None:
            seed = check_int(seed, f"{owner}.seed", 0)
        self.seed = seed
        self.reset()

    # ---------------------------------------------------------------- state
    def reset(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self.rows.reset()
        self._alloc(0 if self.model == "shared" else int(self.num_items))
        self._last: tuple[np.ndarray, np.ndarray] | None = None
        self._chose_unknown()

    def _alloc(self, m: int) -> None:
        d = self.dim
        if self.covariance == "full":
            self.a_inv = np.broadcast_to(np.eye(d) / self.ridge, (m, d, d)).copy()
        else:
            self.a_diag = np.full((m, d), self.ridge)
        self.b = np.zeros((m, d))

    def _clear(self, keys: np.ndarray) -> None:
        if self.covariance == "full":
            self.a_inv[keys] = np.eye(self.dim) / self.ridge
        else:
            self.a_diag[keys] = self.ridge
        self.b[keys] = 0.0

    # ---------------------------------------------------------------- contexts
    def _contexts(self, obs: Any, info: dict[str, Any] | None) -> tuple[np.ndarray, np.ndarray]:
        """``(x, keys)``: contexts and statistics keys of the current candidates. Shared
        model: ``x`` ``(N, C, d)``, keys ``(N,)``; disjoint: ``x`` ``(N, d)``, keys ``(N, C)``."""
        owner = type(self).__name__
        n = batch_size(obs, info, owner)
        changed = self.rows.sync(info, n)
        if self.model == "shared":
            if changed is None:
                self._alloc(self.rows.size(n))
            elif self.rows.per_user and changed.size:
                self._clear(changed)
            x = observation(obs, self.feature_key, owner, 3)
            keys = self.rows.index(n)
        else:
            x = observation(obs, self.context_key, owner, 2)
            keys = candidate_ids(info, n, owner, self.num_items)
        if x.shape[0] != n or x.shape[-1] != self.dim:
            key = self.feature_key if self.model == "shared" else self.context_key
            raise ConfigError(f"{owner}.recommend obs[{key!r}]", x.shape,
                              f"{n} rows of {self.dim}-dimensional features (dim={self.dim})")
        num_c = x.shape[1] if self.model == "shared" else keys.shape[1]
        if num_c < self.slate_size:
            raise ConfigError(f"{owner}.recommend candidates", num_c,
                              f"at least slate_size={self.slate_size} candidates")
        self._last = (x, keys)
        return x, keys

    def _mean_var(self, x: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean ``theta . x`` and ``x^T A^-1 x`` of every candidate ``(N, C)``."""
        b = self.b
        if self.model == "shared":
            if self.covariance == "diag":
                inv = 1.0 / self.a_diag[keys]  # (N, d)
                theta = self.b[keys] * inv
                return (np.einsum("ncd,nd->nc", x, theta),
                        np.einsum("ncd,nd->nc", x * x, inv))
            if self.rows.per_user:
                a_inv = self.a_inv[keys]  # (N, d, d)
                theta = np.einsum("nde,ne->nd", a_inv, b[keys])
                v = np.einsum("nde,nce->ncd", a_inv, x)
            else:
                theta = np.broadcast_to(self.a_inv[0] @ b[0], (x.shape[0], self.dim))
                v = x @ self.a_inv[0]
            return np.einsum("ncd,nd->nc", x, theta), np.einsum("ncd,ncd->nc", v, x)
        # disjoint: keys (N, C) item ids, x (N, d) user contexts
        if keys.shape[0] > 1 and (keys == keys[:1]).all():
            # every row scores the same candidates (e.g. the whole catalog): per-item
            # quantities once, then dense products over users (BLAS)
            k0 = keys[0]
            if self.covariance == "diag":
                inv = 1.0 / self.a_diag[k0]  # (C, d)
                return x @ (self.b[k0] * inv).T, (x * x) @ inv.T
            d = self.dim
            a_inv = self.a_inv[k0]  # (C, d, d)
            v = (a_inv.reshape(-1, d) @ x.T).reshape(k0.size, d, x.shape[0])  # (C, d, N)
            var = np.einsum("cdn,nd->nc", v, x)
            mean = np.einsum("cdn,cd->nc", v, b[k0])
            return mean, var
        if self.covariance == "diag":
            inv = 1.0 / self.a_diag[keys]  # (N, C, d)
            return (np.einsum("ncd,ncd,nd->nc", self.b[keys], inv, x),
                    np.einsum("ncd,nd->nc", inv, x * x))
        n, c = keys.shape
        flat, users = keys.ravel(), np.repeat(np.arange(n), c)
        mean, var = np.empty(n * c), np.empty(n * c)
        step = max(1, _CHUNK_FLOATS // (self.dim * self.dim))
        for lo in range(0, n * c, step):
            k, u = flat[lo:lo + step], users[lo:lo + step]
            v = np.einsum("mde,me->md", self.a_inv[k], x[u])
            var[lo:lo + step] = np.einsum("md,md->m", v, x[u])
            mean[lo:lo + step] = np.einsum("md,md->m", v, b[k])
        return mean.reshape(n, c), var.reshape(n, c)

    # ---------------------------------------------------------------- learning
    def update(self, obs: dict[str, np.ndarray], slates: np.ndarray, response: Any,
               reward: np.ndarray, info: dict[str, Any] | None = None) -> None:
        owner = type(self).__name__
        if self._last is None:
            raise ConfigError(f"{owner}.update", "no slates recommended yet",
                              "update() after recommend() on the same observation")
        x, keys = self._last
        slates = np.asarray(slates, dtype=np.int64)
        slates = slates[None] if slates.ndim == 1 else slates
        n = x.shape[0]
        if slates.shape != (n, self.slate_size):
            raise ConfigError(f"{owner}.update slates", slates.shape, f"shape ({n}, {self.slate_size})")
        value = np.asarray(getattr(response, self.signal), dtype=np.float64).reshape(slates.shape)
        seen = (np.asarray(response.examined, dtype=bool).reshape(slates.shape)
                if self.feedback == "examined" else np.ones(slates.shape, dtype=bool))
        if self.model == "shared":
            ctx = np.take_along_axis(x, slates[:, :, None], axis=1)  # (N, K, d)
            k = np.broadcast_to(keys[:, None], slates.shape)
        else:
            ctx = np.broadcast_to(x[:, None, :], (*slates.shape, self.dim))
            k = np.take_along_axis(keys, slates, axis=1)
        self._learn(k[seen], ctx[seen], value[seen])

    def _learn(self, keys: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
        """Add observations ``(x, y)`` to the statistics of ``keys`` (one entry each)."""
        if keys.size == 0:
            return
        np.add.at(self.b, keys, y[:, None] * x)
        if self.covariance == "diag":
            np.add.at(self.a_diag, keys, x * x)
            return
        order = np.argsort(keys, kind="stable")
        ks, xs = keys[order], x[order]
        starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
        counts = np.diff(np.r_[starts, ks.size])
        rank = np.arange(ks.size) - np.repeat(starts, counts)
        heavy = np.repeat(counts > 8, counts)
        if heavy.any():  # many observations of one key: refresh the precision, invert once
            hk = ks[heavy]
            uk, inv = np.unique(hk, return_inverse=True)
            prec = np.linalg.inv(self.a_inv[uk])
            np.add.at(prec, inv, np.einsum("md,me->mde", xs[heavy], xs[heavy]))
            self.a_inv[uk] = np.linalg.inv(prec)
        light = ~heavy
        for r in range(int(rank[light].max()) + 1 if light.any() else 0):
            sel = light & (rank == r)  # keys are distinct within one round
            k, v = ks[sel], xs[sel]
            a = self.a_inv[k]
            av = np.einsum("mde,me->md", a, v)
            denom = 1.0 + np.einsum("md,md->m", av, v)
            self.a_inv[k] = a - np.einsum("md,me->mde", av, av) / denom[:, None, None]


class LinUCB(LinearBandit):
    """LinUCB (Li, Chu, Langford & Schapire 2010, "A Contextual-Bandit Approach to
    Personalized News Article Recommendation"): score ``theta . x + alpha * sqrt(x^T A^-1
    x)``; the K highest scores form the slate. ``model="disjoint"`` is the paper's
    Algorithm 1; ``model="shared"`` puts the parameters on users and the context on items."""

    name = "linucb"

    def __init__(self, dim: int, slate_size: int, alpha: float = 1.0, model: str = "shared",
                 scope: str = "user", num_items: int | None = None,
                 feature_key: str = "candidate_features", context_key: str = "user_profile",
                 covariance: str = "full", ridge: float = 1.0, feedback: str = "slate",
                 signal: str = "clicked", seed: int | None = 0) -> None:
        self.alpha = check_float(alpha, f"{type(self).__name__}.alpha", 0.0)
        super().__init__(dim, slate_size, model, scope, num_items, feature_key, context_key,
                         covariance, ridge, feedback, signal, seed)

    def scores(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> np.ndarray:
        """The UCB score of every candidate ``(N, C)``."""
        mean, var = self._mean_var(*self._contexts(obs, info))
        return mean + self.alpha * np.sqrt(np.maximum(var, 0.0))

    #: the scores it ranks by, for re-rankers (:class:`~recarena.agents.base.ScoresCandidates`)
    candidate_scores = scores

    def recommend(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> np.ndarray:
        scores = self.scores(obs, info)
        self._chose_ranking(scores)
        return rank_random_ties(scores, self.slate_size, self._rng)


class DiagLinUCB(LinUCB):
    """Diag-LinUCB (Yi et al. 2023, "Online Matching: A Real-time Bandit System for
    Large-scale Recommendations", RecSys): LinUCB with per-item models
    (``model="disjoint"``) whose covariance is kept diagonal, ``A_a = ridge + sum x*x``.
    Updates are per-item sums, so they are incremental and can be distributed (summed
    across shards); scoring costs O(d) per item instead of O(d^2)."""

    name = "diag_linucb"

    def __init__(self, dim: int, slate_size: int, alpha: float = 1.0, model: str = "disjoint",
                 scope: str = "shared", num_items: int | None = None,
                 feature_key: str = "candidate_features", context_key: str = "user_profile",
                 ridge: float = 1.0, feedback: str = "slate", signal: str = "clicked",
                 seed: int | None = 0) -> None:
        super().__init__(dim, slate_size, alpha, model, scope, num_items, feature_key,
                         context_key, "diag", ridge, feedback, signal, seed)


class LinTS(LinearBandit):
    """Linear Thompson sampling (Agrawal & Goyal 2013, "Thompson Sampling for Contextual
    Bandits with Linear Payoffs"): draw ``theta ~ N(A^-1 b, scale^2 A^-1)`` and rank by
    ``theta . x``. The shared model draws one ``theta`` per row; the disjoint model's items
    have independent posteriors, so each candidate's score is drawn directly. With
    ``in_slate=True`` every slate position gets its own draw (Eide et al. 2022's in-slate
    sampling), else one draw serves the whole slate."""

    name = "lin_ts"

    def __init__(self, dim: int, slate_size: int, scale: float = 1.0, in_slate: bool = False,
                 model: str = "shared", scope: str = "user", num_items: int | None = None,
                 feature_key: str = "candidate_features", context_key: str = "user_profile",
                 covariance: str = "full", ridge: float = 1.0, feedback: str = "slate",
                 signal: str = "clicked", seed: int | None = 0) -> None:
        self.scale = check_float(scale, "LinTS.scale", 0.0)
        if not isinstance(in_slate, bool):
            raise ConfigError("LinTS.in_slate", in_slate, "True or False")
        self.in_slate = in_slate
        super().__init__(dim, slate_size, model, scope, num_items, feature_key, context_key,
                         covariance, ridge, feedback, signal, seed)

    def _draw(self, x: np.ndarray, keys: np.ndarray) -> np.ndarray:
        rng = self._rng
        if self.model == "disjoint":
            mean, var = self._mean_var(x, keys)
            return mean + self.scale * np.sqrt(np.maximum(var, 0.0)) * rng.standard_normal(mean.shape)
        n = x.shape[0]
        z = rng.standard_normal((n, self.dim))
        if self.covariance == "diag":
            inv = 1.0 / self.a_diag[keys]
            theta = self.b[keys] * inv + self.scale * np.sqrt(inv) * z
        else:
            if self.rows.per_user:
                a_inv = self.a_inv[keys]
                chol = np.linalg.cholesky(a_inv)
                theta = np.einsum("nde,ne->nd", a_inv, self.b[keys]) + self.scale * np.einsum(
                    "nde,ne->nd", chol, z)
            else:
                chol = np.linalg.cholesky(self.a_inv[0])
                theta = self.a_inv[0] @ self.b[0] + self.scale * z @ chol.T
        return np.einsum("ncd,nd->nc", x, theta)

    def recommend(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> np.ndarray:
        self._chose_unknown()  # a posterior draw: no closed-form propensity
        x, keys = self._contexts(obs, info)
        if not self.in_slate:
            return rank_random_ties(self._draw(x, keys), self.slate_size, self._rng)
        n = x.shape[0]
        rows = np.arange(n)
        slates = np.empty((n, self.slate_size), dtype=np.int64)
        taken = None
        for k in range(self.slate_size):
            draw = self._draw(x, keys)
            if taken is None:
                taken = np.zeros(draw.shape, dtype=bool)
            pick = np.argmax(np.where(taken, -np.inf, draw), axis=1)
            slates[:, k] = pick
            taken[rows, pick] = True
        return slates
