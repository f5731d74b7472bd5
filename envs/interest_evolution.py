"""RecSim's interest evolution environment on recarena's batched world."""

from __future__ import annotations

from recarena.envs.slate import SlateEnv, SlateEnvConfig
from recarena.simulators.catalog import ResampledCandidates, TopicQualitySampler
from recarena.simulators.choice import ProportionalChoice
from recarena.simulators.users import InterestEvolution, ResponseSignals, TimeBudget, UserModel

__all__ = ["InterestEvolutionEnv", "interest_evolution_config"]


def interest_evolution_config(num_candidates: int = 10, slate_size: int = 2) -> SlateEnvConfig:
    """The configuration of RecSim's ``interest_evolution.create_environment``.

    Facts taken from RecSim's ``recsim/environments/interest_evolution.py`` and
    ``recsim/choice_model.py`` (Ie et al. 2019):

    * items: ``UtilityModelVideoSampler``: 20 topics, one-hot features, quality
      ``Normal(mean_topic, 0.1)`` with 14 "trashy" topic means from -3 to 0 and 6
      "nutritious" ones from 0 to 3, length 4 minutes; 10 candidates resampled every step;
    * users: ``UtilityModelUserSampler``: interests ``Uniform(-1, 1)^20``, time budget 200,
      step penalty 0.5, refund rate ``0.9 / 3.4``, user quality factor 0, document quality
      factor 1;
    * choice: ``MultinomialProportionalChoiceModel`` with ``no_click_mass=1`` and
      ``min_normalizer=-1``; the score is ``<interests, features>``;
    * a click watches the whole video (or what is left of the budget);
    * interests evolve by ``IEvUserModel.update_state`` (alpha intercepts 1.0 and 0.3);
    * reward: clicked watch time; slate size 2.
    """
    return SlateEnvConfig(
        user_model=UserModel(
            choice=ProportionalChoice(no_click_mass=1.0, min_normalizer=-1.0),
            interest_dynamics=InterestEvolution(alpha_x_intercept=1.0, alpha_y_intercept=0.3,
                                                direction="stochastic"),
            satiation=None,
            novelty=None,
            budget=TimeBudget(initial=200.0, step_penalty=0.5, refund_rate=0.9 / 3.4,
                              user_quality_factor=0.0, document_quality_factor=1.0),
            satisfaction=None,
            signals=ResponseSignals(watch="full"),
            history_length=0,
        ),
        candidates=ResampledCandidates(TopicQualitySampler(), num_candidates=num_candidates),
        slate_size=slate_size,
        reward_weights={"watch_time": 1.0},
        observe=("interests", "candidates", "response", "response_quality"),
        horizon=None,
    )


class InterestEvolutionEnv(SlateEnv):
    """RecSim's interest evolution environment (``recarena/InterestEvolution-v0``).

    Ie, Hsu, Mladenov, Jain, Narvekar, Wang, Wu, Boutilier 2019, "RecSim: A Configurable
    Simulation Platform for Recommender Systems"; the environment of their
    ``interest_evolution.create_environment`` (see :func:`interest_evolution_config` for
    every parameter). A user with interests ``u in [-1, 1]^20`` sees 10 fresh videos per
    step, each of one of 20 topics with a topic-dependent hidden quality, and is shown 2.

    **Action space**: ``SlateSpace(10, 2)``: two distinct candidate indices.

    **Observation space** (``Dict``):

    * ``interests``: ``Box(-1, 1, (20,))``, the user's true interests (RecSim exposes them);
    * ``candidate_features``: ``Box(0, 1, (10, 20))``, one-hot topics of the candidates;
    * ``response_click``, ``response_examined``: ``MultiBinary(2)``;
    * ``response_watch_time``: ``Box(0, 4, (2,))``, minutes watched of each shown video;
    * ``response_quality``: ``Box(-4, 4, (2,))``, quality of the shown videos (RecSim's
      response reports it).

    **Dynamics**: the user clicks at most one video: ``P(click i) = (u_i + 1) / (sum_j (u_j + 1) + 2)``
    with ``u_i`` the interest in the video's topic, else no click. A click watches the whole
    video (4 minutes, or the budget left) and refunds ``0.9/3.4 * 4 * quality`` minutes of
    budget; no click costs 0.5 minutes. The clicked topic's interest moves by RecSim's rule.

    **Reward**: minutes watched.

    **Episode end**: ``terminated`` when the 200-minute budget is spent (there is no
    horizon: the budget falls by at least about 0.4 minutes per step).

    **Info**: see :class:`SlateEnv`; ``info["oracle"]["scores"]`` is the user's true interest
    in each current candidate and ``info["oracle"]["quality"]`` its quality.

    **Arguments**: ``num_candidates`` (10), ``slate_size`` (2), and any
    :class:`SlateEnvConfig` field as an override; ``render_mode``.

    **Differences from RecSim**: one seeded generator per env, split into streams (RecSim
    draws the interest-update coin from the global ``np.random``, so its episodes are not
    reproducible); the reset observation holds zero responses instead of ``None``.

    **Version history**: v0: initial version.

    >>> import gymnasium as gym, recarena
    >>> env = gym.make("recarena/InterestEvolution-v0")
    >>> obs, info = env.reset(seed=42)
    >>> obs["interests"].shape, obs["candidate_features"].shape
    ((20,), (10, 20))
    >>> env.action_space
    SlateSpace(num_candidates=10, slate_size=2)
    """

    builder = staticmethod(interest_evolution_config)
