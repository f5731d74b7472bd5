"""Recommender policies behind one :class:`~recarena.agents.base.Policy` protocol, the
evaluation loop, and the registry that names them (``make_policy("linucb", env)``)."""

from recarena._lazy import lazy_exports

_EXPORTS = {
    "BernoulliTS": "recarena.agents.bandits",
    "Calibrated": "recarena.agents.rerank",
    "CreatorAgentsParallelEnv": "recarena.agents.creator_agents",
    "CascadeKLUCB": "recarena.agents.bandits",
    "CascadeUCB1": "recarena.agents.bandits",
    "DiagLinUCB": "recarena.agents.bandits",
    "EnvSpec": "recarena.agents.base",
    "EpsilonGreedy": "recarena.agents.bandits",
    "FairCo": "recarena.agents.rerank",
    "FeatureSortPolicy": "recarena.agents.classic",
    "FeatureTargetPolicy": "recarena.agents.classic",
    "GreedyOracle": "recarena.agents.classic",
    "ImplicitALS": "recarena.agents.classic",
    "InSlateTS": "recarena.agents.bandits",
    "ItemKNN": "recarena.agents.classic",
    "LinTS": "recarena.agents.bandits",
    "LinUCB": "recarena.agents.bandits",
    "MMR": "recarena.agents.rerank",
    "MostPopular": "recarena.agents.classic",
    "OnlinePolicy": "recarena.agents.base",
    "PMMF": "recarena.agents.rerank",
    "Policy": "recarena.agents.base",
    "QualityAwareOracle": "recarena.agents.classic",
    "QualityBonusOracle": "recarena.agents.classic",
    "RandomPolicy": "recarena.agents.classic",
    "Reranker": "recarena.agents.rerank",
    "ScoresCandidates": "recarena.agents.base",
    "TopKUCB": "recarena.agents.bandits",
    "UCB1": "recarena.agents.bandits",
    "env_spec": "recarena.agents.base",
    "evaluate": "recarena.agents.evaluation",
    "list_policies": "recarena.agents.registry",
    "make_policy": "recarena.agents.registry",
    "policy_entry": "recarena.agents.registry",
    "register_policy": "recarena.agents.registry",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
