"""The event log: the one contract between simulation and analysis (docs/ARCHITECTURE.md).

A log is a folder of Parquet files in chunks, three tables and, for envs with acting
creators, two more:

``impressions`` (one row per shown item)
    ``run, seed, policy, step, day, user_id, session_id, position, item_id, creator_id, topic,
    propensity, slate_propensity, clicked, examined, watch_time, liked, shared, followed,
    left, terminated, truncated, reward, item_reward`` (:data:`IMPRESSION_COLUMNS`) and
    columns prefixed ``oracle_`` holding privileged truth. ``step`` is the env step (one
    request per user row); ``day`` the user's calendar day (0 for envs without a
    calendar); ``session_id`` the user's session number (0, 1, ...); ``position`` the rank
    in the slate (0 on top); ``creator_id`` / ``topic`` are -1 where the env has none;
    ``left``, ``terminated`` and ``truncated`` repeat the step's user-level value on every
    row of the slate.

    *Propensities* (of the logging policy, for off-policy evaluation): ``propensity`` is
    the probability that the policy put this item at this position (Open Bandit
    Pipeline's position-wise ``pscore`` / ``pscore_item_position``; ``1 / C`` for the
    uniformly random policy over C candidates); ``slate_propensity`` is the probability of
    the whole ordered slate, repeated on each of its rows (OBP's slate ``pscore``;
    ``(C - K)! / C!`` for the random policy). A deterministic policy logs 1 for the slate
    it chose. NaN means unknown: the logging policy does not report the value (it has no
    ``propensity`` / ``slate_propensity`` method, e.g. an SB3 model or a label-only
    logger, or it samples from a posterior, like Thompson sampling, where no closed form
    exists); see :mod:`recarena.agents.base`.

    *Rewards*: ``reward`` is the step's reward on the slate's position-0 row and 0
    elsewhere, so summing ``reward`` gives the return. ``item_reward`` is, on every row,
    the part of the step reward due to that item: its own response signals weighted as
    the env's reward weights them (its watch time, its click, ...). Within a step,
    ``reward`` (row 0) ``= sum of item_reward over the slate + the unattributed part``;
    the unattributed part is what no item earned (the ``retention`` term paid when a
    session ends) and is 0 for every other reward. ``item_reward`` is NaN for an env whose
    reward cannot be split (:func:`recarena.envs.wrappers.event_logger.item_rewards`).

    ``oracle_relevance`` is the shown item's true relevance (its attraction probability
    where the env has one, else its true score), ``oracle_ideal_relevance`` the relevance
    of the best candidate *for that position* (the position-th largest candidate
    relevance), so NDCG is computable from the log, and every other per-candidate oracle
    entry ``X`` appears as ``oracle_X``.

    ``decided_by`` (string; only for envs whose info has ``info["llm"]["decided_by"]``,
    i.e. LLM-played users, so other envs' logs are unchanged) says who decided the
    user's response to the slate, repeated on every row of it: ``llm`` (an LLM reply,
    sent now or replayed from the LLM cache: :func:`logged_decider`), ``fallback`` (no
    usable reply: the model decided) or ``model`` (not an LLM-decided step).
``snapshots`` (one row per user row every ``snapshot_every`` steps)
    ``run, seed, policy, step, day, user_id`` plus the user's one-number oracle entries
    (``oracle_budget``, ``oracle_satisfaction``, ...) and, where the env reports an
    interest vector, ``oracle_interest_0 .. oracle_interest_{d-1}``.
``candidates`` (optional, one row per candidate; fairness-relevance frontiers need it)
    ``run, seed, policy, step, user_id, item_id, oracle_relevance``.
``creators`` (envs with acting creators: one row per creator alive at any time in a
creator round, written when the round ends, i.e. when the step's info has ``creator_round``)
    ``run, seed, policy, round, step, creator_id, entered_round, alive, left, topic,
    home_topic, effort, items, live_items, exposure, clicks, watch_time, income``
    (:data:`CREATOR_TABLE_COLUMNS`). ``round`` counts creator rounds from 0; ``step`` is
    the impressions' ``step`` of the request that ended the round; ``entered_round`` the
    round at whose end the creator entered (-1: there from the start); ``alive`` is False
    on the round it left (``left`` True; it is not logged afterwards); ``topic`` the topic
    of most of its items made this round (-1 if none), ``home_topic`` its best topic by
    expertise; ``items`` made this round, ``live_items`` its items in the catalog after the
    round; ``exposure`` (impressions), ``clicks``, ``watch_time`` of its items this round
    and ``income`` (what the creator reward paid it). With LLM creators (the round's
    ``creators`` has ``decided_by``), also ``decided_by`` (string): who decided the
    creator's production after this round: ``llm`` (sent now or replayed from the
    cache), ``fallback`` (its model did) or ``model`` (not asked); other logs are
    unchanged.
``catalog`` (envs with acting creators: one row per topic and creator round)
    ``run, seed, policy, round, step, topic, live_items, new_items, exposure, clicks,
    watch_time`` (:data:`CATALOG_TABLE_COLUMNS`).

Writers flush every ``chunk_rows`` rows, so a crash loses at most one chunk; readers take
a run folder, a unit folder or a list of files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from recarena.errors import ConfigError, DataError

__all__ = [
    "CATALOG_TABLE_COLUMNS",
    "CREATOR_TABLE_COLUMNS",
    "IMPRESSION_COLUMNS",
    "ImpressionRecorder",
    "TableWriter",
    "logged_propensities",
    "read_table",
    "relevance_of",
]

#: the fixed (non-oracle) impression columns, in order
IMPRESSION_COLUMNS = (
    "run", "seed", "policy", "step", "day", "user_id", "session_id", "position", "item_id",
    "creator_id", "topic", "propensity", "slate_propensity", "clicked", "examined",
    "watch_time", "liked", "shared", "followed", "left", "terminated", "truncated", "reward",
    "item_reward",
)
TABLES = ("impressions", "snapshots", "candidates", "creators", "catalog")
#: the ``creators`` table's columns, in order
CREATOR_TABLE_COLUMNS = (
    "run", "seed", "policy", "round", "step", "creator_id", "entered_round", "alive", "left",
    "topic", "home_topic", "effort", "items", "live_items", "exposure", "clicks", "watch_time",
    "income",
)
#: the ``catalog`` table's columns, in order
CATALOG_TABLE_COLUMNS = ("run", "seed", "policy", "round", "step", "topic", "live_items",
                         "new_items", "exposure", "clicks", "watch_time")
_CREATOR_DTYPES = {"alive": bool, "left": bool, "effort": np.float64,
                   "watch_time": np.float64, "income": np.float64}
#: ``(N, X)`` oracle entries that are not per candidate: ``attraction`` is logged as
#: ``oracle_relevance``, ``interests`` is the user's vector (in ``snapshots``), even when
#: its dimension happens to equal the candidate count
_NOT_PER_CANDIDATE = ("attraction", "interests")


class TableWriter:
    """Append column batches (dicts of equal-length 1-D arrays) to ``folder/table-NNNNN.parquet``.

    Buffers up to ``chunk_rows`` rows, then writes one Parquet file; :meth:`close` writes
    the rest. Every file of a table has the same columns (those of the first batch).
    """

    def __init__(self, folder: str | os.PathLike[str], table: str, chunk_rows: int = 250_000) -> None:
        if table not in TABLES:
            raise ConfigError("TableWriter.table", table, "one of " + ", ".join(TABLES))
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.table = table
        self.chunk_rows = int(chunk_rows)
        self._parts: list[dict[str, np.ndarray]] = []
        self._rows = 0
        self._files = 0
        self._columns: tuple[str, ...] | None = None

    def append(self, columns: dict[str, np.ndarray]) -> None:
        if self._columns is None:
            self._columns = tuple(columns)
        elif tuple(columns) != self._columns:
            missing = set(self._columns) ^ set(columns)
            raise DataError(f"{self.table}: every batch must have the same columns; "
                            f"differs in {sorted(missing)}")
        self._parts.append(columns)
        self._rows += next(len(v) for v in columns.values() if isinstance(v, np.ndarray))
        if self._rows >= self.chunk_rows:
            self.flush()

    def flush(self) -> None:
        if not self._parts:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        assert self._columns is not None
        arrays = {}
        for name in self._columns:
            parts = [p[name] for p in self._parts]
            if isinstance(parts[0], np.ndarray):
                arrays[name] = pa.array(np.concatenate(parts))
            else:  # constant strings stored as (value, n)
                arrays[name] = pa.array([v for value, n in parts for v in (value,) * n],
                                        type=pa.string())
        path = self.folder / f"{self.table}-{self._files:05d}.parquet"
        tmp = path.with_suffix(".tmp")
        pq.write_table(pa.table(arrays), tmp, compression="zstd")
        os.replace(tmp, path)  # a file either exists whole or not at all
        self._files += 1
        self._parts, self._rows = [], 0

    def close(self) -> None:
        self.flush()


def table_files(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
                table: str) -> list[Path]:
    """The Parquet files of ``table`` under a run folder, unit folder or file list (sorted)."""
    if isinstance(source, (str, os.PathLike)):
        root = Path(source)
        if not root.exists():
            raise DataError(f"event log {str(root)!r} does not exist")
        if root.is_file():
            return [root]
        return sorted(root.rglob(f"{table}-*.parquet"))
    return [Path(p) for p in source]


def read_table(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
               table: str = "impressions", columns: Iterable[str] | None = None) -> Any:
    """Read a table of an event log as a pandas DataFrame (rows in file order).

    Raises :class:`~recarena.errors.DataError` when ``source`` holds no file of the table.
    """
    import pandas as pd
    import pyarrow.parquet as pq

    if table not in TABLES:
        raise ConfigError("read_table.table", table, "one of " + ", ".join(TABLES))
    files = table_files(source, table)
    if not files:
        raise DataError(f"no {table!r} files under {source!s} (expected {table}-NNNNN.parquet)")
    cols = None if columns is None else list(columns)
    frames = [pq.read_table(f, columns=cols).to_pandas() for f in files]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def relevance_of(oracle: dict[str, np.ndarray]) -> np.ndarray | None:
    """Per-candidate true relevance ``(N, C)``: the attraction probability when the env has
    one, else the true score; ``None`` without an oracle."""
    if not oracle:
        return None
    if "attraction" in oracle:
        return np.asarray(oracle["attraction"], dtype=np.float64)
    if "scores" in oracle:
        return np.asarray(oracle["scores"], dtype=np.float64)
    return None


def logged_propensities(source: Any, slates: Any) -> tuple[np.ndarray, np.ndarray]:
    """The event log's ``propensity`` ``(N, K)`` and ``slate_propensity`` ``(N,)`` for the
    shown ``slates``; NaN where ``source`` does not know them.

    ``source`` is the logging policy (its ``propensity(slates)`` and
    ``slate_propensity(slates)`` methods, where it has them), a function ``slates ->
    (N, K)`` (position-wise propensities only), or ``None``."""
    s = np.asarray(slates, dtype=np.int64)
    s = s[None] if s.ndim == 1 else s
    n, k = s.shape
    position, slate = np.full((n, k), np.nan), np.full(n, np.nan)
    if source is None:
        return position, slate
    pos_fn = getattr(source, "propensity", None)
    if not callable(pos_fn):
        pos_fn = source if callable(source) else None
    slate_fn = getattr(source, "slate_propensity", None)
    if callable(pos_fn):
        position = np.asarray(pos_fn(s), dtype=np.float64)
        if position.shape != (n, k):
            raise ConfigError("propensity(slates)", position.shape, f"shape ({n}, {k})")
    if callable(slate_fn):
        slate = np.asarray(slate_fn(s), dtype=np.float64).reshape(-1)
        if slate.shape != (n,):
            raise ConfigError("slate_propensity(slates)", slate.shape, f"shape ({n},)")
    return position, slate


def logged_decider(decided_by: Any) -> np.ndarray:
    """``decided_by`` codes as the event log writes them: a reply replayed from the LLM
    cache (``cache`` in ``info["llm"]``) is logged as ``llm``. The log records who decided
    each interaction, not where this run fetched the reply from, so that a rerun on the
    same cache writes the same log byte for byte; cache hits are counted in the run's LLM
    usage (``manifest.json``, ``summary.json``) and in ``info["llm"]``."""
    codes = np.asarray(decided_by, dtype=str)
    return np.where(codes == "cache", "llm", codes)


def _const(value: str, n: int) -> tuple[str, int]:
    return (value, n)


class ImpressionRecorder:
    """Turns batched env steps into event-log rows (all arrays, no per-user Python objects).

    Call :meth:`step` after every ``envs.step`` with the info the slates were chosen on
    (``info_before``: its ``user_id`` and ``oracle`` describe the users who saw the slates)
    and the step's outputs. ``snapshot_every`` (steps; 0 = never) sets how often the
    ``snapshots`` table gets a row per user; ``candidates=True`` also logs every
    candidate's relevance. A step whose info has ``creator_round`` (the end of a creator
    round) also writes the ``creators`` and ``catalog`` tables (:meth:`creator_round`).
    """

    def __init__(self, folder: str | os.PathLike[str], run: str, seed: int, policy: str,
                 num_rows: int, snapshot_every: int = 10, candidates: bool = False,
                 chunk_rows: int = 250_000) -> None:
        self.run, self.seed, self.policy = str(run), int(seed), str(policy)
        self.n = int(num_rows)
        self.snapshot_every = int(snapshot_every)
        self.log_candidates = bool(candidates)
        self.impressions = TableWriter(folder, "impressions", chunk_rows)
        self.snapshots = TableWriter(folder, "snapshots", chunk_rows)
        self.candidates = TableWriter(folder, "candidates", chunk_rows) if candidates else None
        self._folder, self._chunk_rows = folder, chunk_rows
        #: the ``creators`` and ``catalog`` writers, made at the first creator round
        self.creator_tables: tuple[TableWriter, TableWriter] | None = None
        self.session = np.zeros(self.n, dtype=np.int64)
        self.rows = 0

    def _head(self, m: int) -> dict[str, Any]:
        return {"run": _const(self.run, m), "seed": np.full(m, self.seed, np.int64),
                "policy": _const(self.policy, m)}

    def step(self, t: int, info_before: dict[str, Any], slates: np.ndarray, reward: np.ndarray,
             terminated: np.ndarray, truncated: np.ndarray, info_after: dict[str, Any],
             day: np.ndarray | None = None, propensity: np.ndarray | None = None,
             slate_propensity: np.ndarray | None = None,
             item_reward: np.ndarray | None = None) -> None:
        """Log one step. ``propensity`` ``(N, K)``, ``slate_propensity`` ``(N,)`` and
        ``item_reward`` ``(N, K)`` are NaN in the log when not given."""
        slates = np.asarray(slates, dtype=np.int64)
        n, k = slates.shape
        m = n * k
        response = info_after["response"]
        user = np.asarray(info_before["user_id"], dtype=np.int64)
        day_arr = np.zeros(n) if day is None else np.asarray(day, dtype=np.float64)

        def per_row(arr: Any, dtype: Any) -> np.ndarray:
            return np.repeat(np.asarray(arr, dtype=dtype), k)

        def meta(key: str) -> np.ndarray:
            arr = info_after.get(key)
            return np.full(m, -1, np.int64) if arr is None else np.asarray(arr, np.int64).ravel()

        rew = np.zeros((n, k))
        rew[:, 0] = reward
        cols: dict[str, Any] = self._head(m) | {
            "step": np.full(m, t, np.int64),
            "day": per_row(day_arr, np.float64),
            "user_id": per_row(user, np.int64),
            "session_id": per_row(self.session, np.int64),
            "position": np.tile(np.arange(k, dtype=np.int16), n),
            "item_id": np.asarray(info_after["slate_item_ids"], np.int64).ravel(),
            "creator_id": meta("slate_creator_ids"),
            "topic": meta("slate_topics"),
            "propensity": (np.full(m, np.nan) if propensity is None
                           else np.asarray(propensity, np.float64).reshape(m)),
            "slate_propensity": (np.full(m, np.nan) if slate_propensity is None
                                 else per_row(np.asarray(slate_propensity).reshape(n),
                                              np.float64)),
            "clicked": np.asarray(response.clicked, bool).ravel(),
            "examined": np.asarray(response.examined, bool).ravel(),
            "watch_time": np.asarray(response.watch_time, np.float64).ravel(),
            "liked": np.asarray(response.liked, bool).ravel(),
            "shared": np.asarray(response.shared, bool).ravel(),
            "followed": np.asarray(response.followed, bool).ravel(),
            "left": per_row(response.left, bool),
            "terminated": per_row(terminated, bool),
            "truncated": per_row(truncated, bool),
            "reward": rew.ravel(),
            "item_reward": (np.full(m, np.nan) if item_reward is None
                            else np.asarray(item_reward, np.float64).reshape(m)),
        }
        llm = info_after.get("llm")
        if isinstance(llm, dict) and "decided_by" in llm:
            cols["decided_by"] = np.repeat(logged_decider(llm["decided_by"]).reshape(n), k)
        oracle = info_before.get("oracle") or {}
        rel = relevance_of(oracle)
        if rel is not None:
            cols["oracle_relevance"] = np.take_along_axis(rel, slates, axis=1).ravel()
            ideal = -np.sort(-rel, axis=1)[:, :k]
            cols["oracle_ideal_relevance"] = ideal.ravel()
            c = rel.shape[1]
            for key, arr in oracle.items():
                arr = np.asarray(arr)
                if key not in _NOT_PER_CANDIDATE and arr.ndim == 2 and arr.shape == (n, c) \
                        and arr.dtype.kind in "fiub":
                    cols[f"oracle_{key}"] = np.take_along_axis(arr, slates, 1).astype(
                        np.float64).ravel()
        self.impressions.append(cols)
        if self.candidates is not None and rel is not None:
            ids = np.asarray(info_before["candidate_ids"], np.int64)
            mc = ids.size
            self.candidates.append(self._head(mc) | {
                "step": np.full(mc, t, np.int64),
                "user_id": np.repeat(user, ids.shape[1]),
                "item_id": ids.ravel(), "oracle_relevance": rel.ravel()})
        if self.snapshot_every and t % self.snapshot_every == 0:
            self.snapshot(t, info_before, day_arr)
        # session bookkeeping: a session ends when ``left``; a replaced user starts at 0
        ended = np.asarray(response.left, bool)
        done = np.asarray(terminated, bool) | np.asarray(truncated, bool)
        self.session = np.where(done, 0, self.session + ended)
        self.rows += m
        report = info_after.get("creator_round")
        if report is not None:
            self.creator_round(t, report)

    def creator_round(self, t: int, report: Any) -> None:
        """Write one creator round (an env's ``info["creator_round"]``: ``round``,
        ``creators`` and ``catalog`` dicts of arrays) to the ``creators`` and ``catalog``
        tables, with ``step = t``."""
        if self.creator_tables is None:
            self.creator_tables = (TableWriter(self._folder, "creators", self._chunk_rows),
                                   TableWriter(self._folder, "catalog", self._chunk_rows))
        r = int(report["round"])
        for writer, part, columns in zip(self.creator_tables, ("creators", "catalog"),
                                         (CREATOR_TABLE_COLUMNS, CATALOG_TABLE_COLUMNS), strict=True):
            data = report[part]
            n = len(data[columns[5]])
            cols: dict[str, Any] = self._head(n) | {"round": np.full(n, r, np.int64),
                                                    "step": np.full(n, t, np.int64)}
            for name in columns[5:]:
                cols[name] = np.asarray(data[name], dtype=_CREATOR_DTYPES.get(name, np.int64))
            if part == "creators" and "decided_by" in data:  # LLM creators only
                cols["decided_by"] = logged_decider(data["decided_by"])
            writer.append(cols)

    def snapshot(self, t: int, info: dict[str, Any], day: np.ndarray) -> None:
        n = self.n
        cols: dict[str, Any] = self._head(n) | {
            "step": np.full(n, t, np.int64), "day": np.asarray(day, np.float64),
            "user_id": np.asarray(info["user_id"], np.int64)}
        for key, arr in (info.get("oracle") or {}).items():
            arr = np.asarray(arr)
            if arr.shape == (n,) and arr.dtype.kind in "fiub":
                cols[f"oracle_{key}"] = arr.astype(np.float64)
            elif key == "interests" and arr.ndim == 2 and arr.shape[0] == n:
                for j in range(arr.shape[1]):
                    cols[f"oracle_interest_{j}"] = arr[:, j].astype(np.float64)
        self.snapshots.append(cols)

    def close(self) -> None:
        self.impressions.close()
        self.snapshots.close()
        if self.candidates is not None:
            self.candidates.close()
        for writer in self.creator_tables or ():
            writer.close()
