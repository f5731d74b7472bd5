"""A short-video feed with several feedback signals, for constrained RL (``recarena/ShortVideo-v0``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from gymnasium import spaces

from recarena.envs.base import CoreEnv
from recarena.envs.core import EnvConfig, EnvCore
from recarena.errors import ConfigError
from recarena.simulators.short_video import (
    SIGNALS,
    ShortVideoStep,
    ShortVideoUsers,
    ShortVideoWorld,
    VideoCorpus,
    make_video_corpus,
)
from recarena.validation import check_float, check_int

__all__ = ["COST_SIGNALS", "ShortVideoConfig", "ShortVideoCore", "ShortVideoEnv", "default_video_corpus"]

#: Signals that can be constraints; ``skip`` is a cost as it is, the others enter negated.
COST_SIGNALS = ("like", "share", "comment", "follow", "gift", "skip")
_MAX_DURATION = 180.0


@lru_cache(maxsize=2)
def default_video_corpus() -> VideoCorpus:
    """The fixed corpus of ``ShortVideo-v0``: 2,000 videos, 20 topics, 50 creators, d = 16."""
    return make_video_corpus()


@dataclass(frozen=True)
class ShortVideoConfig(EnvConfig):
    """Everything that defines a short-video env. Invalid values raise ``ConfigError``.

    Attributes:
        users: the users' parameters (:class:`ShortVideoUsers`).
        corpus: the videos (:func:`make_video_corpus`); ``None``: the default corpus.
        num_candidates: C, videos offered per request (20).
        slate_size: K, videos on a feed page, played top-down (1: one video per request,
            as in Two-Stage Constrained Actor-Critic's setting).
        reward_weights: reward = sum over signals of weight * (signal summed over the
            page); keys from ``watch_time`` (seconds), ``like``, ``share``, ``comment``,
            ``follow``, ``gift``, ``skip``.
        cost_signals: the entries of ``info["costs"]`` (see :class:`ShortVideoEnv`).
        horizon: requests after which the episode is truncated, or ``None``.
    """

    users: ShortVideoUsers = field(default_factory=ShortVideoUsers)
    corpus: VideoCorpus | None = None
    num_candidates: int = 20
    slate_size: int = 1
    reward_weights: Mapping[str, float] = field(default_factory=lambda: {"watch_time": 1.0})
    cost_signals: tuple[str, ...] = ("like", "share", "comment", "follow")

    def __post_init__(self) -> None:
        super().__post_init__()
        name = "ShortVideoConfig"
        if not isinstance(self.users, ShortVideoUsers):
            raise ConfigError(f"{name}.users", self.users, "a ShortVideoUsers")
        if self.corpus is None:
            object.__setattr__(self, "corpus", default_video_corpus())
        if not isinstance(self.corpus, VideoCorpus):
            raise ConfigError(f"{name}.corpus", self.corpus, "a VideoCorpus from make_video_corpus")
        check_int(self.num_candidates, f"{name}.num_candidates", 1, self.corpus.size)
        check_int(self.slate_size, f"{name}.slate_size", 1, self.num_candidates)
        if not isinstance(self.reward_weights, Mapping) or not self.reward_weights:
            raise ConfigError(f"{name}.reward_weights", self.reward_weights,
                              "a non-empty mapping of signal name to weight")
        for key, weight in self.reward_weights.items():
            if key not in SIGNALS:
                raise ConfigError(f"{name}.reward_weights[{key!r}]", key, "one of " + ", ".join(SIGNALS))
            check_float(weight, f"{name}.reward_weights[{key!r}]")
        object.__setattr__(self, "reward_weights", dict(self.reward_weights))
        costs = (self.cost_signals,) if isinstance(self.cost_signals, str) else tuple(self.cost_signals)
        for key in costs:
            if key not in COST_SIGNALS:
                raise ConfigError(f"{name}.cost_signals", key, "names from " + ", ".join(COST_SIGNALS))
        object.__setattr__(self, "cost_signals", costs)


class ShortVideoCore(EnvCore):
    """Batched observations, rewards, signals, costs and oracle of :class:`ShortVideoEnv`."""

    user_keys = ("user_profile", "candidate_followed")
    scalar_oracle = ("budget",)

    def __init__(self, config: ShortVideoConfig) -> None:
        corpus = config.corpus
        assert corpus is not None
        c, k, d = config.num_candidates, config.slate_size, corpus.embedding.shape[1]
        f32 = np.float32
        parts: dict[str, spaces.Space] = {
            "candidate_features": spaces.Box(-1.0, 1.0, (c, d), f32),
            "candidate_duration": spaces.Box(0.0, _MAX_DURATION, (c,), f32),
            "candidate_followed": spaces.MultiBinary(c),
            "user_profile": spaces.Box(-1.0, 1.0, (d,), f32),
            "response_watch_ratio": spaces.Box(0.0, 1.0, (k,), f32),
        }
        for s in ("like", "share", "comment", "follow", "gift"):
            parts[f"response_{s}"] = spaces.MultiBinary(k)
        world = ShortVideoWorld(config.users, corpus, c, k)
        super().__init__(config, world, c, k, spaces.Dict(parts))
        self.reward_terms = tuple((SIGNALS.index(s), float(w))
                                  for s, w in config.reward_weights.items() if w != 0.0)
        self.num_items = corpus.size

    def candidate_ids(self) -> np.ndarray:
        return self.world.candidate_items().copy()

    def _followed(self, rows: np.ndarray | slice) -> np.ndarray:
        w = self.world
        return (w.creator_stage(w.candidate_items()[rows], rows) >= 2).astype(np.int8)

    def observe_user(self, key: str, rows: np.ndarray) -> np.ndarray:
        if key == "user_profile":
            return self.world.state.profile[rows].astype(np.float32)
        return self._followed(rows)

    def observe(self, out: ShortVideoStep | None) -> dict[str, np.ndarray]:
        w = self.world
        idx = w.candidate_items()
        n, k = idx.shape[0], self.slate_size
        obs = {
            "candidate_features": w.corpus.embedding[idx].astype(np.float32),
            "candidate_duration": w.corpus.duration[idx].astype(np.float32),
            "candidate_followed": self._followed(slice(None)),
            "user_profile": w.state.profile.astype(np.float32),
        }
        if out is None:
            obs["response_watch_ratio"] = np.zeros((n, k), np.float32)
            for s in ("like", "share", "comment", "follow", "gift"):
                obs[f"response_{s}"] = np.zeros((n, k), np.int8)
        else:
            obs["response_watch_ratio"] = out.watch_ratio.astype(np.float32)
            for s in ("like", "share", "comment", "follow", "gift"):
                obs[f"response_{s}"] = out.signals[SIGNALS.index(s)].astype(np.int8)
        return obs

    def rewards(self, out: ShortVideoStep) -> np.ndarray:
        reward = np.zeros(out.gone.shape[0])
        for j, weight in self.reward_terms:
            reward += weight * out.signals[j].sum(axis=1)
        return reward

    def costs(self, out: ShortVideoStep) -> dict[str, np.ndarray]:
        """``(N,)`` per-step costs: ``skip`` counts, the others negated counts."""
        return {s: (1.0 if s == "skip" else -1.0) * out.signals[SIGNALS.index(s)].sum(axis=1)
                for s in self.config.cost_signals}

    def slate_info(self, out: ShortVideoStep) -> dict[str, np.ndarray]:
        corpus = self.world.corpus
        return {"slate_topics": corpus.topic[out.item_id],
                "slate_creator_ids": corpus.creator[out.item_id]}

    def extra_info(self, out: ShortVideoStep) -> dict[str, Any]:
        """``signals`` (every signal, ``(N, K)``) and ``costs`` (``(N,)`` each)."""
        return {"signals": {s: out.signals[j] for j, s in enumerate(SIGNALS)},
                "costs": self.costs(out)}

    def item_rewards(self, response: Any, info: dict[str, Any]) -> np.ndarray:
        """``sum_s reward_weights[s] * info["signals"][s][k]``."""
        out = np.zeros(np.shape(response.clicked))
        for j, weight in self.reward_terms:
            out += weight * np.asarray(info["signals"][SIGNALS[j]], dtype=np.float64)
        return out

    def oracle(self) -> dict[str, np.ndarray]:
        w = self.world
        idx = w.candidate_items()
        affinity, stage = w.affinity(idx), w.creator_stage(idx)
        return {
            "scores": w.expected_watch_ratio(idx, affinity, stage),
            "affinity": affinity,
            "hook": w.corpus.hook[idx],
            "like": w.corpus.like[idx],
            "share": w.corpus.share[idx],
            "comment": w.corpus.comment[idx],
            "creator_stage": stage.astype(np.int64),
            "budget": w.state.budget.copy(),
        }


class ShortVideoEnv(CoreEnv):
    """A short-video feed with watch time, like, share, comment, follow and gift signals
    (``recarena/ShortVideo-v0``).

    The setting of Two-Stage Constrained Actor-Critic (Cai et al. 2023): maximise watch
    time under constraints on auxiliary interactions, whose per-video propensities partly
    conflict with watch time; and the user-creator relation ladder click -> follow -> gift
    of RLIV-UA (Li et al. 2025). The model, with every probability, is in
    :mod:`recarena.simulators.short_video`.

    **Action space**: ``SlateSpace(20, 1)``: the next video out of 20 candidates (with
    ``slate_size=K``, a feed page of K videos played top-down).

    **Observation space** (``Dict``; what a platform sees):

    * ``candidate_features``: ``Box(-1, 1, (20, 16))``, video embeddings;
    * ``candidate_duration``: ``Box(0, 180, (20,))`` seconds;
    * ``candidate_followed``: ``MultiBinary(20)``, whether the user follows the creator;
    * ``user_profile``: ``Box(-1, 1, (16,))``, moving average of watched embeddings
      weighted by watch ratio;
    * ``response_watch_ratio``: ``Box(0, 1, (K,))``; ``response_like``, ``response_share``,
      ``response_comment``, ``response_follow``, ``response_gift``: ``MultiBinary(K)``;
      the last page's feedback (zeros at reset).

    **Reward**: ``sum_s reward_weights[s] * sum_k signal_s[k]`` (default: seconds watched).

    **Episode end**: ``terminated`` when the session ends: the time budget (about 15
    minutes) is spent, or the user quits after a dull video.

    **Info**: ``signals`` (every signal of the step per position: ``watch_time``,
    ``like``, ``share``, ``comment``, ``follow``, ``gift``, ``skip``), ``costs`` (for each
    of ``cost_signals``: ``skip`` counts as a cost, the interaction signals enter
    negated, so a constraint "at least b likes per episode" is the CMDP constraint
    ``E[sum costs["like"]] <= -b``), ``response``, ``slate_item_ids`` (corpus indices), and
    ``oracle``: ``scores`` (expected watch ratio of each candidate), ``affinity``, the
    latent ``hook``/``like``/``share``/``comment`` propensities, ``creator_stage`` (0 none,
    1 engaged, 2 follower, 3 gifter) per candidate, and ``budget`` (seconds left).

    **Arguments**: ``num_candidates`` (20), ``slate_size`` (1), ``reward_weights``,
    ``cost_signals``, ``horizon``, ``corpus``, ``users`` or any of its fields as keywords,
    ``render_mode``.

    **Version history**: v0: initial version.

    >>> import gymnasium as gym, recarena
    >>> env = gym.make("recarena/ShortVideo-v0", reward_weights={"watch_time": 1.0, "like": 30.0})
    >>> obs, info = env.reset(seed=0)
    >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    >>> sorted(info["signals"])
    ['comment', 'follow', 'gift', 'like', 'share', 'skip', 'watch_time']
    """

    vector_notes = '``info["signals"]`` holds ``(N, K)`` arrays, ``info["costs"]`` ``(N,)``.'

    core_class = ShortVideoCore
    config_class = ShortVideoConfig
    nested_configs = ("users",)

