"""SlateQ over recarena's vector envs: per-item long-term values combined through a user
choice model (one file, CleanRL style).

Ie, Jain, Wang, Narvekar, Agarwal, Wu, Cheng, Chandra, Boutilier 2019, "SlateQ: A Tractable
Decomposition for Reinforcement Learning with Recommendation Sets" (IJCAI; long version
arXiv:1905.12767). What the paper assumes, and what this implementation does:

* **Decomposition.** Under *single choice* (the user consumes at most one item of the
  slate; "no item" is the null item ``⊥``) and *reward/transition dependence on the
  selection* (reward and next state depend only on the consumed item), the value of a
  slate is ``Q(s, A) = sum_{i in A ∪ {⊥}} P(i | s, A) Q(s, i)``: the long-term value
  (LTV) of each item, weighted by the probability that the user picks it.
* **Choice model**: the conditional logit with a null item,
  ``P(i | s, A) = v(s, i) / (v(s, ⊥) + sum_{j in A} v(s, j))`` with
  ``v(s, i) = exp(score(s, i))``. The order inside a slate does not matter under it. A
  recommender does not know its users' true model, so by default the scores are
  **learned**: a per-candidate score network and a null-item score (from the context) fitted
  by maximum likelihood of the observed choice, the clicked slate position or "no click",
  on replay data (the paper assumes the choice model known or learned; RecSim's reference
  agent scores documents with the simulator's true model, RLlib's SlateQ learns two
  scalars on the user-document dot product). ``SlateQConfig.choice_fn`` names a known
  score function instead (for experiments: :func:`interest_evolution_choice_scores` is
  InterestEvolution-v0's exact model written as a conditional logit).
* **TD update on the consumed item** (the paper's SlateQ Q-learning): a transition
  ``(s, A, i, r, s')`` updates only the item the user consumed,
  ``Q(s, i) <- r + gamma * max_{A'} Q(s', A')``, with ``Q(s', A')`` the decomposed slate
  value under the *target* network and the current choice model, maximised over the next
  step's candidates by the same slate optimiser that acts. ``r`` is the env's reward of the
  step (the paper: the engagement of the consumed item; the same thing on RecSim's envs).
  A step without a click consumed ``⊥``: it updates the null item's LTV ``Q(s, ⊥)`` (a
  head of the network on the context). The paper's decomposition includes ``⊥``; RecSim's
  reference agent and RLlib drop no-click transitions and take ``Q(s, ⊥) = 0``, which makes
  every click look worth more than no click: ``null_value="zero"`` reproduces that. With a
  learned ``Q(s, ⊥)`` a click that costs the user's future (InterestEvolution's
  low-quality videos spend the time budget) can be worth less than no click. On a step
  with several clicks (outside the single-choice assumption) the first clicked position
  is taken as the consumed item. The item head is parameterised relative to the null
  item's (``Q(s, i) = Q(s, ⊥) + A(s, i)``, a dueling network, Wang et al. 2016), so the
  differences the slate optimiser compares are learned directly.
* **n-step targets** (``n_step``; 1, the default, is the paper's one-step update):
  ``R = r_t + ... + gamma^(m-1) r_(t+m-1)`` then ``gamma^m max_A' Q(s_(t+m), A')``, the
  consumed item of step ``t`` updated. Bootstrapping assumes the observation is the state;
  when it is not (InterestEvolution-v0's time budget is hidden: a click on a low-quality
  video shortens the session many steps later, and nothing observed in between says so),
  one-step targets cannot see the cost, and long ``n`` (Monte-Carlo-like) targets can.
* **Slate optimisation** ``max_{|A| = K} Q(s, A)``, a fractional 0-1 program
  (``f(A) = (v_⊥ Q_⊥ + sum_A v_i Q_i) / (v_⊥ + sum_A v_i)``). The paper solves it exactly
  with a linear program (Charnes-Cooper transformation) and proposes two fast
  approximations, which RecSim implements as ``select_slate_topk`` and
  ``select_slate_greedy``. ``slate_optimizer``:

  - ``"exact"``: enumerate all ``C choose K`` sets (up to ``max_exact_slates``), batched;
  - ``"dinkelbach"``: exact for any C (Dinkelbach 1967): ``f(A) > lam`` iff
    ``sum_A v_i (Q_i - lam) + v_⊥ (Q_⊥ - lam) > 0``, whose maximum over ``|A| = K`` is the
    top-K of ``v_i (Q_i - lam)``; iterating ``lam <- f(top-K)`` increases ``lam`` strictly
    until no set beats it (a few iterations). It solves the same problem as the paper's LP,
    without an LP solver;
  - ``"topk"``: the K largest ``v(s, i) (Q(s, i) - Q(s, ⊥))`` (the paper's top-k, which
    ranks by ``v Q``: the same when ``Q(s, ⊥) = 0``; ``f(A) - Q_⊥`` is the same program
    with ``Q_i - Q_⊥`` in place of ``Q_i``);
  - ``"greedy"``: add the item that most increases ``f`` K times (the paper's greedy);
  - ``"auto"`` (default): ``"exact"`` when ``C choose K <= max_exact_slates``, else
    ``"dinkelbach"``.

  Slates are returned ordered by decreasing ``v (Q - Q_⊥)`` (irrelevant to the logit, a
  sensible order for position-biased envs).
* **Exploration**: epsilon-greedy at the slate level (a uniformly random ordered slate with
  probability epsilon, annealed linearly), as RecSim's agent (Dopamine's DQN) does.
* **Target network** (Polyak averaging with ``tau``, every ``target_update_interval``
  gradient steps; ``tau=1`` is a periodic copy), a numpy **replay buffer** filled with all
  N users' transitions of each vector step, Huber loss, Adam, gradient-norm clipping.
* **Same-step autoreset**: the step that ends user ``i``'s episode returns the next user's
  first observation; the transition's next state is the finished user's last observation
  ``info["final_obs"][i]``. ``terminated`` (the user left): no bootstrap. ``truncated``
  only (time limit): bootstrap from ``final_obs`` (Pardo et al. 2018), never from the next
  user's first observation.

Inputs are normalised with running statistics inside the network (saved with it). The
target network reads the same normalised inputs as the online network.

Reproducibility: parameters from ``torch.Generator``\\ s seeded by ``SlateQConfig.seed``;
exploration and replay sampling from ``numpy.random.default_rng(seed)``; the env from
``reset(seed=seed)``. Same seed, same machine, same thread count: identical weights.
"""

from __future__ import annotations

import copy
import importlib
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from recarena.agents.base import fixed_propensity, uniform_propensity
from recarena.agents.rl.networks import (
    NormalizedSlateInputs,
    ObservationLayout,
    mlp,
    obs_to_tensors,
)
from recarena.agents.rl.ppo import open_vector_env
from recarena.errors import ConfigError
from recarena.validation import check_choice, check_float, check_int

__all__ = [
    "SLATE_OPTIMIZERS",
    "NStepTransitions",
    "ReplayBuffer",
    "SlateQConfig",
    "SlateQNetwork",
    "SlateQPolicy",
    "SlateQTrainer",
    "choice_probabilities",
    "consumed_position",
    "interest_evolution_choice_scores",
    "next_observations",
    "optimize_slates",
    "slate_value",
    "td_targets",
]

SLATE_OPTIMIZERS = ("auto", "exact", "dinkelbach", "topk", "greedy")
NULL_VALUES = ("learned", "zero")


# =============================================================== choice model and slates
def choice_probabilities(slates: torch.Tensor, scores: torch.Tensor,
                         null_scores: torch.Tensor) -> torch.Tensor:
    """``(B, K + 1)``: the conditional logit's probability of each slate position and, last,
    of no click, for slates ``(B, K)``, candidate scores ``(B, C)`` (log-attractiveness
    ``log v(s, i)``) and null scores ``(B,)``."""
    logits = torch.cat([scores.gather(1, slates), null_scores.unsqueeze(1)], dim=1)
    return torch.softmax(logits, dim=1)


def slate_value(slates: torch.Tensor, q: torch.Tensor, q_null: torch.Tensor,
                scores: torch.Tensor, null_scores: torch.Tensor) -> torch.Tensor:
    """``(B,)``: ``Q(s, A) = sum_{i in A ∪ {⊥}} P(i | s, A) Q(s, i)`` (the decomposition)."""
    p = choice_probabilities(slates, scores, null_scores)
    return (p[:, :-1] * q.gather(1, slates)).sum(1) + p[:, -1] * q_null


_COMBOS: dict[tuple[int, int], torch.Tensor] = {}


def all_slates(num_candidates: int, slate_size: int) -> torch.Tensor:
    """Every K-subset of ``range(C)`` as ``(C choose K, K)`` int64 (cached)."""
    key = (int(num_candidates), int(slate_size))
    if key not in _COMBOS:
        _COMBOS[key] = torch.tensor(list(itertools.combinations(range(key[0]), key[1])),
                                    dtype=torch.long).reshape(-1, key[1])
    return _COMBOS[key]


def _weights(scores: torch.Tensor, null_scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Attractiveness ``v`` ``(B, C)`` and ``v_⊥`` ``(B,)``, scaled by a per-row constant
    (the slate value is invariant to it) so the largest is 1."""
    m = torch.maximum(scores.max(1).values, null_scores)
    return (scores - m.unsqueeze(1)).exp(), (null_scores - m).exp()


def _exact(q, q_null, scores, null_scores, k, max_slates):
    b, c = q.shape
    combos = all_slates(c, k)
    m = combos.shape[0]
    if m > max_slates:
        raise ConfigError("slate_optimizer='exact'", f"C={c}, K={k}: {m} slates",
                          f"at most max_exact_slates={max_slates} slates to enumerate "
                          "(use 'auto' or 'dinkelbach', exact at any size)")
    w, w0 = _weights(scores, null_scores)
    best_v = torch.full((b,), -math.inf, dtype=q.dtype)
    best_i = torch.zeros(b, dtype=torch.long)
    chunk = max(1, 2_000_000 // max(1, b * k))
    for start in range(0, m, chunk):
        part = combos[start:start + chunk]
        ws = w[:, part]  # (B, M, K)
        val = ((w0.unsqueeze(1) * q_null.unsqueeze(1) + (ws * q[:, part]).sum(2))
               / (w0.unsqueeze(1) + ws.sum(2)))
        v, i = val.max(1)
        better = v > best_v
        best_v = torch.where(better, v, best_v)
        best_i = torch.where(better, i + start, best_i)
    return combos[best_i]


def _topk(q, q_null, scores, null_scores, k):
    w, _ = _weights(scores, null_scores)
    return torch.topk(w * (q - q_null.unsqueeze(1)), k, dim=1).indices


def _greedy(q, q_null, scores, null_scores, k):
    w, w0 = _weights(scores, null_scores)
    num, den = w0 * q_null, w0.clone()
    taken = torch.zeros_like(q, dtype=torch.bool)
    picks = []
    for _ in range(k):
        gain = ((num.unsqueeze(1) + w * q) / (den.unsqueeze(1) + w)).masked_fill(taken, -math.inf)
        j = gain.argmax(1, keepdim=True)
        picks.append(j)
        taken = taken.scatter(1, j, True)
        num = num + (w * q).gather(1, j).squeeze(1)
        den = den + w.gather(1, j).squeeze(1)
    return torch.cat(picks, 1)


def _dinkelbach(q, q_null, scores, null_scores, k, max_iter: int = 100):
    w, w0 = _weights(scores, null_scores)
    best = _topk(q, q_null, scores, null_scores, k)

    def value(s):
        ws = w.gather(1, s)
        return (w0 * q_null + (ws * q.gather(1, s)).sum(1)) / (w0 + ws.sum(1))

    lam = value(best)
    for _ in range(max_iter):
        cand = torch.topk(w * (q - lam.unsqueeze(1)), k, dim=1).indices
        v = value(cand)
        better = v > lam + 1e-7 * (1.0 + lam.abs())
        if not bool(better.any()):
            break
        best = torch.where(better.unsqueeze(1), cand, best)
        lam = torch.where(better, v, lam)
    return best


def optimize_slates(q: torch.Tensor, q_null: torch.Tensor, scores: torch.Tensor,
                    null_scores: torch.Tensor, slate_size: int, method: str = "auto",
                    max_exact_slates: int = 5000) -> tuple[torch.Tensor, torch.Tensor]:
    """The slate maximising the decomposed value, per row.

    Args:
        q: ``(B, C)`` item LTVs ``Q(s, i)``.
        q_null: ``(B,)`` the null item's LTV ``Q(s, ⊥)`` (zeros for RecSim's convention).
        scores: ``(B, C)`` choice scores ``log v(s, i)``.
        null_scores: ``(B,)`` ``log v(s, ⊥)``.
        slate_size: K.
        method: one of :data:`SLATE_OPTIMIZERS` (see the module documentation).
        max_exact_slates: the most sets ``"exact"`` enumerates (``"auto"``'s switch).

    Returns:
        Slates ``(B, K)`` int64 (ordered by decreasing ``v (Q - Q_⊥)``) and their values
        ``Q(s, A)`` ``(B,)``.
    """
    c = q.shape[1]
    k = int(slate_size)
    if method == "auto":
        method = "exact" if math.comb(c, k) <= max_exact_slates else "dinkelbach"
    if method == "exact":
        slates = _exact(q, q_null, scores, null_scores, k, max_exact_slates)
    elif method == "dinkelbach":
        slates = _dinkelbach(q, q_null, scores, null_scores, k)
    elif method == "topk":
        slates = _topk(q, q_null, scores, null_scores, k)
    elif method == "greedy":
        slates = _greedy(q, q_null, scores, null_scores, k)
    else:
        raise ConfigError("slate_optimizer", method, "one of " + ", ".join(SLATE_OPTIMIZERS))
    w, _ = _weights(scores, null_scores)
    key = (w * (q - q_null.unsqueeze(1))).gather(1, slates)
    slates = slates.gather(1, torch.argsort(key, dim=1, descending=True, stable=True))
    return slates, slate_value(slates, q, q_null, scores, null_scores)


def interest_evolution_choice_scores(obs: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """InterestEvolution-v0's true choice model as conditional-logit scores (a known
    ``choice_fn`` for experiments): RecSim's multinomial proportional model
    ``P(i) = (u·x_i + 1) / (sum_j (u·x_j + 1) + 2)`` is the logit with
    ``score(s, i) = log(u·x_i + 1)`` and ``score(s, ⊥) = log 2`` (``no_click_mass = 1``,
    ``min_normalizer = -1``)."""
    u = np.asarray(obs["interests"], dtype=np.float64)
    x = np.asarray(obs["candidate_features"], dtype=np.float64)
    affinity = np.einsum("ncd,nd->nc", x, u) + 1.0
    return np.log(np.maximum(affinity, 1e-9)), np.full(u.shape[0], math.log(2.0))


def _resolve_choice_fn(path: str | None) -> Callable[..., Any] | None:
    if path is None:
        return None
    module, _, attr = path.partition(":")
    try:
        fn = getattr(importlib.import_module(module), attr) if module and attr else None
    except (ImportError, AttributeError):
        fn = None
    if not callable(fn):
        raise ConfigError("slateq.choice_fn", path,
                          "None (learn the choice model) or the import path 'module:function' "
                          "of a function obs -> (scores (N, C), null_scores (N,))")
    return fn


# =============================================================== networks
class _ItemValues(nn.Module):
    """A value per candidate and one for the null item, from a candidate encoder shared
    across candidates and a context encoder.

    Candidate ``i``: ``out(tanh(W_e e_i + W_c c + W_x (e_i * c)))``, an MLP of
    ``[e_i, c, e_i * c]`` as in :class:`~recarena.agents.rl.networks.SlateActorCritic`
    (the context's term computed once per row, not once per candidate); the null item: an
    MLP of the context ``c`` (the user's state, whatever is on offer). ``items`` ``(B, M)``
    evaluates only those candidates (the TD and likelihood losses need the shown or
    consumed ones, not all C). With ``relative=True`` a candidate's output is added to the
    null item's (a dueling parameterisation, Wang et al. 2016: the head learns
    ``Q(s, i) - Q(s, ⊥)``, the only thing the slate optimiser compares)."""

    def __init__(self, dc: int, dx: int, h: int, out_gain: float = 1.0,
                 relative: bool = False) -> None:
        super().__init__()
        self.relative = bool(relative)
        self.cand_enc = nn.Sequential(nn.Linear(dc, h), nn.Tanh())
        self.ctx_enc = nn.Sequential(mlp([max(dx, 1), h, h]), nn.Tanh())
        self.item_e = nn.Linear(h, h)
        self.item_c = nn.Linear(h, h, bias=False)
        self.item_x = nn.Linear(h, h, bias=False)
        self.item_out = nn.Linear(h, 1)
        self.item_out.out_gain = out_gain  # type: ignore[assignment]
        self.null = mlp([h, h, 1], out_gain=out_gain)

    def forward(self, cand: torch.Tensor, ctx: torch.Tensor,
                items: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if items is not None:
            cand = cand.gather(1, items.unsqueeze(2).expand(-1, -1, cand.shape[2]))
        e, c = self.cand_enc(cand), self.ctx_enc(ctx)
        z = torch.tanh(self.item_e(e) + self.item_c(c).unsqueeze(1)
                       + self.item_x(e * c.unsqueeze(1)))
        item, null = self.item_out(z).squeeze(2), self.null(c).squeeze(1)
        return (item + null.unsqueeze(1) if self.relative else item), null


class SlateQNetwork(NormalizedSlateInputs):
    """SlateQ's networks for one env: item LTVs ``q`` (:class:`_ItemValues`) and the
    learned choice model ``choice`` (the same shape of network: candidate scores
    ``log v(s, i)`` and the null score ``log v(s, ⊥)``), over inputs normalised once by
    running statistics shared by both (and by the trainer's target copy of ``q``).

    Args:
        layout: the env's :class:`~recarena.agents.rl.networks.ObservationLayout`.
        hidden: width of the hidden layers.
        normalize: standardise inputs with running statistics.
        null_value: ``"learned"`` (the null item's LTV is a head of ``q``) or ``"zero"``
            (RecSim's convention).
        choice_fn: ``None`` (use the learned ``choice``) or the import path of a known
            score function ``obs -> (scores (N, C), null_scores (N,))``.
        slate_optimizer: one of :data:`SLATE_OPTIMIZERS`.
        max_exact_slates: the most sets ``"exact"`` enumerates.
        seed: seed of the parameter initialisation.
    """

    def __init__(self, layout: ObservationLayout, hidden: int = 64, normalize: bool = True,
                 null_value: str = "learned", choice_fn: str | None = None,
                 slate_optimizer: str = "auto", max_exact_slates: int = 5000,
                 seed: int = 0) -> None:
        super().__init__(layout, normalize)
        self.hidden = int(hidden)
        self.null_value = check_choice(null_value, "slateq.null_value", NULL_VALUES)
        self.slate_optimizer = check_choice(slate_optimizer, "slateq.slate_optimizer",
                                            SLATE_OPTIMIZERS)
        self.max_exact_slates = int(max_exact_slates)
        if self.slate_optimizer == "exact" and math.comb(layout.num_candidates,
                                                         layout.slate_size) > max_exact_slates:
            raise ConfigError("slateq.slate_optimizer", "exact",
                              f"'auto' or 'dinkelbach' for C={layout.num_candidates}, "
                              f"K={layout.slate_size} ({math.comb(layout.num_candidates, layout.slate_size)}"
                              f" slates > max_exact_slates={max_exact_slates})")
        self.choice_fn = choice_fn
        self._choice_fn = _resolve_choice_fn(choice_fn)
        dc, dx, h = layout.candidate_dim, layout.context_dim, self.hidden
        self.q = _ItemValues(dc, dx, h, relative=self.null_value == "learned")
        self.choice = _ItemValues(dc, dx, h, out_gain=0.01)
        self.reset_parameters(seed)

    def reset_parameters(self, seed: int) -> None:
        for i, part in enumerate((self.q, self.choice)):
            gen = torch.Generator().manual_seed(int(seed) * 2 + i)
            for module in part.modules():
                if isinstance(module, nn.Linear):
                    gain = getattr(module, "out_gain", float(np.sqrt(2.0)))
                    nn.init.orthogonal_(module.weight, gain, generator=gen)
                    if module.bias is not None:
                        nn.init.zeros_(module.bias)

    def config(self) -> dict[str, Any]:
        return {"kind": "slateq", "layout": self.layout.to_dict(), "hidden": self.hidden,
                "normalize": self.normalize, "null_value": self.null_value,
                "choice_fn": self.choice_fn, "slate_optimizer": self.slate_optimizer,
                "max_exact_slates": self.max_exact_slates}

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> SlateQNetwork:
        return cls(ObservationLayout.from_dict(cfg["layout"]), int(cfg["hidden"]),
                   bool(cfg["normalize"]), str(cfg.get("null_value", "learned")),
                   cfg.get("choice_fn"), str(cfg.get("slate_optimizer", "auto")),
                   int(cfg.get("max_exact_slates", 5000)))

    # ------------------------------------------------------------- heads
    def item_values(self, cand: torch.Tensor, ctx: torch.Tensor,
                    q_net: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``Q(s, i)`` ``(B, C)`` and ``Q(s, ⊥)`` ``(B,)`` (zeros with ``null_value="zero"``)
        from ``q_net`` (default: the online ``q``; the trainer passes its target copy)."""
        item, null = (self.q if q_net is None else q_net)(cand, ctx)
        if self.null_value == "zero":
            null = torch.zeros_like(null)
        return item, null

    def choice_scores(self, obs: dict[str, Any], cand: torch.Tensor,
                      ctx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Choice scores ``log v(s, i)`` ``(B, C)`` and ``log v(s, ⊥)`` ``(B,)``: the known
        ``choice_fn`` on the raw observation, or the learned network."""
        if self._choice_fn is not None:
            s, s0 = self._choice_fn({k: np.asarray(v) for k, v in obs.items()})
            return (torch.as_tensor(np.asarray(s), dtype=torch.float32),
                    torch.as_tensor(np.asarray(s0), dtype=torch.float32).reshape(-1))
        return self.choice(cand, ctx)

    def choice_nll(self, cand: torch.Tensor, ctx: torch.Tensor, slates: torch.Tensor,
                   choice: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood of the observed choices ``(B,)`` (a slate position,
        or K for no click) of slates ``(B, K)`` under the learned conditional logit: the
        loss that fits :attr:`choice` (maximum likelihood)."""
        s, s0 = self.choice(cand, ctx, slates)
        return F.cross_entropy(torch.cat([s, s0.unsqueeze(1)], dim=1), choice)

    @torch.no_grad()
    def greedy(self, obs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """The best slates ``(B, K)`` under the current values and choice model, and their
        values ``(B,)``."""
        obs_t = obs_to_tensors(obs)
        cand, ctx = self.inputs(obs_t)
        q, q0 = self.item_values(cand, ctx)
        s, s0 = self.choice_scores(obs, cand, ctx)
        return optimize_slates(q, q0, s, s0, self.layout.slate_size, self.slate_optimizer,
                               self.max_exact_slates)


# =============================================================== transitions
def consumed_position(clicked: Any) -> np.ndarray:
    """``(N,)`` the consumed slate position of each row: the first clicked position, or
    K (the null item) when nothing was clicked."""
    c = np.asarray(clicked, dtype=bool)
    return np.where(c.any(axis=1), c.argmax(axis=1), c.shape[1]).astype(np.int64)


def next_observations(next_obs: dict[str, np.ndarray], terminated: np.ndarray,
                      truncated: np.ndarray, info: dict[str, Any]) -> dict[str, np.ndarray]:
    """The next state of each row's transition under same-step autoreset: ``next_obs``,
    except in rows whose episode ended, where it is the finished user's last observation
    ``info["final_obs"][i]`` (the row of ``next_obs`` is already the next user's first)."""
    done = np.asarray(terminated, dtype=bool) | np.asarray(truncated, dtype=bool)
    if not done.any():
        return next_obs
    if "final_obs" not in info:
        raise ConfigError("vector env info", sorted(info),
                          "info['final_obs'] on a step that ends an episode (same-step autoreset)")
    out = {k: np.array(v, copy=True) for k, v in next_obs.items()}
    for i in np.flatnonzero(done):
        last = info["final_obs"][i]
        for key in out:
            out[key][i] = last[key]
    return out


def td_targets(returns: torch.Tensor, discount: torch.Tensor,
               next_value: torch.Tensor) -> torch.Tensor:
    """``R + discount * max_{A'} Q(s', A')``: ``R`` the (n-step) discounted reward and
    ``discount`` ``gamma^m`` after ``m`` rewards, 0 when the episode terminated (the user
    left: no bootstrap); a truncated episode bootstraps from its final observation."""
    return returns + discount * next_value


class NStepTransitions:
    """Turns each row's stream of steps into (n-step) transitions, under same-step
    autoreset.

    A transition ``(s_t, A_t, consumed position, R, s', discount)`` has
    ``R = sum_{j < m} gamma^j r_{t+j}`` over ``m = n`` steps, or fewer when the episode
    ends first; ``s'`` is the state ``m`` steps later and ``discount = gamma^m``. When the
    episode ends, every pending transition of the row is emitted: ``s'`` is the finished
    user's last observation ``info["final_obs"][i]`` and ``discount`` is 0 if the episode
    *terminated* (no bootstrap), ``gamma^m`` if it was only *truncated* (bootstrap from the
    final observation, never from the next user's first). ``n = 1`` is the paper's
    one-step SlateQ.
    """

    def __init__(self, n: int, gamma: float, num_rows: int, space: gym.spaces.Dict,
                 slate_size: int) -> None:
        self.n, self.gamma, self.rows = int(n), float(gamma), int(num_rows)
        self.obs = {k: np.zeros((self.n, self.rows, *sub.shape), dtype=sub.dtype)
                    for k, sub in space.spaces.items()}
        self.slates = np.zeros((self.n, self.rows, slate_size), dtype=np.int64)
        self.choice = np.zeros((self.n, self.rows), dtype=np.int64)
        self.reward = np.zeros((self.n, self.rows), dtype=np.float64)
        self.count = np.zeros(self.rows, dtype=np.int64)
        self.t = 0

    def push(self, obs: dict[str, np.ndarray], slates: np.ndarray, choice: np.ndarray,
             reward: np.ndarray, next_obs: dict[str, np.ndarray], terminated: np.ndarray,
             truncated: np.ndarray, info: dict[str, Any]) -> dict[str, Any] | None:
        """Record one vector step; return the transitions it completes (a dict of arrays
        for :meth:`ReplayBuffer.add`) or ``None``."""
        n, g = self.n, self.gamma
        slot = self.t % n
        for key in self.obs:
            self.obs[key][slot] = obs[key]
        self.slates[slot], self.choice[slot], self.reward[slot] = slates, choice, reward
        self.count += 1
        self.t += 1
        term = np.asarray(terminated, dtype=bool)
        done = term | np.asarray(truncated, dtype=bool)
        boot = next_observations(next_obs, terminated, truncated, info)
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        full = np.flatnonzero((self.count == n) & ~done)
        if full.size:  # the oldest pending step of these rows is n steps old
            slots = (self.t - n + np.arange(n)) % n
            ret = (g ** np.arange(n))[:, None] * self.reward[slots][:, full]
            parts.append((np.full(full.size, self.t % n), full, ret.sum(0),
                          np.full(full.size, g ** n)))
            self.count[full] -= 1
        ended = np.flatnonzero(done)
        if ended.size:  # flush these rows: their episodes are over
            m = self.count[ended]
            top = int(m.max())
            ages = np.arange(top)  # age 0: this step's transition
            slots = (self.t - 1 - ages) % n
            r = self.reward[slots][:, ended]  # (age, row)
            ret = np.empty_like(r)
            acc = np.zeros(ended.size)
            for a in range(top):  # the transition of age a collects r_a, r_{a-1}, ..., r_0
                acc = r[a] + g * acc
                ret[a] = acc
            disc = np.where(term[ended][None, :], 0.0, g ** (ages + 1.0)[:, None])
            a_idx, d_idx = np.nonzero(ages[:, None] < m[None, :])
            parts.append((slots[a_idx], ended[d_idx], ret[a_idx, d_idx], disc[a_idx, d_idx]))
            self.count[ended] = 0
        if not parts:
            return None
        slots = np.concatenate([p[0] for p in parts])
        rows = np.concatenate([p[1] for p in parts])
        return {"obs": {k: v[slots, rows] for k, v in self.obs.items()},
                "slates": self.slates[slots, rows], "choice": self.choice[slots, rows],
                "reward": np.concatenate([p[2] for p in parts]),
                "next_obs": {k: v[rows] for k, v in boot.items()},
                "discount": np.concatenate([p[3] for p in parts])}

    def state_dict(self) -> dict[str, Any]:
        return {"obs": {k: v.copy() for k, v in self.obs.items()}, "slates": self.slates.copy(),
                "choice": self.choice.copy(), "reward": self.reward.copy(),
                "count": self.count.copy(), "t": self.t}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k in self.obs:
            self.obs[k][...] = state["obs"][k]
        self.slates[...], self.choice[...] = state["slates"], state["choice"]
        self.reward[...], self.count[...] = state["reward"], state["count"]
        self.t = int(state["t"])


class ReplayBuffer:
    """A circular numpy buffer of transitions ``(s, A, consumed position, R, s',
    discount)`` (see :class:`NStepTransitions`). Observations keep their space dtypes."""

    def __init__(self, capacity: int, space: gym.spaces.Dict, slate_size: int) -> None:
        self.capacity = int(capacity)
        shapes = {k: (tuple(sub.shape), sub.dtype) for k, sub in space.spaces.items()}
        self.obs = {k: np.zeros((self.capacity, *s), dtype=d) for k, (s, d) in shapes.items()}
        self.next_obs = {k: np.zeros((self.capacity, *s), dtype=d) for k, (s, d) in shapes.items()}
        self.slates = np.zeros((self.capacity, slate_size), dtype=np.int64)
        self.choice = np.zeros(self.capacity, dtype=np.int64)
        self.reward = np.zeros(self.capacity, dtype=np.float32)
        self.discount = np.zeros(self.capacity, dtype=np.float32)
        self.pos, self.size = 0, 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs: dict[str, np.ndarray], slates: np.ndarray, choice: np.ndarray,
            reward: np.ndarray, next_obs: dict[str, np.ndarray], discount: np.ndarray) -> None:
        n = len(choice)
        idx = (self.pos + np.arange(n)) % self.capacity
        for key in self.obs:
            self.obs[key][idx] = obs[key]
            self.next_obs[key][idx] = next_obs[key]
        self.slates[idx], self.choice[idx] = slates, choice
        self.reward[idx], self.discount[idx] = reward, discount
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def get(self, idx: np.ndarray) -> dict[str, Any]:
        return {"obs": {k: v[idx] for k, v in self.obs.items()},
                "next_obs": {k: v[idx] for k, v in self.next_obs.items()},
                "slates": self.slates[idx], "choice": self.choice[idx],
                "reward": self.reward[idx], "discount": self.discount[idx]}

    def state_dict(self) -> dict[str, Any]:
        n = self.size
        return {"pos": self.pos, "size": n, "capacity": self.capacity,
                "data": self.get(np.arange(n))}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["capacity"] != self.capacity:
            raise ConfigError("checkpoint replay capacity", state["capacity"], str(self.capacity))
        n = int(state["size"])
        data = state["data"]
        for key in self.obs:
            self.obs[key][:n] = data["obs"][key]
            self.next_obs[key][:n] = data["next_obs"][key]
        self.slates[:n], self.choice[:n] = data["slates"], data["choice"]
        self.reward[:n], self.discount[:n] = data["reward"], data["discount"]
        self.pos, self.size = int(state["pos"]), n


# =============================================================== configuration
@dataclass(frozen=True)
class SlateQConfig:
    """SlateQ's settings (DQN's names where they exist, as in SB3).

    Attributes:
        num_envs: users simulated side by side (rows of the vector env).
        buffer_size: replay capacity in transitions (user-steps).
        learning_starts: env steps of exploration before the first gradient step.
        batch_size: transitions per gradient step.
        train_freq: vector steps between rounds of gradient steps.
        gradient_steps: gradient steps per round.
        learning_rate: Adam's step size for the item values.
        choice_learning_rate: Adam's step size for the learned choice model.
        gamma: discount.
        n_step: steps of reward before bootstrapping (1: the paper's one-step SlateQ; see
            :class:`NStepTransitions`).
        tau: Polyak coefficient of the target update (1: a copy).
        target_update_interval: gradient steps between target updates.
        exploration_fraction: share of ``total_steps`` over which epsilon anneals.
        exploration_initial_eps, exploration_final_eps: epsilon's start and end.
        slate_optimizer: ``"auto"``, ``"exact"``, ``"dinkelbach"``, ``"topk"`` or
            ``"greedy"`` (acting and the Q-learning target).
        max_exact_slates: the most sets ``"exact"`` enumerates (``"auto"``'s switch).
        null_value: ``"learned"`` (the paper's decomposition with the null item's LTV) or
            ``"zero"`` (RecSim's and RLlib's: no-click steps are dropped from the TD loss).
        choice_fn: ``None`` (learn the choice model) or the import path
            ``"module:function"`` of known scores ``obs -> (scores (N, C), null (N,))``.
        reward_scale: rewards are multiplied by it before learning (values in those units;
            the slates are unchanged): pick it so that values are O(10) (the Huber loss is
            linear beyond 1), e.g. 0.1 on InterestEvolution-v0.
        max_grad_norm: global gradient-norm clip.
        norm_obs: standardise observations (running statistics in the network).
        hidden: width of the hidden layers.
        log_interval: vector steps per :attr:`SlateQTrainer.history` row.
        seed: seed of the env, the parameters, exploration and replay sampling.
    """

    num_envs: int = 256
    buffer_size: int = 100_000
    learning_starts: int = 20_000
    batch_size: int = 256
    train_freq: int = 1
    gradient_steps: int = 1
    learning_rate: float = 1e-3
    choice_learning_rate: float = 1e-3
    gamma: float = 0.99
    n_step: int = 1
    tau: float = 0.01
    target_update_interval: int = 1
    exploration_fraction: float = 0.1
    exploration_initial_eps: float = 1.0
    exploration_final_eps: float = 0.05
    slate_optimizer: str = "auto"
    max_exact_slates: int = 5000
    null_value: str = "learned"
    choice_fn: str | None = None
    reward_scale: float = 1.0
    max_grad_norm: float = 10.0
    norm_obs: bool = True
    hidden: int = 64
    log_interval: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        check_int(self.num_envs, "slateq.num_envs", 1)
        check_int(self.buffer_size, "slateq.buffer_size", self.num_envs)
        check_int(self.learning_starts, "slateq.learning_starts", 0)
        check_int(self.batch_size, "slateq.batch_size", 1)
        check_int(self.train_freq, "slateq.train_freq", 1)
        check_int(self.gradient_steps, "slateq.gradient_steps", 0)
        check_float(self.learning_rate, "slateq.learning_rate", 0.0, 1.0, low_open=True)
        check_float(self.choice_learning_rate, "slateq.choice_learning_rate", 0.0, 1.0,
                    low_open=True)
        check_float(self.gamma, "slateq.gamma", 0.0, 1.0, high_open=True)
        check_int(self.n_step, "slateq.n_step", 1, 1000)
        check_float(self.tau, "slateq.tau", 0.0, 1.0, low_open=True)
        check_int(self.target_update_interval, "slateq.target_update_interval", 1)
        check_float(self.exploration_fraction, "slateq.exploration_fraction", 0.0, 1.0)
        check_float(self.exploration_initial_eps, "slateq.exploration_initial_eps", 0.0, 1.0)
        check_float(self.exploration_final_eps, "slateq.exploration_final_eps", 0.0, 1.0)
        check_choice(self.slate_optimizer, "slateq.slate_optimizer", SLATE_OPTIMIZERS)
        check_int(self.max_exact_slates, "slateq.max_exact_slates", 1)
        check_choice(self.null_value, "slateq.null_value", NULL_VALUES)
        if self.choice_fn is not None and not isinstance(self.choice_fn, str):
            raise ConfigError("slateq.choice_fn", self.choice_fn,
                              "None or an import path 'module:function'")
        _resolve_choice_fn(self.choice_fn)
        check_float(self.reward_scale, "slateq.reward_scale", 0.0, low_open=True)
        check_float(self.max_grad_norm, "slateq.max_grad_norm", 0.0, 1e6, low_open=True)
        if not isinstance(self.norm_obs, bool):
            raise ConfigError("slateq.norm_obs", self.norm_obs, "True or False")
        check_int(self.hidden, "slateq.hidden", 1, 4096)
        check_int(self.log_interval, "slateq.log_interval", 1)
        check_int(self.seed, "slateq.seed", 0)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SlateQConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError("slateq", unknown, "SlateQ settings: " + ", ".join(sorted(known)))
        return cls(**data)


# =============================================================== trainer
class SlateQTrainer:
    """SlateQ (Q-learning on the decomposed slate value) over a recarena vector env.

    Args:
        envs: a vector env in same-step autoreset mode with recarena's conventions
            (``num_candidates``, ``slate_size``, a ``Dict`` observation with
            ``candidate_*`` entries, ``info["response"].clicked``, ``info["final_obs"]``
            and ``info["final_info"]``): ``gym.make_vec(id, num_envs=...,
            vectorization_mode="vector_entry_point")``, or an env id (built with
            ``config.num_envs`` users and ``env_kwargs``).
        config: :class:`SlateQConfig`.
        env_kwargs: constructor arguments of the env when ``envs`` is an id.

    :meth:`learn` trains for a number of env steps (user-steps) and records one row per
    ``log_interval`` vector steps in :attr:`history`; :meth:`policy` is the trained network
    as a :class:`SlateQPolicy`; :meth:`state_dict` / :meth:`load_state_dict` checkpoint
    everything needed to resume exactly (networks, optimisers, replay, random streams, the
    env's users; the env must have ``snapshot``/``restore``, as recarena's do).
    """

    algo = "slateq"

    def __init__(self, envs: gym.vector.VectorEnv | str, config: SlateQConfig | None = None,
                 env_kwargs: dict[str, Any] | None = None) -> None:
        self.config = config = config or SlateQConfig()
        if not isinstance(config, SlateQConfig):
            raise ConfigError("SlateQTrainer.config", config, "a SlateQConfig")
        self.env_kwargs = dict(env_kwargs or {})
        envs, self.env_id, self._owns_env = open_vector_env(envs, config.num_envs,
                                                            self.env_kwargs, "SlateQTrainer.envs")
        self.envs = envs
        try:
            base = getattr(envs, "unwrapped", envs)
            self.layout = ObservationLayout.from_space(envs.single_observation_space,
                                                       base.num_candidates, base.slate_size,
                                                       "slateq")
            self.net = SlateQNetwork(self.layout, config.hidden, config.norm_obs,
                                     config.null_value, config.choice_fn,
                                     config.slate_optimizer, config.max_exact_slates,
                                     config.seed)
        except ConfigError:
            self.close()
            raise
        self.target_q = copy.deepcopy(self.net.q).requires_grad_(False)
        self.q_optimizer = torch.optim.Adam(self.net.q.parameters(), lr=config.learning_rate)
        self.choice_optimizer = torch.optim.Adam(self.net.choice.parameters(),
                                                 lr=config.choice_learning_rate)
        self.rng = np.random.default_rng(config.seed)
        self.replay = ReplayBuffer(config.buffer_size, envs.single_observation_space,
                                   self.layout.slate_size)
        self.transitions = NStepTransitions(config.n_step, config.gamma, config.num_envs,
                                            envs.single_observation_space, self.layout.slate_size)
        self.global_step = 0
        self.vector_steps = 0
        self.gradient_updates = 0
        self.iterations = 0
        self.history: list[dict[str, float]] = []
        self._obs: dict[str, np.ndarray] | None = None
        self._episodes: list[tuple[float, int]] = []

    # ---------------------------------------------------------------- acting
    def epsilon(self, total_steps: int) -> float:
        """Exploration rate at the current step of a run of ``total_steps``."""
        cfg = self.config
        span = cfg.exploration_fraction * total_steps
        frac = 1.0 if span <= 0 else min(1.0, self.global_step / span)
        return cfg.exploration_initial_eps + frac * (cfg.exploration_final_eps
                                                     - cfg.exploration_initial_eps)

    def _act(self, obs: dict[str, np.ndarray], eps: float) -> np.ndarray:
        n, c, k = self.config.num_envs, self.layout.num_candidates, self.layout.slate_size
        explore = self.rng.random(n) < eps
        noise = self.rng.random((int(explore.sum()), c))
        if explore.all():
            return np.argsort(noise, axis=1)[:, :k].astype(np.int64)
        slates = self.net.greedy(obs)[0].numpy().astype(np.int64)
        if explore.any():
            slates[explore] = np.argsort(noise, axis=1)[:, :k]
        return slates

    # ---------------------------------------------------------------- training
    def learn(self, total_steps: int,
              callback: Callable[[SlateQTrainer], bool | None] | None = None,
              time_limit: float | None = None) -> SlateQTrainer:
        """Train until ``total_steps`` env steps in all (counting earlier calls), or
        ``time_limit`` seconds of this call. ``callback(trainer)`` runs after every
        history row; returning False stops."""
        total = check_int(total_steps, "total_steps", 1)
        if time_limit is not None:
            check_float(time_limit, "time_limit", 0.0, low_open=True)
        cfg, envs = self.config, self.envs
        start = time.perf_counter()
        if self._obs is None:
            self._obs, _ = envs.reset(seed=cfg.seed)
            self.net.update_normalizer(self._obs)
        stop = False
        while self.global_step < total and not stop:
            t0 = time.perf_counter()
            steps0 = self.global_step
            q_losses, c_losses, q_means, rewards = [], [], [], []
            eps = self.epsilon(total)
            for _ in range(cfg.log_interval):
                if self.global_step >= total:
                    break
                eps = self.epsilon(total)
                obs = self._obs
                slates = self._act(obs, eps)
                next_obs, reward, term, trunc, info = envs.step(slates)
                choice = consumed_position(info["response"].clicked)
                batch = self.transitions.push(obs, slates, choice, reward, next_obs, term,
                                              trunc, info)
                if batch is not None:
                    self.replay.add(**batch)
                rewards.append(float(np.mean(reward)))
                done = np.asarray(term) | np.asarray(trunc)
                if done.any():
                    fin = info["final_info"]
                    for i in np.flatnonzero(done):
                        self._episodes.append((float(fin["episode_return"][i]),
                                               int(fin["episode_length"][i])))
                self._obs = next_obs
                self.net.update_normalizer(next_obs)
                self.global_step += cfg.num_envs
                self.vector_steps += 1
                if (self.global_step >= cfg.learning_starts
                        and len(self.replay) >= cfg.batch_size
                        and self.vector_steps % cfg.train_freq == 0):
                    for _ in range(cfg.gradient_steps):
                        ql, cl, qm = self._update()
                        q_losses.append(ql)
                        c_losses.append(cl)
                        q_means.append(qm)
            self.iterations += 1
            elapsed = time.perf_counter() - t0
            returns = [r for r, _ in self._episodes]
            lengths = [n for _, n in self._episodes]
            self.history.append({
                "iteration": self.iterations, "global_step": self.global_step,
                "wall_time": time.perf_counter() - start, "episodes": len(returns),
                "episode_return": float(np.mean(returns)) if returns else float("nan"),
                "episode_length": float(np.mean(lengths)) if lengths else float("nan"),
                "reward_per_step": float(np.mean(rewards)) if rewards else float("nan"),
                "steps_per_s": (self.global_step - steps0) / max(elapsed, 1e-9),
                "epsilon": eps, "gradient_steps": self.gradient_updates,
                "q_loss": float(np.mean(q_losses)) if q_losses else float("nan"),
                "choice_loss": float(np.mean(c_losses)) if c_losses else float("nan"),
                "q_mean": float(np.mean(q_means)) if q_means else float("nan"),
            })
            self._episodes = []
            if callback is not None and callback(self) is False:
                stop = True
            if time_limit is not None and time.perf_counter() - start >= time_limit:
                stop = True
        return self

    def _update(self) -> tuple[float, float, float]:
        """One gradient step of the choice model (unless known) and of the item values."""
        cfg, net = self.config, self.net
        idx = self.rng.integers(0, len(self.replay), size=cfg.batch_size)
        b = self.replay.get(idx)
        obs, next_obs = obs_to_tensors(b["obs"]), obs_to_tensors(b["next_obs"])
        slates = torch.as_tensor(b["slates"])
        choice = torch.as_tensor(b["choice"])
        cand, ctx = net.inputs(obs)
        k = self.layout.slate_size
        # the choice model: maximum likelihood of the observed choice (a position or none)
        c_loss = torch.zeros(())
        if net._choice_fn is None:
            c_loss = net.choice_nll(cand, ctx, slates, choice)
            self.choice_optimizer.zero_grad()
            c_loss.backward()
            nn.utils.clip_grad_norm_(net.choice.parameters(), cfg.max_grad_norm)
            self.choice_optimizer.step()
        # the target: R + gamma^m max_A' Q_target(s', A') (no bootstrap when terminated)
        with torch.no_grad():
            cand2, ctx2 = net.inputs(next_obs)
            q2, q20 = net.item_values(cand2, ctx2, self.target_q)
            s2, s20 = net.choice_scores(b["next_obs"], cand2, ctx2)
            _, v2 = optimize_slates(q2, q20, s2, s20, k, net.slate_optimizer,
                                    net.max_exact_slates)
            reward = torch.as_tensor(b["reward"], dtype=torch.float32) * cfg.reward_scale
            y = td_targets(reward, torch.as_tensor(b["discount"]), v2)
        # the consumed item's value (the null item's when nothing was clicked)
        clicked = choice < k
        item = slates.gather(1, choice.clamp(max=k - 1).unsqueeze(1))
        qi, q0 = net.q(cand, ctx, item)
        pred = torch.where(clicked, qi.squeeze(1), q0)
        if net.null_value == "zero":  # RecSim / RLlib: only clicked transitions
            if not bool(clicked.any()):
                return float("nan"), float(c_loss), float("nan")
            q_loss = F.smooth_l1_loss(pred[clicked], y[clicked])
        else:
            q_loss = F.smooth_l1_loss(pred, y)
        self.q_optimizer.zero_grad()
        q_loss.backward()
        nn.utils.clip_grad_norm_(net.q.parameters(), cfg.max_grad_norm)
        self.q_optimizer.step()
        self.gradient_updates += 1
        if self.gradient_updates % cfg.target_update_interval == 0:
            with torch.no_grad():
                for t, p in zip(self.target_q.parameters(), net.q.parameters(), strict=True):
                    t.lerp_(p, cfg.tau)
        return float(q_loss.detach()), float(c_loss.detach()), float(pred.detach().mean())

    # ---------------------------------------------------------------- results
    def policy(self, deterministic: bool = True) -> SlateQPolicy:
        """The trained networks as a recarena policy (the optimiser's slates by default;
        ``deterministic=False``: epsilon-greedy with ``exploration_final_eps``)."""
        return SlateQPolicy(self.net, deterministic=deterministic, seed=self.config.seed,
                            meta=self.metadata(), epsilon=self.config.exploration_final_eps)

    def metadata(self) -> dict[str, Any]:
        return {"algo": self.algo, "env_id": self.env_id, "env_kwargs": self.env_kwargs,
                "config": asdict(self.config), "global_step": self.global_step}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume training exactly (pickled by ``torch.save``), the
        replay buffer included."""
        if self._obs is None:
            raise ConfigError("SlateQTrainer.state_dict", "a trainer that has not started",
                              "learn() called at least once before checkpointing")
        snapshot = getattr(self.envs, "snapshot", None)
        if snapshot is None:
            raise ConfigError("SlateQTrainer.state_dict", type(self.envs).__name__,
                              "a vector env with snapshot()/restore() (recarena's)")
        return {"net": self.net.state_dict(), "target_q": self.target_q.state_dict(),
                "q_optimizer": self.q_optimizer.state_dict(),
                "choice_optimizer": self.choice_optimizer.state_dict(),
                "rng": self.rng.bit_generator.state, "replay": self.replay.state_dict(),
                "transitions": self.transitions.state_dict(),
                "global_step": self.global_step, "vector_steps": self.vector_steps,
                "gradient_updates": self.gradient_updates, "iterations": self.iterations,
                "history": list(self.history), "episodes": list(self._episodes),
                "obs": {k: np.array(v) for k, v in self._obs.items()},
                "env": snapshot(), "config": asdict(self.config)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("config") != asdict(self.config):
            raise ConfigError("checkpoint config", state.get("config"),
                              f"the trainer's configuration {asdict(self.config)}")
        self.net.load_state_dict(state["net"])
        self.target_q.load_state_dict(state["target_q"])
        self.q_optimizer.load_state_dict(state["q_optimizer"])
        self.choice_optimizer.load_state_dict(state["choice_optimizer"])
        self.rng.bit_generator.state = state["rng"]
        self.replay.load_state_dict(state["replay"])
        self.transitions.load_state_dict(state["transitions"])
        self.global_step, self.vector_steps = int(state["global_step"]), int(state["vector_steps"])
        self.gradient_updates = int(state["gradient_updates"])
        self.iterations = int(state["iterations"])
        self.history = list(state["history"])
        self._episodes = list(state["episodes"])
        self.envs.reset(seed=self.config.seed)  # builds the world; restore puts users back
        self.envs.restore(state["env"])
        self._obs = {k: np.array(v) for k, v in state["obs"].items()}

    def close(self) -> None:
        if self._owns_env:
            self.envs.close()


# =============================================================== policy
class SlateQPolicy:
    """A trained SlateQ network as a recarena policy: each row's slate maximises the
    decomposed value ``sum_i P(i | s, A) Q(s, i)`` (the network's slate optimiser).

    Args:
        net: a :class:`SlateQNetwork`.
        deterministic: the optimiser's slate (True), or epsilon-greedy with ``epsilon``
            (a uniformly random ordered slate with probability ``epsilon``).
        seed: seed of the exploration stream (``reset`` rewinds it).
        meta: what the trainer knows, saved in ``policy.json``.
        epsilon: exploration rate when not deterministic.

    Propensities are exact: 0/1 for the deterministic policy; ``epsilon / C + (1 -
    epsilon) [s_j = g_j]`` position-wise and ``epsilon (C-K)!/C! + (1 - epsilon) [s = g]``
    for the slate otherwise (``g`` the optimiser's slate). ``save`` writes the folder format
    of :meth:`~recarena.agents.rl.policy.SlatePolicy.save` with network kind ``"slateq"``;
    :func:`~recarena.agents.rl.policy.load_policy` reads it back.
    """

    is_oracle = False

    def __init__(self, net: SlateQNetwork, deterministic: bool = True, seed: int = 0,
                 meta: dict[str, Any] | None = None, name: str | None = None,
                 epsilon: float = 0.05) -> None:
        if not isinstance(net, SlateQNetwork):
            raise ConfigError("SlateQPolicy.net", net, "a SlateQNetwork")
        if not isinstance(deterministic, bool):
            raise ConfigError("SlateQPolicy.deterministic", deterministic, "True or False")
        self.net = net.eval()
        self.deterministic = deterministic
        self.seed = check_int(seed, "SlateQPolicy.seed", 0)
        self.epsilon = check_float(epsilon, "SlateQPolicy.epsilon", 0.0, 1.0)
        self.meta = dict(meta or {})
        self.name = name or str(self.meta.get("algo", "slateq"))
        self.rng = np.random.default_rng(self.seed)
        self._last: tuple[np.ndarray, float] | None = None

    @classmethod
    def from_checkpoint(cls, net_cfg: dict[str, Any], state: dict[str, Any],
                        meta: dict[str, Any], name: str | None, deterministic: bool,
                        seed: int) -> SlateQPolicy:
        """Rebuild from ``policy.json``'s ``network`` entry and the saved weights."""
        net = SlateQNetwork.from_config(net_cfg)
        net.load_state_dict(state)
        eps = float(meta.get("config", {}).get("exploration_final_eps", 0.05))
        return cls(net, deterministic=deterministic, seed=seed, meta=meta, name=name,
                   epsilon=eps)

    def reset(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self._last = None

    @torch.no_grad()
    def values(self, obs: dict[str, Any]) -> dict[str, np.ndarray]:
        """The network's view of a batch: item LTVs ``q`` ``(N, C)``, ``q_null`` ``(N,)``,
        choice scores ``scores`` ``(N, C)`` and ``null_scores`` ``(N,)``."""
        cand, ctx = self.net.inputs(obs_to_tensors(obs))
        q, q0 = self.net.item_values(cand, ctx)
        s, s0 = self.net.choice_scores(obs, cand, ctx)
        return {"q": q.double().numpy(), "q_null": q0.double().numpy(),
                "scores": s.double().numpy(), "null_scores": s0.double().numpy()}

    def recommend(self, obs: dict[str, Any], info: dict[str, Any] | None = None) -> np.ndarray:
        n = self.net.layout.check_batch(obs, info, self.name)
        greedy = self.net.greedy(obs)[0].numpy().astype(np.int64)
        out = greedy.copy()
        eps = 0.0 if self.deterministic else self.epsilon
        if eps > 0.0:
            c, k = self.net.layout.num_candidates, self.net.layout.slate_size
            explore = self.rng.random(n) < eps
            noise = self.rng.random((int(explore.sum()), c))
            out[explore] = np.argsort(noise, axis=1)[:, :k]
        self._last = (greedy, eps)
        return out

    # --------------------------------------------------------------- propensities
    def _propensities(self, slates: Any) -> tuple[np.ndarray, np.ndarray]:
        s = np.atleast_2d(np.asarray(slates, dtype=np.int64))
        if self._last is None or self._last[0].shape != s.shape:
            return np.full(s.shape, np.nan), np.full(s.shape[0], np.nan)
        greedy, eps = self._last
        pos, slate = fixed_propensity(greedy, s)
        if eps == 0.0:
            return pos, slate
        upos, uslate = uniform_propensity(self.net.layout.num_candidates, s)
        return eps * upos + (1 - eps) * pos, eps * uslate + (1 - eps) * slate

    def propensity(self, slates: Any) -> np.ndarray:
        """``(N, K)``: the probability that the latest ``recommend`` put each shown
        candidate at its position."""
        return self._propensities(slates)[0]

    def slate_propensity(self, slates: Any) -> np.ndarray:
        """``(N,)``: the probability that the latest ``recommend`` chose each ordered slate."""
        return self._propensities(slates)[1]

    # --------------------------------------------------------------- files
    def save(self, path: str | Path) -> Path:
        """Write ``policy.json`` and ``weights.pt`` into folder ``path`` (the format of
        :meth:`~recarena.agents.rl.policy.SlatePolicy.save`, network kind ``"slateq"``)."""
        from recarena.agents.rl.policy import save_policy

        return save_policy(path, self.net, self.name, self.meta)
