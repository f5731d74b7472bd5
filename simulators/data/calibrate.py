"""MovieLens-fitted users: the pipeline from ratings to simulator parameters.

:func:`fit_movielens` on a temporal split (each user's last ``holdout`` share of ratings
held out for validation):

1. **Item factors and user interests**: implicit-feedback ALS (Hu, Koren & Volinsky 2008)
   on the fitting period's rating events (a rating = a consumption).
2. **Choice model**: a multinomial logit whose utility is
   ``a * <x_u, y_i> + c * log(1 + popularity_i)``; ``a`` (the inverse temperature) and
   ``c`` are fitted by maximum likelihood under the stated assumption that each rating is
   a choice of the rated movie among the movies the user had not rated yet, represented by
   ``negatives`` of them drawn uniformly
   (:func:`~recarena.simulators.data.fit.sample_choice_sets`). To keep
   the likelihood out of sample, the fitting period is split again in time: factors
   from its earlier part, the logit from its later part; the final factors are refitted on
   the whole fitting period with the same settings (ALS's score scale barely moves:
   0.280 vs 0.277 on ml-latest-small).
3. **No-click utility: an assumption, not a fit.** MovieLens records no impressions, so
   how often a user declines a whole slate is not identified. We set the no-click utility
   to the ``no_click_quantile`` (default 0.9) quantile of the utilities of the users'
   unseen movies: a slate is declined about as often as it holds nothing from the user's
   top 10%.
4. **Activity**: ratings per user in the fitting period as a log-normal; a simulated user's
   session budget (requests) is drawn from it.

The simulator's users get interests ``[a x_u, c]`` and the catalog's features are
``[y_i, log(1 + popularity_i)]``, so the world's affinity ``<interests, features>`` is the
fitted utility and the MNL runs at temperature 1.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recarena.errors import ConfigError, DataError
from recarena.simulators.data.factorization import als_fit
from recarena.simulators.data.fit import (
    fit_lognormal,
    fit_mnl,
    sample_choice_sets,
    temporal_split,
)
from recarena.simulators.data.movielens import MovieLens, load_movielens
from recarena.validation import check_float, check_int

__all__ = ["FittedMovieLens", "fit_movielens", "load_fitted", "movielens_catalog",
           "movielens_user_model", "shipped_fit_path"]

_FIT_FILE = "movielens_small_fit.npz"


@dataclass(frozen=True, eq=False)
class FittedMovieLens:
    """Fitted parameters of MovieLens users (see the module docstring).

    Attributes:
        item_ids, titles, genres: the catalog (every movie, in id order); ``genres`` per
            movie, ``genre_names`` all of them.
        user_ids: the fitted users (MovieLens ids).
        user_factors ``(U, f)``, item_factors ``(I, f)``: ALS factors.
        log_popularity ``(I,)``: ``log(1 + ratings in the fitting period)``.
        weights ``(a, c)`` and ``weights_stderr``: the logit's coefficients.
        no_click_utility: the assumed utility of declining a slate.
        activity: ``(mu, sigma)`` of the log-normal ratings-per-user distribution.
        settings: how the fit was made (split, ALS settings, seed).
    """

    item_ids: np.ndarray
    titles: tuple[str, ...]
    genres: tuple[tuple[str, ...], ...]
    genre_names: tuple[str, ...]
    user_ids: np.ndarray
    user_factors: np.ndarray
    item_factors: np.ndarray
    log_popularity: np.ndarray
    weights: np.ndarray
    weights_stderr: np.ndarray
    no_click_utility: float
    activity: tuple[float, float]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def interests(self) -> np.ndarray:
        """``(U, f + 1)`` simulator interests ``[a x_u, c]``."""
        a, c = self.weights
        return np.hstack([a * self.user_factors, np.full((len(self.user_ids), 1), c)])

    @property
    def features(self) -> np.ndarray:
        """``(I, f + 1)`` catalog features ``[y_i, log(1 + popularity_i)]``."""
        return np.hstack([self.item_factors, self.log_popularity[:, None]])

    def utilities(self, users: np.ndarray | None = None) -> np.ndarray:
        """``(U, I)`` fitted utilities of every (user, movie) pair (rows: ``users`` indices)."""
        x = self.interests if users is None else self.interests[users]
        return x @ self.features.T

    def primary_genre(self) -> np.ndarray:
        """Per movie the index of its first listed genre (``len(genre_names)``: none)."""
        index = {g: j for j, g in enumerate(self.genre_names)}
        return np.array([index[g[0]] if g else len(self.genre_names) for g in self.genres],
                        dtype=np.int64)

    # ----------------------------------------------------------------- files
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write to a ``.npz`` file (no pickles)."""
        np.savez_compressed(
            path, item_ids=self.item_ids, titles=np.array(self.titles, dtype=str),
            genres=np.array(["|".join(g) for g in self.genres], dtype=str),
            genre_names=np.array(self.genre_names, dtype=str), user_ids=self.user_ids,
            user_factors=self.user_factors, item_factors=self.item_factors,
            log_popularity=self.log_popularity, weights=self.weights,
            weights_stderr=self.weights_stderr,
            scalars=np.array([self.no_click_utility, *self.activity]),
            settings=np.array(json.dumps(self.settings, sort_keys=True)))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FittedMovieLens:
        """Read a file written by :meth:`save`."""
        try:
            with np.load(path, allow_pickle=False) as z:
                d = {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: not a fitted-parameter file ({exc})") from None
        need = {"item_ids", "titles", "genres", "genre_names", "user_ids", "user_factors",
                "item_factors", "log_popularity", "weights", "weights_stderr", "scalars",
                "settings"}
        if need - set(d):
            raise DataError(f"{path}: missing entries {sorted(need - set(d))}")
        s = d["scalars"]
        return cls(d["item_ids"], tuple(str(t) for t in d["titles"]),
                   tuple(tuple(g.split("|")) if g else () for g in map(str, d["genres"])),
                   tuple(str(g) for g in d["genre_names"]), d["user_ids"], d["user_factors"],
                   d["item_factors"], d["log_popularity"], d["weights"], d["weights_stderr"],
                   float(s[0]), (float(s[1]), float(s[2])), json.loads(str(d["settings"])))


def shipped_fit_path() -> Path:
    """The cached fit of the shipped ml-latest-small (``fit_movielens()`` defaults)."""
    return Path(str(resources.files("recarena.simulators.data") / _FIT_FILE))


def load_fitted(path: str | os.PathLike[str] | None = None) -> FittedMovieLens:
    """The fit in ``path``, or the shipped ml-latest-small fit."""
    return FittedMovieLens.load(shipped_fit_path() if path is None else path)


def _indexer(values: np.ndarray, keys: pd.Series) -> np.ndarray:
    return np.searchsorted(values, keys.to_numpy())


def fit_movielens(data: MovieLens | None = None, holdout: float = 0.2, factors: int = 16,
                  regularization: float = 1.0, alpha: float = 5.0, iterations: int = 10,
                  negatives: int = 19, no_click_quantile: float = 0.9, seed: int = 0,
                  ) -> tuple[FittedMovieLens, pd.DataFrame, pd.DataFrame]:
    """Fit MovieLens users (see the module docstring); deterministic for a given ``seed``.

    Returns ``(fitted, train, test)``: the parameters and the temporal split they were
    fitted and are to be validated on."""
    check_int(factors, "fit_movielens.factors", 1, 512)
    check_int(negatives, "fit_movielens.negatives", 1, 1000)
    check_int(iterations, "fit_movielens.iterations", 1, 1000)
    check_int(seed, "fit_movielens.seed", 0)
    check_float(no_click_quantile, "fit_movielens.no_click_quantile", 0.0, 1.0)
    if data is None:
        data = load_movielens()
    if not isinstance(data, MovieLens):
        raise ConfigError("fit_movielens.data", data, "a MovieLens from load_movielens()")
    rng = np.random.default_rng(seed)
    train, test = temporal_split(data.ratings, holdout)
    early, late = temporal_split(train, holdout)
    items = data.movies["item_id"].to_numpy()
    users = np.unique(data.ratings["user_id"].to_numpy())
    n_users, n_items = len(users), len(items)

    def matrix(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix]:
        u, i = _indexer(users, df["user_id"]), _indexer(items, df["item_id"])
        return u, i, sp.csr_matrix((np.ones(len(u)), (u, i)), shape=(n_users, n_items))

    ue, ie, r_early = matrix(early)
    ul, il, _ = matrix(late)
    ut, it, r_train = matrix(train)
    # 2. the logit, out of sample: factors from the early part, choices from the late part
    x_e, y_e = als_fit(r_early, factors, regularization, alpha, iterations, seed)
    pop_e = np.log1p(np.asarray(r_early.sum(axis=0)).ravel())
    history = (np.concatenate([ue, ul]), np.concatenate([ie, il]),
               np.concatenate([early["timestamp"].to_numpy(), late["timestamp"].to_numpy()]))
    sets = sample_choice_sets(ul, il, late["timestamp"].to_numpy(), history, n_items,
                              negatives, rng)
    mf = np.einsum("ef,esf->es", x_e[ul], y_e[sets])
    choice = fit_mnl(np.stack([mf, pop_e[sets]], axis=2))
    # 1. the final factors on the whole fitting period
    x, y = als_fit(r_train, factors, regularization, alpha, iterations, seed)
    log_pop = np.log1p(np.asarray(r_train.sum(axis=0)).ravel())
    activity = np.bincount(ut, minlength=n_users)  # ratings per user in the fitting period
    fitted = FittedMovieLens(
        items, tuple(data.movies["title"]), tuple(data.movies["genres"]), data.genres, users,
        x, y, log_pop, choice.weights, choice.stderr, 0.0,
        fit_lognormal(activity[activity > 0]),
        {"dataset": data.name, "holdout": holdout, "factors": factors,
         "regularization": regularization, "alpha": alpha, "iterations": iterations,
         "negatives": negatives, "no_click_quantile": no_click_quantile, "seed": seed,
         "choice_events": choice.events, "choice_log_likelihood": choice.log_likelihood,
         "choice_null_log_likelihood": choice.null_log_likelihood})
    # 3. the no-click utility: a quantile of unseen-movie utilities (assumption)
    probe = rng.integers(0, n_items, (n_users, 200))
    util = np.einsum("uf,ukf->uk", fitted.interests, fitted.features[probe])
    unseen = ~np.isin(np.arange(n_users)[:, None] * n_items + probe, ut * n_items + it)
    no_click = float(np.quantile(util[unseen], no_click_quantile))
    object.__setattr__(fitted, "no_click_utility", no_click)
    return fitted, train, test


def movielens_catalog(fitted: FittedMovieLens) -> Any:
    """The MovieLens catalog: every movie with its fitted features, its first genre as
    topic (and as "creator": MovieLens has none), length 1 (one movie) and its title."""
    from recarena.simulators.records import Catalog

    topic = fitted.primary_genre()
    n = len(fitted.item_ids)
    return Catalog(features=fitted.features, topic=topic, quality=np.zeros(n),
                   length=np.ones(n), creator_id=topic, num_topics=len(fitted.genre_names) + 1,
                   titles=fitted.titles)


def movielens_user_model(fitted: FittedMovieLens, new_user_share: float = 0.2,
                         max_budget: float = 2000.0) -> Any:
    """Users with the fitted interests (a ``new_user_share`` of new users drawn from their
    distribution), the fitted logit (temperature 1 on the fitted utilities, the assumed
    no-click utility), static tastes, and a session budget of log-normal requests from
    the activity fit (every request costs one unit: a watched movie has length 1, a
    declined slate costs 1)."""
    from recarena.simulators.choice import MultinomialLogitChoice
    from recarena.simulators.users import (
        EmpiricalInterests,
        ResponseSignals,
        TimeBudget,
        UserModel,
    )

    mu, sigma = fitted.activity
    return UserModel(
        choice=MultinomialLogitChoice(temperature=1.0, no_click_score=fitted.no_click_utility),
        interest_prior=EmpiricalInterests(fitted.interests, new_user_share),
        interest_dynamics=None,
        budget=TimeBudget(initial=float(min(np.exp(mu), max_budget)), step_penalty=1.0,
                          refund_rate=0.0, initial_log_std=sigma),
        signals=ResponseSignals(watch="full"),
        history_length=10)
