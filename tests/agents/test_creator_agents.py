"""The creators' PettingZoo env (recarena.agents.creator_agents): PettingZoo's own checkers
(parallel API, parallel seeding, AEC API), determinism over many rounds, bad inputs that
leave the env usable, equality with the platform view (CreatorEcosystem-v0) when the
creators follow their own models, and the creator-exodus scenario at a tiny size."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("pettingzoo")

from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test  # noqa: E402

from recarena.agents import creator_agents, make_policy  # noqa: E402
from recarena.agents.base import public_info  # noqa: E402
from recarena.errors import ConfigError, ResetNeeded  # noqa: E402

#: a small world where creators leave and enter within a few rounds
SMALL = {"users": 6, "num_creators": 8, "initial_creators": 6, "round_length": 2,
         "window": 1, "viability_threshold": 2.0, "entry_rate": 1.5, "item_lifetime": 3,
         "num_candidates": 10, "num_topics": 5, "recommender": "popular", "max_rounds": 12}


def small(**kw):
    return creator_agents.parallel_env(**(SMALL | kw))


def _rollout(env, seed: int, rounds: int, action_seed: int = 3):
    """Observations, rewards, ends and infos of ``rounds`` steps with seeded actions."""
    out = [env.reset(seed=seed)]
    rng = np.random.default_rng(action_seed)
    for _ in range(rounds):
        if not env.agents:
            break
        acts = {a: np.array([rng.integers(env.num_topics), rng.integers(len(env.effort_levels))])
                for a in env.agents}
        out.append(env.step(acts))
    return out


# PettingZoo's advice, not failures: Dict observations are by design, and possible_agents
# is a bound on the ids, so most possible agents never appear
@pytest.mark.filterwarnings("ignore:Observation is not a NumPy array")
@pytest.mark.filterwarnings("ignore:.*probably should be gymnasium.spaces")
@pytest.mark.filterwarnings("ignore:No agents present but not all possible_agents")
def test_pettingzoo_parallel_api_seed_and_aec_api() -> None:
    parallel_api_test(small(), num_cycles=14)
    parallel_seed_test(lambda: small(max_rounds=6), num_cycles=6)
    api_test(creator_agents.env(**(SMALL | {"max_rounds": 5})), num_cycles=6)


def test_creators_leave_and_enter_as_agents() -> None:
    """Leavers are terminated in the step they leave and never come back; entrants appear
    with a zero reward and a history that starts empty; names are the creator ids."""
    env = small()
    env.reset(seed=1)
    gone, seen = set(), set(env.agents)
    left = entered = 0
    while env.agents:
        before = set(env.agents)
        obs, rew, term, trunc, info = env.step({a: env.action_space(a).sample() for a in env.agents})
        report = env.round_report["creators"]
        assert set(obs) == before | (set(env.agents) - before) or not env.agents
        for a in obs:
            assert int(a.split("_")[1]) == info[a]["creator_id"]
            assert env.observation_space(a).contains(obs[a]), a
        for a in set(obs) - before:  # entrants
            entered += 1
            assert rew[a] == 0.0 and not term[a]
            assert obs[a]["exposure"].sum() == 0 and obs[a]["age"][0] == 0
            assert info[a]["entered_round"] == report["entered_round"].max()
        left += sum(term.values())
        gone |= {a for a in term if term[a]}
        assert not gone & set(env.agents)
        seen |= set(env.agents)
    assert left >= 3 and entered >= 3, (left, entered)
    assert seen <= set(env.possible_agents)
    with pytest.raises(ResetNeeded, match="every creator is done"):
        env.step({})


def test_same_seed_same_twenty_rounds_other_seed_differs() -> None:
    a = _rollout(small(max_rounds=20), seed=7, rounds=20)
    b = _rollout(small(max_rounds=20), seed=7, rounds=20)
    c = _rollout(small(max_rounds=20), seed=8, rounds=20)
    assert len(a) == len(b) == 21
    for x, y in zip(a, b, strict=True):
        assert gym.utils.env_checker.data_equivalence(x, y)
    assert not gym.utils.env_checker.data_equivalence(a[5], c[5])
    # a reset without a seed continues the env's own stream: a new world, reproducibly
    e1, e2 = small(max_rounds=3), small(max_rounds=3)
    for e in (e1, e2):
        e.reset(seed=4)
    o1, o2 = e1.reset(), e2.reset()
    assert gym.utils.env_checker.data_equivalence(o1, o2)


def _platform_rounds(kw: dict, seed: int, rounds: int, policy: str):
    """The creator rounds of CreatorEcosystem-v0's vector env under ``policy``, driven the
    way the scenario runner drives it."""
    world = {k: v for k, v in kw.items() if k not in ("users", "recommender", "max_rounds", "reward")}
    env = gym.make_vec("recarena/CreatorEcosystem-v0", num_envs=kw["users"],
                       vectorization_mode="vector_entry_point", **world)
    pol = make_policy(policy, env)
    pol.reset()
    obs, info = env.reset(seed=seed)
    out = []
    while len(out) < rounds:
        seen = info if pol.is_oracle else public_info(info)
        slates = pol.recommend(obs, seen)
        nobs, rew, _t, _tr, ninfo = env.step(slates)
        pol.update(obs, slates, ninfo["response"], rew, seen)
        obs, info = nobs, ninfo
        if "creator_round" in info:
            out.append(info["creator_round"])
    return out


@pytest.mark.parametrize("reward", ["clicks", "watch_time"])
def test_own_models_equal_the_platform_view(reward: str) -> None:
    """step({}) lets every creator follow its own model: the rounds are CreatorEcosystem-v0's
    rounds number for number, and each agent's observation row and reward are its row of
    the creators table (its per-topic counts add up to the table's totals)."""
    kw = SMALL | {"max_rounds": 8, "reward": reward}
    env = creator_agents.parallel_env(**kw)
    env.reset(seed=5)
    platform = _platform_rounds(kw, seed=5, rounds=8, policy="popular")
    changes = 0
    for r in range(8):
        before = set(env.agents)
        obs, rew, term, _trunc, _info = env.step({})
        mine, theirs = env.round_report, platform[r]
        assert mine["round"] == theirs["round"] == r
        for key in theirs["creators"]:
            np.testing.assert_array_equal(mine["creators"][key], theirs["creators"][key])
        cre = theirs["creators"]
        for j, cid in enumerate(cre["creator_id"]):
            a = f"creator_{cid}"
            if a not in before:
                continue
            assert obs[a]["exposure"][0].sum() == cre["exposure"][j]
            assert obs[a]["clicks"][0].sum() == cre["clicks"][j]
            assert obs[a]["watch_time"][0].sum() == pytest.approx(cre["watch_time"][j], rel=1e-5)
            assert rew[a] == pytest.approx(float(cre[reward][j]))
            assert term[a] == bool(cre["left"][j])
            assert obs[a]["made"][0].sum() == cre["items"][j]
        changes += int(cre["left"].sum())
    assert changes > 0  # the comparison covered exits too


def test_controlled_round_matches_until_production_and_makes_what_was_chosen() -> None:
    """A controlled first round is the platform's first round (production comes after
    it); the items made then are on the chosen topic at the chosen effort."""
    kw = SMALL | {"entry_rate": 0.0, "window": 50}
    env = creator_agents.parallel_env(**kw)
    env.reset(seed=2)
    platform = _platform_rounds(kw, seed=2, rounds=1, policy="popular")[0]
    acts = {a: np.array([i % env.num_topics, i % 4]) for i, a in enumerate(env.agents)}
    obs, rew, *_ = env.step(acts)
    for key in ("creator_id", "exposure", "clicks", "watch_time", "left"):
        np.testing.assert_array_equal(env.round_report["creators"][key], platform["creators"][key])
    pop = env.platform.world.population
    for a, (topic, level) in acts.items():
        made = obs[a]["made"][0]
        slot = int(np.flatnonzero(pop.creator_id == int(a.split("_")[1]))[0])
        assert made.sum() == made[topic] == pop.budget[slot]
        assert obs[a]["effort"][0] == np.float32(env.effort_levels[level]) == np.float32(pop.effort[slot])


def _good_slates(obs, info=None):
    n = obs["candidate_features"].shape[0]
    return np.tile(np.arange(5), (n, 1))


class _Fixed:
    """A policy object: always the first five candidates; from call ``bad_from`` on a
    repeated candidate."""

    name, is_oracle = "fixed", False

    def __init__(self, bad_from: int | None = None) -> None:
        self.calls, self.bad_from = 0, bad_from

    def reset(self) -> None:
        self.calls = 0

    def recommend(self, obs, info=None):
        self.calls += 1
        s = _good_slates(obs)
        if self.bad_from is not None and self.calls >= self.bad_from:
            s[:, 1] = s[:, 0]
        return s


BAD_ACTIONS = [
    ("unknown agent", lambda e: {"somebody": np.array([0, 0])}, "agent"),
    ("not entered yet", lambda e: {e.possible_agents[-1]: np.array([0, 0])}, "has not entered"),
    ("not a dict", lambda e: [np.array([0, 0])], "a dict from live agents"),
    ("missing agent", lambda e: {e.agents[0]: np.array([0, 0])}, "every live creator"),
    ("topic out of range", lambda e: {a: np.array([5, 0]) for a in e.agents}, "MultiDiscrete"),
    ("effort level out of range", lambda e: {a: np.array([0, 4]) for a in e.agents}, "effort level"),
    ("float action", lambda e: {a: np.array([0.0, 1.0]) for a in e.agents}, "MultiDiscrete"),
    ("wrong shape", lambda e: {a: np.array([0]) for a in e.agents}, "MultiDiscrete"),
    ("None", lambda e: {a: None for a in e.agents}, "MultiDiscrete"),
]


def test_bad_actions_name_the_agent_and_leave_the_env_as_it_was() -> None:
    env, twin = small(recommender=_Fixed()), small(recommender=_Fixed())
    env.reset(seed=3)
    twin.reset(seed=3)
    initial = list(env.agents)
    good = {a: np.array([1, 2]) for a in env.agents}
    for label, make, match in BAD_ACTIONS:
        with pytest.raises(ConfigError, match=match) as err:
            env.step(make(env))
        assert label and err.value.field.startswith(("actions", "agent"))
    # a creator that has left
    env.step(good)
    twin.step(good)
    while all(a in env.agents for a in initial):
        acts = {a: np.array([1, 2]) for a in env.agents}
        env.step(acts)
        twin.step(acts)
    gone = next(a for a in initial if a not in env.agents)
    with pytest.raises(ConfigError, match=f"{gone} has left"):
        env.step({gone: np.array([0, 0])} | {a: np.array([0, 0]) for a in env.agents})
    acts = {a: np.array([0, 1]) for a in env.agents}
    assert gym.utils.env_checker.data_equivalence(env.step(acts), twin.step(acts))


def test_a_recommender_that_does_not_fit() -> None:
    with pytest.raises(ConfigError, match="registered policy") as err:
        small(recommender="no_such_policy")
    assert "recommender" in err.value.field
    with pytest.raises(ConfigError, match="argument"):
        small(recommender="popular", recommender_args={"nope": 1})
    with pytest.raises(ConfigError, match="recommend"):
        small(recommender=object())
    slate7 = _Fixed()
    slate7.slate_size = 7
    with pytest.raises(ConfigError, match="slate_size"):
        small(recommender=slate7)
    with pytest.raises(ConfigError, match="recommender_args"):
        small(recommender=_Fixed(), recommender_args={"x": 1})
    # bad slates in the middle of a round: typed error, the world back at the round start
    env, twin = small(recommender=_Fixed(bad_from=2)), small(recommender=_Fixed())
    env.reset(seed=9)
    twin.reset(seed=9)
    with pytest.raises(ConfigError, match="distinct candidate indices") as err:
        env.step({})
    assert "recommender" in err.value.field
    env.recommender.bad_from = None
    assert gym.utils.env_checker.data_equivalence(env.step({}), twin.step({}))


@pytest.mark.parametrize(("kw", "field"), [
    ({"reward": "likes"}, "reward"), ({"users": 0}, "users"), ({"max_rounds": 0}, "max_rounds"),
    ({"history": 0}, "history"), ({"effort_levels": []}, "effort_levels"),
    ({"effort_levels": [0.5, 1.5]}, "effort_levels[1]"), ({"render_mode": "human"}, "render_mode"),
    ({"no_such_field": 1}, "CreatorEcosystem"),
])
def test_bad_arguments(kw: dict, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        small(**kw)
    assert field in err.value.field or field in str(err.value)


def test_reset_needed_and_unknown_spaces() -> None:
    env = small(render_mode="ansi")
    with pytest.raises(ResetNeeded):
        env.step({})
    with pytest.raises(ConfigError, match="possible_agents"):
        env.action_space("creator_x")
    env.reset(seed=0)
    env.step({})
    assert env.render().startswith("round 1/12")


def test_creator_exodus_scenario_smoke(tmp_path) -> None:
    """The built-in creator-exodus scenario at a tiny size: every policy runs (the fair
    re-rankers group by creator through info['candidate_creator_ids']), the creator tables
    are logged, summary.json has the creator metrics, and a creator plot is drawn."""
    import json

    from recarena.eventlog import read_table
    from recarena.scenarios.runner import run_scenario
    from recarena.scenarios.spec import load_scenario

    spec = load_scenario("creator-exodus", ["run.users=4", "run.steps=8", "run.seeds=1",
                                            "env.config.round_length=2",
                                            'report.plots=["creator_survival"]'])
    assert [p.name for p in spec.policies] == ["popular", "relevance", "fairco", "pmmf", "mmr",
                                                "calibrated"]
    assert {p.args.get("base") for p in spec.policies[2:]} == {"greedy_oracle"}
    run = run_scenario(spec, out=tmp_path / "r", quiet=True)
    summary = json.loads((run / "summary.json").read_text())
    for name in ("popular", "relevance", "fairco", "pmmf", "mmr", "calibrated"):
        metrics = summary["policies"][name]
        for key in ("creator_survival_end", "creator_exposure_gini", "catalog_entropy_end",
                    "user_clicks_per_step"):
            assert key in metrics, (name, key)
        creators = read_table(run / "units" / f"seed0-{name}", "creators")
        assert sorted(creators["round"].unique()) == [0, 1, 2, 3]
    assert (run / "plots" / "creator_survival.png").stat().st_size > 10_000
