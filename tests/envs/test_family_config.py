"""A family's arguments beside a whole ``config``: applied when they are configuration
fields, a ConfigError when they only shape what the family's builder makes; never dropped."""

from __future__ import annotations

import json
import math
import pickle

import gymnasium as gym
import numpy as np
import pytest

import recarena  # noqa: F401
from recarena.envs.cascade import cascade_config
from recarena.envs.interest_evolution import interest_evolution_config
from recarena.envs.movielens import movielens_config
from recarena.envs.retention import retention_config
from recarena.envs.slate import SlateEnv
from recarena.envs.vector import vector_env_class
from recarena.errors import ConfigError
from recarena.simulators.users import UserModel

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


# --------------------------------------------------------------------------- review fixes
def test_none_for_a_config_field_applies_through_a_builder_argument() -> None:
    """``horizon`` is both a builder argument (MovieLens) and a config field: an
    explicit ``None`` means "no step horizon", as for families whose builder lacks it."""
    for env_id in ("recarena/MovieLens-v0", "recarena/InterestEvolution-v0"):
        env = gym.make(env_id, horizon=None)
        assert env.unwrapped.config.horizon is None, env_id


def test_negative_reward_weights_never_give_negative_zero() -> None:
    env = gym.make("recarena/Slate-v0", reward_weights={"click": -1.0}).unwrapped
    env.reset(seed=0)
    for _ in range(30):
        _, reward, term, trunc, info = env.step(env.action_space.sample())
        if not info["response"].clicked.any():
            assert math.copysign(1.0, reward) == 1.0  # +0.0, not -0.0
        if term or trunc:
            env.reset()


def test_single_env_info_numbers_are_python_numbers() -> None:
    env = gym.make("recarena/Retention-v0").unwrapped
    assert env.steps == 0  # before the first reset
    _, info = env.reset(seed=0)
    assert type(info["user_id"]) is int
    for _ in range(200):
        _, _, term, trunc, info = env.step(env.action_space.sample())
        assert type(info["session_ended"]) is bool and type(info["day"]) is float
        if info["session_ended"]:
            assert type(info["return_gap"]) is float
        else:
            assert "return_gap" not in info and "_return_gap" not in info
        if term or trunc:
            break
    assert env.steps >= 1 and json.dumps({"user_id": info["user_id"]})


def test_a_signal_model_without_optional_signals_plugs_in() -> None:
    class WatchOnly:  # a SignalModel without like / share / follow attributes
        def sample(self, items, clicked, scores, budget, rng):
            none = np.zeros(clicked.shape, dtype=bool)
            return items.length * clicked, none, none, none

    env = gym.make("recarena/Slate-v0", user_model=UserModel(signals=WatchOnly()),
                   observe=("candidates", "response"))
    obs, _ = env.reset(seed=0)
    assert "response_liked" not in obs
    _, reward, *_ = env.step(env.action_space.sample())
    assert reward >= 0.0


class _MyEnv(SlateEnv):
    builder = staticmethod(interest_evolution_config)


MyVectorEnv = vector_env_class(_MyEnv, "MyVectorEnv", __name__)


def test_a_vector_env_class_built_for_a_new_family_pickles() -> None:
    envs = MyVectorEnv(num_envs=3)
    envs.reset(seed=0)
    twin = pickle.loads(pickle.dumps(envs))
    a = envs.step(np.tile([0, 1], (3, 1)))
    b = twin.step(np.tile([0, 1], (3, 1)))
    np.testing.assert_array_equal(a[1], b[1])
