"""Cascading bandit environment (Kveton et al. 2015)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from recarena.envs.slate import SlateCore, SlateEnv, SlateEnvConfig
from recarena.errors import ConfigError
from recarena.simulators.catalog import CorpusCandidates
from recarena.simulators.choice import AttractionLink, CascadeChoice
from recarena.simulators.records import Catalog, UserBatch
from recarena.simulators.users import FixedInterests, ResponseSignals, UserModel
from recarena.simulators.world import SlateWorld, WorldStep
from recarena.validation import check_float, check_float_vector, check_int

__all__ = ["CascadeConfig", "CascadeCore", "CascadeEnv", "cascade_config", "kveton_attraction"]

#: the observation entries ``observe_history`` adds (``candidate_*``: one value per candidate)
HISTORY_KEYS = ("candidate_impressions", "candidate_clicks", "candidate_click_rate",
                "candidate_uncertainty", "episode_progress")


def kveton_attraction(num_items: int = 16, num_best: int = 4, p: float = 0.2,
                      delta: float = 0.15) -> tuple[float, ...]:
    """Attraction weights of Kveton et al. (2015)'s experiments: the ``num_best`` best items
    have attraction ``p`` and the others ``p - delta``."""
    check_int(num_items, "num_items", 1)
    check_int(num_best, "num_best", 1, num_items)
    check_float(p, "p", 0.0, 1.0)
    check_float(delta, "delta", 0.0, p)
    return tuple([p] * num_best + [p - delta] * (num_items - num_best))


@dataclasses.dataclass(frozen=True)
class CascadeConfig(SlateEnvConfig):
    """A :class:`SlateEnvConfig` with Cascade-v0's own observation option.

    Attributes:
        observe_history: add this episode's per-candidate statistics to the observation
            (see :class:`CascadeEnv`). Needs the same candidates at every step (a
            ``CorpusCandidates`` with ``mode="all"``, as Cascade-v0 has), or a
            candidate index would name different items at different steps.
    """

    observe_history: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.observe_history, (bool, np.bool_)):
            raise ConfigError("CascadeConfig.observe_history", self.observe_history, "a bool")
        if self.observe_history and getattr(self.candidates, "mode", None) != "all":
            raise ConfigError("CascadeConfig.observe_history", self.observe_history,
                              "False unless the candidates are the whole catalog at every "
                              "step (CorpusCandidates(mode='all')): per-candidate statistics "
                              "need candidate i to be the same item at every step")


def cascade_config(num_items: int = 16, slate_size: int = 4,
                   attraction: Sequence[float] | None = None, shuffle: bool = True,
                   horizon: int = 1000, observe_history: bool = False) -> CascadeConfig:
    """Configuration of ``Cascade-v0``: L items, one-hot features, cascade clicks;
    ``observe_history`` adds the episode's per-candidate statistics to the observation."""
    num_items = check_int(num_items, "num_items", 1)
    if attraction is None:
        attraction = kveton_attraction(num_items, min(slate_size, num_items))
    w = check_float_vector(attraction, "attraction", num_items, 0.0, 1.0)
    eye = np.eye(num_items)
    catalog = Catalog(eye, np.arange(num_items), np.zeros(num_items), np.ones(num_items),
                      np.arange(num_items), num_topics=num_items)
    if not isinstance(shuffle, bool):
        raise ConfigError("shuffle", shuffle, "a bool")
    return CascadeConfig(
        user_model=UserModel(
            choice=CascadeChoice(link=AttractionLink(kind="identity")),
            interest_prior=FixedInterests(tuple(float(x) for x in w), shuffle=shuffle),
            interest_dynamics=None, satiation=None, novelty=None, budget=None,
            satisfaction=None, signals=ResponseSignals(watch="full"), history_length=0,
        ),
        candidates=CorpusCandidates(catalog, num_items, mode="all"),
        slate_size=slate_size,
        reward_weights={"click": 1.0},
        observe=("response",),
        horizon=horizon,
        observe_history=observe_history,
    )


@dataclasses.dataclass(eq=False)
class CascadeUserBatch(UserBatch):
    """:class:`UserBatch` with this episode's per-candidate counts, so that they are
    replaced with the user, copied by snapshots and restored with them.

    Attributes:
        impressions: float64 ``(N, C)``; times each candidate was examined.
        clicks: float64 ``(N, C)``; times each candidate was clicked.
    """

    impressions: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))
    clicks: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))


class CascadeWorld(SlateWorld):
    """A :class:`SlateWorld` whose users count, per candidate, the examinations and clicks
    of their episode (a new user starts at zeros). It draws exactly the random numbers of
    a :class:`SlateWorld`: the same seed gives the same users and responses."""

    def sample_users(self, n: int, rng: np.random.Generator) -> CascadeUserBatch:
        users = super().sample_users(n, rng)
        c = self.candidate_source.num_candidates
        return CascadeUserBatch(**vars(users), impressions=np.zeros((n, c)),
                                clicks=np.zeros((n, c)))

    def step(self, slates: np.ndarray) -> WorldStep:
        out = super().step(slates)
        state = self.state
        rows = np.arange(slates.shape[0])[:, None]  # (a slate's candidates are distinct)
        state.impressions[rows, slates] += out.response.examined
        state.clicks[rows, slates] += out.response.clicked
        return out


class CascadeCore(SlateCore):
    """:class:`SlateCore` with the ``observe_history`` entries of :class:`CascadeConfig`
    (through the core's hooks: the observation space, :meth:`observe`, and
    :meth:`observe_user` for a replaced user)."""

    def __init__(self, config: SlateEnvConfig) -> None:
        self.observe_history = bool(getattr(config, "observe_history", False))
        super().__init__(config)
        if self.observe_history:
            self.world = CascadeWorld(config.user_model, config.candidates, config.slate_size)
            keys = HISTORY_KEYS if config.horizon is not None else HISTORY_KEYS[:-1]
            self.user_keys = SlateCore.user_keys + keys

    def _build_observation_space(self) -> spaces.Dict:
        space = super()._build_observation_space()
        if not self.observe_history:
            return space
        c, horizon = self.config.candidates.num_candidates, self.config.horizon
        f32, top = np.float32, np.inf if horizon is None else float(horizon)
        parts = dict(space.spaces)
        parts["candidate_impressions"] = spaces.Box(0.0, top, (c,), f32)
        parts["candidate_clicks"] = spaces.Box(0.0, top, (c,), f32)
        parts["candidate_click_rate"] = spaces.Box(0.0, 1.0, (c,), f32)
        parts["candidate_uncertainty"] = spaces.Box(0.0, 1.0, (c,), f32)
        if horizon is not None:
            parts["episode_progress"] = spaces.Box(0.0, 1.0, (1,), f32)
        return spaces.Dict(parts)

    def history(self, rows: Any = slice(None)) -> dict[str, np.ndarray]:
        """The ``observe_history`` entries of the users at ``rows``, as new arrays."""
        state, f32 = self.world.state, np.float32
        seen, clicks = state.impressions[rows], state.clicks[rows]
        rate = np.divide(clicks, seen, out=np.zeros_like(clicks), where=seen > 0)
        out = {"candidate_impressions": seen.astype(f32), "candidate_clicks": clicks.astype(f32),
               "candidate_click_rate": rate.astype(f32),
               "candidate_uncertainty": (1.0 / np.sqrt(1.0 + seen)).astype(f32)}
        if self.config.horizon is not None:
            out["episode_progress"] = (self.world.steps[rows] / self.config.horizon
                                       ).astype(f32)[:, None]
        return out

    def observe(self, out: WorldStep | None) -> dict[str, np.ndarray]:
        obs = super().observe(out)
        if self.observe_history:
            obs.update(self.history())
        return obs

    def observe_user(self, key: str, rows: np.ndarray) -> np.ndarray:
        if key in HISTORY_KEYS:
            return self.history(rows)[key]
        return super().observe_user(key, rows)


class CascadeEnv(SlateEnv):
    """Cascading bandit (``recarena/Cascade-v0``).

    Kveton, Szepesvari, Wen, Ashkan 2015, "Cascading Bandits: Learning to Rank in the
    Cascade Model"; the click model is Craswell et al. 2008's cascade. There are L items
    with fixed attraction probabilities ``w``. Each step the agent ranks K of them; the
    user examines the list top-down and clicks the first attractive item (item ``e`` is
    attractive with probability ``w(e)``, independently), then stops.

    **Action space**: ``SlateSpace(L, K)``: the ranked list.

    **Observation space** (``Dict``): ``response_click``, ``response_examined``
    (``MultiBinary(K)``) and ``response_watch_time`` of the last list: the examined prefix
    ends at the click, or covers the whole list when nothing was clicked.

    That is all a user reveals in one step, and the items are reshuffled for each user, so
    a policy that sees one observation (no memory) cannot learn which items are good.
    ``observe_history=True`` adds the episode's sufficient statistics, so that a
    memoryless policy (an MLP, SB3's ``MultiInputPolicy``) can; they start at zero for
    every user (a replaced row in the vector env too):

    =========================  =====================  ===================================
    key                        space                  value
    =========================  =====================  ===================================
    ``candidate_impressions``  Box(0, horizon, (L,))  times each item was examined
    ``candidate_clicks``       Box(0, horizon, (L,))  times it was clicked
    ``candidate_click_rate``   Box(0, 1, (L,))        clicks / impressions (0 if unseen):
                                                      an unbiased estimate of ``w(e)``
    ``candidate_uncertainty``  Box(0, 1, (L,))        ``1 / sqrt(1 + impressions)``: 1
                                                      when unseen, the scale of the
                                                      estimate's confidence interval
    ``episode_progress``       Box(0, 1, (1,))        steps so far / ``horizon``
    =========================  =====================  ===================================

    ``candidate_impressions`` counts examinations, not showings: an item shown below the
    click was not examined, and its missing click says nothing about it (Kveton et al.'s
    estimator).
    The counts are exact (for bandit-style policies) but grow to the horizon; a network
    without observation normalisation should read the bounded entries (rate and
    uncertainty: what a UCB index is made of) and the progress (the horizon left decides
    how much exploring still pays). ``candidate_*`` entries are per-candidate features
    (shape ``(L,)``, one value per candidate index, which is the item's index: the
    candidates are the whole catalog in a fixed order); ``episode_progress`` is context.

    **Reward**: 1 on a click, else 0. The expected reward of list ``A`` is
    ``1 - prod_{e in A} (1 - w(e))``, maximised by the K most attractive items.

    **Episode end**: truncated after ``horizon`` steps; never terminated.

    **Info**: ``examined`` (the examined prefix), ``response``, and
    ``info["oracle"]["attraction"]``, the attraction probabilities ``(L,)``.

    **Arguments**: ``num_items`` (L = 16), ``slate_size`` (K = 4), ``attraction`` (default:
    Kveton et al.'s ``p = 0.2`` for the K best items and ``p - 0.15`` for the rest),
    ``shuffle`` (True: the item order is permuted at each reset, so which items are best
    must be learned), ``horizon`` (1000; Kveton et al.'s experiments), ``observe_history``
    (False; see above), or a whole ``config`` (a :class:`CascadeConfig`; a plain
    :class:`SlateEnvConfig` is taken as one with ``observe_history=False``).

    **Version history**: v0: initial version; ``observe_history`` added later (off by
    default: the default observation is unchanged).

    >>> import gymnasium as gym, recarena
    >>> env = gym.make("recarena/Cascade-v0", attraction=[0.9, 0.1, 0.1, 0.1], num_items=4,
    ...                slate_size=2, shuffle=False)
    >>> _, info = env.reset(seed=0)
    >>> info["oracle"]["attraction"].round(2).tolist()
    [0.9, 0.1, 0.1, 0.1]
    """

    vector_notes = ("With ``shuffle=True`` every user has their own permutation of the "
                    "attraction probabilities.")

    builder = staticmethod(cascade_config)
    core_class = CascadeCore
    config_class = CascadeConfig

    @classmethod
    def make_config(cls, config: Any = None, **arguments: Any) -> Any:
        """As :meth:`CoreEnv.make_config`; a plain :class:`SlateEnvConfig` is taken as a
        :class:`CascadeConfig` with the same fields (``observe_history=False``)."""
        if type(config) is SlateEnvConfig:
            config = CascadeConfig(**{f.name: getattr(config, f.name)
                                      for f in dataclasses.fields(config)})
        return super().make_config(config, **arguments)
