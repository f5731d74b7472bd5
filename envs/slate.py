"""The general slate environment: a Gymnasium adapter over a one-user :class:`SlateWorld`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from recarena.envs.core import first_row, first_rows, replace_fields
from recarena.envs.spaces import SlateSpace
from recarena.errors import ConfigError, ResetNeeded
from recarena.simulators.catalog import (
    CorpusCandidates,
    ResampledCandidates,
    TopicQualitySampler,
    make_catalog,
)
from recarena.simulators.choice import MultinomialLogitChoice
from recarena.simulators.kernels import row_sum
from recarena.simulators.records import Catalog, Response
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
                     "calendar")


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
            ``calendar`` (the user's day and last return gap; needs a retention model).
        horizon: steps after which the episode is truncated, or ``None``.
        horizon_days: with a retention model, the episode is truncated once the user's
            next session would start at or after this day; ``None``: no limit.
        churn_days: the return gap a churn counts as in the ``retention`` reward.
    """

    user_model: UserModel = field(default_factory=_default_user_model)
    candidates: ResampledCandidates | CorpusCandidates = field(default_factory=_default_candidates)
    slate_size: int = 5
    reward_weights: Mapping[str, float] = field(default_factory=lambda: {"watch_time": 1.0})
    observe: tuple[str, ...] = ("candidates", "response", "history")
    horizon: int | None = 500
    horizon_days: float | None = None
    churn_days: float = 30.0

    def __post_init__(self) -> None:
        if not isinstance(self.user_model, UserModel):
            raise ConfigError("SlateEnvConfig.user_model", self.user_model, "a UserModel")
        if not isinstance(self.candidates, (ResampledCandidates, CorpusCandidates)):
            raise ConfigError("SlateEnvConfig.candidates", self.candidates,
                              "a ResampledCandidates or CorpusCandidates")
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


class SlateCore:
    """The batched machinery shared by :class:`SlateEnv` and
    :class:`~recarena.envs.vector.SlateVectorEnv`: a :class:`SlateWorld`, the single-user
    observation space, and batched observations, rewards and oracle info for all N users.

    Both envs build every output through this class, which is what makes a one-user vector
    env step for step identical to the single env.
    """

    def __init__(self, config: SlateEnvConfig) -> None:
        self.config = config
        self.world = SlateWorld(config.user_model, config.candidates, config.slate_size)
        src = config.candidates
        self.num_candidates = src.num_candidates
        self.slate_size = config.slate_size
        self.reward_terms = tuple((REWARD_SIGNALS[k], float(w))
                                  for k, w in config.reward_weights.items() if w != 0.0)
        self._watch_only = self.reward_terms == (("watch_time", 1.0),)
        #: whether users return between sessions (a retention model)
        self.retention = config.user_model.retention is not None
        self.attraction_link = getattr(config.user_model.choice, "link", None)
        #: catalog size for a fixed corpus; ``None`` when candidates are generated anew
        self.num_items = src.catalog.size if isinstance(src, CorpusCandidates) else None
        self._build_observation_space()

    def candidate_ids(self) -> np.ndarray:
        """``(N, C)`` catalog ids of every user's current candidates (read-only: the world
        draws new candidates every step and never writes to them, so no copy is made)."""
        cands = self.world.candidates
        assert cands is not None
        return cands.item_id

    def _build_observation_space(self) -> None:
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
                                 if getattr(um.signals, model) is not None)
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
        self.observation_space = spaces.Dict(parts)

    def observe(self, out: WorldStep | None, fresh: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Batched observations ``(N, ...)`` of every user, as new arrays.

        ``out`` is the last step (``None`` at reset: nothing shown yet); ``fresh`` is an
        optional int array of rows whose user is new since that step (their response parts
        are zero, as at reset)."""
        world, k = self.world, self.slate_size
        state, cands = world.state, world.candidates
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
                if fresh is not None and fresh.size:
                    obs["response_click"][fresh] = 0
                    obs["response_examined"][fresh] = 0
                    obs["response_watch_time"][fresh] = 0.0
                    for key, _ in self.signal_keys:
                        obs[key][fresh] = 0
        if see["response_quality"]:
            if out is None:
                obs["response_quality"] = np.zeros((state.size, k), np.float32)
            else:
                # every candidate source keeps quality within its quality_bounds(), and
                # float32 rounding is monotone: the cast stays inside the Box
                q = out.slate.quality.astype(np.float32)
                if fresh is not None and fresh.size:
                    q[fresh] = 0.0
                obs["response_quality"] = q
        if see["history"]:
            obs["history_features"] = state.history_features.astype(np.float32)
            obs["history_watch_time"] = np.minimum(
                state.history_watch, self.max_len).astype(np.float32)
        if see["calendar"]:
            obs["day"] = np.minimum(state.day, self.max_day).astype(np.float32)[:, None]
            obs["last_return_gap"] = np.minimum(
                state.last_gap, self.max_day).astype(np.float32)[:, None]
        return obs

    def refresh_rows(self, obs: dict[str, np.ndarray], rows: np.ndarray) -> None:
        """Overwrite the user-dependent parts of ``obs`` at ``rows`` after those users were
        replaced: their interests and history are the new users', their last response is
        empty. Candidates do not depend on the user and stay."""
        state = self.world.state
        assert state is not None
        for key, arr in obs.items():
            if key == "interests":
                arr[rows] = state.interests[rows]
            elif key == "history_features":
                arr[rows] = state.history_features[rows]
            elif key == "history_watch_time":
                arr[rows] = np.minimum(state.history_watch[rows], self.max_len)
            elif key == "day":
                arr[rows, 0] = np.minimum(state.day[rows], self.max_day)
            elif key == "last_return_gap":
                arr[rows, 0] = np.minimum(state.last_gap[rows], self.max_day)
            elif key.startswith("response_"):
                arr[rows] = 0

    def rewards(self, out: WorldStep) -> np.ndarray:
        """``(N,)`` float64 rewards of a step."""
        resp = out.response
        if self._watch_only:  # RecSim's reward, the watch time alone: its row sum as it is
            return row_sum(resp.watch_time)
        reward = None
        for attr, weight in self.reward_terms:
            if attr == "return_gap":
                if reward is None:
                    reward = np.zeros(resp.clicked.shape[0])
                gap = out.return_gap
                ended = ~np.isnan(gap)
                reward[ended] -= weight * np.minimum(gap[ended], self.config.churn_days)
                continue
            term = row_sum(getattr(resp, attr))
            if reward is not None:
                reward += weight * term
            elif weight > 0.0:  # 0.0 + w * s is w * s: signals are >= 0, so no -0.0 arises
                reward = term if weight == 1.0 and term.dtype == np.float64 else weight * term
            else:
                reward = np.zeros(resp.clicked.shape[0])
                reward += weight * term
        return np.zeros(resp.clicked.shape[0]) if reward is None else reward

    def ended(self, out: WorldStep, steps: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
        """``(terminated, truncated)`` per user after a step: terminated when the user is
        gone (left the session, or churned with a retention model); truncated at the step
        ``horizon`` or when the next session starts at or after ``horizon_days``."""
        terminated = out.gone.copy()
        truncated = np.zeros(terminated.shape, dtype=bool)
        cfg = self.config
        if cfg.horizon is None and cfg.horizon_days is None:
            return terminated, truncated
        if cfg.horizon is not None:
            truncated = truncated | (steps >= cfg.horizon)  # steps: an int or an (N,) array
        if cfg.horizon_days is not None:
            state = self.world.state
            assert state is not None
            truncated = truncated | (state.day >= cfg.horizon_days)
        return terminated, truncated & ~terminated

    def oracle(self, copy_scalars: bool = True) -> dict[str, np.ndarray]:
        """Privileged truth about every user and their current candidates, batched.

        ``copy_scalars=False`` hands out the state's own per-user scalar arrays (budget,
        satisfaction, long-term value), for a caller that converts them to numbers at once."""
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
            "budget": state.budget.copy() if copy_scalars else state.budget,
            "satisfaction": state.satisfaction.copy() if copy_scalars else state.satisfaction,
        }
        if self.attraction_link is not None:
            oracle["attraction"] = self.attraction_link(scores)
        if self.retention:
            oracle["long_term"] = state.long_term.copy() if copy_scalars else state.long_term
        return oracle


    # ----------------------------------------------------------------- info
    def step_info(self, out: WorldStep) -> dict[str, Any]:
        """Batched per-step info of the vector env (what happened in the step just taken)."""
        info: dict[str, Any] = {"response": out.response, "slate_item_ids": out.slate.item_id,
                                "slate_topics": out.slate.topic,
                                "slate_creator_ids": out.slate.creator_id}
        if self.retention:
            state = self.world.state
            assert state is not None
            info["day"] = state.day.copy()
            info["session_ended"] = out.response.left.copy()
            # Gymnasium's masked-info convention: a value where the mask is True, 0 elsewhere
            info["return_gap"] = np.where(info["session_ended"], out.return_gap, 0.0)
            info["_return_gap"] = info["session_ended"].copy()
        return info

    def single_info(self, out: WorldStep | None) -> dict[str, Any]:
        """The single env's info: row 0 of everything, scalars as Python floats."""
        oracle = first_rows(self.oracle(copy_scalars=False))
        oracle["budget"] = float(oracle["budget"])
        oracle["satisfaction"] = float(oracle["satisfaction"])
        if "long_term" in oracle:
            oracle["long_term"] = float(oracle["long_term"])
        state = self.world.state
        assert state is not None
        info: dict[str, Any] = {"oracle": oracle, "user_id": int(state.user_id[0]),
                                "candidate_ids": self.candidate_ids()[0]}
        if out is not None:
            info["response"] = response = Response._make(map(first_row, out.response))
            info["examined"] = response.examined
            slate = out.slate
            info["slate_item_ids"] = slate.item_id[0]
            info["slate_topics"] = topics = slate.topic[0]
            # one creator per topic (the generated catalogs) makes them the same array
            info["slate_creator_ids"] = topics if slate.creator_id is slate.topic else slate.creator_id[0]
            if self.retention:
                info["day"] = float(state.day[0])
                info["session_ended"] = bool(out.response.left[0])
                if info["session_ended"]:  # days until the next session; inf on churn
                    info["return_gap"] = float(out.return_gap[0])
        return info

    def render_row(self, row: int, out: WorldStep | None, detail: bool) -> list[str]:
        """Text lines about the user in ``row``; ``detail``: one line per shown item."""
        state = self.world.state
        assert state is not None
        head = (f"user {int(state.user_id[row])}: budget={state.budget[row]:.2f} "
                f"satisfaction={state.satisfaction[row]:.2f}")
        if out is None:
            return [head]
        r, s = out.response, out.slate
        if not detail:
            return [head + f" clicked={r.clicked[row].astype(int).tolist()}"]
        lines = [head]
        for k in range(self.slate_size):
            lines.append(
                f"  #{k} item={int(s.item_id[row, k])} topic={int(s.topic[row, k])} "
                f"q={s.quality[row, k]:+.2f} clicked={bool(r.clicked[row, k])} "
                f"watch={r.watch_time[row, k]:.2f}")
        return lines


class SlateEnv(gym.Env):
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

    metadata = {"render_modes": ["ansi"], "render_fps": 4}
    #: The batched machinery behind the env (and behind its vector env).
    core_class: type = SlateCore
    #: The configuration type this family takes.
    config_class: type = SlateEnvConfig
    #: Config fields holding parameter dataclasses whose own fields the constructor also
    #: takes as keywords (``gym.make(id, sensitivity=0.2)`` sets ``config.users.sensitivity``).
    nested_configs: tuple[str, ...] = ()

    def __init__(self, config: SlateEnvConfig | None = None, render_mode: str | None = None,
                 **overrides: Any) -> None:
        config = self.make_config(config, **overrides)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError("render_mode", render_mode, "None or 'ansi'")
        self.config = config
        self.render_mode = render_mode
        self.core = self.core_class(config)
        self.world = self.core.world
        self.num_candidates = self.core.num_candidates
        self.slate_size = self.core.slate_size
        self.action_space = SlateSpace(self.num_candidates, self.slate_size)
        self.observation_space = self.core.observation_space
        self._t = 0
        self._done = True
        self._last: WorldStep | None = None

    @classmethod
    def default_config(cls) -> SlateEnvConfig:
        """The configuration used when none is given."""
        return SlateEnvConfig()

    @classmethod
    def config_arguments(cls, config: Any = None, own_only: bool = False) -> list[str]:
        """The keyword arguments :meth:`make_config` (and so the constructor and the vector
        env) takes: this family's own (``shuffle`` for Cascade-v0), then the configuration's
        fields and those of its :attr:`nested_configs`."""
        import inspect

        names = [p.name for p in inspect.signature(cls.make_config).parameters.values()
                 if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "config"]
        if own_only:
            return names
        names += [f.name for f in dataclasses.fields(cls.config_class)]
        if cls.nested_configs:
            config = cls.default_config() if config is None else config
            for name in cls.nested_configs:
                names += [f.name for f in dataclasses.fields(getattr(config, name))]
        return list(dict.fromkeys(names))

    @classmethod
    def make_config(cls, config: SlateEnvConfig | None = None, **overrides: Any) -> SlateEnvConfig:
        """The configuration this env's constructor builds from its arguments (the vector
        env of the same family builds its configuration through the same method)."""
        if config is None:
            config = cls.default_config()
        return cls.apply_overrides(config, overrides)

    @classmethod
    def family_config(cls, config: SlateEnvConfig | None, build: Any, family: dict[str, Any],
                      overrides: dict[str, Any]) -> SlateEnvConfig:
        """A family's :meth:`make_config`: its own arguments (``family``, ``None`` where not
        given) either build the configuration or change a given one.

        Without ``config``, ``build(**given)`` makes it (the builder holds the defaults).
        With ``config``, a given family argument that is a configuration field
        (``slate_size``, ``horizon``) applies to it like any other override; one that only
        shapes what the builder makes (Cascade's ``attraction``, MovieLens' ``fitted``)
        cannot, and is a ``ConfigError`` instead of being silently dropped.
        """
        given = {key: value for key, value in family.items() if value is not None}
        if config is None:
            return cls.apply_overrides(build(**given), overrides)
        fields = set(cls.config_arguments(config)) - set(cls.config_arguments(config, own_only=True))
        fields |= {f.name for f in dataclasses.fields(cls.config_class)}
        builder_only = [key for key in given if key not in fields]
        if builder_only:
            raise ConfigError(cls.__name__, builder_only,
                              "either config= or the arguments that build one, not both: "
                              f"{', '.join(builder_only)} only shape a configuration built "
                              "from them (pass them without config=, or change the config "
                              "itself)")
        return cls.apply_overrides(config, {**given, **overrides})

    @classmethod
    def apply_overrides(cls, config: SlateEnvConfig, overrides: dict[str, Any]) -> SlateEnvConfig:
        """``config`` with ``overrides`` (its fields, or those of its nested configurations);
        every unknown name is reported at once with the allowed ones."""
        overrides = dict(overrides)
        if not isinstance(config, cls.config_class):
            raise ConfigError("config", config, f"a {cls.config_class.__name__} or None")
        allowed = cls.config_arguments(config) if overrides else []
        unknown = [k for k in overrides if k not in allowed]
        if unknown:  # every unknown name at once, with the family's own arguments listed
            own = cls.config_arguments(config, own_only=True)
            raise ConfigError(cls.__name__ if own else cls.config_class.__name__,
                              unknown[0] if len(unknown) == 1 else unknown,
                              "a field among " + ", ".join(allowed))
        nested = {name: {k: overrides.pop(k) for k in list(overrides)
                         if k in {f.name for f in dataclasses.fields(getattr(config, name))}}
                  for name in cls.nested_configs}
        if overrides:
            config = config.replace(**overrides)
        changes = {name: dataclasses.replace(getattr(config, name), **kw)
                   for name, kw in nested.items() if kw}
        return config.replace(**changes) if changes else config

    def snapshot(self) -> tuple:
        """The env's full state (world, random streams, step counter) for :meth:`restore`."""
        return (self.world.snapshot(), self._t, self._done, self._last)

    def restore(self, snap: tuple) -> None:
        """Go back to a :meth:`snapshot`: the continuation is the same as after it was taken."""
        world, self._t, self._done, self._last = snap
        self.world.restore(world)

    # ----------------------------------------------------------------- API
    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start a new user's episode.

        With a ``seed`` (or on the first reset) the world restarts from the env's generator
        (``self.np_random``). Without one, the world goes on with its own random streams
        and a new user replaces the last one, exactly as a finished user is replaced in the
        vector env: episode ``j`` of a single env is user ``j`` of a one-user vector env."""
        super().reset(seed=seed)
        if seed is not None or self.world.state is None:
            self.world.reset(1, self.np_random)
        else:
            self.world.replace_users(np.zeros(1, dtype=np.int64))
        self._t = 0
        self._done = False
        self._last = None
        return self._observe(None), self._info(None)

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if self._done:
            raise ResetNeeded("step() called before reset() or after the episode ended; "
                              "call reset() first")
        core = self.core
        out = self.world.step(self.action_space.validate(action)[None, :])
        self._last = out
        reward = float(core.rewards(out)[0]) + 0.0  # + 0.0: never a negative zero
        self._t += 1
        term, trunc = core.ended(out, self._t)
        terminated, truncated = bool(term[0]), bool(trunc[0])
        self._done = terminated or truncated
        return first_rows(core.observe(out)), reward, terminated, truncated, core.single_info(out)

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        lines = [f"step {self._t}"]
        if self.world.state is not None:
            lines += self.core.render_row(0, self._last, detail=True)
        return "\n".join(lines)

    # ----------------------------------------------------------------- helpers
    def _observe(self, out: WorldStep | None) -> dict[str, np.ndarray]:
        return first_rows(self.core.observe(out))

    def _info(self, out: WorldStep | None) -> dict[str, Any]:
        return self.core.single_info(out)
