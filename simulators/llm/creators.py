"""Content creators whose next item an LLM writes (CreAgent style).

:class:`LLMCreators` is a :class:`~recarena.simulators.creators.world.CreatorPolicy`: at
the end of every creator round it asks an LLM backend
(:class:`~recarena.simulators.llm.LLMBackend` or anything with its ``decide``) what each
creator makes next, in the spirit of CreAgent (Wang et al., SIGIR 2025, "CreAgent:
Towards Long-Term Evaluation of Recommender System under Platform-Creator Information
Asymmetry"): an LLM plays each creator, who holds *beliefs* about the platform formed
from the feedback on its *own* items only (information asymmetry: it never sees the
recommender, the users or other creators' numbers), decides by *fast thinking* most
rounds and *slow thinking* (a reflection over its recent rounds) every few rounds, and
writes the item itself (topic, title, description).

===================  ==========================================================================
one round            the creators' model learns from the round (beliefs, viability: rules 1-3
                     of :mod:`~recarena.simulators.creators.population`); then one seed per
                     creator slot is drawn from the creators' stream (always, for every slot,
                     whatever is decided: streams stay aligned across policies); then one
                     ``backend.decide`` call for every LLM creator that stays; then slow
                     thinking (for the others), entries and production as usual
LLM creators         ``llm_fraction`` of the creators (by a seeded hash of ``creator_id``: a
                     creator is always LLM or always model) that were alive in the round and
                     stay; a creator entering at a round's end makes its first round's items
                     by its model (it has no feedback yet)
the prompt           its persona (expertise in words, items per round, current effort, what
                     the platform pays), its own feedback (impressions, clicks, minutes
                     watched, income and live items per topic it had items on: the last round
                     on a fast round, the last ``history`` rounds of its life on a slow
                     round, every ``revision_every`` rounds of its life as the model's slow
                     thinking) and its current beliefs (the population's ``belief_exposure``
                     and ``belief_income`` for that creator only, per topic it has tried)
a reply              :class:`CreatorDecision`: ``topic`` (a number in ``[0, T)`` or a topic
                     name), ``effort`` in ``[0, 1]``, ``title``, ``description``, ``reason``;
                     all the creator's items of the round are on that topic with that effort
                     (quality by the population's formula), titled "title", "title (part 2)",
                     ...; the effort stays the creator's until changed; a steered creator
                     skips the model's slow thinking that round
fallback             a reply that is missing, malformed or names no topic: that creator follows
                     its own model this round (fast and slow thinking)
``decided_by``       per creator and round: ``llm`` (answered by the endpoint), ``cache``
                     (replayed from the backend's cache), ``fallback``, ``model`` (not asked:
                     outside the LLM fraction, entered or left this round); in the round
                     report's ``creators`` (with ``title`` and ``reason``) and the event log's
                     ``creators`` table
reproducibility      prompts are deterministic functions of the world state and the seeds,
                     and the policy's state (the last rounds' feedback) is snapshotted with
                     the world, so a backend with a cache replays a run with no request sent
===================  ==========================================================================

:class:`CreatorItemTexts` is the :class:`~recarena.simulators.llm.prompts.ItemTexts` of a
creator world: what LLM users read of its items (the title and description an LLM
creator wrote, then the synthetic description every item has).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import ConfigDict, Field

from recarena.errors import ConfigError, ResetNeeded
from recarena.simulators.creators.population import CreatorPopulation, RoundFeedback
from recarena.simulators.creators.world import CreatorDecisions
from recarena.simulators.llm.prompts import SyntheticTexts, _CompactSchema
from recarena.simulators.llm.users import llm_user_rows
from recarena.simulators.records import Items
from recarena.validation import check_float, check_int

__all__ = ["CREATOR_DECIDED_BY", "CreatorDecision", "CreatorItemTexts", "LLMCreatorState",
           "LLMCreators", "creator_messages", "llm_creator_rows"]

#: the codes of a creator's ``decided_by``
CREATOR_DECIDED_BY = ("llm", "cache", "fallback", "model")
#: longest title / description / reason kept from a reply (characters)
MAX_TITLE, MAX_DESCRIPTION, MAX_REASON = 80, 200, 160
#: the feedback channels kept per round: exposure, clicks, watch time, live items, income
_CHANNELS = 5


class CreatorDecision(_CompactSchema):
    """What an LLM-played creator answers (the reply schema)."""

    model_config = ConfigDict(extra="ignore")

    #: the topic of its next items: a number in [0, T) or a topic name
    topic: int | str
    #: effort in [0, 1]
    effort: float = Field(ge=0.0, le=1.0)
    title: str = ""
    description: str = ""
    reason: str = ""


def llm_creator_rows(creator_id: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """``(M,)`` bool: which creators are LLM-played, ``hash(creator_id, seed) <
    fraction`` (the SplitMix64 hash of :func:`~recarena.simulators.llm.users.llm_user_rows`;
    a free slot's id -1 is never LLM)."""
    ids = np.asarray(creator_id, dtype=np.int64)
    return llm_user_rows(np.maximum(ids, 0), fraction, seed) & (ids >= 0)


def _clean(text: Any, length: int) -> str:
    return " ".join(str(text or "").split())[:length].rstrip()


@dataclass
class LLMCreatorState:
    """The policy's state, kept by the world (snapshotted with it): ``history`` ``(H, 5,
    M, T)``, the last H rounds' feedback per slot and topic (impressions, clicks, minutes
    watched, live items, income; the newest last). A slot's creator owns the last
    ``min(H, age)`` rounds of it (its age counts its rounds)."""

    history: np.ndarray

    def copy(self) -> LLMCreatorState:
        return LLMCreatorState(self.history.copy())


def _topic_name(names: Sequence[str] | None, t: int) -> str:
    return names[t] if names is not None and t < len(names) else f"topic {t}"


def _pay(weights: dict[str, float]) -> str:
    parts = [f"{w:g} per {what}" for key, what in (("exposure", "impression"),
                                                   ("click", "click"),
                                                   ("watch_time", "minute watched"))
             if (w := weights.get(key, 0.0))]
    return ", ".join(parts) if parts else "nothing"


def creator_messages(population: CreatorPopulation, slot: int, history: np.ndarray,
                     rounds: int, slow: bool, topic_names: Sequence[str] | None = None,
                     noun: str = "clip") -> list[dict[str, str]]:
    """The chat messages of one creator's decision: only what creator ``slot`` knows
    (its expertise, budget, effort, its own feedback of its last ``rounds`` rounds from
    ``history`` ``(H, 5, M, T)``, its own beliefs). ``slow``: a reflection round."""
    p, t = population.params, population.num_topics

    def name(k: int) -> str:
        return _topic_name(topic_names, k)

    expertise = population.expertise[slot]
    order = [k for k in np.argsort(-expertise, kind="stable")[:3].tolist()
             if expertise[k] >= 0.05]
    strong = name(order[0]) + " (your home topic)"
    others = ", ".join(f"{name(k)} ({expertise[k]:.2f})" for k in order[1:])
    persona = (f"Your expertise (0 to 1): strongest in {strong}"
               + (f", then {others}" if others else "") + "; little in the other topics.")
    budget = int(population.budget[slot])
    plural = noun + ("s" if budget != 1 else "")
    lines = [persona,
             f"You make {budget} {plural} per round. Your effort now is "
             f"{population.effort[slot]:.2f} (0: quick and cheap, 1: your best work; a "
             f"{noun}'s quality grows with your effort and your expertise in its topic). "
             f"The platform pays you {_pay(p.income_weights)}."]
    if topic_names is None:
        lines.append(f"Topics are numbered 0 to {t - 1}.")
    else:
        lines.append("Topics: " + "; ".join(f"{k} {name(k)}" for k in range(t)) + ".")
    # its own feedback, newest last
    rounds = max(1, min(rounds, history.shape[0]))
    block = []
    for back in range(rounds - 1, -1, -1):
        e, k, w, live, inc = history[history.shape[0] - 1 - back, :, slot]
        label = "this round" if back == 0 else f"{back} round{'s' if back > 1 else ''} ago"
        topics = np.flatnonzero((live > 0) | (e > 0)).tolist()
        if not topics:
            block.append(f"- {label}: no {noun}s live")
            continue
        block.append(f"- {label} (income {inc.sum():.2f}): " + "; ".join(
            f"{name(j)}: {int(live[j])} live, {int(e[j])} impressions, {int(k[j])} clicks, "
            f"{w[j]:.1f} minutes watched" for j in topics))
    head = ("What the platform reported on your own " + noun + "s "
            + ("over your last rounds" if rounds > 1 else "this round") + ":")
    lines.append(head + "\n" + "\n".join(block))
    # its own beliefs
    be, bi = population.belief_exposure[slot], population.belief_income[slot]
    tried = np.flatnonzero((be != 0.0) | (bi != p.belief_init)).tolist()
    tried.sort(key=lambda j: (-bi[j], j))
    if tried:
        beliefs = "; ".join(f"{name(j)}: {be[j]:.1f} impressions, {bi[j]:.2f} income"
                            for j in tried)
        rest = len(tried) < t
        lines.append(f"What you believe one {noun} earns per round (running averages "
                     f"over your own {noun}s): {beliefs}"
                     + (f". Other topics: untried (you guess {p.belief_init:.2f} income)."
                        if rest else "."))
    else:
        lines.append(f"You have no experience yet: you guess {p.belief_init:.2f} income per "
                     f"{noun} on every topic.")
    lines.append("This is a reflection round: look back over these rounds and reconsider "
                 "your strategy (topic and effort) before you choose." if slow else
                 "Choose quickly from what you believe now.")
    lines.append(f"Decide your next {plural}: {'its' if budget == 1 else 'their'} topic, "
                 "your effort, a short title and a one-sentence description. Reply with JSON only: {\"topic\": <topic "
                 "number or name>, \"effort\": <0 to 1>, \"title\": \"<a few words>\", "
                 "\"description\": \"<one sentence>\", \"reason\": \"<few words>\"}.")
    system = (f"You are a content creator on a video platform, deciding what to make next. "
              f"You only see what the platform reports about your own {noun}s: you know "
              "nothing about other creators, the users or how the recommender works. "
              "Stay in character.")
    return [{"role": "system", "content": system},
            {"role": "user", "content": "\n\n".join(lines)}]


@dataclass(frozen=True, eq=False)
class LLMCreators:
    """LLM-played creators (see the module docstring): a
    :class:`~recarena.simulators.creators.world.CreatorPolicy` for
    :class:`~recarena.simulators.creators.CreatorWorld` (``creator_policy=``) and
    ``recarena/CreatorEcosystem-v0`` (``creators="llm"``).

    Args:
        backend: the LLM backend: anything with ``decide(requests, schema) ->
            decisions`` (:class:`~recarena.simulators.llm.LLMBackend`).
        topic_names: names of the topics (default ``"topic t"``); a reply may name one.
        llm_fraction: share of creators played by the LLM (a seeded hash of the id).
        llm_seed: seed of the creator hash.
        history: rounds of its own feedback a creator reviews on a slow-thinking round.
        noun: what an item is called in prompts.
        owns_backend: :meth:`close` closes the backend (it was made for this policy).
    """

    backend: Any = None
    topic_names: Sequence[str] | None = None
    llm_fraction: float = 1.0
    llm_seed: int = 0
    history: int = 3
    noun: str = "clip"
    owns_backend: bool = False

    def __post_init__(self) -> None:
        if not callable(getattr(self.backend, "decide", None)):
            raise ConfigError("LLMCreators.backend", self.backend,
                              "an LLM backend with decide(requests, schema) "
                              "(recarena.simulators.llm.LLMBackend)")
        names = self.topic_names
        if names is not None:
            if isinstance(names, str) or not all(isinstance(n, str) and n.strip()
                                                  for n in names):
                raise ConfigError("LLMCreators.topic_names", names,
                                  "None or a sequence of non-empty topic names")
            object.__setattr__(self, "topic_names", tuple(names))
        check_float(self.llm_fraction, "LLMCreators.llm_fraction", 0.0, 1.0)
        check_int(self.llm_seed, "LLMCreators.llm_seed", 0)
        check_int(self.history, "LLMCreators.history", 1, 1000)
        if not isinstance(self.noun, str) or not self.noun.strip():
            raise ConfigError("LLMCreators.noun", self.noun, "a non-empty word")

    def __repr__(self) -> str:  # (short and stable: manifests record it)
        return (f"LLMCreators(backend={self.backend!r}, llm_fraction={self.llm_fraction}, "
                f"llm_seed={self.llm_seed}, history={self.history})")

    # ----------------------------------------------------------------- the policy
    def initial_state(self, population: CreatorPopulation) -> LLMCreatorState:
        """No feedback yet."""
        return LLMCreatorState(np.zeros((self.history, _CHANNELS, population.num_slots,
                                         population.num_topics)))

    def topic_of(self, value: Any, num_topics: int) -> int | None:
        """The topic a reply names: an integer (or a string of one) in ``[0, T)``, a topic
        name (any case) or ``"topic t"``; ``None`` when it names none."""
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, np.integer)):
            return int(value) if 0 <= value < num_topics else None
        text = " ".join(str(value).split()).lower()
        if text.startswith("topic "):
            text = text[6:]
        if text.isdigit():
            return int(text) if int(text) < num_topics else None
        names = self.topic_names or ()
        for t, n in enumerate(names[:num_topics]):
            if n.lower() == text:
                return t
        return None

    def decide(self, state: LLMCreatorState, population: CreatorPopulation,
               feedback: RoundFeedback, record: dict[str, Any],
               rng: np.random.Generator) -> CreatorDecisions:
        """One round: remember the feedback, draw a seed per slot, ask every LLM creator
        that stays (one batched call), and steer those whose reply names a topic."""
        from recarena.simulators.llm import LLMRequest

        m, t = population.num_slots, population.num_topics
        if not isinstance(state, LLMCreatorState) or state.history.shape[1:] != (
                _CHANNELS, m, t):
            raise ConfigError("LLMCreators.decide.state", type(state).__name__,
                              "the LLMCreatorState of this population (initial_state)")
        h = state.history
        h[:-1] = h[1:]
        h[-1] = (feedback.exposure, feedback.clicks, feedback.watch_time, feedback.live,
                 record["income"])
        seeds = rng.integers(0, 2 ** 63 - 1, size=m, dtype=np.int64)
        ask = np.asarray(record["stay"], dtype=bool) & llm_creator_rows(
            population.creator_id, self.llm_fraction, self.llm_seed)
        rows = np.flatnonzero(ask).tolist()
        decided_by = np.full(m, "model", dtype="<U8")
        title = np.full(m, "", dtype=object)
        reason = np.full(m, "", dtype=object)
        texts = np.full(m, None, dtype=object)
        topic = np.zeros(m, dtype=np.int64)
        effort = np.zeros(m)
        mask = np.zeros(m, dtype=bool)
        if rows:
            age = population.age
            every = population.params.revision_every
            requests = []
            for c in rows:
                slow = bool(age[c] % every == 0)
                msgs = creator_messages(population, c, h, int(age[c]) if slow else 1, slow,
                                        self.topic_names, self.noun)
                requests.append(LLMRequest(msgs, int(seeds[c]),
                                           f"creator {int(population.creator_id[c])}"))
            for c, d in zip(rows, self.backend.decide(requests, CreatorDecision), strict=True):
                v = d.value
                k = None if v is None else self.topic_of(v.topic, t)
                if k is None:
                    decided_by[c] = "fallback"
                    continue
                decided_by[c] = d.decided_by if d.decided_by in ("llm", "cache") else "llm"
                topic[c], effort[c], mask[c] = k, float(v.effort), True
                name = (_clean(v.title, MAX_TITLE)
                        or f"A {self.noun} about {_topic_name(self.topic_names, k)}")
                title[c] = name
                reason[c] = _clean(v.reason, MAX_REASON)
                texts[c] = (name, _clean(v.description, MAX_DESCRIPTION))
        actions = ({"topic": topic, "effort": effort, "mask": mask} if mask.any() else None)
        return CreatorDecisions(actions, texts, {"decided_by": decided_by, "title": title,
                                                 "reason": reason})

    def close(self) -> None:
        """Close the backend if this policy owns it (an env made it from a config)."""
        if self.owns_backend and callable(getattr(self.backend, "close", None)):
            self.backend.close()


@dataclass(eq=False)
class CreatorItemTexts:
    """The :class:`~recarena.simulators.llm.prompts.ItemTexts` of a creator world: an
    item an LLM creator wrote reads ``'"Title": description (a 4-minute clip about topic
    3, high production quality)'``, any other item as
    :class:`~recarena.simulators.llm.prompts.SyntheticTexts` (``"a 4-minute clip about
    topic 3, high production quality"``). It looks the items up in the world's live
    catalog when called (set ``world`` once the world exists: an LLM user model is built
    before its world).

    Args:
        world: the :class:`~recarena.simulators.creators.CreatorWorld` (or ``None`` until
            set).
        synthetic: the texts of every item (topic names, quality cuts, noun).
    """

    world: Any = None
    synthetic: SyntheticTexts = field(default_factory=SyntheticTexts)

    def __repr__(self) -> str:  # (short and stable: manifests record it)
        return f"CreatorItemTexts({self.synthetic!r})"

    def __call__(self, items: Items) -> list[list[str]]:
        world = self.world
        if world is None or getattr(world, "catalog", None) is None:
            raise ResetNeeded("CreatorItemTexts has no world: set .world to the CreatorWorld")
        base = self.synthetic(items)
        written = world.catalog.texts_of(np.asarray(items.item_id))
        out = []
        for row, texts in zip(base, written.tolist(), strict=True):
            out.append([b if w is None else f'"{w[0]}": {w[1]} ({b})' if w[1] else
                        f'"{w[0]}" ({b})' for b, w in zip(row, texts, strict=True)])
        return out
