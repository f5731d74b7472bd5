"""Hybrid calibration: the model-driven MovieLens user refitted to an LLM's decisions.

In hybrid mode (``llm_fraction < 1`` or ``llm_every > 1``) most decisions come from the
fitted multinomial logit of ``MovieLens-v0`` (:mod:`recarena.simulators.data.calibrate`)
and a few from the LLM. For the two kinds of rows to behave alike, the logit's choice
parameters can be fitted to the LLM's own decisions, as the logit was fitted to the
MovieLens ratings: by maximum likelihood of the conditional logit (McFadden 1974,
"Conditional logit analysis of qualitative choice behavior") over the slate plus the
no-click option,

    P(item k | slate) = exp(a m_k + c p_k) / (exp(b) + sum_j exp(a m_j + c p_j)),
    P(no click | slate) = exp(b) / (exp(b) + sum_j exp(a m_j + c p_j)),

with ``m_k = <x_u, y_k>`` the user's ALS affinity and ``p_k = log(1 + popularity_k)`` of
the fit, ``a`` the affinity weight (inverse temperature), ``c`` the popularity weight and
``b`` the no-click utility (MovieLens alone does not identify it; the LLM's declined
slates do). Newton's method on the concave log-likelihood
(:func:`~recarena.simulators.data.fit.fit_mnl`); standard errors from the inverse observed
information.

======================  ===========================================================================
decisions               :class:`ChoiceDecisions`: per decision the slate's affinities ``m``
                        ``(E, K)``, log popularities ``p`` ``(E, K)`` and the choice (position, or
                        -1 for none); from an event log (:func:`decisions_from_log`), from
                        env steps (:class:`DecisionCollector`) or from arrays
from an event log       the ``impressions`` of a run of ``MovieLens-v0`` with ``users="llm"``:
                        rows with ``decided_by`` in (``llm``, ``cache``), one slate per
                        (run, seed, policy, step, user_id); ``m`` from the logged
                        ``oracle_scores`` (``a0 m + c0 p`` under the run's fit ``(a0, c0)``):
                        ``m = (score - c0 p) / a0``, so ``fitted`` must be the fit the run used
fit                     :func:`fit_llm_choices` -> :class:`HybridCalibration` (``a``, ``c``,
                        ``b`` with standard errors, log-likelihoods, click shares)
use                     ``calibration.fitted()`` is the fit with ``(a, c)`` and ``b`` replaced:
                        ``gym.make("recarena/MovieLens-v0", **calibration.env_kwargs(),
                        users="llm", llm=..., llm_fraction=0.25)`` runs the model-driven rows
                        with the calibrated logit; ``calibration.user_model()`` is that user
                        model alone
======================  ===========================================================================
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from recarena.errors import ConfigError, DataError
from recarena.validation import check_float

__all__ = ["ChoiceDecisions", "DecisionCollector", "HybridCalibration", "calibrate_hybrid",
           "decisions_from_log", "fit_llm_choices"]

#: the event-log columns :func:`decisions_from_log` reads
LOG_COLUMNS = ("seed", "step", "user_id", "position", "item_id", "clicked", "decided_by",
               "oracle_scores")


@dataclass(frozen=True, eq=False)
class ChoiceDecisions:
    """Slates and what was chosen from them.

    Attributes:
        affinity ``(E, K)``: ``<x_u, y_i>`` of each shown item (the fit's ALS factors).
        log_popularity ``(E, K)``: ``log(1 + popularity_i)`` of each shown item.
        choice ``(E,)``: the chosen position, -1 for no click.
    """

    affinity: np.ndarray
    log_popularity: np.ndarray
    choice: np.ndarray

    def __post_init__(self) -> None:
        m = np.asarray(self.affinity, dtype=np.float64)
        p = np.asarray(self.log_popularity, dtype=np.float64)
        ch = np.asarray(self.choice)
        if m.ndim != 2 or m.shape[0] == 0 or m.shape[1] == 0:
            raise ConfigError("ChoiceDecisions.affinity", m.shape,
                              "a non-empty (decisions, slate size) array")
        if p.shape != m.shape:
            raise ConfigError("ChoiceDecisions.log_popularity", p.shape,
                              f"the shape of affinity {m.shape}")
        if not (np.all(np.isfinite(m)) and np.all(np.isfinite(p))):
            raise ConfigError("ChoiceDecisions.affinity", "non-finite values", "finite values")
        if ch.shape != (m.shape[0],) or ch.dtype.kind not in "iu":
            raise ConfigError("ChoiceDecisions.choice", ch,
                              f"an integer array of shape ({m.shape[0]},)")
        if ch.size and (ch.min() < -1 or ch.max() >= m.shape[1]):
            raise ConfigError("ChoiceDecisions.choice", int(ch.max() if ch.max() >= m.shape[1]
                                                           else ch.min()),
                              f"positions in [0, {m.shape[1]}) or -1 (no click)")
        object.__setattr__(self, "affinity", m)
        object.__setattr__(self, "log_popularity", p)
        object.__setattr__(self, "choice", ch.astype(np.int64))

    @property
    def events(self) -> int:
        return int(self.choice.size)

    @property
    def click_share(self) -> float:
        """Share of decisions with a click."""
        return float(np.mean(self.choice >= 0))


def _fitted(fitted: Any) -> Any:
    if fitted is None:
        from recarena.simulators.data.calibrate import load_fitted

        return load_fitted()
    if not all(hasattr(fitted, a) for a in ("weights", "log_popularity", "user_factors")):
        raise ConfigError("fitted", fitted, "a FittedMovieLens (or None: the shipped fit)")
    return fitted


def decisions_from_log(impressions: Any, fitted: Any = None,
                       decided_by: Sequence[str] = ("llm", "cache")) -> ChoiceDecisions:
    """The LLM's decisions in an event log's ``impressions`` table (a DataFrame; see the
    module docstring). ``fitted``: the fit of the logged run (default: the shipped one)."""
    import pandas as pd

    if not isinstance(impressions, pd.DataFrame):
        raise ConfigError("decisions_from_log.impressions", impressions,
                          "the impressions table as a DataFrame (recarena.eventlog.read_table)")
    missing = [c for c in LOG_COLUMNS if c not in impressions.columns]
    if missing:
        hint = (" (decided_by is logged for envs with LLM users: MovieLens-v0 with users='llm')"
                if "decided_by" in missing else "")
        raise DataError(f"decisions_from_log: the impressions lack the column(s) "
                        f"{', '.join(missing)}{hint}")
    fitted = _fitted(fitted)
    df = impressions[impressions["decided_by"].isin(list(decided_by))]
    if df.empty:
        raise DataError(f"decisions_from_log: no impressions decided by "
                        f"{' or '.join(decided_by)} (decided_by values: "
                        f"{', '.join(sorted(map(str, impressions['decided_by'].unique())))})")
    keys = [c for c in ("run", "seed", "policy", "step", "user_id") if c in df.columns]
    df = df.sort_values([*keys, "position"], kind="stable")
    slate = df.groupby(keys, sort=False).ngroup().to_numpy()
    sizes = np.bincount(slate)
    k = int(sizes[0])
    if not np.all(sizes == k):
        raise DataError(f"decisions_from_log: slates of different sizes ({sizes.min()} to "
                        f"{sizes.max()} rows per {', '.join(keys)})")
    e = sizes.size
    item = df["item_id"].to_numpy(np.int64).reshape(e, k)
    n_items = len(fitted.log_popularity)
    if item.min() < 0 or item.max() >= n_items:
        raise DataError(f"decisions_from_log: item_id outside the fit's catalog rows "
                        f"[0, {n_items}) (is this a MovieLens-v0 log of this fit?)")
    a0, c0 = (float(w) for w in fitted.weights)
    lp = fitted.log_popularity[item]
    affinity = (df["oracle_scores"].to_numpy(np.float64).reshape(e, k) - c0 * lp) / a0
    clicked = df["clicked"].to_numpy(bool).reshape(e, k)
    if np.any(clicked.sum(axis=1) > 1):
        raise DataError("decisions_from_log: a slate with more than one click (the MovieLens "
                        "logit clicks at most one item)")
    choice = np.where(clicked.any(axis=1), clicked.argmax(axis=1), -1)
    return ChoiceDecisions(affinity, lp, choice)


class DecisionCollector:
    """The LLM's decisions collected from env steps, without an event log.

    Call :meth:`add` after every ``envs.step(slates)`` of ``MovieLens-v0`` with
    ``users="llm"`` (vector or single env) with the info the slates were chosen on
    (``info_before``: its privileged ``oracle["scores"]`` of the candidates) and the
    step's info (``slate_item_ids``, ``response``, ``llm["decided_by"]``); rows decided by
    ``decided_by`` are kept. :meth:`decisions` gives the :class:`ChoiceDecisions` (the
    same as :func:`decisions_from_log` of a log of the same steps).

    Args:
        fitted: the fit the env runs (default: the shipped one).
        decided_by: the ``decided_by`` codes to keep.
    """

    def __init__(self, fitted: Any = None, decided_by: Sequence[str] = ("llm", "cache")) -> None:
        self.fitted = _fitted(fitted)
        self.decided_by = tuple(decided_by)
        self._parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, info_before: dict[str, Any], slates: np.ndarray,
            info_after: dict[str, Any]) -> None:
        """Keep this step's LLM decisions."""
        slates = np.asarray(slates, dtype=np.int64)
        if slates.ndim == 1:  # a single env: one user
            slates = slates[None, :]
        try:
            scores = np.asarray(info_before["oracle"]["scores"], dtype=np.float64)
            items = np.asarray(info_after["slate_item_ids"], dtype=np.int64)
            clicked = np.asarray(info_after["response"].clicked, dtype=bool)
            decided = np.asarray(info_after["llm"]["decided_by"]).astype(str)
        except (KeyError, TypeError, AttributeError):
            raise ConfigError("DecisionCollector.add", "infos without oracle scores, "
                              "slate_item_ids, response or llm.decided_by",
                              "the infos of MovieLens-v0 with users='llm'") from None
        scores = scores.reshape(-1, scores.shape[-1])
        n, k = slates.shape
        items, clicked, decided = items.reshape(n, k), clicked.reshape(n, k), decided.reshape(n)
        keep = np.isin(decided, self.decided_by)
        if not keep.any():
            return
        shown = np.take_along_axis(scores, slates, axis=1)[keep]
        a0, c0 = (float(w) for w in self.fitted.weights)
        lp = self.fitted.log_popularity[items[keep]]
        hit = clicked[keep]
        choice = np.where(hit.any(axis=1), hit.argmax(axis=1), -1)
        self._parts.append(((shown - c0 * lp) / a0, lp, choice))

    @property
    def events(self) -> int:
        return sum(len(c) for _, _, c in self._parts)

    def decisions(self) -> ChoiceDecisions:
        """Everything kept so far."""
        if not self._parts:
            raise DataError("DecisionCollector: no decisions by "
                            f"{' or '.join(self.decided_by)} collected yet")
        m, p, c = (np.concatenate(x) for x in zip(*self._parts, strict=True))
        return ChoiceDecisions(m, p, c)


@dataclass(frozen=True, eq=False)
class HybridCalibration:
    """The logit fitted to LLM decisions (see the module docstring).

    Attributes:
        a, c, no_click_utility: the fitted affinity weight, popularity weight and no-click
            utility ``b``; ``stderr``: their standard errors.
        log_likelihood, null_log_likelihood: at the optimum, and of a uniform choice among
            the ``K + 1`` options.
        events: decisions fitted; ``click_share``: their share with a click;
            ``predicted_click_share``: the fitted logit's mean click probability on the same
            slates (equal to ``click_share`` at the optimum, a check of the fit).
        base: the fit whose factors and popularity were used.
    """

    a: float
    c: float
    no_click_utility: float
    stderr: tuple[float, float, float]
    log_likelihood: float
    null_log_likelihood: float
    events: int
    click_share: float
    predicted_click_share: float
    base: Any

    def interval(self, level: float = 0.95) -> dict[str, tuple[float, float]]:
        """Normal (Wald) intervals of ``a``, ``c`` and ``no_click_utility``."""
        from statistics import NormalDist

        check_float(level, "HybridCalibration.interval.level", 0.0, 1.0, low_open=True,
                    high_open=True)
        z = NormalDist().inv_cdf(0.5 + level / 2)
        return {name: (value - z * se, value + z * se) for name, value, se in zip(
            ("a", "c", "no_click_utility"), (self.a, self.c, self.no_click_utility),
            self.stderr, strict=True)}

    def fitted(self) -> Any:
        """The base fit with ``weights = (a, c)`` and ``no_click_utility = b`` (its
        ``settings`` record the calibration)."""
        base = self.base
        settings = dict(base.settings)
        settings["llm_calibration"] = {"events": self.events, "a": self.a, "c": self.c,
                                       "no_click_utility": self.no_click_utility,
                                       "base_weights": [float(w) for w in base.weights],
                                       "base_no_click_utility": float(base.no_click_utility)}
        return dataclasses.replace(base, weights=np.array([self.a, self.c]),
                                   weights_stderr=np.array(self.stderr[:2]),
                                   no_click_utility=float(self.no_click_utility),
                                   settings=settings)

    def user_model(self, new_user_share: float = 0.2) -> Any:
        """The model-driven MovieLens user model with the calibrated logit."""
        from recarena.simulators.data.calibrate import movielens_user_model

        return movielens_user_model(self.fitted(), new_user_share)

    def env_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``MovieLens-v0`` (``{"fitted": self.fitted()}``)."""
        return {"fitted": self.fitted()}

    def as_dict(self) -> dict[str, Any]:
        ci = self.interval()
        return {"a": self.a, "c": self.c, "no_click_utility": self.no_click_utility,
                "stderr": list(self.stderr), "ci95": {k: list(v) for k, v in ci.items()},
                "log_likelihood": self.log_likelihood,
                "null_log_likelihood": self.null_log_likelihood, "events": self.events,
                "click_share": self.click_share,
                "predicted_click_share": self.predicted_click_share,
                "base_weights": [float(w) for w in self.base.weights],
                "base_no_click_utility": float(self.base.no_click_utility)}


def fit_llm_choices(decisions: ChoiceDecisions, fitted: Any = None) -> HybridCalibration:
    """Maximum-likelihood ``(a, c, b)`` of the logit over slate plus no-click (module
    docstring). Needs both clicks and declined slates (else ``b`` is not identified)."""
    from recarena.simulators.data.fit import fit_mnl

    if not isinstance(decisions, ChoiceDecisions):
        raise ConfigError("fit_llm_choices.decisions", decisions, "a ChoiceDecisions")
    fitted = _fitted(fitted)
    d = decisions
    e, k = d.affinity.shape
    share = d.click_share
    if share in (0.0, 1.0):
        raise DataError(f"fit_llm_choices: all {e} decisions "
                        f"{'clicked' if share == 1.0 else 'declined the slate'}: the no-click "
                        "utility is not identified (log more decisions)")
    x = np.zeros((e, k + 1, 3))
    x[:, :k, 0] = d.affinity
    x[:, :k, 1] = d.log_popularity
    x[:, k, 2] = 1.0
    chosen = np.where(d.choice >= 0, d.choice, k)
    rows = np.arange(e)
    first = x[:, 0, :].copy()
    x[:, 0, :] = x[rows, chosen, :]  # the chosen option first (fit_mnl's convention)
    x[rows, chosen, :] = first
    fit = fit_mnl(x)
    w = fit.weights
    if not (np.all(np.isfinite(w)) and np.all(np.isfinite(fit.stderr))):
        raise DataError("fit_llm_choices: the likelihood has no finite maximum (the "
                        "decisions are separable: e.g. the top-affinity item always chosen)")
    u = w[0] * d.affinity + w[1] * d.log_popularity
    top = np.maximum(u.max(axis=1), w[2])
    z = np.exp(u - top[:, None]).sum(axis=1)
    p_none = np.exp(w[2] - top) / (z + np.exp(w[2] - top))
    return HybridCalibration(float(w[0]), float(w[1]), float(w[2]),
                             tuple(float(s) for s in fit.stderr), float(fit.log_likelihood),
                             -e * math.log(k + 1), e, share, float(1.0 - p_none.mean()), fitted)


def calibrate_hybrid(source: Any, fitted: Any = None,
                     decided_by: Sequence[str] = ("llm", "cache")) -> HybridCalibration:
    """:func:`fit_llm_choices` of the LLM decisions in ``source``: an impressions
    DataFrame, or a run / unit folder of an event log (read with
    :func:`recarena.eventlog.read_table`)."""
    import pandas as pd

    if isinstance(source, (str, os.PathLike)):
        from recarena.eventlog import read_table

        source = read_table(source, "impressions")
    if not isinstance(source, pd.DataFrame):
        raise ConfigError("calibrate_hybrid.source", source,
                          "an impressions DataFrame or an event-log folder")
    fitted = _fitted(fitted)
    return fit_llm_choices(decisions_from_log(source, fitted, decided_by), fitted)
