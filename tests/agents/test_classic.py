"""Classic recommenders: MF and item-KNN recover held-out preferences of a synthetic
low-rank interaction matrix far better than most-popular; popularity counts are exact."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recarena.agents.classic import ItemKNN, MostPopular, als_fit
from recarena.agents.classic.interactions import RecentItems
from recarena.agents.classic.item_knn import item_cosine_neighbours
from recarena.agents.classic.mf import als_fold_in
from tests.agents.toy import _response


def _low_rank_log(users: int = 400, items: int = 300, rank: int = 4, per_user: int = 40,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Each user interacts with ``per_user`` items drawn without replacement with
    probability proportional to ``exp(3 * u . v)`` (rank-4 preferences) plus a mild
    popularity tilt; returns the binary ``(U, I)`` matrix and a held-out mask (25% of each
    user's items)."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(users, rank)) / np.sqrt(rank)
    v = rng.normal(size=(items, rank))
    logits = 3.0 * u @ v.T + 0.3 * rng.normal(size=items)
    gumbel = logits + rng.gumbel(size=logits.shape)
    chosen = np.argsort(-gumbel, axis=1)[:, :per_user]
    r = np.zeros((users, items))
    np.put_along_axis(r, chosen, 1.0, axis=1)
    held = np.zeros_like(r, dtype=bool)
    np.put_along_axis(held, chosen[:, : per_user // 4], True, axis=1)
    return r, held


def _recall_at_10(scores: np.ndarray, train: np.ndarray, held: np.ndarray) -> float:
    s = np.where(train > 0, -np.inf, scores)
    top = np.argsort(-s, axis=1)[:, :10]
    hits = np.take_along_axis(held, top, axis=1).sum(axis=1)
    return float((hits / np.minimum(held.sum(axis=1), 10)).mean())


def test_als_recovers_held_out_preferences() -> None:
    r, held = _low_rank_log()
    train = np.where(held, 0.0, r)
    x, y = als_fit(sp.csr_matrix(train), factors=8, regularization=1.0, alpha=5.0,
                   iterations=10, seed=0)
    als = _recall_at_10(x @ y.T, train, held)
    popular = _recall_at_10(np.broadcast_to(train.sum(axis=0), train.shape), train, held)
    assert als > 2.0 * popular, f"ALS recall@10 {als:.3f} vs most-popular {popular:.3f}"
    # fold-in of the training rows gives the same ranking quality without a refit
    items = np.argsort(-train, axis=1)[:, :30]
    weights = np.take_along_axis(train, items, axis=1)
    folded = als_fold_in(items, weights, y, 1.0, 5.0)
    assert _recall_at_10(folded @ y.T, train, held) > 2.0 * popular


def test_als_is_deterministic() -> None:
    r, _ = _low_rank_log(users=50, items=40)
    a = als_fit(sp.csr_matrix(r), factors=4, seed=3)
    b = als_fit(sp.csr_matrix(r), factors=4, seed=3)
    np.testing.assert_array_equal(a[1], b[1])


def test_item_knn_recovers_held_out_preferences() -> None:
    r, held = _low_rank_log()
    train = np.where(held, 0.0, r)
    sim = item_cosine_neighbours(sp.csr_matrix(train), neighbours=30).toarray()
    knn = _recall_at_10(train @ sim.T, train, held)
    popular = _recall_at_10(np.broadcast_to(train.sum(axis=0), train.shape), train, held)
    assert knn > 1.5 * popular, f"item-KNN recall@10 {knn:.3f} vs most-popular {popular:.3f}"


def test_item_cosine_by_hand() -> None:
    # users x items: item 0 and 1 co-occur twice, item 2 once with item 1
    r = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 1, 1]], dtype=float))
    sim = item_cosine_neighbours(r, neighbours=2).toarray()
    np.testing.assert_allclose(sim[0], [0.0, 2 / np.sqrt(2 * 3), 0.0])
    np.testing.assert_allclose(sim[1], [2 / np.sqrt(6), 0.0, 1 / np.sqrt(3)])
    top1 = item_cosine_neighbours(r, neighbours=1).toarray()
    assert (top1 > 0).sum(axis=1).tolist() == [1, 1, 1] and top1[1, 0] > 0


def test_item_knn_policy_learns_item_neighbourhoods_online() -> None:
    """Two taste groups: users of group g click only items of group g. After learning
    from 200 users, a user who clicked one group-0 item gets group-0 items on top."""
    knn = ItemKNN(20, 3, refit_every=10)
    rng = np.random.default_rng(0)
    ids = np.broadcast_to(np.arange(20), (50, 20))
    for step in range(40):
        users = np.arange(50) + 50 * (step // 10)  # new users every 10 steps
        info = {"user_id": users, "candidate_ids": ids}
        slates = knn.recommend({}, info)
        group = (users % 2)[:, None]
        shown = slates
        clicked = ((shown >= 10) == group.astype(bool)) & (rng.random(shown.shape) < 0.5)
        knn.update({}, slates, _response(clicked), clicked.sum(axis=1), info)
    info = {"user_id": np.array([10_000]), "candidate_ids": ids[:1]}
    knn.recommend({}, info)
    knn.recent.push(np.array([[3]]), np.array([[1.0]]))
    scores = knn.scores(ids[:1])[0]
    assert set(np.argsort(-scores)[:3]) <= set(range(10))


def test_most_popular_counts_and_decay() -> None:
    pop = MostPopular(5, 2, decay=0.5)
    info = {"user_id": np.arange(2), "candidate_ids": np.broadcast_to(np.arange(5), (2, 5))}
    slates = np.array([[0, 1], [1, 2]])
    pop.recommend({}, info)
    pop.update({}, slates, _response(np.array([[True, True], [True, False]])), None, info)
    np.testing.assert_allclose(pop.counts, [1, 2, 0, 0, 0])
    pop.update({}, slates, _response(np.array([[False, False], [False, True]])), None, info)
    np.testing.assert_allclose(pop.counts, [0.5, 1, 1, 0, 0])
    assert set(pop.recommend({}, info).ravel()) == {1, 2}  # the two tied leaders


def test_recent_items_keeps_the_last_positives_per_row() -> None:
    rec = RecentItems(3, "test")
    rec.sync({"user_id": np.array([1, 2])}, 2)
    rec.push(np.array([[5, 6], [7, 8]]), np.array([[1.0, 0.0], [1.0, 1.0]]))
    rec.push(np.array([[9, 4], [1, 2]]), np.array([[1.0, 1.0], [0.0, 1.0]]))
    assert rec.items.tolist() == [[5, 9, 4], [7, 8, 2]]
    rec.sync({"user_id": np.array([1, 3])}, 2)  # row 1 has a new user
    assert rec.items.tolist() == [[5, 9, 4], [-1, -1, -1]]


def test_random_policy_propensity_matches_its_sampling() -> None:
    """P(candidate i at position p) = 1/C for a uniformly random ordered slate: compare the
    reported propensity with 40,000 sampled slates (chi-squared over candidates, position 1)."""
    from scipy import stats

    from recarena.agents import RandomPolicy

    pol = RandomPolicy(8, 3, seed=0)
    slates = pol.recommend({"x": np.zeros((40_000, 1))})
    counts = np.bincount(slates[:, 1], minlength=8)
    p = pol.propensity(slates)
    assert p.shape == slates.shape and np.all(p == 1 / 8)
    assert stats.chisquare(counts, np.full(8, 40_000 / 8)).pvalue > 0.001
