"""Classic recommenders (random, most-popular, item-KNN, implicit ALS), observed-feature
heuristics, and reference oracles."""

from recarena.agents.classic.heuristics import FeatureSortPolicy, FeatureTargetPolicy
from recarena.agents.classic.item_knn import ItemKNN
from recarena.agents.classic.mf import ImplicitALS, als_fit
from recarena.agents.classic.oracle import GreedyOracle, QualityAwareOracle, QualityBonusOracle
from recarena.agents.classic.popular import MostPopular
from recarena.agents.classic.random import RandomPolicy

__all__ = ["FeatureSortPolicy", "FeatureTargetPolicy", "GreedyOracle", "ImplicitALS",
           "ItemKNN", "MostPopular", "QualityAwareOracle", "QualityBonusOracle",
           "RandomPolicy", "als_fit"]
