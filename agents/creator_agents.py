"""The creators' view of the creator ecosystem: a PettingZoo env whose agents are creators.

:class:`CreatorAgentsParallelEnv` is the multi-agent side of ``recarena/CreatorEcosystem-v0``
(:mod:`recarena.envs.creator_ecosystem`, the platform view): the same world
(:class:`~recarena.simulators.creators.CreatorWorld`), but the creators are the agents
and the recommender is part of the environment. Because a recommender policy runs inside
it, it lives in the agents layer (``simulators -> envs -> agents``), above both. :func:`parallel_env` builds it (PettingZoo's
Parallel API) and :func:`env` wraps it for the AEC API through PettingZoo's own
``parallel_to_aec``::

    from recarena.agents import creator_agents
    env = creator_agents.parallel_env(recommender="popular", users=64, max_rounds=50)
    observations, infos = env.reset(seed=0)
    while env.agents:
        actions = {a: env.action_space(a).sample() for a in env.agents}
        observations, rewards, terminations, truncations, infos = env.step(actions)

Needs PettingZoo (``pip install 'recarena[multiagent]'``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from recarena.envs.creator_ecosystem import CreatorEcosystemEnv
from recarena.errors import ConfigError, InvalidSlate, ResetNeeded
from recarena.validation import check_choice, check_float, check_int

try:
    from pettingzoo import ParallelEnv
    from pettingzoo.utils.conversions import parallel_to_aec
except ImportError as _exc:  # pragma: no cover - the multiagent extra is installed in CI
    raise ImportError("recarena.agents.creator_agents needs PettingZoo: pip install "
                      f"'recarena[multiagent]' ({_exc})") from None

__all__ = ["CREATOR_REWARDS", "CreatorAgentsParallelEnv", "env", "parallel_env"]

#: what a creator's reward counts (``reward``): its items' impressions, clicks, minutes
#: watched in the round, or the income the configured ``income_weights`` pay for them
CREATOR_REWARDS = ("exposure", "clicks", "watch_time", "income")

#: the observation entries with a history axis: ``(history, T)`` each
_HISTORY = ("exposure", "clicks", "watch_time", "made")


def _strip_oracle(info: dict[str, Any]) -> dict[str, Any]:
    """The info without its privileged ``oracle`` entry (what a non-oracle policy sees)."""
    return {key: value for key, value in info.items() if key != "oracle"}


class CreatorAgentsParallelEnv(ParallelEnv):
    """Creators as agents in a platform whose recommender is fixed (PettingZoo Parallel API).

    The world is ``recarena/CreatorEcosystem-v0``'s: N users (the standard slate-world
    users) request slates of K from C candidates drawn from the live catalog, and a
    recommender policy (any recarena policy, by registry name or as an object) picks the
    slates; items stay ``item_lifetime`` rounds; creators leave after ``window``
    non-viable rounds (RecSim NG's ``ViableCorpus``, Mladenov et al. 2021) and enter at a
    Poisson rate. Here the creators' decisions are the agents' actions, and each creator
    sees only its *own* numbers (the information asymmetry of CreAgent, Wang et al. SIGIR
    2025): never the recommender, the users or another creator's data.

    **One step** is one creator round: the recommender serves ``round_length`` requests of
    all N users (learning from their responses if it is an online policy); then every
    creator gets the round's feedback on its items, creators whose engagement stayed
    below ``viability_threshold`` for ``window`` rounds leave, new ones enter, and every
    live creator makes ``budget`` items on the topic and at the effort its action chose.
    Those items go live at the start of the next round and stay ``item_lifetime`` rounds,
    so an action's reward comes in the following steps.

    **Agents**: ``"creator_<id>"``, ``id`` the creator id of the event log's ``creators``
    table (ids count up from 0 and are never reused). ``agents`` are the creators alive
    now; a creator that leaves is *terminated* in the step it leaves; a creator that
    enters appears in ``agents`` after the step (with a reward of 0 for it; those entering
    at the end of the last round are not agents of the episode).
    ``possible_agents`` are every id that can occur before the episode ends: the initial
    creators plus at most ``num_creators`` entries per round, ``initial_creators +
    num_creators * max_rounds`` names. (A creator slot is reused by entrants, so slots
    cannot be agents: PettingZoo forbids reviving an agent.)

    **Action space** (per agent): ``MultiDiscrete([T, E])``: the topic of every item the
    creator makes this round, and the index of its effort in ``effort_levels`` (default
    ``(0.25, 0.5, 0.75, 1.0)``, E = 4). Quality is ``quality_low + (quality_high -
    quality_low) * expertise[topic] * effort`` plus noise, so effort buys quality on the
    creator's expert topics. ``step({})`` (no actions at all) is a round in which every
    creator follows its own model instead (fast and slow thinking of
    :mod:`recarena.simulators.creators.population`): with it the env reproduces
    ``recarena/CreatorEcosystem-v0`` exactly. An action for some live creators but not
    all is refused (the population is controlled as a whole). A creator entering at a
    round's end makes its first items before it has acted, by its own model (fast
    thinking on its initial beliefs), whatever was submitted for its slot.

    **Observation space** (per agent, ``Dict`` of float32 ``Box``, row 0 of a history the
    round just played, H = ``history``):

    * ``exposure``, ``clicks``, ``watch_time`` ``(H, T)``: impressions, clicks and minutes
      watched of the creator's items per topic in each of its last H rounds (zeros before
      it entered);
    * ``made`` ``(H, T)``: the items it made per topic at the end of each of those rounds;
    * ``live_items`` ``(T,)``: its items in the catalog now, per topic;
    * ``budget`` ``(1,)`` (items per round), ``effort`` ``(1,)`` (its current effort),
      ``age`` ``(1,)`` (rounds since it entered), ``round`` ``(1,)`` (rounds played).

    Bounds: impressions and clicks at most ``N * K * round_length`` per round, minutes
    that times ``length_high``, items made at most ``budget_high``, live items at most
    ``budget_high * item_lifetime + C``.

    **Reward** (per agent, ``reward``): the creator's ``exposure`` (default),
    ``clicks``, ``watch_time`` or ``income`` in the round just played.

    **Episode end**: a creator is terminated when it leaves; every creator is truncated
    after ``max_rounds`` steps. Stepping after that (``agents`` empty) raises
    ``ResetNeeded``.

    **Info** (per agent): ``creator_id``, ``slot`` (its creator slot), ``home_topic``
    (argmax of its expertise), ``entered_round`` (-1: present at reset). The env keeps the
    last round's platform-side numbers in :attr:`round_report` (the
    :class:`~recarena.simulators.creators.CreatorRound` of ``info["creator_round"]``) and
    :attr:`user_reward` (the users' mean reward per request in the round).

    **Arguments**: ``recommender`` (a registered policy name, default ``"greedy_oracle"``,
    or a policy object with ``recommend(obs, info)`` and ``reset()``, optionally
    ``update(obs, slates, response, reward, info)`` and ``is_oracle``),
    ``recommender_args`` (keyword arguments of a named policy), ``users`` (N, default 64),
    ``reward``, ``max_rounds`` (default 100), ``history`` (default 5), ``effort_levels``,
    ``render_mode`` (``None`` or ``"ansi"``), and every argument of
    ``recarena/CreatorEcosystem-v0`` (:class:`~recarena.envs.creator_ecosystem.CreatorEcosystemConfig`
    fields and :class:`~recarena.simulators.creators.CreatorParams` fields such as
    ``num_creators``, ``entry_rate``, ``window``, ``round_length``). A policy that does not
    fit (wrong slate size, privileged truth the env lacks, bad slates) is a
    ``ConfigError`` naming the recommender; after a bad slate mid-round the world is put
    back to the round's start (the recommender keeps what it learned).

    **Randomness**: ``reset(seed=s)`` seeds the world exactly as
    ``CreatorEcosystem-v0``'s ``reset(seed=s)``; the entrants' first topics come from a
    separate stream of the same seed. ``reset()`` without a seed starts a new world from
    the env's own stream.

    >>> from recarena.agents import creator_agents
    >>> env = creator_agents.parallel_env(users=4, num_creators=6, round_length=2,
    ...                                   recommender="random", max_rounds=3)
    >>> obs, infos = env.reset(seed=0)
    >>> env.agents[:3], env.action_space("creator_0")
    (['creator_0', 'creator_1', 'creator_2'], MultiDiscrete([20  4]))
    >>> obs, rewards, terms, truncs, infos = env.step(
    ...     {a: env.action_space(a).sample() for a in env.agents})
    >>> sorted(obs["creator_0"])[:3], obs["creator_0"]["exposure"].shape
    (['age', 'budget', 'clicks'], (5, 20))
    """

    metadata = {"render_modes": ["ansi"], "name": "creator_ecosystem_v0",
                "is_parallelizable": True}

    def __init__(self, recommender: Any = "greedy_oracle",
                 recommender_args: Mapping[str, Any] | None = None, users: int = 64,
                 reward: str = "exposure", max_rounds: int = 100, history: int = 5,
                 effort_levels: tuple[float, ...] | list[float] = (0.25, 0.5, 0.75, 1.0),
                 render_mode: str | None = None, **world: Any) -> None:
        from recarena.envs.vector import CreatorEcosystemVectorEnv

        owner = type(self).__name__
        self.users = check_int(users, f"{owner}.users", 1)
        self.reward_name = check_choice(reward, f"{owner}.reward", CREATOR_REWARDS)
        self.max_rounds = check_int(max_rounds, f"{owner}.max_rounds", 1)
        self.history = check_int(history, f"{owner}.history", 1)
        if isinstance(effort_levels, (str, bytes)) or not hasattr(effort_levels, "__len__") \
                or len(effort_levels) == 0:
            raise ConfigError(f"{owner}.effort_levels", effort_levels,
                              "a non-empty sequence of efforts in [0, 1]")
        self.effort_levels = tuple(check_float(e, f"{owner}.effort_levels[{i}]", 0.0, 1.0)
                                   for i, e in enumerate(effort_levels))
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ConfigError(f"{owner}.render_mode", render_mode,
                              "None or one of " + ", ".join(self.metadata["render_modes"]))
        self.render_mode = render_mode
        config = CreatorEcosystemEnv.make_config(**world)
        #: the platform view this env drives (``users`` rows): its world is the creators'
        self.platform = CreatorEcosystemVectorEnv(num_envs=self.users, config=config)
        self.config = config
        p = config.creators
        self.num_topics, self.num_slots = config.num_topics, p.num_creators
        self.round_length = config.round_length
        self.recommender = self._build_recommender(recommender, recommender_args)
        self._learn = callable(getattr(self.recommender, "update", None))
        self._oracle = bool(getattr(self.recommender, "is_oracle", False))
        self.possible_agents = [f"creator_{i}" for i in
                                range(p.alive_at_reset + p.num_creators * self.max_rounds)]
        self._agent_index = {a: i for i, a in enumerate(self.possible_agents)}
        t, h = self.num_topics, self.history
        n_imp = float(self.users * config.slate_size * self.round_length)
        self._bounds = {"exposure": n_imp, "clicks": n_imp,
                        "watch_time": n_imp * p.length_high, "made": float(p.budget_high)}
        self._obs_template = {
            **{k: ((h, t), self._bounds[k]) for k in _HISTORY},
            "live_items": ((t,), float(p.budget_high * p.item_lifetime + config.num_candidates)),
            "budget": ((1,), float(p.budget_high)), "effort": ((1,), 1.0),
            "age": ((1,), float(self.max_rounds + 1)), "round": ((1,), float(self.max_rounds)),
        }
        self._observation_spaces: dict[str, spaces.Dict] = {}
        self._action_spaces: dict[str, spaces.MultiDiscrete] = {}
        self.agents: list[str] = []
        self._rng: np.random.Generator | None = None
        self.round_report: Any = None
        self.user_reward = float("nan")
        self._needs_reset = True

    # ------------------------------------------------------------------ spaces
    def _known(self, agent: Any) -> str:
        if agent not in self._agent_index:
            shown = ", ".join(self.agents[:8]) + (" ..." if len(self.agents) > 8 else "")
            raise ConfigError("agent", agent,
                              f"an agent among possible_agents (creator_0 ... "
                              f"{self.possible_agents[-1]}); live now: {shown or 'none'}")
        return agent

    def observation_space(self, agent: str) -> spaces.Dict:
        """The agent's observation space (the same object on every call, as PettingZoo asks)."""
        space = self._observation_spaces.get(agent)
        if space is None:
            self._known(agent)
            space = self._observation_spaces[agent] = spaces.Dict({
                key: spaces.Box(0.0, high, shape, dtype=np.float32)
                for key, (shape, high) in self._obs_template.items()})
        return space

    def action_space(self, agent: str) -> spaces.MultiDiscrete:
        """The agent's action space (the same object on every call, as PettingZoo asks)."""
        space = self._action_spaces.get(agent)
        if space is None:
            self._known(agent)
            space = self._action_spaces[agent] = spaces.MultiDiscrete(
                [self.num_topics, len(self.effort_levels)], dtype=np.int64)
        return space

    # ------------------------------------------------------------------ recommender
    def _build_recommender(self, recommender: Any, args: Mapping[str, Any] | None) -> Any:
        owner = f"{type(self).__name__}.recommender"
        if isinstance(recommender, str):
            if args is not None and not isinstance(args, Mapping):
                raise ConfigError(f"{owner}_args", args, "a mapping of the policy's arguments")
            from recarena.agents.registry import make_policy

            try:
                return make_policy(recommender, self.platform, **dict(args or {}))
            except ConfigError as exc:
                raise ConfigError(f"{owner} ({exc.field})", exc.received, exc.expected) from exc
        if args:
            raise ConfigError(f"{owner}_args", dict(args),
                              "nothing when the recommender is an object (its arguments are "
                              "its constructor's)")
        for method in ("recommend", "reset"):
            if not callable(getattr(recommender, method, None)):
                raise ConfigError(owner, recommender,
                                  "a registered policy name or a policy with recommend(obs, "
                                  f"info) and reset() (it has no {method}())")
        for attr, want in (("slate_size", self.platform.slate_size),
                           ("num_candidates", self.platform.num_candidates)):
            have = getattr(recommender, attr, None)
            if isinstance(have, (int, np.integer)) and int(have) != want:
                raise ConfigError(f"{owner}.{attr}", int(have),
                                  f"{want}, this env's {attr} (a policy built for another env)")
        return recommender

    # ------------------------------------------------------------------ API
    def reset(self, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        if seed is not None:
            seed = check_int(seed, "seed", 0)
            self._rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xC7EA,)))
        elif self._rng is None:
            self._rng = np.random.default_rng()
        if seed is None:
            seed = int(self._rng.integers(2**62))
        self.recommender.reset()
        self._obs, self._info = self.platform.reset(seed=seed)
        world = self.platform.world
        pop = world.population
        m, t, h = self.num_slots, self.num_topics, self.history
        self._hist = np.zeros((m, len(_HISTORY), h, t), dtype=np.float32)
        self._rounds = 0
        self.round_report, self.user_reward = None, float("nan")
        slots = np.flatnonzero(pop.alive)
        self.agents = [f"creator_{i}" for i in pop.creator_id[slots]]
        obs = self._observe(slots, pop.creator_id[slots], pop.entered_round[slots],
                            pop.budget[slots], pop.effort[slots],
                            world.catalog.counts(m)[slots])
        infos = self._infos(slots, pop.creator_id[slots], pop.entered_round[slots],
                            pop.home_topic[slots])
        self._needs_reset = False
        return obs, infos

    def _check_actions(self, actions: Any) -> dict[str, np.ndarray] | None:
        """The population's ``{"topic": (M,), "effort": (M,)}`` for ``actions``, ``None`` for
        an empty dict (own models), or ``ConfigError`` before anything changed."""
        if not isinstance(actions, Mapping):
            raise ConfigError("actions", actions, "a dict from live agents to actions "
                              "(or an empty dict: every creator follows its own model)")
        if not actions:
            return None
        pop = self.platform.world.population
        live = set(self.agents)
        t, e = self.num_topics, len(self.effort_levels)
        for agent in actions:
            self._known(agent)
            if agent not in live:
                cid = self._agent_index[agent]
                when = ("has left" if cid < pop.next_creator_id else "has not entered yet")
                raise ConfigError(f"actions[{agent!r}]", agent,
                                  f"actions for live creators only: {agent} {when} "
                                  f"({len(live)} live now)")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ConfigError("actions", f"no action for {', '.join(missing[:5])}"
                              + (" ..." if len(missing) > 5 else ""),
                              "an action for every live creator, or an empty dict (every "
                              "creator follows its own model)")
        chosen = {}
        for agent, action in actions.items():
            a = np.asarray(action)
            if a.shape != (2,) or a.dtype.kind not in "iu" or not (
                    0 <= a[0] < t and 0 <= a[1] < e):
                raise ConfigError(f"actions[{agent!r}]", action,
                                  f"a MultiDiscrete([{t}, {e}]) action: [topic in [0, {t}), "
                                  f"effort level in [0, {e}) of {self.effort_levels}]")
            chosen[self._agent_index[agent]] = (int(a[0]), self.effort_levels[int(a[1])])
        # every action is valid; free slots get placeholders (the population ignores them:
        # a creator entering at the round's end makes its first items by its own model)
        topic = np.zeros(self.num_slots, dtype=np.int64)
        level = np.full(self.num_slots, pop.params.effort_init)
        for s in np.flatnonzero(pop.alive).tolist():
            topic[s], level[s] = chosen[int(pop.creator_id[s])]
        return {"topic": topic.astype(np.int64), "effort": level}

    def step(self, actions: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, float],
                                                       dict[str, bool], dict[str, bool],
                                                       dict[str, Any]]:
        if self._needs_reset:
            raise ResetNeeded("step() called before reset(); call reset() first")
        if not self.agents:
            raise ResetNeeded("step() after every creator is done; call reset()")
        controlled = self._check_actions(actions)
        venv = self.platform
        world = venv.world
        m, t = self.num_slots, self.num_topics
        pop = world.population
        # who is where during the round (creator id -> slot; M for orphaned items)
        id_slot = np.full(pop.next_creator_id, m, dtype=np.int64)
        alive = np.flatnonzero(pop.alive)
        id_slot[pop.creator_id[alive]] = alive
        before = {"budget": pop.budget.copy(), "effort": pop.effort.copy(),
                  "home_topic": pop.home_topic}
        snap = venv.snapshot()
        start_obs, start_info = self._obs, self._info
        world.creator_actions = controlled
        obs, info = self._obs, self._info
        idx, clicked, watch = [], [], []
        user_reward = 0.0
        try:
            for _ in range(self.round_length):
                seen = info if self._oracle else _strip_oracle(info)
                slates = self.recommender.recommend(obs, seen)
                try:
                    next_obs, reward, _term, _trunc, next_info = venv.step(slates)
                except InvalidSlate as exc:
                    raise ConfigError(f"{type(self).__name__}.recommender", exc.args[0],
                                      f"slates ({self.users}, {venv.slate_size}) of distinct "
                                      f"candidate indices in [0, {venv.num_candidates})") from exc
                if self._learn:
                    self.recommender.update(obs, slates, next_info["response"], reward, seen)
                cid = np.asarray(next_info["slate_creator_ids"])
                idx.append(id_slot.take(cid) * t + np.asarray(next_info["slate_topics"]))
                clicked.append(next_info["response"].clicked)
                watch.append(next_info["response"].watch_time)
                user_reward += float(np.mean(reward))
                obs, info = next_obs, next_info
        except BaseException:
            venv.restore(snap)
            world.creator_actions = None
            self._obs, self._info = start_obs, start_info
            raise
        self._obs, self._info = obs, info
        report = info.get("creator_round")
        if report is None:  # pragma: no cover - rounds are aligned with steps from reset
            raise RuntimeError("the creator round did not end with the PettingZoo step")
        self.round_report = report
        self.user_reward = user_reward / self.round_length
        self._rounds += 1
        size = (m + 1) * t
        flat = np.concatenate([i.ravel() for i in idx])
        fb = np.stack([
            np.bincount(flat, minlength=size),
            np.bincount(flat, weights=np.concatenate([c.ravel() for c in clicked]), minlength=size),
            np.bincount(flat, weights=np.concatenate([w.ravel() for w in watch]), minlength=size),
        ]).reshape(3, m + 1, t)[:, :m]
        return self._finish_round(report, fb, id_slot, before)

    def _finish_round(self, report: Any, fb: np.ndarray, id_slot: np.ndarray,
                      before: dict[str, np.ndarray]) -> tuple[dict, dict, dict, dict, dict]:
        world = self.platform.world
        pop, cat = world.population, world.catalog
        m, t = self.num_slots, self.num_topics
        r = report["round"]
        cre = report["creators"]
        new = cat.born == pop.round  # the items made at this round's end
        made = np.bincount(cat.slot[new] * t + cat.topic[new], minlength=(m + 1) * t)
        made = made.reshape(m + 1, t)[:m]
        counts = cat.counts(m)[:m]
        ids, entered_round = cre["creator_id"], cre["entered_round"]
        entrant = entered_round == r
        old = ~entrant
        # creators of the round (stayers and leavers): the round's row of their history
        a_ids, a_left = ids[old], cre["left"][old]
        a_slots = id_slot[a_ids]
        h = self._hist
        h[a_slots, :, 1:] = h[a_slots, :, :-1]
        h[a_slots, 0, 0], h[a_slots, 1, 0], h[a_slots, 2, 0] = fb[0, a_slots], fb[1, a_slots], \
            fb[2, a_slots]
        h[a_slots, 3, 0] = np.where(a_left[:, None], 0.0, made[a_slots])
        budget = np.where(a_left, before["budget"][a_slots], pop.budget[a_slots])
        effort = np.where(a_left, before["effort"][a_slots], pop.effort[a_slots])
        live = np.where(a_left[:, None], 0, counts[a_slots])
        obs = self._observe(a_slots, a_ids, entered_round[old], budget, effort, live)
        infos = self._infos(a_slots, a_ids, entered_round[old], before["home_topic"][a_slots])
        pick = {"exposure": "exposure", "clicks": "clicks", "watch_time": "watch_time",
                "income": "income"}[self.reward_name]
        values = np.asarray(cre[pick], dtype=np.float64)[old]
        names = [f"creator_{i}" for i in a_ids]
        rewards = {a: float(v) for a, v in zip(names, values, strict=True)}
        end = self._rounds >= self.max_rounds
        terms = {a: bool(x) for a, x in zip(names, a_left, strict=True)}
        truncs = {a: end and not bool(x) for a, x in zip(names, a_left, strict=True)}
        # entrants (a leaver's slot may hold one now: its row above was built first); at
        # the last round's end they never become agents of this episode
        b_ids = ids[entrant]
        if b_ids.size and not end:
            slot_now = {int(c): s for s, c in enumerate(pop.creator_id) if pop.alive[s]}
            b_slots = np.array([slot_now[int(c)] for c in b_ids], dtype=np.int64)
            h[b_slots] = 0.0
            h[b_slots, 3, 0] = made[b_slots]
            obs |= self._observe(b_slots, b_ids, entered_round[entrant], pop.budget[b_slots],
                                 pop.effort[b_slots], counts[b_slots])
            infos |= self._infos(b_slots, b_ids, entered_round[entrant], pop.home_topic[b_slots])
            for a in (f"creator_{i}" for i in b_ids):
                rewards[a], terms[a], truncs[a] = 0.0, False, False
        self.agents = [] if end else [
            f"creator_{i}" for i in pop.creator_id[np.flatnonzero(pop.alive)]]
        return obs, rewards, terms, truncs, infos

    def _observe(self, slots: np.ndarray, ids: np.ndarray, entered_round: np.ndarray,
                 budget: np.ndarray, effort: np.ndarray, live: np.ndarray) -> dict[str, Any]:
        """The observations of the creators in ``slots`` (ids ``ids``), from the history
        rows and the values given."""
        age = (self._rounds - 1 - entered_round).clip(0).astype(np.float32)
        f32 = np.float32
        out = {}
        for j, (s, c) in enumerate(zip(slots.tolist(), ids.tolist(), strict=True)):
            h = self._hist[s]
            out[f"creator_{c}"] = {
                "exposure": h[0].copy(), "clicks": h[1].copy(), "watch_time": h[2].copy(),
                "made": h[3].copy(), "live_items": np.asarray(live[j], dtype=f32),
                "budget": np.array([budget[j]], dtype=f32), "effort": np.array([effort[j]], dtype=f32),
                "age": np.array([age[j]], dtype=f32), "round": np.array([self._rounds], dtype=f32),
            }
        return out

    def _infos(self, slots: np.ndarray, ids: np.ndarray, entered_round: np.ndarray,
               home: np.ndarray) -> dict[str, Any]:
        return {f"creator_{c}": {"creator_id": int(c), "slot": int(s), "home_topic": int(ht),
                                 "entered_round": int(er)}
                for s, c, er, ht in zip(slots.tolist(), ids.tolist(), entered_round.tolist(),
                                        home.tolist(), strict=True)}

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        if self._needs_reset:
            return "not reset"
        pop = self.platform.world.population
        alive = np.flatnonzero(pop.alive)
        head = (f"round {self._rounds}/{self.max_rounds}: {alive.size} creators live, "
                f"{self.platform.world.catalog.size} items; users' reward per request "
                f"{self.user_reward:.3f}")
        rows = [f"  creator_{pop.creator_id[s]}: home topic {pop.home_topic[s]}, budget "
                f"{pop.budget[s]}, effort {pop.effort[s]:.2f}" for s in alive[:8]]
        return "\n".join([head, *rows])

    def close(self) -> None:
        self.platform.close()

    def __repr__(self) -> str:
        return (f"CreatorAgentsParallelEnv(users={self.users}, recommender="
                f"{getattr(self.recommender, 'name', type(self.recommender).__name__)!r}, "
                f"reward={self.reward_name!r}, max_rounds={self.max_rounds})")


def parallel_env(**kwargs: Any) -> CreatorAgentsParallelEnv:
    """The creators' PettingZoo Parallel env (:class:`CreatorAgentsParallelEnv`'s
    arguments)."""
    return CreatorAgentsParallelEnv(**kwargs)


def env(**kwargs: Any) -> Any:
    """The creators' PettingZoo AEC env: :func:`parallel_env` through PettingZoo's
    ``parallel_to_aec`` (creators act one after the other; the round is played when the
    last live creator has acted)."""
    return parallel_to_aec(parallel_env(**kwargs))

