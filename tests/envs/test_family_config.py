"""A family's arguments beside a whole ``config``: applied when they are configuration
fields, a ConfigError when they only shape what the family's builder makes; never dropped."""

from __future__ import annotations

import gymnasium as gym
import pytest

import recarena  # noqa: F401
from recarena.envs.cascade import cascade_config
from recarena.envs.interest_evolution import interest_evolution_config
from recarena.envs.movielens import movielens_config
from recarena.envs.retention import retention_config
from recarena.errors import ConfigError

APPLIED = [
    ("recarena/InterestEvolution-v0", interest_evolution_config, {"slate_size": 3}),
    ("recarena/Cascade-v0", cascade_config, {"slate_size": 2, "horizon": 7}),
    ("recarena/Retention-v0", retention_config, {"slate_size": 3, "horizon_days": 5.0}),
    ("recarena/MovieLens-v0", movielens_config, {"slate_size": 4}),
]


@pytest.mark.parametrize(("env_id", "build", "args"), APPLIED, ids=[a[0] for a in APPLIED])
def test_field_arguments_apply_to_a_given_config(env_id, build, args) -> None:
    cfg = build()
    for how in ("single", "vector"):
        env = (gym.make(env_id, config=cfg, **args) if how == "single" else
               gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point",
                            config=cfg, **args))
        got = env.unwrapped.config if how == "single" else env.config
        for key, value in args.items():
            assert getattr(got, key) == value, (how, key)
        # everything else is the given config's
        assert got.user_model is cfg.user_model and got.candidates is cfg.candidates


CONFLICTS = [
    ("recarena/InterestEvolution-v0", interest_evolution_config, {"num_candidates": 20}),
    ("recarena/Cascade-v0", cascade_config, {"shuffle": False, "num_items": 8}),
    ("recarena/Retention-v0", retention_config, {"clickbait": 0.9}),
    ("recarena/MovieLens-v0", movielens_config, {"new_user_share": 0.5}),
]


@pytest.mark.parametrize(("env_id", "build", "args"), CONFLICTS, ids=[a[0] for a in CONFLICTS])
def test_builder_arguments_with_a_config_are_an_error(env_id, build, args) -> None:
    with pytest.raises(ConfigError, match="either config= or the arguments that build one") as e:
        gym.make(env_id, config=build(), **args)
    for key in args:
        assert key in str(e.value)


def test_arguments_without_config_still_build_it() -> None:
    env = gym.make("recarena/Cascade-v0", num_items=8, slate_size=2, shuffle=False)
    assert env.unwrapped.num_candidates == 8 and env.unwrapped.slate_size == 2
    default = gym.make("recarena/InterestEvolution-v0").unwrapped
    assert (default.num_candidates, default.slate_size) == (10, 2)
