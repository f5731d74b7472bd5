"""A user's life across days: sessions, return gaps and churn (``recarena/Retention-v0``)."""

from __future__ import annotations

from recarena.envs.slate import SlateEnv, SlateEnvConfig
from recarena.simulators.catalog import ResampledCandidates, TopicQualitySampler
from recarena.simulators.choice import MultinomialLogitChoice
from recarena.simulators.users import ResponseSignals, ReturnModel, TimeBudget, UserModel

__all__ = ["RetentionEnv", "retention_config"]


def retention_config(num_candidates: int = 10, slate_size: int = 2, horizon_days: float = 30.0,
                     clickbait: float = 0.3, engagement_weight: float = 1.0,
                     retention_weight: float = 0.0) -> SlateEnvConfig:
    """The configuration of ``Retention-v0``.

    Items are RecSim's (20 topics, one-hot features, topic-dependent quality in about
    [-3, 3], 4 minutes long), 10 fresh candidates per request, slates of 2. A user's score
    for an item is ``<interests, topic> - clickbait * quality``: trashy items are more
    clickable. Clicks follow a multinomial logit with a no-click option (temperature 0.5).
    A session lasts until a 20-minute budget is spent (a watched item costs its length, a
    request without a click costs 1 minute). Between sessions, :class:`ReturnModel`
    (defaults) turns the mean quality consumed into long-term satisfaction, return gaps and
    churn. Reward: ``engagement_weight * minutes watched + retention_weight * retention``.
    """
    weights = {"watch_time": engagement_weight}
    if retention_weight:
        weights["retention"] = retention_weight
    return SlateEnvConfig(
        user_model=UserModel(
            choice=MultinomialLogitChoice(temperature=0.5, no_click_score=0.0),
            interest_dynamics=None,
            budget=TimeBudget(initial=20.0, step_penalty=2.0, refund_rate=0.0),
            signals=ResponseSignals(watch="full"),
            history_length=0,
            clickbait=clickbait,
            retention=ReturnModel(),
        ),
        candidates=ResampledCandidates(TopicQualitySampler(), num_candidates=num_candidates),
        slate_size=slate_size,
        reward_weights=weights,
        observe=("interests", "candidates", "response", "response_quality", "calendar"),
        horizon=None,
        horizon_days=horizon_days,
    )


class RetentionEnv(SlateEnv):
    """A user's life over ``horizon_days`` days (``recarena/Retention-v0``).

    One episode is one user from their first session until they churn (``terminated``) or
    their next session would start after ``horizon_days`` (``truncated``). One step is one
    *request*: a slate shown within a session. When a session ends (budget spent), the time
    until the user's next session is drawn from the :class:`ReturnModel`, the calendar jumps
    there and the next step is the first request of that session. Satisfied users (who
    consumed good items) come back sooner and churn less; users fed clickbait come back
    later or not at all. This is the long-term trade-off: an engagement-greedy policy wins
    the first sessions and loses the month.

    **Action space**: ``SlateSpace(10, 2)``.

    **Observation space** (``Dict``): ``interests`` ``Box(-1, 1, (20,))``,
    ``candidate_features`` ``Box(0, 1, (10, 20))``, ``response_click`` /
    ``response_examined`` ``MultiBinary(2)``, ``response_watch_time`` ``Box(0, 4, (2,))``,
    ``response_quality`` ``Box(-4, 4, (2,))``, ``day`` and ``last_return_gap``
    ``Box(0, horizon_days, (1,))``.

    **Reward**: ``engagement_weight * minutes watched`` per request, plus, with
    ``retention_weight``, ``-retention_weight * return gap in days`` on the request that
    ends a session (a churn counts as ``churn_days`` = 30 days), the return-time signal
    of KuaiSim's retention task and of RLUR (Cai et al. 2023).

    **Info**: the slate env's (``response``, ``oracle`` with ``scores``, ``quality`` and
    ``long_term`` satisfaction), plus ``day``, ``session_ended`` and, on the request that
    ends a session, ``return_gap`` (days until the next session; ``inf`` on churn).

    **Vector env**: one step is one request tick for every row. A user between sessions
    does not hold a row idle: each row follows its own user's calendar, so the row's next
    request is that user's next session (``info["day"]`` differs across rows). Steps,
    returns and rates therefore count requests; days are read from ``info["day"]``.

    **Arguments**: ``num_candidates`` (10), ``slate_size`` (2), ``horizon_days`` (30),
    ``clickbait`` (0.3), ``engagement_weight`` (1), ``retention_weight`` (0), and any
    :class:`SlateEnvConfig` field as an override.

    **Version history**: v0: initial version.

    >>> import gymnasium as gym, recarena
    >>> env = gym.make("recarena/Retention-v0")
    >>> obs, info = env.reset(seed=0)
    >>> float(obs["day"][0]), info["oracle"]["long_term"]
    (0.0, 0.0)
    """

    vector_notes = ("One step is one request tick for every row; each row follows its own "
                    "user's calendar (a user between sessions does not idle a row: the row's "
                    "next request is that user's next session), and a churned or timed-out "
                    "user is replaced at once (same-step autoreset).")

    builder = staticmethod(retention_config)
