"""The platform view of a creator ecosystem (``recarena/CreatorEcosystem-v0``): the
recommender is the agent, creators follow their own models, users the standard user model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recarena.envs.core import EnvConfig
from recarena.envs.slate import SlateCore, SlateEnv, SlateEnvConfig, _default_user_model
from recarena.errors import ConfigError
from recarena.simulators.creators import CreatorParams, CreatorWorld, LiveCatalog
from recarena.simulators.creators.world import CreatorPolicy
from recarena.simulators.users import UserModel
from recarena.simulators.world import WorldStep
from recarena.validation import check_choice, check_int

__all__ = ["CreatorEcosystemConfig", "CreatorEcosystemCore", "CreatorEcosystemEnv",
           "llm_creators"]

#: the keywords of LLM creators (``creators="llm"``) besides ``creators``
LLM_CREATOR_ARGUMENTS = ("llm", "llm_fraction", "llm_seed", "llm_history", "topic_names")


def llm_creators(llm: Any, llm_fraction: float = 1.0, llm_seed: int = 0,
                 llm_history: int = 3, topic_names: Any = None) -> Any:
    """The :class:`~recarena.simulators.llm.creators.LLMCreators` of ``creators="llm"``:
    ``llm`` a dict of :class:`~recarena.simulators.llm.LLMConfig` fields, an
    ``LLMConfig`` (the policy then owns the backend it makes) or a backend."""
    from recarena.simulators.llm.config import env_backend
    from recarena.simulators.llm.creators import LLMCreators

    llm, owns = env_backend(llm, "CreatorEcosystemEnv", "creators='llm'")
    try:
        return LLMCreators(llm, topic_names=topic_names, llm_fraction=llm_fraction,
                           llm_seed=llm_seed, history=llm_history, owns_backend=owns)
    except ConfigError:
        if owns:
            llm.close()
        raise


@dataclass(frozen=True)
class CreatorEcosystemConfig(EnvConfig):
    """Everything that defines a creator-ecosystem env. Invalid values raise ``ConfigError``.

    Attributes:
        horizon: requests after which a user's episode is truncated, or ``None``.
        user_model: the users (default: ``Slate-v0``'s: multinomial logit choice,
            interest evolution, satiation, novelty, time budget, satisfaction leave,
            watch/like/share/follow signals).
        creators: the creators' parameters (:class:`~recarena.simulators.creators.CreatorParams`).
        num_topics: T; an item's features are its one-hot topic.
        num_candidates: C, live items drawn uniformly per user and request.
        slate_size: K.
        round_length: requests (env steps) per creator round.
        reward_weights: the recommender's reward, as in
            :class:`~recarena.envs.slate.SlateEnvConfig` (``click``, ``watch_time``,
            ``like``, ``share``, ``follow``).
        observe: observation parts, as in :class:`~recarena.envs.slate.SlateEnvConfig`
            (``interests``, ``candidates``, ``response``, ``response_quality``, ``history``).
        num_item_ids: the item id space (ids wrap around; see
            :class:`~recarena.simulators.creators.LiveCatalog`); ``None``: 8 times the
            most items that can be live at once.
        creator_policy: ``None`` (the creators follow their own models) or a
            :class:`~recarena.simulators.creators.world.CreatorPolicy` that decides for
            them every round (LLM creators:
            :class:`~recarena.simulators.llm.creators.LLMCreators`, what
            ``creators="llm"`` builds).
    """

    horizon: int | None = 200
    user_model: UserModel = field(default_factory=_default_user_model)
    creators: CreatorParams = field(default_factory=CreatorParams)
    num_topics: int = 20
    num_candidates: int = 20
    slate_size: int = 5
    round_length: int = 10
    reward_weights: Mapping[str, float] = field(default_factory=lambda: {"watch_time": 1.0})
    observe: tuple[str, ...] = ("candidates", "response", "history")
    num_item_ids: int | None = None
    creator_policy: Any = None

    def __post_init__(self) -> None:
        super().__post_init__()
        name = "CreatorEcosystemConfig"
        if not isinstance(self.creators, CreatorParams):
            raise ConfigError(f"{name}.creators", self.creators, "a CreatorParams")
        check_int(self.num_topics, f"{name}.num_topics", 1)
        check_int(self.round_length, f"{name}.round_length", 1)
        if self.creator_policy is not None and not isinstance(self.creator_policy,
                                                              CreatorPolicy):
            raise ConfigError(f"{name}.creator_policy", self.creator_policy,
                              "None or a CreatorPolicy (e.g. LLMCreators)")
        if not isinstance(self.user_model, UserModel):
            raise ConfigError(f"{name}.user_model", self.user_model, "a UserModel")
        if self.user_model.retention is not None:
            raise ConfigError(f"{name}.user_model.retention", self.user_model.retention,
                              "None (users of this env have no calendar)")
        slate = self.slate_config(self.catalog())  # checks the slate fields
        object.__setattr__(self, "reward_weights", slate.reward_weights)
        object.__setattr__(self, "observe", slate.observe)

    #: users of this env have no calendar (what the slate core reads of a retention setup)
    horizon_days = None
    churn_days = 30.0

    def catalog(self) -> LiveCatalog:
        """A new, empty live catalog of this configuration (every world owns its own)."""
        return LiveCatalog(self.num_topics, self.num_candidates, self.creators, self.num_item_ids)

    def slate_config(self, catalog: LiveCatalog) -> SlateEnvConfig:
        """The slate env configuration of the users' side over ``catalog``."""
        return SlateEnvConfig(user_model=self.user_model, candidates=catalog,
                              slate_size=self.slate_size, reward_weights=self.reward_weights,
                              observe=self.observe, horizon=self.horizon)


class CreatorEcosystemCore(SlateCore):
    """The slate core over a :class:`~recarena.simulators.creators.CreatorWorld`: the
    users' side is :class:`~recarena.envs.slate.SlateCore`'s; each step whose request
    ends a creator round adds ``info["creator_round"]``."""

    def __init__(self, config: CreatorEcosystemConfig) -> None:
        catalog = config.catalog()
        super().__init__(config.slate_config(catalog))
        self.world = CreatorWorld(config.user_model, catalog, config.slate_size,
                                  config.round_length, config.creator_policy)
        self.num_items = catalog.num_item_ids
        self.config = config  # (the slate core read what it needs of the slate configuration)

    def user_info(self) -> dict[str, Any]:
        """:class:`~recarena.envs.slate.SlateCore`'s, plus ``candidate_creator_ids``
        ``(N, C)``: who made each candidate (public: a platform knows its creators; the
        fair re-rankers group exposure by it)."""
        return super().user_info() | {
            "candidate_creator_ids": self.world.candidates.creator_id.astype(np.int64)}

    def extra_info(self, out: WorldStep) -> dict[str, Any]:
        report = self.world.round_report
        return {} if report is None else {"creator_round": report}

    def render_row(self, row: int, out: Any | None, detail: bool) -> list[str]:
        """The slate core's lines, the first one with the creators' state."""
        lines = super().render_row(row, out, detail)
        world = self.world
        lines[0] += (f" | creator round {world.population.round}: "
                     f"{int(world.population.alive.sum())} creators, "
                     f"{world.catalog.size} live items")
        return lines


class CreatorEcosystemEnv(SlateEnv):
    """A recommender facing users *and* strategic creators (``recarena/CreatorEcosystem-v0``).

    The platform view of issue 19's creator world: the recommender is the agent; users are
    the standard slate-world users (:class:`~recarena.envs.slate.SlateEnv`'s default user
    model, with interest evolution); creators follow their own models
    (:mod:`recarena.simulators.creators.population`): they believe what their *own*
    feedback tells them (CreAgent's information asymmetry, Wang et al. SIGIR 2025), choose
    what to produce by fast thinking (a softmax over beliefs) and revise strategy and
    effort by slow thinking, leave after ``window`` rounds of engagement below a threshold
    (RecSim NG's ``ViableCorpus``), and enter at a Poisson rate. The catalog grows and
    shrinks: the candidates of every request are drawn from the items live now.

    Two clocks: every step is one request of the user; every ``round_length`` steps (of
    the world: in a vector env, of all users together) a creator round ends.

    **Action space**: ``SlateSpace(20, 5)``: K distinct indices of the C candidates.

    **Observation space** (``Dict``, as :class:`~recarena.envs.slate.SlateEnv`'s for the
    default parts): ``candidate_features`` ``Box(0, 1, (20, 20))`` (one-hot topics),
    ``response_click``, ``response_examined``, ``response_liked``, ``response_shared``,
    ``response_followed`` ``MultiBinary(5)``, ``response_watch_time`` ``Box(0, 6, (5,))``,
    ``history_features`` ``Box(0, 1, (10, 20))``, ``history_watch_time`` ``Box(0, 6, (10,))``.

    **Reward**: ``sum_s reward_weights[s] * sum_k signal_s[k]`` (default: minutes watched).

    **Episode end**: ``terminated`` when the user leaves (time budget spent or
    satisfaction collapsed); ``truncated`` after ``horizon`` (200) requests. The creators
    and the catalog carry over from user to user; ``reset(seed=...)`` restarts them.

    **Info**: as :class:`~recarena.envs.slate.SlateEnv`'s: ``user_id``, ``candidate_ids``
    (item ids, in ``[0, num_items)``), ``candidate_creator_ids`` (who made each
    candidate), ``slate_item_ids``, ``slate_topics``,
    ``slate_creator_ids`` (whose items were shown: public, what a platform knows),
    ``response``, ``examined``, and ``oracle`` (``scores``, ``quality``, ``length`` of the
    candidates, ``interests``, ``budget``, ``satisfaction``, ``attraction``: what the
    reference policies ``greedy_oracle`` and ``quality_bonus_oracle`` read). On a step
    that ends a creator round, ``creator_round``
    (:class:`~recarena.simulators.creators.CreatorRound`): ``round``, ``step``,
    ``creators`` (one row per creator alive in the round: ``creator_id``,
    ``entered_round``, ``alive``, ``left``, ``topic``, ``home_topic``, ``effort``,
    ``items``, ``live_items``, ``exposure``, ``clicks``, ``watch_time``, ``income``) and
    ``catalog`` (one row per topic: ``topic``, ``live_items``, ``new_items``,
    ``exposure``, ``clicks``, ``watch_time``): the event log's ``creators`` and
    ``catalog`` tables.

    **Arguments**: any :class:`CreatorEcosystemConfig` field, or any
    :class:`~recarena.simulators.creators.CreatorParams` field (``entry_rate``,
    ``window``, ``item_lifetime``, ``income_weights``, ...) as a keyword; ``creators``
    (also ``"model"`` or ``"llm"``), ``llm``, ``llm_fraction``, ``llm_seed``,
    ``llm_history``, ``topic_names``; ``render_mode``. Recommenders matter to creators: exposure decides clicks, clicks
    decide viability, so a popularity recommender that keeps showing old hits starves new
    creators (shorter ``item_lifetime`` and ``window`` make that faster).

    **Controlled creators**: ``env.unwrapped.world.creator_actions = {"topic": (M,) int,
    "effort": (M,) float}`` (optionally ``"mask": (M,) bool``, the slots steered) before
    the step that ends a round sets that round's production (see
    :class:`~recarena.simulators.creators.CreatorWorld`).

    **LLM creators** (``creators="llm"``; default ``"model"``): at the end of every round
    an LLM plays each creator that stays, CreAgent style
    (:class:`~recarena.simulators.llm.creators.LLMCreators`): it reads only its own
    feedback and beliefs and writes its next items' topic, effort, title and description;
    a failed reply leaves that creator to its model. ``llm``: the backend (a dict of
    :class:`~recarena.simulators.llm.LLMConfig` fields, an ``LLMConfig`` or an
    ``LLMBackend``; leave ``api_key`` out of scenario files: ``$OPENAI_API_KEY`` is read
    instead); ``llm_fraction`` of the creators (by a hash of the creator id, seeded by
    ``llm_seed``) are LLM-played; ``llm_history`` rounds of feedback are reviewed on a
    slow-thinking round; ``topic_names`` name the topics in prompts. The round report's
    ``creators`` then also has ``decided_by`` (``llm``, ``cache``, ``fallback``,
    ``model``), ``title`` and ``reason``, and the event log's ``creators`` table a
    ``decided_by`` column; the items' texts are in ``world.catalog.text``
    (:class:`~recarena.simulators.llm.creators.CreatorItemTexts` reads them for LLM users).

    **Version history**: v0: initial version.

    >>> import gymnasium as gym, recarena
    >>> env = gym.make("recarena/CreatorEcosystem-v0", round_length=2)
    >>> obs, info = env.reset(seed=0)
    >>> _ = env.step(env.action_space.sample())
    >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    >>> info["creator_round"]["round"], sorted(info["creator_round"]["catalog"])[:3]
    (0, ['clicks', 'exposure', 'live_items'])
    """

    vector_notes = ('Every step of the vector env is one request of every user; a creator '
                    'round ends every ``round_length`` steps. ``info["creator_round"]`` '
                    'is the same :class:`~recarena.simulators.creators.CreatorRound` as '
                    "the single env's (per creator and per topic, not per user).")

    core_class = CreatorEcosystemCore
    config_class = CreatorEcosystemConfig
    nested_configs = ("creators",)

    @classmethod
    def config_arguments(cls, config: Any = None, own_only: bool = False) -> list[str]:
        """:meth:`CoreEnv.config_arguments`, plus the LLM creators' keywords."""
        names = super().config_arguments(config, own_only)
        return names if own_only else names + list(LLM_CREATOR_ARGUMENTS)

    @classmethod
    def make_config(cls, config: Any = None, **arguments: Any) -> Any:
        """As :meth:`CoreEnv.make_config`; ``creators="model"`` (the default) or
        ``"llm"`` with ``llm`` and the other LLM creator keywords
        (:func:`llm_creators`) sets ``creator_policy``."""
        mode = arguments.get("creators")
        llm = {k: arguments.pop(k) for k in LLM_CREATOR_ARGUMENTS if k in arguments}
        if isinstance(mode, str):
            del arguments["creators"]
            check_choice(mode, f"{cls.__name__}.creators", ("model", "llm"))
        else:  # absent, or a CreatorParams: the config's creators
            mode = None
        if mode is None and not llm:
            return super().make_config(config, **arguments)
        if mode != "llm" and llm:
            raise ConfigError(f"{cls.__name__}.creators", mode,
                              "'llm' when " + ", ".join(llm) + " is given")
        if mode == "llm" and "llm" not in llm:
            raise ConfigError(f"{cls.__name__}.llm", None,
                              "the LLM backend (a dict of LLMConfig fields, an LLMConfig or "
                              "an LLMBackend) with creators='llm'")
        built = super().make_config(config, **arguments)
        if mode == "model":
            return built if built.creator_policy is None else built.replace(creator_policy=None)
        return built.replace(creator_policy=llm_creators(**llm))

    def close(self) -> None:
        """Close the LLM backend the env made for its LLM creators (``creators="llm"``)."""
        policy = self.config.creator_policy
        if callable(getattr(policy, "close", None)):
            policy.close()
        super().close()
