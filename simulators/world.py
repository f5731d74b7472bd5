"""The slate world: N users, a candidate source and a user model, stepped as one batch."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from recarena.errors import ConfigError, ResetNeeded
from recarena.simulators.catalog import CorpusCandidates, ResampledCandidates
from recarena.simulators.core import Items, Response, UserBatch
from recarena.simulators.users.model import UserModel
from recarena.validation import check_int

__all__ = ["SlateWorld", "WorldSnapshot", "WorldStep"]


class WorldStep(NamedTuple):
    """What happened in one step of the world.

    Attributes:
        slate: the shown items, ``(N, K)``.
        response: the users' response (``left`` filled in after the state update).
        scores: the scores the choice model saw, ``(N, K)``.
        gone: ``(N,)`` bool; the user is gone for good: with a retention model, churned
            (a user whose session ended but who will return is not gone and starts a new
            session at once); without one, the session ended (``response.left``).
        return_gap: ``(N,)`` days until the next session where a session ended and the
            user returns, ``inf`` where they churned, ``nan`` elsewhere.
    """

    slate: Items
    response: Response
    scores: np.ndarray
    gone: np.ndarray
    return_gap: np.ndarray


class WorldSnapshot(NamedTuple):
    """Everything needed to put a world back where it was (see :meth:`SlateWorld.snapshot`)."""

    state: UserBatch
    candidates: Items
    next_item_id: int
    next_user_id: int
    rng_states: tuple[dict, ...]


class SlateWorld:
    """N users facing slates built from per-step candidate sets.

    Randomness: :meth:`reset` takes one ``np.random.Generator`` and spawns independent
    child streams from it (``Generator.spawn``, i.e. ``SeedSequence.spawn``) for the initial
    users, the candidates, the responses and the state dynamics. Keeping the streams apart
    means that two policies facing the same world see the same users and candidates.

    Args:
        user_model: the users.
        candidates: where each step's candidates come from.
        slate_size: K, at most the number of candidates.
    """

    def __init__(self, user_model: UserModel, candidates: ResampledCandidates | CorpusCandidates,
                 slate_size: int) -> None:
        if not isinstance(user_model, UserModel):
            raise ConfigError("SlateWorld.user_model", user_model, "a UserModel")
        if not isinstance(candidates, (ResampledCandidates, CorpusCandidates)):
            raise ConfigError("SlateWorld.candidates", candidates,
                              "a ResampledCandidates or CorpusCandidates")
        self.user_model = user_model
        self.candidate_source = candidates
        self.slate_size = check_int(slate_size, "slate_size", 1, candidates.num_candidates)
        self._onehot = candidates.onehot_topics
        self.state: UserBatch | None = None
        self.candidates: Items | None = None
        self._next_item_id = 0
        self._next_user_id = 0
        self._rngs: tuple[np.random.Generator, ...] = ()

    @property
    def num_users(self) -> int:
        return 0 if self.state is None else self.state.size

    def reset(self, num_users: int, rng: np.random.Generator) -> None:
        """Start ``num_users`` fresh users and draw their first candidates."""
        num_users = check_int(num_users, "num_users", 1)
        # users, candidates, responses, dynamics (+ returns between sessions)
        self._rngs = tuple(rng.spawn(4 if self.user_model.retention is None else 5))
        src = self.candidate_source
        self._next_item_id = 0
        self.state = self.user_model.initial_state(num_users, src.feature_dim, src.num_topics,
                                                   self._rngs[0])
        self._next_user_id = num_users
        self.candidates = self._draw_candidates(num_users)

    def replace_users(self, rows: np.ndarray) -> np.ndarray:
        """Replace the users at ``rows`` (int indices) by fresh users with new user ids.

        The new users come from the same users stream as :meth:`reset`'s, so a one-user
        world that replaces its user after each session draws exactly the users that a
        one-user vector env draws. Their candidates are the ones already drawn for the
        row (candidates never depend on who the user is). Returns the new user ids."""
        if self.state is None:
            raise ResetNeeded("SlateWorld.replace_users called before reset()")
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.zeros(0, dtype=np.int64)
        src = self.candidate_source
        fresh = self.user_model.initial_state(rows.size, src.feature_dim, src.num_topics,
                                              self._rngs[0])
        fresh.user_id[:] = np.arange(self._next_user_id, self._next_user_id + rows.size)
        self._next_user_id += rows.size
        self.state.assign(rows, fresh)
        return fresh.user_id

    def _draw_candidates(self, n: int) -> Items:
        items = self.candidate_source.sample(n, self._rngs[1], self._next_item_id)
        if self.candidate_source.generative:
            self._next_item_id += n * self.candidate_source.num_candidates
        return items

    def step(self, slates: np.ndarray) -> WorldStep:
        """Show ``slates`` (``(N, K)`` candidate indices, already validated) and advance."""
        if self.state is None or self.candidates is None:
            raise ResetNeeded("SlateWorld.step called before reset()")
        model, state = self.user_model, self.state
        items = self.candidates.take(slates)
        scores = model.scores(state, items, self._onehot)
        response = model.respond(state, items, self._rngs[2], scores)
        model.next_state(state, items, response, self._rngs[3], scores, self._onehot)
        left = model.has_left(state)
        state.left |= left
        if model.retention is None:
            gone, gap = left, np.full(state.size, np.nan)
        else:
            end = model.retention.end_sessions(state, left, self._rngs[4])
            gone = np.zeros(state.size, dtype=bool)
            gone[end.rows[end.churned]] = True
            gap = np.full(state.size, np.nan)
            gap[end.rows] = end.gap
            back = np.zeros(state.size, dtype=bool)
            back[end.rows[~end.churned]] = True
            model.start_session(state, back, self._rngs[4])
        self.candidates = self._draw_candidates(state.size)
        r = response
        return WorldStep(items, Response(r[0], r[1], r[2], r[3], r[4], r[5], left), scores,
                         gone, gap)

    def candidate_scores(self) -> np.ndarray:
        """True scores ``(N, C)`` of the current candidates (privileged: oracles only)."""
        if self.state is None or self.candidates is None:
            raise ResetNeeded("SlateWorld.candidate_scores called before reset()")
        return self.user_model.scores(self.state, self.candidates, self._onehot)

    def snapshot(self) -> WorldSnapshot:
        """A copy of the full world state, random streams included."""
        if self.state is None or self.candidates is None:
            raise ResetNeeded("SlateWorld.snapshot called before reset()")
        return WorldSnapshot(self.state.copy(), Items(*(a.copy() for a in self.candidates)),
                             self._next_item_id, self._next_user_id,
                             tuple(r.bit_generator.state for r in self._rngs))

    def restore(self, snap: WorldSnapshot) -> None:
        """Put the world back to ``snap`` (which stays usable for further restores)."""
        self.state = snap.state.copy()
        self.candidates = Items(*(a.copy() for a in snap.candidates))
        self._next_item_id = snap.next_item_id
        self._next_user_id = snap.next_user_id
        if len(self._rngs) != len(snap.rng_states):
            self._rngs = tuple(np.random.Generator(np.random.PCG64()) for _ in snap.rng_states)
        for r, st in zip(self._rngs, snap.rng_states, strict=True):
            r.bit_generator.state = st
