"""The memory of LLM-played users: one immutable record per user, kept in the user state.

Agent4Rec (Zhang et al. 2024, "On Generative Agents in Recommendation") gives each
generative agent a memory of what it was shown and how it felt about it, and RecAgent /
Generative Agents (Park et al. 2023) add *reflection*: every so often the agent condenses
its memory into a higher-level summary. A :class:`RowMemory` holds, for one user,

* the last ``length`` steps as :class:`MemoryEntry` ``(watched title or None, rating or
  None, feeling, slate size)``; the feeling is the user's own ``reason``;
* a reflection summary, refreshed every ``reflect_every`` of the user's steps (an LLM call
  batched over the users that reflect, made by the user model; :meth:`RowMemory.fallback_summary`
  is the deterministic summary used where that call falls back);
* the user's latest instruction to the recommender (text and a per-genre vector in
  ``[-1, 1]``: +1 "more of", -1 "less of");
* the user's step count and persona text.

Records are immutable: every change makes a new one. The user model keeps them in an
object array of the world's user state (one per row), so they are replaced with the
user (a new user starts from :data:`EMPTY_MEMORY`), copied by world snapshots without
being shared with the live state, restored with them, and pickled with checkpoints.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["EMPTY_MEMORY", "MemoryEntry", "RowMemory"]


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


@dataclass(frozen=True)
class RowMemory:
    """One user's memory (see the module docstring).

    Attributes:
        entries: the remembered steps, oldest first.
        reflection: the latest reflection summary ("" before the first).
        instruction: the latest instruction text ("" if none).
        instruction_genres: its per-genre vector (``()``: none).
        steps: steps the user has taken.
        persona: the user's persona text (filled at their first step).
    """

    entries: tuple[MemoryEntry, ...] = ()
    reflection: str = ""
    instruction: str = ""
    instruction_genres: tuple[float, ...] = ()
    steps: int = 0
    persona: str = ""

    def remember(self, entry: MemoryEntry, length: int) -> RowMemory:
        """After one more step: ``entry`` appended (the last ``length`` kept), steps + 1."""
        entries = (*self.entries, entry)[-length:] if length > 0 else ()
        return dataclasses.replace(self, entries=entries, steps=self.steps + 1)

    def replace(self, **changes: object) -> RowMemory:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def reflects(self, every: int) -> bool:
        """Whether the user reflects now: after every ``every``-th step (0: never)."""
        return every > 0 and self.steps > 0 and self.steps % every == 0

    def text(self) -> str:
        """The memory as prompt lines (reflection first, then the entries)."""
        lines = ["Reflection: " + self.reflection] if self.reflection else []
        return "\n".join(lines + ["- " + e.text() for e in self.entries])

    def fallback_summary(self) -> str:
        """A deterministic summary of the entries (the reflection when the LLM's reflection
        falls back): what was watched, how it was rated, what was skipped."""
        mem = self.entries
        if not mem:
            return "Nothing watched yet."
        watched = [e for e in mem if e.watched is not None]
        rated = [e.rating for e in watched if e.rating is not None]
        parts = [f"In the last {len(mem)} slates you watched {len(watched)} movie(s)"
                 + (": " + "; ".join(str(e.watched) for e in watched[-3:]) if watched else "")
                 + "."]
        if rated:
            parts.append(f"Average rating {sum(rated) / len(rated):.1f}/5.")
        skipped = len(mem) - len(watched)
        if skipped:
            parts.append(f"You skipped {skipped} slate(s).")
        return " ".join(parts)


#: the memory of a user who has done nothing yet
EMPTY_MEMORY = RowMemory()
