"""The general slate environment: a Gymnasium adapter over a one-user :class:`SlateWorld`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from gymnasium import spaces

from recarena.envs.base import CoreEnv
from recarena.envs.core import EnvCore, replace_fields
from recarena.errors import ConfigError
from recarena.simulators.catalog import (
    CorpusCandidates,
    TopicQualitySampler,
    make_catalog,
)
from recarena.simulators.choice import MultinomialLogitChoice
from recarena.simulators.kernels import row_sum
from recarena.simulators.protocols import CandidateSource, check_protocol
from recarena.simulators.records import Catalog
from recarena.simulators.users import (
    InterestEvolution,
    LogisticSignal,
    NoveltySeeking,
    ResponseSignals,
    Satiation,
    SatisfactionLeave,
    TimeBudget,
    UserModel,
)
from recarena.simulators.world import SlateWorld, WorldStep
from recarena.validation import check_float, check_int

__all__ = [
    "OBSERVATION_PARTS",
    "REWARD_SIGNALS",
    "SlateCore",
    "SlateEnv",
    "SlateEnvConfig",
    "default_catalog",
]

#: Signals a reward can weight, and the :class:`Response` field each one sums over the slate.
REWARD_SIGNALS: dict[str, str] = {
    "click": "clicked",
    "watch_time": "watch_time",
    "like": "liked",
    "share": "shared",
    "follow": "followed",
    "retention": "return_gap",
}

#: Optional response signals: (ResponseSignals field, Response field).
_OPTIONAL_SIGNALS = (("like", "liked"), ("share", "shared"), ("follow", "followed"))

#: What an observation can contain (see :class:`SlateEnv`).
OBSERVATION_PARTS = ("interests", "candidates", "response", "response_quality", "history",
                     "calendar", "instruction")


@lru_cache(maxsize=4)
def default_catalog(size: int = 1000, num_creators: int = 50, seed: int = 20190101) -> Catalog:
    """The fixed corpus of ``Slate-v0``: ``size`` items from RecSim's topic/quality sampler,
    with ``num_creators`` creators. Built from its own seed, so it is part of the env's
    definition and not of an episode."""
    return make_catalog(TopicQualitySampler(), size, np.random.default_rng(seed), num_creators)


def _default_user_model() -> UserModel:
    return UserModel(
        choice=MultinomialLogitChoice(temperature=0.25, no_click_score=0.0),
        interest_dynamics=InterestEvolution(direction="stochastic"),
        satiation=Satiation(),
        novelty=NoveltySeeking(),
        budget=TimeBudget(initial=60.0, step_penalty=1.0),
        satisfaction=SatisfactionLeave(),
        signals=ResponseSignals(
            watch="fraction",
            like=LogisticSignal(bias=-2.0, quality_weight=0.5, affinity_weight=1.0),
            share=LogisticSignal(bias=-3.5, quality_weight=1.0, affinity_weight=0.5),
            follow=LogisticSignal(bias=-4.0, quality_weight=0.3, affinity_weight=1.5),
        ),
        history_length=10,
    )


def _default_candidates() -> CorpusCandidates:
    return CorpusCandidates(default_catalog(), num_candidates=20)


@dataclass(frozen=True)
class SlateEnvConfig:
    """Everything that defines a slate environment. Invalid values raise ``ConfigError``.

    Attributes:
        user_model: the users (choice model and dynamics are its components).
        candidates: where each step's candidates come from (catalog and candidate count).
        slate_size: K, the number of items shown per step (1 <= K <= candidates).
        reward_weights: reward = sum over signals of weight * (signal summed over the slate);
            keys from ``click, watch_time, like, share, follow, retention``. ``retention``
            (needs ``user_model.retention``) is paid on the request that ends a session:
            minus the days until the user's next session, ``-churn_days`` if they churn
            (the return-time signal of KuaiSim's retention task and RLUR).
        observe: parts of the observation, from ``interests`` (the user's true interests,
            as RecSim exposes them), ``candidates`` (candidate features), ``response`` (the
            last response: click, examined, watch time and the other active signals),
            ``response_quality`` (quality of the last slate's items, as RecSim reports it),
            ``history`` (features and watch time of the last H consumed items),
            ``calendar`` (the user's day and last return gap; needs a retention model),
            ``instruction`` (the user's latest instruction to the recommender, as text and
            a per-genre vector; needs a user model that gives one, e.g. LLM users).
        horizon: steps after which the episode is truncated, or ``None``.
        horizon_days: with a retention model, the episode is truncated once the user's
            next session would start at or after this day; ``None``: no limit.
        churn_days: the return gap a churn counts as in the ``retention`` reward.
    """

    user_model: UserModel = field(default_factory=_default_user_model)
    candidates: CandidateSource = field(default_factory=_default_candidates)
    slate_size: int = 5
    reward_weights: Mapping[str, float] = field(default_factory=lambda: {"watch_time": 1.0})
    observe: tuple[str, ...] = ("candidates", "response", "history")
    horizon: int | None = 500
    horizon_days: float | None = None
    churn_days: float = 30.0

    def __post_init__(self) -> None:
        if not isinstance(self.user_model, UserModel):
            raise ConfigError("SlateEnvConfig.user_model", self.user_model, "a UserModel")
        check_protocol(self.candidates, CandidateSource, "SlateEnvConfig.candidates")
        check_int(self.slate_size, "SlateEnvConfig.slate_size", 1, self.candidates.num_candidates)
        if not isinstance(self.reward_weights, Mapping) or not self.reward_weights:
            raise ConfigError("SlateEnvConfig.reward_weights", self.reward_weights,
                              "a non-empty mapping of signal name to weight")
        for key, weight in self.reward_weights.items():
            if key not in REWARD_SIGNALS:
                raise ConfigError(f"SlateEnvConfig.reward_weights[{key!r}]", key,
                                  "one of " + ", ".join(REWARD_SIGNALS))
            check_float(weight, f"SlateEnvConfig.reward_weights[{key!r}]")
        object.__setattr__(self, "reward_weights", dict(self.reward_weights))
        observe = (self.observe,) if isinstance(self.observe, str) else tuple(self.observe)
        if not observe:
            raise ConfigError("SlateEnvConfig.observe", self.observe,
                              "at least one of " + ", ".join(OBSERVATION_PARTS))
        for part in observe:
            if part not in OBSERVATION_PARTS:
                raise ConfigError("SlateEnvConfig.observe", part,
                                  "parts from " + ", ".join(OBSERVATION_PARTS))
        object.__setattr__(self, "observe", observe)
        if "instruction" in observe and not callable(
                getattr(self.user_model, "instruction_spaces", None)):
            raise ConfigError("SlateEnvConfig.observe", "instruction",
                              "parts without 'instruction' unless the user model gives "
                              "instructions (LLM users: users='llm')")
        if "history" in observe and self.user_model.history_length == 0:
            raise ConfigError("SlateEnvConfig.observe", "history",
                              "parts without 'history' when user_model.history_length is 0")
        if self.horizon is not None:
            check_int(self.horizon, "SlateEnvConfig.horizon", 1)
        check_float(self.churn_days, "SlateEnvConfig.churn_days", 0.0)
        has_retention = self.user_model.retention is not None
        if self.horizon_days is not None:
            check_float(self.horizon_days, "SlateEnvConfig.horizon_days", 0.0, low_open=True)
            if not has_retention:
                raise ConfigError("SlateEnvConfig.horizon_days", self.horizon_days,
                                  "None unless user_model.retention is set (days only pass "
                                  "between sessions)")
        if not has_retention:
            if "calendar" in observe:
                raise ConfigError("SlateEnvConfig.observe", "calendar",
                                  "parts without 'calendar' when user_model.retention is None")
            if "retention" in self.reward_weights:
                raise ConfigError("SlateEnvConfig.reward_weights", "retention",
                                  "signals without 'retention' when user_model.retention is None")
        if self.horizon is None and self.user_model.budget is None and self.user_model.satisfaction is None:
            raise ConfigError("SlateEnvConfig.horizon", None,
                              "a horizon (int) when the user model has no budget or "
                              "satisfaction leave model: episodes would never end")

    def replace(self, **changes: Any) -> SlateEnvConfig:
        """A copy with ``changes``; unknown names raise ``ConfigError`` listing the allowed ones."""
        return replace_fields(self, changes)


class SlateCore(EnvCore):
    """The core of the slate-world families (:class:`SlateEnv`, InterestEvolution, Cascade,
    Retention, MovieLens): a :class:`SlateWorld` of N users, a user model and a candidate
    source, with the observation parts, weighted reward and oracle of a
    :class:`SlateEnvConfig`."""

    user_keys = ("interests", "history_features", "history_watch_time", "day",
                 "last_return_gap", "instruction", "instruction_genres")
    scalar_oracle = ("budget", "satisfaction", "long_term")

    def __init__(self, config: SlateEnvConfig) -> None:
        src = config.candidates
        world = SlateWorld(config.user_model, src, config.slate_size)
        self.reward_terms = tuple((REWARD_SIGNALS[k], float(w))
                                  for k, w in config.reward_weights.items() if w != 0.0)
        #: users return between sessions (a retention model): days pass
        self.has_calendar = config.user_model.retention is not None
        self.attraction_link = getattr(config.user_model.choice, "link", None)
        #: catalog size for a fixed corpus; ``None`` when candidates are generated anew
        catalog = getattr(src, "catalog", None)
        self.num_items = None if catalog is None else int(catalog.size)
        self.config = config
        super().__init__(config, world, src.num_candidates, config.slate_size,
                         self._build_observation_space())

    def candidate_ids(self) -> np.ndarray:
        """``(N, C)`` catalog ids of every user's current candidates (read-only: the world
        draws new candidates every step and never writes to them, so no copy is made)."""
        cands = self.world.candidates
        assert cands is not None
        return cands.item_id

    def calendar_day(self) -> np.ndarray | None:
        return self.world.state.day.copy() if self.has_calendar else None

    def _build_observation_space(self) -> spaces.Dict:
        cfg, src, um = self.config, self.config.candidates, self.config.user_model
        c, k, d, h = src.num_candidates, cfg.slate_size, src.feature_dim, um.history_length
        f_lo, f_hi = src.feature_bounds()
        q_lo, q_hi = src.quality_bounds()
        max_len = src.max_length()
        #: calendar observations are clipped here (a churned user's gap is infinite)
        self.max_day = float(cfg.horizon_days) if cfg.horizon_days is not None else 1e6
        self.q_bounds = (q_lo, q_hi)
        self.max_len = max_len
        self.signal_keys = tuple((f"response_{attr}", attr)
                                 for model, attr in _OPTIONAL_SIGNALS
                                 if getattr(um.signals, model, None) is not None)
        #: which parts of OBSERVATION_PARTS are observed
        self._see = {part: part in cfg.observe for part in OBSERVATION_PARTS}
        parts: dict[str, spaces.Space] = {}
        f32 = np.float32
        for part in cfg.observe:
            if part == "interests":
                parts["interests"] = spaces.Box(-1.0, 1.0, (d,), f32)
            elif part == "candidates":
                parts["candidate_features"] = spaces.Box(f_lo, f_hi, (c, d), f32)
            elif part == "response":
                parts["response_click"] = spaces.MultiBinary(k)
                parts["response_examined"] = spaces.MultiBinary(k)
                parts["response_watch_time"] = spaces.Box(0.0, max_len, (k,), f32)
                for key, _ in self.signal_keys:
                    parts[key] = spaces.MultiBinary(k)
            elif part == "response_quality":
                parts["response_quality"] = spaces.Box(q_lo, q_hi, (k,), f32)
            elif part == "history":
                parts["history_features"] = spaces.Box(min(f_lo, 0.0), max(f_hi, 0.0), (h, d), f32)
                parts["history_watch_time"] = spaces.Box(0.0, max_len, (h,), f32)
            elif part == "calendar":
                parts["day"] = spaces.Box(0.0, self.max_day, (1,), f32)
                parts["last_return_gap"] = spaces.Box(0.0, self.max_day, (1,), f32)
            elif part == "instruction":
                parts.update(um.instruction_spaces())
        return spaces.Dict(parts)

    def observe(self, out: WorldStep | None) -> dict[str, np.ndarray]:
        """Batched observations ``(N, ...)`` of every user, as new arrays (``out`` is the
        step just taken; ``None`` at reset: nothing shown yet)."""
        world, k = self.world, self.slate_size
        state = world.state
        cands = world.candidates if out is None else out.candidates
        assert state is not None and cands is not None
        see = self._see
        obs: dict[str, np.ndarray] = {}
        if see["interests"]:
            obs["interests"] = state.interests.astype(np.float32)
        if see["candidates"]:
            obs["candidate_features"] = cands.features.astype(np.float32)
        if see["response"]:
            if out is None:
                n = state.size
                obs["response_click"] = np.zeros((n, k), np.int8)
                obs["response_examined"] = np.zeros((n, k), np.int8)
                obs["response_watch_time"] = np.zeros((n, k), np.float32)
                for key, _ in self.signal_keys:
                    obs[key] = np.zeros((n, k), np.int8)
            else:
                resp = out.response
                obs["response_click"] = resp.clicked.astype(np.int8)
                obs["response_examined"] = resp.examined.astype(np.int8)
                obs["response_watch_time"] = resp.watch_time.astype(np.float32)
                for key, attr in self.signal_keys:
                    obs[key] = getattr(resp, attr).astype(np.int8)
        if see["response_quality"]:
            if out is None:
                obs["response_quality"] = np.zeros((state.size, k), np.float32)
            else:
                # every candidate source keeps quality within its quality_bounds(), and
                # float32 rounding is monotone: the cast stays inside the Box
                obs["response_quality"] = out.slate.quality.astype(np.float32)
        if see["history"]:
            obs["history_features"] = state.history_features.astype(np.float32)
            obs["history_watch_time"] = np.minimum(
                state.history_watch, self.max_len).astype(np.float32)
        if see["calendar"]:
            obs["day"] = np.minimum(state.day, self.max_day).astype(np.float32)[:, None]
            obs["last_return_gap"] = np.minimum(
                state.last_gap, self.max_day).astype(np.float32)[:, None]
        if see["instruction"]:
            obs.update(self.config.user_model.instruction_observation(state))
        return obs

    def observe_user(self, key: str, rows: np.ndarray) -> np.ndarray:
        state = self.world.state
        if key == "interests":
            return state.interests[rows].astype(np.float32)
        if key == "history_features":
            return state.history_features[rows].astype(np.float32)
        if key == "history_watch_time":
            return np.minimum(state.history_watch[rows], self.max_len).astype(np.float32)
        if key == "day":
            return np.minimum(state.day[rows], self.max_day).astype(np.float32)[:, None]
        if key.startswith("instruction"):
            return self.config.user_model.instruction_observation(state, rows)[key]
        return np.minimum(state.last_gap[rows], self.max_day).astype(np.float32)[:, None]

    def rewards(self, out: WorldStep) -> np.ndarray:
        """``(N,)`` float64 rewards of a step: the weighted signals summed over the slate,
        and the retention term on the requests that end a session."""
        reward = np.zeros(out.gone.shape[0])
        for attr, weight in self.reward_terms:
            if attr == "return_gap":
                term = np.zeros(out.gone.shape[0])
                ended = ~np.isnan(out.return_gap)
                term[ended] -= weight * np.minimum(out.return_gap[ended], self.config.churn_days)
            else:
                term = weight * row_sum(getattr(out.response, attr))
            reward += term
        return reward

    def truncated(self, out: WorldStep) -> np.ndarray:
        """At the step ``horizon``, or when the user's next session starts at or after
        ``horizon_days``."""
        truncated = super().truncated(out)
        if self.config.horizon_days is not None:
            truncated |= out.day >= self.config.horizon_days
        return truncated

    def item_rewards(self, response: Any, info: dict[str, Any]) -> np.ndarray:
        """``sum_s reward_weights[s] * signal_s[k]`` over the click, watch-time, like,
        share and follow weights; the ``retention`` term (minus the return gap, on the
        request that ends a session) belongs to no item."""
        out = np.zeros(np.shape(response.clicked))
        for attr, weight in self.reward_terms:
            if attr != "return_gap":
                out += weight * np.asarray(getattr(response, attr), dtype=np.float64)
        return out

    def oracle(self) -> dict[str, np.ndarray]:
        """Privileged truth about every user and their current candidates, batched."""
        world = self.world
        state, cands = world.state, world.candidates
        assert state is not None and cands is not None
        scores = world.candidate_scores()
        oracle = {
            "scores": scores,
            # the world draws new candidate arrays every step and marks them read-only, so
            # they are handed out as they are
            "quality": cands.quality,
            "length": cands.length,
            "interests": state.interests.copy(),
            "budget": state.budget.copy(),
            "satisfaction": state.satisfaction.copy(),
        }
        if self.attraction_link is not None:
            oracle["attraction"] = self.attraction_link(scores)
        if self.has_calendar:
            oracle["long_term"] = state.long_term.copy()
        return oracle


    def slate_info(self, out: WorldStep) -> dict[str, np.ndarray]:
        return {"slate_topics": out.slate.topic, "slate_creator_ids": out.slate.creator_id}

    def extra_info(self, out: WorldStep) -> dict[str, Any]:
        """With a retention model: ``day``, ``session_ended`` and ``return_gap`` (masked by
        ``_return_gap``, Gymnasium's convention: a value where the session ended, 0 elsewhere;
        ``inf`` on churn). With LLM users: ``llm`` (their ``step_info``: ``decided_by``
        per row, ratings, reasons, ...)."""
        step_info = getattr(self.config.user_model, "step_info", None)
        llm = {} if step_info is None else step_info(self.world.state)
        extra = {"llm": llm} if llm else {}
        if not self.has_calendar:
            return extra
        ended = out.response.left.copy()
        return {"day": out.day, "session_ended": ended,
                "return_gap": np.where(ended, out.return_gap, 0.0), "_return_gap": ended.copy(),
                **extra}


class SlateEnv(CoreEnv):
    """A user session facing a recommender that shows slates of K items out of C candidates.

    Each episode is one user's session. The world behind it is a :class:`SlateWorld` with
    one user, the same batched code that simulates thousands.

    **Action space**: :class:`~recarena.envs.spaces.SlateSpace` ``(C, K)``: K distinct
    candidate indices, position 0 on top. A repeated, out-of-range or misshapen slate
    raises :class:`~recarena.errors.InvalidSlate`.

    **Observation space**: a flat ``Dict`` with the parts named in ``config.observe``:

    ==========================  ===========================  ===============================
    key                         space                        part
    ==========================  ===========================  ===============================
    ``interests``               Box(-1, 1, (d,))             ``interests``
    ``candidate_features``      Box(lo, hi, (C, d))          ``candidates``
    ``response_click``          MultiBinary(K)               ``response``
    ``response_examined``       MultiBinary(K)               ``response``
    ``response_watch_time``     Box(0, max_len, (K,))        ``response``
    ``response_liked`` etc.     MultiBinary(K)               ``response`` (if modelled)
    ``response_quality``        Box(q_lo, q_hi, (K,))        ``response_quality``
    ``history_features``        Box(lo, hi, (H, d))          ``history``
    ``history_watch_time``      Box(0, max_len, (H,))        ``history``
    ``instruction``             Text(L)                      ``instruction``
    ``instruction_genres``      Box(-1, 1, (G,))             ``instruction`` (with genres)
    ==========================  ===========================  ===============================

    At reset the ``response_*`` entries are zeros (nothing shown yet).

    **Reward**: ``sum_s reward_weights[s] * sum_k signal_s[k]`` over the shown slate.

    **Episode end**: ``terminated`` when the user leaves (budget spent or satisfaction
    collapsed); ``truncated`` after ``horizon`` steps.

    **Info**: ``user_id``, ``candidate_ids`` ``(C,)`` (catalog ids of the current
    candidates: public, what a platform knows), ``slate_item_ids`` ``(K,)`` (ids of the
    items just shown), ``response`` (the :class:`~recarena.simulators.records.Response` of the
    step for this user, arrays of shape ``(K,)``), ``examined`` (the examined positions), and
    ``oracle``: privileged truth for analysis and oracle baselines only: ``scores`` (true
    scores of the *current* candidates, ``(C,)``), ``quality`` and ``length`` ``(C,)``, ``interests``,
    ``budget``, ``satisfaction``, and ``attraction`` ``(C,)`` for attraction-based choice
    models.

    **Arguments**: ``config`` (a :class:`SlateEnvConfig`) and/or any of its fields as
    keyword arguments, which override it; ``render_mode`` (``None`` or ``"ansi"``).

    **Version history**: v0: initial version.

    >>> import gymnasium as gym, recarena
    >>> env = gym.make("recarena/Slate-v0")
    >>> obs, info = env.reset(seed=0)
    >>> sorted(obs)[:3]
    ['candidate_features', 'history_features', 'history_watch_time']
    >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    """


    #: The batched machinery behind the env (and behind its vector env).
    core_class = SlateCore
    #: The configuration type this family takes.
    config_class = SlateEnvConfig

