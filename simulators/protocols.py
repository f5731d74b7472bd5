"""Protocols of the simulated world: what the slate world asks of its parts.

A :class:`~recarena.simulators.world.SlateWorld` and its
:class:`~recarena.simulators.users.model.UserModel` call their parts only through these
protocols, so a part written elsewhere (a choice model fitted to logs, a candidate source
reading a live index, a batch of users whose clicks come from an external service) plugs in
without deriving from recarena's classes. They are runtime-checkable: the world and the
user model check ``isinstance(part, Protocol)`` when built and raise a
:class:`~recarena.errors.ConfigError` naming the missing methods.

Shapes: N users, C candidates, K slate size, d features.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from recarena.errors import ConfigError
from recarena.simulators.records import ChoiceOutcome, Items, UserBatch

__all__ = [
    "AnalyticChoiceModel",
    "CandidateSource",
    "ChoiceModel",
    "InterestDynamics",
    "SignalModel",
    "check_protocol",
]


@runtime_checkable
class ChoiceModel(Protocol):
    """Turns per-position scores of a batch of slates into clicks. An optional ``link``
    (scores -> attraction probabilities) adds ``attraction`` to the envs' oracle."""

    def sample(self, scores: np.ndarray, rng: np.random.Generator) -> ChoiceOutcome:
        """Clicks and examined positions, bool ``(N, K)`` each, for ``scores`` ``(N, K)``
        (position 0 is the top). All randomness from ``rng``."""
        ...


@runtime_checkable
class AnalyticChoiceModel(ChoiceModel, Protocol):
    """A choice model whose click-pattern probabilities are known in closed form (the
    statistical tests and the exact oracles use them)."""

    def pattern_probabilities(self, scores: np.ndarray) -> np.ndarray:
        """Probability of every click pattern, ``(N, 2**K)``; pattern ``b`` has position
        ``k`` clicked when bit ``k`` of ``b`` is set."""
        ...


@runtime_checkable
class CandidateSource(Protocol):
    """Produces the candidate set each user sees at each step.

    Optional members the world uses when present: ``generative`` (True: every step brings
    new items, so the world draws several steps at once through ``sample_steps(steps, n,
    rng, first_id)``), ``onehot_topics`` (the features are the one-hot topic: a faster
    affinity) and ``catalog`` (a fixed corpus: its ``size`` is the number of item ids that
    id-based policies need)."""

    num_candidates: int
    feature_dim: int
    num_topics: int

    def sample(self, n: int, rng: np.random.Generator, first_id: int = 0) -> Items:
        """Candidates for ``n`` users, :class:`Items` of shape ``(n, num_candidates)``;
        new items number their ids from ``first_id``."""
        ...

    def feature_bounds(self) -> tuple[float, float]:
        """Lower and upper bound of every feature value (the observation space)."""
        ...

    def quality_bounds(self) -> tuple[float, float]:
        """Lower and upper bound of item quality."""
        ...

    def max_length(self) -> float:
        """Upper bound of an item's length in minutes."""
        ...


@runtime_checkable
class InterestDynamics(Protocol):
    """How consumption moves users' interests (``UserModel.interest_dynamics``)."""

    def update(self, state: UserBatch, items: Items, clicked: np.ndarray,
               rng: np.random.Generator, onehot: bool = False) -> None:
        """Change ``state.interests`` in place after the clicks ``clicked`` ``(N, K)`` on
        ``items``; ``onehot``: the features are the one-hot topics."""
        ...


@runtime_checkable
class SignalModel(Protocol):
    """The response signals beyond the click (``UserModel.signals``). Optional attributes
    ``like``, ``share``, ``follow`` (``None`` when not modelled) choose which signals the
    observation shows."""

    def sample(self, items: Items, clicked: np.ndarray, scores: np.ndarray,
               budget: np.ndarray | None, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(watch_time, liked, shared, followed)`` ``(N, K)`` for the clicks; watch time
        in minutes, 0 where not clicked, at most ``budget`` where one is given."""
        ...


def check_protocol(obj: Any, protocol: type, name: str) -> None:
    """Raise :class:`ConfigError` naming ``name`` and the members ``obj`` lacks unless it
    provides ``protocol``."""
    if isinstance(obj, protocol):
        return
    members = getattr(protocol, "__protocol_attrs__", None)
    if members is None:  # Python < 3.12 keeps them behind a private helper
        import typing

        members = typing._get_protocol_attrs(protocol)  # type: ignore[attr-defined]
    missing = sorted(m for m in members if not m.startswith("_") and not hasattr(obj, m))
    raise ConfigError(name, obj, f"a {protocol.__name__} (recarena.simulators.protocols)"
                      + (f"; it lacks {', '.join(missing)}" if missing else ""))
