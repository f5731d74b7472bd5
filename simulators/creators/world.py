"""The slate world on two clocks: users step every request, creators every round."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

from recarena.errors import ConfigError, ResetNeeded
from recarena.simulators.creators.catalog import LiveCatalog
from recarena.simulators.creators.population import CreatorPopulation, RoundFeedback
from recarena.simulators.records import Items, Response
from recarena.simulators.users.model import UserModel
from recarena.simulators.world import SlateWorld, WorldSnapshot
from recarena.validation import check_int

__all__ = ["CREATOR_COLUMNS", "CATALOG_COLUMNS", "CreatorDecisions", "CreatorPolicy",
           "CreatorRound", "CreatorWorld", "CreatorWorldSnapshot"]

#: the columns of ``CreatorRound["creators"]`` (the event log's ``creators`` table without
#: its ``run, seed, policy, round, step`` head)
CREATOR_COLUMNS = ("creator_id", "entered_round", "alive", "left", "topic", "home_topic",
                   "effort", "items", "live_items", "exposure", "clicks", "watch_time",
                   "income")
#: the columns of ``CreatorRound["catalog"]`` (one row per topic)
CATALOG_COLUMNS = ("topic", "live_items", "new_items", "exposure", "clicks", "watch_time")


class CreatorRound(Mapping):
    """One creator round's numbers, read like a dict: ``round`` (the round that ended,
    from 0), ``step`` (world steps since reset at its end), ``creators`` (a dict of ``(R,)``
    arrays, one row per creator alive at any time in the round: :data:`CREATOR_COLUMNS`)
    and ``catalog`` (a dict of ``(T,)`` arrays: :data:`CATALOG_COLUMNS`).

    A ``Mapping`` rather than a ``dict`` on purpose: the envs' info machinery treats dicts
    as per-user batches (row 0 for the single env, rows zeroed on a ``NEXT_STEP`` reset);
    these arrays are per creator and per topic, and pass through untouched."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return (f"CreatorRound(round={self._data['round']}, step={self._data['step']}, "
                f"creators={len(self._data['creators']['creator_id'])} rows)")

    def __reduce__(self) -> tuple:
        return (CreatorRound, (self._data,))

    def __eq__(self, other: object) -> bool:
        """Same round, same numbers (arrays compared element-wise)."""
        if not isinstance(other, CreatorRound):
            return NotImplemented
        a, b = self._data, other._data
        return (a["round"], a["step"]) == (b["round"], b["step"]) and all(
            a[part].keys() == b[part].keys()
            and all(np.array_equal(a[part][k], b[part][k]) for k in a[part])
            for part in ("creators", "catalog"))

    __hash__ = None  # type: ignore[assignment]


class CreatorDecisions(NamedTuple):
    """What a :class:`CreatorPolicy` decided at the end of a round: ``actions`` for
    :meth:`CreatorPopulation.step_round` (with a ``mask`` of the slots it steers),
    ``texts`` (object ``(M,)``: the ``(title, description)`` a slot's items of the round
    get, ``None`` for none) and ``columns`` (``(M,)`` arrays per slot added to the
    round's ``creators`` report, e.g. ``decided_by``; a slot the policy did not decide
    for holds its default, which rows of creators who left or entered read)."""

    actions: Mapping[str, Any] | None
    texts: np.ndarray
    columns: dict[str, np.ndarray]


@runtime_checkable
class CreatorPolicy(Protocol):
    """Creators driven by a policy inside the world (LLM creators,
    :class:`~recarena.simulators.llm.creators.LLMCreators`): the world keeps the policy's
    state (``initial_state(population)`` at reset, with a ``copy()`` for snapshots) and
    at the end of every round, once the feedback has updated the beliefs (see
    :meth:`CreatorPopulation.step_round`'s ``decide``), calls ``decide(state,
    population, feedback, record, rng)`` with the round's :class:`RoundFeedback`, the
    step's record so far and the creators' stream."""

    def initial_state(self, population: CreatorPopulation) -> Any: ...

    def decide(self, state: Any, population: CreatorPopulation, feedback: RoundFeedback,
               record: dict[str, Any], rng: np.random.Generator) -> CreatorDecisions: ...


class CreatorWorldSnapshot(NamedTuple):
    """A :class:`CreatorWorld`'s full state: the slate world's and the creators' (with
    the creator policy's state, if any)."""

    base: WorldSnapshot
    population: CreatorPopulation
    catalog: LiveCatalog
    feedback: np.ndarray
    clock: int
    id_slot: np.ndarray
    actions: Any
    policy_state: Any = None
    #: the :class:`CreatorRound` of the last step (``None`` if no round ended in it)
    round_report: Any = None


class CreatorWorld(SlateWorld):
    """N users facing slates drawn from a live catalog that a :class:`CreatorPopulation`
    fills.

    Two clocks: every :meth:`step` is one request of every user; every ``round_length``
    steps a creator round ends: the creators get the feedback on their own items
    accumulated over the round (the step hook :meth:`observe_feedback`: impressions,
    clicks and watch time per creator and topic), learn, leave, enter and produce
    (:meth:`CreatorPopulation.step_round`), and the catalog drops expired items and those
    of creators who left and takes the new ones (:meth:`LiveCatalog.update`) before the
    next candidates are drawn. After such a step :attr:`round_report` holds the round's
    :class:`CreatorRound`; after any other it is ``None``.

    Random streams: the slate world's (users, candidates, responses, dynamics, returns)
    and one more, ``creators`` (the last), for everything the creators draw. At reset the
    initial creators fill the catalog with ``item_lifetime`` rounds of production (the
    catalog starts as in a steady state: items of every age).

    Controlled creators: set :attr:`creator_actions` (``{"topic": (M,) int, "effort": (M,)
    float}``, optionally ``"mask"``) before the step that ends a round; it applies to
    that round's production and is then cleared.

    Policy-driven creators (``creator_policy``, a :class:`CreatorPolicy` such as LLM
    creators): every round the policy decides from the round's feedback (its own state
    in :attr:`policy_state`, snapshotted with the world), the items of the creators it
    steers carry the ``(title, description)`` it wrote (``catalog.text``; a creator's
    second and later items of a round get " (part k)"), and the round's ``creators``
    report gains the policy's columns (``decided_by``, ...). Setting
    :attr:`creator_actions` as well raises ``ConfigError`` at the round's end.

    Args:
        user_model: the users.
        catalog: the live catalog (a fresh :class:`LiveCatalog`; the world owns it).
        slate_size: K.
        round_length: steps per creator round.
        creator_policy: a :class:`CreatorPolicy`, or ``None`` (the creators' own models).
    """

    def __init__(self, user_model: UserModel, catalog: LiveCatalog, slate_size: int,
                 round_length: int, creator_policy: CreatorPolicy | None = None) -> None:
        if not isinstance(catalog, LiveCatalog):
            raise ConfigError("CreatorWorld.catalog", catalog, "a LiveCatalog")
        super().__init__(user_model, catalog, slate_size)
        self.catalog = catalog
        self.round_length = check_int(round_length, "CreatorWorld.round_length", 1)
        self.population = CreatorPopulation(catalog.params, catalog.num_topics)
        m, t = self.population.num_slots, catalog.num_topics
        self._feedback = np.zeros((3, m + 1, t))
        #: the steps' ``(slot * T + topic, clicked, watch_time)`` since the last flush
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.clock = 0
        self._id_slot = np.zeros(0, dtype=np.int64)
        #: the next round's creator actions (controlled creators), or ``None``
        self.creator_actions: Mapping[str, Any] | None = None
        #: the :class:`CreatorRound` of the round that ended in the last step, or ``None``
        self.round_report: CreatorRound | None = None
        if creator_policy is not None and not isinstance(creator_policy, CreatorPolicy):
            raise ConfigError("CreatorWorld.creator_policy", creator_policy,
                              "None or a CreatorPolicy (initial_state(population), "
                              "decide(state, population, feedback, record, rng))")
        #: the creator policy, or ``None``; its state
        self.creator_policy = creator_policy
        self.policy_state: Any = None

    @property
    def num_streams(self) -> int:  # type: ignore[override]
        return super().num_streams + 1

    @property
    def creators_rng(self) -> np.random.Generator:
        """The creators' random stream (the last one)."""
        return self._rngs[-1]

    def reset(self, num_users: int, rng: np.random.Generator) -> None:
        """Start the initial creators and their catalog, then ``num_users`` fresh users and
        their first candidates."""
        num_users = check_int(num_users, "num_users", 1)
        self._ahead = None
        self._rngs = tuple(rng.spawn(self.num_streams))
        pop, cat, crng = self.population, self.catalog, self.creators_rng
        pop.reset(crng)
        cat.clear()
        cat.next_item = 0
        life = cat.params.item_lifetime
        for age in range(life - 1, -1, -1):  # oldest first: the catalog is ordered by age
            cat.add(pop.produce(crng), -age)
        self._feedback[...] = 0.0
        self._pending = []
        self.clock = 0
        self.creator_actions = None
        self.round_report = None
        policy = self.creator_policy
        self.policy_state = None if policy is None else policy.initial_state(pop)
        self._index_creators()
        self.start_users(num_users)

    def _index_creators(self) -> None:
        """The slot of every creator id (``M`` for creators who left)."""
        pop = self.population
        ids = np.full(pop.next_creator_id, pop.num_slots, dtype=np.int64)
        live = np.flatnonzero(pop.alive)
        ids[pop.creator_id[live]] = live
        self._id_slot = ids

    def step(self, slates: np.ndarray) -> Any:
        self.round_report = None
        return super().step(slates)

    def observe_feedback(self, slate: Items, response: Response) -> None:
        """Add the step's impressions, clicks and watch time to each creator's round
        totals (by slot and topic); end the round every ``round_length`` steps."""
        t = self.catalog.num_topics
        idx = self._id_slot.take(slate.creator_id) * t + slate.topic
        self._pending.append((idx, response.clicked, response.watch_time))
        self.clock += 1
        if self.clock % self.round_length == 0:
            self._end_round()

    def _flush_feedback(self) -> None:
        """Add the steps' feedback kept since the last flush to the round totals (one
        ``bincount`` per signal for many steps)."""
        if not self._pending:
            return
        size = self._feedback[0].size
        fb = self._feedback.reshape(3, size)
        idx = np.concatenate([p[0].ravel() for p in self._pending])
        fb[0] += np.bincount(idx, minlength=size)
        fb[1] += np.bincount(idx, weights=np.concatenate([p[1].ravel() for p in self._pending]),
                             minlength=size)
        fb[2] += np.bincount(idx, weights=np.concatenate([p[2].ravel() for p in self._pending]),
                             minlength=size)
        self._pending = []

    def _end_round(self) -> None:
        pop, cat = self.population, self.catalog
        m, t = pop.num_slots, cat.num_topics
        self._flush_feedback()
        fb = self._feedback
        live = cat.counts(m)
        before = {"alive": pop.alive.copy(), "creator_id": pop.creator_id.copy(),
                  "entered_round": pop.entered_round.copy(), "home_topic": pop.home_topic,
                  "effort": pop.effort.copy()}
        r = pop.round
        actions, self.creator_actions = self.creator_actions, None
        feedback = RoundFeedback(fb[0, :m], fb[1, :m], fb[2, :m], live[:m])
        policy, decided = self.creator_policy, []
        decide = None
        if policy is not None:
            def decide(population: CreatorPopulation, record: dict[str, Any]) -> Any:
                out = policy.decide(self.policy_state, population, feedback, record,
                                    self.creators_rng)
                decided.append(out)
                return out.actions

        rec = pop.step_round(feedback, self.creators_rng, actions, decide)
        items, left, entered = rec["items"], rec["left"], rec["entered"]
        texts = self._item_texts(decided[0], items) if decided else None
        cat.update(pop.round, left, items, texts)
        self._index_creators()
        made = np.bincount(items.slot * t + items.topic, minlength=m * t).reshape(m, t)
        n_made = made.sum(axis=1)
        top = np.where(n_made > 0, made.argmax(axis=1), -1)
        now_live = cat.counts(m)[:m].sum(axis=1)
        a = np.flatnonzero(before["alive"])  # rows of creators alive during the round
        b = np.flatnonzero(entered)          # rows of creators who entered at its end
        stayed = ~left[a]
        per_creator = fb[:, :m].sum(axis=2)
        income = rec["income"].sum(axis=1)
        creators = {
            "creator_id": np.concatenate([before["creator_id"][a], pop.creator_id[b]]),
            "entered_round": np.concatenate([before["entered_round"][a], pop.entered_round[b]]),
            "alive": np.concatenate([stayed, np.ones(b.size, dtype=bool)]),
            "left": np.concatenate([left[a], np.zeros(b.size, dtype=bool)]),
            "topic": np.concatenate([np.where(stayed, top[a], -1), top[b]]).astype(np.int64),
            "home_topic": np.concatenate([before["home_topic"][a], pop.home_topic[b]]),
            "effort": np.concatenate([np.where(stayed, pop.effort[a], before["effort"][a]),
                                      pop.effort[b]]),
            "items": np.concatenate([np.where(stayed, n_made[a], 0), n_made[b]]).astype(np.int64),
            "live_items": np.concatenate([np.where(stayed, now_live[a], 0),
                                          now_live[b]]).astype(np.int64),
            "exposure": np.concatenate([per_creator[0, a], np.zeros(b.size)]).astype(np.int64),
            "clicks": np.concatenate([per_creator[1, a], np.zeros(b.size)]).astype(np.int64),
            "watch_time": np.concatenate([per_creator[2, a], np.zeros(b.size)]),
            "income": np.concatenate([income[a], np.zeros(b.size)]),
        }
        for name, col in (decided[0].columns.items() if decided else ()):
            creators[name] = np.concatenate([col[a], col[b]])
        per_topic = fb.sum(axis=1)
        catalog = {
            "topic": np.arange(t, dtype=np.int64),
            "live_items": np.bincount(cat.topic, minlength=t).astype(np.int64),
            "new_items": np.bincount(items.topic, minlength=t).astype(np.int64),
            "exposure": per_topic[0].astype(np.int64),
            "clicks": per_topic[1].astype(np.int64),
            "watch_time": per_topic[2].copy(),
        }
        self.round_report = CreatorRound({"round": r, "step": self.clock,
                                          "creators": creators, "catalog": catalog})
        fb[...] = 0.0

    @staticmethod
    def _item_texts(decisions: CreatorDecisions, items: Any) -> np.ndarray:
        """The round's items' texts: their slot's, " (part k)" from a slot's second."""
        texts = np.asarray(decisions.texts, dtype=object)[items.slot]
        first = np.searchsorted(items.slot, items.slot)  # (items are grouped by slot)
        for j in np.flatnonzero(np.arange(items.slot.size) > first).tolist():
            if texts[j] is not None:
                title, description = texts[j]
                texts[j] = (f"{title} (part {j - int(first[j]) + 1})", description)
        return texts

    # ------------------------------------------------------------------ snapshots
    def snapshot(self) -> CreatorWorldSnapshot:  # type: ignore[override]
        """The full state: users, candidates, random streams, creators, catalog, the
        round's feedback so far and the clock."""
        if self.state is None:
            raise ResetNeeded("CreatorWorld.snapshot called before reset()")
        self._flush_feedback()
        state = self.policy_state
        return CreatorWorldSnapshot(super().snapshot(), self.population.copy(),
                                    self.catalog.copy(), self._feedback.copy(), self.clock,
                                    self._id_slot.copy(), _copy_actions(self.creator_actions),
                                    None if state is None else state.copy(), self.round_report)

    def restore(self, snap: CreatorWorldSnapshot) -> None:  # type: ignore[override]
        if not isinstance(snap, CreatorWorldSnapshot):
            raise ConfigError("CreatorWorld.restore", snap, "a CreatorWorldSnapshot")
        super().restore(snap.base)
        self.population = snap.population.copy()
        self.catalog = snap.catalog.copy()
        self.candidate_source = self.catalog
        self._feedback = snap.feedback.copy()
        self._pending = []
        self.clock = snap.clock
        self._id_slot = snap.id_slot.copy()
        self.creator_actions = _copy_actions(snap.actions)
        self.policy_state = None if snap.policy_state is None else snap.policy_state.copy()
        self.round_report = snap.round_report


def _copy_actions(actions: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A copy of pending creator actions whose arrays later edits cannot reach."""
    return None if actions is None else {k: np.array(v, copy=True) for k, v in actions.items()}
