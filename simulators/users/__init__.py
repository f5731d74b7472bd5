"""User models: composable, batched components behind one :class:`UserModel`.

=========================  ==================================================  ==============
component                  what it models                                      paper
=========================  ==================================================  ==============
``UniformInterests``       initial interests ``U(low, high)^d``                RecSim
``FixedInterests``         one interest vector (optionally permuted per user)  Kveton 2015
``InterestEvolution``      interests move toward / away from consumed items    RecSim
``Satiation``              per-topic boredom, recovers with time               Leqi et al. 2021
``NoveltySeeking``         static + per-session novelty intent                 Li et al. 2023
``TimeBudget``             budget drained per step, refunded by quality        RecSim
``SatisfactionLeave``      leave when running satisfaction collapses           KuaiSim
``ResponseSignals``        watch time, like, share, follow                     -
=========================  ==================================================  ==============
"""

from recarena.simulators.users.interests import (
    EmpiricalInterests,
    FixedInterests,
    InterestEvolution,
    UniformInterests,
)
from recarena.simulators.users.model import UserModel
from recarena.simulators.users.novelty import NoveltySeeking
from recarena.simulators.users.retention import ReturnModel, SessionEnd
from recarena.simulators.users.satiation import Satiation
from recarena.simulators.users.session import SatisfactionLeave, TimeBudget
from recarena.simulators.users.signals import LogisticSignal, ResponseSignals

__all__ = [
    "ReturnModel",
    "SessionEnd",
    "EmpiricalInterests",
    "FixedInterests",
    "InterestEvolution",
    "LogisticSignal",
    "NoveltySeeking",
    "ResponseSignals",
    "Satiation",
    "SatisfactionLeave",
    "TimeBudget",
    "UniformInterests",
    "UserModel",
]
