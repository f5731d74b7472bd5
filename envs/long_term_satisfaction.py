"""RecSim's long-term satisfaction ("choc/kale") environment (``recarena/LongTermSatisfaction-v0``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces

from recarena.envs.base import CoreEnv
from recarena.envs.core import EnvConfig, EnvCore
from recarena.errors import ConfigError
from recarena.simulators.long_term_satisfaction import ChocKaleStep, ChocKaleUsers, ChocKaleWorld
from recarena.validation import check_int

__all__ = ["LongTermSatisfactionConfig", "LongTermSatisfactionCore", "LongTermSatisfactionEnv"]

#: RecSim's ``LTSResponse.MAX_ENGAGEMENT_MAGNITUDE``: observed engagement is clipped here.
MAX_ENGAGEMENT = 100.0


@dataclass(frozen=True)
class LongTermSatisfactionConfig(EnvConfig):
    """``users`` (:class:`ChocKaleUsers`), ``num_candidates`` (10), ``slate_size`` (2) and
    ``horizon`` (``None``: the 60-click budget ends every episode)."""

    users: ChocKaleUsers = field(default_factory=ChocKaleUsers)
    num_candidates: int = 10
    slate_size: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.users, ChocKaleUsers):
            raise ConfigError("LongTermSatisfactionConfig.users", self.users, "a ChocKaleUsers")
        check_int(self.num_candidates, "LongTermSatisfactionConfig.num_candidates", 1)
        check_int(self.slate_size, "LongTermSatisfactionConfig.slate_size", 1, self.num_candidates)


class LongTermSatisfactionCore(EnvCore):
    """Batched observations, rewards and oracle of :class:`LongTermSatisfactionEnv`."""

    scalar_oracle = ("net_positive_exposure", "satisfaction", "budget")

    def __init__(self, config: LongTermSatisfactionConfig) -> None:
        c, k = config.num_candidates, config.slate_size
        space = spaces.Dict({
            "candidate_clickbait": spaces.Box(0.0, 1.0, (c,), np.float32),
            "response_click": spaces.MultiBinary(k),
            "response_engagement": spaces.Box(0.0, MAX_ENGAGEMENT, (k,), np.float32),
        })
        super().__init__(config, ChocKaleWorld(config.users, c, k), c, k, space)

    def observe(self, out: ChocKaleStep | None) -> dict[str, np.ndarray]:
        n, k = self.world.state.size, self.slate_size
        cands = self.world.candidates if out is None else out.candidates
        obs = {"candidate_clickbait": cands.clickbait.astype(np.float32)}
        if out is None:
            obs["response_click"] = np.zeros((n, k), np.int8)
            obs["response_engagement"] = np.zeros((n, k), np.float32)
        else:
            obs["response_click"] = out.response.clicked.astype(np.int8)
            obs["response_engagement"] = np.minimum(out.response.watch_time,
                                                    MAX_ENGAGEMENT).astype(np.float32)
        return obs

    def rewards(self, out: ChocKaleStep) -> np.ndarray:
        return out.response.watch_time[:, 0].copy()

    def item_rewards(self, response: Any, info: dict[str, Any]) -> np.ndarray:
        """The top item's engagement (the reward), 0 below it."""
        out = np.zeros(np.shape(response.clicked))
        out[:, 0] = np.asarray(response.watch_time, dtype=np.float64)[:, 0]
        return out

    def oracle(self) -> dict[str, np.ndarray]:
        users, state = self.config.users, self.world.state
        c = self.world.candidates.clickbait
        loc = (c * users.choc_mean + (1.0 - c) * users.kale_mean) * state.satisfaction[:, None]
        scale = c * users.choc_stddev + (1.0 - c) * users.kale_stddev
        return {
            "scores": np.exp(loc + 0.5 * scale * scale),
            "net_positive_exposure": state.npe.copy(),
            "satisfaction": state.satisfaction.copy(),
            "budget": state.budget.astype(np.float64),
        }


class LongTermSatisfactionEnv(CoreEnv):
    """RecSim's long-term satisfaction ("choc/kale") environment
    (``recarena/LongTermSatisfaction-v0``).

    Ie et al. 2019, "RecSim: A Configurable Simulation Platform for Recommender Systems";
    the ``long_term_satisfaction`` environment, with RecSim's parameters as defaults (see
    :mod:`recarena.simulators.long_term_satisfaction` for the model). Clickbaity items
    engage more now and lower the user's latent satisfaction, which scales all later
    engagement; satisfaction is hidden and must be inferred from engagement.

    **Action space**: ``SlateSpace(10, 2)``. The user always clicks the top item; the other
    positions are not looked at (as in RecSim).

    **Observation space** (``Dict``; RecSim's user observation is empty):

    * ``candidate_clickbait``: ``Box(0, 1, (10,))``, the candidates' clickbait scores;
    * ``response_click``: ``MultiBinary(2)``, the last slate's clicks (position 0);
    * ``response_engagement``: ``Box(0, 100, (2,))``, the last engagement, clipped at 100
      as RecSim's response observation is.

    **Reward**: the engagement of the clicked item, unclipped (RecSim's
    ``clicked_engagement_reward``).

    **Episode end**: ``terminated`` after 60 clicks (the time budget), i.e. after exactly
    60 steps; ``horizon`` (``None``) can truncate earlier.

    **Info**: ``response`` (``watch_time`` is the engagement), ``slate_item_ids``, and
    ``oracle``: ``scores`` (expected engagement of each candidate if put on top, ``(C,)``),
    ``net_positive_exposure``, ``satisfaction``, ``budget``.

    **Arguments**: ``num_candidates`` (10), ``slate_size`` (2), ``horizon``, ``users`` (a
    :class:`~recarena.simulators.long_term_satisfaction.ChocKaleUsers`) or any of its
    fields as keywords (``sensitivity=0.5``, ``memory_discount=...``), ``render_mode``.

    **The trade-off**: at RecSim's ``sensitivity=0.01`` satisfaction barely moves and
    always showing the most clickbaity item is close to optimal; with ``sensitivity`` above
    about 0.07 a kale diet wins in the long run while choc still wins every single step.
    ``users.best_constant_clickbait()`` gives the best constant diet.

    **Differences from RecSim**: one seeded generator split into streams (RecSim draws the
    NPE innovation from the global ``np.random``); the reset observation holds zero
    responses instead of ``None``.

    **Version history**: v0: initial version.

    >>> import gymnasium as gym, recarena
    >>> env = gym.make("recarena/LongTermSatisfaction-v0", sensitivity=0.5)
    >>> obs, info = env.reset(seed=0)
    >>> obs["candidate_clickbait"].shape
    (10,)
    """

    core_class = LongTermSatisfactionCore
    config_class = LongTermSatisfactionConfig
    nested_configs = ("users",)

