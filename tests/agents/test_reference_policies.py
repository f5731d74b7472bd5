"""Reference policies: their ordering on InterestEvolution, and the evaluation loop."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pandas as pd

import recarena  # noqa: F401
from recarena.agents import GreedyOracle, Policy, QualityAwareOracle, RandomPolicy, evaluate


def _ci_low_high(x: np.ndarray) -> tuple[float, float]:
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))
    return x.mean() - half, x.mean() + half


def test_policies_follow_the_protocol() -> None:
    """Not just the attribute names: on a batch of users each policy returns valid slates
    (shape (N, K), distinct candidates in range), the oracles pick what their rule says,
    and ``reset`` makes a seeded policy repeat itself."""
    env = gym.make("recarena/InterestEvolution-v0")
    vec = gym.make_vec("recarena/InterestEvolution-v0", num_envs=16,
                       vectorization_mode="vector_entry_point")
    obs, info = vec.reset(seed=0)
    n, c, k = 16, 10, 2
    scores = info["oracle"]["scores"]
    for p in (RandomPolicy(c, k, seed=4), GreedyOracle(k), QualityAwareOracle.from_env(env)):
        assert isinstance(p, Policy)
        assert isinstance(p.name, str) and p.name and isinstance(p.is_oracle, bool)
        slates = np.asarray(p.recommend(obs, info if p.is_oracle else None))
        assert slates.shape == (n, k) and np.issubdtype(slates.dtype, np.integer), p.name
        assert ((slates >= 0) & (slates < c)).all(), p.name
        assert (slates[:, 0] != slates[:, 1]).all(), f"{p.name} repeats a candidate"
        vec.step(slates)  # the env accepts them
        obs, info = vec.reset(seed=0)
    # the greedy oracle shows the k highest true scores, best first
    greedy = GreedyOracle(k).recommend(obs, info)
    np.testing.assert_array_equal(greedy, np.argsort(-scores, axis=1, kind="stable")[:, :k])
    # a seeded random policy repeats itself after reset and is not constant
    rnd = RandomPolicy(c, k, seed=4)
    first = rnd.recommend(obs)
    assert len({tuple(row) for row in first}) > 1
    rnd.reset()
    np.testing.assert_array_equal(rnd.recommend(obs), first)


def test_oracles_are_ordered_on_interest_evolution() -> None:
    """Paired over the same 120 users: quality-aware > myopic greedy > random.

    Greedy-on-affinity wins clicks early but serves trashy topics that drain the budget;
    the quality-aware oracle trades clicks for budget and gets far longer sessions. The
    users run as one vector env (a quarter of the time of 120 single-env episodes; the
    single-env path is tested below): the greedy - random difference is 4 to 8 standard
    errors over seeds 0, 1 and 100, quality - greedy about 30."""
    env = gym.make("recarena/InterestEvolution-v0")
    n, env_id = 120, "recarena/InterestEvolution-v0"
    rnd = evaluate(RandomPolicy(10, 2, seed=0), env_id, users=n, seed=100)["return"].to_numpy()
    greedy = evaluate(GreedyOracle(2), env_id, users=n, seed=100)["return"].to_numpy()
    quality = evaluate(QualityAwareOracle.from_env(env), env_id, users=n,
                       seed=100)["return"].to_numpy()
    assert len(rnd) == len(greedy) == len(quality) == n
    assert _ci_low_high(quality - greedy)[0] > 0
    assert _ci_low_high(greedy - rnd)[0] > 0


def test_evaluate_is_deterministic_and_paired() -> None:
    a = evaluate(RandomPolicy(10, 2, seed=1), "recarena/InterestEvolution-v0", episodes=5, seed=3)
    b = evaluate(RandomPolicy(10, 2, seed=1), "recarena/InterestEvolution-v0", episodes=5, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == ["episode", "seed", "user_id", "return", "clicks", "watch_time",
                               "length", "terminated"]
    # watch-time reward: return equals watch time
    np.testing.assert_allclose(a["return"], a["watch_time"])


def test_non_oracle_policies_never_see_oracle_info() -> None:
    seen = []

    class Spy(RandomPolicy):
        def recommend(self, obs, info=None):
            seen.append(info)
            return super().recommend(obs, info)

    evaluate(Spy(10, 2), "recarena/InterestEvolution-v0", episodes=2)
    evaluate(Spy(10, 2), "recarena/InterestEvolution-v0", users=3)
    assert seen and all("oracle" not in i for i in seen)
    assert all("candidate_ids" in i and "user_id" in i for i in seen)


def test_greedy_oracle_picks_highest_true_scores() -> None:
    info = {"oracle": {"scores": np.array([0.1, 0.9, -0.3, 0.5])}}
    np.testing.assert_array_equal(GreedyOracle(2).recommend({}, info), [[1, 3]])
