"""Users fitted to MovieLens (``recarena/MovieLens-v0``)."""

from __future__ import annotations

from functools import lru_cache

from recarena.envs.slate import SlateEnv, SlateEnvConfig
from recarena.simulators.catalog import CorpusCandidates
from recarena.simulators.data.calibrate import (
    FittedMovieLens,
    load_fitted,
    movielens_catalog,
    movielens_user_model,
)
from recarena.validation import check_float, check_int

__all__ = ["MovieLensEnv", "movielens_config"]


@lru_cache(maxsize=2)
def _shipped() -> FittedMovieLens:
    return load_fitted()


def movielens_config(fitted: FittedMovieLens | None = None, num_candidates: int = 50,
                     slate_size: int = 10, new_user_share: float = 0.2,
                     horizon: int | None = 2000) -> SlateEnvConfig:
    """The configuration of ``MovieLens-v0`` from a fit (default: the shipped fit of
    ml-latest-small, see :mod:`recarena.simulators.data.calibrate`)."""
    fitted = _shipped() if fitted is None else fitted
    check_int(num_candidates, "movielens_config.num_candidates", 1, len(fitted.item_ids))
    check_float(new_user_share, "movielens_config.new_user_share", 0.0, 1.0)
    return SlateEnvConfig(
        user_model=movielens_user_model(fitted, new_user_share),
        candidates=CorpusCandidates(movielens_catalog(fitted), num_candidates, "uniform"),
        slate_size=slate_size, reward_weights={"click": 1.0},
        observe=("candidates", "response", "history"), horizon=horizon)


class MovieLensEnv(SlateEnv):
    """A MovieLens user's session, with users fitted to ml-latest-small's ratings.

    **Users**: 80% are the 610 fitted MovieLens users (their ALS interests), 20% new users
    drawn from the fitted interest distribution (a Gaussian over the fitted profiles).
    They choose at most one movie per slate by the fitted multinomial logit, whose utility
    is ``a <x_u, y_i> + c log(1 + popularity_i)`` (``a``, ``c`` by maximum likelihood on
    held-out choices) against an assumed no-click utility (MovieLens has no impressions:
    :mod:`recarena.simulators.data.calibrate` states the assumption). Tastes are static.

    **Catalog**: the 9,742 MovieLens movies, with titles (``config.candidates.catalog
    .titles``), features ``[y_i, log(1 + popularity_i)]``, first genre as topic.

    **Spaces**: 50 candidates drawn uniformly per request, slates of 10; observations as
    :class:`~recarena.envs.slate.SlateEnv` with ``observe=("candidates", "response",
    "history")``.

    **Reward**: 1 per click (a watched movie).

    **Episode end**: ``terminated`` when the user's session budget (log-normal requests,
    from the fitted ratings-per-user distribution, median 69) is spent; ``truncated`` at
    2,000 requests.

    **Fidelity**: ``recarena validate movielens`` (numbers in FIDELITY.md).

    **Arguments**: ``fitted`` (a :class:`~recarena.simulators.data.calibrate
    .FittedMovieLens`, e.g. from a larger MovieLens), ``num_candidates``, ``slate_size``,
    ``new_user_share``, ``horizon``, or a whole ``config``; ``render_mode``.

    **Version history**: v0: initial version (fit of ml-latest-small, seed 0).

    >>> import gymnasium as gym, recarena
    >>> env = gym.make("recarena/MovieLens-v0")
    >>> obs, info = env.reset(seed=0)
    >>> obs["candidate_features"].shape
    (50, 17)
    """

    builder = staticmethod(movielens_config)
