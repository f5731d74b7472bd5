"""The simulated world: items, users, choice models. No Gymnasium in here.

* :mod:`~recarena.simulators.records`: typed records (``Items``, ``Response``, ``UserBatch``,
  ``Catalog``).
* :mod:`~recarena.simulators.protocols`: what the world asks of its parts (choice model,
  candidate source, interest dynamics, response signals), as runtime-checkable protocols.
* :mod:`~recarena.simulators.kernels`: the numpy call-overhead kernels the other modules use.
* :mod:`~recarena.simulators.catalog`: item samplers and candidate sets.
* :mod:`~recarena.simulators.choice`: click/choice models.
* :mod:`~recarena.simulators.users`: user-model components and :class:`UserModel`.
* :mod:`~recarena.simulators.world`: :class:`SlateWorld`, N users stepped as one batch.
"""

from recarena._lazy import lazy_exports

_EXPORTS = {
    "Catalog": "recarena.simulators.records",
    "ChoiceOutcome": "recarena.simulators.records",
    "Items": "recarena.simulators.records",
    "Response": "recarena.simulators.records",
    "SlateWorld": "recarena.simulators.world",
    "UserBatch": "recarena.simulators.records",
    "WorldSnapshot": "recarena.simulators.world",
    "WorldStep": "recarena.simulators.world",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
