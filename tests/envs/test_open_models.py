"""Open models: a choice model and a candidate source written here, without recarena's
choice or catalog classes, run through everything a built-in one runs through.

``TopClick`` and ``PoolSource`` only provide the members of the protocols in
:mod:`recarena.simulators.protocols` and build recarena's plain records. They drive
``recarena/Slate-v0`` (Gymnasium's checker, a statistical check that ``TopClick`` decides
the clicks), its native vector env (a one-user vector env equals the single env step for
step), the event log, and a scenario run on an env id registered by this module
(``env.module`` in the scenario names the module, so every worker process registers it).
``ServiceUsers`` shows users whose clicks come from an external service (one batched,
seeded call per step). docs/ARCHITECTURE.md ("Plugging in new kinds of users and
creators") quotes these classes.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import recarena  # noqa: F401  (registers the recarena ids)
from recarena.agents import make_policy
from recarena.envs.slate import SlateEnv
from recarena.envs.spaces import BatchSlateSpace
from recarena.envs.wrappers import EventLogger, VectorEventLogger
from recarena.errors import ConfigError
from recarena.eventlog import read_table
from recarena.scenarios import run_scenario, scenario_from_dict
from recarena.simulators.protocols import AnalyticChoiceModel, CandidateSource, ChoiceModel
from recarena.simulators.records import ChoiceOutcome, Items
from recarena.simulators.users import UserModel


# --------------------------------------------------------------------------- the models
def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class TopClick:
    """Users look at the top position only and click it with probability
    ``sigmoid(score)``; the other positions are neither examined nor clicked."""

    def sample(self, scores: np.ndarray, rng: np.random.Generator) -> ChoiceOutcome:
        n, k = scores.shape
        clicked = np.zeros((n, k), dtype=bool)
        clicked[:, 0] = rng.random(n) < sigmoid(scores[:, 0])
        examined = np.zeros((n, k), dtype=bool)
        examined[:, 0] = True
        return ChoiceOutcome(clicked, examined)

    def pattern_probabilities(self, scores: np.ndarray) -> np.ndarray:
        """Pattern 0 (no click) and pattern 1 (position 0 clicked); every other is 0."""
        n, k = scores.shape
        out = np.zeros((n, 2 ** k))
        p = sigmoid(scores[:, 0])
        out[:, 0], out[:, 1] = 1.0 - p, p
        return out


class PoolSource:
    """C distinct items per user and step, drawn uniformly from a fixed pool of items with
    random features, topics, quality, length and creators (made here from ``seed``). Item
    ids are pool positions, so items recur; the source has no ``catalog`` attribute, so the
    env reports no catalog size."""

    def __init__(self, pool_size: int = 40, num_candidates: int = 8, feature_dim: int = 4,
                 num_topics: int = 5, seed: int = 3) -> None:
        rng = np.random.default_rng(seed)
        self.num_candidates = num_candidates
        self.feature_dim = feature_dim
        self.num_topics = num_topics
        self.features = rng.uniform(-1.0, 1.0, (pool_size, feature_dim))
        self.topic = rng.integers(0, num_topics, pool_size)
        self.quality = rng.uniform(-1.0, 1.0, pool_size)
        self.length = rng.uniform(1.0, 5.0, pool_size)
        self.creator_id = rng.integers(0, 7, pool_size)

    def sample(self, n: int, rng: np.random.Generator, first_id: int = 0) -> Items:
        pool = self.topic.shape[0]
        idx = np.argsort(rng.random((n, pool)), axis=1)[:, :self.num_candidates]
        return Items(idx.astype(np.int64), self.topic[idx], self.features[idx],
                     self.quality[idx], self.length[idx], self.creator_id[idx])

    def feature_bounds(self) -> tuple[float, float]:
        return (-1.0, 1.0)

    def quality_bounds(self) -> tuple[float, float]:
        return (-1.0, 1.0)

    def max_length(self) -> float:
        return 5.0


def open_kwargs(**changes: Any) -> dict[str, Any]:
    """``recarena/Slate-v0`` arguments with the open models in it."""
    return {"user_model": UserModel(choice=TopClick(), history_length=5),
            "candidates": PoolSource(), "slate_size": 3,
            "observe": ("interests", "candidates", "response", "history"), **changes}


# An env id of this module's own: a scenario cannot write Python objects in TOML, so it
# names this id and this module (env.module), which every worker imports.
ENV_ID = "test/OpenSlate-v0"


def make_open_env(**kwargs: Any) -> SlateEnv:
    return SlateEnv(**open_kwargs(**kwargs))


def make_open_vector_env(num_envs: int = 1, **kwargs: Any) -> Any:
    from recarena.envs.vector import SlateVectorEnv

    return SlateVectorEnv(num_envs=num_envs, **open_kwargs(**kwargs))


if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point=make_open_env, vector_entry_point=make_open_vector_env)


# --------------------------------------------------------------------------- the tests
def test_the_models_provide_the_protocols() -> None:
    assert isinstance(TopClick(), ChoiceModel)
    assert isinstance(TopClick(), AnalyticChoiceModel)
    assert isinstance(PoolSource(), CandidateSource)
    # nothing of recarena's choice or catalog code in their ancestry
    for cls in (TopClick, PoolSource):
        assert cls.__mro__[1:] == (object,)


def test_single_env_conformance() -> None:
    env = gym.make("recarena/Slate-v0", **open_kwargs()).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any checker warning fails the test
        check_env(env, skip_render_check=False)
    assert env.num_items is None and env.num_candidates == 8 and env.slate_size == 3


def test_the_custom_choice_model_decides_the_clicks() -> None:
    """Only the top position is ever clicked or examined, and its click count matches the
    sum of ``sigmoid(score)`` of the shown top items (scores from the oracle, the ones the
    world computes) within a binomial tolerance."""
    env = gym.make("recarena/Slate-v0", **open_kwargs())
    env.action_space.seed(1)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    p, clicks, episodes = [], [], 0
    for _ in range(3000):
        action = env.action_space.sample()
        p.append(sigmoid(info["oracle"]["scores"][action[0]]))
        obs, reward, term, trunc, info = env.step(action)
        assert env.observation_space.contains(obs)
        response = info["response"]
        assert not response.clicked[1:].any() and not response.examined[1:].any()
        assert response.examined[0]
        assert (reward > 0) == bool(response.clicked[0])  # watch time only where clicked
        clicks.append(bool(response.clicked[0]))
        if term or trunc:
            episodes += 1
            obs, info = env.reset()
    p_arr = np.asarray(p)
    assert episodes >= 5 and 0.2 < p_arr.mean() < 0.8  # many users, scores of both signs
    expected, sd = p_arr.sum(), np.sqrt((p_arr * (1.0 - p_arr)).sum())
    assert abs(sum(clicks) - expected) < 4.0 * sd, (sum(clicks), expected, sd)
    # and the click depends on the score: high-score top items are clicked more often
    hi = p_arr > np.median(p_arr)
    assert np.mean(np.asarray(clicks)[hi]) > np.mean(np.asarray(clicks)[~hi]) + 0.1


def _assert_row_equal(single: Any, batched: Any, where: str) -> None:
    """``single`` (the single env's value) equals row 0 of ``batched`` (the vector env's)."""
    if isinstance(single, dict):
        for key, value in single.items():
            _assert_row_equal(value, batched[key], f"{where}[{key!r}]")
    elif isinstance(single, tuple):  # a Response
        for name, value in zip(single._fields, single, strict=True):
            _assert_row_equal(value, getattr(batched, name), f"{where}.{name}")
    else:
        np.testing.assert_array_equal(np.asarray(single), np.asarray(batched)[0], err_msg=where)


def test_one_user_vector_env_equals_the_single_env() -> None:
    """Same seed, same actions: observations, rewards, end flags and every info entry of
    the single env equal row 0 of a one-user vector env, over several episodes."""
    kwargs = open_kwargs(horizon=30)
    single = gym.make("recarena/Slate-v0", **kwargs)
    vec = gym.make_vec("recarena/Slate-v0", num_envs=1, vectorization_mode="vector_entry_point",
                       **kwargs)
    actions = BatchSlateSpace(1, 8, 3, seed=5)
    obs_s, info_s = single.reset(seed=11)
    obs_v, info_v = vec.reset(seed=11)
    _assert_row_equal(obs_s, obs_v, "reset obs")
    _assert_row_equal(info_s, info_v, "reset info")
    episodes = 0
    for t in range(300):
        act = actions.sample()
        obs_s, r_s, term_s, trunc_s, info_s = single.step(act[0])
        obs_v, r_v, term_v, trunc_v, info_v = vec.step(act)
        assert (r_s, term_s, trunc_s) == (r_v[0], term_v[0], trunc_v[0]), t
        if term_s or trunc_s:
            episodes += 1
            _assert_row_equal(obs_s, {k: v[None] for k, v in info_v["final_obs"][0].items()},
                              f"final obs at {t}")
            # the step's own entries describe the finished user's step
            for key in ("response", "slate_item_ids", "slate_topics", "slate_creator_ids"):
                _assert_row_equal(info_s[key], info_v[key], f"step {t} info[{key!r}]")
            obs_s, info_s = single.reset()
        _assert_row_equal(obs_s, obs_v, f"obs at {t}")
        for key in ("user_id", "candidate_ids", "oracle"):
            _assert_row_equal(info_s[key], info_v[key], f"step {t} info[{key!r}]")
        if not (term_s or trunc_s):
            _assert_row_equal(info_s, info_v, f"step {t} info")
    assert episodes >= 5


def test_event_log_has_the_clicks_the_env_reported(tmp_path: Path) -> None:
    n, steps = 16, 40
    envs = gym.make_vec("recarena/Slate-v0", num_envs=n, vectorization_mode="vector_entry_point",
                        **open_kwargs(horizon=15))
    policy = make_policy("random", envs, seed=0)
    envs = VectorEventLogger(envs, tmp_path / "vec", run="open", policy=policy, seed=4)
    obs, info = envs.reset(seed=4)
    reported = []  # (step, user_id, position) of every click the env reported
    for t in range(steps):
        users = info["user_id"]  # who sees this step's slates (autoreset replaces after it)
        obs, reward, term, trunc, info = envs.step(policy.recommend(obs, info))
        rows, pos = np.nonzero(info["response"].clicked)
        reported += [(t, int(users[r]), int(k)) for r, k in zip(rows, pos, strict=True)]
    envs.close()
    ev = read_table(tmp_path / "vec", "impressions")
    assert len(ev) == n * steps * 3 and ev["policy"].eq("random").all()
    logged = ev[ev["clicked"]]
    assert sorted(zip(logged["step"], logged["user_id"], logged["position"], strict=True)) \
        == sorted(reported)
    assert reported and (logged["position"] == 0).all()
    assert not ev.loc[ev["position"] > 0, "examined"].any()
    assert np.allclose(ev["propensity"], 1 / 8)

    # the single env's logger writes the same columns from the same models
    env = EventLogger(gym.make("recarena/Slate-v0", **open_kwargs()), tmp_path / "one")
    obs, info = env.reset(seed=0)
    clicks = 0
    for _ in range(30):
        obs, reward, term, trunc, info = env.step(env.action_space.sample())
        clicks += int(info["response"].clicked.sum())
        if term or trunc:
            obs, info = env.reset()
    env.close()
    one = read_table(tmp_path / "one", "impressions")
    assert len(one) == 30 * 3 and int(one["clicked"].sum()) == clicks


def _scenario(**run: Any) -> dict[str, Any]:
    return {"name": "open-models",
            "env": {"id": ENV_ID, "module": __name__, "config": {"horizon": 20}},
            "run": {"users": 8, "steps": 30, "seeds": 2, **run},
            "policies": [{"name": "random"}, {"name": "greedy_oracle"}]}


def test_scenario_on_a_registered_custom_env(tmp_path: Path) -> None:
    spec = scenario_from_dict(_scenario())
    run = run_scenario(spec, out=tmp_path / "r", quiet=True, report=False)  # in process
    summary = json.loads((run / "summary.json").read_text())
    assert summary["env"] == ENV_ID
    policies = summary["policies"]
    assert set(policies) == {"random", "greedy_oracle"}
    for metrics in policies.values():
        assert {"ctr", "reward_per_step", "cohort_return"} <= set(metrics), sorted(metrics)
    # sorting by the true score puts the most clickable item on top
    assert policies["greedy_oracle"]["ctr"]["mean"] > policies["random"]["ctr"]["mean"]
    ev = read_table(run / "units" / "seed0-random", "impressions")
    assert ev["clicked"].any() and (ev.loc[ev["clicked"], "position"] == 0).all()


def test_scenario_workers_import_the_env_module(tmp_path: Path) -> None:
    """Spawned workers import ``env.module`` and so know the id: the same summary."""
    spec = scenario_from_dict(_scenario(seeds=1))
    a = run_scenario(spec, out=tmp_path / "a", quiet=True, report=False)
    b = run_scenario(spec, out=tmp_path / "b", workers=2, quiet=True, report=False)
    sa, sb = (json.loads((r / "summary.json").read_text()) for r in (a, b))
    assert sa["policies"] == sb["policies"]


def test_the_architecture_page_example_runs() -> None:
    """docs/ARCHITECTURE.md shows shortened copies of TopClick and PoolSource: they run."""
    import re

    page = Path(__file__).resolve().parents[2] / "docs" / "ARCHITECTURE.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
    assert len(blocks) == 1
    space: dict[str, Any] = {}
    exec(compile(blocks[0], str(page), "exec"), space)
    env, envs = space["env"], space["envs"]
    assert isinstance(space["TopClick"](), ChoiceModel)
    assert isinstance(space["PoolSource"](), CandidateSource)
    check_env(env.unwrapped)
    envs.reset(seed=0)
    clicked = sum(envs.step(envs.action_space.sample())[4]["response"].clicked.sum(axis=0)
                  for _ in range(10))
    assert clicked[0] > 0 and not clicked[1:].any()


# --------------------------------------------------------------------------- a service
class ClickService:
    """Stands in for an external service (an LLM answering for users): one call takes a
    batch of requests, one per user (the user's id and the shown item ids, top first),
    and a seed, and answers the position each user clicks, or -1."""

    def __init__(self) -> None:
        self.calls: list[int] = []  # batch size of every call

    def answer(self, requests: list[tuple[int, list[int]]], seed: int) -> list[int]:
        self.calls.append(len(requests))
        rng = np.random.default_rng(seed)  # the service samples from the seed it is given
        return [int(rng.integers(-1, len(items))) for _, items in requests]


@dataclass(frozen=True)
class ServiceUsers(UserModel):
    """Users whose clicks come from :class:`ClickService`. The world calls
    ``respond_parts`` once per step for the whole batch, with the users' state (ids) and
    the shown items: one service call per step, seeded from the world's response stream."""

    service: ClickService = field(default_factory=ClickService)

    def respond_parts(self, state, items, rng, scores):
        requests = list(zip(state.user_id.tolist(), items.item_id.tolist(), strict=True))
        answer = np.asarray(self.service.answer(requests, int(rng.integers(2 ** 63))))
        n, k = scores.shape
        clicked = np.arange(k)[None, :] == answer[:, None]
        examined = np.ones((n, k), dtype=bool)
        watch, liked, shared, followed = self.signals.sample(
            items, clicked, scores, state.budget if self.budget is not None else None, rng)
        return clicked, examined, watch, liked, shared, followed


def test_users_answered_by_a_service_one_call_per_step() -> None:
    def run() -> tuple[ClickService, list[np.ndarray]]:
        service = ClickService()
        envs = gym.make_vec("recarena/Slate-v0", num_envs=6,
                            vectorization_mode="vector_entry_point",
                            **open_kwargs(user_model=ServiceUsers(service=service), horizon=8))
        envs.action_space.seed(0)
        envs.reset(seed=2)
        clicks = []
        for _ in range(20):
            *_, info = envs.step(envs.action_space.sample())
            clicks.append(info["response"].clicked.copy())
        return service, clicks

    service, clicks = run()
    assert service.calls == [6] * 20  # the whole batch in one call per step
    per_step = np.asarray([c.sum(axis=1) for c in clicks])
    assert per_step.max() == 1 and 0 < per_step.mean() < 1  # at most one click, some steps none
    assert {int(k) for c in clicks for k in np.nonzero(c)[1]} == {0, 1, 2}
    again = run()[1]
    for a, b in zip(clicks, again, strict=True):  # seeded: the same answers again
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- bad parts
class NoSample:
    def pattern_probabilities(self, scores: np.ndarray) -> np.ndarray:
        return np.ones((scores.shape[0], 1))


class HalfSource:
    num_candidates = 4
    feature_dim = 2
    num_topics = 2

    def feature_bounds(self) -> tuple[float, float]:
        return (0.0, 1.0)


def test_a_part_without_the_protocol_members_is_a_config_error() -> None:
    assert not isinstance(NoSample(), ChoiceModel)
    with pytest.raises(ConfigError, match=r"UserModel\.choice: expected a ChoiceModel "
                                          r"\(recarena\.simulators\.protocols\); it lacks sample"):
        UserModel(choice=NoSample())
    with pytest.raises(ConfigError, match=r"SlateEnvConfig\.candidates: expected a "
                                          r"CandidateSource .*; it lacks max_length, "
                                          r"quality_bounds, sample"):
        gym.make("recarena/Slate-v0", candidates=HalfSource())
