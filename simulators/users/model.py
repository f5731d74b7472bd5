"""A user model composed of interchangeable components, batched over N users."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recarena.errors import ConfigError
from recarena.simulators.choice import ProportionalChoice
from recarena.simulators.kernels import click_passes, constant, row_offsets
from recarena.simulators.protocols import (
    ChoiceModel,
    InterestDynamics,
    SignalModel,
    check_protocol,
)
from recarena.simulators.records import Items, Response, UserBatch
from recarena.simulators.users.interests import (
    EmpiricalInterests,
    FixedInterests,
    InterestEvolution,
    UniformInterests,
)
from recarena.simulators.users.novelty import NoveltySeeking
from recarena.simulators.users.retention import ReturnModel
from recarena.simulators.users.satiation import Satiation
from recarena.simulators.users.session import SatisfactionLeave, TimeBudget
from recarena.simulators.users.signals import ResponseSignals
from recarena.validation import check_float, check_int

__all__ = ["UserModel"]


@dataclass(frozen=True)
class UserModel:
    """Users as transition functions over a :class:`UserBatch` (RecSim's user model split
    into ``initial_state`` / ``respond`` / ``next_state``, RecSim NG style).

    The score of item ``i`` for user ``u`` is

        score = <interests_u, features_i>                        (affinity)
                - satiation.strength * s_u[topic_i]              (if ``satiation``)
                + novelty.weight * (2 p_u - 1) * novel_u(i)      (if ``novelty``)

    and the ``choice`` model turns the slate's scores into clicks. Each component is a
    constructor argument; ``None`` switches it off (its state stays zero and it draws no
    random numbers).

    Args:
        choice: click/choice model (see :mod:`recarena.simulators.choice`).
        interest_prior: distribution of initial interests.
        interest_dynamics: how consumption moves interests, or ``None`` (static interests).
        satiation: per-topic satiation, or ``None``.
        novelty: novelty-seeking propensity, or ``None``.
        budget: time budget (the user leaves when it runs out), or ``None``.
        satisfaction: satisfaction-collapse leave model, or ``None``.
        signals: watch time / like / share / follow models.
        history_length: H, the number of consumed items remembered (0: none, which skips
            the bookkeeping; novelty and history observations need H >= 1).
        clickbait: ``c``; adds ``-c * quality`` to every score, so that low-quality
            ("chocolate") items are more clickable, as in RecSim's long_term_satisfaction.
        retention: what happens between sessions (return gap, churn), or ``None`` (a
            session is the whole episode).
    """

    choice: ChoiceModel = field(default_factory=ProportionalChoice)
    interest_prior: UniformInterests | FixedInterests | EmpiricalInterests = field(default_factory=UniformInterests)
    interest_dynamics: InterestDynamics | None = field(default_factory=InterestEvolution)
    satiation: Satiation | None = None
    novelty: NoveltySeeking | None = None
    budget: TimeBudget | None = field(default_factory=TimeBudget)
    satisfaction: SatisfactionLeave | None = None
    signals: SignalModel = field(default_factory=ResponseSignals)
    history_length: int = 10
    clickbait: float = 0.0
    retention: ReturnModel | None = None

    def __post_init__(self) -> None:
        # the parts the world calls through a protocol: anything with the methods plugs in
        for name, protocol, optional in (("choice", ChoiceModel, False),
                                         ("interest_dynamics", InterestDynamics, True),
                                         ("signals", SignalModel, False)):
            value = getattr(self, name)
            if not (value is None and optional):
                check_protocol(value, protocol, f"UserModel.{name}")
        checks = (
            ("interest_prior", (UniformInterests, FixedInterests, EmpiricalInterests), False),
            ("satiation", (Satiation,), True),
            ("novelty", (NoveltySeeking,), True),
            ("budget", (TimeBudget,), True),
            ("satisfaction", (SatisfactionLeave,), True),
            ("retention", (ReturnModel,), True),
        )
        for name, types, optional in checks:
            value = getattr(self, name)
            if value is None and optional:
                continue
            if not isinstance(value, types):
                want = " or ".join(t.__name__ for t in types) + (" or None" if optional else "")
                raise ConfigError(f"UserModel.{name}", value, want)
        check_int(self.history_length, "UserModel.history_length", 0, 10_000)
        check_float(self.clickbait, "UserModel.clickbait", -10.0, 10.0)
        if self.retention is not None and self.budget is None and self.satisfaction is None:
            raise ConfigError("UserModel.retention", self.retention,
                              "None unless a budget or satisfaction model ends sessions")
        if self.retention is not None and self.budget is not None and self.budget.initial_log_std:
            raise ConfigError("UserModel.budget.initial_log_std", self.budget.initial_log_std,
                              "0 with a retention model (every session restarts at `initial`)")
        if self.novelty is not None and self.history_length == 0:
            raise ConfigError("UserModel.history_length", 0,
                              "history_length >= 1 when novelty is modelled (novelty is judged "
                              "against the consumed history)")

    # ----------------------------------------------------------------- transitions
    def initial_state(self, n: int, feature_dim: int, num_topics: int,
                      rng: np.random.Generator) -> UserBatch:
        """Fresh state of ``n`` users."""
        state = UserBatch.zeros(n, feature_dim, num_topics, self.history_length)
        state.interests[:] = self.interest_prior.sample(n, feature_dim, rng)
        if self.novelty is not None:
            self.novelty.init(state, rng)
        if self.budget is not None:
            self.budget.init(state, rng)
        if self.satisfaction is not None:
            self.satisfaction.init(state)
        if self.retention is not None:
            self.retention.init(state)
        return state

    def affinity(self, state: UserBatch, items: Items, onehot: bool = False) -> np.ndarray:
        """Raw affinity ``<interests, features>``, ``(N, K)``. With ``onehot=True`` the
        caller vouches that the features are the one-hot topics, and the inner product is
        the gather ``interests[u, topic]`` (the same numbers, without the d-wide product)."""
        if onehot:
            n, d = state.interests.shape
            return state.interests.take(row_offsets(n, d, items.topic.shape[1]) + items.topic)
        return np.matmul(items.features, state.interests[:, :, None])[:, :, 0]

    def scores(self, state: UserBatch, items: Items, onehot: bool = False) -> np.ndarray:
        """The scores the choice model sees, ``(N, K)`` (``onehot``: see :meth:`affinity`)."""
        if onehot:  # the gather of :meth:`affinity`, without the extra call
            n, d = state.interests.shape
            s = state.interests.take(row_offsets(n, d, items.topic.shape[1]) + items.topic)
        else:
            s = self.affinity(state, items)
        if self.clickbait:
            s -= self.clickbait * items.quality
        if self.satiation is not None:
            s -= self.satiation.penalty(state, items)
        if self.novelty is not None:
            s += self.novelty.bonus(state, items)
        return s

    def respond(self, state: UserBatch, items: Items, rng: np.random.Generator,
                scores: np.ndarray | None = None) -> Response:
        """The users' response to slates ``items`` (``(N, K)``). ``left`` is all False here:
        leaving is decided by :meth:`has_left` after :meth:`next_state`."""
        if scores is None:
            scores = self.scores(state, items)
        return Response(*self.respond_parts(state, items, rng, scores),
                        constant(False, (state.size,), bool))  # SlateWorld.step fills it

    def respond_parts(self, state: UserBatch, items: Items, rng: np.random.Generator,
                      scores: np.ndarray) -> tuple[np.ndarray, ...]:
        """The fields of :meth:`respond`'s :class:`Response` but ``left``, as a tuple."""
        clicked, examined = self.choice.sample(scores, rng)
        watch, liked, shared, followed = self.signals.sample(
            items, clicked, scores, state.budget if self.budget is not None else None, rng)
        return clicked, examined, watch, liked, shared, followed

    def next_state(self, state: UserBatch, items: Items, clicked: np.ndarray,
                   watch_time: np.ndarray, rng: np.random.Generator,
                   scores: np.ndarray | None = None, onehot: bool = False) -> None:
        """Advance ``state`` in place after the clicks ``clicked`` (and minutes watched
        ``watch_time``), both ``(N, K)``, on ``items``.

        ``scores`` must be the pre-response scores (RecSim computes the utility that
        refunds the budget before it moves the interests); ``onehot``: see :meth:`affinity`."""
        if scores is None:
            scores = self.scores(state, items, onehot)
        if self.budget is not None:
            self.budget.update(state, items, clicked, watch_time, scores)
        if self.satisfaction is not None:
            self.satisfaction.update(state, items, clicked, scores)
        if self.interest_dynamics is not None:
            self.interest_dynamics.update(state, items, clicked, rng, onehot)
        if self.satiation is not None:
            self.satiation.update(state, items, clicked)
        if self.history_length:
            self._remember(state, items, clicked, watch_time)
        if self.retention is not None:
            self.retention.consume(state, items, clicked)

    def has_left(self, state: UserBatch) -> np.ndarray:
        """``(N,)`` bool: the users whose session is over."""
        if self.budget is not None:
            left = self.budget.has_left(state)
            if self.satisfaction is not None:
                left |= self.satisfaction.has_left(state)
            return left
        if self.satisfaction is not None:
            return self.satisfaction.has_left(state)
        return np.zeros(state.size, dtype=bool)

    def start_session(self, state: UserBatch, mask: np.ndarray, rng: np.random.Generator) -> None:
        """Begin a new session for the users in ``mask`` (budget, satisfaction, intent)."""
        if self.budget is not None:
            state.budget[mask] = self.budget.initial
        if self.satisfaction is not None:
            state.satisfaction[mask] = self.satisfaction.initial
        if self.novelty is not None:
            self.novelty.start_session(state, mask, rng)
        state.left[mask] = False

    @staticmethod
    def _remember(state: UserBatch, items: Items, clicked: np.ndarray, watch: np.ndarray) -> None:
        """Append clicked items to each user's ring buffer, in slate order."""
        h = state.history_item.shape[1]
        for rows, cols in click_passes(clicked):
            slot = state.num_consumed[rows] % h
            state.history_item[rows, slot] = items.item_id[rows, cols]
            state.history_topic[rows, slot] = items.topic[rows, cols]
            state.history_features[rows, slot] = items.features[rows, cols]
            state.history_watch[rows, slot] = watch[rows, cols]
            state.num_consumed[rows] += 1
