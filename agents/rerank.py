"""Re-rankers: policies that re-order the candidates of any base policy that scores them.

A re-ranker wraps a *base* policy that exposes its per-candidate scores
(:class:`~recarena.agents.base.ScoresCandidates`: ``candidate_scores(obs, info) -> (N, C)``;
among the registered policies ``greedy_oracle``, ``quality_bonus_oracle``, ``popular``,
``feature_sort``, ``ucb1``, ``linucb`` and ``diag_linucb``) and builds its slate from
those scores plus a term of its own:

* :class:`FairCo` (Morik et al., SIGIR 2020): relevance + lambda * the exposure/merit
  deficit of the candidate's group so far (a proportional controller);
* :class:`PMMF` (Xu et al., WWW 2023): the top K of relevance - mu[provider], the duals mu
  by online mirror descent on the providers' exposure shares;
* :class:`MMR` (Carbonell & Goldstein, SIGIR 1998): greedy lambda * rel - (1 - lambda) *
  the largest cosine similarity to what is already in the slate;
* :class:`Calibrated` (Steck, RecSys 2018): greedy (1 - lambda) * sum rel - lambda *
  KL(p_user || q~_slate) over topics.

A re-ranker is a :class:`~recarena.agents.base.Policy` itself: ``recommend`` asks the base
for its scores and returns the re-ranked slate; ``update`` forwards the feedback to the
base (so a learning base keeps learning from the slates actually shown) and then feeds the
re-ranker's own state (exposure so far, duals, user histories); ``reset`` resets both;
``is_oracle`` is the base's (an oracle base gets ``info["oracle"]`` through it). The
re-rankers are deterministic given the base's scores (ties broken as
:func:`~recarena.agents.base.top_k` does), so their propensities are 1 for the slate chosen (0 for any other). What they
learn (exposure so far, duals, click histories) changes only in ``update``, from the
slates actually shown; ``recommend`` only notes what it saw (and ``calibrated`` forgets
the history of a row whose user changed). In the policy
registry they are ``fairco``, ``pmmf``, ``mmr`` and ``calibrated``, built with
``base = "<policy name>"`` and ``base_args = {...}``.

Base scores of ``+inf`` (untried arms of an index policy) are put one above the row's
largest finite score, ``-inf`` one below its smallest; NaN is refused.

**Groups** (FairCo, P-MMF) are read per candidate from ``group_key``: an ``(N, C)`` integer
entry of ``info`` or of the observation (``"candidate_creator_ids"`` where an env hands the
candidates' creators out, ``"candidate_ids"`` for items of a catalog,
``"candidate_topic"``), or an ``(N, C, T)`` observation entry of one-hot topic weights
(``"candidate_features"`` of the RecSim-style envs), whose argmax is the group. Group ids
are non-negative; the state arrays grow to the largest id seen, so ids should come from a
bounded set (creators, topics, a catalog), not ever-new item ids.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recarena.agents.base import (
    Policy,
    ReportsPropensity,
    UserRows,
    batch_size,
    observation,
    top_k,
)
from recarena.errors import ConfigError, DataError
from recarena.validation import check_choice, check_float, check_int

__all__ = ["MMR", "PMMF", "Calibrated", "FairCo", "Reranker", "candidate_groups",
           "project_duals"]

#: response fields the calibrated re-ranker can weigh a user's history by
_SIGNALS = ("clicked", "watch_time", "liked", "shared", "followed")


def _scoring_policies() -> str:
    """The registered policies a re-ranker can wrap (read lazily: the registry imports
    this module)."""
    try:
        from recarena.agents.registry import list_policies

        return ", ".join(e.name for e in list_policies()
                         if callable(getattr(e.cls, "candidate_scores", None)))
    except ImportError:  # pragma: no cover - the registry imports cleanly
        return "see recarena.agents.base.ScoresCandidates"


def _finite(scores: Any, n: int, k: int, owner: str) -> np.ndarray:
    """The base's scores as a fresh ``(n, C)`` float64 array without infinities."""
    s = np.array(scores, dtype=np.float64)
    if s.ndim == 1:
        s = s[None]
    if s.ndim != 2 or s.shape[0] != n or s.shape[1] < k:
        raise ConfigError(f"{owner} base scores", s.shape,
                          f"shape ({n}, C) with C >= slate_size={k} (one score per candidate)")
    if np.isnan(s).any():
        raise DataError(f"{owner}: the base policy's candidate scores hold NaN "
                        f"(expected finite or infinite scores, received {int(np.isnan(s).sum())} NaN)")
    bad = ~np.isfinite(s)
    if bad.any():
        fin = np.where(bad, np.nan, s)
        with np.errstate(all="ignore"):
            hi = np.nan_to_num(np.nanmax(fin, axis=1, initial=-np.inf), neginf=0.0)
            lo = np.nan_to_num(np.nanmin(fin, axis=1, initial=np.inf), posinf=0.0)
        s = np.where(s == np.inf, hi[:, None] + 1.0, s)
        s = np.where(s == -np.inf, lo[:, None] - 1.0, s)
    return s


def _minmax(s: np.ndarray) -> np.ndarray:
    """Each row mapped linearly onto ``[0, 1]`` (a constant row to 0)."""
    lo = s.min(axis=1, keepdims=True)
    span = s.max(axis=1, keepdims=True) - lo
    return np.divide(s - lo, span, out=np.zeros_like(s), where=span > 0)


def candidate_groups(obs: Any, info: dict[str, Any] | None, key: str, n: int, c: int,
                     owner: str) -> np.ndarray:
    """The group of every candidate, ``(n, c)`` int64, from ``info[key]`` or ``obs[key]``
    (an ``(N, C, T)`` observation entry: its argmax over T). See the module docstring."""
    if info is not None and key in info:
        x = np.asarray(info[key])
    elif isinstance(obs, dict) and key in obs:
        x = np.asarray(obs[key])
    else:
        have = sorted(set(info or ()) | set(obs if isinstance(obs, dict) else ()))
        raise ConfigError(f"{owner}.group_key", key,
                          "an (N, C) entry of the info or observation naming each candidate's "
                          "group: 'candidate_creator_ids' where the env has it, 'candidate_ids' "
                          "(catalog items), or a one-hot topic entry such as "
                          f"'candidate_features' (this env has {', '.join(have)})")
    if x.ndim == 3:  # topic weights per candidate: the main topic
        x = np.argmax(x, axis=-1)
    if x.ndim == 1:
        x = x[None]
    if x.shape != (n, c):
        raise ConfigError(f"{owner} groups ({key!r})", x.shape, f"shape ({n}, {c}), one per candidate")
    if x.dtype.kind == "f":
        if not np.all(np.isfinite(x) & (x == np.round(x))):
            raise ConfigError(f"{owner} groups ({key!r})", x, "integer group ids")
    elif x.dtype.kind not in "iub":
        raise ConfigError(f"{owner} groups ({key!r})", x.dtype, "integer group ids")
    g = x.astype(np.int64)
    if g.size and g.min() < 0:
        raise ConfigError(f"{owner} groups ({key!r})", int(g.min()), "group ids >= 0")
    return g


class Reranker(ReportsPropensity):
    """Base of the re-rankers: the base policy, its scores, forwarding and propensities.

    Subclasses implement :meth:`_rank` (``(N, C)`` finite scores -> ``(N, K)`` slates) and
    may implement :meth:`_learn` (what the re-ranker records from the slates shown) and
    :meth:`_reset_state`.

    Args:
        base: a policy with ``candidate_scores(obs, info)`` (build one by name with
            ``make_policy(name, env, base="linucb", base_args={...})``).
        slate_size: K.
        base_args: only through the registry (the base's arguments); ``None`` here.
    """

    kind = "reranker"
    #: the base's, set per instance (an oracle base reads ``info["oracle"]`` through it)
    is_oracle = False

    def __init__(self, base: Any, slate_size: int, base_args: dict[str, Any] | None = None) -> None:
        owner = type(self).__name__
        if base_args is not None:
            raise ConfigError(f"{owner}.base_args", base_args,
                              "None when base is a policy object (base_args are for "
                              "make_policy(name, env, base='<policy name>', base_args={...}))")
        if isinstance(base, str):
            raise ConfigError(f"{owner}.base", base,
                              "a policy object (make_policy(name, env, base=<policy name>, "
                              "base_args={...}) builds one by name)")
        if not isinstance(base, Policy) or not callable(getattr(base, "candidate_scores", None)):
            raise ConfigError(f"{owner}.base", getattr(base, "name", base),
                              "a policy with candidate_scores(obs, info) -> (N, C) scores "
                              f"(ScoresCandidates), e.g. {_scoring_policies()}")
        self.base = base
        self.slate_size = check_int(slate_size, f"{owner}.slate_size", 1)
        self.name = f"{self.kind}({base.name})"
        self.is_oracle = bool(base.is_oracle)
        self._last: dict[str, Any] | None = None

    def reset(self) -> None:
        self.base.reset()
        self._chose_unknown()
        self._last = None
        self._reset_state()

    def _reset_state(self) -> None:
        pass

    def recommend(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> np.ndarray:
        owner = type(self).__name__
        n = batch_size(obs, info, owner)
        scores = _finite(self.base.candidate_scores(obs, info), n, self.slate_size, owner)
        slates = self._rank(scores, obs, info).astype(np.int64)
        self._chose_fixed(slates)
        return slates

    def update(self, obs: dict[str, np.ndarray], slates: np.ndarray, response: Any,
               reward: np.ndarray, info: dict[str, Any] | None = None) -> None:
        """Check the call, forward the feedback to the base, then record the shown slates
        (:meth:`_learn`). A bad call raises before the base learns anything."""
        owner = type(self).__name__
        if self._last is None:
            raise ConfigError(f"{owner}.update", "no slates recommended yet",
                              "update() after recommend() on the same observation")
        s = np.asarray(slates, dtype=np.int64)
        s = s[None] if s.ndim == 1 else s
        n = self._last["n"]
        if s.shape != (n, self.slate_size):
            raise ConfigError(f"{owner}.update slates", s.shape, f"shape ({n}, {self.slate_size})")
        base_update = getattr(self.base, "update", None)
        if callable(base_update):
            base_update(obs, slates, response, reward, info)
        self._learn(s, response)

    def _rank(self, scores: np.ndarray, obs: Any, info: dict[str, Any] | None) -> np.ndarray:
        raise NotImplementedError

    def _learn(self, slates: np.ndarray, response: Any) -> None:
        pass


def _grow(a: np.ndarray, size: int) -> np.ndarray:
    if a.shape[0] >= size:
        return a
    out = np.zeros(size, dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


class FairCo(Reranker):
    """FairCo, the fairness controller of Morik, Singh, Hong & Joachims (SIGIR 2020,
    "Controlling Fairness and Bias in Dynamic Learning-to-Rank"), exposure form.

    User ``tau`` is served the ranking by

        sigma_tau(d) = R(d | x_tau) + lambda * err_tau(d)
        err_tau(d)   = (tau - 1) * max_G D_{tau-1}(G, G(d))
        D_t(G_i, G_j) = Exp_t(G_i) / Merit_t(G_i) - Exp_t(G_j) / Merit_t(G_j)

    where ``R(d | x)`` is the base's score of candidate ``d`` (its relevance estimate),
    ``Exp_t(G)`` the exposure the group's items got in the first ``t`` rankings
    (position ``k`` of a slate is worth the paper's position bias ``1 / log2(2 + k)``,
    candidates left out of the slate get none) and ``Merit_t(G)`` the relevance its
    candidates had over the same rankings (``max(R, 0)`` summed, floored at
    ``merit_floor`` as in the authors' code). Averages over ``t`` cancel in the ratio, so
    the sums are kept. ``max_G D(G, G(d))`` is the gap between the best-treated group's
    exposure per merit and that of ``d``'s group: the proportional controller pushes
    groups that got less exposure than their merit earns up, more so the longer the
    disparity has lasted. ``lam = 0`` is the base's ranking; the K highest ``sigma``
    form the slate.

    Batches: the N rows of a batch are N users served with the state before the batch;
    ``update`` then adds their slates' exposure and their candidates' merit and counts
    ``tau`` up by N (with one user per step this is the paper's sequential controller).
    Without updates (e.g. ``evaluate(..., learn=False)``) the state stays empty and FairCo
    ranks as its base.

    Args:
        base: the base policy (see :class:`Reranker`).
        slate_size: K.
        lam: lambda >= 0, the controller gain.
        group_key: where each candidate's group is (module docstring).
        merit_floor: > 0, the smallest merit a group is credited with.
    """

    kind = "fairco"

    def __init__(self, base: Any, slate_size: int, lam: float = 0.01,
                 group_key: str = "candidate_creator_ids", merit_floor: float = 1e-4,
                 base_args: dict[str, Any] | None = None) -> None:
        super().__init__(base, slate_size, base_args)
        self.lam = check_float(lam, "FairCo.lam", 0.0)
        if not isinstance(group_key, str) or not group_key:
            raise ConfigError("FairCo.group_key", group_key, "an info or observation key (str)")
        self.group_key = group_key
        self.merit_floor = check_float(merit_floor, "FairCo.merit_floor", 0.0, low_open=True)
        self.position_bias = 1.0 / np.log2(2.0 + np.arange(self.slate_size))
        self._reset_state()

    def _reset_state(self) -> None:
        self.exposure = np.zeros(0)
        self.merit = np.zeros(0)
        self.seen = np.zeros(0, dtype=bool)
        self.served = 0

    def errors(self, size: int = 0) -> np.ndarray:
        """``err`` of the group ids ``0 .. max(size, G) - 1``: ``(tau - 1) * (best ratio -
        ratio)``, where a group not seen yet has had no exposure (ratio 0)."""
        ratio = _grow(self.exposure / np.maximum(self.merit, self.merit_floor), size)
        if not self.seen.any():
            return np.zeros_like(ratio)
        return self.served * (ratio[: self.seen.shape[0]][self.seen].max() - ratio)

    def _rank(self, scores: np.ndarray, obs: Any, info: dict[str, Any] | None) -> np.ndarray:
        n, c = scores.shape
        groups = candidate_groups(obs, info, self.group_key, n, c, "FairCo")
        err = self.errors(int(groups.max()) + 1 if groups.size else 0)
        sigma = scores + self.lam * err[groups]
        self._last = {"n": n, "groups": groups, "merit": np.maximum(scores, 0.0)}
        return top_k(sigma, self.slate_size)

    def _learn(self, slates: np.ndarray, response: Any) -> None:
        assert self._last is not None
        groups, merit = self._last["groups"], self._last["merit"]
        size = max(self.seen.shape[0], int(groups.max()) + 1 if groups.size else 0)
        self.exposure, self.merit = _grow(self.exposure, size), _grow(self.merit, size)
        self.seen = _grow(self.seen, size)
        shown = np.take_along_axis(groups, slates, axis=1)
        weight = np.broadcast_to(self.position_bias, shown.shape)
        self.exposure += np.bincount(shown.ravel(), weight.ravel(), minlength=size)
        self.merit += np.bincount(groups.ravel(), merit.ravel(), minlength=size)
        self.seen[np.unique(groups)] = True
        self.served += slates.shape[0]


def project_duals(y: np.ndarray, lam: float) -> np.ndarray:
    """Euclidean projection of ``y`` onto ``{y : sum_{i in S} y_i >= -lam for every set S}``,
    the dual feasible set of P-MMF in the scaled variables ``y = rho * mu``.

    The binding set is the one of all negative entries, so the set is
    ``sum_i max(-y_i, 0) <= lam``: positive entries stay, and the negative parts are
    projected onto the l1 ball of radius ``lam`` (soft-thresholded by the ``theta`` that
    makes them sum to ``lam``). The paper's code solves the same problem with cvxpy over
    the prefix sums of ``y`` sorted ascending."""
    y = np.asarray(y, dtype=np.float64)
    v = np.maximum(-y, 0.0)
    if v.sum() <= lam:
        return y.copy()
    if lam <= 0.0:
        return np.maximum(y, 0.0)
    u = np.sort(v)[::-1]
    cs = np.cumsum(u)
    j = np.arange(1, u.size + 1)
    r = int(np.flatnonzero(u - (cs - lam) / j > 0)[-1])
    theta = (cs[r] - lam) / (r + 1)
    return np.where(y < 0.0, -np.maximum(v - theta, 0.0), y)


class PMMF(Reranker):
    """Provider max-min fairness re-ranking in the spirit of P-MMF (Xu, Chen, Xu, Dong &
    Wen, WWW 2023, "P-MMF: Provider Max-min Fairness Re-ranking in Recommender System"):
    the online dual mirror descent of the paper's Algorithm 1.

    Each provider ``p`` (group, see the module docstring) has a dual variable ``mu_p``
    (0 at the start) and a fair share ``rho_p`` (uniform: ``1 / P`` over the P *active*
    providers: those among the candidates of the last ``active_window`` updates). The
    paper's providers are fixed; in a world where creators leave and enter, a provider
    that no longer appears among the candidates cannot be shown, so it leaves the active
    set (its dual and momentum are forgotten: it is no longer owed a share, and it does
    not hold the ``lam`` budget) and re-enters at 0 if it appears again. A user is served the top K of ``s_i - mu_{p(i)}`` (``s`` the base's
    scores), shown in the order of ``s``. Then, with ``e_p`` the provider's share of the
    slate's K places,

        g       = rho - e                                  (the dual subgradient)
        g       <- gamma * g + (1 - gamma) * g_previous    (momentum, as in the paper's code)
        mu~     = mu - eta * g / rho**2                    (mirror step, h = 1/2 ||rho mu||^2)
        mu      = argmin_{mu in M} ||rho * (mu - mu~)||^2,
        M       = {mu : sum_{p in S} rho_p mu_p >= -lam for every provider set S}

    with ``eta = learning_rate / sqrt(C)`` (``C`` candidates, the paper code's
    ``lr / sqrt(#items)``). A provider shown less than its share gets a negative dual and
    its items move up; ``lam`` bounds how far (``sum rho * max(-mu, 0) <= lam``,
    :func:`project_duals`). The paper also masks providers that used up their exposure
    budget for a known horizon T; an open-ended run has no T, so there is no mask here.

    Batches: the N rows of a batch share the duals; ``update`` takes one step with the
    mean of their subgradients (with one user per step and every provider among the
    candidates this is the paper's algorithm).

    Args:
        base: the base policy (see :class:`Reranker`).
        slate_size: K.
        lam: lambda >= 0, the fairness budget of the dual set.
        learning_rate: > 0 (``eta = learning_rate / sqrt(C)``).
        gamma: the momentum weight of the newest subgradient, in (0, 1].
        group_key: where each candidate's provider is (module docstring).
        active_window: updates after which a provider absent from the candidates
            leaves the active set (>= 1).
    """

    kind = "pmmf"

    def __init__(self, base: Any, slate_size: int, lam: float = 1.0,
                 learning_rate: float = 0.01, gamma: float = 0.2,
                 group_key: str = "candidate_creator_ids", active_window: int = 50,
                 base_args: dict[str, Any] | None = None) -> None:
        super().__init__(base, slate_size, base_args)
        self.lam = check_float(lam, "PMMF.lam", 0.0)
        self.active_window = check_int(active_window, "PMMF.active_window", 1)
        self.learning_rate = check_float(learning_rate, "PMMF.learning_rate", 0.0, low_open=True)
        self.gamma = check_float(gamma, "PMMF.gamma", 0.0, 1.0, low_open=True)
        if not isinstance(group_key, str) or not group_key:
            raise ConfigError("PMMF.group_key", group_key, "an info or observation key (str)")
        self.group_key = group_key
        self._reset_state()

    def _reset_state(self) -> None:
        self.mu = np.zeros(0)
        self.gradient = np.zeros(0)
        #: the active providers (among the candidates of the last ``active_window`` updates)
        self.seen = np.zeros(0, dtype=bool)
        #: per provider id, the update at which it was last among the candidates
        self.last_seen = np.zeros(0, dtype=np.int64)
        self.updates = 0

    def shares(self) -> np.ndarray:
        """``rho`` of every provider id so far: ``1 / P`` for the P active, 0 for the others."""
        p = int(self.seen.sum())
        return np.where(self.seen, 1.0 / max(p, 1), 0.0)

    def _rank(self, scores: np.ndarray, obs: Any, info: dict[str, Any] | None) -> np.ndarray:
        n, c = scores.shape
        groups = candidate_groups(obs, info, self.group_key, n, c, "PMMF")
        size = int(groups.max()) + 1 if groups.size else 0
        mu = _grow(self.mu, size)
        chosen = top_k(scores - mu[groups], self.slate_size)
        order = np.argsort(-np.take_along_axis(scores, chosen, axis=1), axis=1, kind="stable")
        self._last = {"n": n, "groups": groups, "c": c}
        return np.take_along_axis(chosen, order, axis=1)

    def _learn(self, slates: np.ndarray, response: Any) -> None:
        assert self._last is not None
        groups = self._last["groups"]
        size = max(self.seen.shape[0], int(groups.max()) + 1 if groups.size else 0)
        self.mu, self.gradient = _grow(self.mu, size), _grow(self.gradient, size)
        self.seen, self.last_seen = _grow(self.seen, size), _grow(self.last_seen, size)
        self.updates += 1
        self.last_seen[np.unique(groups)] = self.updates
        was = self.seen
        self.seen = (self.last_seen > 0) & (self.updates - self.last_seen < self.active_window)
        gone = was & ~self.seen  # absent too long: no longer owed a share, duals forgotten
        self.mu[gone], self.gradient[gone] = 0.0, 0.0
        shown = np.take_along_axis(groups, slates, axis=1)
        n, k = shown.shape
        share = np.bincount(shown.ravel(), minlength=size) / (n * k)
        rho = self.shares()
        g = np.where(self.seen, rho - share, 0.0)
        g = self.gamma * g + (1.0 - self.gamma) * self.gradient
        self.gradient = g
        eta = self.learning_rate / np.sqrt(self._last["c"])
        s = self.seen
        tilde = self.mu[s] - eta * g[s] / rho[s] ** 2
        self.mu[s] = project_duals(rho[s] * tilde, self.lam) / rho[s]


class MMR(Reranker):
    """Maximal marginal relevance (Carbonell & Goldstein, SIGIR 1998, "The Use of MMR,
    Diversity-Based Reranking for Reordering Documents and Producing Summaries"):
    the slate is built greedily, each place taking

        argmax_{i not in S} [ lam * rel(i) - (1 - lam) * max_{j in S} cos(x_i, x_j) ]

    with ``rel`` the base's scores (min-max scaled to [0, 1] per row with ``normalize``,
    like the paper's similarity to the query) and ``x`` the candidates' features
    (``obs[feature_key]``, ``(N, C, d)``; a zero vector is similar to nothing). The max
    over the empty slate is 0, and ties go to the more relevant candidate (then the lower
    index), so ``lam = 1`` is the base's top K and ``lam = 0`` starts from the most
    relevant candidate and then adds the least similar ones.

    Args:
        base: the base policy (see :class:`Reranker`).
        slate_size: K.
        lam: lambda in [0, 1].
        feature_key: the observation entry of candidate features.
        normalize: min-max scale the base's scores per row.
    """

    kind = "mmr"

    def __init__(self, base: Any, slate_size: int, lam: float = 0.5,
                 feature_key: str = "candidate_features", normalize: bool = True,
                 base_args: dict[str, Any] | None = None) -> None:
        super().__init__(base, slate_size, base_args)
        self.lam = check_float(lam, "MMR.lam", 0.0, 1.0)
        if not isinstance(feature_key, str) or not feature_key:
            raise ConfigError("MMR.feature_key", feature_key, "an observation key (str)")
        self.feature_key = feature_key
        if not isinstance(normalize, bool):
            raise ConfigError("MMR.normalize", normalize, "True or False")
        self.normalize = normalize

    def _rank(self, scores: np.ndarray, obs: Any, info: dict[str, Any] | None) -> np.ndarray:
        n, c = scores.shape
        x = observation(obs, self.feature_key, "MMR", 3)
        if x.shape[:2] != (n, c):
            raise ConfigError(f"MMR.recommend obs[{self.feature_key!r}]", x.shape,
                              f"shape ({n}, {c}, d): features of the {c} scored candidates")
        norm = np.sqrt(np.einsum("ncd,ncd->nc", x, x))[:, :, None]
        xn = np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
        rel = _minmax(scores) if self.normalize else scores
        rows = np.arange(n)
        maxsim = np.zeros((n, c))
        taken = np.zeros((n, c), dtype=bool)
        slates = np.empty((n, self.slate_size), dtype=np.int64)
        for k in range(self.slate_size):
            value = np.where(taken, -np.inf, self.lam * rel - (1.0 - self.lam) * maxsim)
            best = value.max(axis=1, keepdims=True)
            pick = np.argmax(np.where(value == best, rel, -np.inf), axis=1)
            slates[:, k] = pick
            taken[rows, pick] = True
            maxsim = np.maximum(maxsim, np.einsum("ncd,nd->nc", xn, xn[rows, pick]))
        self._last = {"n": n}
        return slates


class Calibrated(Reranker):
    """Calibrated recommendations (Steck, RecSys 2018, "Calibrated Recommendations"): the
    slate ``S`` greedily maximises

        (1 - lam) * sum_{i in S} rel(i) - lam * KL(p || q~),   q~ = (1 - alpha) q + alpha p

    where ``p(g | u)`` is the topic distribution of the user's history, ``q(g | S)`` that of
    the slate (the mean of its items' ``p(g | i)``), ``KL(p || q~) = sum_g p log(p / q~)``
    and ``alpha = 0.01`` the paper's smoothing (``q~`` is never 0 where ``p`` is not).
    Each place takes the candidate whose addition gives the best objective (ties: lower
    index), so the slate is in the order of the paper's greedy algorithm.

    ``rel``: the base's scores, min-max scaled to [0, 1] per row with ``normalize``.
    ``p(g | i)``: the candidate's non-negative topic weights ``obs[topic_key]``
    (``(N, C, T)``, e.g. one-hot topic features), normalised to sum to 1. ``p(g | u)``:
    the weights of the items the user responded to, each counted by its ``signal`` value
    (clicks by default), recorded by ``update`` per user row and forgotten when the row's
    user changes (``info["user_id"]``); a user without history has no calibration term.
    ``lam = 0`` is the base's top K.

    Args:
        base: the base policy (see :class:`Reranker`).
        slate_size: K.
        lam: lambda in [0, 1].
        topic_key: the observation entry of candidate topic weights.
        alpha: the smoothing in [0, 1).
        signal: the response field that weighs an item in the user's history.
        normalize: min-max scale the base's scores per row.
    """

    kind = "calibrated"

    def __init__(self, base: Any, slate_size: int, lam: float = 0.5,
                 topic_key: str = "candidate_features", alpha: float = 0.01,
                 signal: str = "clicked", normalize: bool = True,
                 base_args: dict[str, Any] | None = None) -> None:
        super().__init__(base, slate_size, base_args)
        self.lam = check_float(lam, "Calibrated.lam", 0.0, 1.0)
        if not isinstance(topic_key, str) or not topic_key:
            raise ConfigError("Calibrated.topic_key", topic_key, "an observation key (str)")
        self.topic_key = topic_key
        self.alpha = check_float(alpha, "Calibrated.alpha", 0.0, 1.0, high_open=True)
        self.signal = check_choice(signal, "Calibrated.signal", _SIGNALS)
        if not isinstance(normalize, bool):
            raise ConfigError("Calibrated.normalize", normalize, "True or False")
        self.normalize = normalize
        self.rows = UserRows("user", "Calibrated")
        self._reset_state()

    def _reset_state(self) -> None:
        self.rows.reset()
        self.history = np.zeros((0, 0))

    def user_topics(self) -> np.ndarray:
        """``p(g | u)`` of every row ``(N, T)`` (zeros for a user without history)."""
        total = self.history.sum(axis=1, keepdims=True)
        return np.divide(self.history, total, out=np.zeros_like(self.history), where=total > 0)

    def _rank(self, scores: np.ndarray, obs: Any, info: dict[str, Any] | None) -> np.ndarray:
        n, c = scores.shape
        x = observation(obs, self.topic_key, "Calibrated", 3)
        if x.shape[:2] != (n, c):
            raise ConfigError(f"Calibrated.recommend obs[{self.topic_key!r}]", x.shape,
                              f"shape ({n}, {c}, T): topic weights of the {c} scored candidates")
        total = x.sum(axis=2, keepdims=True)
        if (x < 0).any() or not (total > 0).all():
            raise ConfigError(f"Calibrated.recommend obs[{self.topic_key!r}]",
                              f"values in [{x.min():.3g}, {x.max():.3g}]",
                              "non-negative topic weights with a positive sum per candidate "
                              "(e.g. one-hot topic features)")
        item = x / total
        t = item.shape[2]
        changed = self.rows.sync(info, n)
        if changed is None or self.history.shape[1] != t:
            self.history = np.zeros((n, t))
        elif changed.size:
            self.history[changed] = 0.0
        p = self.user_topics()
        rel = _minmax(scores) if self.normalize else scores
        calibrate = self.lam > 0.0 and bool((p > 0).any())
        if calibrate:
            # the (row, candidate, topic) entries where a candidate has weight on a topic of
            # the user's history: only they make candidates' divergences differ
            nz = np.nonzero((item > 0) & (p[:, None, :] > 0))
            entry_p, entry_w, flat = p[nz[0], nz[2]], item[nz], nz[0] * c + nz[1]
            plogp = (p * np.log(np.where(p > 0, p, 1.0))).sum(axis=1)
        rows = np.arange(n)
        qsum = np.zeros((n, t))
        taken = np.zeros((n, c), dtype=bool)
        slates = np.empty((n, self.slate_size), dtype=np.int64)
        for k in range(self.slate_size):
            value = (1.0 - self.lam) * rel
            if calibrate:
                kl = self._divergences(p, plogp, qsum, k, nz, entry_p, entry_w, flat, c)
                value = value - self.lam * kl
            # an infinite divergence is the worst untaken choice, still above taken ones
            value = np.where(np.isfinite(value), value, -np.finfo(np.float64).max)
            pick = np.argmax(np.where(taken, -np.inf, value), axis=1)
            slates[:, k] = pick
            taken[rows, pick] = True
            qsum += item[rows, pick]
        self._last = {"n": n, "item": item}
        return slates

    def _divergences(self, p: np.ndarray, plogp: np.ndarray, qsum: np.ndarray, k: int,
                     nz: tuple[np.ndarray, ...], entry_p: np.ndarray, entry_w: np.ndarray,
                     flat: np.ndarray, c: int) -> np.ndarray:
        """``KL(p || q~)`` ``(N, C)`` of the slate so far (``k`` items, topic sums ``qsum``)
        plus each candidate: ``sum_g p_g log p_g - sum_g p_g log(r_g + a * w_cg)`` with
        ``r = (1 - alpha) * qsum / (k + 1) + alpha * p`` (q~ without the candidate),
        ``a = (1 - alpha) / (k + 1)`` and ``w_cg`` the candidate's topic weights. The sum
        over topics is the row's ``sum_g p_g log r_g`` corrected at the candidate's own
        entries, so a step costs O(N T + entries), not O(N C T). A topic of ``p`` that
        ``q~`` misses (``alpha = 0``) makes the divergence infinite."""
        n = p.shape[0]
        a = (1.0 - self.alpha) / (k + 1)
        r = a * qsum + self.alpha * p
        pos = r > 0
        base = (p * np.log(np.where(pos, r, 1.0))).sum(axis=1)
        missed = ((p > 0) & ~pos).sum(axis=1)
        re = r[nz[0], nz[2]]
        with np.errstate(divide="ignore"):
            step = entry_p * (np.log(re + a * entry_w) - np.log(np.where(re > 0, re, 1.0)))
        gain = np.bincount(flat, step, minlength=n * c).reshape(n, c)
        covered = np.bincount(flat, re <= 0, minlength=n * c).reshape(n, c)
        kl = plogp[:, None] - base[:, None] - gain
        return np.where(covered < missed[:, None], np.inf, kl)

    def _learn(self, slates: np.ndarray, response: Any) -> None:
        assert self._last is not None
        item = self._last["item"]
        if not hasattr(response, self.signal):
            raise ConfigError("Calibrated.update response", response,
                              f"the env's Response (with {self.signal!r}, shape {slates.shape})")
        value = np.asarray(getattr(response, self.signal), dtype=np.float64).reshape(slates.shape)
        shown = np.take_along_axis(item, slates[:, :, None], axis=1)  # (N, K, T)
        self.history += np.einsum("nk,nkt->nt", value, shown)
