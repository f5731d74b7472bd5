"""Faults met when training RL agents (issue 17): SB3's ``make_vec_env`` and render modes,
``NEXT_STEP`` autoreset for Gymnasium's vector wrappers, and Cascade-v0's history option
and checker horizon."""

from __future__ import annotations

import dataclasses
import multiprocessing
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from recarena.envs.cascade import CascadeConfig, CascadeEnv, cascade_config
from recarena.envs.checker import check_vector_env
from recarena.envs.slate import SlateEnvConfig
from recarena.envs.spaces import BatchSlateSpace
from recarena.errors import ConfigError, RenderModeError
from recarena.simulators.catalog import CorpusCandidates
from recarena.simulators.users import TimeBudget

HISTORY = ("candidate_impressions", "candidate_clicks", "candidate_click_rate",
           "candidate_uncertainty", "episode_progress")


def make_vec(env_id: str, n: int, **kwargs):
    return gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", **kwargs)


def _flat(obs: dict) -> list[np.ndarray]:
    return [obs[k] for k in sorted(obs)]


# --------------------------------------------------------------------------- render modes
@pytest.mark.parametrize("vec_env", ["dummy", "subproc"])
def test_sb3_make_vec_env(vec_env: str) -> None:
    """SB3 asks for render_mode="rgb_array" and falls back on a TypeError only."""
    env_util = pytest.importorskip("stable_baselines3.common.env_util")
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    kwargs: dict = {}
    if vec_env == "subproc":
        if "fork" not in multiprocessing.get_all_start_methods():
            pytest.skip("fork start method needed for a fast SubprocVecEnv test")
        kwargs = {"vec_env_cls": SubprocVecEnv, "vec_env_kwargs": {"start_method": "fork"}}
    with warnings.catch_warnings():  # Gymnasium warns that rgb_array is not a render mode
        warnings.filterwarnings("ignore", message=".*render_mode='rgb_array'.*")
        envs = env_util.make_vec_env("recarena/InterestEvolution-v0", n_envs=2, seed=0, **kwargs)
    try:
        assert isinstance(envs, SubprocVecEnv if vec_env == "subproc" else DummyVecEnv)
        obs = envs.reset()
        assert obs["candidate_features"].shape == (2, 10, 20)
        _, rewards, dones, infos = envs.step(np.array([[0, 1], [2, 3]]))
        assert rewards.shape == (2,) and dones.shape == (2,) and len(infos) == 2
        if vec_env == "dummy":
            assert envs.envs[0].unwrapped.render_mode is None
    finally:
        envs.close()


@pytest.mark.parametrize("make", [
    lambda: gym.make("recarena/InterestEvolution-v0", render_mode="rgb_array"),
    lambda: CascadeEnv(render_mode="human"),
    lambda: make_vec("recarena/Slate-v0", 2, render_mode="rgb_array"),
], ids=["gym.make", "constructor", "make_vec"])
def test_a_bad_render_mode_is_a_config_error_and_a_type_error(make) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not in the possible render_modes.*")
        with pytest.raises(RenderModeError, match=r"render_mode: expected None or 'ansi', "
                                                  r"received '(rgb_array|human)'") as e:
            make()
    assert isinstance(e.value, ConfigError) and isinstance(e.value, TypeError)
    assert isinstance(e.value, ValueError)
    assert e.value.field == "render_mode"


def test_ansi_still_renders() -> None:
    env = gym.make("recarena/Cascade-v0", render_mode="ansi")
    env.reset(seed=0)
    env.step(env.action_space.sample())
    assert "step 1" in env.render()


# --------------------------------------------------------------------------- autoreset mode
@pytest.mark.parametrize("value", [AutoresetMode.NEXT_STEP, "NextStep", "next_step",
                                   "NEXT_STEP"])
def test_autoreset_mode_values(value) -> None:
    envs = make_vec("recarena/InterestEvolution-v0", 2, autoreset_mode=value)
    assert envs.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    assert envs.autoreset_mode is AutoresetMode.NEXT_STEP
    # the class (and every other instance) keeps the default
    assert type(envs).metadata["autoreset_mode"] is AutoresetMode.SAME_STEP
    assert make_vec("recarena/InterestEvolution-v0", 2).metadata["autoreset_mode"] is (
        AutoresetMode.SAME_STEP)
    assert make_vec("recarena/InterestEvolution-v0", 2, autoreset_mode="same_step").metadata[
        "autoreset_mode"] is AutoresetMode.SAME_STEP


@pytest.mark.parametrize("value", [AutoresetMode.DISABLED, "Disabled", "sometimes", 1])
def test_unsupported_autoreset_modes(value) -> None:
    with pytest.raises(ConfigError, match="autoreset_mode: expected AutoresetMode.SAME_STEP "
                                          "or AutoresetMode.NEXT_STEP"):
        make_vec("recarena/InterestEvolution-v0", 2, autoreset_mode=value)


@pytest.mark.parametrize("env_id,kwargs", [
    ("recarena/InterestEvolution-v0", {}),
    ("recarena/Slate-v0", {}),
    ("recarena/Cascade-v0", {"horizon": 30}),
    ("recarena/Cascade-v0", {"horizon": 30, "observe_history": True}),
    ("recarena/LongTermSatisfaction-v0", {"time_budget": 25}),
    ("recarena/InterestExploration-v0", {"horizon": 40}),
    ("recarena/ShortVideo-v0", {"slate_size": 2}),
    ("recarena/Retention-v0", {"horizon_days": 5.0}),
])
def test_next_step_one_user_vector_env_equals_single_env(env_id: str, kwargs: dict) -> None:
    """Step for step over several episodes: the ending step gives the last observation,
    the next one (its action ignored) the new user's first, as the single env's reset."""
    single = gym.make(env_id, **kwargs).unwrapped
    vec = make_vec(env_id, 1, autoreset_mode="next_step", **kwargs)
    actions = BatchSlateSpace(1, vec.single_action_space.num_candidates,
                              vec.single_action_space.slate_size, seed=5)
    obs_s, info_s = single.reset(seed=11)
    obs_v, info_v = vec.reset(seed=11)
    episodes = 0
    for _ in range(400):
        for a, b in zip(_flat(obs_s), _flat(obs_v), strict=True):
            np.testing.assert_array_equal(a, b[0])
        np.testing.assert_array_equal(info_s["oracle"]["scores"], info_v["oracle"]["scores"][0])
        assert info_s["user_id"] == info_v["user_id"][0]
        act = actions.sample()
        obs_s, r_s, term_s, trunc_s, info_s = single.step(act[0])
        obs_v, r_v, term_v, trunc_v, info_v = vec.step(act)
        assert (r_s, term_s, trunc_s) == (r_v[0], term_v[0], trunc_v[0])
        assert "final_obs" not in info_v
        np.testing.assert_array_equal(info_s["response"].clicked, info_v["response"].clicked[0])
        if term_s or trunc_s:
            episodes += 1
            for a, b in zip(_flat(obs_s), _flat(obs_v), strict=True):  # the last obs
                np.testing.assert_array_equal(a, b[0])
            obs_s, info_s = single.reset()
            # the reset step: any action, even an invalid one, is ignored
            obs_v, r_v, term_v, trunc_v, info_v = vec.step(np.zeros((1, vec.slate_size), int))
            assert (r_v[0], term_v[0], trunc_v[0]) == (0.0, False, False)
            assert "response" not in info_v  # nothing was stepped
    assert episodes >= 3


def test_next_step_rows_reset_among_running_rows() -> None:
    """Rows that end at different steps: the reset row gets a new user, reward 0 and a
    masked (zeroed) step entry; the other rows step as usual."""
    n = 16
    vec = make_vec("recarena/InterestEvolution-v0", n, autoreset_mode="next_step")
    vec.action_space.seed(0)
    vec.reset(seed=0)
    pending = None
    checked = 0
    for _ in range(300):
        before = vec.world.state.user_id.copy()
        act = vec.action_space.sample()
        if pending is not None:
            act[pending] = 0  # repeated candidates: ignored in rows being reset
        obs, rew, term, trunc, info = vec.step(act)
        done = term | trunc
        if pending is not None and not pending.all():
            checked += 1
            rows = np.flatnonzero(pending)
            assert np.all(rew[rows] == 0) and not done[rows].any()
            assert not set(info["user_id"][rows].tolist()) & set(before.tolist())
            np.testing.assert_array_equal(info["user_id"][~pending], before[~pending])
            for key in ("response", "examined", "slate_item_ids", "slate_topics"):
                np.testing.assert_array_equal(info["_" + key], ~pending)
            assert not info["response"].clicked[rows].any()
            assert not info["slate_item_ids"][rows].any()
            assert not obs["response_click"][rows].any()
            np.testing.assert_array_equal(obs["interests"][rows],
                                          vec.world.state.interests[rows].astype(np.float32))
        elif pending is None:
            assert not any(key.startswith("_") for key in info)
        pending = done if done.any() else None
    assert checked >= 3


def test_next_step_snapshot_keeps_the_pending_resets() -> None:
    vec = make_vec("recarena/Cascade-v0", 3, autoreset_mode="next_step", horizon=5)
    vec.action_space.seed(1)
    vec.reset(seed=1)
    for _ in range(5):
        *_, trunc, _ = vec.step(vec.action_space.sample())
    assert trunc.all()
    snap = vec.snapshot()
    acts = [vec.action_space.sample() for _ in range(8)]
    first = [vec.step(a)[:4] for a in acts]
    vec.restore(snap)
    second = [vec.step(a)[:4] for a in acts]
    assert np.all(first[0][1] == 0) and not first[0][3].any()
    for (o1, *rest1), (o2, *rest2) in zip(first, second, strict=True):
        for a, b in zip(_flat(o1) + rest1, _flat(o2) + rest2, strict=True):
            np.testing.assert_array_equal(a, b)


def test_gymnasium_vector_wrappers_accept_next_step() -> None:
    from gymnasium.wrappers.vector import (
        FlattenObservation,
        NormalizeObservation,
        NormalizeReward,
        RecordEpisodeStatistics,
    )

    base = make_vec("recarena/InterestEvolution-v0", 4, autoreset_mode="next_step")
    envs = RecordEpisodeStatistics(NormalizeReward(NormalizeObservation(FlattenObservation(base))))
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (4, gym.spaces.flatdim(base.single_observation_space))
    envs.action_space.seed(0)
    episodes = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(300):
            obs, rew, term, trunc, info = envs.step(envs.action_space.sample())
            assert np.all(np.isfinite(obs)) and obs.dtype == np.float32
            if "episode" in info:
                episodes += int(info["_episode"].sum())
    assert episodes >= 4 and len(envs.length_queue) == episodes
    assert min(envs.length_queue) >= 1


def test_record_episode_statistics_agrees_with_final_info() -> None:
    """Gymnasium's statistics under NEXT_STEP equal recarena's own under SAME_STEP for
    the same users (one-user envs: both reproduce the single env)."""
    from gymnasium.wrappers.vector import RecordEpisodeStatistics

    def lengths(mode: str) -> list[int]:
        envs = RecordEpisodeStatistics(make_vec("recarena/InterestEvolution-v0", 1,
                                                autoreset_mode=mode))
        envs.reset(seed=3)
        actions = BatchSlateSpace(1, 10, 2, seed=3)
        own = []
        while len(envs.length_queue) < 3:
            a = actions.sample()
            *_, info = envs.step(a)
            if "final_info" in info:
                own.append(int(info["final_info"]["episode_length"][0]))
            if mode == "next_step" and "episode" in info:
                envs.step(a)  # the reset step (its action is ignored)
        if mode == "same_step":
            assert own == list(envs.length_queue)
        return list(envs.length_queue)

    assert lengths("next_step") == lengths("same_step")


def test_observation_wrappers_need_next_step() -> None:
    """Why the option exists: Gymnasium's vector observation wrappers refuse SAME_STEP."""
    from gymnasium.wrappers.vector import (
        FlattenObservation,
        NormalizeObservation,
        RecordEpisodeStatistics,
    )

    same = make_vec("recarena/InterestEvolution-v0", 2)
    for wrapper in (FlattenObservation, NormalizeObservation):
        with pytest.raises(ValueError, match="NEXT_STEP"):
            wrapper(same)
    stats = RecordEpisodeStatistics(same)  # this one handles both modes
    stats.reset(seed=0)
    stats.step(stats.action_space.sample())


@pytest.mark.parametrize("mode", ["same_step", "next_step"])
def test_vector_checker_in_both_modes(env_id: str, mode: str) -> None:
    counts = check_vector_env(make_vec(env_id, 8, max_episode_steps=25, autoreset_mode=mode),
                              steps=120)
    assert counts["episodes_ended"] >= 8


def test_checker_reports_a_next_step_env_that_does_not_reset() -> None:
    envs = make_vec("recarena/Cascade-v0", 2, horizon=3, autoreset_mode="next_step")
    step = envs.step

    def broken(actions):  # pretends to be NEXT_STEP but keeps paying after the end
        obs, rew, term, trunc, info = step(actions)
        return obs, rew + 1.0, term, trunc, info

    envs.step = broken
    with pytest.raises(AssertionError, match=r"reset in this step \(NEXT_STEP\) but have rewards"):
        check_vector_env(envs, steps=10)


def test_checker_gives_up_after_max_steps() -> None:
    envs = make_vec("recarena/Cascade-v0", 2)
    with pytest.raises(AssertionError, match="no episode ended within 300 steps"):
        check_vector_env(envs, steps=50, max_steps=300)
    assert check_vector_env(envs, steps=50, require_autoreset=False)["steps"] == 50


# --------------------------------------------------------------------------- Cascade history
@pytest.mark.parametrize("mode", ["same_step", "next_step"])
@pytest.mark.parametrize("observe_history", [False, True])
def test_checker_passes_on_cascade_at_its_default_horizon(mode: str, observe_history: bool) -> None:
    envs = make_vec("recarena/Cascade-v0", 4, autoreset_mode=mode,
                    observe_history=observe_history)
    assert envs.config.horizon == 1000
    counts = check_vector_env(envs)
    assert counts["episodes_ended"] == 4 and counts["steps"] >= 1000


def _counts_from_responses(actions, infos, num_candidates: int) -> tuple[np.ndarray, np.ndarray]:
    seen, clicks = np.zeros(num_candidates), np.zeros(num_candidates)
    for a, info in zip(actions, infos, strict=True):
        seen[a] += info["response"].examined
        clicks[a] += info["response"].clicked
    return seen, clicks


def test_cascade_history_equals_counts_from_the_responses() -> None:
    env = gym.make("recarena/Cascade-v0", observe_history=True, horizon=200)
    env.action_space.seed(0)
    obs, _ = env.reset(seed=0)
    for key in HISTORY:
        assert key in obs
    assert not obs["candidate_impressions"].any() and np.all(obs["candidate_uncertainty"] == 1)
    for _episode in range(2):
        actions, infos = [], []
        done = False
        while not done:
            a = env.action_space.sample()
            obs, _, term, trunc, info = env.step(a)
            actions.append(a)
            infos.append(info)
            done = term or trunc
            seen, clicks = _counts_from_responses(actions, infos, 16)
            np.testing.assert_array_equal(obs["candidate_impressions"], seen)
            np.testing.assert_array_equal(obs["candidate_clicks"], clicks)
            rate = np.divide(clicks, seen, out=np.zeros(16), where=seen > 0)
            np.testing.assert_allclose(obs["candidate_click_rate"], rate, rtol=1e-6)
            np.testing.assert_allclose(obs["candidate_uncertainty"], 1 / np.sqrt(1 + seen),
                                       rtol=1e-6)
            assert obs["episode_progress"][0] == np.float32(len(actions) / 200)
            assert env.observation_space.contains(obs)
        assert len(actions) == 200 and obs["episode_progress"][0] == 1.0
        assert seen.sum() >= 200  # at least the top item is examined every step
        obs, _ = env.reset()  # a new user starts from zeros
        assert not obs["candidate_impressions"].any() and not obs["candidate_clicks"].any()
        assert obs["episode_progress"][0] == 0


def test_cascade_history_does_not_change_the_users_or_their_responses() -> None:
    plain = gym.make("recarena/Cascade-v0", horizon=50)
    hist = gym.make("recarena/Cascade-v0", horizon=50, observe_history=True)
    plain.action_space.seed(2)
    o1, _ = plain.reset(seed=2)
    o2, _ = hist.reset(seed=2)
    assert set(o2) == set(o1) | set(HISTORY)
    for _ in range(50):
        a = plain.action_space.sample()
        o1, r1, *_ = plain.step(a)
        o2, r2, *_ = hist.step(a)
        assert r1 == r2
        for key in o1:
            np.testing.assert_array_equal(o1[key], o2[key])


def _mixed_end_cascade(n: int, mode: str):
    """Cascade users with a time budget, so that rows end at different steps."""
    um = cascade_config().user_model
    budget = TimeBudget(initial=15.0, step_penalty=2.0, refund_rate=0.0, initial_log_std=0.5)
    return make_vec("recarena/Cascade-v0", n, autoreset_mode=mode, observe_history=True,
                    user_model=dataclasses.replace(um, budget=budget))


@pytest.mark.parametrize("mode", ["same_step", "next_step"])
def test_cascade_history_in_the_vector_env_with_autoreset(mode: str) -> None:
    """Each row's statistics are its current user's: counted from the responses since the
    row's user arrived; a replaced row starts at zeros (while other rows go on)."""
    n = 8
    envs = _mixed_end_cascade(n, mode)
    envs.action_space.seed(4)
    obs, _ = envs.reset(seed=4)
    seen, clicks = np.zeros((n, 16)), np.zeros((n, 16))
    pending = np.zeros(n, dtype=bool)
    mixed = 0
    rows = np.arange(n)[:, None]
    for _ in range(200):
        a = envs.action_space.sample()
        obs, _, term, trunc, info = envs.step(a)
        done = term | trunc
        if "response" in info:  # (zeros in the rows reset in this step under NEXT_STEP)
            seen[rows, a] += info["response"].examined
            clicks[rows, a] += info["response"].clicked
        seen[pending], clicks[pending] = 0, 0  # NEXT_STEP: reset in this step
        if mode == "same_step" and done.any():
            for i in np.flatnonzero(done):
                np.testing.assert_array_equal(info["final_obs"][i]["candidate_impressions"],
                                              seen[i])
            seen[done], clicks[done] = 0, 0
            mixed += int(0 < done.sum() < n)
        elif mode == "next_step":
            mixed += int(0 < pending.sum() < n)
            pending = done
        np.testing.assert_array_equal(obs["candidate_impressions"], seen)
        np.testing.assert_array_equal(obs["candidate_clicks"], clicks)
        assert envs.observation_space.contains(obs)
    assert mixed >= 3


def test_cascade_history_snapshot_restore() -> None:
    envs = _mixed_end_cascade(6, "same_step")
    envs.action_space.seed(5)
    envs.reset(seed=5)
    for _ in range(4):
        envs.step(envs.action_space.sample())
    snap = envs.snapshot()
    acts = [envs.action_space.sample() for _ in range(30)]
    first = [envs.step(a)[0] for a in acts]
    envs.restore(snap)
    second = [envs.step(a)[0] for a in acts]
    for o1, o2 in zip(first, second, strict=True):
        for a, b in zip(_flat(o1), _flat(o2), strict=True):
            np.testing.assert_array_equal(a, b)


def test_cascade_history_passes_the_env_checkers() -> None:
    from gymnasium.utils.env_checker import check_env as gym_check_env

    sb3_env_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    env = gym.make("recarena/Cascade-v0", observe_history=True).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(env, skip_render_check=False)
        sb3_env_checker.check_env(env, warn=True)


def test_cascade_config_arguments() -> None:
    cfg = cascade_config(observe_history=True)
    assert isinstance(cfg, CascadeConfig) and cfg.observe_history
    # a config field: applies beside a given config
    env = gym.make("recarena/Cascade-v0", config=cascade_config(), observe_history=True)
    assert "candidate_clicks" in env.observation_space.spaces
    # a plain SlateEnvConfig is still a Cascade config (without the history)
    plain = SlateEnvConfig(**{f.name: getattr(cfg, f.name)
                              for f in dataclasses.fields(SlateEnvConfig)})
    env = CascadeEnv(config=plain)
    assert isinstance(env.config, CascadeConfig) and not env.config.observe_history
    assert set(env.observation_space.spaces) == {"response_click", "response_examined",
                                                 "response_watch_time"}


@pytest.mark.parametrize("call,match", [
    (lambda: CascadeEnv(observe_history="yes"), r"observe_history: expected a bool"),
    (lambda: CascadeEnv(config=cascade_config().replace(
        candidates=CorpusCandidates(cascade_config().candidates.catalog, 8)),
        observe_history=True), r"observe_history: expected False unless the candidates"),
])
def test_cascade_history_bad_inputs(call, match) -> None:
    with pytest.raises(ConfigError, match=match):
        call()
