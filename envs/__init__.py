"""Gymnasium adapters over recarena's simulated worlds.

============================================  ===========================================
id                                            what
============================================  ===========================================
``recarena/InterestEvolution-v0``             RecSim's interest evolution environment
``recarena/Cascade-v0``                       cascading bandit (Kveton et al. 2015)
``recarena/Slate-v0``                         general slate env; every part configurable
============================================  ===========================================
"""

from recarena.envs.cascade import CascadeEnv, cascade_config, kveton_attraction
from recarena.envs.interest_evolution import InterestEvolutionEnv, interest_evolution_config
from recarena.envs.registration import ENV_IDS, register_envs
from recarena.envs.slate import SlateEnv, SlateEnvConfig
from recarena.envs.spaces import SlateSpace

__all__ = [
    "ENV_IDS",
    "CascadeEnv",
    "InterestEvolutionEnv",
    "SlateEnv",
    "SlateEnvConfig",
    "SlateSpace",
    "cascade_config",
    "interest_evolution_config",
    "kveton_attraction",
    "register_envs",
]
