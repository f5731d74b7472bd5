"""The simulated world: items, users, choice models. No Gymnasium in here.

* :mod:`~recarena.simulators.core`: typed records (``Items``, ``Response``, ``UserBatch``,
  ``Catalog``) and protocols.
* :mod:`~recarena.simulators.catalog`: item samplers and candidate sets.
* :mod:`~recarena.simulators.choice`: click/choice models.
* :mod:`~recarena.simulators.users`: user-model components and :class:`UserModel`.
* :mod:`~recarena.simulators.world`: :class:`SlateWorld`, N users stepped as one batch.
"""

from recarena._lazy import lazy_exports

_EXPORTS = {
    "Catalog": "recarena.simulators.core",
    "ChoiceOutcome": "recarena.simulators.core",
    "Items": "recarena.simulators.core",
    "Response": "recarena.simulators.core",
    "SlateWorld": "recarena.simulators.world",
    "UserBatch": "recarena.simulators.core",
    "WorldSnapshot": "recarena.simulators.world",
    "WorldStep": "recarena.simulators.world",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
