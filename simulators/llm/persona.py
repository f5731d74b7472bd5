"""Personas of LLM-played users, built from MovieLens ratings (Agent4Rec's user profiles).

Agent4Rec (Zhang et al. 2024, "On Generative Agents in Recommendation", SIGIR) initialises
each generative agent from a real MovieLens user: their taste (what they liked and
disliked) and three social traits measured on their ratings. :func:`movielens_personas`
computes them on the *training* part of each user's history only (the temporal split of
:func:`~recarena.simulators.data.fit.temporal_split`, the same split the fitted users
use), so that a fidelity check on the held-out part stays honest:

* **liked / disliked genres**: for each genre the user rated at least ``min_genre_count``
  movies of, the mean of ``rating - user's mean rating`` over those movies; liked are the
  (up to ``top``) genres with the largest positive means, disliked the most negative.
* **liked / disliked titles**: the user's highest rated movies (rating >= 4) and lowest
  (rating <= 2), ties broken by the latest rating, up to ``titles`` each.
* **activity**: the number of ratings, as a quantile bucket among all users
  (``low`` / ``medium`` / ``high``: below the 1/3 quantile, below the 2/3 quantile, above).
* **conformity**: ``mean_i (r_ui - rbar_i)^2`` over the user's movies, ``rbar_i`` the
  movie's mean training rating over all users (Agent4Rec's definition; small = the user
  rates like the crowd); bucket ``high`` for the lowest third of deviations.
* **diversity**: the Shannon entropy (nats) of the genre distribution of the rated movies
  (each movie counts once for each of its genres); bucket ``high`` for the top third.
* **average rating**.

Users that are not MovieLens users (the env's "new users", drawn from the fitted
population) get a persona from their interest vector: :func:`interest_persona` ranks the
catalog by the fitted utility and reads the genres and titles of the top and bottom movies.

Personas are written to and read from JSONL (one JSON object per line,
:func:`write_personas` / :func:`read_personas`); a bad row raises
:class:`~recarena.errors.DataError` naming the file, the line and the field.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recarena.errors import ConfigError, DataError
from recarena.validation import check_float, check_int

__all__ = ["LEVELS", "Persona", "interest_persona", "movielens_personas", "read_personas",
           "write_personas"]

#: the quantile buckets of the traits, lowest first
LEVELS = ("low", "medium", "high")


@dataclass(frozen=True)
class Persona:
    """One user's persona (see the module docstring for the definitions).

    Attributes:
        user_id: the MovieLens user id (-1: a simulated new user).
        liked_genres, disliked_genres: genre names, strongest first.
        liked_titles, disliked_titles: movie titles, strongest first.
        num_ratings: ratings in the training part of the history (0 for a new user).
        average_rating: mean training rating (NaN for a new user).
        activity, conformity_level, diversity_level: one of :data:`LEVELS`.
        conformity: mean squared deviation from the movies' mean ratings (NaN: unknown).
        diversity: genre entropy in nats (NaN: unknown).
    """

    user_id: int
    liked_genres: tuple[str, ...] = ()
    disliked_genres: tuple[str, ...] = ()
    liked_titles: tuple[str, ...] = ()
    disliked_titles: tuple[str, ...] = ()
    num_ratings: int = 0
    average_rating: float = float("nan")
    activity: str = "medium"
    conformity: float = float("nan")
    conformity_level: str = "medium"
    diversity: float = float("nan")
    diversity_level: str = "medium"

    def describe(self) -> str:
        """The persona as a few short sentences for a prompt."""
        parts = []
        if self.liked_genres:
            parts.append("You like " + ", ".join(self.liked_genres) + " movies.")
        if self.disliked_genres:
            parts.append("You dislike " + ", ".join(self.disliked_genres) + ".")
        if self.liked_titles:
            parts.append("Favourites: " + "; ".join(self.liked_titles) + ".")
        if self.disliked_titles:
            parts.append("Disliked: " + "; ".join(self.disliked_titles) + ".")
        traits = [f"{self.activity} activity (how many movies you watch)",
                  f"{self.conformity_level} conformity (how much you rate like the crowd)",
                  f"{self.diversity_level} diversity of taste"]
        if np.isfinite(self.average_rating):
            traits.append(f"average rating {self.average_rating:.1f}/5")
        parts.append("Traits: " + ", ".join(traits) + ".")
        return " ".join(parts)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("average_rating", "conformity", "diversity"):  # JSON has no NaN
            if not np.isfinite(d[key]):
                d[key] = None
        return d


def _buckets(values: np.ndarray, reverse: bool = False) -> list[str]:
    """Tertile bucket of each value among ``values`` (NaN-free)."""
    if values.size == 0:
        return []
    lo, hi = np.quantile(values, [1 / 3, 2 / 3])
    idx = np.where(values < lo, 0, np.where(values < hi, 1, 2))
    if reverse:
        idx = 2 - idx
    return [LEVELS[i] for i in idx]


def movielens_personas(ratings: pd.DataFrame, movies: pd.DataFrame, holdout: float = 0.2,
                       top: int = 3, titles: int = 3, min_genre_count: int = 2,
                       ) -> tuple[dict[int, Persona], pd.DataFrame]:
    """A persona per user from ``ratings`` (``user_id, item_id, rating, timestamp``) and
    ``movies`` (``item_id, title, genres``: a tuple of names), e.g. a
    :class:`~recarena.simulators.data.movielens.MovieLens`'s tables.

    Only each user's training part is read (``holdout``: the share of the latest ratings
    held out, as the fit of ``MovieLens-v0``; 0 uses everything). Returns
    ``({user_id: persona}, held_out_ratings)``."""
    from recarena.simulators.data.fit import temporal_split

    check_float(holdout, "movielens_personas.holdout", 0.0, 1.0, high_open=True)
    check_int(top, "movielens_personas.top", 0, 50)
    check_int(titles, "movielens_personas.titles", 0, 50)
    check_int(min_genre_count, "movielens_personas.min_genre_count", 1)
    for name, df, cols in (("ratings", ratings, ("user_id", "item_id", "rating", "timestamp")),
                           ("movies", movies, ("item_id", "title", "genres"))):
        if not isinstance(df, pd.DataFrame) or any(c not in df.columns for c in cols):
            raise ConfigError(f"movielens_personas.{name}", df,
                              f"a DataFrame with the columns {', '.join(cols)}")
    if holdout > 0.0:
        train, test = temporal_split(ratings, holdout)
    else:
        train, test = ratings.copy(), ratings.iloc[:0].copy()
    if train.empty:
        raise DataError("movielens_personas: no ratings to build personas from")
    info = movies.set_index("item_id")
    missing = np.setdiff1d(train["item_id"].unique(), info.index.to_numpy())
    if missing.size:
        raise DataError(f"movielens_personas: rated movie id(s) missing from the movies table "
                        f"(first: {int(missing[0])})")
    df = train[["user_id", "item_id", "rating", "timestamp"]].copy()
    df["title"] = info.loc[df["item_id"], "title"].to_numpy()
    df["item_mean"] = df.groupby("item_id")["rating"].transform("mean")
    df["user_mean"] = df.groupby("user_id")["rating"].transform("mean")
    df["centered"] = df["rating"] - df["user_mean"]
    df["sq_dev"] = (df["rating"] - df["item_mean"]) ** 2
    genres = info.loc[df["item_id"], "genres"].to_numpy()
    # one row per (rating, genre)
    lens = np.fromiter((len(g) for g in genres), dtype=np.int64, count=len(genres))
    long = pd.DataFrame({"user_id": np.repeat(df["user_id"].to_numpy(), lens),
                         "genre": [g for gs in genres for g in gs],
                         "centered": np.repeat(df["centered"].to_numpy(), lens)})
    per_genre = long.groupby(["user_id", "genre"])["centered"].agg(["mean", "size"])
    users = df.groupby("user_id")
    stats = pd.DataFrame({"n": users.size(), "avg": users["rating"].mean(),
                          "conf": users["sq_dev"].mean()})
    counts = per_genre["size"].astype(np.float64)
    p = counts / counts.groupby(level=0).transform("sum")
    stats["div"] = (-(p * np.log(p))).groupby(level=0).sum().reindex(stats.index).fillna(0.0)
    act = _buckets(stats["n"].to_numpy(np.float64))
    conf = _buckets(stats["conf"].to_numpy(np.float64), reverse=True)
    div = _buckets(stats["div"].to_numpy(np.float64))

    def heads(frame: pd.DataFrame, by: list[str], ascending: list[bool], col: str,
              n: int) -> dict[int, tuple[str, ...]]:
        if frame.empty or n == 0:
            return {}
        frame = frame.sort_values(["user_id", *by], ascending=[True, *ascending],
                                  kind="stable")
        return frame.groupby("user_id").head(n).groupby("user_id")[col].agg(tuple).to_dict()

    g = per_genre[per_genre["size"] >= min_genre_count].reset_index()
    liked = heads(g[g["mean"] > 0], ["mean", "genre"], [False, True], "genre", top)
    disliked = heads(g[g["mean"] < 0], ["mean", "genre"], [True, True], "genre", top)
    good = heads(df[df["rating"] >= 4.0], ["rating", "timestamp", "item_id"],
                 [False, False, True], "title", titles)
    bad = heads(df[df["rating"] <= 2.0], ["rating", "timestamp", "item_id"],
                [True, False, True], "title", titles)
    out: dict[int, Persona] = {}
    rows = zip(stats.index.tolist(), stats["n"].tolist(), stats["avg"].tolist(),
               stats["conf"].tolist(), stats["div"].tolist(), act, conf, div, strict=True)
    for uid, n, avg, cf, dv, a, c, d in rows:
        out[int(uid)] = Persona(int(uid), liked.get(uid, ()), disliked.get(uid, ()),
                                good.get(uid, ()), bad.get(uid, ()), int(n), float(avg), a,
                                float(cf), c, float(dv), d)
    return out, test.reset_index(drop=True)


def interest_persona(utilities: np.ndarray, genre_matrix: np.ndarray,
                     genre_names: Sequence[str], titles: Sequence[str], top: int = 3,
                     num_titles: int = 3, pool: int = 100) -> Persona:
    """A persona for a user known only by their utilities over a catalog (``(I,)``, e.g.
    a simulated new user's ``<interests, features>``), with ``genre_matrix`` ``(I, G)``
    0/1 the movies' genres: liked genres are those whose share among the ``pool``
    highest-utility movies most exceeds their share in the catalog (lift > 1), disliked
    genres the same among the ``pool`` lowest; titles are the top / bottom movies. The
    traits are unknown (``medium``, NaN)."""
    u = np.asarray(utilities, dtype=np.float64)
    g = np.asarray(genre_matrix, dtype=np.float64)
    if u.ndim != 1 or u.size < 2 or u.size != len(titles):
        raise ConfigError("interest_persona.utilities", u,
                          f"a 1-D array with one utility per movie ({len(titles)})")
    if g.shape != (u.size, len(genre_names)):
        raise ConfigError("interest_persona.genre_matrix", g.shape,
                          f"shape ({u.size}, {len(genre_names)}): movies x genres")
    pool = max(1, min(pool, u.size // 2))
    order = np.argsort(-u, kind="stable")
    base = g.sum(axis=0)
    base_share = base / max(base.sum(), 1.0)

    def lift(rows: np.ndarray) -> tuple[str, ...]:
        sub = g[rows].sum(axis=0)
        share = sub / max(sub.sum(), 1.0)
        ratio = np.divide(share, base_share, out=np.zeros_like(share), where=base_share > 0)
        ok = np.flatnonzero((ratio > 1.0) & (sub > 0))
        ok = ok[np.lexsort((ok, -ratio[ok]))]  # by lift, ties by genre order
        return tuple(genre_names[j] for j in ok[:top])

    return Persona(-1, lift(order[:pool]), lift(order[::-1][:pool]),
                   tuple(titles[i] for i in order[:num_titles]),
                   tuple(titles[i] for i in order[::-1][:num_titles]))


# --------------------------------------------------------------------------- files
def write_personas(personas: Iterable[Persona], path: str | os.PathLike[str]) -> None:
    """Write ``personas`` as JSONL (one object per line, keys as :class:`Persona`)."""
    tmp = Path(f"{path}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for p in personas:
            if not isinstance(p, Persona):
                raise ConfigError("write_personas.personas", p, "Persona objects")
            fh.write(json.dumps(p.to_json(), sort_keys=True, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


_STR_TUPLES = ("liked_genres", "disliked_genres", "liked_titles", "disliked_titles")
_FLOATS = ("average_rating", "conformity", "diversity")
_LEVEL_FIELDS = ("activity", "conformity_level", "diversity_level")


def _row(path: Path, line: int, obj: Any) -> Persona:
    def bad(field: str, expected: str, received: Any) -> DataError:
        return DataError(f"{path}, line {line}, field {field}: expected {expected}, "
                         f"received {received!r}")

    if not isinstance(obj, dict):
        raise bad("(row)", "a JSON object", obj)
    known = {f.name for f in fields(Persona)}
    extra = sorted(set(obj) - known)
    if extra:
        raise bad(extra[0], "a field among " + ", ".join(sorted(known)), obj[extra[0]])
    if "user_id" not in obj:
        raise bad("user_id", "an integer user id", None)
    kw: dict[str, Any] = {}
    uid = obj["user_id"]
    if isinstance(uid, bool) or not isinstance(uid, int):
        raise bad("user_id", "an integer user id", uid)
    kw["user_id"] = uid
    for key in _STR_TUPLES:
        if key in obj:
            v = obj[key]
            if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
                raise bad(key, "a list of strings", v)
            kw[key] = tuple(v)
    if "num_ratings" in obj:
        v = obj["num_ratings"]
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise bad("num_ratings", "an integer >= 0", v)
        kw["num_ratings"] = v
    for key in _FLOATS:
        if key in obj:
            v = obj[key]
            if v is None:
                kw[key] = float("nan")
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
                raise bad(key, "a finite number or null", v)
            else:
                kw[key] = float(v)
    for key in _LEVEL_FIELDS:
        if key in obj:
            if obj[key] not in LEVELS:
                raise bad(key, "one of " + ", ".join(LEVELS), obj[key])
            kw[key] = obj[key]
    return Persona(**kw)


def read_personas(path: str | os.PathLike[str]) -> dict[int, Persona]:
    """Read a JSONL persona file (see :func:`write_personas`): ``{user_id: persona}``.
    A line that is not JSON, a field of the wrong type, an unknown field or a repeated
    user id raises :class:`~recarena.errors.DataError` naming the file, line and field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None
    out: dict[int, Persona] = {}
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}, line {i}: not a JSON object ({exc.msg})") from None
        p = _row(path, i, obj)
        if p.user_id in out:
            raise DataError(f"{path}, line {i}, field user_id: expected a user id not seen "
                            f"before, received {p.user_id!r} again")
        out[p.user_id] = p
    return out
