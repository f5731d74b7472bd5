"""Initial interests and interest evolution."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recarena.errors import ConfigError
from recarena.simulators.kernels import click_passes, click_positions, row_offsets
from recarena.simulators.records import Items, UserBatch
from recarena.validation import check_choice, check_float, check_float_vector

__all__ = ["EmpiricalInterests", "FixedInterests", "InterestEvolution", "UniformInterests"]


@dataclass(frozen=True)
class UniformInterests:
    """Interests drawn ``Uniform(low, high)`` per feature (RecSim: ``[-1, 1]``)."""

    low: float = -1.0
    high: float = 1.0

    def __post_init__(self) -> None:
        check_float(self.low, "UniformInterests.low", -1.0, 1.0)
        check_float(self.high, "UniformInterests.high", -1.0, 1.0)
        if self.high <= self.low:
            raise ConfigError("UniformInterests.high", self.high, f"a value > low ({self.low})")

    def sample(self, n: int, feature_dim: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self.low, self.high, size=(n, feature_dim))


@dataclass(frozen=True, eq=False)
class EmpiricalInterests:
    """Interests of fitted users: each new user is, with probability ``1 - new_user_share``,
    a row of ``table`` drawn uniformly (a real user's fitted profile), and otherwise a new
    user drawn from ``N(mean, cov)`` of the table's rows (the fitted population
    distribution; constant columns stay constant).

    Args:
        table: ``(U, d)`` fitted interest vectors (e.g. matrix-factorisation user factors).
        new_user_share: share of users drawn from the population distribution.
    """

    table: np.ndarray
    new_user_share: float = 0.0

    def __post_init__(self) -> None:
        arr = np.array(self.table, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[0] < 2 or not np.all(np.isfinite(arr)):
            raise ConfigError("EmpiricalInterests.table", self.table,
                              "a finite 2-D array of at least 2 users")
        arr.setflags(write=False)
        object.__setattr__(self, "table", arr)
        check_float(self.new_user_share, "EmpiricalInterests.new_user_share", 0.0, 1.0)
        mean = arr.mean(axis=0)
        cov = np.cov(arr, rowvar=False).reshape(arr.shape[1], arr.shape[1])
        # a square root of the covariance (eigh: also for singular, constant columns)
        w, v = np.linalg.eigh(cov)
        root = v * np.sqrt(np.clip(w, 0.0, None))
        object.__setattr__(self, "_mean", mean)
        object.__setattr__(self, "_root", root)

    def sample(self, n: int, feature_dim: int, rng: np.random.Generator) -> np.ndarray:
        if self.table.shape[1] != feature_dim:
            raise ConfigError("EmpiricalInterests.table", self.table,
                              f"{feature_dim} columns, one per item feature")
        out = self.table[rng.integers(0, self.table.shape[0], n)]
        if self.new_user_share > 0.0:
            new = rng.random(n) < self.new_user_share
            z = rng.standard_normal((int(new.sum()), feature_dim))
            out[new] = self._mean + z @ self._root.T
        return out


@dataclass(frozen=True)
class FixedInterests:
    """The same interest vector for every user, optionally permuted per user.

    Used by ``Cascade-v0``, whose "interests" are the attraction probabilities of the L
    items; ``shuffle=True`` hides which item is best behind a random permutation per
    episode.
    """

    values: tuple[float, ...]
    shuffle: bool = False

    def __post_init__(self) -> None:
        arr = check_float_vector(self.values, "FixedInterests.values", low=-1.0, high=1.0)
        if arr.size == 0:
            raise ConfigError("FixedInterests.values", self.values, "at least one value")
        object.__setattr__(self, "values", tuple(float(v) for v in arr))

    def sample(self, n: int, feature_dim: int, rng: np.random.Generator) -> np.ndarray:
        if len(self.values) != feature_dim:
            raise ConfigError("FixedInterests.values", self.values,
                              f"{feature_dim} values, one per item feature")
        out = np.tile(np.asarray(self.values), (n, 1))
        if self.shuffle:
            out = rng.permuted(out, axis=1)
        return out


@dataclass(frozen=True)
class InterestEvolution:
    """Interests move toward (or stochastically away from) consumed items.

    RecSim's interest_evolution user model (Ie et al. 2019, ``IEvUserModel.update_state``).
    For a consumed item with features ``f`` and a user with interests ``u``:

        alpha(u) = y0 - (y0 / x0) * |u|          (per feature; smaller for strong interests)
        delta    = alpha(u) * f * (f - u)
        P(toward) = sum((u + 1) / 2 * f)         (the user's interest in the item, in [0, 1])
        u <- clip(u + delta, -1, 1) with probability P(toward), else clip(u - delta, -1, 1)

    ``direction="toward"`` always moves toward the item (a deterministic drift, the
    homogenising feedback loop of Chaney et al. 2018). Every consumed (clicked) item in the
    slate applies in position order.

    Args:
        alpha_x_intercept: ``x0`` (RecSim: 1.0).
        alpha_y_intercept: ``y0``, the largest step size (RecSim: 0.3).
        direction: ``"stochastic"`` (RecSim) or ``"toward"``.
    """

    alpha_x_intercept: float = 1.0
    alpha_y_intercept: float = 0.3
    direction: str = "stochastic"

    def __post_init__(self) -> None:
        check_float(self.alpha_x_intercept, "InterestEvolution.alpha_x_intercept", 0.0,
                    low_open=True)
        check_float(self.alpha_y_intercept, "InterestEvolution.alpha_y_intercept", 0.0, 1.0)
        check_choice(self.direction, "InterestEvolution.direction", ("stochastic", "toward"))

    def update(self, state: UserBatch, items: Items, clicked: np.ndarray,
               rng: np.random.Generator, onehot: bool = False) -> None:
        """Move the interests of users who clicked. ``onehot=True`` (the features are the
        one-hot topics) touches only the clicked topic's coordinate, which is where the
        rule's ``delta`` is non-zero: the same numbers, d times less work."""
        # One uniform per position and user, drawn whether or not they clicked, so the
        # stream does not depend on the policy (common random numbers across policies).
        flips = rng.random(clicked.shape)
        y0 = self.alpha_y_intercept
        slope = y0 / self.alpha_x_intercept
        if onehot:
            n, d = state.interests.shape
            flat_interests = state.interests.reshape(-1)
            for pos in click_positions(clicked):
                # pos: flat positions in the (N, K) slate; at: the clicked topics' flat
                # positions in the (N, d) interests
                at = (row_offsets(n, d, clicked.shape[1]) + items.topic).take(pos)
                u = flat_interests.take(at)
                # the rule with f = 1 at the clicked topic: alpha(u) * (1 - u)
                delta = (1.0 - u) * (y0 - slope * np.abs(u))
                if self.direction == "stochastic":  # away where the coin says so
                    away = flips.take(pos) >= 0.5 * (u + 1.0)
                    np.negative(delta, out=delta, where=away)
                u = (u + delta).clip(-1.0, 1.0)
                flat_interests.put(at, u)
            return
        for rows, cols in click_passes(clicked):
            u = state.interests[rows]
            f = items.features[rows, cols]
            delta = (y0 - slope * np.abs(u)) * f * (f - u)
            if self.direction == "stochastic":
                # P(toward) = sum((u + 1) / 2 * f); move away where the coin says so
                p_toward = 0.5 * np.add.reduce((u + 1.0) * f, axis=1)
                delta[flips[rows, cols] >= p_toward] *= -1.0
            u += delta
            np.minimum(np.maximum(u, -1.0, out=u), 1.0, out=u)
            state.interests[rows] = u
