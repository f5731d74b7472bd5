"""The memory of LLM-played users, one slot per user row of a world.

Agent4Rec (Zhang et al. 2024) gives each generative agent a memory of what it was shown
and how it felt about it, and RecAgent / Generative Agents (Park et al. 2023) add
*reflection*: every so often the agent condenses its memory into a higher-level summary.
:class:`UserMemory` keeps, per user row,

* the last ``length`` steps as entries ``(watched title or None, rating or None,
  feeling)`` (the feeling is the user's own ``reason``);
* a reflection summary, refreshed every ``reflect_every`` of the user's steps (an LLM call
  batched over the rows that reflect, by the user model; :meth:`fallback_summary` is the
  deterministic summary used where that call falls back);
* the user's latest instruction to the recommender (text and a per-genre vector in
  ``[-1, 1]``: +1 "more of", -1 "less of").

Rows are keyed by the world's ``user_id``: :meth:`sync` clears every row whose user
changed (a user replaced after their episode ended), so nothing leaks between users.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recarena.validation import check_int

__all__ = ["MemoryEntry", "UserMemory"]


@dataclass(frozen=True)
class MemoryEntry:
    """One remembered step: the title watched (``None``: nothing), its rating (``None``:
    not rated) and the user's feeling (their reason, possibly empty), out of ``shown``."""

    watched: str | None
    rating: int | None
    feeling: str
    shown: int

    def text(self) -> str:
        if self.watched is None:
            head = f"watched none of {self.shown} shown"
        else:
            head = f"watched {self.watched}" + (f", rated {self.rating}/5"
                                                if self.rating is not None else "")
        return head + (f" ({self.feeling})" if self.feeling else "")


class UserMemory:
    """Per-row memories of a batch of users (see the module docstring).

    Args:
        length: entries kept per user (m).
        reflect_every: reflect every this many of the user's steps (0: never).
        num_genres: width of the instruction's genre vector.
    """

    def __init__(self, length: int = 5, reflect_every: int = 0, num_genres: int = 0) -> None:
        self.length = check_int(length, "UserMemory.length", 0, 1000)
        self.reflect_every = check_int(reflect_every, "UserMemory.reflect_every", 0)
        self.num_genres = check_int(num_genres, "UserMemory.num_genres", 0)
        self.user_id = np.zeros(0, dtype=np.int64)
        #: steps each row's current user has taken (memory-side count)
        self.steps = np.zeros(0, dtype=np.int64)
        self.entries: list[list[MemoryEntry]] = []
        self.reflection: list[str] = []
        self.instruction: list[str] = []
        self.instruction_genres = np.zeros((0, self.num_genres), dtype=np.float32)

    @property
    def size(self) -> int:
        return int(self.user_id.shape[0])

    def sync(self, user_id: np.ndarray) -> np.ndarray:
        """Align with the world's rows: a new size resets everything; rows whose user id
        changed are cleared. Returns the cleared rows."""
        user_id = np.asarray(user_id, dtype=np.int64)
        n = user_id.shape[0]
        if n != self.size:
            self.user_id = np.full(n, -1, dtype=np.int64)
            self.steps = np.zeros(n, dtype=np.int64)
            self.entries = [[] for _ in range(n)]
            self.reflection = [""] * n
            self.instruction = [""] * n
            self.instruction_genres = np.zeros((n, self.num_genres), dtype=np.float32)
        rows = np.flatnonzero(self.user_id != user_id)
        for r in rows.tolist():
            self.entries[r] = []
            self.reflection[r] = ""
            self.instruction[r] = ""
        self.instruction_genres[rows] = 0.0
        self.steps[rows] = 0
        self.user_id[rows] = user_id[rows]
        return rows

    def current(self, user_id: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Of ``rows``, a bool mask of those whose memory belongs to the user now there
        (``user_id``: the world's ids of those rows)."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.size == 0:
            return np.zeros(rows.shape, dtype=bool)
        ok = rows < self.size
        ok[ok] = self.user_id[rows[ok]] == np.asarray(user_id, dtype=np.int64)[ok]
        return ok

    def record(self, row: int, entry: MemoryEntry) -> None:
        if self.length == 0:
            return
        mem = self.entries[row]
        mem.append(entry)
        if len(mem) > self.length:
            del mem[0]

    def advance(self) -> None:
        """Count one step of every row's user."""
        self.steps += 1

    def due(self) -> np.ndarray:
        """Rows that reflect now: after every ``reflect_every``-th step of their user."""
        if not self.reflect_every:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero((self.steps > 0) & (self.steps % self.reflect_every == 0))

    def text(self, row: int) -> str:
        """The memory of ``row`` as prompt lines (reflection first, then the entries)."""
        lines = []
        if self.reflection[row]:
            lines.append("Reflection: " + self.reflection[row])
        lines += ["- " + e.text() for e in self.entries[row]]
        return "\n".join(lines)

    def fallback_summary(self, row: int) -> str:
        """A deterministic summary of ``row``'s entries (the reflection when the LLM's
        reflection falls back): what was watched, how it was rated, what was skipped."""
        mem = self.entries[row]
        if not mem:
            return "Nothing watched yet."
        watched = [e for e in mem if e.watched is not None]
        rated = [e.rating for e in watched if e.rating is not None]
        parts = [f"In the last {len(mem)} slates you watched {len(watched)} movie(s)"
                 + (": " + "; ".join(e.watched for e in watched[-3:]) if watched else "")
                 + "."]
        if rated:
            parts.append(f"Average rating {sum(rated) / len(rated):.1f}/5.")
        skipped = len(mem) - len(watched)
        if skipped:
            parts.append(f"You skipped {skipped} slate(s).")
        return " ".join(parts)
