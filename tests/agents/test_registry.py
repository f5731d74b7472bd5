"""The policy registry and the evaluation loop: every registered policy builds from its
name, runs on a vector and a single env, and is deterministic at a fixed seed."""

from __future__ import annotations

import pandas as pd
import pytest

import recarena  # noqa: F401
from recarena.agents import GreedyOracle, Policy, evaluate, list_policies, make_policy
from recarena.agents.base import EnvSpec
from recarena.agents.registry import register_policy
from recarena.errors import ConfigError

#: an env each policy applies to, and the arguments it needs there
USES = {
    "catalog": ("recarena/Cascade-v0", {"horizon": 40}),
    "features": ("recarena/InterestEvolution-v0", {}),
    "oracle": ("recarena/InterestEvolution-v0", {}),
}
SPECIAL = {
    "diag_linucb": ("recarena/ShortVideo-v0", {}, {}),
    "feature_sort": ("recarena/LongTermSatisfaction-v0", {}, {"key": "candidate_clickbait"}),
    "random": ("recarena/InterestEvolution-v0", {}, {}),
    # re-rankers over a scoring base (tests/agents/test_rerank.py has their known answers)
    "fairco": ("recarena/InterestEvolution-v0", {}, {"base": "linucb", "group_key": "candidate_features"}),
    "pmmf": ("recarena/InterestEvolution-v0", {}, {"base": "greedy_oracle", "group_key": "candidate_features"}),
    "mmr": ("recarena/InterestEvolution-v0", {}, {"base": "linucb"}),
    "calibrated": ("recarena/InterestEvolution-v0", {}, {"base": "greedy_oracle"}),
}


def _setup(name: str) -> tuple[str, dict, dict]:
    if name in SPECIAL:
        return SPECIAL[name]
    needs = next(e.needs for e in list_policies() if e.name == name)
    env_id, env_kwargs = USES[needs.split(",")[0]]
    return env_id, env_kwargs, {}


# "checkpoint" loads a trained policy from a folder: tests/scenarios/test_train.py covers it
NAMES = [e.name for e in list_policies() if e.name != "checkpoint"]


def test_registry_lists_the_issue_policies() -> None:
    assert {"random", "popular", "item_knn", "als", "greedy_oracle", "quality_oracle",
            "epsilon_greedy", "ucb1", "thompson", "linucb", "diag_linucb", "lin_ts",
            "cascade_ucb1", "cascade_kl_ucb", "in_slate_ts", "topk_ucb"} <= set(NAMES)
    for entry in list_policies():
        assert entry.summary and entry.paper


@pytest.mark.parametrize("name", NAMES)
def test_every_policy_runs_and_is_deterministic(name: str) -> None:
    env_id, env_kwargs, kwargs = _setup(name)
    policy = make_policy(name, env_id, **kwargs)
    assert isinstance(policy, Policy)
    a = evaluate(policy, env_id, users=12, seed=4, env_kwargs=env_kwargs)
    b = evaluate(make_policy(name, env_id, **kwargs), env_id, users=12, seed=4,
                 env_kwargs=env_kwargs)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 12 and (a["length"] > 0).all()
    single = evaluate(policy, env_id, episodes=2, seed=4, env_kwargs=env_kwargs)
    assert list(single.columns) == list(a.columns)


def test_single_and_vector_evaluation_agree_on_one_user() -> None:
    env_id = "recarena/InterestEvolution-v0"
    single = evaluate(GreedyOracle(2), env_id, episodes=1, seed=9)
    vector = evaluate(GreedyOracle(2), env_id, users=1, seed=9)
    cols = ["user_id", "return", "clicks", "watch_time", "length", "terminated"]
    pd.testing.assert_frame_equal(single[cols], vector[cols], check_dtype=False)


def test_learning_can_be_switched_off() -> None:
    env_id, env_kwargs = "recarena/Cascade-v0", {"horizon": 300}
    frozen = evaluate(make_policy("ucb1", env_id), env_id, users=30, seed=0,
                      env_kwargs=env_kwargs, learn=False)
    learning = evaluate(make_policy("ucb1", env_id), env_id, users=30, seed=0,
                        env_kwargs=env_kwargs)
    assert learning["return"].mean() > frozen["return"].mean() + 10


@pytest.mark.parametrize("call, match", [
    (lambda: make_policy("nope", "recarena/Cascade-v0"), r"policy: expected a registered policy"),
    (lambda: make_policy("ucb1", "recarena/Cascade-v0", alpha=1.0),
     r"argument: expected one of exploration, scope"),
    (lambda: make_policy("popular", "recarena/InterestEvolution-v0"),
     r"fixed catalog.*received 'recarena/InterestEvolution-v0'"),
    (lambda: make_policy("linucb", "recarena/Cascade-v0"),
     r"LinUCB.feature_key: expected an observation entry of this env"),
    (lambda: make_policy("linucb", "recarena/InterestEvolution-v0", alpha=-1.0),
     r"LinUCB.alpha: expected a finite number in \[0.0, inf\), received -1.0"),
    (lambda: make_policy("ucb1", "recarena/Cascade-v0", scope="everyone"),
     r"UCB1.scope: expected one of"),
    (lambda: evaluate(GreedyOracle(2), "recarena/Cascade-v0", episodes=2, users=2),
     r"either episodes .* or users"),
    # reference policies refuse, at build time, envs without the truth they read (issue 17)
    (lambda: make_policy("quality_bonus_oracle", "recarena/LongTermSatisfaction-v0"),
     r"QualityBonusOracle env: expected an env whose info\['oracle'\] has 'scores', 'quality'"),
    (lambda: make_policy("quality_oracle", "recarena/ShortVideo-v0"),
     r"QualityAwareOracle env: .*received 'recarena/ShortVideo-v0'"),
    (lambda: make_policy("quality_oracle", EnvSpec(None, 10, 2, None, {})),
     r"quality_oracle env: expected an env id or env object"),
    (lambda: register_policy("mine", GreedyOracle, "x", "-", check="yes"),
     r"register_policy.check: expected a callable"),
])
def test_registry_and_loop_bad_inputs(call, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        call()


def test_reference_policies_are_checked_where_they_are_built() -> None:
    """Every reference (oracle) policy has an applicability check, and ``make_policy``
    builds it exactly where its class's ``fits`` says it fits (for an env object)."""
    import gymnasium as gym

    refs = [e for e in list_policies() if getattr(e.cls, "is_oracle", False)]
    assert {e.name for e in refs} >= {"greedy_oracle", "quality_bonus_oracle", "quality_oracle"}
    for env_id in recarena.list_envs():
        env = gym.make(env_id)
        for entry in refs:
            assert entry.check is not None, entry.name
            try:
                make_policy(entry.name, env)
                built = True
            except ConfigError:
                built = False
            assert built == entry.cls.fits(env), (entry.name, env_id)
