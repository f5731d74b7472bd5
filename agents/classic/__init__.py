"""Classic recommenders and reference oracles."""

from recarena.agents.classic.heuristics import FeatureSortPolicy, FeatureTargetPolicy
from recarena.agents.classic.oracle import GreedyOracle, QualityAwareOracle, QualityBonusOracle
from recarena.agents.classic.random import RandomPolicy

__all__ = ["FeatureSortPolicy", "FeatureTargetPolicy", "GreedyOracle", "QualityAwareOracle", "QualityBonusOracle", "RandomPolicy"]
