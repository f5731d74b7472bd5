"""Classic recommenders and reference oracles."""

from recarena.agents.classic.oracle import GreedyOracle, QualityAwareOracle, QualityBonusOracle
from recarena.agents.classic.random import RandomPolicy

__all__ = ["GreedyOracle", "QualityAwareOracle", "QualityBonusOracle", "RandomPolicy"]
