"""The re-rankers (FairCo, P-MMF, MMR, calibrated) on cases with known answers, and each one
composed over a registered base policy in ``evaluate`` and through ``make_policy``."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import recarena  # noqa: F401
from recarena.agents import (
    MMR,
    PMMF,
    Calibrated,
    FairCo,
    GreedyOracle,
    RandomPolicy,
    ScoresCandidates,
    evaluate,
    make_policy,
)
from recarena.agents.rerank import project_duals
from recarena.errors import ConfigError, DataError


class FixedScores:
    """A base policy whose scores are given: ``(C,)`` for every row, or ``(N, C)``."""

    name = "fixed"
    is_oracle = False

    def __init__(self, scores: Any, slate_size: int) -> None:
        self.scores = np.asarray(scores, dtype=np.float64)
        self.slate_size = slate_size
        self.updates = 0

    def reset(self) -> None:
        self.updates = 0

    def candidate_scores(self, obs: dict, info: dict | None = None) -> np.ndarray:
        n = len(next(iter(obs.values())))
        return np.broadcast_to(self.scores, (n, self.scores.shape[-1])).copy()

    def recommend(self, obs: dict, info: dict | None = None) -> np.ndarray:
        return np.argsort(-self.candidate_scores(obs, info), axis=1, kind="stable")[:, : self.slate_size]

    def update(self, *args: Any) -> None:
        self.updates += 1


def _response(n: int, k: int, clicked: Any = None) -> SimpleNamespace:
    c = np.zeros((n, k), bool) if clicked is None else np.asarray(clicked, bool)
    return SimpleNamespace(clicked=c, watch_time=c.astype(float))


def _run(policy: Any, obs: dict, info: dict, steps: int) -> np.ndarray:
    """``steps`` rounds of recommend + update on the same candidates; every slate."""
    out = []
    n = len(next(iter(obs.values())))
    for _ in range(steps):
        s = policy.recommend(obs, info)
        policy.update(obs, s, _response(n, s.shape[1]), np.zeros(n), info)
        out.append(s)
    return np.stack(out)


# ----------------------------------------------------------------- MMR
FEATS = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.7, 0.7]])
REL = np.array([1.0, 0.9, 0.1, 0.5])


def test_mmr_lambda_one_is_the_base_top_k_and_lambda_zero_the_most_dissimilar() -> None:
    obs = {"candidate_features": np.stack([FEATS, FEATS[::-1]])}
    base = FixedScores(np.stack([REL, REL[::-1]]), 3)
    np.testing.assert_array_equal(MMR(base, 3, lam=1.0).recommend(obs), base.recommend(obs))
    # lam = 0: the most relevant first, then the one orthogonal to it (cos 0), then the one
    # whose largest similarity to the slate is smallest (0.707 < 0.994)
    np.testing.assert_array_equal(MMR(base, 3, lam=0.0).recommend(obs), [[0, 2, 3], [3, 1, 0]])
    # lam = 0.5 on the raw scores: 0 (0.5); then 1: 0.45 - 0.5*0.994 < 2: 0.05 - 0 < 3: 0.25 - 0.354
    np.testing.assert_array_equal(MMR(base, 2, lam=0.5, normalize=False).recommend(obs)[0], [0, 2])


# ----------------------------------------------------------------- calibrated
def test_calibrated_matches_the_history_topic_proportions() -> None:
    topics = np.array([0, 0, 0, 1, 1, 2])          # one-hot topic features of 6 candidates
    obs = {"candidate_features": np.eye(3)[topics][None]}
    rel = np.array([0.5, 0.45, 0.4, 0.3, 0.2, 1.0])  # the base loves topic 2
    info = {"user_id": np.array([7])}
    base = FixedScores(rel, 3)
    plain = Calibrated(base, 3, lam=0.0)
    np.testing.assert_array_equal(plain.recommend(obs, info), base.recommend(obs))
    cal = Calibrated(base, 3, lam=0.99)
    cal.reset()
    # history: clicks on two topic-0 items and one topic-1 item -> p = (2/3, 1/3, 0)
    s = cal.recommend(obs, info)
    cal.update(obs, np.array([[0, 1, 3]]), _response(1, 3, [[1, 1, 1]]), np.zeros(1), info)
    np.testing.assert_allclose(cal.user_topics(), [[2 / 3, 1 / 3, 0.0]])
    s = cal.recommend(obs, info)
    # KL picks topic 0 (closest single topic), then topic 1, then topic 0 again: q = p;
    # within a topic the most relevant item
    np.testing.assert_array_equal(s, [[0, 3, 1]])
    # a new user in the row has no history: back to the base's order
    np.testing.assert_array_equal(cal.recommend(obs, {"user_id": np.array([8])}), base.recommend(obs))


def test_calibrated_kl_value_is_steck_formula() -> None:
    """The second pick compares KL(p || q~) of (1, 0) and (1/2, 1/2) slates (alpha = 0.01)."""
    p = np.array([2 / 3, 1 / 3])

    def kl(q: np.ndarray) -> float:
        qt = 0.99 * q + 0.01 * p
        return float(np.sum(p * np.log(p / qt)))

    assert kl(np.array([1.0, 0.0])) == pytest.approx(1.2672, abs=1e-3)
    assert kl(np.array([0.5, 0.5])) == pytest.approx(0.0556, abs=1e-3)


@pytest.mark.parametrize("alpha", [0.01, 0.0])
def test_calibrated_divergences_equal_the_dense_kl(alpha: float) -> None:
    """The O(N T + entries) divergence of every candidate equals KL(p || q~) computed in
    full, for sparse and dense topic weights (and infinite where alpha = 0 misses a topic)."""
    rng = np.random.default_rng(1)
    n, c, t, k = 4, 6, 5, 2
    item = rng.random((n, c, t)) * (rng.random((n, c, t)) < 0.5)
    item[:, :, 0] += 0.1
    item /= item.sum(axis=2, keepdims=True)
    p = rng.random((n, t)) * (rng.random((n, t)) < 0.7)
    p[0] = 0.0                                      # a user without history
    p[1:, 1] += 0.2
    p = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-300)
    qsum = item[:, :k].sum(axis=1)
    cal = Calibrated(FixedScores(np.zeros(c), 2), 2, alpha=alpha)
    nz = np.nonzero((item > 0) & (p[:, None, :] > 0))
    plogp = (p * np.log(np.where(p > 0, p, 1.0))).sum(axis=1)
    got = cal._divergences(p, plogp, qsum, k, nz, p[nz[0], nz[2]], item[nz], nz[0] * c + nz[1], c)
    qt = (1 - alpha) * (qsum[:, None, :] + item) / (k + 1) + alpha * p[:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np.where(p[:, None, :] > 0, p[:, None, :] * np.log(
            np.where(p[:, None, :] > 0, p[:, None, :], 1.0) / qt), 0.0).sum(axis=2)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert (got[0] == 0).all() and (np.isinf(got).any() == (alpha == 0.0))


# ----------------------------------------------------------------- FairCo
def test_fairco_equalises_exposure_of_groups_with_equal_merit() -> None:
    # group 0: two items of 0.6, group 1: four of 0.3 -> equal merit 1.2 per user
    rel = np.array([0.6, 0.6, 0.3, 0.3, 0.3, 0.3])
    groups = np.array([[0, 0, 1, 1, 1, 1]])
    obs, info = {"x": np.zeros((1, 1))}, {"candidate_creator_ids": groups}
    bias = 1.0 / np.log2(2.0 + np.arange(2))

    def shares(slates: np.ndarray) -> np.ndarray:
        g = groups[0][slates[:, 0]]  # (T, K)
        e = np.array([(bias * (g == j)).sum() for j in (0, 1)])
        return e / e.sum()

    base = _run(FairCo(FixedScores(rel, 2), 2, lam=0.0), obs, info, 200)
    assert shares(base)[0] == 1.0  # the base shows group 0 only
    fair = FairCo(FixedScores(rel, 2), 2, lam=0.1)
    slates = _run(fair, obs, info, 200)
    assert abs(shares(slates)[0] - 0.5) < 0.02
    # the state is the paper's: exposure and merit sums, tau - 1 = users served
    assert fair.served == 200
    np.testing.assert_allclose(fair.merit, [240.0, 240.0])
    np.testing.assert_allclose(fair.exposure.sum(), 200 * bias.sum())
    ratio = fair.exposure / fair.merit
    np.testing.assert_allclose(fair.errors(), 200 * (ratio.max() - ratio))


def test_fairco_first_step_and_unseen_group() -> None:
    """Before any feedback FairCo is its base; a group seen for the first time gets the
    full gap ``(tau - 1) * best ratio``."""
    rel = np.array([0.9, 0.8, 0.1])
    fair = FairCo(FixedScores(rel, 1), 1, lam=1.0)
    obs = {"x": np.zeros((1, 1))}
    info = {"candidate_creator_ids": np.array([[0, 0, 1]])}
    assert fair.recommend(obs, info).tolist() == [[0]]
    fair.update(obs, np.array([[0]]), _response(1, 1), np.zeros(1), info)
    # ratios: group 0: 1 / 1.7, group 1: 0 / 0.1; err(1) = 1 * 1/1.7 -> 0.1 + 0.588 < 0.9
    np.testing.assert_allclose(fair.errors(3), [0.0, 1 / 1.7, 1 / 1.7])
    info2 = {"candidate_creator_ids": np.array([[0, 0, 2]])}  # group 2 is new
    assert fair.recommend(obs, info2).tolist() == [[0]]


# ----------------------------------------------------------------- P-MMF
def test_project_duals_is_the_projection_onto_the_dual_set() -> None:
    y = np.array([0.3, -0.4, -0.1, 0.2])
    np.testing.assert_allclose(project_duals(y, 1.0), y)            # feasible: unchanged
    np.testing.assert_allclose(project_duals(y, 0.1), [0.3, -0.1, 0.0, 0.2])  # theta = 0.3
    np.testing.assert_allclose(project_duals(y, 0.0), [0.3, 0.0, 0.0, 0.2])
    # brute force: the constraint holds and nothing closer does
    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.normal(size=5)
        z = project_duals(y, 0.5)
        assert np.maximum(-z, 0).sum() <= 0.5 + 1e-12
        for _ in range(50):
            w = z + rng.normal(scale=0.05, size=5)
            if np.maximum(-w, 0).sum() <= 0.5:
                assert np.sum((w - y) ** 2) >= np.sum((z - y) ** 2) - 1e-12


def test_pmmf_duals_follow_the_stated_update() -> None:
    rel = np.array([1.0, 0.5])
    obs, info = {"x": np.zeros((1, 1))}, {"candidate_creator_ids": np.array([[0, 1]])}
    lr, gamma, lam = 1.0, 0.2, 0.05
    pm = PMMF(FixedScores(rel, 1), 1, lam=lam, learning_rate=lr, gamma=gamma)
    eta = lr / math.sqrt(2)
    rho = np.array([0.5, 0.5])
    assert pm.recommend(obs, info).tolist() == [[0]]
    pm.update(obs, np.array([[0]]), _response(1, 1), np.zeros(1), info)
    g = gamma * (rho - [1.0, 0.0])                       # momentum from 0
    y = rho * (0 - eta * g / rho**2)                      # (0.1414, -0.1414): needs projection
    assert np.maximum(-y, 0).sum() > lam
    np.testing.assert_allclose(pm.gradient, g)
    np.testing.assert_allclose(pm.mu, np.array([y[0], -lam]) / rho)
    # step 2: 0.5 - mu_1 = 0.6 < 1 - mu_0 = 0.717: provider 0 again
    mu = pm.mu.copy()
    assert pm.recommend(obs, info).tolist() == [[0]]
    pm.update(obs, np.array([[0]]), _response(1, 1), np.zeros(1), info)
    g2 = gamma * (rho - [1.0, 0.0]) + (1 - gamma) * g
    y2 = project_duals(rho * (mu - eta * g2 / rho**2), lam)
    np.testing.assert_allclose(pm.mu, y2 / rho)


def test_pmmf_raises_the_least_exposed_provider() -> None:
    # provider 1's items are always worse: the base never shows them
    rel = np.array([0.9, 0.8, 0.7, 0.4, 0.3, 0.2])
    obs = {"x": np.zeros((4, 1))}
    info = {"candidate_creator_ids": np.tile([0, 0, 0, 1, 1, 1], (4, 1))}

    def min_share(slates: np.ndarray) -> float:
        g = info["candidate_creator_ids"][0][slates]
        return min((g == 0).mean(), (g == 1).mean())

    assert min_share(FixedScores(rel, 2).recommend(obs)) == 0.0
    pm = PMMF(FixedScores(rel, 2), 2, lam=1.0, learning_rate=1.0)
    slates = _run(pm, obs, info, 100)
    assert 0.4 < min_share(slates) <= 0.5
    assert pm.mu[1] < 0.0 < pm.mu[0]  # the under-exposed provider's dual lifts it
    # shown in the order of relevance
    pm = PMMF(FixedScores(rel, 2), 2, lam=1.0)
    pm.mu = np.array([0.0, -1.0])
    pm.seen = np.array([True, True])
    pm.gradient = np.zeros(2)
    assert pm.recommend(obs, info)[0].tolist() == [3, 4]


def test_pmmf_forgets_a_provider_that_left() -> None:
    # providers 0, 1, 2; provider 2 leaves after 10 updates (its items stop appearing)
    rel = np.array([0.9, 0.8, 0.4, 0.3, 0.2, 0.1])
    obs = {"x": np.zeros((2, 1))}
    three = {"candidate_creator_ids": np.tile([0, 0, 1, 1, 2, 2], (2, 1))}
    two = {"candidate_creator_ids": np.tile([0, 0, 1, 1, 1, 1], (2, 1))}
    pm = PMMF(FixedScores(rel, 2), 2, lam=1.0, learning_rate=1.0, active_window=5)
    _run(pm, obs, three, 10)
    assert pm.seen.tolist() == [True, True, True] and pm.mu[2] < 0.0  # owed exposure
    _run(pm, obs, two, 4)
    assert pm.seen.tolist() == [True, True, True]  # absent for fewer than 5 updates
    _run(pm, obs, two, 1)
    assert pm.seen.tolist() == [True, True, False]  # gone: no share, no dual, no budget
    assert pm.mu[2] == 0.0 and pm.gradient[2] == 0.0
    np.testing.assert_allclose(pm.shares(), [0.5, 0.5, 0.0])
    slates = _run(pm, obs, two, 50)
    assert np.maximum(-pm.mu, 0.0) @ pm.shares() <= 1.0 + 1e-9  # lam bounds the live duals
    assert pm.mu[1] < pm.mu[0]  # the live under-exposed provider is lifted
    shown = two["candidate_creator_ids"][0][slates[-20:]]
    assert 0.4 < (shown == 1).mean() <= 0.6  # and gets about its half of the exposure


# ----------------------------------------------------------------- composition
def test_rerankers_forward_to_the_base_and_report_propensities() -> None:
    base = FixedScores([0.3, 0.2, 0.1], 2)
    assert isinstance(base, ScoresCandidates)
    mmr = MMR(base, 2, lam=1.0)
    obs = {"candidate_features": np.eye(3)[None]}
    s = mmr.recommend(obs)
    mmr.update(obs, s, _response(1, 2), np.zeros(1))
    assert base.updates == 1 and mmr.name == "mmr(fixed)" and not mmr.is_oracle
    np.testing.assert_array_equal(mmr.propensity(s), [[1.0, 1.0]])
    assert mmr.slate_propensity(s[:, ::-1]).tolist() == [0.0]
    assert MMR(GreedyOracle(2), 2).is_oracle


def test_rerankers_reject_a_base_without_scores_and_bad_scores() -> None:
    with pytest.raises(ConfigError, match=r"FairCo.base: expected a policy with candidate_scores"):
        FairCo(RandomPolicy(5, 2), 2)
    with pytest.raises(ConfigError, match=r"MMR.base: expected a policy object"):
        MMR("linucb", 2)
    with pytest.raises(DataError, match="NaN"):
        MMR(FixedScores([np.nan, 1.0, 0.0], 2), 2).recommend({"candidate_features": np.eye(3)[None]})
    with pytest.raises(ConfigError, match=r"FairCo.group_key: expected an \(N, C\) entry"):
        FairCo(FixedScores([1.0, 0.0], 1), 1).recommend({"x": np.zeros((1, 1))}, {})


def test_infinite_base_scores_rank_first() -> None:
    mmr = MMR(FixedScores([0.2, np.inf, 0.5], 2), 2, lam=1.0)
    assert mmr.recommend({"candidate_features": np.eye(3)[None]}).tolist() == [[1, 2]]


CASES = {
    "fairco": {"base": "linucb", "lam": 0.01, "group_key": "candidate_features"},
    "pmmf": {"base": "greedy_oracle", "learning_rate": 0.5, "group_key": "candidate_features"},
    "mmr": {"base": "linucb", "base_args": {"alpha": 0.5}, "lam": 0.7},
    "calibrated": {"base": "greedy_oracle", "lam": 0.5},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_reranker_runs_in_evaluate_through_make_policy(name: str) -> None:
    env = "recarena/InterestEvolution-v0"
    policy = make_policy(name, env, **CASES[name])
    assert policy.name.startswith(f"{name}(")
    a = evaluate(policy, env, users=6, seed=3, env_kwargs={"horizon": 15})
    b = evaluate(make_policy(name, env, **CASES[name]), env, users=6, seed=3,
                 env_kwargs={"horizon": 15})
    assert a.equals(b) and len(a) == 6 and (a["length"] > 0).all()


def test_make_policy_needs_a_scoring_base() -> None:
    env = "recarena/InterestEvolution-v0"
    with pytest.raises(ConfigError, match=r"policy 'mmr' argument base: expected the name of a registered policy with candidate scores: .*linucb"):
        make_policy("mmr", env)
    with pytest.raises(ConfigError, match=r"MMR.base: expected a policy with candidate_scores"):
        make_policy("mmr", env, base="random")
    with pytest.raises(ConfigError, match=r"policy 'fairco' argument base_args: expected a table"):
        make_policy("fairco", env, base="linucb", base_args=3)
