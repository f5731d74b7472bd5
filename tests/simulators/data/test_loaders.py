"""MovieLens and Open Bandit loaders: the shipped files, the other formats, and a table of
bad files, each raising DataError naming the file, line and column."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from recarena.errors import ConfigError, DataError
from recarena.simulators.data import load_movielens, load_obd, shipped_obd_path


def test_shipped_movielens_matches_its_provenance() -> None:
    ml = load_movielens()
    # SOURCE.md: header + 100,836 ratings, 610 users, 9,724 rated movies, 9,742 movies
    assert ml.name == "ml-latest-small" and len(ml.ratings) == 100_836
    assert ml.ratings["user_id"].nunique() == 610 and ml.ratings["item_id"].nunique() == 9_724
    assert len(ml.movies) == 9_742 and len(ml.genres) == 19
    assert ml.ratings["timestamp"].is_monotonic_increasing
    toy = ml.movies.set_index("item_id").loc[1]
    assert toy["title"] == "Toy Story (1995)" and "Animation" in toy["genres"]
    g = ml.genre_matrix()
    assert g.shape == (9_742, 19) and g[0].sum() == 5


def test_shipped_obd_matches_its_provenance() -> None:
    obd = load_obd()
    assert len(obd.log) == 10_000 and obd.num_items == 80 and obd.num_positions == 3
    assert (obd.log["propensity"] == 0.0125).all()  # uniform random over 80 items
    ctr = obd.log.groupby("position")["click"].mean()
    assert ctr.round(4).tolist() == [0.0039, 0.0041, 0.0034]  # SOURCE.md
    assert (shipped_obd_path() / "NOTICE.md").is_file()


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_bytes(text.encode("latin-1"))
    return folder


def test_ml100k_and_ml1m_formats(tmp_path: Path) -> None:
    genres = "unknown|0\nAction|1\nComedy|2\n"
    item = "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|1\n2|GoldenEye (1995)|01-Jan-1995||http://y|0|1|0\n"
    k100 = _write(tmp_path / "k", {"u.data": "1\t1\t5\t881250949\n2\t2\t3\t881250950\n",
                                   "u.item": item, "u.genre": genres})
    ml = load_movielens(k100)
    assert ml.name == "ml-100k" and ml.genres == ("Action", "Comedy")
    assert ml.movies["genres"].tolist() == [("Comedy",), ("Action",)]
    m1 = _write(tmp_path / "m", {"ratings.dat": "1::2::4::978300760\n1::1::5::978302109\n",
                                 "movies.dat": "1::Toy Story (1995)::Animation|Comedy\n"
                                               "2::Jumanji (1995)::Adventure\n"})
    ml = load_movielens(m1)
    assert ml.name == "ml-1m" and ml.ratings["item_id"].tolist() == [2, 1]  # time order


GOOD_MOVIES = 'movieId,title,genres\n1,"Toy Story (1995)",Animation|Comedy\n2,Jumanji,Adventure\n'
GOOD_RATINGS = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,3.5,964981247\n"


@pytest.mark.parametrize(("ratings", "movies", "match"), [
    (None, GOOD_MOVIES, "missing ratings.csv"),
    (GOOD_RATINGS, None, "missing movies.csv"),
    ("userId,movieId,stars,timestamp\n1,1,4,5\n", GOOD_MOVIES, "line 1: missing column(s) rating"),
    (GOOD_RATINGS + "1,3\n", GOOD_MOVIES, "ratings.csv, line 4: expected 4 fields, found 2"),
    (GOOD_RATINGS + "2,1,four,964981247\n", GOOD_MOVIES,
     "ratings.csv, line 4, column rating: expected a number, received 'four'"),
    (GOOD_RATINGS + "x,1,4.0,964981247\n", GOOD_MOVIES,
     "line 4, column user_id: expected an integer, received 'x'"),
    (GOOD_RATINGS + "2,1,9.0,964981247\n", GOOD_MOVIES, "line 4, column rating: expected a rating in [0.5, 5]"),
    (GOOD_RATINGS + "2,7,4.0,964981247\n", GOOD_MOVIES, "1 rated movie id(s) missing from"),
    (GOOD_RATINGS + "1,1,2.0,964981249\n", GOOD_MOVIES, "user 1 rated movie 1 twice"),
    (GOOD_RATINGS, GOOD_MOVIES + "2,Again,Drama\n", "movie id 2 appears twice"),
])
def test_movielens_bad_files(tmp_path: Path, ratings: str | None, movies: str | None,
                             match: str) -> None:
    files = {k: v for k, v in (("ratings.csv", ratings), ("movies.csv", movies)) if v is not None}
    folder = _write(tmp_path, files)
    if ratings is None:  # a ratings-less folder is not recognised as any release
        match = "no MovieLens ratings file"
    with pytest.raises(DataError) as err:
        load_movielens(folder)
    assert match in str(err.value), str(err.value)


def test_movielens_bad_paths_and_bytes(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a folder"):
        load_movielens(tmp_path / "nope")
    folder = _write(tmp_path / "gz", {"movies.csv": GOOD_MOVIES})
    (folder / "ratings.csv.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="not a valid gzip file"):
        load_movielens(folder)
    folder = _write(tmp_path / "utf", {"movies.csv": GOOD_MOVIES})
    (folder / "ratings.csv").write_bytes(GOOD_RATINGS.encode() + b"1,1,\xff\n")
    with pytest.raises(DataError, match="line 4: bytes that are not utf-8"):
        load_movielens(folder)
    ok = _write(tmp_path / "okgz", {"movies.csv": GOOD_MOVIES})
    (ok / "ratings.csv.gz").write_bytes(gzip.compress(GOOD_RATINGS.encode()))
    assert len(load_movielens(ok).ratings) == 2


OBD_HEAD = ",timestamp,item_id,position,click,propensity_score,user_feature_0\n"
OBD_ROW = "0,2019-11-24 00:00:34.762830+00:00,3,1,0,0.0125,abc\n"


@pytest.mark.parametrize(("body", "match"), [
    (OBD_HEAD.replace("click,", "klick,") + OBD_ROW, "missing column(s) click"),
    (OBD_HEAD + OBD_ROW.replace(",1,0,", ",4,0,"), "line 2, column position: expected 1, 2 or 3"),
    (OBD_HEAD + OBD_ROW.replace(",1,0,", ",1,2,"), "line 2, column click: expected 0 or 1"),
    (OBD_HEAD + OBD_ROW.replace("0.0125", "1.5"), "column propensity_score: expected a probability"),
    (OBD_HEAD + OBD_ROW.replace("0.0125", "p"), "column propensity_score: expected a number"),
    (OBD_HEAD + OBD_ROW.replace("2019-11-24", "yesterday"), "column timestamp"),
    (OBD_HEAD + OBD_ROW.replace(",3,1,", ",99,1,"), "column item_id: expected an item"),
])
def test_obd_bad_files(tmp_path: Path, body: str, match: str) -> None:
    _write(tmp_path / "random" / "all", {"all.csv": body,
                                                  "item_context.csv": ",item_id,item_feature_0\n"
                                                  + "".join(f"{i},{i},a\n" for i in range(10))})
    with pytest.raises(DataError) as err:
        load_obd(tmp_path)
    assert match in str(err.value), str(err.value)
    assert "all.csv" in str(err.value)


def test_obd_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'random' or 'bts'"):
        load_obd(policy="greedy")
    with pytest.raises(ConfigError, match="'all', 'men' or 'women'"):
        load_obd(campaign="kids")
    with pytest.raises(DataError, match="missing all.csv"):
        load_obd(tmp_path)
