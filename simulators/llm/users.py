"""Users whose decisions come from an LLM that plays them (RecAgent / Agent4Rec style).

:class:`LLMUserModel` is a :class:`~recarena.simulators.users.UserModel` whose
``respond_parts`` asks an LLM backend (:class:`~recarena.simulators.llm.LLMBackend` or
anything with its ``decide``) what each user does with the slate, in the spirit of
Agent4Rec (Zhang et al. 2024, "On Generative Agents in Recommendation", SIGIR): each
user is a persona built from data (:mod:`~recarena.simulators.llm.persona`), with a
memory of what they saw and felt and periodic reflections
(:mod:`~recarena.simulators.llm.memory`), who reads the slate as numbered item texts and
answers with a choice, a reason, a rating and whether they leave
(:mod:`~recarena.simulators.llm.prompts`). Following RecoWorld (Meta 2025, "RecoWorld:
Building Simulated Environments for Agentic Recommender Systems"), a user who is about
to leave or rates low may give the recommender an *instruction* ("less horror, more
recent films"), observable as text and as a per-genre vector.

Everything else is the base model's: interests, budget, history, signals, retention.

===================  ==========================================================================
one step             the base choice model samples a decision for every row (its usual
                     draws); then one seed per row is drawn from ``rng`` (always, for every
                     row, whatever is decided: streams stay aligned across policies); then
                     one ``backend.decide`` call for all LLM-decided rows; then the base
                     signal model gives watch time / like / share / follow for the final
                     clicks
LLM-decided rows     ``llm_fraction`` of the users (by a seeded hash of ``user_id``: a user is
                     always LLM or always model), on every ``llm_every``-th step of the user
                     (their steps 0, k, 2k, ...)
a reply              ``choice`` ``c`` in 1..K clicks position ``c - 1`` (at most one click,
                     as MovieLens' logit); null: no click; every position is examined;
                     ``leave``: the session ends after this step (:meth:`has_left`, and
                     the budget, if any, is spent)
fallback             a reply that is missing, malformed or out of range (``choice`` not in
                     1..K) keeps the base model's decision for that row and step
``decided_by``       per row and step: ``llm`` (answered by the endpoint), ``cache``
                     (replayed from the backend's cache), ``fallback``, ``model`` (not
                     LLM-decided); in the env's ``info["llm"]`` with ``rating``, ``reason``,
                     ``leave``, ``instruction``, token counts (:meth:`step_info`)
instruction          given where the user leaves or rates <= ``low_rating`` and says
                     something (text or ``more_genres`` / ``less_genres``); sanitised to
                     :data:`INSTRUCTION_CHARSET`, at most ``instruction_length`` characters;
                     the genre vector is +1 / -1 for the schema's genres, else parsed from
                     the text ("less horror, more comedy"); it stays until the user gives
                     another or is replaced
reproducibility      requests are deterministic functions of the state and the seeds, so a
                     backend with a cache replays a run byte for byte with no request sent;
                     fatal backend errors (:class:`~recarena.errors.LLMBackendError`, e.g. a
                     spent budget) propagate out of the env's ``step``
===================  ==========================================================================

Memories (with instructions and personas) are part of the user state: the model's
:meth:`~LLMUserModel.initial_state` makes an :class:`LLMUserBatch`, whose ``memory``
holds one immutable :class:`~recarena.simulators.llm.memory.RowMemory` per user. So a
replaced user starts with an empty memory, and world snapshots (common random numbers,
RL checkpoints) copy, restore and pickle memories with the rest of the state: a resumed
run sends the same prompts and replays from the cache.
"""

from __future__ import annotations

import dataclasses
import re
import string
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from recarena.errors import ConfigError
from recarena.simulators.llm.memory import EMPTY_MEMORY, MemoryEntry
from recarena.simulators.llm.persona import Persona, interest_persona
from recarena.simulators.llm.prompts import (
    MAX_TEXT,
    CatalogTexts,
    ItemTexts,
    Reflection,
    SyntheticTexts,
    UserDecision,
    decision_messages,
    reflection_messages,
)
from recarena.simulators.records import Items, UserBatch
from recarena.simulators.users.model import UserModel
from recarena.validation import check_float, check_int

__all__ = ["DECIDED_BY", "INSTRUCTION_CHARSET", "LLMUserBatch", "LLMUserModel", "MovieLensPersonas",
           "PersonaSource", "TopicPersonas", "llm_user_rows", "movielens_texts",
           "parse_genre_instruction", "sanitise_instruction"]

#: the codes of ``decided_by``
DECIDED_BY = ("llm", "cache", "fallback", "model")
#: the characters an instruction observation may hold (Gymnasium ``Text`` charset)
INSTRUCTION_CHARSET = string.ascii_letters + string.digits + " .,;:!?'-()/&"
_CHARSET = frozenset(INSTRUCTION_CHARSET)
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


# --------------------------------------------------------------------------- personas
@runtime_checkable
class PersonaSource(Protocol):
    """``describe(state, rows) -> list[str]``: the persona text of the users at ``rows``."""

    def describe(self, state: UserBatch, rows: np.ndarray) -> list[str]: ...


@dataclass(frozen=True)
class TopicPersonas:
    """Personas read off interest vectors whose dimensions are topics (RecSim-style
    worlds with one-hot topic features): the ``top`` most and least liked topics.

    Args:
        topic_names: names of the topics (default ``"topic t"``).
        top: topics named each way.
    """

    topic_names: Sequence[str] | None = None
    top: int = 3

    def describe(self, state: UserBatch, rows: np.ndarray) -> list[str]:
        out = []
        names = self.topic_names
        for x in state.interests[np.asarray(rows, dtype=np.int64)]:
            order = np.argsort(-x, kind="stable")

            def name(t: int) -> str:
                return names[t] if names is not None and t < len(names) else f"topic {t}"

            out.append("You are most interested in " + ", ".join(name(t) for t in order[:self.top])
                       + "; least in " + ", ".join(name(t) for t in order[::-1][:self.top]) + ".")
        return out


class MovieLensPersonas:
    """Personas of ``MovieLens-v0``'s users. A simulated user whose interests are a fitted
    MovieLens user's profile (``EmpiricalInterests`` copies the row) gets that user's
    data persona (:func:`~recarena.simulators.llm.persona.movielens_personas`, from the
    training part of their ratings); a new user (drawn from the population) gets
    :func:`~recarena.simulators.llm.persona.interest_persona` of their fitted utilities.

    Args:
        fitted: the fit (its users, titles, genres, features).
        personas: ``{MovieLens user id: Persona}`` (default: computed from the shipped
            ml-latest-small with the fit's holdout share).
    """

    def __init__(self, fitted: Any, personas: dict[int, Persona] | None = None) -> None:
        if personas is None:
            from recarena.simulators.data.movielens import load_movielens
            from recarena.simulators.llm.persona import movielens_personas

            data = load_movielens()
            personas, _ = movielens_personas(data.ratings, data.movies,
                                             float(fitted.settings.get("holdout", 0.2)))
        if not isinstance(personas, dict):
            raise ConfigError("MovieLensPersonas.personas", personas,
                              "a dict {MovieLens user id: Persona} or None")
        self.fitted = fitted
        self.personas = personas
        interests = np.ascontiguousarray(fitted.interests, dtype=np.float64)
        self._index = {row.tobytes(): int(uid) for row, uid in zip(interests, fitted.user_ids,
                                                                   strict=True)}
        index = {g: j for j, g in enumerate(fitted.genre_names)}
        gm = np.zeros((len(fitted.genres), len(fitted.genre_names)))
        for i, gs in enumerate(fitted.genres):
            for g in gs:
                gm[i, index[g]] = 1.0
        self._genre_matrix = gm
        self._features = fitted.features

    def __repr__(self) -> str:  # (short and stable: manifests record it)
        return (f"MovieLensPersonas({len(self.personas)} personas, "
                f"{len(self.fitted.user_ids)} fitted users)")

    def movielens_user(self, interests: np.ndarray) -> int:
        """The MovieLens id whose fitted profile these interests are, or -1 (new user)."""
        return self._index.get(np.ascontiguousarray(interests, dtype=np.float64).tobytes(), -1)

    def persona(self, interests: np.ndarray) -> Persona:
        uid = self.movielens_user(interests)
        if uid >= 0 and uid in self.personas:
            return self.personas[uid]
        f = self.fitted
        return interest_persona(self._features @ interests, self._genre_matrix,
                                f.genre_names, f.titles)

    def describe(self, state: UserBatch, rows: np.ndarray) -> list[str]:
        return [self.persona(state.interests[r]).describe()
                for r in np.asarray(rows, dtype=np.int64).tolist()]


# --------------------------------------------------------------------------- helpers
def llm_user_rows(user_id: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """``(N,)`` bool: which users are LLM-decided, ``hash(user_id, seed) < fraction``
    with the SplitMix64 finaliser as the hash (a user is always one or the other)."""
    if fraction >= 1.0:
        return np.ones(np.shape(user_id), dtype=bool)
    if fraction <= 0.0:
        return np.zeros(np.shape(user_id), dtype=bool)
    with np.errstate(over="ignore"):
        z = (np.asarray(user_id).astype(np.uint64)
             + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)) & _MASK64
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(2 ** 53) < fraction


def sanitise_instruction(text: str | None, length: int = 120) -> str:
    """``text`` restricted to :data:`INSTRUCTION_CHARSET` (other characters become
    spaces), whitespace collapsed, at most ``length`` characters."""
    if not text:
        return ""
    clean = "".join(c if c in _CHARSET else " " for c in str(text))
    return " ".join(clean.split())[:length].rstrip()


_MORE = {"more", "plus", "want", "like", "love", "prefer", "add"}
_LESS = {"less", "fewer", "no", "not", "without", "stop", "avoid", "hate", "dislike"}


def parse_genre_instruction(text: str, genre_names: Sequence[str]) -> np.ndarray:
    """``(G,)`` float32 in ``{-1, 0, 1}``: each genre named in ``text`` gets the sign of the
    nearest preceding "more"-word (+1: more, want, prefer, ...) or "less"-word (-1: less,
    fewer, no, avoid, ...); ``"less horror, more comedy"`` -> Horror -1, Comedy +1.
    Matching ignores case and a plural (``westerns``, ``comedies``)."""
    out = np.zeros(len(genre_names), dtype=np.float32)
    names = {g.lower(): j for j, g in enumerate(genre_names)}
    sign = 0.0
    for word in re.findall(r"[a-z0-9\-]+", str(text).lower()):
        if word in _MORE:
            sign = 1.0
        elif word in _LESS:
            sign = -1.0
        else:
            j = names.get(word)
            if j is None and word.endswith("ies"):  # comedies -> comedy
                j = names.get(word[:-3] + "y")
            if j is None and word.endswith("s"):  # westerns -> western
                j = names.get(word[:-1])
            if j is not None and sign:
                out[j] = sign
    return out


@dataclass(eq=False)
class LLMUserBatch(UserBatch):
    """:class:`UserBatch` with what LLM-played users carry, so that it is replaced with the
    user, copied by world snapshots, restored with them and pickled with checkpoints.

    Attributes:
        memory: object ``(N,)``; each user's :class:`~recarena.simulators.llm.memory.RowMemory`
            (immutable: a snapshot never shares changes with the live state).
        llm_leave: bool ``(N,)``; the LLM said ``leave`` in the user's latest step.
    """

    memory: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    llm_leave: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


# --------------------------------------------------------------------------- the model
@dataclass(frozen=True)
class LLMUserModel(UserModel):
    """Users decided by an LLM playing them (see the module docstring).

    Build one from a model-driven user model with :meth:`from_model`; the base fields
    (choice, budget, signals, ...) are that model's.

    Args:
        backend: the LLM backend: anything with ``decide(requests, schema) ->
            decisions`` (:class:`~recarena.simulators.llm.LLMBackend`).
        personas: who each user is (a :class:`PersonaSource`; default
            :class:`TopicPersonas`).
        item_texts: how items read (an :class:`~recarena.simulators.llm.prompts.ItemTexts`;
            default :class:`~recarena.simulators.llm.prompts.SyntheticTexts`).
        genre_names: the genres of the instruction's genre vector (``()``: none).
        llm_fraction: share of users decided by the LLM (a seeded hash of ``user_id``).
        llm_every: the LLM decides every k-th step of a user (steps 0, k, 2k, ...); the
            base model the others.
        llm_seed: seed of the user hash.
        memory_length: steps remembered per user.
        reflect_every: reflect every this many steps of a user (0: never).
        low_rating: a rating at or below this exposes the user's instruction.
        instruction_length: longest instruction text observed (characters).
        owns_backend: :meth:`close` closes the backend (it was made for this model).
    """

    backend: Any = None
    personas: Any = field(default_factory=TopicPersonas)
    item_texts: Any = field(default_factory=SyntheticTexts)
    genre_names: tuple[str, ...] = ()
    llm_fraction: float = 1.0
    llm_every: int = 1
    llm_seed: int = 0
    memory_length: int = 5
    reflect_every: int = 0
    low_rating: int = 2
    instruction_length: int = 120
    owns_backend: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not callable(getattr(self.backend, "decide", None)):
            raise ConfigError("LLMUserModel.backend", self.backend,
                              "an LLM backend with decide(requests, schema) "
                              "(recarena.simulators.llm.LLMBackend)")
        if not callable(getattr(self.personas, "describe", None)):
            raise ConfigError("LLMUserModel.personas", self.personas,
                              "a persona source with describe(state, rows)")
        if not isinstance(self.item_texts, ItemTexts):
            raise ConfigError("LLMUserModel.item_texts", self.item_texts,
                              "an ItemTexts callable items -> N lists of K strings")
        if isinstance(self.genre_names, str) or not all(
                isinstance(g, str) for g in self.genre_names):
            raise ConfigError("LLMUserModel.genre_names", self.genre_names,
                              "a sequence of genre names")
        object.__setattr__(self, "genre_names", tuple(self.genre_names))
        check_float(self.llm_fraction, "LLMUserModel.llm_fraction", 0.0, 1.0)
        check_int(self.llm_every, "LLMUserModel.llm_every", 1)
        check_int(self.llm_seed, "LLMUserModel.llm_seed", 0)
        check_int(self.memory_length, "LLMUserModel.memory_length", 0, 1000)
        check_int(self.reflect_every, "LLMUserModel.reflect_every", 0)
        check_int(self.low_rating, "LLMUserModel.low_rating", 0, 5)
        check_int(self.instruction_length, "LLMUserModel.instruction_length", 1, 10_000)
        object.__setattr__(self, "_last_info", weakref.WeakKeyDictionary())

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_last_info", None)  # the latest step's info per world, not the model
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        object.__setattr__(self, "_last_info", weakref.WeakKeyDictionary())

    @classmethod
    def from_model(cls, base: UserModel, backend: Any, **options: Any) -> LLMUserModel:
        """An LLM user model over ``base``'s components (choice model for fallbacks and
        model-decided rows, budget, signals, ...); ``options`` are this class's own
        fields."""
        if not isinstance(base, UserModel):
            raise ConfigError("LLMUserModel.from_model.base", base, "a UserModel")
        kw = {f.name: getattr(base, f.name) for f in dataclasses.fields(UserModel)}
        return cls(**kw, backend=backend, **options)

    # ----------------------------------------------------------------- state
    def initial_state(self, n: int, feature_dim: int, num_topics: int,
                      rng: np.random.Generator) -> LLMUserBatch:
        """The base model's fresh users (the same draws), with empty memories."""
        base = super().initial_state(n, feature_dim, num_topics, rng)
        return LLMUserBatch(**vars(base), memory=np.full(n, EMPTY_MEMORY, dtype=object),
                            llm_leave=np.zeros(n, dtype=bool))

    @staticmethod
    def _check_state(state: UserBatch) -> LLMUserBatch:
        if not isinstance(state, LLMUserBatch):
            raise ConfigError("LLMUserModel state", type(state).__name__,
                              "an LLMUserBatch made by LLMUserModel.initial_state")
        return state

    # ----------------------------------------------------------------- the step
    def respond_parts(self, state: UserBatch, items: Items, rng: np.random.Generator,
                      scores: np.ndarray) -> tuple[np.ndarray, ...]:
        """The base model's decision for every row, replaced by the LLM's where it decides
        (see the module docstring); signals from the base signal model."""
        from recarena.simulators.llm import LLMRequest

        n, k = scores.shape
        state = self._check_state(state)
        mem = state.memory
        new = np.flatnonzero([m.persona == "" for m in mem])
        if new.size:  # users at their first step: their persona
            for r, text in zip(new.tolist(), self.personas.describe(state, new), strict=True):
                mem[r] = mem[r].replace(persona=text or " ")
        clicked, examined = self.choice.sample(scores, rng)
        clicked, examined = np.array(clicked, dtype=bool), np.array(examined, dtype=bool)
        seeds = rng.integers(0, 2 ** 63 - 1, size=n, dtype=np.int64)
        is_llm = llm_user_rows(state.user_id, self.llm_fraction, self.llm_seed)
        steps = np.fromiter((m.steps for m in mem), dtype=np.int64, count=n)
        rows = np.flatnonzero(is_llm & (steps % self.llm_every == 0))
        decided = np.full(n, "model", dtype="<U8")
        rating = np.zeros(n, dtype=np.int64)
        reason = np.full(n, "", dtype=object)
        instruction = np.full(n, "", dtype=object)
        leave = np.zeros(n, dtype=bool)
        tokens = np.zeros((2, n), dtype=np.int64)
        llm_rows = np.flatnonzero(is_llm)  # (only LLM users need texts and memories)
        texts = self.item_texts(_rows_of(items, llm_rows)) if llm_rows.size else []
        text_of = dict(zip(llm_rows.tolist(), texts, strict=True))
        replies: dict[int, UserDecision] = {}
        if rows.size:
            requests = [LLMRequest(decision_messages(mem[r].persona, mem[r].text(), text_of[r]),
                                   int(seeds[r]), f"user {int(state.user_id[r])}")
                        for r in rows.tolist()]
            decisions = self.backend.decide(requests, UserDecision)
            for r, d in zip(rows.tolist(), decisions, strict=True):
                tokens[0, r], tokens[1, r] = int(d.prompt_tokens or 0), int(d.completion_tokens or 0)
                v = d.value
                if v is None or (v.choice is not None and not 1 <= v.choice <= k):
                    decided[r] = "fallback"
                    continue
                decided[r] = d.decided_by if d.decided_by in ("llm", "cache") else "llm"
                replies[r] = v
                clicked[r] = False
                examined[r] = True
                if v.choice is not None:
                    clicked[r, v.choice - 1] = True
                    rating[r] = 0 if v.rating is None else v.rating
                reason[r] = " ".join(v.reason.split())[:MAX_TEXT]
                leave[r] = v.leave
        watch, liked, shared, followed = self.signals.sample(
            items, clicked, scores, state.budget if self.budget is not None else None, rng)
        state.llm_leave[:] = leave
        if self.budget is not None and leave.any():  # the session is over: nothing left
            state.budget[leave] = np.minimum(state.budget[leave], 0.0)
        # memories of the LLM users: what they watched, and instructions where the user
        # leaves or rates low and says something
        pos = np.where(clicked.any(axis=1), clicked.argmax(axis=1), -1)
        for r in llm_rows.tolist():
            p = int(pos[r])
            m = mem[r].remember(MemoryEntry(None if p < 0 else text_of[r][p],
                                            int(rating[r]) or None, reason[r], k),
                                self.memory_length)
            v = replies.get(r)
            if v is not None and (v.leave or 0 < rating[r] <= self.low_rating):
                text = sanitise_instruction(v.instruction, self.instruction_length)
                vec = self._genre_vector(text, v.more_genres, v.less_genres)
                if text or vec.any():
                    m = m.replace(instruction=text, instruction_genres=tuple(vec.tolist()))
                    instruction[r] = text
            mem[r] = m
        self._reflect(state, llm_rows, seeds)
        self._last_info[state] = {  # type: ignore[attr-defined]
            "decided_by": decided, "rating": rating, "reason": reason, "leave": leave,
            "instruction": instruction, "prompt_tokens": tokens[0],
            "completion_tokens": tokens[1]}
        return clicked, examined, watch, liked, shared, followed

    def _genre_vector(self, text: str, more: Sequence[str], less: Sequence[str]) -> np.ndarray:
        names = self.genre_names
        if not names:
            return np.zeros(0, dtype=np.float32)
        vec = parse_genre_instruction(text, names)
        index = {g.lower(): j for j, g in enumerate(names)}
        for sign, group in ((1.0, more), (-1.0, less)):
            for g in group:
                j = index.get(str(g).strip().lower())
                if j is not None:
                    vec[j] = sign
        return vec

    def _reflect(self, state: LLMUserBatch, llm_rows: np.ndarray, seeds: np.ndarray) -> None:
        """Reflections of the LLM users due this step: one batched call; a fallback gets
        the deterministic summary."""
        from recarena.simulators.llm import LLMRequest

        mem = state.memory
        due = [r for r in llm_rows.tolist() if mem[r].reflects(self.reflect_every)]
        if not due:
            return
        # the reflection's seed is derived from the step's seed (no extra draws)
        requests = [LLMRequest(reflection_messages(mem[r].persona, mem[r].text()),
                               int((int(seeds[r]) + 1) % (2 ** 63)),
                               f"reflect {int(state.user_id[r])}") for r in due]
        for r, d in zip(due, self.backend.decide(requests, Reflection), strict=True):
            summary = "" if d.value is None else " ".join(d.value.summary.split())[:MAX_TEXT]
            mem[r] = mem[r].replace(reflection=summary or mem[r].fallback_summary())

    def has_left(self, state: UserBatch) -> np.ndarray:
        """The base model's leaving, or the LLM said ``leave`` this step."""
        left = super().has_left(state)
        return left | state.llm_leave if isinstance(state, LLMUserBatch) else left

    def close(self) -> None:
        """Close the backend if this model owns it (an env made it from a config)."""
        if self.owns_backend and callable(getattr(self.backend, "close", None)):
            self.backend.close()

    # ----------------------------------------------------------------- env hooks
    def step_info(self, state: UserBatch) -> dict[str, np.ndarray]:
        """The last step's LLM record, ``(N,)`` per entry: ``decided_by`` (one of
        :data:`DECIDED_BY`), ``rating`` (1-5, 0: none), ``reason``, ``leave``,
        ``instruction`` (given this step, else empty), ``prompt_tokens`` and
        ``completion_tokens`` (0 where no request was made; a cache replay reports what
        the reply cost when it was paid)."""
        info = self._last_info.get(state)  # type: ignore[attr-defined]
        return {} if info is None else {key: arr.copy() for key, arr in info.items()}

    def instruction_spaces(self) -> dict[str, Any]:
        """The observation entries of the ``instruction`` part: ``instruction`` (Gymnasium
        ``Text``) and, with genres, ``instruction_genres`` ``Box(-1, 1, (G,))``."""
        from gymnasium import spaces

        out: dict[str, Any] = {"instruction": spaces.Text(self.instruction_length,
                                                          min_length=0,
                                                          charset=INSTRUCTION_CHARSET)}
        if self.genre_names:
            out["instruction_genres"] = spaces.Box(-1.0, 1.0, (len(self.genre_names),),
                                                   np.float32)
        return out

    def instruction_observation(self, state: UserBatch,
                                rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The users' latest instructions (empty for a user who gave none): ``instruction``
        ``(N,)`` object array of str, ``instruction_genres`` ``(N, G)``."""
        rows = np.arange(state.size) if rows is None else np.asarray(rows, dtype=np.int64)
        mem = self._check_state(state).memory[rows]
        text = np.array([m.instruction for m in mem], dtype=object)
        g = len(self.genre_names)
        vec = np.array([m.instruction_genres or (0.0,) * g for m in mem],
                       dtype=np.float32).reshape(rows.size, g)
        out = {"instruction": text}
        if g:
            out["instruction_genres"] = vec
        return out


def _rows_of(items: Items, rows: np.ndarray) -> Items:
    """The items of the users at ``rows``."""
    if rows.size == items.item_id.shape[0]:
        return items
    return Items(*(field_[rows] for field_ in items))


def movielens_texts(fitted: Any) -> CatalogTexts:
    """Item texts of the MovieLens catalog: ``"Heat (1995) [Action, Crime, Thriller]"``."""
    return CatalogTexts(fitted.titles, fitted.genres)
