"""Click / choice models: each maps per-position scores of a batch of slates to clicks.

==========================  ============================================  ==============
class                       model                                         clicks/slate
==========================  ============================================  ==============
``ProportionalChoice``      RecSim multinomial proportional + no-click    0 or 1
``MultinomialLogitChoice``  multinomial logit + no-click, temperature     0 or 1
``CascadeChoice``           cascade (Craswell 2008, Kveton 2015)          0 or 1
``PositionBasedChoice``     position-based model (examination x attract)  0..K
``DependentClickChoice``    dependent click model (Guo et al. 2009)       0..K
==========================  ============================================  ==============
"""

from recarena.simulators.choice.base import AttractionLink, all_patterns
from recarena.simulators.choice.cascade import CascadeChoice
from recarena.simulators.choice.dcm import DependentClickChoice
from recarena.simulators.choice.mnl import MultinomialLogitChoice
from recarena.simulators.choice.pbm import PositionBasedChoice
from recarena.simulators.choice.proportional import ProportionalChoice

__all__ = [
    "AttractionLink",
    "CascadeChoice",
    "DependentClickChoice",
    "MultinomialLogitChoice",
    "PositionBasedChoice",
    "ProportionalChoice",
    "all_patterns",
]
