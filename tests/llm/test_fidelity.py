"""LLM-user fidelity (``recarena validate llm``) and hybrid calibration (issue 18 part 4),
against the scripted fake server: alignment and RMSE equal their formulas on scripted
users, the MovieLens sample asks only about held-out ratings, the command prints its table
and replays from its cache, bad inputs exit 2 with one line, and the calibration recovers
the parameters of a logit that the fake server plays."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

pytest.importorskip("openai")
pytest.importorskip("pydantic")

from recarena.cli import main  # noqa: E402
from recarena.errors import ConfigError, DataError  # noqa: E402
from recarena.simulators.llm import LLMBackend  # noqa: E402
from recarena.simulators.llm.calibrate import (  # noqa: E402
    ChoiceDecisions,
    DecisionCollector,
    calibrate_hybrid,
    decisions_from_log,
    fit_llm_choices,
)
from recarena.simulators.llm.fidelity import (  # noqa: E402
    FidelitySample,
    evaluate_fidelity,
    movielens_fidelity_sample,
    preference_alignment,
    rating_rmse,
)
from tests.llm.fake_openai import FakeOpenAI  # noqa: E402

Z95 = 1.959963984540054


def wilson(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z95 ** 2 / (2 * n)) / (1 + Z95 ** 2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n * n)) / (1 + Z95 ** 2 / n)
    return centre - half, centre + half


def schema_props(body: dict) -> set[str]:
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") or fmt.get("schema") or {}
    return set(schema.get("properties", {}))


# --------------------------------------------------------------------------- hand-made sample
TEXTS = ["Alpha (1990) [Drama]", "Beta (1991) [Comedy]", "Gamma (1992) [Horror]",
         "Delta (1993) [War]", "Broken <<fake:invalid>> (1994) [Drama]", "Zeta (1995) [Action]"]


def hand_sample() -> FidelitySample:
    # pairs in the order shown; the first shown is better in pairs 0, 2, 4
    return FidelitySample(
        user_ids=np.array([11, 22, 33]), personas=("You like drama.", "You like war.", "x"),
        item_texts=TEXTS,
        pair_user=np.array([0, 0, 1, 1, 2, 2]),
        pair_items=np.array([[0, 1], [2, 3], [5, 0], [1, 2], [3, 5], [4, 0]]),
        pair_ratings=np.array([[5.0, 1.0], [2.0, 4.0], [3.5, 1.0], [1.0, 5.0], [4.5, 2.0],
                               [5.0, 1.0]]),
        rate_user=np.array([0, 0, 1, 2, 2]), rate_items=np.array([0, 1, 2, 3, 4]),
        rate_ratings=np.array([5.0, 1.0, 3.5, 4.0, 2.0]),
        pair_seeds=np.arange(6), rate_seeds=np.arange(10, 15),
        pair_utility=np.array([[1.0, 0.0], [0.5, 0.0], [0.0, 2.0], [0.0, 1.0], [3.0, 1.0],
                               [0.0, 0.0]]),
        rate_model=np.array([4.0, 2.0, 3.0, 3.0, 3.0]),
        rate_mean=np.array([3.0, 3.0, 2.5, 4.0, 4.0]), seed=7)


def scripted(body: dict) -> str:
    """Always the first movie shown; always 3 stars."""
    if "choice" in schema_props(body):
        return json.dumps({"choice": 1})
    return json.dumps({"rating": 3})


def test_alignment_and_rmse_equal_their_formulas_on_a_scripted_user(fake_openai,
                                                                    llm_config) -> None:
    fake_openai.responder = scripted
    sample = hand_sample()
    with LLMBackend(llm_config(fake_openai, max_retries=0)) as backend:
        rep = evaluate_fidelity(sample, backend, bootstrap=200)
    llm = rep.rows[0]
    # pair 5 shows the <<fake:invalid>> movie: invalid twice (reply + repair) -> fallback,
    # left out; of pairs 0-4 the first shown is better in 0, 2, 4: alignment 3/5
    assert rep.pair_decided == {"llm": 5, "cache": 0, "fallback": 1}
    assert (llm.pairs, llm.alignment) == (5, 0.6)
    assert (llm.alignment_low, llm.alignment_high) == pytest.approx(wilson(3, 5), abs=1e-12)
    # rating 4 shows the invalid movie too: 4 answered ratings of 3 stars
    assert rep.rating_decided == {"llm": 4, "cache": 0, "fallback": 1}
    real = np.array([5.0, 1.0, 3.5, 4.0])
    assert llm.ratings == 4
    assert llm.rmse == pytest.approx(math.sqrt(np.mean((3 - real) ** 2)), abs=1e-12)
    assert llm.rmse_low <= llm.rmse <= llm.rmse_high
    # each prompt: the user's persona, the two movies in the order shown
    pair_bodies = [b for b in fake_openai.requests if "choice" in schema_props(b)]
    first = next(b for b in pair_bodies if b["seed"] == 2)
    assert first["messages"][0]["content"].endswith("You like war.")
    assert "1. Zeta (1995) [Action]\n2. Alpha (1990) [Drama]" in first["messages"][1]["content"]
    # the fitted MNL rows: argmax picks the first in 0, 1, 4, 5 (a tie -> the first), the
    # second in 2, 3: hits in 0, 3, 4, 5 -> 4/6; sampled = mean sigmoid(u_better - u_worse)
    mnl = rep.row("fitted MNL user (argmax utility)")
    assert (mnl.alignment, mnl.pairs) == (4 / 6, 6)
    gaps = np.array([1.0, -0.5, -2.0, 1.0, 2.0, 0.0])
    sampled = rep.row("fitted MNL user (sampled, expected)")
    assert sampled.alignment == pytest.approx(np.mean(1 / (1 + np.exp(-gaps))), abs=1e-12)
    every = np.array([5.0, 1.0, 3.5, 4.0, 2.0])
    assert mnl.rmse == pytest.approx(math.sqrt(np.mean((sample.rate_model - every) ** 2)))
    mean = rep.row("random chooser / user's mean rating")
    assert (mean.alignment, mean.rmse) == (0.5, pytest.approx(
        math.sqrt(np.mean((sample.rate_mean - every) ** 2))))
    assert rep.row("SimUSER (published; own data and pairs)").alignment == 0.791
    assert rep.diagnostics == {"first_share": 1.0,
                               "stars": {1: 0, 2: 0, 3: 4, 4: 0, 5: 0}}
    text = rep.table()
    assert "60.0%" in text and "79.1%" in text and "1 fallback" in text
    assert "first movie shown in 100%" in text


def test_statistics_helpers() -> None:
    assert preference_alignment(np.array([True, False]), np.array([True, True]))[:1] == (0.5,)
    assert math.isnan(preference_alignment(np.zeros(0, bool), np.zeros(0, bool))[0])
    with pytest.raises(ConfigError, match="first_is_better"):
        preference_alignment(np.ones(3, bool), np.ones(2, bool))
    # two users, errors 0 and 2: every bootstrap RMSE lies in {0, sqrt 2, 2}
    pred, real, users = np.array([1.0, 3.0]), np.array([1.0, 1.0]), np.array([0, 1])
    r, lo, hi, n = rating_rmse(pred, real, users, np.random.default_rng(0), 500)
    assert (r, n) == (math.sqrt(2), 2) and 0.0 <= lo <= hi <= 2.0
    assert rating_rmse(pred, real, users, np.random.default_rng(0), 500) == (r, lo, hi, n)
    assert all(map(math.isnan, rating_rmse(pred, real, users, np.random.default_rng(0), 0)[1:3]))
    # a user's ratings move together: 1 user with 3 ratings -> a degenerate interval
    same = rating_rmse(np.array([2.0, 2.0, 5.0]), np.array([1.0, 3.0, 4.0]), np.zeros(3),
                       np.random.default_rng(1), 100)
    assert same[1] == same[2] == pytest.approx(same[0])
    with pytest.raises(ConfigError):
        FidelitySample(np.array([1]), ("a",), ["t"], np.array([0]), np.array([[0, 1]]),
                       np.ones((1, 2)), np.zeros(0, int), np.zeros(0, int), np.zeros(0),
                       np.zeros(1, int), np.zeros(0, int))  # item 1 is not a catalog row


@pytest.fixture(scope="module")
def movielens_sample() -> FidelitySample:
    return movielens_fidelity_sample(users=4, pairs=3, seed=1)


def test_movielens_sample_asks_about_held_out_ratings_only(movielens_sample) -> None:
    from recarena.envs.movielens import _shipped, _shipped_personas
    from recarena.simulators.data.fit import temporal_split
    from recarena.simulators.llm.fidelity import _shipped_inputs

    s, data, fitted = movielens_sample, _shipped_inputs()[0], _shipped()  # (the raw data)
    train, test = temporal_split(data.ratings, 0.2)
    held = {(int(u), int(i)): float(r) for u, i, r in test[["user_id", "item_id", "rating"]]
            .itertuples(index=False)}
    trained = set(zip(train["user_id"].tolist(), train["item_id"].tolist(), strict=True))
    ids = fitted.item_ids
    for u, items, ratings in zip(s.pair_user, s.pair_items, s.pair_ratings, strict=True):
        uid = int(s.user_ids[u])
        for i, r in zip(items, ratings, strict=True):
            assert held[(uid, int(ids[i]))] == r and (uid, int(ids[i])) not in trained
        assert abs(ratings[0] - ratings[1]) >= 1.0
    for u, i, r in zip(s.rate_user, s.rate_items, s.rate_ratings, strict=True):
        assert held[(int(s.user_ids[u]), int(ids[i]))] == r
    personas = _shipped_personas().personas  # the env's LLM users' personas
    assert s.personas == tuple(personas[int(u)].describe() for u in s.user_ids)
    assert len(s.pair_user) <= 12 and len(s.rate_user) <= 12 and len(set(s.user_ids)) == 4
    # both orders are shown, and the calibrated ratings lie on the star scale
    first_better = s.pair_ratings[:, 0] > s.pair_ratings[:, 1]
    assert first_better.any() and not first_better.all()
    assert np.all((s.rate_model >= 0.5) & (s.rate_model <= 5.0))
    again, other = (movielens_fidelity_sample(users=4, pairs=3, seed=seed) for seed in (1, 2))
    for name in ("user_ids", "pair_items", "pair_seeds", "rate_items", "rate_model"):
        np.testing.assert_array_equal(getattr(again, name), getattr(s, name))
    assert not np.array_equal(other.pair_seeds, s.pair_seeds)
    with pytest.raises(ConfigError, match="users: expected at most"):
        movielens_fidelity_sample(users=10_000)


def test_cli_prints_the_table_exits_0_and_replays_from_its_cache(fake_openai, tmp_path,
                                                                 capsys, monkeypatch) -> None:
    monkeypatch.setenv("FIDELITY_KEY", "sk-fidelity")
    fake_openai.api_key = "sk-fidelity"
    cache, out = tmp_path / "replies.sqlite", tmp_path / "fidelity.json"
    argv = ["validate", "llm", "--base-url", fake_openai.url, "--model", "fake-model",
            "--api-key-env", "FIDELITY_KEY", "--users", "3", "--pairs", "2", "--seed", "4",
            "--cache", str(cache), "--json", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    for row in ("LLM user (fake-model)", "fitted MNL user (argmax utility)",
                "random chooser / user's mean rating", "SimUSER (published"):
        assert row in text
    first = json.loads(out.read_text())
    llm = first["rows"][0]
    assert llm["pairs"] == first["pair_decided_by"]["llm"] > 0
    assert first["rating_decided_by"]["fallback"] == 0
    sent = fake_openai.count
    assert main(argv) == 0  # the same seed again: every reply from the cache
    assert fake_openai.count == sent + 1  # only the endpoint check
    second = json.loads(out.read_text())
    assert second["pair_decided_by"]["cache"] == llm["pairs"]
    assert second["rows"] == first["rows"]
    assert re.search(r"LLM pairs: 0 llm, \d+ cache", capsys.readouterr().out)


@pytest.mark.parametrize("case", ["no endpoint", "401", "users 0", "users text", "no url",
                                  "unset key var", "local and url", "movielens flag"])
def test_cli_bad_inputs_exit_2_with_one_line(case: str, fake_openai, capsys,
                                             monkeypatch) -> None:
    monkeypatch.setenv("WRONG_KEY", "sk-wrong")
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    fake_openai.api_key = "sk-right"
    url = fake_openai.url
    with FakeOpenAI() as closed:
        dead = closed.url  # a port nothing listens on once the server stops
    base = ["validate", "llm", "--model", "m"]
    argv, expect = {
        "no endpoint": (base + ["--base-url", dead, "--max-retries", "0"], "no usable answer"),
        "401": (base + ["--base-url", url, "--api-key-env", "WRONG_KEY"], "HTTP 401"),
        "users 0": (base + ["--base-url", url, "--users", "0"], "--users: expected"),
        "users text": (base + ["--base-url", url, "--users", "many"], "invalid int value"),
        "no url": (base, "--base-url: expected"),
        "unset key var": (base + ["--base-url", url, "--api-key-env", "NO_SUCH_KEY_VAR"],
                          "--api-key-env: expected"),
        "local and url": (["validate", "llm", "--local", "--base-url", url], "--local"),
        "movielens flag": (base + ["--base-url", url, "--strict"], "--strict"),
    }[case]
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse's own errors (a flag's type)
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("recarena: error:")]
    assert len(lines) == 1 and expect in lines[0], err
    assert "Traceback" not in err and "sk-wrong" not in err


# --------------------------------------------------------------------------- calibration
def mnl_draws(m: np.ndarray, p: np.ndarray, a: float, c: float, b: float,
              rng: np.random.Generator) -> np.ndarray:
    e, k = m.shape
    u = np.concatenate([a * m + c * p, np.full((e, 1), b)], axis=1)
    prob = np.exp(u - u.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    pick = (prob.cumsum(axis=1) > rng.random((e, 1))).argmax(axis=1)
    return np.where(pick == k, -1, pick)


def test_calibration_recovers_known_parameters_from_arrays() -> None:
    rng = np.random.default_rng(0)
    m, p = rng.normal(0.3, 0.5, (4000, 10)), rng.uniform(0, 5, (4000, 10))
    cal = fit_llm_choices(ChoiceDecisions(m, p, mnl_draws(m, p, 1.5, 0.9, 4.0, rng)))
    for name, truth in (("a", 1.5), ("c", 0.9), ("no_click_utility", 4.0)):
        lo, hi = cal.interval(0.99)[name]
        assert lo < truth < hi, (name, lo, hi)
    assert max(cal.stderr) < 0.1  # tight enough that a wrong answer fails
    assert cal.predicted_click_share == pytest.approx(cal.click_share, abs=1e-9)
    assert cal.log_likelihood > cal.null_log_likelihood
    fitted = cal.fitted()
    assert fitted.weights.tolist() == [cal.a, cal.c]
    assert fitted.no_click_utility == cal.no_click_utility
    assert fitted.settings["llm_calibration"]["events"] == 4000
    model = cal.user_model(new_user_share=0.0)
    assert model.choice.no_click_score == cal.no_click_utility
    np.testing.assert_allclose(model.interest_prior.table[:, -1], cal.c)


def test_calibration_bad_inputs() -> None:
    import pandas as pd

    m = np.zeros((3, 2))
    with pytest.raises(ConfigError, match="log_popularity"):
        ChoiceDecisions(m, np.zeros((3, 3)), np.array([0, 1, -1]))
    with pytest.raises(ConfigError, match="choice"):
        ChoiceDecisions(m, m, np.array([0, 2, -1]))
    with pytest.raises(DataError, match="not identified"):
        fit_llm_choices(ChoiceDecisions(m, m, np.array([0, 1, 0])))
    with pytest.raises(DataError, match="decided_by"):
        decisions_from_log(pd.DataFrame({"seed": [0], "step": [0]}))
    with pytest.raises(ConfigError, match="impressions"):
        calibrate_hybrid(42)
    with pytest.raises(DataError, match="no decisions"):
        DecisionCollector().decisions()
    with pytest.raises(ConfigError, match="users='llm'"):
        DecisionCollector().add({"oracle": {}}, np.zeros((1, 2), int), {})


def test_calibration_recovers_the_logit_the_fake_server_plays(fake_openai, llm_config,
                                                               tmp_path) -> None:
    """MovieLens-v0 LLM users answered by a known logit (utility a <x_u, y_i> + c log(1 +
    pop_i) against a no-click utility b, the user found from the persona, the movies from
    their titles, a draw seeded by the request's seed), logged, and refitted."""
    import gymnasium as gym

    from recarena.envs.movielens import _shipped, _shipped_personas
    from recarena.envs.wrappers import VectorEventLogger
    from recarena.eventlog import read_table
    from recarena.simulators.llm.users import movielens_texts

    fitted, personas = _shipped(), _shipped_personas()
    user_row = {p.describe(): int(np.searchsorted(fitted.user_ids, uid))
                for uid, p in sorted(personas.personas.items(), reverse=True)}
    item_row = {t: i for i, t in reversed(list(enumerate(movielens_texts(fitted)._texts)))}
    a, c, b = 6.0, 1.0, 5.0  # a more taste-driven user than the MovieLens fit (2.9, 0.7, 2.3)
    system = "Stay in character. "
    line = re.compile(r"^(\d+)\. (.*)$", re.M)

    def logit_user(body: dict) -> str:
        persona = body["messages"][0]["content"].split(system, 1)[1]
        x = fitted.user_factors[user_row[persona]]
        rows = [item_row[t] for _, t in line.findall(body["messages"][-1]["content"])]
        u = np.r_[a * (fitted.item_factors[rows] @ x) + c * fitted.log_popularity[rows], b]
        prob = np.exp(u - u.max())
        k = int(np.random.default_rng(body["seed"]).choice(u.size, p=prob / prob.sum()))
        return json.dumps({"choice": None if k == len(rows) else k + 1, "reason": "",
                           "rating": None, "leave": False, "instruction": None,
                           "more_genres": [], "less_genres": []})

    fake_openai.responder = logit_user
    n, steps = 24, 15
    with LLMBackend(llm_config(fake_openai, concurrency=16, timeout=5.0)) as backend:
        envs = gym.make_vec("recarena/MovieLens-v0", num_envs=n,
                            vectorization_mode="vector_entry_point", users="llm", llm=backend,
                            new_user_share=0.0, horizon=1000)
        envs = VectorEventLogger(envs, tmp_path / "log", policy="random", snapshot_every=0)
        _, info = envs.reset(seed=0)
        rng = np.random.default_rng(1)
        collector = DecisionCollector(fitted)
        for _ in range(steps):
            slates = np.argsort(rng.random((n, 50)), axis=1)[:, :10]
            _, _, _, _, after = envs.step(slates)
            collector.add(info, slates, after)
            info = after
        envs.close()
    log = read_table(tmp_path / "log")
    cal = calibrate_hybrid(log, fitted)
    # the same decisions collected from the steps' infos give the same fit
    direct = fit_llm_choices(collector.decisions(), fitted)
    assert direct.events == cal.events
    assert (direct.a, direct.c, direct.no_click_utility) == pytest.approx(
        (cal.a, cal.c, cal.no_click_utility), rel=1e-9)
    assert cal.events == int((log["decided_by"] == "llm").sum() // 10) >= 300
    base = {"a": fitted.weights[0], "c": fitted.weights[1],
            "no_click_utility": fitted.no_click_utility}
    ci99, ci95 = cal.interval(0.99), cal.interval(0.95)
    for name, truth in (("a", a), ("c", c), ("no_click_utility", b)):
        assert ci99[name][0] < truth < ci99[name][1], (name, ci99[name])
        # the fit moved away from the MovieLens fit: its value is outside the 95% CI
        assert not ci95[name][0] < base[name] < ci95[name][1], (name, ci95[name], base[name])
    # the calibrated fit runs the env's model-driven rows
    env = gym.make("recarena/MovieLens-v0", **cal.env_kwargs())
    assert env.unwrapped.config.user_model.choice.no_click_score == cal.no_click_utility
    env.close()
