"""Gymnasium adapters over recarena's simulated worlds.

============================================  ===========================================
id                                            what
============================================  ===========================================
``recarena/InterestEvolution-v0``             RecSim's interest evolution environment
``recarena/LongTermSatisfaction-v0``          RecSim's long-term satisfaction ("choc/kale")
``recarena/InterestExploration-v0``           RecSim's interest exploration
``recarena/Cascade-v0``                       cascading bandit (Kveton et al. 2015)
``recarena/Retention-v0``                     sessions across days, return gaps, churn
``recarena/ShortVideo-v0``                    short-video feed: several signals, costs, creators
``recarena/Slate-v0``                         general slate env; every part configurable
``recarena/MovieLens-v0``                     users fitted to MovieLens ratings, its catalog
============================================  ===========================================

Every id also has a native batched vector env (``gymnasium.make_vec(id, num_envs=N,
vectorization_mode="vector_entry_point")``, see :mod:`recarena.envs.vector`), and
:func:`recarena.envs.checker.check_vector_env` checks any vector env.
"""

from recarena.envs.cascade import CascadeEnv, cascade_config, kveton_attraction
from recarena.envs.interest_evolution import InterestEvolutionEnv, interest_evolution_config
from recarena.envs.interest_exploration import InterestExplorationConfig, InterestExplorationEnv
from recarena.envs.long_term_satisfaction import (
    LongTermSatisfactionConfig,
    LongTermSatisfactionEnv,
)
from recarena.envs.movielens import MovieLensEnv, movielens_config
from recarena.envs.registration import ENV_IDS, register_envs
from recarena.envs.retention import RetentionEnv, retention_config
from recarena.envs.short_video import ShortVideoConfig, ShortVideoEnv
from recarena.envs.slate import SlateEnv, SlateEnvConfig
from recarena.envs.spaces import BatchSlateSpace, SlateSpace
from recarena.envs.vector import (
    CascadeVectorEnv,
    InterestEvolutionVectorEnv,
    InterestExplorationVectorEnv,
    LongTermSatisfactionVectorEnv,
    MovieLensVectorEnv,
    RetentionVectorEnv,
    ShortVideoVectorEnv,
    SlateVectorEnv,
    VectorSnapshot,
)

__all__ = [
    "ENV_IDS",
    "BatchSlateSpace",
    "CascadeEnv",
    "CascadeVectorEnv",
    "InterestEvolutionVectorEnv",
    "InterestExplorationConfig",
    "InterestExplorationEnv",
    "InterestExplorationVectorEnv",
    "LongTermSatisfactionConfig",
    "LongTermSatisfactionEnv",
    "LongTermSatisfactionVectorEnv",
    "MovieLensEnv",
    "MovieLensVectorEnv",
    "RetentionEnv",
    "RetentionVectorEnv",
    "ShortVideoConfig",
    "ShortVideoEnv",
    "ShortVideoVectorEnv",
    "retention_config",
    "SlateVectorEnv",
    "VectorSnapshot",
    "InterestEvolutionEnv",
    "SlateEnv",
    "SlateEnvConfig",
    "SlateSpace",
    "cascade_config",
    "interest_evolution_config",
    "kveton_attraction",
    "movielens_config",
    "register_envs",
]
