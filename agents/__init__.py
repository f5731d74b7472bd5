"""Recommender policies behind one :class:`Policy` protocol, and the evaluation loop."""

from recarena.agents.base import Policy
from recarena.agents.classic import GreedyOracle, QualityAwareOracle, RandomPolicy
from recarena.agents.evaluation import evaluate

__all__ = ["GreedyOracle", "Policy", "QualityAwareOracle", "RandomPolicy", "evaluate"]
