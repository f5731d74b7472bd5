"""The simulated world: items, users, choice models. No Gymnasium in here.

* :mod:`~recarena.simulators.core`: typed records (``Items``, ``Response``, ``UserBatch``,
  ``Catalog``) and protocols.
* :mod:`~recarena.simulators.catalog`: item samplers and candidate sets.
* :mod:`~recarena.simulators.choice`: click/choice models.
* :mod:`~recarena.simulators.users`: user-model components and :class:`UserModel`.
* :mod:`~recarena.simulators.world`: :class:`SlateWorld`, N users stepped as one batch.
"""

from recarena.simulators.core import Catalog, ChoiceOutcome, Items, Response, UserBatch
from recarena.simulators.world import SlateWorld, WorldSnapshot, WorldStep

__all__ = ["Catalog", "ChoiceOutcome", "Items", "Response", "SlateWorld", "UserBatch",
           "WorldSnapshot", "WorldStep"]
