"""Hand-written heuristics that rank candidates by one observed feature.

They read only the observation (no ``info["oracle"]``), so they are honest baselines:
for example RecSim's long-term satisfaction env's "choc first" (most clickbaity on top)
and "kale first" policies, a constant clickbait diet, or interest exploration's myopic
"highest production quality first" policy, whose popularity bias that env exists to show.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recarena.agents.base import ReportsPropensity
from recarena.errors import ConfigError
from recarena.validation import check_float, check_int

__all__ = ["FeatureSortPolicy", "FeatureTargetPolicy"]


def _feature(obs: dict[str, np.ndarray], key: str, owner: str) -> np.ndarray:
    if not isinstance(obs, dict) or key not in obs:
        raise ConfigError(f"{owner}.recommend obs", sorted(obs) if isinstance(obs, dict) else obs,
                          f"an observation with a {key!r} entry of shape (N, C)")
    x = np.asarray(obs[key], dtype=np.float64)
    return x[None, :] if x.ndim == 1 else x


class FeatureSortPolicy(ReportsPropensity):
    """The K candidates with the highest (``descending=True``) or lowest value of the
    observation entry ``key`` (``(N, C)``), best first; ties keep candidate order.
    Deterministic (propensity 1 for the slate it chose)."""

    is_oracle = False

    def __init__(self, key: str, slate_size: int, descending: bool = True) -> None:
        if not isinstance(key, str) or not key:
            raise ConfigError("FeatureSortPolicy.key", key, "an observation key (str)")
        self.key = key
        self.slate_size = check_int(slate_size, "FeatureSortPolicy.slate_size", 1)
        if not isinstance(descending, bool):
            raise ConfigError("FeatureSortPolicy.descending", descending, "True or False")
        self.descending = descending
        self.name = f"{'max' if descending else 'min'}_{key}"

    def reset(self) -> None:
        self._chose_unknown()

    def candidate_scores(self, obs: dict[str, np.ndarray],
                         info: dict[str, Any] | None = None) -> np.ndarray:
        """The feature (negated when ascending) of every candidate ``(N, C)``."""
        x = _feature(obs, self.key, "FeatureSortPolicy")
        return x if self.descending else -x

    def recommend(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> np.ndarray:
        slates = np.argsort(-self.candidate_scores(obs, info), axis=1,
                            kind="stable")[:, : self.slate_size]
        self._chose_fixed(slates)
        return slates


class FeatureTargetPolicy(ReportsPropensity):
    """The K candidates whose observation entry ``key`` is closest to ``target``, closest
    first: a constant diet, e.g. ``FeatureTargetPolicy("candidate_clickbait", 0.3, K)``.
    Deterministic (propensity 1 for the slate it chose)."""

    is_oracle = False

    def __init__(self, key: str, target: float, slate_size: int) -> None:
        if not isinstance(key, str) or not key:
            raise ConfigError("FeatureTargetPolicy.key", key, "an observation key (str)")
        self.key = key
        self.target = check_float(target, "FeatureTargetPolicy.target")
        self.slate_size = check_int(slate_size, "FeatureTargetPolicy.slate_size", 1)
        self.name = f"target_{key}_{self.target:g}"

    def reset(self) -> None:
        self._chose_unknown()

    def recommend(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> np.ndarray:
        x = _feature(obs, self.key, "FeatureTargetPolicy")
        slates = np.argsort(np.abs(x - self.target), axis=1, kind="stable")[:, : self.slate_size]
        self._chose_fixed(slates)
        return slates
