"""The Policy protocol every recommender policy follows."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Policy"]


@runtime_checkable
class Policy(Protocol):
    """A recommender policy.

    ``recommend`` takes a batch of observations (each entry of ``obs`` has a leading axis of
    N users) and returns slates ``(N, K)`` of candidate indices. Policies with
    ``is_oracle = True`` read privileged truth from ``info["oracle"]``; the evaluation loop
    hands ``info["oracle"]`` to no other policy.
    """

    name: str
    is_oracle: bool

    def recommend(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> np.ndarray:
        ...

    def reset(self) -> None:
        ...
