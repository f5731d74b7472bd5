"""Prompts and reply schemas of LLM-played users (Agent4Rec / RecAgent style).

One request per user and step: a system message with the persona (who the user is) and a
user message with the memory (what they saw and felt lately), the slate as numbered item
texts, and the reply format. The reply is the JSON object :class:`UserDecision`
(``choice`` an item number or null, ``reason``, ``rating`` 1-5 or null, ``leave``, and a
RecoWorld-style ``instruction`` to the recommender with ``more_genres`` /
``less_genres``). A slate of 10 MovieLens movies with a full memory (5 steps and a
reflection) takes about 500 prompt tokens (at most ~620 in a 32-user, 12-step run;
chars / 4), plus ~105 for the JSON schema when the endpoint is sent one.

Item texts come from an :class:`ItemTexts` callable: :class:`CatalogTexts` for catalogs
with titles (MovieLens: "Heat (1995) [Action, Crime, Thriller]"), :class:`SyntheticTexts`
for envs without them (RecSim-style items: "a 4-minute clip about topic 3, high
production quality").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from recarena.errors import ConfigError
from recarena.simulators.records import Items
from recarena.validation import check_int

__all__ = ["CatalogTexts", "ItemTexts", "Reflection", "SyntheticTexts", "UserDecision",
           "decision_messages", "reflection_messages"]

#: longest ``reason`` / ``instruction`` kept from a reply (characters)
MAX_TEXT = 160


def _compact(node: Any) -> Any:
    """A JSON schema without ``title``, ``description`` and ``default`` (field names kept)."""
    if isinstance(node, dict):
        return {k: ({n: _compact(v) for n, v in sub.items()} if k in ("properties", "$defs")
                     else _compact(sub))
                for k, sub in node.items() if k not in ("title", "description", "default")}
    if isinstance(node, list):
        return [_compact(v) for v in node]
    return node


class _CompactSchema(BaseModel):
    """A reply schema whose JSON schema is sent without titles, descriptions and defaults
    (the prompt states the format; every token of the schema is paid per request)."""

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return _compact(super().model_json_schema(*args, **kwargs))


class UserDecision(_CompactSchema):
    """What an LLM-played user answers to a slate (the reply schema)."""

    model_config = ConfigDict(extra="ignore")

    #: number of the item watched, or null for none
    choice: int | None
    #: why, in a few words
    reason: str = ""
    #: 1-5 rating of the watched item, or null
    rating: int | None = Field(default=None, ge=1, le=5)
    #: true to end the session now
    leave: bool = False
    #: a short request to the recommender, or null
    instruction: str | None = None
    more_genres: list[str] = Field(default_factory=list)
    less_genres: list[str] = Field(default_factory=list)


class Reflection(_CompactSchema):
    """A user's reflection on their recent experience (Generative Agents' reflection)."""

    model_config = ConfigDict(extra="ignore")

    #: one or two sentences on the recent experience
    summary: str


@runtime_checkable
class ItemTexts(Protocol):
    """``texts(items) -> N lists of K strings``: how the shown items read to an LLM user."""

    def __call__(self, items: Items) -> list[list[str]]: ...


@dataclass(frozen=True, eq=False)
class CatalogTexts:
    """Item texts of a catalog with titles: ``"title [genre, genre]"``, by catalog row
    (``item_id`` is the row, as :class:`~recarena.simulators.catalog.CorpusCandidates`
    gives it).

    Args:
        titles: one title per catalog item.
        genres: per item its genre names (optional).
    """

    titles: Sequence[str]
    genres: Sequence[Sequence[str]] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.titles, str) or len(self.titles) == 0:
            raise ConfigError("CatalogTexts.titles", self.titles, "a non-empty list of titles")
        if self.genres is not None and len(self.genres) != len(self.titles):
            raise ConfigError("CatalogTexts.genres", len(self.genres),
                              f"one genre list per title ({len(self.titles)})")
        gs = self.genres or [()] * len(self.titles)
        texts = np.array([t + (f" [{', '.join(g)}]" if g else "")
                          for t, g in zip(self.titles, gs, strict=True)], dtype=object)
        object.__setattr__(self, "_texts", texts)

    def __repr__(self) -> str:  # (short and stable: manifests record it)
        return f"CatalogTexts({len(self.titles)} titles, genres={self.genres is not None})"

    def __call__(self, items: Items) -> list[list[str]]:
        ids = np.asarray(items.item_id)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self._texts)):
            raise ConfigError("CatalogTexts", int(ids.max()),
                              f"item ids in [0, {len(self._texts)}) (catalog rows)")
        return self._texts[ids].tolist()


@dataclass(frozen=True)
class SyntheticTexts:
    """Item texts from an item's topic, quality and length, for items without titles:
    ``"a 4-minute clip about topic 3, high production quality"``. Quality is ``low`` /
    ``average`` / ``high`` with thresholds ``quality_cuts``.

    Args:
        topic_names: names of the topics (default ``"topic t"``).
        quality_cuts: ``(low_below, high_above)``.
        noun: what an item is called.
    """

    topic_names: Sequence[str] | None = None
    quality_cuts: tuple[float, float] = (-1.0, 1.0)
    noun: str = "clip"

    def __post_init__(self) -> None:
        lo, hi = self.quality_cuts
        if not lo <= hi:
            raise ConfigError("SyntheticTexts.quality_cuts", self.quality_cuts,
                              "(low_below, high_above) with low_below <= high_above")

    def __call__(self, items: Items) -> list[list[str]]:
        lo, hi = self.quality_cuts
        names = self.topic_names
        out = []
        for topics, quality, length in zip(np.asarray(items.topic).tolist(),
                                           np.asarray(items.quality).tolist(),
                                           np.asarray(items.length).tolist(), strict=True):
            row = []
            for t, q, m in zip(topics, quality, length, strict=True):
                about = names[t] if names is not None and 0 <= t < len(names) else f"topic {t}"
                level = "low" if q < lo else "high" if q > hi else "average"
                row.append(f"a {max(1, round(m))}-minute {self.noun} about {about}, "
                           f"{level} production quality")
            out.append(row)
        return out


_REPLY = ('Reply with JSON only: {"choice": <item number or null>, "reason": "<few words>", '
          '"rating": <1-5 or null>, "leave": <true|false>, "instruction": "<short request '
          'to the recommender, or null>", "more_genres": [...], "less_genres": [...]}.')


def decision_messages(persona: str, memory: str, texts: Sequence[str],
                      instruction_hint: bool = True) -> list[dict[str, str]]:
    """The chat messages of one user's decision on one slate (``texts``: the K items,
    numbered from 1 in the prompt)."""
    check_int(len(texts), "decision_messages.texts", 1)
    system = ("You are a user of a movie recommender, deciding what to watch. Stay in "
              "character. " + persona)
    slate = "\n".join(f"{i}. {t}" for i, t in enumerate(texts, start=1))
    lines = []
    if memory:
        lines.append("Your recent memory:\n" + memory)
    lines.append("The recommender shows you:\n" + slate)
    lines.append("Pick at most one item to watch (or none), rate it if you watch it, and "
                 "say whether you leave now."
                 + (" If you are unhappy or leaving, tell the recommender what you want "
                    "instead." if instruction_hint else ""))
    lines.append(_REPLY)
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(lines)}]


def reflection_messages(persona: str, memory: str) -> list[dict[str, str]]:
    """The chat messages asking a user to reflect on their memory (:class:`Reflection`)."""
    return [{"role": "system", "content": "You are a user of a movie recommender. " + persona},
            {"role": "user", "content": "Your recent memory:\n" + (memory or "(nothing yet)")
             + '\n\nSummarise how the recommendations have felt and what you want more or '
               'less of. Reply with JSON only: {"summary": "<one or two sentences>"}.'}]
