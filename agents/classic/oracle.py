"""Reference upper bounds that read privileged truth (``info["oracle"]``).

Each oracle says what it needs from an env (:meth:`check_env`, a typed ``ConfigError``
naming the env and the missing part; :meth:`fits`, the same check as a bool). The check
reads the env's configuration and the entries its ``info["oracle"]`` holds, from a fresh
one-user copy of its core (:func:`oracle_keys`), never the env's own state. The policy
registry runs it when a reference policy is built, and ``recarena list`` derives from it
which reference policies fit which env.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any

import numpy as np

from recarena.agents.base import ReportsPropensity
from recarena.errors import ConfigError
from recarena.simulators.choice import MultinomialLogitChoice, ProportionalChoice
from recarena.simulators.users import ReturnModel, TimeBudget
from recarena.validation import check_choice, check_float, check_int

__all__ = ["GreedyOracle", "QualityAwareOracle", "QualityBonusOracle", "env_name", "oracle_keys"]

#: at most this many K-subsets are enumerated where no exact shortcut applies
ENUMERATION_LIMIT = 50_000
#: where to look for the references that fit an env (in error messages)
_SEE_LIST = "`recarena list policies` lists the reference policies that fit each env"


def _oracle(info: dict[str, Any] | None, key: str) -> np.ndarray:
    if info is None or "oracle" not in info or key not in info["oracle"]:
        raise ConfigError("info['oracle']", None if info is None else sorted(info),
                          f"an info dict with info['oracle'][{key!r}] (oracle policies need privileged truth)")
    return np.atleast_2d(np.asarray(info["oracle"][key], dtype=np.float64))


def _core(env: Any) -> Any:
    core = getattr(getattr(env, "unwrapped", env), "core", None)
    if core is None or not callable(getattr(core, "oracle", None)):
        raise ConfigError("oracle policy env", env, "a recarena env or vector env")
    return core


def env_name(env: Any) -> str:
    """The registered id of ``env`` (an env or vector env), else its class name."""
    spec = getattr(env, "spec", None)
    return getattr(spec, "id", None) or type(getattr(env, "unwrapped", env)).__name__


def oracle_keys(env: Any) -> frozenset[str]:
    """The entries of ``info["oracle"]`` that ``env`` (a recarena env or vector env) hands
    out, read from a fresh copy of its core with one user (seed 0) built from the env's
    configuration: the env itself is not touched."""
    core = _core(env)
    probe = type(core)(core.config)
    probe.reset(1, np.random.default_rng(0))
    return frozenset(probe.oracle())


class _ChecksEnv:
    """``check_env`` / ``fits`` from the ``info["oracle"]`` entries a policy reads."""

    #: the entries of ``info["oracle"]`` the policy reads
    oracle_needs: tuple[str, ...] = ("scores",)

    @classmethod
    def check_env(cls, env: Any) -> None:
        """Raise ``ConfigError`` (naming the env and what is missing) unless ``env``
        offers what this policy reads."""
        have = oracle_keys(env)
        missing = [k for k in cls.oracle_needs if k not in have]
        if missing:
            raise ConfigError(
                f"{cls.__name__} env", env_name(env),
                f"an env whose info['oracle'] has {', '.join(map(repr, cls.oracle_needs))} "
                f"(this one has no {', '.join(map(repr, missing))}; it has "
                f"{', '.join(sorted(have))}); {_SEE_LIST}")

    @classmethod
    def fits(cls, env: Any) -> bool:
        """Whether :meth:`check_env` accepts ``env``."""
        try:
            cls.check_env(env)
        except ConfigError:
            return False
        return True


class GreedyOracle(_ChecksEnv, ReportsPropensity):
    """Myopic greedy on true affinity: the K candidates with the highest true score, best on
    top. A reference upper bound for immediate engagement, not a learnable policy.
    Deterministic: its propensities are 1 for the slate it chose. Needs
    ``info["oracle"]["scores"]`` (every recarena env has it)."""

    name = "greedy_oracle"
    is_oracle = True

    def __init__(self, slate_size: int) -> None:
        self.slate_size = check_int(slate_size, "GreedyOracle.slate_size", 1)

    def reset(self) -> None:
        self._chose_unknown()

    def candidate_scores(self, obs: dict[str, np.ndarray],
                         info: dict[str, Any] | None = None) -> np.ndarray:
        """The true score of every candidate ``(N, C)`` (what it ranks by)."""
        return _oracle(info, "scores")

    def recommend(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> np.ndarray:
        scores = self.candidate_scores(obs, info)
        slates = np.argsort(-scores, axis=1, kind="stable")[:, : self.slate_size]
        self._chose_fixed(slates)
        return slates


class QualityBonusOracle(_ChecksEnv, ReportsPropensity):
    """Greedy on ``true score + quality_weight * quality``: a hand-written policy that gives
    up some immediate engagement for item quality (RecSim's long-term-satisfaction
    "kale" trade-off, Ie et al. 2019). With ``quality_weight = 0`` it is
    :class:`GreedyOracle`. A reference baseline that reads privileged truth, not a
    learnable policy. Deterministic (propensity 1 for the slate it chose). Needs a
    per-candidate ``info["oracle"]["quality"]`` (the slate-world envs; not
    LongTermSatisfaction-v0, whose kale-first reference is the observed-feature heuristic
    ``feature_sort`` on ``candidate_clickbait``, ascending)."""

    name = "quality_bonus_oracle"
    is_oracle = True
    oracle_needs = ("scores", "quality")

    def __init__(self, slate_size: int, quality_weight: float = 1.0) -> None:
        self.slate_size = check_int(slate_size, "QualityBonusOracle.slate_size", 1)
        self.quality_weight = check_float(quality_weight, "QualityBonusOracle.quality_weight")

    def reset(self) -> None:
        self._chose_unknown()

    def candidate_scores(self, obs: dict[str, np.ndarray],
                         info: dict[str, Any] | None = None) -> np.ndarray:
        """``true score + quality_weight * quality`` of every candidate ``(N, C)``."""
        return _oracle(info, "scores") + self.quality_weight * _oracle(info, "quality")

    def recommend(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> np.ndarray:
        value = self.candidate_scores(obs, info)
        slates = np.argsort(-value, axis=1, kind="stable")[:, : self.slate_size]
        self._chose_fixed(slates)
        return slates


def _attraction_masses(choice_model: Any) -> Any:
    """For a choice model with ``P(click k) = w_k / (w_0 + sum_{j in slate} w_j)`` (the
    multinomial logit and RecSim's proportional model), ``scores (N, C) -> (w (N, C),
    w_0 (N,))`` up to a common factor per row; else ``None``."""
    if isinstance(choice_model, MultinomialLogitChoice):
        tau, c = choice_model.temperature, choice_model.no_click_score

        def logit(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            top = s.max(axis=1) if c is None else np.maximum(s.max(axis=1), c)
            w = np.exp((s - top[:, None]) / tau)
            w0 = np.zeros(len(s)) if c is None else np.exp((c - top) / tau)
            return w, w0

        return logit
    if isinstance(choice_model, ProportionalChoice):
        low, mass = choice_model.min_normalizer, choice_model.no_click_mass

        def proportional(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return s - low, np.full(len(s), mass - low)

        return proportional
    return None


def _rate(a: np.ndarray, b: np.ndarray, b0: np.ndarray, pick: np.ndarray) -> np.ndarray:
    """``sum a / (b0 + sum b)`` over the columns ``pick`` of each row; ``inf`` where the
    denominator is not positive and the numerator is (0 where neither)."""
    num = np.take_along_axis(a, pick, axis=1).sum(axis=1)
    den = b0 + np.take_along_axis(b, pick, axis=1).sum(axis=1)
    positive = den > 0.0
    return np.where(positive, num / np.where(positive, den, 1.0), np.where(num > 0.0, np.inf, 0.0))


def _top_k(x: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` largest entries of each row (in no particular order)."""
    if k >= x.shape[1]:
        return np.broadcast_to(np.arange(x.shape[1]), x.shape).copy()
    return np.argpartition(-x, k - 1, axis=1)[:, :k]


class QualityAwareOracle(_ChecksEnv, ReportsPropensity):
    """Greedy on the long-run rate of reward per minute of budget (a renewal-reward
    argument), and, for users with a calendar, per session they come back for.

    **Budget** (RecSim's :class:`TimeBudget`, Ie et al. 2019). With a time budget B, a
    session's return is about ``B * E[watch] / E[budget spent]`` per step. For a slate S,
    from the true scores, qualities and lengths and the env's choice model (click
    probabilities ``p_k``),

        E[watch] = sum_k p_k * len_k
        E[spent] = sum_k p_k * len_k * (1 - refund_rate * (uqf * s_k + dqf * q_k))
                   + (1 - sum_k p_k) * step_penalty

    **Calendar** (with a :class:`ReturnModel`: KuaiSim's retention task, RLUR, Cai et al.
    2023). A user whose every request looked like S would consume items of mean quality
    ``qbar = sum_k p_k q_k / sum_k p_k`` per session; long-term satisfaction settles at
    ``L = qbar``, so they come back after ``g = mean_return_gap(L)`` days on average and
    churn with probability ``c = churn_probability(L)`` after each session. Sessions then
    arrive at rate ``1/g`` and the user survives at rate ``c/g``, so the expected number of
    sessions within ``horizon_days`` H is

        N(qbar) = 1 + (1 - exp(-c * H / g)) / c        (1 + 1 / c without a horizon)

    and the slate's value is ``E[watch] / E[spent] * N(qbar)`` (session watch times
    sessions). Without a calendar the value is ``E[watch] / E[spent]``. On Retention-v0,
    whose budget refunds nothing, the budget part alone is myopic clicks (hence the
    calendar part): quality pays through return gaps and churn there.

    The oracle shows the slate with the largest value, higher scores on top. It targets
    watch time (the reward of the slate-world envs; on MovieLens-v0 every item lasts one
    unit, so watch time is clicks). Satiation, novelty and satisfaction-leave dynamics are
    not in its model. Deterministic (propensity 1 for the slate it chose).

    **Search** over the K-subsets of the C candidates: ``"exact"`` needs no calendar and
    a choice model with ``P(click k) = w_k / (w_0 + sum_j w_j)`` (multinomial logit,
    RecSim's proportional model). The value is then a ratio of two sums over the slate,
    ``sum_k w_k a_k / (w_0 b_0 + sum_k w_k b_k)``, and Dinkelbach's method (1967) finds the
    best slate exactly: for a rate ``lam``, the best slate of ``A - lam * B`` is the top K
    of ``w_k (a_k - lam * b_k)``; iterating from the most-watched slate raises ``lam``
    strictly until no slate beats it (a few passes of an O(C) selection per user, so
    Slate-v0's C=20, K=5 and MovieLens-v0's C=50, K=10 are cheap). If some slate's
    expected spend is not positive (refunds outweigh costs: the session need not end), the
    oracle shows one such slate. ``"enumerate"`` scores every K-subset (at most
    50,000 of them), each in the order it would be shown. ``"auto"``: exact where it
    applies, else enumerate.

    Args:
        choice_model: the env's choice model (``click_probabilities(scores)``).
        budget: the env's time budget parameters.
        slate_size: K.
        num_candidates: C.
        retention: the users' :class:`ReturnModel`, or ``None`` (no calendar).
        horizon_days: with ``retention``, the days an episode lasts (``None``: until churn).
        search: ``"auto"``, ``"exact"`` or ``"enumerate"`` (see above).
    """

    name = "quality_oracle"
    is_oracle = True
    oracle_needs = ("scores", "quality", "length")

    def __init__(self, choice_model: Any, budget: TimeBudget, slate_size: int,
                 num_candidates: int, retention: ReturnModel | None = None,
                 horizon_days: float | None = None, search: str = "auto") -> None:
        if not hasattr(choice_model, "click_probabilities"):
            raise ConfigError("QualityAwareOracle.choice_model", choice_model,
                              "a choice model with click_probabilities()")
        if not isinstance(budget, TimeBudget):
            raise ConfigError("QualityAwareOracle.budget", budget, "a TimeBudget")
        if retention is not None and not isinstance(retention, ReturnModel):
            raise ConfigError("QualityAwareOracle.retention", retention, "a ReturnModel or None")
        self.choice_model = choice_model
        self.budget = budget
        self.retention = retention
        self.horizon_days = (None if horizon_days is None else check_float(
            horizon_days, "QualityAwareOracle.horizon_days", 0.0, low_open=True))
        self.slate_size = check_int(slate_size, "QualityAwareOracle.slate_size", 1)
        self.num_candidates = check_int(num_candidates, "QualityAwareOracle.num_candidates",
                                        self.slate_size)
        search = check_choice(search, "QualityAwareOracle.search", ("auto", "exact", "enumerate"))
        # position does not matter to the choice models with attraction masses
        self._positional = _attraction_masses(choice_model) is None
        self._masses = None if retention is not None else _attraction_masses(choice_model)
        if search == "exact" and self._masses is None:
            raise ConfigError("QualityAwareOracle.search", search,
                              "'auto' or 'enumerate': the exact search needs no retention model "
                              "and a multinomial logit or proportional choice model")
        self.search = "exact" if search != "enumerate" and self._masses is not None else "enumerate"
        self._combos = None
        if self.search == "enumerate":
            count = math.comb(self.num_candidates, self.slate_size)
            if count > ENUMERATION_LIMIT:
                raise ConfigError("QualityAwareOracle.num_candidates", self.num_candidates,
                                  f"at most {ENUMERATION_LIMIT:,} slates to enumerate (C choose K "
                                  f"is {count:,}; the exact search needs no retention model and "
                                  "a multinomial logit or proportional choice model)")
            self._combos = np.array(list(combinations(range(self.num_candidates), self.slate_size)))

    @classmethod
    def check_env(cls, env: Any) -> None:
        """Raise ``ConfigError`` unless ``env`` is a slate-world env whose users have a
        :class:`TimeBudget` and whose ``info["oracle"]`` has scores, quality and length."""
        super().check_env(env)
        user_model = getattr(_core(env).config, "user_model", None)
        if not isinstance(getattr(user_model, "budget", None), TimeBudget):
            raise ConfigError(f"{cls.__name__} env", env_name(env),
                              "an env whose users have a TimeBudget (user_model.budget: the oracle "
                              f"plans reward per minute of budget); this one has none; {_SEE_LIST}")

    @classmethod
    def fits(cls, env: Any) -> bool:
        """Whether :meth:`from_env` builds the oracle for ``env``."""
        try:
            cls.from_env(env)
        except ConfigError:
            return False
        return True

    @classmethod
    def from_env(cls, env: Any, **overrides: Any) -> QualityAwareOracle:
        """Build from a recarena env or vector env (reads its configuration, not its state);
        ``overrides``: constructor arguments to use instead of the env's (e.g. ``search``,
        ``horizon_days``). ``ConfigError`` from :meth:`check_env` where it does not fit."""
        cls.check_env(env)
        core = _core(env)
        cfg = core.config
        user_model = cfg.user_model
        args: dict[str, Any] = {
            "choice_model": user_model.choice, "budget": user_model.budget,
            "slate_size": core.slate_size, "num_candidates": core.num_candidates,
            "retention": user_model.retention,
            "horizon_days": cfg.horizon_days if user_model.retention is not None else None}
        return cls(**(args | overrides))

    def reset(self) -> None:
        self._chose_unknown()

    def recommend(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> np.ndarray:
        scores, quality, length = (_oracle(info, k) for k in ("scores", "quality", "length"))
        if self.search == "exact":
            best = np.sort(self._exact(scores, quality, length), axis=1)
        else:
            best = np.sort(self._enumerate(scores, quality, length), axis=1)
        # higher scores on top; equal scores in candidate order
        order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1, kind="stable")
        out = np.take_along_axis(best, order, axis=1).astype(np.int64)
        self._chose_fixed(out)
        return out

    # ------------------------------------------------------------ search
    def _spent_factor(self, scores: np.ndarray, quality: np.ndarray) -> np.ndarray:
        """``1 - refund_rate * utility``: the share of a watched minute the budget loses."""
        b = self.budget
        utility = b.user_quality_factor * scores + b.document_quality_factor * quality
        return 1.0 - b.refund_rate * utility

    def _exact(self, scores: np.ndarray, quality: np.ndarray, length: np.ndarray) -> np.ndarray:
        """Dinkelbach's iteration on ``sum w a / (w_0 b_0 + sum w b)`` for every row."""
        assert self._masses is not None
        w, w0 = self._masses(scores)
        a = w * length
        b = a * self._spent_factor(scores, quality)
        b0 = w0 * self.budget.step_penalty
        k = self.slate_size
        pick = _top_k(a, k)  # the slate with the most expected watch
        lam = _rate(a, b, b0, pick)
        # the rate of a row rises strictly with every change, so this ends (C choose K
        # bounds the passes; a handful suffice); rows stop once a pass does not improve
        active = np.flatnonzero(np.isfinite(lam))
        for _ in range(math.comb(self.num_candidates, k)):
            if not active.size:
                break
            new = _top_k(a[active] - lam[active, None] * b[active], k)
            new_lam = _rate(a[active], b[active], b0[active], new)
            better = new_lam > lam[active]
            pick[active[better]] = new[better]
            lam[active[better]] = new_lam[better]
            active = active[better & np.isfinite(new_lam)]
        return pick

    def _enumerate(self, scores: np.ndarray, quality: np.ndarray, length: np.ndarray) -> np.ndarray:
        """Score every K-subset (each in the order it would be shown), in row chunks."""
        combos = self._combos
        assert combos is not None
        m, k = combos.shape
        n = scores.shape[0]
        out = np.empty((n, k), dtype=np.int64)
        chunk = max(1, 400_000 // (m * k))
        for lo in range(0, n, chunk):
            rows = slice(lo, min(n, lo + chunk))
            s = scores[rows][:, combos]
            q, ln = quality[rows][:, combos], length[rows][:, combos]
            idx = np.broadcast_to(combos, s.shape)
            if self._positional:  # score each slate in the order it would be shown
                shown = np.argsort(-s, axis=2, kind="stable")
                idx, s, q, ln = (np.take_along_axis(x, shown, axis=2) for x in (idx, s, q, ln))
            p = self.choice_model.click_probabilities(s.reshape(-1, k)).reshape(s.shape)
            value = self._value(p, s, q, ln)
            out[rows] = idx[np.arange(len(value)), np.argmax(value, axis=1)]
        return out

    def _value(self, p: np.ndarray, s: np.ndarray, q: np.ndarray, ln: np.ndarray) -> np.ndarray:
        """The value of each slate from its click probabilities, ``(..., K) -> (...)``."""
        clicked = p.sum(axis=-1)
        watch = (p * ln).sum(axis=-1)
        spent = (p * ln * self._spent_factor(s, q)).sum(axis=-1)
        spent += (1.0 - clicked) * self.budget.step_penalty
        value = watch / np.maximum(spent, 1e-9)
        if self.retention is None:
            return value
        rm = self.retention
        with np.errstate(divide="ignore", invalid="ignore"):
            qbar = np.where(clicked > 0.0, (p * q).sum(axis=-1) / clicked, rm.empty_session_quality)
        gap = rm.mean_return_gap(qbar)
        churn = np.maximum(rm.churn_probability(qbar), 1e-300)
        if self.horizon_days is None:
            sessions = 1.0 + 1.0 / churn
        else:
            sessions = 1.0 - np.expm1(-churn * self.horizon_days / gap) / churn
        return value * sessions

