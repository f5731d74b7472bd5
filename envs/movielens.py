"""Users fitted to MovieLens (``recarena/MovieLens-v0``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from recarena.envs.slate import SlateEnv, SlateEnvConfig
from recarena.errors import ConfigError
from recarena.simulators.catalog import CorpusCandidates
from recarena.simulators.data.calibrate import (
    FittedMovieLens,
    load_fitted,
    movielens_catalog,
    movielens_user_model,
)
from recarena.validation import check_choice, check_float, check_int

__all__ = ["MovieLensEnv", "movielens_config"]


@lru_cache(maxsize=2)
def _shipped() -> FittedMovieLens:
    return load_fitted()


@lru_cache(maxsize=1)
def _shipped_personas() -> Any:
    from recarena.simulators.llm.users import MovieLensPersonas

    return MovieLensPersonas(_shipped())


def _llm_users(fitted: FittedMovieLens, base: Any, llm: Any, personas: Any,
               options: dict[str, Any]) -> Any:
    """``base`` with its decisions from an LLM (:mod:`recarena.simulators.llm.users`)."""
    from recarena.simulators.llm.config import env_backend
    from recarena.simulators.llm.persona import read_personas
    from recarena.simulators.llm.users import LLMUserModel, MovieLensPersonas, movielens_texts

    llm, owns = env_backend(llm, "movielens_config", "users='llm'")
    if personas is None:
        source = _shipped_personas() if fitted is _shipped() else MovieLensPersonas(fitted)
    else:
        source = MovieLensPersonas(fitted, personas if isinstance(personas, dict)
                                   else read_personas(personas))
    return LLMUserModel.from_model(base, llm, personas=source, item_texts=movielens_texts(fitted),
                                   genre_names=fitted.genre_names, owns_backend=owns, **options)


def movielens_config(fitted: FittedMovieLens | None = None, num_candidates: int = 50,
                     slate_size: int = 10, new_user_share: float = 0.2,
                     horizon: int | None = 2000, users: str = "model", llm: Any = None,
                     llm_fraction: float = 1.0, llm_every: int = 1, personas: Any = None,
                     memory_length: int = 5, reflect_every: int = 0) -> SlateEnvConfig:
    """The configuration of ``MovieLens-v0`` from a fit (default: the shipped fit of
    ml-latest-small, see :mod:`recarena.simulators.data.calibrate`); ``users="llm"``
    makes the users LLM-played (see :class:`MovieLensEnv`)."""
    fitted = _shipped() if fitted is None else fitted
    check_int(num_candidates, "movielens_config.num_candidates", 1, len(fitted.item_ids))
    check_float(new_user_share, "movielens_config.new_user_share", 0.0, 1.0)
    check_choice(users, "movielens_config.users", ("model", "llm"))
    user_model = movielens_user_model(fitted, new_user_share)
    if users == "llm":
        user_model = _llm_users(fitted, user_model, llm, personas, {
            "llm_fraction": llm_fraction, "llm_every": llm_every,
            "memory_length": memory_length, "reflect_every": reflect_every})
    elif llm is not None or personas is not None:
        raise ConfigError("movielens_config.users", users,
                          "'llm' when llm= or personas= is given")
    return SlateEnvConfig(
        user_model=user_model,
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

    **LLM users** (``users="llm"``): the same world, users and session budget, but each
    user's choice (or none), rating and leaving come from an LLM playing them
    (:class:`~recarena.simulators.llm.users.LLMUserModel`, Agent4Rec style): a persona
    from the user's training ratings (liked / disliked genres and titles, activity,
    conformity, diversity; ``personas`` a JSONL file or dict to use others), a memory of
    the last ``memory_length`` steps with reflections every ``reflect_every`` steps, and
    the slate as numbered "title (year) [genres]". ``llm``: the backend (a dict of
    :class:`~recarena.simulators.llm.LLMConfig` fields, an ``LLMConfig`` or an
    ``LLMBackend``; leave ``api_key`` out of scenario files, which are copied into run
    manifests: ``$OPENAI_API_KEY`` is read instead); ``llm_fraction`` of the users (by a
    hash of the user id) are LLM-played, on every ``llm_every``-th of their steps; the
    fitted logit decides the rest and every reply that fails. ``info["llm"]`` gives ``decided_by`` (``llm``,
    ``cache``, ``fallback``, ``model``), ``rating`` and ``reason`` per step, and the event
    log a ``decided_by`` column. ``observe=(..., "instruction")`` adds the user's latest
    instruction to the recommender (RecoWorld style, given when leaving or rating <= 2):
    ``instruction`` (``Text``) and ``instruction_genres`` (``Box(-1, 1, (20,))``: +1 more
    of a genre, -1 less).

    **Arguments**: ``fitted`` (a :class:`~recarena.simulators.data.calibrate
    .FittedMovieLens`, e.g. from a larger MovieLens), ``num_candidates``, ``slate_size``,
    ``new_user_share``, ``horizon``, ``users`` (``"model"`` or ``"llm"``), ``llm``,
    ``llm_fraction``, ``llm_every``, ``personas``, ``memory_length``, ``reflect_every``,
    or a whole ``config``; ``render_mode``.

    **Version history**: v0: initial version (fit of ml-latest-small, seed 0).

    >>> import gymnasium as gym, recarena
    >>> env = gym.make("recarena/MovieLens-v0")
    >>> obs, info = env.reset(seed=0)
    >>> obs["candidate_features"].shape
    (50, 17)
    """

    builder = staticmethod(movielens_config)

    def close(self) -> None:
        """Close the LLM backend the env made for its LLM users (``users="llm"``)."""
        close = getattr(self.config.user_model, "close", None)
        if close is not None:
            close()
        super().close()
