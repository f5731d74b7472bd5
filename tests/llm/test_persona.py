"""Personas of LLM users from ratings (Agent4Rec's profile and traits), their files,
and the prompts and memory built on them."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from recarena.errors import ConfigError, DataError
from recarena.simulators.llm.memory import EMPTY_MEMORY, MemoryEntry
from recarena.simulators.llm.persona import (
    Persona,
    interest_persona,
    movielens_personas,
    read_personas,
    write_personas,
)
from recarena.simulators.llm.prompts import CatalogTexts, SyntheticTexts, decision_messages
from recarena.simulators.records import Items

MOVIES = pd.DataFrame({
    "item_id": [1, 2, 3, 4, 5, 6],
    "title": ["A (2000)", "B (2001)", "C (2002)", "D (2003)", "E (2004)", "F (2005)"],
    "genres": [("Comedy",), ("Drama",), ("Comedy", "Drama"), ("Horror",),
               ("Comedy", "Horror"), ("Western",)],
})


def ratings(rows: list[tuple[int, int, float, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


# user 1: five movies, mean 3; user 2: three; user 3: one
TABLE = ratings([(1, 1, 5.0, 1), (1, 2, 3.0, 2), (1, 3, 4.0, 3), (1, 4, 1.0, 4), (1, 5, 2.0, 5),
                 (2, 1, 3.0, 1), (2, 2, 5.0, 2), (2, 4, 3.0, 3),
                 (3, 1, 4.0, 1)])


def test_persona_traits_equal_their_formulas() -> None:
    personas, held = movielens_personas(TABLE, MOVIES, holdout=0.0, min_genre_count=2)
    assert held.empty and sorted(personas) == [1, 2, 3]
    p = personas[1]
    # centred ratings: A +2, B 0, C +1, D -2, E -1 -> Comedy (A, C, E) 2/3, Drama (B, C)
    # 1/2, Horror (D, E) -3/2
    assert p.liked_genres == ("Comedy", "Drama") and p.disliked_genres == ("Horror",)
    assert p.liked_titles == ("A (2000)", "C (2002)")  # rating >= 4, best first
    assert p.disliked_titles == ("D (2003)", "E (2004)")  # rating <= 2, worst first
    assert p.num_ratings == 5 and p.average_rating == 3.0
    # item means over all users: A 4, B 4, C 4, D 2, E 2 -> (1 + 1 + 0 + 1 + 0) / 5
    assert p.conformity == pytest.approx(0.6)
    # genre counts Comedy 3, Drama 2, Horror 2 (of 7)
    want = -sum(c / 7 * math.log(c / 7) for c in (3, 2, 2))
    assert p.diversity == pytest.approx(want)
    # activity tertiles of (5, 3, 1): 1 < 2.33 low, 3 < 3.67 medium, 5 high
    assert [personas[u].activity for u in (1, 2, 3)] == ["high", "medium", "low"]
    # conformity deviations: user 2 (3-4)^2 + (5-4)^2 + (3-2)^2 = 3 -> 1, user 3: 0
    assert personas[2].conformity == pytest.approx(1.0)
    assert [personas[u].conformity_level for u in (1, 2, 3)] == ["medium", "low", "high"]
    assert personas[3].diversity == 0.0 and personas[3].diversity_level == "low"
    assert "You like Comedy, Drama movies." in p.describe()


def test_persona_reads_only_the_training_part() -> None:
    # ten ratings; the latest two (Westerns, rated 5) are held out by the 20% temporal split
    movies = pd.DataFrame({"item_id": range(1, 11), "title": [f"T{i}" for i in range(1, 11)],
                           "genres": [("Drama",)] * 4 + [("Comedy",)] * 4 + [("Western",)] * 2})
    df = ratings([(7, i, 4.0 if i <= 4 else 2.0, i) for i in range(1, 9)]
                 + [(7, 9, 5.0, 100), (7, 10, 5.0, 101)])
    personas, held = movielens_personas(df, movies, holdout=0.2, min_genre_count=1)
    assert held["timestamp"].tolist() == [100, 101]
    p = personas[7]
    assert p.liked_genres == ("Drama",) and p.disliked_genres == ("Comedy",)
    assert p.liked_titles == ("T4", "T3", "T2") and p.num_ratings == 8
    assert p.average_rating == 3.0


def test_interest_persona_reads_the_top_and_bottom_movies() -> None:
    genres = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 1], [0, 1]], dtype=float)
    titles = [f"m{i}" for i in range(6)]
    u = np.array([5.0, 4.0, -3.0, -4.0, 0.0, -1.0])
    p = interest_persona(u, genres, ("Comedy", "Horror"), titles, pool=2, num_titles=2)
    assert p.user_id == -1 and p.liked_genres == ("Comedy",)
    assert p.disliked_genres == ("Horror",)
    assert p.liked_titles == ("m0", "m1") and p.disliked_titles == ("m3", "m2")
    with pytest.raises(ConfigError, match="genre_matrix"):
        interest_persona(u, genres[:3], ("Comedy", "Horror"), titles)


def test_persona_file_round_trip(tmp_path) -> None:
    personas, _ = movielens_personas(TABLE, MOVIES, holdout=0.0)
    new = Persona(-1, ("Drama",))  # NaN traits are written as null
    path = tmp_path / "personas.jsonl"
    write_personas([*personas.values(), new], path)
    back = read_personas(path)
    assert {k: v.to_json() for k, v in back.items()} == \
        {k: v.to_json() for k, v in {**personas, -1: new}.items()}


@pytest.mark.parametrize(("line", "field"), [
    ("not json", "not a JSON object"),
    ('["a list"]', "field (row)"),
    ('{"liked_genres": []}', "field user_id"),
    ('{"user_id": "7"}', "field user_id"),
    ('{"user_id": 7, "liked_genres": "Comedy"}', "field liked_genres"),
    ('{"user_id": 7, "activity": "extreme"}', "field activity"),
    ('{"user_id": 7, "average_rating": "high"}', "field average_rating"),
    ('{"user_id": 7, "num_ratings": -1}', "field num_ratings"),
    ('{"user_id": 7, "favourite": 1}', "field favourite"),
    ('{"user_id": 1}', "field user_id: expected a user id not seen before"),
])
def test_bad_persona_rows_raise_data_error_naming_file_line_field(tmp_path, line, field) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"user_id": 1}) + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_personas(path)
    assert str(path) in str(err.value) and "line 3" in str(err.value)
    assert field in str(err.value)


def test_item_texts_and_prompt() -> None:
    items = Items(np.array([[2, 0]]), np.array([[3, 1]]), np.zeros((1, 2, 1)),
                  np.array([[2.0, -2.0]]), np.array([[4.2, 1.0]]), np.zeros((1, 2), np.int64))
    texts = CatalogTexts(("A (2000)", "B (2001)", "C (2002)"), (("Comedy",), (), ("Drama", "War")))
    assert texts(items) == [["C (2002) [Drama, War]", "A (2000) [Comedy]"]]
    assert SyntheticTexts()(items) == [["a 4-minute clip about topic 3, high production quality",
                                        "a 1-minute clip about topic 1, low production quality"]]
    with pytest.raises(ConfigError):
        texts(items._replace(item_id=np.array([[3, 0]])))
    msgs = decision_messages("You like Drama.", "- watched A (2000)", texts(items)[0])
    assert msgs[0]["role"] == "system" and "You like Drama." in msgs[0]["content"]
    assert "1. C (2002) [Drama, War]\n2. A (2000) [Comedy]" in msgs[1]["content"]


def test_memory_keeps_the_last_entries_and_reflects_on_schedule() -> None:
    mem = EMPTY_MEMORY
    skipped = EMPTY_MEMORY
    due = []
    for step in range(3):
        mem = mem.remember(MemoryEntry(f"m{step}", 4, "nice", 5), length=2)
        skipped = skipped.remember(MemoryEntry(None, None, "", 5), length=2)
        due.append(mem.reflects(2))
    assert due == [False, True, False] and mem.steps == 3
    assert mem.text() == "- watched m1, rated 4/5 (nice)\n- watched m2, rated 4/5 (nice)"
    assert mem.fallback_summary() == ("In the last 2 slates you watched 2 movie(s): m1; m2. "
                                      "Average rating 4.0/5.")
    assert skipped.fallback_summary() == ("In the last 2 slates you watched 0 movie(s). "
                                          "You skipped 2 slate(s).")
    assert mem.replace(reflection="meh").text().startswith("Reflection: meh\n- watched m1")
    assert EMPTY_MEMORY.entries == () and not EMPTY_MEMORY.reflects(2)  # records are immutable
    assert EMPTY_MEMORY.remember(MemoryEntry("x", None, "", 5), length=0).entries == ()
