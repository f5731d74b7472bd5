"""A batched population of strategic content creators (arrays over M creator slots).

Each creator learns what the platform rewards from its *own* feedback only, decides what
to produce every round, revises its strategy every few rounds, and leaves when it is not
viable; new creators enter at random. The models behind it:

* CreAgent (Wang et al., SIGIR 2025, "CreAgent: Towards Long-Term Evaluation of
  Recommender System under Platform-Creator Information Asymmetry"): creators hold
  *beliefs* about the platform formed from the feedback on their own items (they never see
  the recommender, the users or other creators' numbers), and act by *fast thinking*
  (an immediate choice from the current beliefs) and *slow thinking* (a periodic
  reflection that revises the strategy);
* RecSim NG's ecosystem model (Mladenov et al. 2021; its ``ViableCorpus`` content
  providers): a provider stays only while its recent engagement keeps it viable;
* T-RECS (Lucherini et al. 2021): creators generate items from their profiles each
  round.

One round of :meth:`CreatorPopulation.step_round` (``c`` a creator, ``t`` a topic, ``r``
the round that just ended):

1. **Feedback** (information asymmetry): ``E[c, t]`` impressions, ``K[c, t]`` clicks and
   ``W[c, t]`` minutes watched of creator ``c``'s items on topic ``t`` during the round,
   and ``L[c, t]`` its items on topic ``t`` that were live in the round. Its income is
   ``I[c, t] = w_e E + w_k K + w_w W`` (``income_weights``: what the platform pays).
2. **Beliefs**: for every topic with ``L[c, t] > 0`` (a creator learns nothing about topics
   it had no items on)::

       belief_exposure[c, t] <- (1 - eta) * belief_exposure[c, t] + eta * E[c, t] / L[c, t]
       belief_income[c, t]   <- (1 - eta) * belief_income[c, t]   + eta * I[c, t] / L[c, t]

   an exponential moving average (rate ``eta = belief_rate``) of the exposure and income
   *per item* on the topic. New creators start at ``belief_income = belief_init`` (an
   optimistic start explores) and ``belief_exposure = 0``.
3. **Viability** (ViableCorpus): the round's engagement ``g[c]`` is the sum over topics of
   the ``viability_signal`` (clicks by default); ``low_rounds[c]`` counts consecutive
   rounds with ``g[c] < viability_threshold`` (reset to 0 by a viable round); a creator
   with ``low_rounds[c] >= window`` leaves at the end of the round.
4. **Slow thinking** (every ``revision_every`` rounds of a creator's life, not for the
   controlled): *strategy revision*: the creator re-weighs its beliefs by its expertise,
   ``strategy[c, t] = kappa * expertise[c, t] * ybar[c]`` with ``kappa =
   expertise_weight`` and ``ybar[c]`` its mean income per live item over the revision
   window: it expects its expert topics to earn up to ``kappa`` times its typical item
   more, because its items there are better (quality grows with expertise); and *effort
   revision*: a finite-difference hill climb on its net utility ``U = sum of income -
   effort_cost * effort * items`` over the window: effort moves by ``effort_step`` in the
   direction of the last move, reversed when ``U`` fell since the previous window,
   clipped to ``[effort_min, 1]``.
5. **Entry**: ``Poisson(entry_rate)`` new creators take the lowest free slots (as many
   as there are), with expertise ``e = d / max(d)``, ``d ~ Dirichlet(expertise_alpha)``
   over the topics (its home topic at 1), a budget uniform in ``[budget_low,
   budget_high]`` items per round and effort ``effort_init``.
6. **Fast thinking** (production): each live creator makes ``budget[c]`` items; the
   topic of each is drawn from ``softmax(v[c] / (temperature * scale[c]))`` with
   ``v[c] = belief_income[c] + strategy[c]`` and ``scale[c] = mean_t |v[c, t]|`` (explore/
   exploit: a low temperature exploits the best-believed topic; beliefs are compared
   relative to the creator's typical belief, so one temperature means the same
   exploration whether the platform has ten users or ten thousand). A controlled
   creator (``actions``) makes all its items on ``actions["topic"][c]`` with effort
   ``actions["effort"][c]`` instead.
7. **Items**: quality ``q = quality_low + (quality_high - quality_low) * expertise[c, t] *
   effort[c] + quality_noise * z``, ``z ~ N(0, 1)``, clipped to 10 noise deviations past
   the range; length ``Uniform(length_low, length_high)`` minutes.

Randomness comes only from the generator passed in (the world's ``creators`` stream), in
a fixed order per round: entry count, new creators' expertise and budgets, topic draws,
quality noise, lengths.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from recarena.errors import ConfigError
from recarena.validation import check_choice, check_float, check_int

__all__ = ["VIABILITY_SIGNALS", "CreatorParams", "CreatorPopulation", "NewItems",
           "RoundFeedback", "creator_params"]

#: what the viability rule counts (``viability_signal``)
VIABILITY_SIGNALS = ("exposure", "click", "watch_time", "income")
_INCOME_KEYS = ("exposure", "click", "watch_time")


@dataclass(frozen=True)
class CreatorParams:
    """The creators' parameters. Invalid values raise ``ConfigError``; build from a mapping
    with :func:`creator_params` (unknown names are a ``ConfigError`` too).

    Attributes:
        num_creators: M, creator slots (the most creators alive at once).
        initial_creators: creators alive at reset (``None``: all M slots).
        budget_low, budget_high: a new creator's budget (items per round) is uniform on
            these integers; ``0 <= budget_low <= budget_high``.
        effort_init: a new creator's effort, in ``[effort_min, 1]``.
        effort_min: the lowest effort a creator revises down to (> 0).
        effort_step: how far one effort revision moves effort.
        effort_cost: cost per item per unit of effort in the net utility of the effort
            revision (income units).
        expertise_alpha: Dirichlet concentration of a new creator's expertise (small:
            specialists; large: generalists).
        belief_rate: eta, the rate of the belief moving averages, in ``(0, 1]``.
        belief_init: a new creator's income belief on every topic (optimism explores).
        temperature: tau of the fast-thinking softmax (> 0).
        revision_every: k, rounds between slow-thinking revisions.
        expertise_weight: kappa, how much the strategy favours expert topics.
        viability_signal: what the viability rule counts: ``exposure``, ``click``,
            ``watch_time`` or ``income``.
        viability_threshold: a round is viable when the creator's signal reaches it.
        window: consecutive non-viable rounds after which a creator leaves (>= 1).
        entry_rate: mean number of creators entering per round (Poisson).
        item_lifetime: rounds an item stays in the catalog (>= 1).
        quality_low, quality_high: the quality range spanned by expertise x effort.
        quality_noise: standard deviation of the quality noise.
        length_low, length_high: item length range in minutes (``0 < low <= high``).
        income_weights: what the platform pays per impression (``exposure``), click
            (``click``) and minute watched (``watch_time``).
    """

    num_creators: int = 50
    initial_creators: int | None = None
    budget_low: int = 1
    budget_high: int = 3
    effort_init: float = 0.5
    effort_min: float = 0.1
    effort_step: float = 0.1
    effort_cost: float = 0.0
    expertise_alpha: float = 0.3
    belief_rate: float = 0.3
    belief_init: float = 1.0
    temperature: float = 0.5
    revision_every: int = 5
    expertise_weight: float = 0.5
    viability_signal: str = "click"
    viability_threshold: float = 1.0
    window: int = 5
    entry_rate: float = 1.0
    item_lifetime: int = 10
    quality_low: float = -1.0
    quality_high: float = 2.0
    quality_noise: float = 0.2
    length_low: float = 2.0
    length_high: float = 6.0
    income_weights: Mapping[str, float] = field(
        default_factory=lambda: {"exposure": 0.0, "click": 1.0, "watch_time": 0.0})

    def __post_init__(self) -> None:
        n = "CreatorParams"
        m = check_int(self.num_creators, f"{n}.num_creators", 1)
        if self.initial_creators is not None:
            check_int(self.initial_creators, f"{n}.initial_creators", 0, m)
        low = check_int(self.budget_low, f"{n}.budget_low", 0)
        check_int(self.budget_high, f"{n}.budget_high", low)
        lo = check_float(self.effort_min, f"{n}.effort_min", 0.0, 1.0, low_open=True)
        check_float(self.effort_init, f"{n}.effort_init", lo, 1.0)
        check_float(self.effort_step, f"{n}.effort_step", 0.0)
        check_float(self.effort_cost, f"{n}.effort_cost", 0.0)
        check_float(self.expertise_alpha, f"{n}.expertise_alpha", 0.0, low_open=True)
        check_float(self.belief_rate, f"{n}.belief_rate", 0.0, 1.0, low_open=True)
        check_float(self.belief_init, f"{n}.belief_init")
        check_float(self.temperature, f"{n}.temperature", 0.0, low_open=True)
        check_int(self.revision_every, f"{n}.revision_every", 1)
        check_float(self.expertise_weight, f"{n}.expertise_weight", 0.0)
        check_choice(self.viability_signal, f"{n}.viability_signal", VIABILITY_SIGNALS)
        check_float(self.viability_threshold, f"{n}.viability_threshold", 0.0)
        check_int(self.window, f"{n}.window", 1)
        check_float(self.entry_rate, f"{n}.entry_rate", 0.0)
        check_int(self.item_lifetime, f"{n}.item_lifetime", 1)
        qlo = check_float(self.quality_low, f"{n}.quality_low")
        check_float(self.quality_high, f"{n}.quality_high", qlo)
        check_float(self.quality_noise, f"{n}.quality_noise", 0.0)
        llo = check_float(self.length_low, f"{n}.length_low", 0.0, low_open=True)
        check_float(self.length_high, f"{n}.length_high", llo)
        w = self.income_weights
        if not isinstance(w, Mapping):
            raise ConfigError(f"{n}.income_weights", w,
                              "a mapping from " + ", ".join(_INCOME_KEYS) + " to weights")
        for key, value in w.items():
            if key not in _INCOME_KEYS:
                raise ConfigError(f"{n}.income_weights", key, "keys from " + ", ".join(_INCOME_KEYS))
            # non-negative: income is a payment (the Gini over creators assumes it)
            check_float(value, f"{n}.income_weights[{key!r}]", 0.0)
        object.__setattr__(self, "income_weights",
                           {key: float(w.get(key, 0.0)) for key in _INCOME_KEYS})

    @property
    def alive_at_reset(self) -> int:
        """Creators alive at reset."""
        return self.num_creators if self.initial_creators is None else int(self.initial_creators)

    def quality_bounds(self) -> tuple[float, float]:
        """Bounds of every item's quality (10 noise deviations past the range)."""
        return (self.quality_low - 10 * self.quality_noise,
                self.quality_high + 10 * self.quality_noise)

    def replace(self, **changes: Any) -> CreatorParams:
        """A copy with ``changes`` (unknown names: ``ConfigError``)."""
        return creator_params(dataclasses.asdict(self) | changes)


def creator_params(values: Mapping[str, Any] | None = None, **kwargs: Any) -> CreatorParams:
    """:class:`CreatorParams` from a mapping and/or keywords; an unknown name raises
    ``ConfigError`` listing the allowed ones."""
    given = dict(values or {}) | kwargs
    allowed = [f.name for f in dataclasses.fields(CreatorParams)]
    unknown = [k for k in given if k not in allowed]
    if unknown:
        raise ConfigError("CreatorParams", unknown[0] if len(unknown) == 1 else unknown,
                          "parameters among " + ", ".join(allowed))
    return CreatorParams(**given)


class RoundFeedback(NamedTuple):
    """What the creators observe of one round, per creator slot and topic, ``(M, T)``:
    ``exposure`` (impressions), ``clicks``, ``watch_time`` (minutes) of their items, and
    ``live`` (their items live in the catalog during the round)."""

    exposure: np.ndarray
    clicks: np.ndarray
    watch_time: np.ndarray
    live: np.ndarray


class NewItems(NamedTuple):
    """Items produced in a round (length B): the producing ``slot`` and ``creator_id``,
    ``topic``, ``quality``, ``length``."""

    slot: np.ndarray
    creator_id: np.ndarray
    topic: np.ndarray
    quality: np.ndarray
    length: np.ndarray


_STATE = ("alive", "creator_id", "entered_round", "expertise", "budget", "effort",
          "belief_exposure", "belief_income", "strategy", "low_rounds", "effort_dir",
          "window_utility", "window_income", "window_live", "prev_utility", "age")


class CreatorPopulation:
    """M creator slots as arrays (no per-creator objects); see the module docstring for
    every rule. :meth:`reset` starts the initial creators, :meth:`produce` makes a round
    of items, :meth:`step_round` runs one round's learning, exits, entries and
    production.

    State (``(M,)`` unless said): ``alive``, ``creator_id`` (-1 in a free slot; ids count
    up and are never reused), ``entered_round`` (the round at whose end the creator
    entered; -1 for those present at reset), :attr:`round` (rounds completed), ``expertise`` ``(M, T)`` in ``[0, 1]``,
    ``budget`` (items per round), ``effort``, ``belief_exposure`` / ``belief_income`` /
    ``strategy`` ``(M, T)``, ``low_rounds`` (consecutive non-viable rounds), and the
    effort hill climb's ``effort_dir``, ``window_utility``, ``prev_utility``.

    Args:
        params: the creators' parameters.
        num_topics: T.
    """

    def __init__(self, params: CreatorParams, num_topics: int) -> None:
        if not isinstance(params, CreatorParams):
            raise ConfigError("CreatorPopulation.params", params, "a CreatorParams")
        self.params = params
        self.num_topics = check_int(num_topics, "CreatorPopulation.num_topics", 1)
        self.num_slots = params.num_creators
        self.round = 0
        self.next_creator_id = 0
        m, t = self.num_slots, self.num_topics
        self.alive = np.zeros(m, dtype=bool)
        self.creator_id = np.full(m, -1, dtype=np.int64)
        self.entered_round = np.zeros(m, dtype=np.int64)
        self.expertise = np.zeros((m, t))
        self.budget = np.zeros(m, dtype=np.int64)
        self.effort = np.zeros(m)
        self.belief_exposure = np.zeros((m, t))
        self.belief_income = np.zeros((m, t))
        self.strategy = np.zeros((m, t))
        self.low_rounds = np.zeros(m, dtype=np.int64)
        self.effort_dir = np.ones(m)
        self.window_utility = np.zeros(m)
        self.window_income = np.zeros(m)
        self.window_live = np.zeros(m)
        self.prev_utility = np.full(m, np.nan)
        self.age = np.zeros(m, dtype=np.int64)

    # ------------------------------------------------------------------ state
    def copy(self) -> CreatorPopulation:
        """A deep copy (snapshots)."""
        out = CreatorPopulation.__new__(CreatorPopulation)
        out.params, out.num_topics, out.num_slots = self.params, self.num_topics, self.num_slots
        out.round, out.next_creator_id = self.round, self.next_creator_id
        for name in _STATE:
            setattr(out, name, getattr(self, name).copy())
        return out

    @property
    def home_topic(self) -> np.ndarray:
        """``(M,)`` argmax of each slot's expertise."""
        return self.expertise.argmax(axis=1)

    def reset(self, rng: np.random.Generator) -> None:
        """Empty every slot and start ``params.alive_at_reset`` creators in the first slots."""
        self.__init__(self.params, self.num_topics)  # type: ignore[misc]
        self._enter(np.arange(self.params.alive_at_reset), rng, -1)

    def _enter(self, slots: np.ndarray, rng: np.random.Generator, entered_round: int) -> None:
        p, n = self.params, slots.size
        if n == 0:
            return
        d = rng.dirichlet(np.full(self.num_topics, p.expertise_alpha), size=n)
        # (a tiny alpha can underflow a whole draw to zeros: such a creator is a pure
        # specialist of the topic Dirichlet favoured, the argmax)
        top = d.max(axis=1, keepdims=True)
        expertise = np.where(top > 0, d / np.where(top > 0, top, 1.0), 0.0)
        expertise[np.arange(n), d.argmax(axis=1)] = 1.0
        budget = rng.integers(p.budget_low, p.budget_high + 1, size=n)
        self.alive[slots] = True
        self.creator_id[slots] = np.arange(self.next_creator_id, self.next_creator_id + n)
        self.next_creator_id += n
        self.entered_round[slots] = entered_round
        self.expertise[slots] = expertise
        self.budget[slots] = budget
        self.effort[slots] = p.effort_init
        self.belief_exposure[slots] = 0.0
        self.belief_income[slots] = p.belief_init
        self.strategy[slots] = p.expertise_weight * expertise * max(p.belief_init, 0.0)
        self.low_rounds[slots] = 0
        self.effort_dir[slots] = 1.0
        self.window_utility[slots] = 0.0
        self.window_income[slots] = 0.0
        self.window_live[slots] = 0.0
        self.prev_utility[slots] = np.nan
        self.age[slots] = 0

    # ------------------------------------------------------------------ choices
    def topic_probabilities(self) -> np.ndarray:
        """``(M, T)`` fast thinking: ``softmax(v / (temperature * scale))`` with ``v =
        belief_income + strategy`` and ``scale`` the mean of ``|v|`` over the creator's
        topics (rule 6)."""
        v = self.belief_income + self.strategy
        scale = np.maximum(np.abs(v).mean(axis=1, keepdims=True), 1e-12)
        v = v / (self.params.temperature * scale)
        v -= v.max(axis=1, keepdims=True)
        np.exp(v, out=v)
        v /= v.sum(axis=1, keepdims=True)
        return v

    def check_actions(self, actions: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``actions`` (``{"topic": (M,) int in [0, T), "effort": (M,) float in [0, 1]}``,
        optionally with ``"mask": (M,) bool``: True where the slot is steered, False where
        its creator follows its own model) as ``(topic, effort, mask)`` arrays (``mask``
        all True when not given), or ``ConfigError``. Topic and effort must be valid in
        every slot, masked or not."""
        m, t = self.num_slots, self.num_topics
        if not isinstance(actions, Mapping) or set(actions) not in (
                {"topic", "effort"}, {"topic", "effort", "mask"}):
            raise ConfigError("actions", actions,
                              "a mapping with exactly 'topic' and 'effort' (and optionally 'mask')")
        topic = np.asarray(actions["topic"])
        effort = np.asarray(actions["effort"])
        if topic.shape != (m,) or topic.dtype.kind not in "iu" or topic.size and (
                topic.min() < 0 or topic.max() >= t):
            raise ConfigError("actions['topic']", topic, f"({m},) integers in [0, {t})")
        if effort.shape != (m,) or effort.dtype.kind not in "iuf" or not np.all(
                (effort >= 0.0) & (effort <= 1.0)):
            raise ConfigError("actions['effort']", effort, f"({m},) floats in [0, 1]")
        mask = np.asarray(actions.get("mask", np.ones(m, dtype=bool)))
        if mask.shape != (m,) or mask.dtype.kind != "b":
            raise ConfigError("actions['mask']", mask, f"({m},) booleans (True: steered)")
        return topic.astype(np.int64), effort.astype(np.float64), mask.copy()

    def produce(self, rng: np.random.Generator, actions: Mapping[str, Any] | None = None,
                controlled: np.ndarray | None = None) -> NewItems:
        """Every live creator's ``budget`` items of this round (rules 6 and 7); with
        ``actions``, the creators in ``controlled`` (bool ``(M,)``; default: every live
        one) and in the actions' ``mask`` (default: every slot) take their topic and
        effort from them instead."""
        p = self.params
        slots = np.flatnonzero(self.alive)
        counts = self.budget[slots]
        rep = np.repeat(slots, counts)
        b = rep.size
        cum = np.cumsum(self.topic_probabilities()[slots], axis=1)
        u = rng.random(b)
        row = np.repeat(np.arange(slots.size), counts)
        topic = (cum[row] < u[:, None] * cum[row, -1:]).sum(axis=1)
        np.minimum(topic, self.num_topics - 1, out=topic)
        if actions is not None:
            topic_a, effort_a, mask = self.check_actions(actions)
            ctrl = (self.alive if controlled is None else controlled & self.alive) & mask
            self.effort[ctrl] = effort_a[ctrl]
            topic = np.where(ctrl[rep], topic_a[rep], topic)
        effort = self.effort[rep]
        z = rng.standard_normal(b)
        quality = (p.quality_low + (p.quality_high - p.quality_low)
                   * self.expertise[rep, topic] * effort + p.quality_noise * z)
        lo, hi = p.quality_bounds()
        np.clip(quality, lo, hi, out=quality)
        length = rng.uniform(p.length_low, p.length_high, size=b)
        return NewItems(rep.astype(np.int64), self.creator_id[rep], topic.astype(np.int64),
                        quality, length)

    # ------------------------------------------------------------------ a round
    def step_round(self, feedback: RoundFeedback, rng: np.random.Generator,
                   actions: Mapping[str, Any] | None = None,
                   decide: Callable[[CreatorPopulation, dict[str, Any]],
                                    Mapping[str, Any] | None] | None = None,
                   ) -> dict[str, np.ndarray]:
        """Learn from one round's ``feedback``, let creators leave and enter, and produce
        the next round's items (rules 1-7 of the module docstring).

        ``actions``: ``None`` (the creators follow their own models) or ``{"topic": (M,)
        int, "effort": (M,) float in [0, 1]}`` given from outside for every slot (an
        entry for a free slot is ignored): each live creator then produces all its items
        on its topic with that effort; beliefs and viability are kept as for the others,
        slow thinking is skipped. Actions are per slot and apply to the creators who were
        alive in the round and stay (a slot's action is its creator's); a creator entering
        at this round's end follows its own model in its first round. An optional
        ``"mask"`` (``(M,)`` bool) steers only the slots where it is True; the others
        follow their own models in everything, slow thinking included (an all-False mask
        is exactly ``actions=None``: same state, same draws).

        ``decide``: instead of ``actions``, a function ``decide(population, record) ->
        actions or None`` called once the round's feedback has updated the beliefs,
        viability and ages (rules 1-3), before slow thinking, entries and production;
        ``record`` holds ``income`` ``(M, T)``, ``engagement``, ``left`` and ``stay``
        ``(M,)`` (alive in the round and staying). Its actions then apply as above (its
        steered creators skip the model's slow thinking); its draws, if any, come before
        the entries'. LLM creators decide this way
        (:mod:`recarena.simulators.llm.creators`).

        Returns the round's record: ``income`` ``(M, T)``, ``engagement``, ``left``,
        ``entered`` ``(M,)``, and ``items`` (:class:`NewItems`)."""
        p, m = self.params, self.num_slots
        shape = (m, self.num_topics)
        for name, arr in zip(RoundFeedback._fields, feedback, strict=True):
            if np.shape(arr) != shape:
                raise ConfigError(f"feedback.{name}", np.shape(arr), f"an array of shape {shape}")
        if actions is not None and decide is not None:
            raise ConfigError("step_round", "actions and decide",
                              "either actions or decide (or neither), not both")
        steered = np.zeros(m, dtype=bool)
        if actions is not None:
            steered = self.check_actions(actions)[2]
        exposure, clicks, watch, live = (np.asarray(a, dtype=np.float64) for a in feedback)
        w = p.income_weights
        income = w["exposure"] * exposure + w["click"] * clicks + w["watch_time"] * watch
        alive = self.alive.copy()
        # 2. beliefs, from the creator's own items only
        seen = (live > 0) & alive[:, None]
        per_live = np.divide(1.0, live, out=np.zeros(shape), where=live > 0)
        eta = p.belief_rate
        self.belief_exposure[seen] += eta * (exposure * per_live - self.belief_exposure)[seen]
        self.belief_income[seen] += eta * (income * per_live - self.belief_income)[seen]
        # 3. viability
        signal = {"exposure": exposure, "click": clicks, "watch_time": watch,
                  "income": income}[p.viability_signal].sum(axis=1)
        low = signal < p.viability_threshold
        self.low_rounds = np.where(alive & low, self.low_rounds + 1, 0)
        left = alive & (self.low_rounds >= p.window)
        # 4. slow thinking (the utility of the items the creator made counts their effort)
        total_income = income.sum(axis=1)
        self.window_income += np.where(alive, total_income, 0.0)
        self.window_live += np.where(alive, live.sum(axis=1), 0.0)
        self.window_utility += np.where(alive, total_income, 0.0)
        self.age += alive
        stay = alive & ~left
        if decide is not None:
            actions = decide(self, {"income": income, "engagement": signal, "left": left,
                                    "stay": stay.copy()})
            if actions is not None:
                steered = self.check_actions(actions)[2]
        revise = stay & ~steered & (self.age % p.revision_every == 0)
        if revise.any():
            self._revise(np.flatnonzero(revise))
        self.alive = stay.copy()  # (entries below mark their slots alive; stay stays as it is)
        self.creator_id[left] = -1  # (the record keeps the ids: the caller read them before)
        # 5. entry
        free = np.flatnonzero(~self.alive)
        arrivals = int(rng.poisson(p.entry_rate)) if p.entry_rate > 0 else 0
        entered = np.zeros(m, dtype=bool)
        new = free[:arrivals]
        self._enter(new, rng, self.round)
        entered[new] = True
        self.round += 1
        # 6-7. production
        items = self.produce(rng, actions, stay)
        np.add.at(self.window_utility, items.slot, -p.effort_cost * self.effort[items.slot])
        return {"income": income, "engagement": signal, "left": left, "entered": entered,
                "items": items, "arrivals": np.asarray(arrivals)}

    def _revise(self, slots: np.ndarray) -> None:
        """Slow thinking for ``slots`` (rule 4)."""
        p = self.params
        ybar = self.window_income[slots] / np.maximum(self.window_live[slots], 1.0)
        self.strategy[slots] = p.expertise_weight * self.expertise[slots] * ybar[:, None]
        u, prev = self.window_utility[slots], self.prev_utility[slots]
        flip = ~np.isnan(prev) & (u < prev)
        self.effort_dir[slots] = np.where(flip, -self.effort_dir[slots], self.effort_dir[slots])
        self.effort[slots] = np.clip(self.effort[slots] + p.effort_step * self.effort_dir[slots],
                                     p.effort_min, 1.0)
        self.prev_utility[slots] = u
        self.window_utility[slots] = 0.0
        self.window_income[slots] = 0.0
        self.window_live[slots] = 0.0
