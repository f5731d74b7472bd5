"""Initial interests and interest evolution."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recarena.errors import ConfigError
from recarena.simulators.core import Items, UserBatch, as_float_tuple, click_passes
from recarena.validation import check_choice, check_float

__all__ = ["FixedInterests", "InterestEvolution", "UniformInterests"]


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
        arr = as_float_tuple(self.values, "FixedInterests.values", low=-1.0, high=1.0)
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
        slope = self.alpha_y_intercept / self.alpha_x_intercept
        if onehot:
            d = state.interests.shape[1]
            flat_interests = state.interests.reshape(-1)
            for rows, cols in click_passes(clicked):
                at = rows * d + items.topic[rows, cols]
                u = flat_interests[at]
                delta = (self.alpha_y_intercept - slope * np.abs(u)) * (1.0 - u)
                if self.direction == "stochastic":
                    delta[flips[rows, cols] >= 0.5 * (u + 1.0)] *= -1.0
                u += delta
                flat_interests[at] = np.minimum(np.maximum(u, -1.0), 1.0)
            return
        for rows, cols in click_passes(clicked):
            u = state.interests[rows]
            f = items.features[rows, cols]
            delta = (self.alpha_y_intercept - slope * np.abs(u)) * f * (f - u)
            if self.direction == "stochastic":
                # P(toward) = sum((u + 1) / 2 * f); move away where the coin says so
                p_toward = 0.5 * np.add.reduce((u + 1.0) * f, axis=1)
                delta[flips[rows, cols] >= p_toward] *= -1.0
            u += delta
            np.minimum(np.maximum(u, -1.0, out=u), 1.0, out=u)
            state.interests[rows] = u
