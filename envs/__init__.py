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
``recarena/CreatorEcosystem-v0``              strategic creators fill a live catalog (platform view)
============================================  ===========================================

The creators' view of the same world is a PettingZoo env (creators are the agents):
:mod:`recarena.agents.creator_agents` (``parallel_env()``, ``env()``; the ``multiagent`` extra;
in ``agents`` because a recommender policy runs inside it).

Every id also has a native batched vector env (``gymnasium.make_vec(id, num_envs=N,
vectorization_mode="vector_entry_point")``, see :mod:`recarena.envs.vector`), and
:func:`recarena.envs.checker.check_vector_env` checks any vector env.
"""

from recarena._lazy import lazy_exports

_EXPORTS = {
    "BatchSlateSpace": "recarena.envs.spaces",
    "CascadeEnv": "recarena.envs.cascade",
    "CascadeVectorEnv": "recarena.envs.vector",
    "CoreEnv": "recarena.envs.base",
    "CoreVectorEnv": "recarena.envs.vector",
    "CreatorEcosystemConfig": "recarena.envs.creator_ecosystem",
    "CreatorEcosystemEnv": "recarena.envs.creator_ecosystem",
    "CreatorEcosystemVectorEnv": "recarena.envs.vector",
    "EnvCore": "recarena.envs.core",
    "ENV_IDS": "recarena.envs.registration",
    "InterestEvolutionEnv": "recarena.envs.interest_evolution",
    "InterestEvolutionVectorEnv": "recarena.envs.vector",
    "InterestExplorationConfig": "recarena.envs.interest_exploration",
    "InterestExplorationEnv": "recarena.envs.interest_exploration",
    "InterestExplorationVectorEnv": "recarena.envs.vector",
    "LongTermSatisfactionConfig": "recarena.envs.long_term_satisfaction",
    "LongTermSatisfactionEnv": "recarena.envs.long_term_satisfaction",
    "LongTermSatisfactionVectorEnv": "recarena.envs.vector",
    "MovieLensEnv": "recarena.envs.movielens",
    "MovieLensVectorEnv": "recarena.envs.vector",
    "RetentionEnv": "recarena.envs.retention",
    "RetentionVectorEnv": "recarena.envs.vector",
    "ShortVideoConfig": "recarena.envs.short_video",
    "ShortVideoEnv": "recarena.envs.short_video",
    "ShortVideoVectorEnv": "recarena.envs.vector",
    "SlateEnv": "recarena.envs.slate",
    "SlateEnvConfig": "recarena.envs.slate",
    "SlateSpace": "recarena.envs.spaces",
    "SlateVectorEnv": "recarena.envs.vector",
    "VectorSnapshot": "recarena.envs.vector",
    "cascade_config": "recarena.envs.cascade",
    "interest_evolution_config": "recarena.envs.interest_evolution",
    "kveton_attraction": "recarena.envs.cascade",
    "movielens_config": "recarena.envs.movielens",
    "register_envs": "recarena.envs.registration",
    "retention_config": "recarena.envs.retention",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
