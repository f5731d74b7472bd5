"""Bandit recommenders, batched over users: item bandits (epsilon-greedy, UCB1, Thompson
sampling, in-slate TS, a top-K position-based slate bandit), cascading bandits, and linear
contextual bandits (LinUCB, Diag-LinUCB, linear TS)."""

from recarena.agents.bandits.cascade import CascadeKLUCB, CascadeUCB1
from recarena.agents.bandits.linear import DiagLinUCB, LinearBandit, LinTS, LinUCB
from recarena.agents.bandits.mab import (
    UCB1,
    BernoulliTS,
    EpsilonGreedy,
    InSlateTS,
    ItemBandit,
    TopKUCB,
)

__all__ = ["BernoulliTS", "CascadeKLUCB", "CascadeUCB1", "DiagLinUCB", "EpsilonGreedy",
           "InSlateTS", "ItemBandit", "LinTS", "LinUCB", "LinearBandit", "TopKUCB", "UCB1"]
