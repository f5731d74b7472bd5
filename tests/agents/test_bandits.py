"""Bandits must learn: sublinear regret on stationary problems with a known optimum, far
below the random policy's, on toy problems and on the real ``Cascade-v0``."""

from __future__ import annotations

from itertools import combinations

import gymnasium as gym
import numpy as np
import pytest

import recarena  # noqa: F401
from recarena.agents import (
    UCB1,
    BernoulliTS,
    CascadeKLUCB,
    CascadeUCB1,
    DiagLinUCB,
    EpsilonGreedy,
    InSlateTS,
    LinTS,
    LinUCB,
    TopKUCB,
)
from recarena.agents.bandits.cascade import bernoulli_kl_ucb
from recarena.agents.base import public_info
from tests.agents.toy import run_items, run_linear

P = np.array([0.7, 0.6, 0.5, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1])
T = 1000  # regret over [0, T] is compared with regret over [T, 2T]


class _Random:
    """Uniform random slates through the same toy driver."""

    name, is_oracle = "random", False

    def __init__(self, k: int) -> None:
        self.k = k
        self.reset()

    def reset(self) -> None:
        self.rng = np.random.default_rng(0)

    def recommend(self, obs, info=None):
        ids = info["candidate_ids"]
        return np.argsort(self.rng.random(ids.shape), axis=1)[:, : self.k]

    def update(self, *args, **kwargs) -> None:
        pass


def _assert_learns(regret: np.ndarray, random_regret: np.ndarray, ratio: float = 0.5,
                   vs_random: float = 0.2) -> None:
    first, second = regret[:T].sum(), regret[T:2 * T].sum()
    assert second < ratio * first, f"regret over [T, 2T] {second:.1f} vs [0, T] {first:.1f}"
    assert regret.sum() < vs_random * random_regret.sum(), (
        f"regret {regret.sum():.1f} vs random {random_regret.sum():.1f}")


ITEM_BANDITS = {
    "epsilon_greedy": lambda: EpsilonGreedy(10, 2, epsilon=1.0),
    "ucb1": lambda: UCB1(10, 2),
    "thompson": lambda: BernoulliTS(10, 2),
    "in_slate_ts": lambda: InSlateTS(10, 2),
    "topk_ucb": lambda: TopKUCB(10, 2),
}


@pytest.mark.parametrize("name", sorted(ITEM_BANDITS))
def test_item_bandit_regret_is_sublinear(name: str) -> None:
    regret = run_items(ITEM_BANDITS[name](), P, 2, 2 * T, rows=100)
    random = run_items(_Random(2), P, 2, 2 * T, rows=100)
    _assert_learns(regret, random)


def test_constant_epsilon_keeps_linear_regret() -> None:
    """The negative control: epsilon fixed at 0.2 explores forever, so the regret added in
    [T, 2T] stays close to the regret of [0, T] (the test above would fail for it)."""
    regret = run_items(EpsilonGreedy(10, 2, epsilon=0.2, schedule="constant"), P, 2, 2 * T, rows=100)
    assert regret[T:2 * T].sum() > 0.8 * regret[:T].sum()


def test_topk_ucb_learns_under_the_position_based_model() -> None:
    kappa = np.array([1.0, 0.6, 0.3])
    regret = run_items(TopKUCB(10, 3, position_weights=tuple(kappa)), P, 3, 2 * T, rows=100,
                       kappa=kappa)
    random = run_items(_Random(3), P, 3, 2 * T, rows=100, kappa=kappa)
    _assert_learns(regret, random)


def test_shared_scope_learns_from_every_user() -> None:
    """One platform-wide learner over 100 users learns 100x faster per user than 100
    separate per-user learners (it sees 100 slates per step)."""
    shared = run_items(UCB1(10, 2, scope="shared"), P, 2, 200, rows=100)
    per_user = run_items(UCB1(10, 2, scope="user"), P, 2, 200, rows=100)
    assert shared.sum() < 0.3 * per_user.sum()


def test_in_slate_ts_spreads_exploration_over_positions() -> None:
    """With a flat posterior the second position of in-slate TS is drawn independently,
    so it is often an item the first draw ranked low; plain TS keeps its second-best."""
    ids = np.broadcast_to(np.arange(10), (2000, 10))
    info = {"user_id": np.arange(2000), "candidate_ids": ids}
    a = InSlateTS(10, 2).recommend({}, info)
    b = BernoulliTS(10, 2).recommend({}, info)
    assert (a[:, 0] != a[:, 1]).all() and (b[:, 0] != b[:, 1]).all()
    # both are uniform over ordered pairs under a flat prior: check the first position
    for s in (a, b):
        counts = np.bincount(s[:, 0], minlength=10)
        assert counts.min() > 120


@pytest.mark.parametrize("cls", [LinUCB, LinTS])
def test_linear_bandits_find_the_best_arm_with_disjoint_models(cls) -> None:
    policy = cls(5, 1, model="disjoint", scope="shared", num_items=12, signal="watch_time")
    regret, hit = run_linear(policy, "disjoint", 2 * T, rows=20)
    rnd_regret, _ = run_linear(_Random(1), "disjoint", 2 * T, rows=20)
    assert hit[-200:].mean() > 0.9, f"best arm chosen {hit[-200:].mean():.2f} of the time"
    _assert_learns(regret, rnd_regret, vs_random=0.15)


def test_diag_linucb_finds_the_best_arm_of_each_segment() -> None:
    """With orthogonal (one-hot segment) contexts the diagonal covariance is exact. The
    bonus ``alpha`` must be of the order of the rewards (here |theta| ~ 1): smaller, an
    untried arm's bonus loses to the first arm that paid well and is never explored."""
    policy = DiagLinUCB(5, 1, num_items=12, signal="watch_time", alpha=2.0)
    regret, hit = run_linear(policy, "disjoint", 2 * T, rows=20, context="onehot")
    rnd_regret, _ = run_linear(_Random(1), "disjoint", 2 * T, rows=20, context="onehot")
    assert hit[-200:].mean() > 0.9
    _assert_learns(regret, rnd_regret, vs_random=0.1)


def test_diag_linucb_on_dense_contexts_is_an_approximation() -> None:
    """On dense contexts the diagonal model ignores feature correlations, and the contexts
    an arm is chosen on are correlated by the selection itself: it still learns (regret
    far below random and shrinking) but finds the best arm less often than full LinUCB.
    This is the price of O(d) per item that the Online Matching paper accepts."""
    diag_regret, diag_hit = run_linear(DiagLinUCB(5, 1, num_items=12, signal="watch_time"),
                                       "disjoint", 2 * T, rows=20)
    full_regret, full_hit = run_linear(LinUCB(5, 1, model="disjoint", scope="shared",
                                              num_items=12, signal="watch_time"),
                                       "disjoint", 2 * T, rows=20)
    rnd_regret, _ = run_linear(_Random(1), "disjoint", 2 * T, rows=20)
    assert diag_regret.sum() < 0.5 * rnd_regret.sum()
    assert diag_regret[T:].sum() < diag_regret[:T].sum()
    assert full_hit[-200:].mean() > diag_hit[-200:].mean()


@pytest.mark.parametrize("cls", [LinUCB, LinTS])
def test_linear_bandits_learn_each_users_parameters(cls) -> None:
    policy = cls(5, 1, model="shared", scope="user", signal="watch_time")
    regret, hit = run_linear(policy, "shared", 2 * T, rows=50)
    rnd_regret, _ = run_linear(_Random(1), "shared", 2 * T, rows=50)
    assert hit[-200:].mean() > 0.8
    _assert_learns(regret, rnd_regret, vs_random=0.2)


def test_full_covariance_updates_are_exact() -> None:
    """Sherman-Morrison rounds, including a key seen many times in one batch, equal the
    inverse of ``ridge I + sum x x^T`` computed directly."""
    rng = np.random.default_rng(3)
    p = LinUCB(4, 1, model="disjoint", scope="shared", num_items=3, ridge=2.0)
    keys = np.array([0] * 12 + [1, 1, 2])
    x = rng.normal(size=(keys.size, 4))
    y = rng.normal(size=keys.size)
    p._learn(keys, x, y)
    for k in range(3):
        xs = x[keys == k]
        np.testing.assert_allclose(p.a_inv[k], np.linalg.inv(2.0 * np.eye(4) + xs.T @ xs),
                                   rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(p.b[k], (y[keys == k, None] * xs).sum(axis=0))


def test_kl_ucb_bound_solves_its_equation() -> None:
    mean, n, budget = np.array([0.1, 0.5, 0.9]), np.array([10.0, 50.0, 5.0]), np.array([2.0] * 3)
    q = bernoulli_kl_ucb(mean, n, budget)
    kl = mean * np.log(mean / q) + (1 - mean) * np.log((1 - mean) / (1 - q))
    np.testing.assert_allclose(n * kl, budget, rtol=1e-6)
    assert np.all(q > mean)


def _cascade_regret(policy, users: int, steps: int, seed: int = 0) -> np.ndarray:
    """Expected per-step regret on Cascade-v0 (shuffled attraction per user)."""
    envs = gym.make_vec("recarena/Cascade-v0", num_envs=users, horizon=steps,
                        vectorization_mode="vector_entry_point")
    obs, info = envs.reset(seed=seed)
    policy.reset()
    w = info["oracle"]["attraction"]
    k = envs.unwrapped.config.slate_size
    best = 1 - np.prod(1 - np.sort(w, axis=1)[:, -k:], axis=1)
    regret = np.empty(steps)
    for t in range(steps):
        seen = public_info(info)
        slates = policy.recommend(obs, seen)
        regret[t] = (best - (1 - np.prod(1 - np.take_along_axis(w, slates, axis=1), axis=1))).mean()
        obs_next, reward, term, trunc, info = envs.step(slates)
        if hasattr(policy, "update"):
            policy.update(obs, slates, info["response"], reward, seen)
        obs = obs_next
        assert not (term | trunc).any() or t == steps - 1
    envs.close()
    return regret


def _random_slate_regret(users: int, seed: int = 0) -> float:
    """The uniformly random slate's expected per-step regret on the users of
    ``_cascade_regret`` (exact: the mean over every K-subset; the order within a slate does
    not change the click probability ``1 - prod(1 - w)``)."""
    envs = gym.make_vec("recarena/Cascade-v0", num_envs=users,
                        vectorization_mode="vector_entry_point")
    _, info = envs.reset(seed=seed)
    w = info["oracle"]["attraction"]
    k = envs.unwrapped.config.slate_size
    envs.close()
    best = 1 - np.prod(1 - np.sort(w, axis=1)[:, -k:], axis=1)
    subsets = np.array(list(combinations(range(w.shape[1]), k)))  # (C(L, K), K)
    clicks = 1 - np.prod(1 - w[:, subsets], axis=2)  # (users, C(L, K))
    return float((best - clicks.mean(axis=1)).mean())


@pytest.mark.parametrize("cls", [CascadeUCB1, CascadeKLUCB])
def test_cascade_bandits_have_logarithmic_looking_regret(cls) -> None:
    """Kveton et al.'s setting (L = 16, K = 4, p = 0.2, delta = 0.15), 20 users with their
    own shuffled attraction, 8,000 steps each. Logarithmic regret adds a shrinking amount
    per doubling of time, sqrt(t) regret adds 1.41x more and linear regret 2x more. The
    random policy's regret (linear) is its exact expectation."""
    steps = 8000
    cum = np.cumsum(_cascade_regret(cls(16, 4), users=20, steps=steps))
    last, before = cum[8000 - 1] - cum[4000 - 1], cum[4000 - 1] - cum[2000 - 1]
    assert last < 1.3 * before, f"regret added over [4000, 8000] {last:.1f}, [2000, 4000] {before:.1f}"
    assert cum[-1] < 0.3 * steps * _random_slate_regret(users=20)


@pytest.mark.parametrize("cov", ["full", "diag"])
def test_shared_candidate_fast_path_equals_per_row_scoring(cov: str) -> None:
    """Rows scoring the same candidates take a BLAS path; it must equal row-by-row."""
    rng = np.random.default_rng(1)
    p = LinUCB(4, 1, model="disjoint", scope="shared", num_items=30, covariance=cov)
    p._learn(rng.integers(0, 30, 200), rng.normal(size=(200, 4)), rng.normal(size=200))
    x = rng.normal(size=(5, 4))
    keys = np.broadcast_to(rng.permutation(30)[:12], (5, 12))
    mean, var = p._mean_var(x, keys)
    for n in range(5):
        m1, v1 = p._mean_var(x[n:n + 1], keys[n:n + 1])
        np.testing.assert_allclose(mean[n], m1[0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(var[n], v1[0], rtol=1e-10, atol=1e-12)
