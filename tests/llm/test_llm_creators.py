"""LLM-played creators in CreatorEcosystem-v0 (issue 18, the creator part), against the
scripted fake server: a reply steers the creator's items (topic, effort, quality formula,
titles in the item texts); a prompt holds only its own creator's numbers; failed replies
leave the creator to its model exactly; cache replays send nothing; vector = single;
bad input raises ConfigError."""

from __future__ import annotations

import json
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import recarena  # noqa: F401  (registers the ids)
from recarena.envs.wrappers import VectorEventLogger
from recarena.errors import ConfigError
from recarena.eventlog import read_table
from recarena.simulators.creators import CreatorPopulation, RoundFeedback, creator_params
from recarena.simulators.llm import LLMBackend, LLMDecision
from recarena.simulators.llm.creators import (
    CreatorDecision,
    CreatorItemTexts,
    LLMCreators,
    llm_creator_rows,
)

ID = "recarena/CreatorEcosystem-v0"
SMALL = {"round_length": 2, "num_creators": 6, "num_topics": 8, "num_candidates": 10,
         "quality_noise": 0.0, "entry_rate": 0.5, "window": 2, "revision_every": 2}


def reply(**fields: Any) -> str:
    return json.dumps({"topic": 7, "effort": 1.0, "title": "Seven Wonders",
                       "description": "A tour of seven things.", "reason": "it pays",
                       **fields})


def make(llm: Any, n: int | None = None, **kw: Any) -> Any:
    kw = {"creators": "llm", "llm": llm, **SMALL, **kw}
    if n is None:
        return gym.make(ID, **kw)
    return gym.make_vec(ID, num_envs=n, vectorization_mode="vector_entry_point", **kw)


def step(env: Any) -> dict:
    """One step of a fixed slate (a single env starts the next user when one ends); its info."""
    n = getattr(env, "num_envs", None)
    out = env.step(np.arange(5) if n is None else np.tile(np.arange(5), (n, 1)))
    if n is None and (out[2] or out[3]):
        env.reset()
    return out[4]


def rounds(env: Any, steps: int, seed: int | None = 3) -> list:
    """The creator round reports of ``steps`` steps (after a reset with ``seed``)."""
    if seed is not None:
        env.reset(seed=seed)
    return [info["creator_round"] for info in (step(env) for _ in range(steps))
            if "creator_round" in info]


def same_rounds(a: list, b: list, skip: tuple[str, ...] = ("decided_by",)) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x["round"] == y["round"] and x["creators"].keys() == y["creators"].keys()
        for key in x["creators"]:
            if key not in skip:
                np.testing.assert_array_equal(x["creators"][key], y["creators"][key], key)
        for key in x["catalog"]:
            np.testing.assert_array_equal(x["catalog"][key], y["catalog"][key], key)


@pytest.fixture
def backend(fake_openai, llm_config):
    b = LLMBackend(llm_config(fake_openai))
    yield b
    b.close()


def test_replies_steer_topic_effort_quality_and_titles(fake_openai, backend) -> None:
    fake_openai.responder = lambda body: reply()
    env = make(backend)
    env.reset(seed=1)
    world = env.unwrapped.world
    pop, cat = world.population, world.catalog
    texts = CreatorItemTexts(world)
    steered = 0
    for _ in range(6):
        ids_before = pop.creator_id[pop.alive].copy()
        info = step(env)
        if "creator_round" not in info:
            continue
        cr = info["creator_round"]["creators"]
        llm = cr["decided_by"] == "llm"
        steered += int(llm.sum())
        # every creator alive in the round that stays was asked; entrants and leavers not
        asked = cr["alive"] & np.isin(cr["creator_id"], ids_before)
        assert llm.tolist() == asked.tolist()
        assert set(cr["decided_by"][~llm]) <= {"model"}
        assert np.all(cr["topic"][llm] == 7) and np.all(cr["effort"][llm] == 1.0)
        assert set(cr["title"][llm]) == {"Seven Wonders"} and set(cr["reason"][llm]) == {"it pays"}
        new = cat.born == pop.round
        slot = cat.slot[new]
        mine = np.isin(cat.creator_id[new], cr["creator_id"][llm])
        assert np.all(cat.topic[new][mine] == 7)
        # the quality formula at effort 1 (no noise): low + (high - low) * expertise
        np.testing.assert_allclose(cat.quality[new][mine],
                                   -1.0 + 3.0 * pop.expertise[slot[mine], 7])
        # titles: the creator's first item plain, the next ones "(part k)"; model items none
        titles = [t[0] for t in cat.text[new][mine]]
        assert titles and all(t == "Seven Wonders" or t.startswith("Seven Wonders (part ")
                              for t in titles)
        assert all(t is None for t in cat.text[new][~mine])
    assert steered >= 8
    # the item texts LLM users read: the written title first, then the synthetic text
    read = texts(world.candidates)[0]
    written = cat.texts_of(world.candidates.item_id[0])
    for line, w in zip(read, written, strict=True):
        assert line.startswith('"Seven Wonders') == (w is not None)
        assert "-minute clip about topic" in line


def test_a_prompt_holds_only_its_own_creators_numbers() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.requests: list = []

        def decide(self, requests: list, schema: Any) -> list:
            self.requests += requests
            return [LLMDecision(None, "fallback", "scripted", 0, 0, None, 1) for _ in requests]

    m, t = 3, 4
    pop = CreatorPopulation(creator_params(num_creators=m, entry_rate=0.0, revision_every=1), t)
    pop.reset(np.random.default_rng(0))
    distinct = [[4321, 512, 8765.5], [98765, 777, 1234.5], [55555, 333, 4444.5]]
    fb = np.zeros((4, m, t))
    for c, (e, k, w) in enumerate(distinct):
        fb[:, c, c + 1] = (e, k, w, 2)  # creator c: topic c + 1, 2 live items
    rec = Recorder()
    policy = LLMCreators(rec)
    state = policy.initial_state(pop)
    out = []

    def decide(population: CreatorPopulation, record: dict) -> Any:
        out.append(policy.decide(state, population, RoundFeedback(*fb), record,
                                 np.random.default_rng(1)))
        return out[-1].actions

    pop.step_round(RoundFeedback(*fb), np.random.default_rng(2), decide=decide)
    prompts = ["\n".join(msg["content"] for msg in r.messages) for r in rec.requests]
    assert len(prompts) == m and out[0].actions is None  # all fell back: nobody steered
    assert out[0].columns["decided_by"].tolist() == ["fallback"] * m
    for c, prompt in enumerate(prompts):
        belief = f"{0.7 + 0.3 * distinct[c][1] / 2:.2f} income"  # its own income belief
        assert belief in prompt and "reflection round" in prompt  # slow: revision_every=1
        for d, numbers in enumerate(distinct):
            for x in numbers:
                text = f"{x:.1f}" if isinstance(x, float) else str(x)
                assert (text in prompt) == (d == c), (c, d, text)


def test_failed_replies_leave_creators_to_their_model_exactly(fake_openai, backend) -> None:
    # odd seeds: not JSON; even seeds: a topic that does not exist
    fake_openai.responder = lambda body: "{not json" if body["seed"] % 2 else reply(topic=99)
    failed = rounds(make(backend), 8)
    sent = fake_openai.count
    assert sent >= 8
    model = rounds(make(backend, llm_fraction=0.0), 8)
    assert fake_openai.count == sent  # the model decided: nothing sent
    assert len(failed) == len(model) == 4
    same_rounds(failed, model)
    for a, b in zip(failed, model, strict=True):
        by = set(a["creators"]["decided_by"])
        assert by <= {"fallback", "model"} and "fallback" in by
        assert set(b["creators"]["decided_by"]) == {"model"}


def test_cache_replay_vector_equals_single_and_snapshots(fake_openai, llm_config,
                                                         tmp_path) -> None:
    fake_openai.responder = lambda body: reply(topic=body["seed"] % 8,
                                               effort=(body["seed"] % 11) / 10,
                                               title=f"t{body['seed'] % 97}")

    def logged(folder: str) -> Any:
        with LLMBackend(llm_config(fake_openai, cache=str(tmp_path / "c.sqlite"))) as b:
            envs = VectorEventLogger(make(b, n=1), tmp_path / folder, policy="scripted",
                                     snapshot_every=0)
            reports = rounds(envs, 6)
            envs.close()
        return reports, read_table(tmp_path / folder, "creators")

    first, log1 = logged("a")
    sent = fake_openai.count
    assert sent > 0 and len(first) == 3
    fake_openai.reset()
    again, log2 = logged("b")
    assert fake_openai.count == 0
    # the log records who decided (the LLM), not where the reply came from: identical logs
    assert set(log1["decided_by"]) == {"llm", "model"}
    assert log1.equals(log2)
    # the single env makes the same rounds (same prompts: answered from the cache)
    with LLMBackend(llm_config(fake_openai, cache=str(tmp_path / "c.sqlite"))) as b:
        env = make(b)
        single = rounds(env, 6)
        assert fake_openai.count == 0
        same_rounds(first, single)
        # a snapshot restores the policy's feedback history: the same prompts again
        world = env.unwrapped.world
        snap = env.unwrapped.snapshot()
        after = rounds(env, 4, seed=None)
        env.unwrapped.restore(snap)
        world.policy_state.history[...] = 0.0  # (the restored copy is not shared)
        env.unwrapped.restore(snap)
        count = fake_openai.count
        redo = rounds(env, 4, seed=None)
        assert count > 0 and fake_openai.count == count  # the same prompts: from the cache
        same_rounds(after, redo)
    # the model's logs have no decided_by column
    plain = VectorEventLogger(gym.make_vec(ID, num_envs=1, vectorization_mode="vector_entry_point",
                                           **SMALL), tmp_path / "m", snapshot_every=0)
    rounds(plain, 2)
    plain.close()
    assert "decided_by" not in read_table(tmp_path / "m", "creators")


def test_topic_names_rows_and_bad_input(backend) -> None:
    policy = LLMCreators(backend, topic_names=("cooking", "travel", "music"))
    assert [policy.topic_of(v, 3) for v in (2, "Travel", " music ", "topic 1", "1", 3, "jazz",
                                            True, "-1")] == [2, 1, 2, 1, 1, None, None, None, None]
    assert CreatorDecision.model_validate({"topic": "cooking", "effort": 0}).effort == 0.0
    rows = llm_creator_rows(np.arange(4000), 0.3, seed=5)
    assert abs(rows.mean() - 0.3) < 0.03
    assert rows.tolist() == llm_creator_rows(np.arange(4000), 0.3, seed=5).tolist()
    assert not llm_creator_rows(np.array([-1, -1]), 1.0).any()  # free slots
    cases = [({"creators": "robots", "llm": backend}, "CreatorEcosystemEnv.creators"),
             ({"creators": "llm", "llm": backend, "llm_fraction": 1.5}, "LLMCreators.llm_fraction"),
             ({"creators": "llm", "llm": backend, "llm_fraction": -0.1}, "LLMCreators.llm_fraction"),
             ({"creators": "llm"}, "CreatorEcosystemEnv.llm"),
             ({"llm": backend}, "CreatorEcosystemEnv.creators"),
             ({"creators": "model", "llm_fraction": 0.5}, "CreatorEcosystemEnv.creators"),
             ({"creators": "llm", "llm": "gpt"}, "CreatorEcosystemEnv.llm"),
             ({"creators": "llm", "llm": backend, "llm_history": 0}, "LLMCreators.history"),
             ({"creator_policy": "llm"}, "CreatorEcosystemConfig.creator_policy")]
    for kw, field in cases:
        with pytest.raises(ConfigError) as err:
            gym.make(ID, **kw)
        assert err.value.field == field, kw
        with pytest.raises(ConfigError):
            gym.make_vec(ID, num_envs=2, vectorization_mode="vector_entry_point", **kw)
    with pytest.raises(ConfigError, match="backend"):
        LLMCreators(None)
    with pytest.raises(ConfigError, match="topic_names"):
        LLMCreators(backend, topic_names="cooking")
    # creators="model" is the default env exactly
    assert gym.make(ID, creators="model").unwrapped.config == gym.make(ID).unwrapped.config
