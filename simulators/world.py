"""The slate world: N users, a candidate source and a user model, stepped as one batch."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from recarena.errors import ConfigError, ResetNeeded
from recarena.simulators.kernels import constant
from recarena.simulators.protocols import CandidateSource, check_protocol
from recarena.simulators.records import ArrayState, Items, Response, UserBatch
from recarena.simulators.users.model import UserModel
from recarena.validation import check_int

__all__ = ["ArrayState", "ArrayWorld", "SlateWorld", "WorldSnapshot", "WorldStep", "take_rows"]


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
        steps: ``(N,)`` int64; slates shown to the row's user so far, this one included
            (the world's one step counter: the env's horizon reads it).
        candidates: the next step's candidates, ``(N, C)``.
        day: ``(N,)`` the users' calendar day after the step (a retention model), or
            ``None`` (no calendar).
    """

    slate: Items
    response: Response
    scores: np.ndarray
    gone: np.ndarray
    return_gap: np.ndarray
    steps: np.ndarray
    candidates: Items
    day: np.ndarray | None

    @property
    def item_id(self) -> np.ndarray:
        """``(N, K)`` ids of the shown items."""
        return self.slate.item_id


class WorldSnapshot(NamedTuple):
    """Everything needed to put a world back where it was (see :meth:`SlateWorld.snapshot`)."""

    state: UserBatch
    candidates: Items
    next_item_id: int
    next_user_id: int
    rng_states: tuple[dict, ...]
    steps: np.ndarray
    #: candidate steps drawn ahead and not yet shown: ``(block, position)``, or ``None``
    ahead: tuple[Any, int] | None = None


#: How many candidate items a :class:`SlateWorld` draws at once from a generated source.
_AHEAD_ITEMS = 1024


def _read_only(items: Items) -> Items:
    """``items`` with read-only views of the arrays that envs hand out without copies (ids,
    quality, length): nobody downstream can write to them, and a source that hands out
    its own stored arrays keeps them writable."""
    views = []
    for arr in (items.item_id, items.quality, items.length):
        view = arr.view()
        view.flags.writeable = False
        views.append(view)
    return items._replace(item_id=views[0], quality=views[1], length=views[2])


# --------------------------------------------------------------------------- array worlds
def take_rows(arr: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``arr[i, idx[i]]`` for every row ``i``: ``(N, C, ...)`` and ``(N, K)`` -> ``(N, K, ...)``."""
    if arr.ndim == 2:
        return np.take_along_axis(arr, idx, axis=1)
    return np.take_along_axis(arr, idx.reshape(idx.shape + (1,) * (arr.ndim - 2)), axis=1)


class ArrayWorld:
    """Base of the compact worlds whose users are an :class:`ArrayState` and whose
    candidates a NamedTuple of ``(N, C, ...)`` arrays (RecSim's long-term satisfaction and
    interest exploration, the short-video feed).

    It owns what every world shares with :class:`SlateWorld`: one generator spawned into
    ``num_streams`` independent streams at :meth:`reset` (0: users, 1: candidates,
    2: responses, 3: state dynamics, then any extra), user ids, replacing users from the
    users stream, the per-user step counter :attr:`steps` (slates shown to the row's
    current user: :meth:`count_step` in every step, zero for a new user), and
    :meth:`snapshot` / :meth:`restore` for common random numbers.
    Subclasses implement :meth:`sample_users`, :meth:`sample_candidates` (or override
    :meth:`draw_candidates`, as :class:`SlateWorld` does to draw ahead) and ``step``.
    """

    num_streams: int = 4

    def __init__(self) -> None:
        self.state: Any = None
        self.candidates: Any = None
        self._next_item_id = 0
        self._next_user_id = 0
        self._rngs: tuple[np.random.Generator, ...] = ()
        #: ``(N,)`` int64: slates shown to each row's current user
        self.steps = np.zeros(0, dtype=np.int64)

    # -- to implement
    def sample_users(self, n: int, rng: np.random.Generator) -> ArrayState:
        raise NotImplementedError

    def sample_candidates(self, n: int, rng: np.random.Generator, first_id: int) -> tuple[Any, int]:
        """``n`` users' candidate sets and how many new item ids they used."""
        raise NotImplementedError

    # -- shared
    def reset(self, num_users: int, rng: np.random.Generator) -> None:
        """Start ``num_users`` fresh users and draw their first candidates."""
        num_users = check_int(num_users, "num_users", 1)
        self._rngs = tuple(rng.spawn(self.num_streams))
        self.start_users(num_users)

    def start_users(self, num_users: int) -> None:
        """``num_users`` fresh users (ids ``0 .. N-1``, step counters at 0) and their first
        candidates, from the streams :meth:`reset` spawned (item ids restart at 0)."""
        self._next_item_id = 0
        self.state = self.sample_users(num_users, self._rngs[0])
        self.state.user_id[:] = np.arange(num_users)
        self._next_user_id = num_users
        self.steps = np.zeros(num_users, dtype=np.int64)
        self.candidates = self.draw_candidates(num_users)

    def replace_users(self, rows: np.ndarray) -> np.ndarray:
        """Replace the users at ``rows`` by fresh users (new ids) from the users stream; their
        candidates stay (candidates never depend on the user). Returns the new ids."""
        if self.state is None:
            raise ResetNeeded(f"{type(self).__name__}.replace_users called before reset()")
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.zeros(0, dtype=np.int64)
        fresh = self.sample_users(rows.size, self._rngs[0])
        fresh.user_id[:] = np.arange(self._next_user_id, self._next_user_id + rows.size)
        self._next_user_id += rows.size
        self.state.assign(rows, fresh)
        self.steps = self.steps.copy()  # (step records hold the old counts)
        self.steps[rows] = 0
        return fresh.user_id

    def count_step(self) -> np.ndarray:
        """Count one more slate for every row; the counts after it. The counter is a new
        array each step, so a step record's ``steps`` never changes afterwards."""
        self.steps = self.steps + 1
        return self.steps

    def draw_candidates(self, n: int) -> Any:
        cands, used = self.sample_candidates(n, self._rngs[1], self._next_item_id)
        self._next_item_id += used
        return cands

    def require_state(self) -> None:
        if self.state is None or self.candidates is None:
            raise ResetNeeded(f"{type(self).__name__}.step called before reset()")

    def snapshot(self) -> WorldSnapshot:
        """A copy of the full world state, random streams included."""
        if self.state is None:
            raise ResetNeeded(f"{type(self).__name__}.snapshot called before reset()")
        return WorldSnapshot(self.state.copy(), type(self.candidates)(*(a.copy() for a in self.candidates)),
                             self._next_item_id, self._next_user_id,
                             tuple(r.bit_generator.state for r in self._rngs), self.steps.copy())

    def restore(self, snap: WorldSnapshot) -> None:
        """Put the world back to ``snap`` (which stays usable for further restores)."""
        self.state = snap.state.copy()
        self.candidates = type(snap.candidates)(*(a.copy() for a in snap.candidates))
        self._next_item_id = snap.next_item_id
        self._next_user_id = snap.next_user_id
        self.steps = snap.steps.copy()
        if len(self._rngs) != len(snap.rng_states):
            self._rngs = tuple(np.random.Generator(np.random.PCG64()) for _ in snap.rng_states)
        for r, st in zip(self._rngs, snap.rng_states, strict=True):
            r.bit_generator.state = st


class SlateWorld(ArrayWorld):
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

    def __init__(self, user_model: UserModel, candidates: CandidateSource,
                 slate_size: int) -> None:
        if not isinstance(user_model, UserModel):
            raise ConfigError("SlateWorld.user_model", user_model, "a UserModel")
        check_protocol(candidates, CandidateSource, "SlateWorld.candidates")
        self.user_model = user_model
        self.candidate_source = candidates
        self.slate_size = check_int(slate_size, "slate_size", 1, candidates.num_candidates)
        self._onehot = bool(getattr(candidates, "onehot_topics", False))
        #: draw several steps of candidates at once (a generated source that can)
        self._ahead_ok = bool(getattr(candidates, "generative", False)) and hasattr(
            candidates, "sample_steps")
        super().__init__()
        self.state: UserBatch | None = None
        self.candidates: Items | None = None
        self._ahead: tuple[Items, int] | None = None

    @property
    def num_streams(self) -> int:  # type: ignore[override]
        # users, candidates, responses, dynamics (+ returns between sessions)
        return 4 if self.user_model.retention is None else 5

    def sample_users(self, n: int, rng: np.random.Generator) -> UserBatch:
        src = self.candidate_source
        return self.user_model.initial_state(n, src.feature_dim, src.num_topics, rng)

    def reset(self, num_users: int, rng: np.random.Generator) -> None:
        self._ahead = None
        super().reset(num_users, rng)

    def draw_candidates(self, n: int) -> Items:
        """The next step's candidates of ``n`` users. A generated source is drawn
        ``_AHEAD_ITEMS`` items at a time (several steps for small batches, the same random
        draws in the same order) and handed out one step at a time."""
        src = self.candidate_source
        if not self._ahead_ok:
            items = src.sample(n, self._rngs[1], self._next_item_id)
            if getattr(src, "generative", False):  # new items take new ids
                self._next_item_id += n * src.num_candidates
            return _read_only(items)
        ahead = self._ahead
        if ahead is None or ahead[1] == ahead[0].item_id.shape[0] or ahead[0].item_id.shape[1] != n:
            steps = max(1, _AHEAD_ITEMS // (n * src.num_candidates))
            block = _read_only(src.sample_steps(steps, n, self._rngs[1], self._next_item_id))
            self._next_item_id += steps * n * src.num_candidates
            ahead = (block, 0)
        self._ahead = (ahead[0], ahead[1] + 1)
        # views of a read-only block: the world never writes to candidates, so they can be
        # handed to policies and info without copies
        return ahead[0].at(ahead[1])

    def snapshot(self) -> WorldSnapshot:
        return super().snapshot()._replace(ahead=self._ahead)  # (read-only: no copy)

    def restore(self, snap: WorldSnapshot) -> None:
        super().restore(snap)
        self.candidates = _read_only(self.candidates)
        self._ahead = snap.ahead

    def step(self, slates: np.ndarray) -> WorldStep:
        """Show ``slates`` (``(N, K)`` candidate indices, already validated) and advance."""
        self.require_state()
        model, state = self.user_model, self.state
        n = slates.shape[0]
        items = self.candidates.take(slates)
        scores = model.scores(state, items, self._onehot)
        parts = model.respond_parts(state, items, self._rngs[2], scores)
        model.next_state(state, items, parts[0], parts[2], self._rngs[3], scores, self._onehot)
        left = model.has_left(state)  # (the session ends after the state update)
        state.left[...] = state.left | left
        if model.retention is None:
            gone, gap = left, constant(np.nan, (n,))  # read-only: no returns here
        else:
            end = model.retention.end_sessions(state, left, self._rngs[4])
            gone = np.zeros(state.size, dtype=bool)
            gone[end.rows[end.churned]] = True
            gap = np.full(state.size, np.nan)
            gap[end.rows] = end.gap
            back = np.zeros(state.size, dtype=bool)
            back[end.rows[~end.churned]] = True
            model.start_session(state, back, self._rngs[4])
        response = Response(*parts, left)
        self.observe_feedback(items, response)
        self.candidates = self.draw_candidates(n)
        day = state.day.copy() if model.retention is not None else None
        return WorldStep(items, response, scores, gone, gap, self.count_step(),
                         self.candidates, day)

    def observe_feedback(self, slate: Items, response: Response) -> None:
        """The step's feedback hook: called in every :meth:`step` with the shown items
        ``(N, K)`` (``slate.creator_id`` says whose they are) and the users' response,
        after the users' state update and before the next candidates are drawn. A world
        whose items react to feedback (creators, a live catalog) overrides it; here it
        does nothing."""

    def candidate_scores(self) -> np.ndarray:
        """True scores ``(N, C)`` of the current candidates (privileged: oracles only)."""
        self.require_state()
        return self.user_model.scores(self.state, self.candidates, self._onehot)
