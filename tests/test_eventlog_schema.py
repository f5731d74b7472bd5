"""The event log's columns mean what its schema says (recarena/eventlog.py, docs/ARCHITECTURE.md).

* every impression column is documented, in the module docstring and the architecture page;
* ``propensity`` / ``slate_propensity``: what every registered policy reports is the
  probability of what it draws (empirical frequencies of repeated draws from a frozen
  state), or NaN for the policies documented as unknown;
* ``item_reward``: the step reward is split over the items that earned it, for every env,
  and ``reward = sum of item_reward + the unattributed part`` (only the retention term).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import recarena
from recarena.agents import make_policy
from recarena.agents.bandits.mab import rank_random_ties
from recarena.agents.base import public_info, ranking_propensity, uniform_propensity
from recarena.envs.wrappers import EventLogger, VectorEventLogger
from recarena.eventlog import IMPRESSION_COLUMNS, read_table

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------- the documented schema
def test_every_impression_column_is_documented() -> None:
    import recarena.eventlog as eventlog

    doc = eventlog.__doc__
    listed = re.search(r"``(run, seed, .*?)``", doc, flags=re.S).group(1)
    assert tuple(c.strip() for c in listed.split(",")) == IMPRESSION_COLUMNS
    for col in ("propensity", "slate_propensity", "reward", "item_reward"):
        assert f"``{col}`` is" in doc, f"the module docstring does not say what {col} is"
    page = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    for col in IMPRESSION_COLUMNS:
        assert re.search(rf"\| `{col}` \|", page), f"docs/ARCHITECTURE.md lacks a row for {col}"
    assert "slate_propensity" in IMPRESSION_COLUMNS and "item_reward" in IMPRESSION_COLUMNS


def test_no_link_points_outside_the_repository() -> None:
    for path in ("README.md", "pyproject.toml", "recarena/eventlog.py", "docs/ARCHITECTURE.md"):
        assert "../shared" not in (ROOT / path).read_text(), path
    assert "docs/ARCHITECTURE.md" in (ROOT / "README.md").read_text()


# ----------------------------------------------------------------- propensity formulas
def test_uniform_and_ranking_propensities_by_hand() -> None:
    pos, slate = uniform_propensity(16, np.array([[3, 1, 0, 7]]))
    assert np.all(pos == 1 / 16) and slate[0] == pytest.approx(1 / math.perm(16, 4))
    # no ties: a deterministic ranking, 1 for its slate, 0 for any other
    scores = np.array([[0.1, 0.9, 0.5, 0.3]])
    pos, slate = ranking_propensity(scores, np.array([[1, 2]]))
    assert pos.tolist() == [[1.0, 1.0]] and slate.tolist() == [1.0]
    pos, slate = ranking_propensity(scores, np.array([[2, 1]]))
    assert pos.tolist() == [[0.0, 0.0]] and slate.tolist() == [0.0]
    # a group of three tied candidates behind a clear leader: 1/3 at ranks 1-3
    scores = np.array([[3.0, 1.0, 1.0, 1.0, 0.0]])
    pos, slate = ranking_propensity(scores, np.array([[0, 2, 1]]))
    assert pos[0].tolist() == pytest.approx([1.0, 1 / 3, 1 / 3])
    assert slate[0] == pytest.approx(1 / 6)  # (3 - 2)! / 3!
    pos, slate = ranking_propensity(scores, np.array([[1, 2, 3]]))  # the leader is missing
    assert pos[0, 0] == 0.0 and slate[0] == 0.0
    # all tied: the uniformly random slate
    pos, slate = ranking_propensity(np.zeros((2, 6)), np.array([[0, 1, 2], [5, 4, 3]]))
    np.testing.assert_allclose(pos, 1 / 6)
    np.testing.assert_allclose(slate, 1 / math.perm(6, 3))


def test_ranking_propensity_matches_random_tie_breaking() -> None:
    """Frequencies of rank_random_ties' slates equal ranking_propensity's values."""
    rng = np.random.default_rng(0)
    scores = np.array([5.0, 2.0, 2.0, 2.0, 2.0, 1.0, 1.0, 0.0])
    draws = 20_000
    slates = rank_random_ties(np.tile(scores, (draws, 1)), 4, rng)
    pos, slate = ranking_propensity(np.tile(scores, (draws, 1)), slates)
    _check_frequencies(slates[:, None], pos[:, None], slate[:, None])


# ----------------------------------------------------------------- every policy
#: policy -> (env, constructor arguments); propensities of the NaN ones have no closed form
POLICIES = {
    "random": ("recarena/InterestEvolution-v0", {}),
    "popular": ("recarena/Cascade-v0", {}),
    "item_knn": ("recarena/Cascade-v0", {}),
    "als": ("recarena/Cascade-v0", {}),
    "feature_sort": ("recarena/LongTermSatisfaction-v0", {"key": "candidate_clickbait"}),
    "greedy_oracle": ("recarena/InterestEvolution-v0", {}),
    "quality_bonus_oracle": ("recarena/InterestEvolution-v0", {}),
    "quality_oracle": ("recarena/InterestEvolution-v0", {}),
    "epsilon_greedy": ("recarena/Cascade-v0", {"epsilon": 0.3}),
    "ucb1": ("recarena/Cascade-v0", {}),
    "topk_ucb": ("recarena/Cascade-v0", {}),
    "cascade_ucb1": ("recarena/Cascade-v0", {}),
    "cascade_kl_ucb": ("recarena/Cascade-v0", {}),
    "linucb": ("recarena/InterestEvolution-v0", {}),
    "diag_linucb": ("recarena/ShortVideo-v0", {}),
    "thompson": ("recarena/Cascade-v0", {}),
    "in_slate_ts": ("recarena/Cascade-v0", {}),
    "lin_ts": ("recarena/InterestEvolution-v0", {}),
    "fairco": ("recarena/InterestEvolution-v0", {"base": "linucb", "group_key": "candidate_features"}),
    "pmmf": ("recarena/InterestEvolution-v0", {"base": "greedy_oracle", "group_key": "candidate_features"}),
    "mmr": ("recarena/InterestEvolution-v0", {"base": "linucb"}),
    "calibrated": ("recarena/InterestEvolution-v0", {"base": "greedy_oracle"}),
}
UNKNOWN = {"thompson", "in_slate_ts", "lin_ts"}


def test_the_table_covers_every_registered_policy() -> None:
    from recarena.agents import list_policies

    # "checkpoint" (a trained SlatePolicy) needs a trained folder: its propensities are
    # checked against sampling frequencies in tests/agents/test_rl_ppo.py
    assert {e.name for e in list_policies()} - {"checkpoint"} == set(POLICIES)


def _check_frequencies(slates: np.ndarray, pos: np.ndarray, slate: np.ndarray) -> None:
    """``slates`` ``(R, N, K)`` drawn R times from one state, with the reported
    position-wise ``pos`` ``(R, N, K)`` and slate ``slate`` ``(R, N)`` propensities: each
    (row, position, candidate) cell's and each slate's frequency must match its reported
    probability (6 binomial standard deviations), and the reported probabilities of what
    was seen must not add up to more than 1."""
    r, n, k = slates.shape
    for i in range(n):
        for j in range(k):
            seen = np.unique(slates[:, i, j])
            total = 0.0
            for c in seen:
                hit = slates[:, i, j] == c
                p = pos[hit, i, j]
                assert np.ptp(p) < 1e-12, "one cell, one probability"
                sd = math.sqrt(p[0] * (1 - p[0]) / r)
                assert abs(hit.mean() - p[0]) <= 6 * sd + 2 / r, (i, j, c, hit.mean(), p[0])
                total += p[0]
            assert total <= 1 + 1e-9
        rows, inverse = np.unique(slates[:, i], axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        total = 0.0
        for u in range(len(rows)):
            hit = inverse == u
            q = slate[hit, i]
            assert np.ptp(q) < 1e-12
            sd = math.sqrt(q[0] * (1 - q[0]) / r)
            assert abs(hit.mean() - q[0]) <= 6 * sd + 2 / r, (i, rows[u], hit.mean(), q[0])
            total += q[0]
        assert total <= 1 + 1e-9


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_reported_propensities_are_the_policys_own_probabilities(name: str) -> None:
    """Warm the policy up for a few steps, freeze it, and draw 1,000 slates from the same
    state: what it reports is how often it draws each (candidate, position) and slate."""
    env_id, kwargs = POLICIES[name]
    envs = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point")
    try:
        policy = make_policy(name, envs, **kwargs)
        policy.reset()
        obs, info = envs.reset(seed=2)
        for _ in range(12):
            seen = info if policy.is_oracle else public_info(info)
            slates = policy.recommend(obs, seen)
            nxt, reward, _, _, info = envs.step(slates)
            if callable(getattr(policy, "update", None)):
                policy.update(obs, slates, info["response"], reward, seen)
            obs = nxt
    finally:
        envs.close()
    seen = info if policy.is_oracle else public_info(info)
    draws = [np.asarray(policy.recommend(obs, seen)) for _ in range(1000)]
    pos = np.stack([policy.propensity(s) for s in draws])
    slate = np.stack([policy.slate_propensity(s) for s in draws])
    if name in UNKNOWN:
        assert np.isnan(pos).all() and np.isnan(slate).all()
        return
    assert np.isfinite(pos).all() and np.isfinite(slate).all()
    _check_frequencies(np.stack(draws), pos, slate)


# ----------------------------------------------------------------- reward attribution
def _log_random(env: gym.Env, folder: Path, steps: int, seed: int = 0) -> tuple:
    """Run the random policy for ``steps`` steps under an EventLogger; the log, the step
    rewards and the infos."""
    policy = make_policy("random", env)
    logged = EventLogger(env, folder, policy=policy, snapshot_every=0)
    obs, info = logged.reset(seed=seed)
    rewards, infos = [], []
    for _ in range(steps):
        batch = {key: np.asarray(value)[None] for key, value in obs.items()}
        obs, reward, term, trunc, info = logged.step(policy.recommend(batch)[0])
        rewards.append(reward)
        infos.append(info)
        if term or trunc:
            obs, _ = logged.reset()
    logged.close()
    return read_table(folder), np.array(rewards), infos


def _unattributed(ev) -> np.ndarray:
    """Per step: the step reward minus the items' rewards."""
    g = ev.groupby("step", sort=True)
    return g["reward"].sum().to_numpy() - g["item_reward"].sum().to_numpy()


@pytest.mark.parametrize("env_id", recarena.list_envs())
def test_item_rewards_add_up_to_the_step_reward(env_id: str, tmp_path: Path) -> None:
    ev, rewards, _ = _log_random(recarena.make(env_id), tmp_path, 40)
    k = int(ev["position"].max()) + 1
    assert np.isfinite(ev["item_reward"]).all()
    # reward stays on the position-0 row (analysis sums it); item_reward is on every row
    assert (ev.loc[ev["position"] > 0, "reward"] == 0).all()
    np.testing.assert_allclose(ev.loc[ev["position"] == 0, "reward"], rewards)
    np.testing.assert_allclose(_unattributed(ev), 0.0, atol=1e-9)  # no user-level term
    assert len(ev) == 40 * k


def test_item_reward_sits_on_the_clicked_item(tmp_path: Path) -> None:
    """Cascade: reward 1 per click, wherever the clicked item is in the list."""
    ev, _, _ = _log_random(recarena.make("recarena/Cascade-v0"), tmp_path, 300)
    np.testing.assert_array_equal(ev["item_reward"], ev["clicked"].astype(float))
    assert (ev.loc[ev["clicked"], "position"] > 0).any()  # the bug put it on position 0


def test_item_reward_is_the_weighted_signals(tmp_path: Path) -> None:
    """Slate-v0 pays watch time; ShortVideo with a like weight pays watch + 30 * like;
    LongTermSatisfaction pays the top item's engagement."""
    ev, _, _ = _log_random(recarena.make("recarena/Slate-v0"), tmp_path / "a", 60)
    np.testing.assert_allclose(ev["item_reward"], ev["watch_time"])
    env = recarena.make("recarena/ShortVideo-v0", slate_size=3,
                        reward_weights={"watch_time": 1.0, "like": 30.0})
    ev, _, _ = _log_random(env, tmp_path / "b", 60)
    np.testing.assert_allclose(ev["item_reward"], ev["watch_time"] + 30.0 * ev["liked"])
    assert ev["liked"].any()
    ev, _, _ = _log_random(recarena.make("recarena/LongTermSatisfaction-v0"), tmp_path / "c", 30)
    top = ev["position"] == 0
    np.testing.assert_allclose(ev.loc[top, "item_reward"], ev.loc[top, "reward"])
    assert (ev.loc[~top, "item_reward"] == 0).all()


def test_the_retention_term_stays_unattributed(tmp_path: Path) -> None:
    """Retention-v0 with retention_weight: minus the return gap (capped at 30 days) is paid
    when a session ends and belongs to no item; the rest is the items' watch time."""
    env = recarena.make("recarena/Retention-v0", retention_weight=0.5)
    ev, _, infos = _log_random(env, tmp_path, 150, seed=3)
    np.testing.assert_allclose(ev["item_reward"], ev["watch_time"])
    expected = np.array([-0.5 * min(i["return_gap"], 30.0) if i.get("session_ended") else 0.0
                         for i in infos])
    assert (expected < 0).sum() >= 3
    np.testing.assert_allclose(_unattributed(ev), expected, atol=1e-9)


def test_vector_logger_attributes_rewards_like_the_single_one(tmp_path: Path) -> None:
    envs = gym.make_vec("recarena/Slate-v0", num_envs=6, vectorization_mode="vector_entry_point")
    policy = make_policy("random", envs)
    envs = VectorEventLogger(envs, tmp_path, policy=policy, snapshot_every=0)
    obs, info = envs.reset(seed=1)
    for _ in range(20):
        obs, *_ = envs.step(policy.recommend(obs, public_info(info)))
    envs.close()
    ev = read_table(tmp_path)
    np.testing.assert_allclose(ev["item_reward"], ev["watch_time"])
    by = ev.groupby(["step", "user_id"])
    np.testing.assert_allclose(by["reward"].sum(), by["item_reward"].sum(), atol=1e-9)


def test_user_vectors_are_not_logged_as_item_columns(tmp_path: Path) -> None:
    """Slate-v0 has 20 candidates and 20-dimensional interests: the interest vector is a
    user's (in snapshots), not a per-candidate oracle column."""
    env = recarena.make("recarena/Slate-v0")
    assert env.unwrapped.core.num_candidates == env.observation_space["candidate_features"].shape[1]
    ev, _, _ = _log_random(env, tmp_path, 3)
    assert "oracle_interests" not in ev.columns and "oracle_quality" in ev.columns
