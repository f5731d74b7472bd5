"""A short-video feed with several feedback signals and user-creator relations, batched.

The setting of constrained RL for short video (Cai, Chen et al. 2023, "Two-Stage
Constrained Actor-Critic for Short Video Recommendation", WWW): the main signal is watch
time, auxiliary signals (like, share, comment, follow) are constraints, and items that hold
attention are not always the ones people interact with. User-creator pairs move along
click -> follow -> gift with repeated interaction (Li et al. 2025, "Reinforce Lifelong
Interaction Value of User-Author Pairs for Large-Scale Recommendation Systems", RLIV-UA).
The functional forms below are ours; every probability is written out.

**Videos** (:func:`make_video_corpus`, a fixed corpus): topic ``t``, creator (each
creator has a home topic and posts in it with probability ``creator_focus``), a unit
embedding ``e`` (topic centroid plus noise), duration ``D`` seconds
(``LogNormal(log 25, 0.6)`` clipped to [5, 180]), and four latent propensities:
``hook ~ N(0, 1)`` (how well it holds attention) and ``like``, ``share``, ``comment``,
each ``rho * hook + sqrt(1 - rho^2) * N(0, 1)`` with ``rho = +0.4, -conflict, -0.6 conflict``:
shareable and discussable videos tend *not* to be the ones watched to the end.

**Users** (:class:`ShortVideoUsers`): a unit interest vector ``u`` (a mix of two topic
centroids plus noise), a session time budget ``B ~ LogNormal(log budget_mean, 0.5)``
seconds, personal tendencies ``b_like, b_share, b_comment ~ N(0, tendency_stddev)``, and
per creator ``c`` a relation stage ``S[c]`` (0 none, 1 engaged, 2 follower, 3 gifter) and
a bond ``W[c]`` (watch ratio accumulated on that creator's videos).

**One request** shows a feed page of K videos, played top-down. For the video in
position k, with affinity ``a = <u, e>``:

* watch ratio ``r = sigmoid(w_aff a + w_hook hook + w_follow [S >= 2] + watch_bias + noise eps)``,
  ``eps ~ N(0, 1)``; watch time ``r D`` seconds (cut at the budget left); a ``skip`` when
  ``r < skip_ratio``;
* like ``~ Bernoulli(sigmoid(like_bias + like + 1.5 a + 1.0 r + b_like))``, share
  ``~ Bernoulli(sigmoid(share_bias + share + 1.0 a + b_share))``, comment
  ``~ Bernoulli(sigmoid(comment_bias + comment + 0.5 a + 1.0 r + b_comment))``;
* relation: the bond grows by ``r``; a view with ``r >= engage_ratio`` makes stage 0 pairs
  engaged (the "click"); an engaged pair follows with probability
  ``sigmoid(follow_bias + bond_weight W + 2 a)`` (the ``follow`` signal); a follower or
  gifter gifts with probability ``sigmoid(gift_bias + bond_weight W + gifter_bonus [S = 3])``
  (the ``gift`` signal; the first gift makes a gifter);
* the budget falls by the watch time plus ``swipe_cost`` seconds, and the user then quits
  the session with probability ``sigmoid(quit_bias - quit_weight r)`` (a dull video makes
  leaving likely); positions after the user left are not examined.

The session ends when the budget is spent or the user quits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from recarena.simulators.catalog import sample_distinct
from recarena.simulators.records import Response
from recarena.simulators.world import ArrayState, ArrayWorld
from recarena.validation import check_float, check_int

__all__ = [
    "SIGNALS",
    "ShortVideoCandidates",
    "ShortVideoState",
    "ShortVideoStep",
    "ShortVideoUsers",
    "ShortVideoWorld",
    "VideoCorpus",
    "make_video_corpus",
]

#: Every per-video signal of a step, in ``ShortVideoStep.signals`` order.
SIGNALS = ("watch_time", "like", "share", "comment", "follow", "gift", "skip")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class VideoCorpus(NamedTuple):
    """A fixed corpus of M videos (arrays ``(M,)`` unless noted)."""

    embedding: np.ndarray  #: ``(M, d)`` unit vectors
    topic: np.ndarray
    creator: np.ndarray
    duration: np.ndarray  #: seconds
    hook: np.ndarray
    like: np.ndarray
    share: np.ndarray
    comment: np.ndarray
    centroids: np.ndarray  #: ``(T, d)`` unit topic centroids
    num_creators: int

    @property
    def size(self) -> int:
        return int(self.topic.shape[0])


def make_video_corpus(size: int = 2000, num_topics: int = 20, num_creators: int = 50,
                      dim: int = 16, conflict: float = 0.5, creator_focus: float = 0.8,
                      seed: int = 20230430) -> VideoCorpus:
    """Draw the corpus described in the module docstring from its own ``seed``.

    ``conflict`` in [0, 1] is how strongly share (``-conflict``) and comment
    (``-0.6 conflict``) propensities anti-correlate with the hook."""
    size = check_int(size, "make_video_corpus.size", 1)
    num_topics = check_int(num_topics, "make_video_corpus.num_topics", 1)
    num_creators = check_int(num_creators, "make_video_corpus.num_creators", 1)
    dim = check_int(dim, "make_video_corpus.dim", 2)
    conflict = check_float(conflict, "make_video_corpus.conflict", 0.0, 1.0)
    creator_focus = check_float(creator_focus, "make_video_corpus.creator_focus", 0.0, 1.0)
    rng = np.random.default_rng(check_int(seed, "make_video_corpus.seed", 0))
    centroids = rng.standard_normal((num_topics, dim))
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    home = rng.integers(0, num_topics, num_creators)
    creator = rng.integers(0, num_creators, size)
    topic = np.where(rng.random(size) < creator_focus, home[creator],
                     rng.integers(0, num_topics, size))
    emb = centroids[topic] + 0.35 * rng.standard_normal((size, dim))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    duration = np.clip(np.exp(np.log(25.0) + 0.6 * rng.standard_normal(size)), 5.0, 180.0)
    hook = rng.standard_normal(size)

    def correlated(rho: float) -> np.ndarray:
        return rho * hook + np.sqrt(1.0 - rho * rho) * rng.standard_normal(size)

    return VideoCorpus(emb, topic.astype(np.int64), creator.astype(np.int64), duration, hook,
                       correlated(0.4), correlated(-conflict), correlated(-0.6 * conflict),
                       centroids, num_creators)


@dataclass
class ShortVideoState(ArrayState):
    """Users: ``interests`` ``(N, d)``, ``budget`` (seconds left), personal signal
    tendencies, the platform-visible ``profile`` (``(N, d)``, a moving average of watched
    embeddings weighted by watch ratio), and per creator ``stage`` (int8) and ``bond``
    ``(N, R)``."""

    interests: np.ndarray
    budget: np.ndarray
    like_tendency: np.ndarray
    share_tendency: np.ndarray
    comment_tendency: np.ndarray
    profile: np.ndarray
    stage: np.ndarray
    bond: np.ndarray


class ShortVideoCandidates(NamedTuple):
    """Candidates: corpus indices ``(N, C)``, distinct within a row."""

    item: np.ndarray


class ShortVideoStep(NamedTuple):
    """One request: the shown videos' corpus indices ``(N, K)``, the :class:`Response`
    (``clicked`` = ``examined``: videos autoplay; ``watch_time`` in seconds; ``left``: the
    session ended), ``signals`` ``(len(SIGNALS), N, K)`` float64, ``watch_ratio`` ``(N, K)``
    and ``gone`` ``(N,)``.

    Like every world's step: ``steps`` ``(N,)`` (slates shown to the row's user, this one
    included) and ``candidates`` (the next step's)."""

    item_id: np.ndarray
    response: Response
    signals: np.ndarray
    watch_ratio: np.ndarray
    gone: np.ndarray
    steps: np.ndarray
    candidates: ShortVideoCandidates


@dataclass(frozen=True)
class ShortVideoUsers:
    """Parameters of the users of the module docstring (defaults in brackets there)."""

    budget_mean: float = 900.0
    tendency_stddev: float = 0.5
    watch_bias: float = -0.3
    affinity_weight: float = 3.0
    hook_weight: float = 1.0
    follow_weight: float = 0.5
    noise: float = 0.5
    skip_ratio: float = 0.2
    like_bias: float = -3.0
    share_bias: float = -5.0
    comment_bias: float = -4.5
    engage_ratio: float = 0.5
    follow_bias: float = -3.5
    gift_bias: float = -4.5
    bond_weight: float = 0.3
    gifter_bonus: float = 2.0
    swipe_cost: float = 1.0
    quit_bias: float = -2.0
    quit_weight: float = 3.0
    profile_rate: float = 0.1

    def __post_init__(self) -> None:
        for name in ("budget_mean", "swipe_cost"):
            check_float(getattr(self, name), f"ShortVideoUsers.{name}", 0.0, low_open=True)
        for name in ("tendency_stddev", "noise", "bond_weight", "quit_weight", "gifter_bonus"):
            check_float(getattr(self, name), f"ShortVideoUsers.{name}", 0.0)
        for name in ("skip_ratio", "engage_ratio", "profile_rate"):
            check_float(getattr(self, name), f"ShortVideoUsers.{name}", 0.0, 1.0)
        for name in ("watch_bias", "affinity_weight", "hook_weight", "follow_weight",
                     "like_bias", "share_bias", "comment_bias", "follow_bias", "gift_bias",
                     "quit_bias"):
            check_float(getattr(self, name), f"ShortVideoUsers.{name}", -50.0, 50.0)

    def initial_state(self, n: int, corpus: VideoCorpus, rng: np.random.Generator) -> ShortVideoState:
        t, d = corpus.centroids.shape
        pick = rng.integers(0, t, (n, 2))
        u = corpus.centroids[pick[:, 0]] + 0.5 * corpus.centroids[pick[:, 1]] \
            + 0.3 * rng.standard_normal((n, d))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        budget = np.exp(np.log(self.budget_mean) + 0.5 * rng.standard_normal(n))
        tend = self.tendency_stddev * rng.standard_normal((3, n))
        r = corpus.num_creators
        return ShortVideoState(np.zeros(n, dtype=np.int64), u, budget, tend[0], tend[1], tend[2],
                               np.zeros((n, d)), np.zeros((n, r), dtype=np.int8),
                               np.zeros((n, r), dtype=np.float32))

    def watch_logit(self, affinity: np.ndarray, hook: np.ndarray, following: np.ndarray) -> np.ndarray:
        """The noise-free logit of the watch ratio."""
        return (self.affinity_weight * affinity + self.hook_weight * hook
                + self.follow_weight * following + self.watch_bias)


class ShortVideoWorld(ArrayWorld):
    """N :class:`ShortVideoUsers` users scrolling feeds built from ``num_candidates``
    distinct corpus videos per request (uniform, fresh every request)."""

    def __init__(self, users: ShortVideoUsers, corpus: VideoCorpus, num_candidates: int,
                 slate_size: int) -> None:
        super().__init__()
        self.users = users
        self.corpus = corpus
        self.num_candidates = check_int(num_candidates, "num_candidates", 1, corpus.size)
        self.slate_size = check_int(slate_size, "slate_size", 1, self.num_candidates)

    def sample_users(self, n: int, rng: np.random.Generator) -> ShortVideoState:
        return self.users.initial_state(n, self.corpus, rng)

    def sample_candidates(self, n: int, rng: np.random.Generator,
                          first_id: int) -> tuple[ShortVideoCandidates, int]:
        return ShortVideoCandidates(sample_distinct(n, self.num_candidates, self.corpus.size, rng)), 0

    # ----------------------------------------------------------------- privileged views
    def candidate_items(self) -> np.ndarray:
        """Corpus indices ``(N, C)`` of the current candidates."""
        return self.candidates.item

    def affinity(self, idx: np.ndarray) -> np.ndarray:
        """``<u, e>`` of each user with the videos ``idx`` ``(N, K)``."""
        emb = self.corpus.embedding[idx]  # (N, K, d)
        return np.einsum("nkd,nd->nk", emb, self.state.interests)

    def creator_stage(self, idx: np.ndarray, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """The relation stage ``(n, K)`` of the users at ``rows`` with the creators of
        their videos ``idx`` (``(n, K)``)."""
        stage = self.state.stage[rows]
        r = stage.shape[1]
        flat = np.arange(0, stage.shape[0] * r, r)[:, None] + self.corpus.creator[idx]
        return stage.reshape(-1).take(flat)

    def expected_watch_ratio(self, idx: np.ndarray, affinity: np.ndarray | None = None,
                             stage: np.ndarray | None = None) -> np.ndarray:
        """The noise-free watch ratio ``sigmoid(logit)`` of the videos ``idx`` (pass their
        ``affinity`` and creator ``stage`` when already computed)."""
        affinity = self.affinity(idx) if affinity is None else affinity
        stage = self.creator_stage(idx) if stage is None else stage
        following = (stage >= 2).astype(np.float64)
        return _sigmoid(self.users.watch_logit(affinity, self.corpus.hook[idx], following))

    # ----------------------------------------------------------------- dynamics
    def step(self, slates: np.ndarray) -> ShortVideoStep:
        """Show the feed pages ``slates`` (``(N, K)`` candidate indices, validated) and advance."""
        self.require_state()
        um, cor, st = self.users, self.corpus, self.state
        resp_rng, dyn_rng = self._rngs[2], self._rngs[3]
        n, k = slates.shape
        idx = np.take_along_axis(self.candidate_items(), slates, axis=1)
        aff = self.affinity(idx)
        creator = cor.creator[idx]
        r_count = st.stage.shape[1]
        flat = np.arange(0, n * r_count, r_count)[:, None] + creator  # (N, K) into stage/bond
        logit = um.watch_logit(aff, cor.hook[idx], np.zeros((n, k)))
        eps = resp_rng.standard_normal((n, k))
        u_sig = resp_rng.random((3, n, k))
        u_rel = dyn_rng.random((2, n, k))
        u_quit = dyn_rng.random((n, k))
        sig = np.zeros((len(SIGNALS), n, k))
        ratio = np.zeros((n, k))
        examined = np.zeros((n, k), dtype=bool)
        alive = st.budget > 0
        stage_flat, bond_flat = st.stage.reshape(-1), st.bond.reshape(-1)
        for j in range(k):  # positions play in order: a user who left sees no more videos
            rows = np.flatnonzero(alive)
            if rows.size == 0:
                break
            examined[rows, j] = True
            cell = flat[rows, j]
            stage = stage_flat[cell]
            r = _sigmoid(logit[rows, j] + um.follow_weight * (stage >= 2)
                         + um.noise * eps[rows, j])
            v = idx[rows, j]
            a = aff[rows, j]
            watch = np.minimum(r * cor.duration[v], st.budget[rows])
            ratio[rows, j] = r
            sig[0, rows, j] = watch
            p_like = _sigmoid(um.like_bias + cor.like[v] + 1.5 * a + r + st.like_tendency[rows])
            p_share = _sigmoid(um.share_bias + cor.share[v] + a + st.share_tendency[rows])
            p_comment = _sigmoid(um.comment_bias + cor.comment[v] + 0.5 * a + r
                                 + st.comment_tendency[rows])
            sig[1, rows, j] = u_sig[0, rows, j] < p_like
            sig[2, rows, j] = u_sig[1, rows, j] < p_share
            sig[3, rows, j] = u_sig[2, rows, j] < p_comment
            sig[6, rows, j] = r < um.skip_ratio
            # user-creator relation: click -> follow -> gift
            bond = bond_flat[cell] + r
            bond_flat[cell] = bond
            engaged_now = (stage == 0) & (r >= um.engage_ratio)
            p_follow = _sigmoid(um.follow_bias + um.bond_weight * bond + 2.0 * a)
            follows = (stage == 1) & (u_rel[0, rows, j] < p_follow)
            p_gift = _sigmoid(um.gift_bias + um.bond_weight * bond + um.gifter_bonus * (stage == 3))
            gifts = (stage >= 2) & (u_rel[1, rows, j] < p_gift)
            sig[4, rows, j] = follows
            sig[5, rows, j] = gifts
            new_stage = stage.copy()
            new_stage[engaged_now] = 1
            new_stage[follows] = 2
            new_stage[gifts] = 3
            stage_flat[cell] = new_stage
            # the platform's profile of the user
            st.profile[rows] += um.profile_rate * (r[:, None] * cor.embedding[v] - st.profile[rows])
            # time, then the decision to keep scrolling
            st.budget[rows] -= watch + um.swipe_cost
            quit_now = u_quit[rows, j] < _sigmoid(um.quit_bias - um.quit_weight * r)
            alive[rows] = (st.budget[rows] > 0) & ~quit_now
        gone = ~alive
        st.budget[gone] = np.minimum(st.budget[gone], 0.0)
        self.candidates = self.draw_candidates(n)
        b = sig[1:4].astype(bool)
        response = Response(examined, examined.copy(), sig[0].copy(), b[0], b[1],
                            sig[4].astype(bool), gone.copy())
        return ShortVideoStep(idx, response, sig, ratio, gone, self.count_step(), self.candidates)
