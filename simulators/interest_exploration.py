"""RecSim's interest exploration users and world, batched over N users.

Ie, Hsu, Mladenov, Jain, Narvekar, Wang, Wu, Boutilier 2019, "RecSim: A Configurable
Simulation Platform for Recommender Systems", the ``interest_exploration`` environment
(facts from RecSim's ``recsim/environments/interest_exploration.py``; the code is ours).

A correlated-arms exploration problem that shows popularity bias:

* documents belong to one of T topics, ``topic ~ Categorical(topic_probs)``, and have a
  production quality ``f ~ LogNormal(quality_mean[topic], quality_stddev[topic])``; by
  default topic 0 is 20% of the documents with high production quality and is the
  favourite of the majority user type (70%), topic 1 is 80% of the documents and the
  favourite of the minority type (30%);
* users belong to one of U types, ``type ~ Categorical(type_probs)``, and have a static,
  hidden affinity per topic ``g[t] ~ LogNormal(affinity_mean[type, t], affinity_stddev[type, t])``;
* the user scores a document ``g[topic] + f`` and picks at most one item of the slate by
  a multinomial logit with a no-click option of logit ``no_click_score`` (RecSim's
  ``MultinomialLogitChoiceModel`` with ``no_click_mass=5``);
* nothing changes over time: the state is static, so the only thing to learn about a
  user is their type. A myopic policy follows production quality and ignores the niche
  interests of the minority type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from recarena.errors import ConfigError
from recarena.simulators.choice import MultinomialLogitChoice
from recarena.simulators.records import Response
from recarena.simulators.world import ArrayState, ArrayWorld, take_rows
from recarena.validation import check_float, check_int

__all__ = [
    "ExplorationCandidates",
    "ExplorationState",
    "ExplorationStep",
    "ExplorationUsers",
    "ExplorationWorld",
    "TopicDocuments",
]


def _distribution(value: object, name: str) -> tuple[float, ...]:
    try:
        p = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ConfigError(name, value, "a sequence of probabilities summing to 1") from None
    if p.ndim != 1 or p.size == 0 or not np.all(np.isfinite(p)) or np.any(p < 0) \
            or abs(p.sum() - 1.0) > 1e-9:
        raise ConfigError(name, value, "a non-empty sequence of probabilities summing to 1")
    return tuple(float(x) for x in p)


def _matrix(value: object, name: str, shape: tuple[int, ...], low: float | None) -> tuple:
    try:
        m = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ConfigError(name, value, f"numbers of shape {shape}") from None
    if m.shape != shape or not np.all(np.isfinite(m)) or (low is not None and np.any(m < low)):
        want = f"finite numbers of shape {shape}" + ("" if low is None else f", all >= {low}")
        raise ConfigError(name, value, want)
    return tuple(map(tuple, m)) if m.ndim == 2 else tuple(float(x) for x in m)


@dataclass(frozen=True)
class TopicDocuments:
    """RecSim's ``IETopicDocumentSampler``: topic probabilities and log-normal quality per
    topic (defaults: 2 topics, ``(0.2, 0.8)``, quality ``LogNormal((0.8, 0.2), 0.1)``)."""

    topic_probs: tuple[float, ...] = (0.2, 0.8)
    quality_mean: tuple[float, ...] = (0.8, 0.2)
    quality_stddev: tuple[float, ...] = (0.1, 0.1)

    def __post_init__(self) -> None:
        p = _distribution(self.topic_probs, "TopicDocuments.topic_probs")
        object.__setattr__(self, "topic_probs", p)
        object.__setattr__(self, "quality_mean",
                           _matrix(self.quality_mean, "TopicDocuments.quality_mean", (len(p),), None))
        object.__setattr__(self, "quality_stddev",
                           _matrix(self.quality_stddev, "TopicDocuments.quality_stddev", (len(p),), 0.0))

    @property
    def num_topics(self) -> int:
        return len(self.topic_probs)

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Topics (int64) and qualities (float64) of ``shape`` documents."""
        cum = np.cumsum(self.topic_probs)
        topic = np.minimum(np.searchsorted(cum, rng.random(shape), side="right"),
                           self.num_topics - 1).astype(np.int64)
        mean = np.asarray(self.quality_mean)[topic]
        std = np.asarray(self.quality_stddev)[topic]
        return topic, np.exp(mean + std * rng.standard_normal(shape))


@dataclass(frozen=True)
class ExplorationUsers:
    """RecSim's ``IEClusterUserSampler`` and ``IEUserModel``.

    Args:
        type_probs: probability of each user type (``(0.3, 0.7)``).
        affinity_mean, affinity_stddev: ``(U, T)`` log-normal parameters of the affinity of
            a user of each type for each topic (``((0.1, 0.7), (0.7, 0.1))`` and 0.1).
        no_click_score: the logit of not clicking (RecSim's ``no_click_mass``, 5).
    """

    type_probs: tuple[float, ...] = (0.3, 0.7)
    affinity_mean: tuple = ((0.1, 0.7), (0.7, 0.1))
    affinity_stddev: tuple = ((0.1, 0.1), (0.1, 0.1))
    no_click_score: float = 5.0

    def __post_init__(self) -> None:
        p = _distribution(self.type_probs, "ExplorationUsers.type_probs")
        object.__setattr__(self, "type_probs", p)
        try:
            t = np.asarray(self.affinity_mean, dtype=float).shape[-1]
        except (TypeError, ValueError, IndexError):
            raise ConfigError("ExplorationUsers.affinity_mean", self.affinity_mean,
                              "a (user types, topics) matrix") from None
        object.__setattr__(self, "affinity_mean", _matrix(
            self.affinity_mean, "ExplorationUsers.affinity_mean", (len(p), t), None))
        object.__setattr__(self, "affinity_stddev", _matrix(
            self.affinity_stddev, "ExplorationUsers.affinity_stddev", (len(p), t), 0.0))
        check_float(self.no_click_score, "ExplorationUsers.no_click_score")

    @property
    def num_topics(self) -> int:
        return len(self.affinity_mean[0])

    @property
    def choice(self) -> MultinomialLogitChoice:
        return MultinomialLogitChoice(temperature=1.0, no_click_score=self.no_click_score)

    def initial_state(self, n: int, rng: np.random.Generator) -> ExplorationState:
        cum = np.cumsum(self.type_probs)
        user_type = np.minimum(np.searchsorted(cum, rng.random(n), side="right"),
                               len(self.type_probs) - 1).astype(np.int64)
        mean = np.asarray(self.affinity_mean)[user_type]
        std = np.asarray(self.affinity_stddev)[user_type]
        affinity = np.exp(mean + std * rng.standard_normal(mean.shape))
        return ExplorationState(np.zeros(n, dtype=np.int64), user_type, affinity)

    def scores(self, state: ExplorationState, topic: np.ndarray, quality: np.ndarray) -> np.ndarray:
        """``g[topic] + f`` for documents ``(N, K)``."""
        return np.take_along_axis(state.affinity, topic, axis=1) + quality


@dataclass
class ExplorationState(ArrayState):
    """Users: ``user_type`` ``(N,)`` and static ``affinity`` ``(N, T)`` (both hidden)."""

    user_type: np.ndarray
    affinity: np.ndarray


class ExplorationCandidates(NamedTuple):
    """Candidates ``(N, C)``: ids, topics and production qualities."""

    item_id: np.ndarray
    topic: np.ndarray
    quality: np.ndarray


class ExplorationStep(NamedTuple):
    """One step: the shown items ``(N, K)``, the scores the user saw, the :class:`Response`
    (at most one click; every position examined; no other signal) and ``gone`` (never:
    RecSim's user has no terminal state).

    Like every world's step: ``steps`` ``(N,)`` (slates shown to the row's user, this one
    included) and ``candidates`` (the next step's)."""

    item_id: np.ndarray
    topic: np.ndarray
    quality: np.ndarray
    scores: np.ndarray
    response: Response
    gone: np.ndarray
    steps: np.ndarray
    candidates: ExplorationCandidates


class ExplorationWorld(ArrayWorld):
    """N :class:`ExplorationUsers` users, each facing ``num_candidates`` documents from
    :class:`TopicDocuments`, fresh every step (RecSim's ``resample_documents=True``)."""

    def __init__(self, users: ExplorationUsers, documents: TopicDocuments, num_candidates: int,
                 slate_size: int) -> None:
        super().__init__()
        if users.num_topics != documents.num_topics:
            raise ConfigError("ExplorationUsers.affinity_mean", users.affinity_mean,
                              f"one column per document topic ({documents.num_topics})")
        self.users = users
        self.documents = documents
        self._choice = users.choice
        self.num_candidates = check_int(num_candidates, "num_candidates", 1)
        self.slate_size = check_int(slate_size, "slate_size", 1, self.num_candidates)

    def sample_users(self, n: int, rng: np.random.Generator) -> ExplorationState:
        return self.users.initial_state(n, rng)

    def sample_candidates(self, n: int, rng: np.random.Generator,
                          first_id: int) -> tuple[ExplorationCandidates, int]:
        c = self.num_candidates
        ids = np.arange(first_id, first_id + n * c, dtype=np.int64).reshape(n, c)
        topic, quality = self.documents.sample((n, c), rng)
        return ExplorationCandidates(ids, topic, quality), n * c

    def candidate_scores(self) -> np.ndarray:
        """True scores ``(N, C)`` of the current candidates (privileged: oracles only)."""
        return self.users.scores(self.state, self.candidates.topic, self.candidates.quality)

    def step(self, slates: np.ndarray) -> ExplorationStep:
        """Show ``slates`` (``(N, K)`` candidate indices, already validated) and advance."""
        self.require_state()
        cands = self.candidates
        item_id = take_rows(cands.item_id, slates)
        topic = take_rows(cands.topic, slates)
        quality = take_rows(cands.quality, slates)
        scores = self.users.scores(self.state, topic, quality)
        outcome = self._choice.sample(scores, self._rngs[2])
        n, k = slates.shape
        none = np.zeros((n, k), dtype=bool)
        gone = np.zeros(n, dtype=bool)
        response = Response(outcome.clicked, outcome.examined, np.zeros((n, k)), none,
                            none.copy(), none.copy(), gone.copy())
        self.candidates = self.draw_candidates(n)
        return ExplorationStep(item_id, topic, quality, scores, response, gone, self.count_step(),
                               self.candidates)
