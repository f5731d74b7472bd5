"""Native vector envs: conformance, equivalence with the single env, CRN snapshots, bad input."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from scipy import stats

from recarena.envs.checker import check_vector_env
from recarena.envs.spaces import BatchSlateSpace
from recarena.errors import ConfigError, InvalidSlate, ResetNeeded


def make_vec(env_id: str, n: int, **kwargs):
    return gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", **kwargs)


def test_every_id_has_a_vector_entry_point(env_id: str) -> None:
    assert gym.spec(env_id).vector_entry_point is not None
    envs = make_vec(env_id, 3)
    assert isinstance(envs.action_space, BatchSlateSpace)
    assert envs.metadata["autoreset_mode"] is gym.vector.AutoresetMode.SAME_STEP


def test_vector_checker(env_id: str) -> None:
    # a short horizon so that autoreset is exercised on every id
    counts = check_vector_env(make_vec(env_id, 8, max_episode_steps=25), steps=120)
    assert counts["episodes_ended"] >= 8


def test_vector_checker_without_horizon_override() -> None:
    counts = check_vector_env(make_vec("recarena/Slate-v0", 16), steps=150)
    assert counts["episodes_ended"] > 0


def test_checker_catches_a_broken_env() -> None:
    envs = make_vec("recarena/InterestEvolution-v0", 4)
    envs.metadata = {**envs.metadata, "autoreset_mode": "SameStep"}
    with pytest.raises(AssertionError, match="AutoresetMode"):
        check_vector_env(envs)


def _flat(obs: dict) -> list[np.ndarray]:
    return [obs[k] for k in sorted(obs)]


@pytest.mark.parametrize("env_id,kwargs", [
    ("recarena/InterestEvolution-v0", {}),
    ("recarena/Slate-v0", {}),
    ("recarena/Cascade-v0", {"horizon": 30}),
    ("recarena/LongTermSatisfaction-v0", {"time_budget": 25}),
    ("recarena/InterestExploration-v0", {"horizon": 40}),
    ("recarena/ShortVideo-v0", {"slate_size": 2}),
])
def test_one_user_vector_env_equals_single_env(env_id: str, kwargs: dict) -> None:
    """Step for step, over several episodes (autoreset vs reset without a seed)."""
    single = gym.make(env_id, **kwargs).unwrapped
    vec = make_vec(env_id, 1, **kwargs)
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
        if term_s or trunc_s:
            episodes += 1
            for a, b in zip(_flat(obs_s), _flat(info_v["final_obs"][0]), strict=True):
                np.testing.assert_array_equal(a, b)
            obs_s, info_s = single.reset()
    assert episodes >= 3


@pytest.mark.parametrize("env_id", ["recarena/InterestEvolution-v0", "recarena/Slate-v0",
                                    "recarena/LongTermSatisfaction-v0",
                                    "recarena/InterestExploration-v0", "recarena/ShortVideo-v0"])
def test_many_users_match_single_env_statistically(env_id: str) -> None:
    """First-episode returns and lengths of 200 vector users vs 200 seeded single-env
    episodes under a uniform random policy: same distribution (two-sample KS test)."""
    n = 200
    single = gym.make(env_id).unwrapped
    single.action_space.seed(0)
    ret_s, len_s = [], []
    for seed in range(n):
        single.reset(seed=1000 + seed)
        total, steps, done = 0.0, 0, False
        while not done:
            _, r, term, trunc, _ = single.step(single.action_space.sample())
            total, steps, done = total + r, steps + 1, term or trunc
        ret_s.append(total)
        len_s.append(steps)
    vec = make_vec(env_id, n)
    vec.action_space.seed(1)
    vec.reset(seed=7)
    ret_v, len_v = np.full(n, np.nan), np.zeros(n, dtype=int)
    while np.isnan(ret_v).any():
        _, _, term, trunc, info = vec.step(vec.action_space.sample())
        if "final_info" in info:
            fi = info["final_info"]
            rows = np.flatnonzero(fi["_episode_return"] & np.isnan(ret_v))
            ret_v[rows] = fi["episode_return"][rows]
            len_v[rows] = fi["episode_length"][rows]
    assert stats.ks_2samp(ret_s, ret_v).pvalue > 0.01
    assert stats.ks_2samp(len_s, len_v).pvalue > 0.01
    assert abs(np.mean(ret_s) - np.mean(ret_v)) < 4 * np.std(ret_s) / np.sqrt(n)


def test_autoreset_gives_new_users_and_final_info() -> None:
    vec = make_vec("recarena/Slate-v0", 32)
    vec.action_space.seed(0)
    _, info = vec.reset(seed=0)
    seen = set(info["user_id"].tolist())
    ended = 0
    for _ in range(200):
        before = vec.world.state.user_id.copy()
        _, _, term, trunc, info = vec.step(vec.action_space.sample())
        done = term | trunc
        if done.any():
            ended += int(done.sum())
            np.testing.assert_array_equal(info["final_info"]["user_id"][done], before[done])
            assert np.all(info["final_info"]["episode_length"][done] >= 1)
            new_ids = info["user_id"][done].tolist()
            assert not seen & set(new_ids), "a replacement user reuses an id"
            seen |= set(new_ids)
        np.testing.assert_array_equal(info["user_id"][~done], before[~done])
    assert ended > 32


def test_snapshot_restore_reproduces_the_continuation() -> None:
    vec = make_vec("recarena/Slate-v0", 64)
    vec.action_space.seed(3)
    vec.reset(seed=3)
    for _ in range(10):
        vec.step(vec.action_space.sample())
    snap = vec.snapshot()
    acts = [vec.action_space.sample() for _ in range(60)]
    first = [vec.step(a)[:4] for a in acts]
    vec.restore(snap)
    second = [vec.step(a)[:4] for a in acts]
    for (o1, r1, te1, tr1), (o2, r2, te2, tr2) in zip(first, second, strict=True):
        for a, b in zip(_flat(o1), _flat(o2), strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(te1, te2)
        np.testing.assert_array_equal(tr1, tr2)
    # common random numbers: another policy from the same snapshot meets the same users and
    # the same exogenous candidates, although its slates (and so the responses) differ
    vec.restore(snap)
    np.testing.assert_array_equal(vec.world.state.interests, snap.world.state.interests)
    other = np.tile(np.arange(vec.single_action_space.slate_size), (64, 1))
    vec.step(other)
    cands_other = vec.world.candidates.item_id.copy()
    vec.restore(snap)
    vec.step(acts[0])
    np.testing.assert_array_equal(vec.world.candidates.item_id, cands_other)
    with pytest.raises(ConfigError, match="snapshot"):
        make_vec("recarena/Slate-v0", 3).restore(snap)


def test_snapshot_restore_on_every_id(env_id: str) -> None:
    vec = make_vec(env_id, 16)
    vec.action_space.seed(4)
    vec.reset(seed=4)
    for _ in range(5):
        vec.step(vec.action_space.sample())
    snap = vec.snapshot()
    acts = [vec.action_space.sample() for _ in range(40)]
    first = [vec.step(a) for a in acts]
    clone = pickle.loads(pickle.dumps(vec))
    vec.restore(snap)
    second = [vec.step(a) for a in acts]
    for (o1, r1, te1, tr1, i1), (o2, r2, te2, tr2, i2) in zip(first, second, strict=True):
        for a, b in zip(_flat(o1), _flat(o2), strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(te1 | tr1, te2 | tr2)
        np.testing.assert_array_equal(i1["user_id"], i2["user_id"])
    # the pickled copy goes on exactly as the original
    a = vec.action_space.sample()
    np.testing.assert_array_equal(clone.step(a)[1], vec.step(a)[1])


def test_vector_env_pickles_mid_episode() -> None:
    vec = make_vec("recarena/InterestEvolution-v0", 16)
    vec.reset(seed=1)
    vec.step(vec.action_space.sample())
    clone = pickle.loads(pickle.dumps(vec))
    a = vec.action_space.sample()
    o1, r1, *_ = vec.step(a)
    o2, r2, *_ = clone.step(a)
    np.testing.assert_array_equal(r1, r2)
    for x, y in zip(_flat(o1), _flat(o2), strict=True):
        np.testing.assert_array_equal(x, y)


def test_async_vectorisation_over_worker_processes() -> None:
    envs = gym.make_vec("recarena/InterestEvolution-v0", num_envs=2, vectorization_mode="async")
    try:
        obs, _ = envs.reset(seed=0)
        assert obs["candidate_features"].shape == (2, 10, 20)
        envs.step(np.array([[0, 1], [2, 3]]))
    finally:
        envs.close()


def test_render_ansi_vector() -> None:
    vec = make_vec("recarena/Cascade-v0", 3, render_mode="ansi")
    vec.reset(seed=0)
    vec.step(vec.action_space.sample())
    assert "clicked=" in vec.render()


# ----------------------------------------------------------------- bad input
def test_bad_actions_name_the_rows() -> None:
    vec = make_vec("recarena/InterestEvolution-v0", 6)
    vec.reset(seed=0)
    good = vec.action_space.sample()
    with pytest.raises(InvalidSlate, match=r"shape \(6, 2\)"):
        vec.step(good[:5])
    dup = good.copy()
    dup[[1, 4], 1] = dup[[1, 4], 0]
    with pytest.raises(InvalidSlate, match=r"repeated in rows \[1, 4\]"):
        vec.step(dup)
    out = good.copy()
    out[3, 0] = 10
    with pytest.raises(InvalidSlate, match=r"out of range in rows \[3\]"):
        vec.step(out)
    with pytest.raises(InvalidSlate):
        vec.step(good.astype(np.float64) + 0.5)


@pytest.mark.parametrize("call,error,match", [
    (lambda: make_vec("recarena/Slate-v0", 0), ConfigError, "num_envs"),
    (lambda: make_vec("recarena/Slate-v0", 2, max_episode_steps=0), ConfigError, "max_episode_steps"),
    (lambda: make_vec("recarena/Slate-v0", 2, render_mode="human"), ConfigError, "render_mode"),
    (lambda: make_vec("recarena/Slate-v0", 2, slate_sise=3), ConfigError, "slate_size"),
    (lambda: make_vec("recarena/Slate-v0", 2).reset(seed=[1, 2]), ConfigError, "one seed"),
    (lambda: make_vec("recarena/Slate-v0", 2).step(np.zeros((2, 5), int)), ResetNeeded, "reset"),
    (lambda: make_vec("recarena/Slate-v0", 2).snapshot(), ResetNeeded, "reset"),
    (lambda: make_vec("recarena/Cascade-v0", 2, num_items=0), ConfigError, "num_items"),
])
def test_vector_bad_inputs(call, error, match) -> None:
    with pytest.raises(error, match=match):
        call()


def test_statistical_equivalence_test_has_power() -> None:
    """The KS comparison above detects a 10% smaller time budget (so it can fail)."""
    import dataclasses

    from recarena.envs.interest_evolution import interest_evolution_config

    um = interest_evolution_config().user_model
    smaller = dataclasses.replace(um, budget=dataclasses.replace(um.budget, initial=180.0))

    def first_returns(**kwargs) -> np.ndarray:
        vec = make_vec("recarena/InterestEvolution-v0", 300, **kwargs)
        vec.action_space.seed(1)
        vec.reset(seed=7)
        ret = np.full(300, np.nan)
        while np.isnan(ret).any():
            info = vec.step(vec.action_space.sample())[4]
            if "final_info" in info:
                fi = info["final_info"]
                rows = np.flatnonzero(fi["_episode_return"] & np.isnan(ret))
                ret[rows] = fi["episode_return"][rows]
        return ret

    assert stats.ks_2samp(first_returns(), first_returns(user_model=smaller)).pvalue < 1e-6


@pytest.mark.parametrize("c,k", [(5, 2), (6, 3), (4, 4), (12, 9), (7, 1)])
def test_batch_slate_samples_are_uniform_over_ordered_slates(c: int, k: int) -> None:
    """Every ordered slate of k distinct candidates has probability (c-k)!/c!: a
    chi-squared test over all of them (both sampling paths: sequential and argsort)."""
    import math
    from collections import Counter

    n_slates = math.perm(c, k)
    space = BatchSlateSpace(num_slates=min(400 * n_slates, 200_000), num_candidates=c,
                            slate_size=k, seed=c * 10 + k)
    x = space.sample()
    assert space.contains(x)
    counts = Counter(map(tuple, x.tolist()))
    if n_slates <= 2000:
        assert len(counts) == n_slates
        assert stats.chisquare(list(counts.values())).pvalue > 1e-3
    else:  # too many slates to enumerate: test each position's marginal instead
        for j in range(k):
            freq = np.bincount(x[:, j], minlength=c)
            assert stats.chisquare(freq).pvalue > 1e-3
