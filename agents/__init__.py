"""Recommender policies behind one :class:`~recarena.agents.base.Policy` protocol."""

from recarena.agents.base import Policy
from recarena.agents.classic import (
    FeatureSortPolicy,
    FeatureTargetPolicy,
    GreedyOracle,
    QualityAwareOracle,
    QualityBonusOracle,
    RandomPolicy,
)
from recarena.agents.evaluation import evaluate, evaluate_users

__all__ = [
    "FeatureSortPolicy",
    "FeatureTargetPolicy",
    "GreedyOracle",
    "Policy",
    "QualityAwareOracle",
    "QualityBonusOracle",
    "RandomPolicy",
    "evaluate",
    "evaluate_users",
]
