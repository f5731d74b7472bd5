"""MovieLens loaders: ml-latest-small (shipped), ml-100k and ml-1m (from a path).

The GroupLens data carry their own licence (research and non-commercial use; see the
shipped ``ml-latest-small/README.txt``), which differs from recarena's Apache-2.0.

Formats (Harper & Konstan, "The MovieLens Datasets: History and Context", TiiS 2015):

* **ml-latest-small** and the other "latest" releases: ``ratings.csv``
  (``userId,movieId,rating,timestamp``) and ``movies.csv`` (``movieId,title,genres`` with
  genres joined by ``|``), UTF-8 with a header; ``.csv.gz`` is read too.
* **ml-100k**: ``u.data`` (``user item rating timestamp``, tab-separated) and ``u.item``
  (``|``-separated, latin-1: id, title, release date, video date, IMDb URL, then 19 genre
  flags named in ``u.genre``).
* **ml-1m**: ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``) and ``movies.dat``
  (``MovieID::Title::Genres``), latin-1.

Every loader returns the same :class:`MovieLens` record. A missing file, a missing column,
a row with the wrong number of fields or a value that does not parse raises
:class:`~recarena.errors.DataError` naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from recarena.errors import DataError

__all__ = ["MovieLens", "load_movielens", "shipped_movielens_path"]

#: "(no genres listed)" in the latest releases
_NO_GENRE = "(no genres listed)"


@dataclass(frozen=True)
class MovieLens:
    """A MovieLens release.

    Attributes:
        name: ``"ml-latest-small"``, ``"ml-100k"`` or ``"ml-1m"`` (the detected format).
        ratings: ``user_id, item_id, rating, timestamp`` (int64, int64, float64, int64
            seconds), sorted by ``timestamp`` then ``user_id`` then ``item_id``.
        movies: ``item_id, title, genres`` (genres: a tuple of names), sorted by id.
        genres: every genre name, sorted.
    """

    name: str
    ratings: pd.DataFrame
    movies: pd.DataFrame
    genres: tuple[str, ...]

    def genre_matrix(self) -> np.ndarray:
        """``(num_movies, num_genres)`` 0/1 matrix, rows in ``movies`` order."""
        index = {g: j for j, g in enumerate(self.genres)}
        out = np.zeros((len(self.movies), len(self.genres)))
        for i, gs in enumerate(self.movies["genres"]):
            for g in gs:
                out[i, index[g]] = 1.0
        return out


def shipped_movielens_path() -> Path:
    """The ml-latest-small copy inside the package."""
    return Path(str(resources.files("recarena.simulators.data") / "ml-latest-small"))


def _open_text(path: Path, encoding: str) -> str:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                raw = fh.read()
        else:
            raw = path.read_bytes()
    except (EOFError, gzip.BadGzipFile) as exc:  # BadGzipFile is an OSError: first
        raise DataError(f"{path}: not a valid gzip file ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}, line {line}: bytes that are not {encoding}") from None


def _find(folder: Path, *names: str) -> Path | None:
    for name in names:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _rows(path: Path, text: str, sep: str, fields: int, header: list[str] | None,
          first_line: int) -> list[list[str]]:
    """Split ``text`` into rows of exactly ``fields`` fields (quotes honoured for ``,``)."""
    if sep == ",":
        reader = csv.reader(io.StringIO(text))
        rows = list(reader)
    else:
        rows = [line.split(sep) for line in text.splitlines()]
    out = []
    for i, row in enumerate(rows):
        if not row or row == [""]:
            continue
        if header is not None and i == 0:
            missing = [c for c in header if c not in row]
            if missing:
                raise DataError(f"{path}, line 1: missing column(s) {', '.join(missing)}; "
                                f"found {', '.join(row)}")
            if len(row) != fields:
                raise DataError(f"{path}, line 1: expected the {fields} columns "
                                f"{', '.join(header)}, found {len(row)}: {', '.join(row)}")
            continue
        if len(row) != fields:
            raise DataError(f"{path}, line {i + first_line}: expected {fields} fields, found "
                            f"{len(row)}: {sep.join(row)[:80]!r}")
        out.append(row)
    return out


def _numbers(path: Path, rows: list[list[str]], col: int, name: str, kind: type,
             line0: int) -> np.ndarray:
    values = [r[col].strip() for r in rows]
    try:
        return np.array(values, dtype=np.float64 if kind is float else np.int64)
    except ValueError:
        for i, v in enumerate(values):
            try:
                kind(v)
            except ValueError:
                raise DataError(f"{path}, line {i + line0}, column {name}: expected "
                                f"{'a number' if kind is float else 'an integer'}, received "
                                f"{v!r}") from None
        raise


def _ratings(path: Path, rows: list[list[str]], cols: tuple[int, int, int, int],
             line0: int) -> pd.DataFrame:
    names = ("user_id", "item_id", "rating", "timestamp")
    kinds = (int, int, float, int)
    data = {n: _numbers(path, rows, c, n, k, line0) for n, c, k in zip(names, cols, kinds,
                                                                        strict=True)}
    bad = np.flatnonzero((data["rating"] < 0.5) | (data["rating"] > 5.0))
    if bad.size:
        i = int(bad[0])
        raise DataError(f"{path}, line {i + line0}, column rating: expected a rating in "
                        f"[0.5, 5], received {data['rating'][i]}")
    df = pd.DataFrame(data)
    return df.sort_values(["timestamp", "user_id", "item_id"], kind="stable").reset_index(drop=True)


def _check_ids(ratings: pd.DataFrame, movies: pd.DataFrame, rpath: Path, mpath: Path) -> None:
    unknown = np.setdiff1d(ratings["item_id"].unique(), movies["item_id"].to_numpy())
    if unknown.size:
        raise DataError(f"{rpath}: {unknown.size} rated movie id(s) missing from {mpath} "
                        f"(first: {int(unknown[0])})")
    dup = ratings.duplicated(["user_id", "item_id"])
    if dup.any():
        row = ratings[dup].iloc[0]
        raise DataError(f"{rpath}: user {int(row.user_id)} rated movie {int(row.item_id)} twice")


def _latest(folder: Path) -> MovieLens:
    rpath = _find(folder, "ratings.csv")
    mpath = _find(folder, "movies.csv")
    for p, name in ((rpath, "ratings.csv"), (mpath, "movies.csv")):
        if p is None:
            raise DataError(f"{folder}: missing {name} (the ml-latest-small format)")
    assert rpath is not None and mpath is not None
    rrows = _rows(rpath, _open_text(rpath, "utf-8"), ",", 4,
                  ["userId", "movieId", "rating", "timestamp"], 1)
    ratings = _ratings(rpath, rrows, (0, 1, 2, 3), 2)
    mrows = _rows(mpath, _open_text(mpath, "utf-8"), ",", 3, ["movieId", "title", "genres"], 1)
    ids = _numbers(mpath, mrows, 0, "movieId", int, 2)
    genres = [tuple(g for g in r[2].split("|") if g and g != _NO_GENRE) for r in mrows]
    movies = pd.DataFrame({"item_id": ids, "title": [r[1] for r in mrows], "genres": genres})
    return _finish("ml-latest-small", ratings, movies, rpath, mpath)


def _finish(name: str, ratings: pd.DataFrame, movies: pd.DataFrame, rpath: Path,
            mpath: Path) -> MovieLens:
    if movies["item_id"].duplicated().any():
        raise DataError(f"{mpath}: movie id {int(movies['item_id'][movies['item_id'].duplicated()].iloc[0])} "
                        "appears twice")
    movies = movies.sort_values("item_id").reset_index(drop=True)
    _check_ids(ratings, movies, rpath, mpath)
    if ratings.empty:
        raise DataError(f"{rpath}: no ratings")
    genres = tuple(sorted({g for gs in movies["genres"] for g in gs}))
    return MovieLens(name, ratings, movies, genres)


def _ml100k(folder: Path) -> MovieLens:
    rpath, mpath, gpath = folder / "u.data", folder / "u.item", folder / "u.genre"
    for p in (mpath, gpath):
        if not p.is_file():
            raise DataError(f"{folder}: missing {p.name} (the ml-100k format)")
    rrows = _rows(rpath, _open_text(rpath, "latin-1"), "\t", 4, None, 1)
    ratings = _ratings(rpath, rrows, (0, 1, 2, 3), 1)
    grows = _rows(gpath, _open_text(gpath, "latin-1"), "|", 2, None, 1)
    names = [r[0] for r in sorted(grows, key=lambda r: int(r[1]))]
    mrows = _rows(mpath, _open_text(mpath, "latin-1"), "|", 5 + len(names), None, 1)
    ids = _numbers(mpath, mrows, 0, "movie id", int, 1)
    flags = np.array([[int(v) for v in r[5:]] for r in mrows], dtype=np.int64)
    genres = [tuple(n for n, f in zip(names, row, strict=True) if f and n != "unknown")
              for row in flags]
    movies = pd.DataFrame({"item_id": ids, "title": [r[1] for r in mrows], "genres": genres})
    return _finish("ml-100k", ratings, movies, rpath, mpath)


def _ml1m(folder: Path) -> MovieLens:
    rpath, mpath = folder / "ratings.dat", folder / "movies.dat"
    if not mpath.is_file():
        raise DataError(f"{folder}: missing movies.dat (the ml-1m format)")
    rrows = _rows(rpath, _open_text(rpath, "latin-1"), "::", 4, None, 1)
    ratings = _ratings(rpath, rrows, (0, 1, 2, 3), 1)
    mrows = _rows(mpath, _open_text(mpath, "latin-1"), "::", 3, None, 1)
    ids = _numbers(mpath, mrows, 0, "MovieID", int, 1)
    genres = [tuple(g for g in r[2].split("|") if g) for r in mrows]
    movies = pd.DataFrame({"item_id": ids, "title": [r[1] for r in mrows], "genres": genres})
    return _finish("ml-1m", ratings, movies, rpath, mpath)


def load_movielens(path: str | os.PathLike[str] | None = None) -> MovieLens:
    """Load a MovieLens release from a folder (format detected from its files), or the
    shipped ml-latest-small when ``path`` is ``None``."""
    folder = shipped_movielens_path() if path is None else Path(path)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder (expected a MovieLens release folder)")
    if _find(folder, "ratings.csv") is not None:
        return _latest(folder)
    if (folder / "u.data").is_file():
        return _ml100k(folder)
    if (folder / "ratings.dat").is_file():
        return _ml1m(folder)
    raise DataError(f"{folder}: no MovieLens ratings file (expected ratings.csv for "
                    "ml-latest-small, u.data for ml-100k or ratings.dat for ml-1m)")
