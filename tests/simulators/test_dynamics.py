"""Properties of the user dynamics, each checked against its analytic expectation."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest

import recarena  # noqa: F401
from recarena.simulators.catalog import TopicQualitySampler
from recarena.simulators.choice import MultinomialLogitChoice
from recarena.simulators.records import Items, UserBatch
from recarena.simulators.users import (
    InterestEvolution,
    NoveltySeeking,
    Satiation,
    SatisfactionLeave,
    TimeBudget,
    UserModel,
)

T = 5


def _one_hot_items(n: int, topics: list[int], quality: float = 0.0, length: float = 4.0) -> Items:
    topic = np.tile(np.asarray(topics), (n, 1))
    k = len(topics)
    return Items(np.arange(n * k).reshape(n, k), topic, np.eye(T)[topic],
                 np.full((n, k), quality), np.full((n, k), length), topic)


def test_recsim_interest_update_expected_drift() -> None:
    """u = 0.5 on the clicked topic: delta = (0.3 - 0.3 * 0.5) * 1 * (1 - 0.5) = 0.075,
    P(toward) = (0.5 + 1) / 2 = 0.75, so E[change] = (0.75 - 0.25) * 0.075 = 0.0375."""
    n = 40_000
    state = UserBatch.zeros(n, T, T, 0)
    state.interests[:, 0] = 0.5
    items = _one_hot_items(n, [0, 1])
    clicked = np.zeros((n, 2), bool)
    clicked[:, 0] = True
    InterestEvolution().update(state, items, clicked, np.random.default_rng(0))
    change = state.interests[:, 0] - 0.5
    assert set(np.round(np.unique(change), 6)) == {-0.075, 0.075}
    assert abs(change.mean() - 0.0375) < 4 * change.std() / np.sqrt(n)
    np.testing.assert_array_equal(state.interests[:, 1:], 0.0)  # other topics untouched


def test_interests_move_toward_consumed_topic() -> None:
    state = UserBatch.zeros(1, T, T, 0)
    items = _one_hot_items(1, [2])
    clicked = np.ones((1, 1), bool)
    model = InterestEvolution(direction="toward")
    history = [0.0]
    for _ in range(30):
        model.update(state, items, clicked, np.random.default_rng(0))
        history.append(state.interests[0, 2])
    assert np.all(np.diff(history) > 0) and history[-1] > 0.8


def test_no_click_leaves_interests_unchanged() -> None:
    state = UserBatch.zeros(3, T, T, 0)
    state.interests[:] = 0.3
    InterestEvolution().update(state, _one_hot_items(3, [0, 1]), np.zeros((3, 2), bool),
                               np.random.default_rng(0))
    np.testing.assert_array_equal(state.interests, 0.3)


def test_satiation_lowers_click_probability_and_recovers() -> None:
    """Repeating a topic lowers its MNL click probability; resting restores it."""
    sat = Satiation(recovery=0.8, increment=1.0, strength=0.5)
    model = UserModel(choice=MultinomialLogitChoice(temperature=0.5), interest_dynamics=None,
                      satiation=sat, budget=TimeBudget(initial=1000.0), history_length=0)
    state = model.initial_state(1, T, T, np.random.default_rng(0))
    state.interests[:] = 0.5
    target = _one_hot_items(1, [0])

    def p_click() -> float:
        return float(model.choice.click_probabilities(model.scores(state, target))[0, 0])

    fresh = p_click()
    for _ in range(5):
        clicked = np.ones((1, 1), bool)
        model.next_state(state, target, clicked, 4.0 * clicked, np.random.default_rng(0))
    # satiation after 5 consumptions: sum_{j<5} 0.8^j
    np.testing.assert_allclose(state.satiation[0, 0], sum(0.8**j for j in range(5)))
    bored = p_click()
    other = _one_hot_items(1, [1])
    for _ in range(40):  # rest: consume nothing of topic 0
        model.next_state(state, other, np.zeros((1, 1), bool), np.zeros((1, 1)),
                         np.random.default_rng(0))
    rested = p_click()
    assert bored < fresh - 0.1
    assert rested == pytest.approx(fresh, abs=1e-3)


def test_novelty_seekers_prefer_new_topics() -> None:
    nov = NoveltySeeking(static_alpha=1.0, static_beta=1.0, session_std=0.0, weight=0.5)
    model = UserModel(choice=MultinomialLogitChoice(), interest_dynamics=None, novelty=nov,
                      history_length=4)
    state = model.initial_state(2, T, T, np.random.default_rng(0))
    state.interests[:] = 0.0
    state.novelty_session[:] = [0.9, 0.1]  # a seeker and a familiarity lover
    state.history_topic[:, 0] = 0
    scores = model.scores(state, _one_hot_items(2, [0, 1]))  # topic 0 seen, topic 1 new
    assert scores[0, 1] > scores[0, 0] and scores[1, 1] < scores[1, 0]
    np.testing.assert_allclose(scores[:, 1], 0.5 * (2 * np.array([0.9, 0.1]) - 1))


def test_novelty_session_part_varies_around_static_part() -> None:
    nov = NoveltySeeking(session_std=0.75)
    state = UserBatch.zeros(20_000, T, T, 1)
    nov.init(state, np.random.default_rng(0))
    static, first = state.novelty_static.copy(), state.novelty_session.copy()
    nov.start_session(state, np.ones(state.size, bool), np.random.default_rng(1))
    assert np.corrcoef(static, first)[0, 1] > 0.8  # the static trait dominates
    assert not np.allclose(first, state.novelty_session)  # the session part changes
    np.testing.assert_allclose(static.mean(), 0.5, atol=0.01)  # Beta(2, 2) mean


def test_time_budget_recsim_update() -> None:
    """Click on quality q: budget -= 4 - 0.9/3.4 * 4 * q; no click: -= 0.5."""
    b = TimeBudget()
    state = UserBatch.zeros(2, T, T, 0)
    b.init(state)
    items = _one_hot_items(2, [0, 1], quality=2.0)
    clicked = np.array([[True, False], [False, False]])
    b.update(state, items, clicked, 4.0 * clicked, np.zeros((2, 2)))
    np.testing.assert_allclose(state.budget, [200 - 4 + 0.9 / 3.4 * 4 * 2.0, 199.5])


def test_satisfaction_collapse_ends_session() -> None:
    s = SatisfactionLeave(initial=1.0, rate=0.5, no_click_utility=-1.0, threshold=0.0)
    state = UserBatch.zeros(1, T, T, 0)
    s.init(state)
    items = _one_hot_items(1, [0])
    s.update(state, items, np.zeros((1, 1), bool), np.zeros((1, 1)))
    assert state.satisfaction[0] == pytest.approx(0.0) and not s.has_left(state)[0]
    s.update(state, items, np.zeros((1, 1), bool), np.zeros((1, 1)))
    assert state.satisfaction[0] == pytest.approx(-0.5) and s.has_left(state)[0]


def _mean_length_under(env_id: str, pick: str, episodes: int = 60) -> float:
    env = gym.make(env_id)
    lengths = []
    for ep in range(episodes):
        _, info = env.reset(seed=ep)
        k = env.unwrapped.slate_size
        done, n = False, 0
        while not done:
            q = info["oracle"]["quality"]
            order = np.argsort(q if pick == "low" else -q)
            _, _, term, trunc, info = env.step(order[:k])
            done, n = term or trunc, n + 1
        lengths.append(n)
    return float(np.mean(lengths))


@pytest.mark.parametrize("env_id", ["recarena/InterestEvolution-v0", "recarena/Slate-v0"])
def test_low_quality_diet_ends_sessions_sooner(env_id: str) -> None:
    low = _mean_length_under(env_id, "low")
    high = _mean_length_under(env_id, "high")
    assert low < 0.8 * high, (low, high)


def test_recsim_item_distribution_facts() -> None:
    s = TopicQualitySampler()
    means = s.topic_quality_means()
    assert means.shape == (20,)
    np.testing.assert_allclose(means[:14], np.linspace(-3, 0, 14))
    np.testing.assert_allclose(means[14:], np.linspace(0, 3, 6))
    items = s.sample((50_000,), np.random.default_rng(0))
    counts = np.bincount(items.topic, minlength=20)
    assert stats_uniform_ok(counts)
    feats = np.asarray(items.features)  # lazy one-hot rows, materialised here
    assert feats.dtype == np.float32 and feats.shape == (50_000, 20)
    np.testing.assert_array_equal(feats, np.eye(20, dtype=np.float32)[items.topic])
    np.testing.assert_array_equal(items.features[7:9], feats[7:9])
    np.testing.assert_array_equal(items.features.astype(np.float64), feats)
    clone = pickle.loads(pickle.dumps(items.features.copy()))
    np.testing.assert_array_equal(np.asarray(clone), feats)
    resid = items.quality - means[items.topic]
    assert abs(resid.std() - 0.1) < 0.002 and abs(resid.mean()) < 0.002
    np.testing.assert_array_equal(items.length, 4.0)


def stats_uniform_ok(counts: np.ndarray) -> bool:
    from scipy import stats

    return stats.chisquare(counts).pvalue > 0.001
