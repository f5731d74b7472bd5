"""Cascading bandits: CascadeUCB1 and CascadeKL-UCB (Kveton, Szepesvari, Wen & Ashkan 2015,
"Cascading Bandits: Learning to Rank in the Cascade Model", Algorithm 1).

The user examines the list top-down and clicks the first attractive item. The learner
observes the click position ``C_t``: items above it were examined and not attractive
(reward 0), the clicked item was attractive (1), items below were not examined and teach
nothing; with no click all K items were examined and none was attractive. recarena's
``Cascade-v0`` reports exactly this prefix in ``response.examined``, so these bandits
update only examined positions (``feedback="examined"``).

Each round, the K items with the highest upper confidence bounds on their attraction
probability ``w(e)`` are shown in decreasing order of the bound.
"""

from __future__ import annotations

import numpy as np

from recarena.agents.bandits.mab import ItemBandit
from recarena.validation import check_float, check_int

__all__ = ["CascadeKLUCB", "CascadeUCB1", "bernoulli_kl_ucb"]


class CascadeUCB1(ItemBandit):
    """CascadeUCB1: ``U(e) = w_hat(e) + sqrt(exploration * log t / T(e))`` with the paper's
    ``exploration = 1.5``; ``T(e)`` counts the rounds in which ``e`` was examined."""

    name = "cascade_ucb1"

    def __init__(self, num_items: int, slate_size: int, exploration: float = 1.5,
                 scope: str = "user", seed: int | None = 0) -> None:
        self.exploration = check_float(exploration, "CascadeUCB1.exploration", 0.0)
        super().__init__(num_items, slate_size, scope, "examined", "clicked", seed)

    def _index(self, r: np.ndarray, ids: np.ndarray) -> np.ndarray:
        n, s = self._stats(r, ids)
        log_t = np.log(np.maximum(self.rounds[r], 1.0))[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            index = s / n + np.sqrt(self.exploration * log_t / n)
        return np.where(n > 0, index, np.inf)


def bernoulli_kl_ucb(mean: np.ndarray, count: np.ndarray, budget: np.ndarray,
                     iterations: int = 32) -> np.ndarray:
    """``max{q in [mean, 1] : count * kl(mean, q) <= budget}`` for Bernoulli KL, elementwise,
    to within ``2**-iterations`` (``count == 0`` gives 1).

    Newton's method inside a bracket ``lo <= q* <= hi``, all elements at once. With
    ``f(q) = kl(mean, q) - budget / count``, convex and increasing on ``[mean, 1]``:

    * ``hi``: Pinsker's ``kl >= 2 (q - mean)^2`` or ``kl >= -H(mean) - (1 - mean) log(1 - q)``
      bound the root from above; then Newton's step from ``hi`` (convexity keeps it above);
    * ``lo``: the secant from ``(mean, -budget / count)`` to ``hi`` first, then
      ``hi - f(hi) / f'(lo)`` (convexity: ``f(hi) >= f'(q*) (hi - q*)`` and ``f'`` grows).

    Both converge superlinearly: 3 to 5 rounds of one ``f`` evaluation reach ``2**-32``,
    where bisection took 32 rounds. Rounds stop when every bracket is within
    ``2**-iterations`` or none narrowed (floating-point resolution)."""
    mean = np.clip(mean, 0.0, 1.0)
    eps = 1e-12
    p = np.clip(mean, eps, 1 - eps)
    r = 1 - p
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        d = budget / count  # inf where count == 0: hi = 1 below, and the answer is 1
        neg_h = p * np.log(p) + r * np.log(r)  # minus the entropy of p
        hi = np.minimum(np.minimum(p + np.sqrt(d / 2), -np.expm1(-(d - neg_h) / r)), 1.0)
        hi = np.maximum(hi, p)
        lo = np.minimum(mean, hi)
        width = np.inf
        for first in range(iterations):
            q = np.minimum(hi, 1 - eps)
            f_hi = neg_h - p * np.log(q) - r * np.log1p(-q) - d
            done = f_hi <= 0  # hi satisfies the inequality: the answer (the root is 1, d = 0)
            if first == 0:  # secant through (p, f(p) = -d), where f'(p) = 0
                below = p + d * (hi - p) / (f_hi + d)
            else:
                below = hi - f_hi * lo * (1 - lo) / (lo - p)
            lo = np.where(done, hi, np.fmax(lo, below))  # fmax: NaN (0 / 0) moves nothing
            hi = np.where(done, hi, np.fmax(hi - f_hi * q * (1 - q) / (q - p), lo))
            gap = hi - lo
            if not (gap > 2.0 ** -iterations).any() or not (gap < width).any():
                break
            width = gap
    return np.where(count > 0, lo, 1.0)


class CascadeKLUCB(ItemBandit):
    """CascadeKL-UCB: ``U(e) = max{q in [w_hat(e), 1] : T(e) kl(w_hat(e), q) <= log t +
    3 log log t}`` (the paper's bound; for ``t < 3`` the ``log log`` term is dropped)."""

    name = "cascade_kl_ucb"

    def __init__(self, num_items: int, slate_size: int, scope: str = "user",
                 iterations: int = 32, seed: int | None = 0) -> None:
        self.iterations = check_int(iterations, "CascadeKLUCB.iterations", 1, 60)
        super().__init__(num_items, slate_size, scope, "examined", "clicked", seed)

    def _index(self, r: np.ndarray, ids: np.ndarray) -> np.ndarray:
        n, s = self._stats(r, ids)
        t = np.maximum(self.rounds[r], 1.0)[:, None]
        budget = np.log(t) + np.where(t >= 3, 3.0 * np.log(np.log(np.maximum(t, 3.0))), 0.0)
        mean = s / np.maximum(n, 1e-12)
        index = bernoulli_kl_ucb(mean, n, np.broadcast_to(budget, n.shape), self.iterations)
        return np.where(n > 0, index, np.inf)
