"""The creator population and the creator world follow their stated rules
(recarena/simulators/creators): beliefs equal their moving-average formula on a scripted
history and see only the creator's own items, a creator with no exposure leaves after
exactly its window, entries are Poisson(entry_rate) (with a power check), the fast
thinking draws topics from its softmax, slow thinking sets the strategy and climbs effort
as written, quality follows its formula, and the world's feedback hook, snapshots and
pickling hold."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy import stats

from recarena.envs.slate import _default_user_model
from recarena.errors import ConfigError, ResetNeeded
from recarena.simulators.creators import (
    CreatorParams,
    CreatorPopulation,
    CreatorWorld,
    LiveCatalog,
    RoundFeedback,
    creator_params,
    sample_uniform_distinct,
)


def _feedback(m: int, t: int, **arrays: np.ndarray) -> RoundFeedback:
    zero = np.zeros((m, t))
    return RoundFeedback(*(np.asarray(arrays.get(k, zero), dtype=float)
                           for k in RoundFeedback._fields))


def _population(seed: int = 0, num_topics: int = 4, **kw: object) -> CreatorPopulation:
    pop = CreatorPopulation(creator_params(**kw), num_topics)
    pop.reset(np.random.default_rng(seed))
    return pop


# --------------------------------------------------------------------------- beliefs
def test_beliefs_follow_their_moving_average_on_a_scripted_history() -> None:
    m, t, eta, b0 = 3, 4, 0.25, 0.7
    w = {"exposure": 0.1, "click": 2.0, "watch_time": 0.5}
    pop = _population(num_creators=m, num_topics=t, belief_rate=eta, belief_init=b0,
                      entry_rate=0.0, window=100, income_weights=w, revision_every=100)
    rng = np.random.default_rng(5)
    exp_e = np.zeros((m, t))
    exp_i = np.full((m, t), b0)
    for _ in range(6):
        live = rng.integers(0, 3, size=(m, t)).astype(float)  # zeros: topics without items
        expo = rng.integers(0, 50, size=(m, t)) * (live > 0)
        clicks = rng.binomial(expo, 0.2)
        watch = clicks * rng.uniform(1, 4, size=(m, t))
        pop.step_round(_feedback(m, t, exposure=expo, clicks=clicks, watch_time=watch,
                                 live=live), rng)
        income = 0.1 * expo + 2.0 * clicks + 0.5 * watch
        for c in range(m):
            for k in range(t):
                if live[c, k] > 0:  # by hand, one entry at a time
                    exp_e[c, k] = (1 - eta) * exp_e[c, k] + eta * expo[c, k] / live[c, k]
                    exp_i[c, k] = (1 - eta) * exp_i[c, k] + eta * income[c, k] / live[c, k]
    np.testing.assert_allclose(pop.belief_exposure, exp_e, rtol=1e-12)
    np.testing.assert_allclose(pop.belief_income, exp_i, rtol=1e-12)


def test_beliefs_see_only_the_creators_own_items() -> None:
    """Information asymmetry: creator 0's beliefs do not move with the other creators'
    feedback, however large."""
    m, t = 3, 4
    a, b = _population(num_creators=m, entry_rate=0.0), _population(num_creators=m, entry_rate=0.0)
    live = np.ones((m, t))
    expo = np.zeros((m, t))
    expo[0] = 3.0
    other = expo.copy()
    other[1:] = 1000.0
    a.step_round(_feedback(m, t, exposure=expo, clicks=expo, live=live), np.random.default_rng(0))
    b.step_round(_feedback(m, t, exposure=other, clicks=other, live=live), np.random.default_rng(0))
    np.testing.assert_array_equal(a.belief_income[0], b.belief_income[0])
    np.testing.assert_array_equal(a.belief_exposure[0], b.belief_exposure[0])
    assert not np.array_equal(a.belief_income[1], b.belief_income[1])


# --------------------------------------------------------------------------- viability
@pytest.mark.parametrize("window", [1, 3, 6])
def test_a_creator_without_engagement_leaves_after_exactly_its_window(window: int) -> None:
    m, t = 2, 3
    pop = _population(num_creators=m, num_topics=t, window=window, viability_threshold=1.0,
                      entry_rate=0.0)
    clicks = np.zeros((m, t))
    clicks[1, 0] = 5.0  # creator 1 is viable every round, creator 0 never
    rng = np.random.default_rng(1)
    for r in range(1, window + 1):
        rec = pop.step_round(_feedback(m, t, clicks=clicks, live=np.ones((m, t))), rng)
        assert rec["left"][0] == (r == window), r
        assert pop.alive[0] == (r < window) and pop.alive[1]
    assert pop.creator_id[0] == -1


def test_one_viable_round_restarts_the_count() -> None:
    m, t = 1, 2
    pop = _population(num_creators=m, num_topics=t, window=3, viability_threshold=2.0,
                      entry_rate=0.0)
    rng = np.random.default_rng(0)
    seq = [0, 0, 2, 0, 0, 1]  # below, below, viable (reset), below, below, below -> leaves
    for r, c in enumerate(seq):
        rec = pop.step_round(_feedback(m, t, clicks=np.array([[c, 0.0]]), live=np.ones((m, t))), rng)
        assert bool(rec["left"][0]) == (r == len(seq) - 1), r


def test_in_the_world_a_creator_whose_items_are_never_shown_leaves_after_its_window() -> None:
    """The platform never shows creator 0's items: no exposure reaches it through the
    world's feedback hook, and it leaves at the end of round ``window`` exactly."""
    window, rl = 3, 4
    world = _world(num_creators=5, window=window, viability_signal="exposure",
                   viability_threshold=1.0, entry_rate=0.0, round_length=rl)
    world.reset(8, np.random.default_rng(3))
    target = int(world.population.creator_id[0])
    ends = []
    for _ in range(rl * (window + 1)):
        cands = world.candidates
        # the 2 candidates of other creators with the lowest index (there are always 2)
        order = np.argsort(cands.creator_id == target, axis=1, kind="stable")[:, :2]
        out = world.step(order)
        assert not np.any(out.slate.creator_id == target)
        rep = world.round_report
        if rep is not None:
            rows = rep["creators"]["creator_id"] == target
            ends.append((rep["round"], bool(rep["creators"]["left"][rows].any()),
                         int(rep["creators"]["exposure"][rows].sum()) if rows.any() else None))
    assert ends[:window] == [(r, r == window - 1, 0) for r in range(window)]
    assert ends[window][2] is None  # not logged after it left
    assert target not in world.population.creator_id


# --------------------------------------------------------------------------- entry
def _entry_counts(rate: float, rounds: int, seed: int) -> np.ndarray:
    m, t = 60, 2
    pop = _population(seed, num_topics=t, num_creators=m, initial_creators=0, entry_rate=rate,
                      window=1, viability_threshold=1.0, budget_low=0, budget_high=0)
    rng = np.random.default_rng(seed)
    fb = _feedback(m, t)
    counts = np.empty(rounds, dtype=np.int64)
    for r in range(rounds):
        rec = pop.step_round(fb, rng)  # everyone alive leaves (no engagement): slots free
        counts[r] = rec["entered"].sum()
        assert counts[r] == rec["arrivals"]  # (never more arrivals than free slots here)
    return counts


def _poisson_gof_pvalue(counts: np.ndarray, rate: float) -> float:
    top = 8
    observed = np.bincount(np.minimum(counts, top), minlength=top + 1)
    pmf = stats.poisson.pmf(np.arange(top), rate)
    expected = counts.size * np.append(pmf, 1 - pmf.sum())
    return float(stats.chisquare(observed, expected).pvalue)


def test_entries_are_poisson_with_the_entry_rate_and_the_test_has_power() -> None:
    rate, rounds = 2.5, 800
    counts = _entry_counts(rate, rounds, seed=11)
    assert _poisson_gof_pvalue(counts, rate) > 1e-3
    assert abs(counts.mean() - rate) < 4 * np.sqrt(rate / rounds)
    # power: the same test on entries at a rate 20% off rejects
    assert _poisson_gof_pvalue(_entry_counts(3.0, rounds, seed=12), rate) < 1e-3
    # new creators take the lowest free slots and new ids
    pop = _population(num_creators=4, initial_creators=2, entry_rate=50.0, budget_low=0,
                      budget_high=0)
    rec = pop.step_round(_feedback(4, 4, clicks=np.ones((4, 4))), np.random.default_rng(0))
    assert rec["entered"].tolist() == [False, False, True, True]
    assert pop.creator_id.tolist() == [0, 1, 2, 3] and pop.entered_round.tolist() == [-1, -1, 0, 0]


# --------------------------------------------------------------------------- fast thinking
def test_topics_are_drawn_from_the_softmax_of_beliefs_plus_strategy() -> None:
    """Also: scaling every belief and the strategy leaves the choice unchanged."""
    t, tau = 4, 0.7
    pop = _population(num_creators=1, num_topics=t, temperature=tau, budget_low=4000,
                      budget_high=4000)
    pop.belief_income[0] = [0.0, 1.0, 0.5, -1.0]
    pop.strategy[0] = [0.2, 0.0, 0.0, 0.0]
    v = np.array([0.0, 1.0, 0.5, -1.0]) + [0.2, 0, 0, 0]
    v = v / (tau * np.abs(v).mean())  # relative to the creator's typical belief
    p = np.exp(v - v.max()) / np.exp(v - v.max()).sum()
    np.testing.assert_allclose(pop.topic_probabilities()[0], p, rtol=1e-12)
    pop.belief_income *= 1000.0
    pop.strategy *= 1000.0
    np.testing.assert_allclose(pop.topic_probabilities()[0], p, rtol=1e-12)
    items = pop.produce(np.random.default_rng(0))
    observed = np.bincount(items.topic, minlength=t)
    assert stats.chisquare(observed, 4000 * p).pvalue > 1e-3
    assert stats.chisquare(observed, np.full(t, 1000.0)).pvalue < 1e-6  # not uniform


# --------------------------------------------------------------------------- slow thinking
def test_slow_thinking_sets_the_strategy_and_climbs_effort_by_its_rule() -> None:
    m, t, k = 1, 3, 2
    pop = _population(num_creators=m, num_topics=t, revision_every=k, expertise_weight=0.5,
                      effort_init=0.5, effort_step=0.1, effort_cost=0.0, entry_rate=0.0,
                      window=100, budget_low=1, budget_high=1)
    e = pop.expertise[0].copy()
    rng = np.random.default_rng(0)
    live = np.array([[2.0, 0.0, 0.0]])

    def rounds(clicks: float) -> None:
        for _ in range(k):
            pop.step_round(_feedback(m, t, clicks=np.array([[clicks, 0, 0]]), live=live), rng)

    rounds(4.0)  # window income 8 over 4 live-item rounds: ybar = 2
    np.testing.assert_allclose(pop.strategy[0], 0.5 * e * 2.0)
    assert pop.effort[0] == pytest.approx(0.6)  # first revision: up
    rounds(6.0)  # utility rose: keep going up
    assert pop.effort[0] == pytest.approx(0.7)
    np.testing.assert_allclose(pop.strategy[0], 0.5 * e * 3.0)
    rounds(1.0)  # utility fell: turn around
    assert pop.effort[0] == pytest.approx(0.6)


# --------------------------------------------------------------------------- items
def test_quality_follows_expertise_times_effort_plus_noise() -> None:
    m, t = 6, 5
    exact = _population(num_creators=m, num_topics=t, quality_noise=0.0, quality_low=-1.0,
                        quality_high=2.0, budget_low=3, budget_high=3)
    topic = np.arange(m) % t
    effort = np.linspace(0.0, 1.0, m)
    items = exact.produce(np.random.default_rng(0), {"topic": topic, "effort": effort})
    want = -1.0 + 3.0 * exact.expertise[items.slot, topic[items.slot]] * effort[items.slot]
    np.testing.assert_allclose(items.quality, want, rtol=1e-12)
    assert np.all(items.topic == topic[items.slot]) and items.slot.size == 3 * m
    assert np.all((items.length >= 2.0) & (items.length <= 6.0))
    noisy = _population(num_creators=m, num_topics=t, quality_noise=0.3, budget_low=2000,
                        budget_high=2000)
    items = noisy.produce(np.random.default_rng(1), {"topic": topic, "effort": effort})
    resid = items.quality - (-1.0 + 3.0 * noisy.expertise[items.slot, topic[items.slot]]
                             * effort[items.slot])
    assert abs(resid.mean()) < 4 * 0.3 / np.sqrt(resid.size)
    assert stats.kstest(resid / 0.3, "norm").pvalue > 1e-3


def test_expertise_is_a_dirichlet_draw_scaled_to_its_maximum() -> None:
    pop = _population(num_creators=400, num_topics=5, expertise_alpha=2.0)
    assert np.allclose(pop.expertise.max(axis=1), 1.0) and np.all(pop.expertise >= 0)
    # E[d_j / max d] is symmetric over topics: every topic is someone's home about equally
    home = np.bincount(pop.home_topic, minlength=5)
    assert stats.chisquare(home).pvalue > 1e-3


# --------------------------------------------------------------------------- the world
def _world(round_length: int = 3, num_topics: int = 6, num_candidates: int = 8,
           slate_size: int = 2, **kw: object) -> CreatorWorld:
    params = creator_params(**({"num_creators": 10, "item_lifetime": 3} | kw))
    return CreatorWorld(_default_user_model(), LiveCatalog(num_topics, num_candidates, params),
                        slate_size, round_length)


def _run(world: CreatorWorld, steps: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    n = world.state.size
    trace = []
    for _ in range(steps):
        slates = np.argsort(rng.random((n, world.catalog.num_candidates)), axis=1)[:, :2]
        out = world.step(slates)
        rep = world.round_report
        trace.append((out.item_id.copy(), out.response.clicked.copy(),
                      out.response.watch_time.copy(), out.candidates.item_id.copy(),
                      None if rep is None else {k: v.copy() for k, v in rep["creators"].items()}))
    return trace


def _same(a: list, b: list) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        for u, v in zip(x, y, strict=True):
            if isinstance(u, dict):
                assert u.keys() == v.keys() and all(np.array_equal(u[k], v[k]) for k in u)
            else:
                assert np.array_equal(u, v)


def test_round_feedback_is_what_the_users_did_with_each_creators_items() -> None:
    world = _world(round_length=4)
    world.reset(16, np.random.default_rng(0))
    ids0 = world.population.creator_id.copy()
    expo, clicks = {}, {}
    for _ in range(4):
        out = world.step(np.tile([0, 1], (16, 1)))
        for c, k in zip(out.slate.creator_id.ravel(), out.response.clicked.ravel(), strict=True):
            expo[c] = expo.get(c, 0) + 1
            clicks[c] = clicks.get(c, 0) + int(k)
    rep = world.round_report
    assert rep is not None and rep["round"] == 0 and rep["step"] == 4
    cr = rep["creators"]
    for cid, e, k in zip(cr["creator_id"], cr["exposure"], cr["clicks"], strict=True):
        if cid in ids0:
            assert (e, k) == (expo.get(cid, 0), clicks.get(cid, 0))
    assert rep["catalog"]["exposure"].sum() == 16 * 2 * 4
    assert cr["exposure"].sum() <= 16 * 2 * 4  # (the rest: items kept after their creator left)
    assert rep["catalog"]["live_items"].sum() == world.catalog.size


def test_items_expire_after_their_lifetime_and_the_catalog_keeps_enough() -> None:
    world = _world(round_length=2, item_lifetime=3, viability_threshold=0.0, entry_rate=0.0)
    world.reset(4, np.random.default_rng(0))
    assert world.catalog.born.min() == -2 and world.catalog.born.max() == 0  # items of every age
    made = np.bincount(world.catalog.born + 2)
    for _ in range(2):
        world.step(np.tile([0, 1], (4, 1)))
    assert world.population.round == 1
    # after one round the oldest items (made 3 rounds before) are gone; one round's new ones
    assert sorted(set(world.catalog.born.tolist())) == [-1, 0, 1]
    assert np.array_equal(np.bincount(world.catalog.born + 1)[:2], made[1:])

    world = _world(round_length=2, item_lifetime=3, window=1, viability_threshold=1e9,
                   entry_rate=0.0)  # every creator leaves after one round
    world.reset(4, np.random.default_rng(0))
    for _ in range(2):
        world.step(np.tile([0, 1], (4, 1)))
    assert not world.population.alive.any()
    # their items go, but for the newest C, kept as orphans (slot M): candidates stay drawable
    cat = world.catalog
    assert cat.size == 8 and np.all(cat.slot == 10) and np.all(cat.born == 0)
    assert world.candidates.item_id.shape == (4, 8)
    assert world.round_report["creators"]["left"].all()


def test_world_snapshot_restore_and_pickle_continue_identically() -> None:
    world = _world(round_length=3)
    world.reset(6, np.random.default_rng(7))
    _run(world, 4, seed=1)  # (mid-round)
    snap = world.snapshot()
    blob = pickle.dumps(world)
    first = _run(world, 10, seed=2)
    world.restore(snap)
    _same(first, _run(world, 10, seed=2))
    _same(first, _run(pickle.loads(blob), 10, seed=2))
    world.restore(snap)  # a snapshot stays usable
    _same(first, _run(world, 10, seed=2))
    # a snapshot taken right after a round ended gives that round's report back
    _run(world, 1, seed=3)
    while world.round_report is None:
        _run(world, 1, seed=3)
    report, snap = world.round_report, world.snapshot()
    _run(world, 1, seed=4)
    assert world.round_report is None
    world.restore(snap)
    assert world.round_report is report


def test_same_seed_same_world_other_seed_other_world() -> None:
    a, b, c = _world(), _world(), _world()
    a.reset(5, np.random.default_rng(3))
    b.reset(5, np.random.default_rng(3))
    c.reset(5, np.random.default_rng(4))
    ta, tb, tc = _run(a, 9, 0), _run(b, 9, 0), _run(c, 9, 0)
    _same(ta, tb)
    assert not all(np.array_equal(x[3], y[3]) for x, y in zip(ta, tc, strict=True))


def test_controlled_creators_produce_what_they_are_told() -> None:
    world = _world(round_length=2, num_creators=4, entry_rate=0.0, window=100, quality_noise=0.0)
    world.reset(3, np.random.default_rng(0))
    world.creator_actions = {"topic": np.array([5, 4, 3, 2]), "effort": np.full(4, 1.0)}
    world.step(np.tile([0, 1], (3, 1)))
    assert world.round_report is None
    world.step(np.tile([0, 1], (3, 1)))
    cr = world.round_report["creators"]
    assert cr["topic"].tolist() == [5, 4, 3, 2] and np.all(cr["effort"] == 1.0)
    assert world.creator_actions is None  # one round's actions
    new = world.catalog.born == world.population.round
    q = world.catalog.quality[new]
    slot = world.catalog.slot[new]
    e = world.population.expertise[slot, world.catalog.topic[new]]
    np.testing.assert_allclose(q, -1.0 + 3.0 * e)


def test_actions_steer_the_creators_alive_in_the_round_and_entrants_follow_their_model() -> None:
    pop = _population(num_creators=4, initial_creators=2, num_topics=4, entry_rate=50.0,
                      budget_low=40, budget_high=40)
    actions = {"topic": np.full(4, 3), "effort": np.full(4, 0.9)}
    rec = pop.step_round(_feedback(4, 4, clicks=np.ones((4, 4))), np.random.default_rng(0),
                         actions)
    items = rec["items"]
    assert rec["entered"].tolist() == [False, False, True, True]
    assert np.all(items.topic[items.slot < 2] == 3)
    assert pop.effort.tolist() == [0.9, 0.9, 0.5, 0.5]
    for slot in (2, 3):  # 40 softmax draws over 4 topics: not all on topic 3
        assert np.any(items.topic[items.slot == slot] != 3)


def test_uniform_distinct_candidates() -> None:
    rng = np.random.default_rng(0)
    for m in (20, 30, 500):
        idx = sample_uniform_distinct(3000, 8, m, rng)
        assert idx.shape == (3000, 8) and np.all(np.diff(np.sort(idx, axis=1), axis=1) > 0)
        assert stats.chisquare(np.bincount(idx.ravel(), minlength=m)).pvalue > 1e-4


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(("changes", "field"), [
    ({"budet": 3}, "CreatorParams"),
    ({"budget_low": -1}, "CreatorParams.budget_low"),
    ({"budget_low": 3, "budget_high": 2}, "CreatorParams.budget_high"),
    ({"num_creators": 0}, "CreatorParams.num_creators"),
    ({"initial_creators": 99}, "CreatorParams.initial_creators"),
    ({"temperature": 0.0}, "CreatorParams.temperature"),
    ({"belief_rate": 1.5}, "CreatorParams.belief_rate"),
    ({"window": 0}, "CreatorParams.window"),
    ({"entry_rate": -1.0}, "CreatorParams.entry_rate"),
    ({"item_lifetime": 0}, "CreatorParams.item_lifetime"),
    ({"effort_init": 0.01}, "CreatorParams.effort_init"),
    ({"viability_signal": "likes"}, "CreatorParams.viability_signal"),
    ({"income_weights": {"gift": 1.0}}, "CreatorParams.income_weights"),
    ({"length_low": 0.0}, "CreatorParams.length_low"),
])
def test_bad_creator_parameters_raise_config_errors(changes: dict, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        creator_params(**changes)
    assert err.value.field == field


@pytest.mark.parametrize("actions", [
    {"topic": np.zeros(3, dtype=int)},
    {"topic": np.zeros(2, dtype=int), "effort": np.ones(3)},
    {"topic": np.full(3, 9), "effort": np.ones(3)},
    {"topic": np.zeros(3), "effort": np.ones(3)},
    {"topic": np.zeros(3, dtype=int), "effort": np.full(3, 1.5)},
])
def test_bad_creator_actions_raise_config_errors(actions: dict) -> None:
    pop = _population(num_creators=3, num_topics=4)
    with pytest.raises(ConfigError):
        pop.step_round(_feedback(3, 4), np.random.default_rng(0), actions)


def test_bad_world_and_catalog_setups() -> None:
    with pytest.raises(ConfigError, match="initial_creators"):
        LiveCatalog(4, 50, CreatorParams(num_creators=2, budget_low=1, item_lifetime=2))
    with pytest.raises(ConfigError, match="num_item_ids"):
        LiveCatalog(4, 5, CreatorParams(), num_item_ids=10)
    with pytest.raises(ConfigError, match="round_length"):
        _world(round_length=0)
    with pytest.raises(ConfigError):
        _population().step_round(_feedback(2, 2), np.random.default_rng(0))  # wrong shape
    with pytest.raises(ResetNeeded):
        _world().snapshot()


def test_an_all_false_mask_is_no_actions_and_a_partial_mask_steers_only_its_slots() -> None:
    from recarena.simulators.creators.population import _STATE

    m, t = 6, 4
    kw = dict(num_creators=m, initial_creators=4, num_topics=t, entry_rate=1.5, window=2,
              revision_every=2, budget_low=2, budget_high=4)
    free, masked, partial = _population(**kw), _population(**kw), _population(**kw)
    rng_a, rng_b, rng_c = (np.random.default_rng(9) for _ in range(3))
    data = np.random.default_rng(1)
    steer = np.array([True, False, True, False, False, False])
    for _ in range(8):  # entries, exits and slow thinking all happen
        live = data.integers(0, 3, size=(m, t)).astype(float)
        clicks = data.integers(0, 3, size=(m, t)) * (live > 0)
        fb = _feedback(m, t, exposure=4 * clicks, clicks=clicks, live=live)
        actions = {"topic": data.integers(0, t, size=m), "effort": data.uniform(size=m)}
        revised_before = partial.strategy.copy()
        steered_alive = partial.alive & steer
        a = free.step_round(fb, rng_a)
        b = masked.step_round(fb, rng_b, actions | {"mask": np.zeros(m, dtype=bool)})
        c = partial.step_round(fb, rng_c, actions | {"mask": steer})
        for name in _STATE:
            np.testing.assert_array_equal(getattr(free, name), getattr(masked, name), name)
        for x, y in zip(a["items"], b["items"], strict=True):
            np.testing.assert_array_equal(x, y)
        assert (a["left"] == b["left"]).all() and (a["entered"] == b["entered"]).all()
        # the partial mask: steered creators that stayed make only the asked topic, with the
        # asked effort, and skip slow thinking
        items = c["items"]
        ok = steered_alive & ~c["left"]
        for s in np.flatnonzero(ok):
            assert np.all(items.topic[items.slot == s] == actions["topic"][s])
            assert partial.effort[s] == actions["effort"][s]
            np.testing.assert_array_equal(partial.strategy[s], revised_before[s])
    with pytest.raises(ConfigError, match="mask"):
        free.step_round(fb, rng_a, actions | {"mask": np.zeros(m)})  # not booleans
    with pytest.raises(ConfigError, match="not both"):
        free.step_round(fb, rng_a, actions, decide=lambda pop, rec: None)
