"""Open Bandit Dataset loader (Saito, Aihara, Matsutani & Narita, "Open Bandit Dataset and
Pipeline: Towards Realistic and Reproducible Off-Policy Evaluation", NeurIPS 2021 Datasets
and Benchmarks; arXiv 2008.07146).

Layout: ``{random,bts}/{all,men,women}/{campaign}.csv`` plus ``item_context.csv`` in each
campaign folder. Columns of a log: an unnamed index, ``timestamp``, ``item_id``,
``position`` (1, 2, 3: left, centre, right of ZOZOTOWN's 3-slot recommendation),
``click``, ``propensity_score``, ``user_feature_0..3`` (hashed categories) and one
``user-item_affinity_<item>`` column per item.

The package ships the uniform-random policy's ``all`` campaign of the official small
sample (10,000 impressions, Apache-2.0, see ``obd/NOTICE.md``); the full data (26 million
rows, https://research.zozo.com/data.html) load from a path with the same layout.

Each row is one (item, position) impression; rows of one 3-item slate are not grouped in
the logs (timestamps are nearly unique), so the data is position-aware bandit feedback,
not full slates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from recarena.errors import ConfigError, DataError

__all__ = ["OpenBanditLog", "load_obd", "shipped_obd_path"]

_REQUIRED = ("timestamp", "item_id", "position", "click", "propensity_score")


@dataclass(frozen=True)
class OpenBanditLog:
    """One policy x campaign of the Open Bandit Dataset.

    Attributes:
        policy: ``"random"`` or ``"bts"``.
        campaign: ``"all"``, ``"men"`` or ``"women"``.
        log: ``timestamp`` (UTC), ``item_id``, ``position`` (0-based: 0 left), ``click``
            (0/1), ``propensity`` and ``user_feature_0..3``, in time order.
        item_context: ``item_id`` and ``item_feature_*`` columns.
        num_items: items in the campaign.
        num_positions: slate positions (3).
    """

    policy: str
    campaign: str
    log: pd.DataFrame
    item_context: pd.DataFrame
    num_items: int
    num_positions: int


def shipped_obd_path() -> Path:
    """The Open Bandit sample inside the package."""
    return Path(str(resources.files("recarena.simulators.data") / "obd"))


def _bad(path: Path, df: pd.DataFrame, mask: np.ndarray, column: str, expected: str) -> DataError:
    i = int(np.flatnonzero(mask)[0])
    return DataError(f"{path}, line {i + 2}, column {column}: expected {expected}, received "
                     f"{df[column].iloc[i]!r}")


def load_obd(path: str | os.PathLike[str] | None = None, policy: str = "random",
             campaign: str = "all") -> OpenBanditLog:
    """Load ``policy``/``campaign`` from an Open Bandit Dataset folder (the shipped sample
    when ``path`` is ``None``)."""
    if policy not in ("random", "bts"):
        raise ConfigError("load_obd.policy", policy, "'random' or 'bts'")
    if campaign not in ("all", "men", "women"):
        raise ConfigError("load_obd.campaign", campaign, "'all', 'men' or 'women'")
    root = shipped_obd_path() if path is None else Path(path)
    folder = root / policy / campaign
    log_path = next((p for p in (folder / f"{campaign}.csv", folder / f"{campaign}.csv.gz")
                     if p.is_file()), None)
    if log_path is None:
        raise DataError(f"{folder}: missing {campaign}.csv (the Open Bandit layout is "
                        "POLICY/CAMPAIGN/CAMPAIGN.csv)")
    try:
        df = pd.read_csv(log_path, index_col=0, dtype=str, keep_default_na=False)
    except pd.errors.ParserError as exc:
        raise DataError(f"{log_path}: garbled CSV ({exc})") from None
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataError(f"{log_path}: cannot be read ({exc})") from None
    missing = [c for c in _REQUIRED if c not in df.columns]
    if missing:
        raise DataError(f"{log_path}, line 1: missing column(s) {', '.join(missing)}")
    out = pd.DataFrame()
    out["timestamp"] = pd.to_datetime(df["timestamp"], errors="coerce", utc=True)
    if out["timestamp"].isna().any():
        raise _bad(log_path, df, out["timestamp"].isna().to_numpy(), "timestamp", "a timestamp")
    for col, name, kind in (("item_id", "item_id", "int"), ("position", "position", "int"),
                            ("click", "click", "int"), ("propensity_score", "propensity",
                                                        "float")):
        vals = pd.to_numeric(df[col], errors="coerce")
        if vals.isna().any():
            raise _bad(log_path, df, vals.isna().to_numpy(), col, f"a number ({kind})")
        out[name] = vals.to_numpy()
    out["item_id"] = out["item_id"].astype(np.int64)
    out["position"] = out["position"].astype(np.int64) - 1
    out["click"] = out["click"].astype(np.int64)
    for mask, col, expected in (
            ((out["position"] < 0) | (out["position"] > 2), "position", "1, 2 or 3"),
            (~out["click"].isin([0, 1]), "click", "0 or 1"),
            ((out["propensity"] <= 0) | (out["propensity"] > 1), "propensity_score",
             "a probability in (0, 1]"),
            (out["item_id"] < 0, "item_id", "an id >= 0")):
        if mask.any():
            raise _bad(log_path, df, mask.to_numpy(), col, expected)
    for j in range(4):
        col = f"user_feature_{j}"
        if col in df.columns:
            out[col] = df[col].to_numpy()
    ctx_path = folder / "item_context.csv"
    if not ctx_path.is_file():
        raise DataError(f"{folder}: missing item_context.csv")
    ctx = pd.read_csv(ctx_path, index_col=0)
    if "item_id" not in ctx.columns:
        raise DataError(f"{ctx_path}, line 1: missing column item_id")
    num_items = int(ctx["item_id"].max()) + 1
    if int(out["item_id"].max()) >= num_items:
        raise _bad(log_path, df, (out["item_id"] >= num_items).to_numpy(), "item_id",
                   f"an item of {ctx_path.name} (< {num_items})")
    out = out.sort_values("timestamp", kind="stable").reset_index(drop=True)
    return OpenBanditLog(policy, campaign, out, ctx, num_items, 3)
