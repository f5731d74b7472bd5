"""LLM-played users in MovieLens-v0 (issue 18 part 2), against the scripted fake server:
replies become clicks, ratings and leaving; failures fall back to the fitted model;
cache replays send nothing; hybrid modes ask only whom they should; vector = single;
the instruction observation; the event log's decided_by column."""

from __future__ import annotations

import json
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import recarena  # noqa: F401  (registers the ids)
from recarena.envs.wrappers import VectorEventLogger
from recarena.errors import ConfigError
from recarena.eventlog import ImpressionRecorder, read_table
from recarena.simulators.llm import LLMBackend
from recarena.simulators.llm.accounting import estimate_tokens
from recarena.simulators.llm.prompts import UserDecision
from recarena.simulators.llm.users import (
    INSTRUCTION_CHARSET,
    LLMUserModel,
    llm_user_rows,
    parse_genre_instruction,
    sanitise_instruction,
)

ID = "recarena/MovieLens-v0"
GENRES = ("Action", "Comedy", "Horror", "War")
OBSERVE = ("candidates", "response", "history", "instruction")


def reply(**fields: Any) -> str:
    return json.dumps({"choice": None, "reason": "ok", "rating": None, "leave": False,
                       "instruction": None, "more_genres": [], "less_genres": [], **fields})


def user_text(body: dict) -> str:
    return body["messages"][-1]["content"]


def schema_name(body: dict) -> str:
    return (body.get("response_format") or {}).get("json_schema", {}).get("name", "")


def make(backend: Any, n: int | None = None, **kw: Any) -> Any:
    kw = {"users": "llm", "llm": backend, "horizon": 8, **kw}
    if n is None:
        return gym.make(ID, **kw)
    return gym.make_vec(ID, num_envs=n, vectorization_mode="vector_entry_point", **kw)


def slates(n: int, steps: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array([[rng.permutation(50)[:10] for _ in range(n)] for _ in range(steps)])


@pytest.fixture
def backend(fake_openai, llm_config):
    b = LLMBackend(llm_config(fake_openai))
    yield b
    b.close()


def test_replies_set_clicks_ratings_leaving_and_memory_resets(fake_openai, backend) -> None:
    # a user with no memory (first step) watches item 3; with memory, watches nothing and leaves
    fake_openai.responder = lambda body: (reply(choice=None, leave=True)
                                          if "Your recent memory" in user_text(body)
                                          else reply(choice=3, rating=4))
    envs = make(backend, n=4)
    envs.reset(seed=1)
    acts = slates(4, 3)
    _, _, term, _, info = envs.step(acts[0])
    clicked = info["response"].clicked
    assert clicked[:, 2].all() and clicked.sum() == 4  # exactly the position of item 3
    assert info["llm"]["decided_by"].tolist() == ["llm"] * 4
    assert info["llm"]["rating"].tolist() == [4] * 4 and not term.any()
    _, _, term, _, info = envs.step(acts[1])
    assert info["response"].clicked.sum() == 0  # null choice: no click
    assert (info["llm"]["rating"] == 0).all()  # no rating
    assert term.all() and info["response"].left.all()  # leave ends the session
    _, _, term, _, info = envs.step(acts[2])  # new users: empty memories, item 3 again
    assert info["response"].clicked[:, 2].all() and not term.any()
    assert fake_openai.count == 12
    users = {u for b in fake_openai.requests for u in [b["messages"][0]["content"]]}
    assert all("You like" in u or "Traits" in u for u in users)  # personas in the system prompt


def run(envs: Any, steps: int, seed: int = 2) -> list[tuple]:
    envs.reset(seed=seed)
    out = []
    for a in slates(envs.num_envs, steps):
        obs, rew, term, trunc, info = envs.step(a)
        out.append((obs, rew, term, trunc, info))
    return out


def test_failed_replies_fall_back_to_the_model_decision(fake_openai, backend) -> None:
    # odd seeds: not JSON; even seeds: a choice out of range -> every row falls back
    fake_openai.responder = lambda body: ("{not json" if body["seed"] % 2
                                          else reply(choice=99))
    failed = run(make(backend, n=3), 4)
    sent = fake_openai.count
    assert sent >= 12
    model = run(make(backend, n=3, llm_fraction=0.0), 4)
    assert fake_openai.count == sent  # the model decided: nothing sent
    for (o1, r1, t1, _, i1), (o2, r2, t2, _, i2) in zip(failed, model, strict=True):
        assert i1["llm"]["decided_by"].tolist() == ["fallback"] * 3
        assert i2["llm"]["decided_by"].tolist() == ["model"] * 3
        np.testing.assert_array_equal(i1["response"].clicked, i2["response"].clicked)
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(t1, t2)
        for key in o1:
            np.testing.assert_array_equal(o1[key], o2[key])
    # and a first step equals the fitted model's users exactly (same response draws)
    plain = run(gym.make_vec(ID, num_envs=3, vectorization_mode="vector_entry_point",
                             horizon=8), 1)
    np.testing.assert_array_equal(plain[0][4]["response"].clicked, failed[0][4]["response"].clicked)


def test_cache_replay_is_identical_and_sends_nothing(fake_openai, llm_config, tmp_path) -> None:
    fake_openai.responder = lambda body: reply(choice=1 + body["seed"] % 10,
                                               rating=1 + body["seed"] % 5,
                                               reason=f"r{body['seed'] % 97}")

    def logged(folder: str) -> tuple[list, Any]:
        with LLMBackend(llm_config(fake_openai, cache=str(tmp_path / "cache.sqlite"))) as b:
            envs = VectorEventLogger(make(b, n=3), tmp_path / folder, policy="scripted",
                                     snapshot_every=0)
            steps = run(envs, 5)
            envs.close()
        return steps, read_table(tmp_path / folder)

    first, log1 = logged("a")
    assert fake_openai.count == 15
    fake_openai.reset()
    again, log2 = logged("b")
    assert fake_openai.count == 0
    assert set(log1["decided_by"]) == {"llm"} and log1.equals(log2)  # identical logs
    for (o1, r1, _, _, i1), (o2, r2, _, _, i2) in zip(first, again, strict=True):
        np.testing.assert_array_equal(r1, r2)
        for key in o1:
            np.testing.assert_array_equal(o1[key], o2[key])
        for key in ("rating", "reason", "leave", "prompt_tokens"):
            np.testing.assert_array_equal(i1["llm"][key], i2["llm"][key])


def test_hybrid_modes_ask_only_the_llm_users_and_steps(fake_openai, backend) -> None:
    fake_openai.responder = lambda body: reply(choice=2)
    envs = make(backend, n=8, llm_fraction=0.5)
    _, info = envs.reset(seed=3)
    sent = 0
    for a in slates(8, 3):
        want = llm_user_rows(info["user_id"], 0.5)
        _, _, _, _, info = envs.step(a)
        assert ((info["llm"]["decided_by"] != "model") == want).all()
        assert info["response"].clicked[want, 1].all()
        sent += int(want.sum())
        assert fake_openai.count == sent
    assert 0 < sent < 24
    fake_openai.reset()
    envs = make(backend, n=2, llm_every=2)
    envs.reset(seed=3)
    counts = []
    for a in slates(2, 5):
        _, _, _, _, info = envs.step(a)
        counts.append(fake_openai.count)
    assert counts == [2, 2, 4, 4, 6]  # the user's steps 0, 2, 4
    assert info["llm"]["decided_by"].tolist() == ["llm", "llm"]


def test_vector_env_equals_single_env_and_check_env(fake_openai, llm_config, backend,
                                                     monkeypatch) -> None:
    # users leave with an instruction on their third step: both envs see the same
    fake_openai.responder = lambda body: (
        reply(choice=1, rating=2, leave=True, instruction="less horror, more comedy")
        if user_text(body).count("- watched") == 2 else reply(choice=1 + body["seed"] % 10))
    single = make(backend, observe=OBSERVE)
    vec = make(backend, n=1, observe=OBSERVE)
    o1, _ = single.reset(seed=5)
    o2, _ = vec.reset(seed=5)
    ended = False
    for a in slates(1, 6):
        o1, r1, t1, u1, i1 = single.step(a[0])
        o2, r2, t2, u2, i2 = vec.step(a)
        assert single.observation_space.contains(o1)
        assert (r1, t1, u1) == (r2[0], t2[0], u2[0])
        for key in i1["llm"]:
            assert i1["llm"][key] == i2["llm"][key][0]
        if t1:
            assert o1["instruction"] == "less horror, more comedy"
            assert i2["final_obs"][0]["instruction"] == o1["instruction"]
            assert o2["instruction"][0] == ""  # the new user has said nothing
            ended = True
            break
        for key in o1:
            np.testing.assert_array_equal(o1[key], o2[key][0])
    assert ended
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # (the checker re-makes the env from its spec, which deep-copies the arguments:
        # the backend's config, not a backend; the env closes the backend it made)
        # (the key is not an env argument: env.spec would keep it; it comes from the env var)
        config = {f: getattr(backend.config, f) for f in ("base_url", "model", "timeout",
                                                          "max_retries")}
        with pytest.raises(ConfigError, match="llm.api_key"):
            make(config | {"api_key": backend.config.api_key})
        monkeypatch.setenv("OPENAI_API_KEY", backend.config.api_key)
        env = make(config, observe=OBSERVE)
        assert backend.config.api_key not in repr(env.spec)
        check_env(env.unwrapped, skip_render_check=False)
        env.close()
        assert env.unwrapped.config.user_model.backend._closed
        venv = make(config, n=2)  # the vector env closes the backend it made, too
        venv.close()
        assert venv.unwrapped.config.user_model.backend._closed
    vec.close()
    assert not backend._closed  # a backend given as an object stays the caller's


def test_instruction_observation(fake_openai, backend) -> None:
    fake_openai.responder = lambda body: reply(
        choice=1, rating=1, instruction="Less Horror,\nmore comedies \u263a!",
        more_genres=["War"])
    env = make(backend, observe=OBSERVE)
    obs, _ = env.reset(seed=0)
    assert obs["instruction"] == "" and not obs["instruction_genres"].any()
    obs, _, term, _, info = env.step(slates(1, 1)[0][0])
    assert not term  # a low rating exposes the instruction; the user stays
    assert obs["instruction"] == "Less Horror, more comedies !"
    assert info["llm"]["instruction"] == obs["instruction"]
    names = env.unwrapped.config.user_model.genre_names
    vec = dict(zip(names, obs["instruction_genres"].tolist(), strict=True))
    assert (vec["Horror"], vec["Comedy"], vec["War"]) == (-1.0, 1.0, 1.0)
    assert sum(abs(v) for v in vec.values()) == 3.0
    assert env.observation_space.contains(obs)
    # without the part, the spaces are the model env's
    plain = gym.make(ID)
    assert make(backend).observation_space == plain.observation_space
    with pytest.raises(ConfigError, match="instruction"):
        gym.make(ID, observe=OBSERVE)


def test_prompts_stay_short_and_reflections_enter_memory(fake_openai, backend) -> None:
    def responder(body: dict) -> str:
        if schema_name(body) == "Reflection":
            return "garbled" if body["seed"] % 2 else json.dumps({"summary": "too much drama"})
        return reply(choice=1, rating=3, reason="a fine evening, nothing special")

    fake_openai.responder = responder
    envs = make(backend, n=2, reflect_every=2, memory_length=5)
    run(envs, 6)
    decisions = [b for b in fake_openai.requests if schema_name(b) != "Reflection"]
    reflections = [b for b in fake_openai.requests if schema_name(b) == "Reflection"]
    assert len(decisions) == 12 and len(reflections) >= 6  # after steps 2, 4, 6 of 2 users
    later = [user_text(b) for b in decisions[4:]]
    assert all("Reflection: " in t for t in later)
    assert any("Reflection: too much drama" in t for t in later)
    # a failed reflection falls back to the deterministic summary
    assert any("Reflection: In the last 2 slates you watched 2 movie(s)" in t for t in later)
    schema = UserDecision.model_json_schema()
    longest = max(estimate_tokens(b["messages"], schema) for b in decisions)
    assert longest < 800


def test_event_log_column_only_with_llm_users(tmp_path) -> None:
    from recarena.simulators.records import Response

    k = 2
    z = np.zeros((1, k), bool)
    resp = Response(z, z, np.zeros((1, k)), z, z, z, np.zeros(1, bool))
    after = {"response": resp, "slate_item_ids": np.array([[4, 5]])}
    for name, extra in (("plain", {}), ("llm", {"llm": {"decided_by": np.array(["cache"])}})):
        rec = ImpressionRecorder(tmp_path / name, "r", 0, "p", 1, snapshot_every=0)
        rec.step(0, {"user_id": np.array([0])}, np.array([[0, 1]]), np.zeros(1),
                 np.zeros(1, bool), np.zeros(1, bool), {**after, **extra})
        rec.close()
        df = read_table(tmp_path / name)
        assert ("decided_by" in df) == bool(extra)
    assert df["decided_by"].tolist() == ["llm", "llm"]  # a cache hit is logged as the LLM's


def test_helpers_and_bad_input(backend) -> None:
    assert parse_genre_instruction("less horror, more comedy and war; no westerns",
                                   GENRES + ("Western",)).tolist() == [0, 1, -1, 1, -1]
    assert parse_genre_instruction("horror please", GENRES).tolist() == [0, 0, 0, 0]
    assert sanitise_instruction("a\u00e9b\tc", 4) == "a b"
    assert set(sanitise_instruction("".join(map(chr, range(32, 500))))) <= set(INSTRUCTION_CHARSET)
    ids = np.arange(20_000)
    half = llm_user_rows(ids, 0.5)
    assert 0.48 < half.mean() < 0.52
    assert (llm_user_rows(ids, 0.5, seed=1) != half).any()
    assert not (llm_user_rows(ids, 0.25) & ~half).any()  # nested: a share grows by adding users
    from recarena.simulators.users import UserModel

    for kwargs, field in (({"backend": None}, "backend"),
                          ({"backend": backend, "llm_fraction": 1.5}, "llm_fraction"),
                          ({"backend": backend, "llm_every": 0}, "llm_every"),
                          ({"backend": backend, "item_texts": "titles"}, "item_texts"),
                          ({"backend": backend, "personas": 3}, "personas")):
        with pytest.raises(ConfigError, match=field):
            LLMUserModel(**kwargs)
    with pytest.raises(ConfigError, match="base"):
        LLMUserModel.from_model("model", backend)
    assert isinstance(LLMUserModel(backend=backend), UserModel)
    for kwargs, field in (({"users": "agents"}, "users"), ({"users": "llm"}, "llm"),
                          ({"llm": {"model": "x"}}, "users"),
                          ({"users": "llm", "llm": {"base_url": "ftp://x"}}, "base_url")):
        with pytest.raises(ConfigError, match=field):
            gym.make(ID, **kwargs)


def test_personas_of_fitted_and_new_users_and_from_a_file(fake_openai, backend, tmp_path) -> None:
    from recarena.simulators.llm.persona import Persona, write_personas

    source = make(backend, n=6).core.config.user_model.personas
    fitted = source.fitted
    # a fitted user's profile is recognised, with the persona of their own ratings
    uid = int(fitted.user_ids[7])
    assert source.movielens_user(fitted.interests[7]) == uid
    assert source.persona(fitted.interests[7]) is source.personas[uid]
    # a new user (population draw) gets a persona from their utilities over the catalog
    new = source.persona(fitted.interests.mean(axis=0))
    assert new.user_id == -1 and new.liked_genres and new.liked_titles
    best = fitted.titles[int(np.argmax(fitted.features @ fitted.interests.mean(axis=0)))]
    assert new.liked_titles[0] == best
    # personas from a JSONL file replace the data's
    path = tmp_path / "p.jsonl"
    write_personas([Persona(int(u), ("Zorro",)) for u in fitted.user_ids], path)
    fake_openai.responder = lambda body: reply(choice=1)
    run(make(backend, n=6, personas=str(path), new_user_share=0.0), 1)
    assert all("You like Zorro movies." in b["messages"][0]["content"]
               for b in fake_openai.requests[-6:])


def test_snapshots_carry_the_memories(fake_openai, llm_config, tmp_path) -> None:
    """A restored (and pickled) snapshot resumes with the users' memories: the same
    prompts again, all answered from the cache, the same steps."""
    import pickle

    fake_openai.responder = lambda body: (
        json.dumps({"summary": f"s{body['seed'] % 83}"}) if schema_name(body) == "Reflection"
        else reply(choice=1 + body["seed"] % 10, rating=3, reason=f"r{body['seed'] % 89}"))
    acts = slates(2, 6)
    with LLMBackend(llm_config(fake_openai, cache=str(tmp_path / "c.sqlite"))) as b:
        envs = make(b, n=2, reflect_every=2)
        envs.reset(seed=4)
        for a in acts[:2]:
            envs.step(a)
        snap = pickle.dumps(envs.snapshot())
        first = [envs.step(a) for a in acts[2:]]
        sent = fake_openai.count
        envs.restore(pickle.loads(snap))
        again = [envs.step(a) for a in acts[2:]]
    assert fake_openai.count == sent  # every prompt was seen before
    for (_, r1, t1, _, i1), (_, r2, t2, _, i2) in zip(first, again, strict=True):
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(t1, t2)
        np.testing.assert_array_equal(i1["response"].clicked, i2["response"].clicked)
        np.testing.assert_array_equal(i1["llm"]["reason"], i2["llm"]["reason"])
        assert set(i2["llm"]["decided_by"]) == {"cache"}


def test_llm_users_in_an_env_without_titles(fake_openai, backend) -> None:
    """Slate-v0 (RecSim-style items): synthetic item texts and topic personas; whoever
    says leave leaves (the base model's budget and satisfaction still end sessions too)."""
    import re

    from recarena.envs.slate import SlateEnvConfig

    def responder(body: dict) -> str:
        second = user_text(body).split("\n2. ")[1].split("\n")[0]
        topic = int(re.search(r"about topic (\d+),", second).group(1))
        return reply(choice=2, rating=5, leave=topic % 2 == 0)

    fake_openai.responder = responder
    users = LLMUserModel.from_model(SlateEnvConfig().user_model, backend)
    envs = gym.make_vec("recarena/Slate-v0", num_envs=3, vectorization_mode="vector_entry_point",
                        user_model=users, horizon=5)
    envs.reset(seed=0)
    envs.action_space.seed(0)
    said = 0
    for _ in range(4):
        _, _, term, _, info = envs.step(envs.action_space.sample())
        assert info["response"].clicked[:, 1].all()  # item 2 everywhere
        leave = info["llm"]["leave"]
        assert (term[leave]).all() and (info["response"].left[leave]).all()
        said += int(leave.sum())
    assert 0 < said < 12
    body = fake_openai.requests[0]
    assert "You are most interested in topic" in body["messages"][0]["content"]
    assert "\n1. a " in user_text(body) and "-minute clip about topic" in user_text(body)
