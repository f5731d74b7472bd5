"""Recommender policies behind one :class:`~recarena.agents.base.Policy` protocol."""

from recarena.agents.base import Policy
from recarena.agents.classic import (
    GreedyOracle,
    QualityAwareOracle,
    QualityBonusOracle,
    RandomPolicy,
)
from recarena.agents.evaluation import evaluate, evaluate_users

__all__ = [
    "GreedyOracle",
    "Policy",
    "QualityAwareOracle",
    "QualityBonusOracle",
    "RandomPolicy",
    "evaluate",
    "evaluate_users",
]
