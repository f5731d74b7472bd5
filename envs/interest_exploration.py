"""RecSim's interest exploration environment (``recarena/InterestExploration-v0``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces

from recarena.envs.base import CoreEnv
from recarena.envs.core import EnvConfig, EnvCore
from recarena.errors import ConfigError
from recarena.simulators.interest_exploration import (
    ExplorationStep,
    ExplorationUsers,
    ExplorationWorld,
    TopicDocuments,
)
from recarena.validation import check_int

__all__ = ["InterestExplorationConfig", "InterestExplorationCore", "InterestExplorationEnv"]



@dataclass(frozen=True)
class InterestExplorationConfig(EnvConfig):
    """``users`` (:class:`ExplorationUsers`), ``documents`` (:class:`TopicDocuments`),
    ``num_candidates`` (10), ``slate_size`` (2) and ``horizon`` (100 steps: RecSim's user
    never leaves, so an episode needs a length)."""

    users: ExplorationUsers = field(default_factory=ExplorationUsers)
    documents: TopicDocuments = field(default_factory=TopicDocuments)
    num_candidates: int = 10
    slate_size: int = 2
    horizon: int | None = 100

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.users, ExplorationUsers):
            raise ConfigError("InterestExplorationConfig.users", self.users, "an ExplorationUsers")
        if not isinstance(self.documents, TopicDocuments):
            raise ConfigError("InterestExplorationConfig.documents", self.documents,
                              "a TopicDocuments")
        check_int(self.num_candidates, "InterestExplorationConfig.num_candidates", 1)
        check_int(self.slate_size, "InterestExplorationConfig.slate_size", 1, self.num_candidates)
        if self.horizon is None:
            raise ConfigError("InterestExplorationConfig.horizon", None,
                              "an int >= 1 (the users never leave, so episodes would never end)")
        if self.users.num_topics != self.documents.num_topics:
            raise ConfigError("InterestExplorationConfig.users.affinity_mean",
                              self.users.affinity_mean,
                              f"one column per document topic ({self.documents.num_topics})")


class InterestExplorationCore(EnvCore):
    """Batched observations, rewards and oracle of :class:`InterestExplorationEnv`."""

    scalar_oracle = ("user_type",)

    def __init__(self, config: InterestExplorationConfig) -> None:
        c, k, t = config.num_candidates, config.slate_size, config.documents.num_topics
        docs = config.documents
        #: observed qualities are clipped at six standard deviations above the largest
        #: topic mean on the log scale (a 1e-9 event), so the Box is bounded
        self.max_quality = float(np.exp(max(docs.quality_mean) + 6.0 * max(docs.quality_stddev)))
        space = spaces.Dict({
            "candidate_topic": spaces.MultiDiscrete(np.full(c, t)),
            "candidate_quality": spaces.Box(0.0, self.max_quality, (c,), np.float32),
            "response_click": spaces.MultiBinary(k),
            "response_topic": spaces.MultiDiscrete(np.full(k, t)),
            "response_quality": spaces.Box(0.0, self.max_quality, (k,), np.float32),
        })
        world = ExplorationWorld(config.users, config.documents, c, k)
        super().__init__(config, world, c, k, space)

    def slate_info(self, out: ExplorationStep) -> dict[str, np.ndarray]:
        return {"slate_topics": out.topic}

    def observe(self, out: ExplorationStep | None) -> dict[str, np.ndarray]:
        cands = self.world.candidates if out is None else out.candidates
        n, k = self.world.state.size, self.slate_size
        obs = {"candidate_topic": cands.topic.copy(),
               "candidate_quality": np.minimum(cands.quality, self.max_quality).astype(np.float32)}
        if out is None:
            obs["response_click"] = np.zeros((n, k), np.int8)
            obs["response_topic"] = np.zeros((n, k), np.int64)
            obs["response_quality"] = np.zeros((n, k), np.float32)
        else:
            obs["response_click"] = out.response.clicked.astype(np.int8)
            obs["response_topic"] = out.topic.copy()
            obs["response_quality"] = np.minimum(out.quality, self.max_quality).astype(np.float32)
        return obs

    def rewards(self, out: ExplorationStep) -> np.ndarray:
        return out.response.clicked.sum(axis=1).astype(np.float64)

    def item_rewards(self, response: Any, info: dict[str, Any]) -> np.ndarray:
        """The item's click."""
        return np.asarray(response.clicked, dtype=np.float64)

    def oracle(self) -> dict[str, np.ndarray]:
        state = self.world.state
        return {"scores": self.world.candidate_scores(), "user_type": state.user_type.copy(),
                "affinity": state.affinity.copy()}


class InterestExplorationEnv(CoreEnv):
    """RecSim's interest exploration environment (``recarena/InterestExploration-v0``).

    Ie et al. 2019, "RecSim: A Configurable Simulation Platform for Recommender Systems";
    the ``interest_exploration`` environment with RecSim's parameters as defaults (see
    :mod:`recarena.simulators.interest_exploration` for the model). Users of a hidden type
    have static affinities for two topics. The rarer topic has the higher production
    quality and is what the majority type likes, so a myopic policy that shows
    high-quality documents serves the majority and never learns what the minority type
    likes: exploring a user's interests pays.

    **Action space**: ``SlateSpace(10, 2)``.

    **Observation space** (``Dict``; RecSim's user observation is empty):

    * ``candidate_topic``: ``MultiDiscrete([2] * 10)``; ``candidate_quality``:
      ``Box(0, q_max, (10,))``, the candidates' production quality;
    * ``response_click``: ``MultiBinary(2)``; ``response_topic``: ``MultiDiscrete([2, 2])``;
      ``response_quality``: ``Box(0, q_max, (2,))``: the last slate's clicks and documents,
      as RecSim's ``IEResponse`` reports them (zeros at reset).

    RecSim's quality Box is unbounded; ours ends at ``q_max = exp(max mean + 6 max stddev)``
    (4.06 by default) and observed qualities are clipped there, a 1e-9 event.

    **Dynamics**: ``P(click k) = exp(g[topic_k] + f_k) / (exp(5) + sum_j exp(g[topic_j] + f_j))``;
    the user's state never changes.

    **Reward**: the number of clicks (0 or 1).

    **Episode end**: ``truncated`` after ``horizon`` (100) steps; RecSim's user is never
    terminal, so the horizon is a recarena decision and an argument.

    **Info**: ``response``, ``slate_item_ids``, and ``oracle``: ``scores`` (``(C,)``, the
    user's true score of each candidate), ``user_type`` and ``affinity`` ``(T,)``.

    **Arguments**: ``num_candidates`` (10), ``slate_size`` (2), ``horizon`` (100),
    ``users`` / ``documents`` or any of their fields as keywords (``type_probs``,
    ``affinity_mean``, ``affinity_stddev``, ``no_click_score``, ``topic_probs``,
    ``quality_mean``, ``quality_stddev``), ``render_mode``.

    **Differences from RecSim**: one seeded generator split into streams (RecSim's choice
    model draws from the global ``np.random``); the reset observation holds zero responses.

    **Version history**: v0: initial version.

    >>> import gymnasium as gym, recarena
    >>> env = gym.make("recarena/InterestExploration-v0")
    >>> obs, info = env.reset(seed=0)
    >>> obs["candidate_topic"].shape, info["oracle"]["affinity"].shape
    ((10,), (2,))
    """

    core_class = InterestExplorationCore
    config_class = InterestExplorationConfig
    nested_configs = ("users", "documents")

