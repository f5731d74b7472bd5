"""RecSim's long-term satisfaction and interest exploration models against their analytic
distributions (fixed seeds; tolerances are several standard errors), and the behaviour
each environment exists to show."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from recarena.agents import FeatureSortPolicy, GreedyOracle, RandomPolicy, evaluate
from recarena.simulators.interest_exploration import (
    ExplorationUsers,
    ExplorationWorld,
    TopicDocuments,
)
from recarena.simulators.long_term_satisfaction import ChocKaleUsers, ChocKaleWorld

N = 40_000


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# ----------------------------------------------------------------- choc / kale
def test_initial_npe_is_uniform_and_satisfaction_its_sigmoid() -> None:
    users = ChocKaleUsers(memory_discount=0.7, sensitivity=0.3)
    state = users.initial_state(N, np.random.default_rng(0))
    half = 0.5 / (1.0 - 0.7)
    assert stats.kstest(state.npe, stats.uniform(-half, 2 * half).cdf).pvalue > 1e-3
    np.testing.assert_allclose(state.satisfaction, _sigmoid(0.3 * state.npe))
    assert np.all(state.budget == 60)


def test_npe_update_is_recsims_rule() -> None:
    users = ChocKaleUsers(innovation_stddev=0.0, sensitivity=0.5)
    state = users.initial_state(5, np.random.default_rng(1))
    before = state.npe.copy()
    c = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    users.next_state(state, c, np.random.default_rng(2))
    np.testing.assert_allclose(state.npe, 0.7 * before - 2.0 * (c - 0.5))
    np.testing.assert_allclose(state.satisfaction, _sigmoid(0.5 * state.npe))
    assert np.all(state.budget == 59)
    # the innovation noise has the stated standard deviation
    noisy = ChocKaleUsers(innovation_stddev=0.05)
    state = noisy.initial_state(N, np.random.default_rng(3))
    before = state.npe.copy()
    noisy.next_state(state, np.full(N, 0.5), np.random.default_rng(4))
    resid = state.npe - 0.7 * before
    assert abs(resid.mean()) < 4 * 0.05 / np.sqrt(N)
    assert abs(resid.std() / 0.05 - 1.0) < 0.03


@pytest.mark.parametrize("c", [0.0, 0.3, 1.0])
def test_log_engagement_is_normal_with_the_interpolated_parameters(c: float) -> None:
    users = ChocKaleUsers(sensitivity=0.4)
    state = users.initial_state(N, np.random.default_rng(5))
    log_e = np.log(users.respond(state, np.full(N, c), np.random.default_rng(6)))
    loc = (c * 5.0 + (1 - c) * 4.0) * state.satisfaction
    scale = c * 1.0 + (1 - c) * 1.0
    z = (log_e - loc) / scale
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_world_clicks_the_top_item_and_ends_after_the_budget() -> None:
    world = ChocKaleWorld(ChocKaleUsers(time_budget=7), num_candidates=5, slate_size=3)
    world.reset(100, np.random.default_rng(0))
    slates = np.tile([4, 0, 2], (100, 1))
    for t in range(7):
        top = world.candidates.clickbait[:, 4].copy()
        out = world.step(slates)
        np.testing.assert_array_equal(out.clickbait[:, 0], top)
        assert out.response.clicked[:, 0].all() and not out.response.clicked[:, 1:].any()
        assert (out.response.watch_time[:, 0] > 0).all() and (out.response.watch_time[:, 1:] == 0).all()
        assert out.gone.all() == (t == 6)


def test_best_constant_diet_switches_with_sensitivity() -> None:
    assert ChocKaleUsers(sensitivity=0.01).best_constant_clickbait() == 1.0
    assert ChocKaleUsers(sensitivity=0.2).best_constant_clickbait() == 0.0
    assert 0.0 < ChocKaleUsers(sensitivity=0.07).best_constant_clickbait() < 1.0


def test_choc_wins_now_and_kale_wins_the_session_when_satisfaction_matters() -> None:
    env_id, n = "recarena/LongTermSatisfaction-v0", 600
    choc = FeatureSortPolicy("candidate_clickbait", 2, descending=True)
    kale = FeatureSortPolicy("candidate_clickbait", 2, descending=False)
    # RecSim's sensitivity: satisfaction barely moves, clickbait is close to free
    a = evaluate(choc, env_id, users=n, seed=0)
    b = evaluate(kale, env_id, users=n, seed=0)
    assert a["return"].mean() > 1.2 * b["return"].mean()
    # a sensitive user: choc wins the first step, kale the 60-step session
    kw = {"sensitivity": 0.2}
    a = evaluate(choc, env_id, users=n, seed=0, env_kwargs=kw | {"horizon": 1})
    b = evaluate(kale, env_id, users=n, seed=0, env_kwargs=kw | {"horizon": 1})
    assert a["return"].mean() > 1.2 * b["return"].mean()
    a = evaluate(choc, env_id, users=n, seed=0, env_kwargs=kw)
    b = evaluate(kale, env_id, users=n, seed=0, env_kwargs=kw)
    assert b["return"].mean() > 1.5 * a["return"].mean()


# ----------------------------------------------------------------- interest exploration
def test_user_types_and_affinities_follow_the_cluster_sampler() -> None:
    users = ExplorationUsers()
    state = users.initial_state(N, np.random.default_rng(7))
    assert stats.binomtest(int((state.user_type == 0).sum()), N, 0.3).pvalue > 1e-3
    mean = np.array([[0.1, 0.7], [0.7, 0.1]])
    for u in (0, 1):
        log_a = np.log(state.affinity[state.user_type == u])
        np.testing.assert_allclose(log_a.mean(axis=0), mean[u], atol=4 * 0.1 / np.sqrt(len(log_a)))
        np.testing.assert_allclose(log_a.std(axis=0), 0.1, rtol=0.05)


def test_documents_follow_the_topic_sampler() -> None:
    topic, quality = TopicDocuments().sample((N,), np.random.default_rng(8))
    assert stats.binomtest(int((topic == 0).sum()), N, 0.2).pvalue > 1e-3
    for t, m in ((0, 0.8), (1, 0.2)):
        log_q = np.log(quality[topic == t])
        assert abs(log_q.mean() - m) < 4 * 0.1 / np.sqrt(len(log_q))


def test_choices_match_the_multinomial_logit_with_no_click_mass() -> None:
    world = ExplorationWorld(ExplorationUsers(), TopicDocuments(), num_candidates=3, slate_size=2)
    world.reset(N, np.random.default_rng(9))
    world.state.affinity[:] = [1.0, 2.5]
    world.candidates.topic[:] = [0, 1, 1]
    world.candidates.quality[:] = [3.0, 2.0, 1.0]
    out = world.step(np.tile([0, 1], (N, 1)))
    logits = np.array([1.0 + 3.0, 2.5 + 2.0, 5.0])
    p = np.exp(logits) / np.exp(logits).sum()
    clicked = out.response.clicked
    counts = [clicked[:, 0].sum(), clicked[:, 1].sum(), N - clicked.sum()]
    assert stats.chisquare(counts, p * N).pvalue > 1e-3
    assert clicked.sum(axis=1).max() == 1


def test_popularity_bias_myopic_quality_beats_random_and_the_oracle_beats_both() -> None:
    env_id, n = "recarena/InterestExploration-v0", 1500
    rnd = evaluate(RandomPolicy(10, 2, seed=0), env_id, users=n, seed=0)["return"]
    myopic = evaluate(FeatureSortPolicy("candidate_quality", 2), env_id, users=n, seed=0)["return"]
    oracle = evaluate(GreedyOracle(2), env_id, users=n, seed=0)["return"]
    assert myopic.mean() > 1.4 * rnd.mean()
    diff = (oracle - myopic).to_numpy()
    assert diff.mean() > 2.5 * diff.std(ddof=1) / np.sqrt(n)
