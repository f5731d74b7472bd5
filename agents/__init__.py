"""Recommender policies behind one :class:`~recarena.agents.base.Policy` protocol, the
evaluation loop, and the registry that names them (``make_policy("linucb", env)``)."""

from recarena.agents.bandits import (
    UCB1,
    BernoulliTS,
    CascadeKLUCB,
    CascadeUCB1,
    DiagLinUCB,
    EpsilonGreedy,
    InSlateTS,
    LinTS,
    LinUCB,
    TopKUCB,
)
from recarena.agents.base import EnvSpec, OnlinePolicy, Policy, env_spec
from recarena.agents.classic import (
    FeatureSortPolicy,
    FeatureTargetPolicy,
    GreedyOracle,
    ImplicitALS,
    ItemKNN,
    MostPopular,
    QualityAwareOracle,
    QualityBonusOracle,
    RandomPolicy,
)
from recarena.agents.evaluation import evaluate
from recarena.agents.registry import list_policies, make_policy, policy_entry, register_policy

__all__ = [
    "UCB1", "BernoulliTS", "CascadeKLUCB", "CascadeUCB1", "DiagLinUCB", "EnvSpec",
    "EpsilonGreedy", "FeatureSortPolicy", "FeatureTargetPolicy", "GreedyOracle",
    "ImplicitALS", "InSlateTS", "ItemKNN", "LinTS", "LinUCB", "MostPopular", "OnlinePolicy",
    "Policy", "QualityAwareOracle", "QualityBonusOracle", "RandomPolicy", "TopKUCB",
    "env_spec", "evaluate", "list_policies", "make_policy", "policy_entry", "register_policy",
]
