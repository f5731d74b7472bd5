"""RecSim's long-term satisfaction ("choc/kale") users and world, batched over N users.

Ie, Hsu, Mladenov, Jain, Narvekar, Wang, Wu, Boutilier 2019, "RecSim: A Configurable
Simulation Platform for Recommender Systems", the ``long_term_satisfaction`` environment
(facts from RecSim's ``recsim/environments/long_term_satisfaction.py``; the code is ours).

Items have a clickbait score ``c in [0, 1]``. Clickbaity items ("chocolate") engage more now
and erode satisfaction; "kale" engages less and builds it. Each user has a latent
net positive exposure ``NPE`` and satisfaction ``SAT = sigmoid(sensitivity * NPE)``:

* the user always clicks the item in position 0 of the slate;
* engagement: ``log e ~ Normal((c * choc_mean + (1 - c) * kale_mean) * SAT,
  c * choc_stddev + (1 - c) * kale_stddev)``, drawn with the satisfaction *before* the
  update, as in RecSim (``simulate_response`` runs before ``update_state``);
* then ``NPE <- memory_discount * NPE - 2 (c - 0.5) + Normal(0, innovation_stddev)``
  and the time budget falls by one; the session ends when it reaches 0;
* a new user starts with ``NPE_0 = (U - 0.5) / (1 - memory_discount)``, ``U ~ Uniform(0, 1)``.

RecSim's own docstring writes ``+ 2 (c - 0.5)`` in the NPE update while its code subtracts;
we follow the code (clickbait lowers satisfaction), which is the behaviour the
environment is meant to show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from recarena.simulators.records import Response
from recarena.simulators.world import ArrayState, ArrayWorld, take_rows
from recarena.validation import check_float, check_int

__all__ = [
    "ChocKaleCandidates",
    "ChocKaleState",
    "ChocKaleStep",
    "ChocKaleUsers",
    "ChocKaleWorld",
]


@dataclass
class ChocKaleState(ArrayState):
    """Users of :class:`ChocKaleUsers`: ``npe``, ``satisfaction`` and the clicks left in
    the session (``budget``), each ``(N,)``."""

    npe: np.ndarray
    satisfaction: np.ndarray
    budget: np.ndarray


class ChocKaleCandidates(NamedTuple):
    """Candidates ``(N, C)``: ids and clickbait scores in [0, 1]."""

    item_id: np.ndarray
    clickbait: np.ndarray


class ChocKaleStep(NamedTuple):
    """One step: the shown items' ids and clickbait ``(N, K)``, the :class:`Response`
    (a click on position 0, the only examined one; ``watch_time`` is the engagement; like,
    share and follow are not modelled and stay zero; ``left`` when the budget is spent) and
    ``gone`` (``(N,)``, the same as ``left``: a session is the whole episode).

    Like every world's step: ``steps`` ``(N,)`` (slates shown to the row's user, this one
    included) and ``candidates`` (the next step's)."""

    item_id: np.ndarray
    clickbait: np.ndarray
    response: Response
    gone: np.ndarray
    steps: np.ndarray
    candidates: ChocKaleCandidates


@dataclass(frozen=True)
class ChocKaleUsers:
    """RecSim's ``LTSUserModel`` with ``LTSStaticUserSampler``'s parameters (its defaults).

    Args:
        memory_discount: ``gamma`` in the NPE update (0.7).
        sensitivity: ``s`` in ``SAT = sigmoid(s * NPE)`` (0.01). At RecSim's 0.01 the
            satisfaction stays within 0.5 +- 0.01, so clickbait is nearly free; from about
            0.07 on, a kale-only diet beats a choc-only one in the long run (see
            :meth:`steady_state_engagement`).
        innovation_stddev: noise of the NPE update (0.05).
        choc_mean, choc_stddev: log-engagement of a fully clickbaity item (5, 1).
        kale_mean, kale_stddev: log-engagement of a clickbait-free item (4, 1).
        time_budget: clicks per session (60); each step costs one.
    """

    memory_discount: float = 0.7
    sensitivity: float = 0.01
    innovation_stddev: float = 0.05
    choc_mean: float = 5.0
    choc_stddev: float = 1.0
    kale_mean: float = 4.0
    kale_stddev: float = 1.0
    time_budget: int = 60

    def __post_init__(self) -> None:
        check_float(self.memory_discount, "ChocKaleUsers.memory_discount", 0.0, 1.0, high_open=True)
        check_float(self.sensitivity, "ChocKaleUsers.sensitivity", 0.0)
        check_float(self.innovation_stddev, "ChocKaleUsers.innovation_stddev", 0.0)
        for name in ("choc_mean", "kale_mean"):
            check_float(getattr(self, name), f"ChocKaleUsers.{name}", -20.0, 20.0)
        for name in ("choc_stddev", "kale_stddev"):
            check_float(getattr(self, name), f"ChocKaleUsers.{name}", 0.0, 10.0)
        check_int(self.time_budget, "ChocKaleUsers.time_budget", 1)

    # ----------------------------------------------------------------- transitions
    def initial_state(self, n: int, rng: np.random.Generator) -> ChocKaleState:
        npe = (rng.random(n) - 0.5) / (1.0 - self.memory_discount)
        return ChocKaleState(np.zeros(n, dtype=np.int64), npe, self._sat(npe),
                             np.full(n, self.time_budget, dtype=np.int64))

    def respond(self, state: ChocKaleState, clickbait: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
        """Engagement ``(N,)`` with the clicked (top) items of clickbait ``clickbait`` ``(N,)``."""
        c = clickbait
        loc = (c * self.choc_mean + (1.0 - c) * self.kale_mean) * state.satisfaction
        scale = c * self.choc_stddev + (1.0 - c) * self.kale_stddev
        return np.exp(loc + scale * rng.standard_normal(c.shape[0]))

    def next_state(self, state: ChocKaleState, clickbait: np.ndarray,
                   rng: np.random.Generator) -> None:
        """NPE, satisfaction and budget after clicking items of clickbait ``clickbait``."""
        noise = rng.standard_normal(clickbait.shape[0]) * self.innovation_stddev
        state.npe *= self.memory_discount
        state.npe -= 2.0 * (clickbait - 0.5)
        state.npe += noise
        state.satisfaction[:] = self._sat(state.npe)
        state.budget -= 1

    def _sat(self, npe: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.sensitivity * npe))

    # ----------------------------------------------------------------- analysis
    def steady_state_engagement(self, clickbait: float) -> float:
        """Expected engagement per step of a user fed items of constant clickbait ``c`` for
        long enough: ``NPE* = -2 (c - 0.5) / (1 - gamma)`` (noise-free), and the lognormal mean
        ``exp(mu + sigma^2 / 2)`` at ``SAT* = sigmoid(s NPE*)``. The ``c`` that maximises it
        is the best constant diet (:meth:`best_constant_clickbait`)."""
        c = float(clickbait)
        npe = -2.0 * (c - 0.5) / (1.0 - self.memory_discount)
        sat = 1.0 / (1.0 + math.exp(-self.sensitivity * npe))
        mu = (c * self.choc_mean + (1.0 - c) * self.kale_mean) * sat
        sigma = c * self.choc_stddev + (1.0 - c) * self.kale_stddev
        return math.exp(mu + 0.5 * sigma * sigma)

    def best_constant_clickbait(self, grid: int = 1001) -> float:
        """The constant clickbait level with the highest steady-state engagement (grid search)."""
        cs = np.linspace(0.0, 1.0, grid)
        values = [self.steady_state_engagement(c) for c in cs]
        return float(cs[int(np.argmax(values))])


class ChocKaleWorld(ArrayWorld):
    """N :class:`ChocKaleUsers` users, each facing ``num_candidates`` fresh items per step
    with clickbait ``Uniform(0, 1)`` (RecSim's ``LTSDocumentSampler``, resampled every step)."""

    def __init__(self, users: ChocKaleUsers, num_candidates: int, slate_size: int) -> None:
        super().__init__()
        self.users = users
        self.num_candidates = check_int(num_candidates, "num_candidates", 1)
        self.slate_size = check_int(slate_size, "slate_size", 1, self.num_candidates)

    def sample_users(self, n: int, rng: np.random.Generator) -> ChocKaleState:
        return self.users.initial_state(n, rng)

    def sample_candidates(self, n: int, rng: np.random.Generator,
                          first_id: int) -> tuple[ChocKaleCandidates, int]:
        c = self.num_candidates
        ids = np.arange(first_id, first_id + n * c, dtype=np.int64).reshape(n, c)
        return ChocKaleCandidates(ids, rng.random((n, c))), n * c

    def step(self, slates: np.ndarray) -> ChocKaleStep:
        """Show ``slates`` (``(N, K)`` candidate indices, already validated) and advance."""
        self.require_state()
        state, cands = self.state, self.candidates
        item_id = take_rows(cands.item_id, slates)
        clickbait = take_rows(cands.clickbait, slates)
        top = clickbait[:, 0].copy()
        n, k = slates.shape
        engagement = np.zeros((n, k))
        engagement[:, 0] = self.users.respond(state, top, self._rngs[2])
        clicked = np.zeros((n, k), dtype=bool)
        clicked[:, 0] = True
        self.users.next_state(state, top, self._rngs[3])
        gone = state.budget <= 0
        self.candidates = self.draw_candidates(n)
        none = np.zeros((n, k), dtype=bool)
        response = Response(clicked, clicked.copy(), engagement, none, none.copy(), none.copy(),
                            gone.copy())
        return ChocKaleStep(item_id, clickbait, response, gone, self.count_step(), self.candidates)
