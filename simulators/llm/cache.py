"""A persistent reply cache for the LLM backend (SQLite, stdlib ``sqlite3``).

**Key**: the SHA-256 of canonical JSON (no spaces; objects with sorted keys) of everything
that decides a reply: the messages (roles and contents), the seed, and the SHA-256 of the
canonical JSON of the settings a batch shares (model, temperature, top_p, max_tokens,
response_format and the JSON schema of the reply's pydantic model), hashed once per batch
(:func:`request_key`).
The endpoint's URL and the API key are not part of it (the key never reaches the file).

**Rows**: the raw reply text (only replies that parsed and validated: a fallback is never
cached), its token usage and the model that wrote it. A rerun of the same requests is
answered from the file with no request sent and the same raw text, hence byte-identical
decisions.

**Durability and sharing**: the file is in WAL mode and every reply is committed as it
arrives, so a killed run resumes without paying twice. Several processes (scenario
workers) may share one file: writes are ``INSERT OR IGNORE`` under a 60 s busy timeout,
and :meth:`ReplyCache.put` returns the row that is stored, so when two processes race on
one key both use the first reply written. Lookups of a whole batch are one ``SELECT``
(the keys passed as one JSON array), which is what makes replay fast.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from recarena.errors import DataError

__all__ = ["CachedReply", "ReplyCache", "key_for", "request_key", "settings_digest"]

_SCHEMA_VERSION = 1
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode  # one encoder: a key per request


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def settings_digest(*, model: str, temperature: float, top_p: float | None, max_tokens: int,
                    response_format: str, schema: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the canonical JSON of the settings a batch shares (computed once per
    batch: the schema is the bulk of a key's text)."""
    return hashlib.sha256(_canonical(
        {"v": _SCHEMA_VERSION, "model": model, "temperature": temperature, "top_p": top_p,
         "max_tokens": max_tokens, "response_format": response_format, "schema": schema}
    ).encode("utf-8")).hexdigest()


def key_for(settings: str, messages: Sequence[Mapping[str, str]], seed: int) -> str:
    """Hex SHA-256 of the canonical JSON array ``[settings digest, seed, [[role, content],
    ...]]`` (arrays only, so the text has one form)."""
    text = _ENCODE([settings, seed, [[m["role"], m["content"]] for m in messages]])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def request_key(*, model: str, messages: Sequence[Mapping[str, str]], temperature: float,
                top_p: float | None, max_tokens: int, seed: int, response_format: str,
                schema: Mapping[str, Any]) -> str:
    """The cache key of one request: :func:`key_for` of its messages and seed under the
    :func:`settings_digest` of the rest."""
    settings = settings_digest(model=model, temperature=temperature, top_p=top_p,
                               max_tokens=max_tokens, response_format=response_format,
                               schema=schema)
    return key_for(settings, messages, seed)


@dataclass(frozen=True)
class CachedReply:
    """One stored reply."""

    raw: str
    prompt_tokens: int
    completion_tokens: int
    model: str


class ReplyCache:
    """The SQLite file at ``path`` (created with its folder if missing).

    Usable from any thread (one connection behind a lock); each process opens its own.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout = 60000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, raw TEXT NOT NULL, "
                "prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, "
                "model TEXT NOT NULL, created REAL NOT NULL) WITHOUT ROWID")
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(replies)")}
        except sqlite3.DatabaseError as exc:
            raise DataError(f"LLM cache {self.path}: expected an SQLite reply cache, "
                            f"received a file SQLite cannot use ({exc})") from None
        want = {"key", "raw", "prompt_tokens", "completion_tokens", "model", "created"}
        if not want <= columns:
            raise DataError(f"LLM cache {self.path}: expected table 'replies' with columns "
                            f"{sorted(want)}, received {sorted(columns)}")

    def get_many(self, keys: Sequence[str]) -> dict[str, CachedReply]:
        """The stored replies of ``keys`` (missing keys are absent), in one query."""
        if not keys:
            return {}
        with self._lock:
            rows = self._db.execute(
                "SELECT key, raw, prompt_tokens, completion_tokens, model FROM replies "
                "WHERE key IN (SELECT value FROM json_each(?))", (json.dumps(list(keys)),)
            ).fetchall()
        return {k: CachedReply(raw, int(p), int(c), m) for k, raw, p, c, m in rows}

    def put(self, key: str, reply: CachedReply) -> CachedReply:
        """Store ``reply`` under ``key`` (committed at once) unless the key is already
        there; returns the stored reply (the earlier one on a race)."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO replies VALUES (?, ?, ?, ?, ?, ?)",
                (key, reply.raw, reply.prompt_tokens, reply.completion_tokens, reply.model,
                 time.time()))
            if cur.rowcount == 1:
                return reply
            row = self._db.execute(
                "SELECT raw, prompt_tokens, completion_tokens, model FROM replies WHERE key = ?",
                (key,)).fetchone()
        return reply if row is None else CachedReply(row[0], int(row[1]), int(row[2]), row[3])

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM replies").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"ReplyCache({self.path!r})"
