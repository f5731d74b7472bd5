"""Strategic, information-asymmetric content creators and the world they publish in.

* :mod:`~recarena.simulators.creators.population`: :class:`CreatorPopulation`, M creator
  slots as arrays (beliefs from their own feedback, fast/slow thinking, viability, entry);
* :mod:`~recarena.simulators.creators.catalog`: :class:`LiveCatalog`, the items live now
  and the candidates drawn from them;
* :mod:`~recarena.simulators.creators.world`: :class:`CreatorWorld`, the slate world on two
  clocks (users every request, creators every round).
"""

from recarena.simulators.creators.catalog import LiveCatalog, sample_uniform_distinct
from recarena.simulators.creators.population import (
    VIABILITY_SIGNALS,
    CreatorParams,
    CreatorPopulation,
    NewItems,
    RoundFeedback,
    creator_params,
)
from recarena.simulators.creators.world import (
    CATALOG_COLUMNS,
    CREATOR_COLUMNS,
    CreatorRound,
    CreatorWorld,
    CreatorWorldSnapshot,
)

__all__ = ["CATALOG_COLUMNS", "CREATOR_COLUMNS", "VIABILITY_SIGNALS", "CreatorParams",
           "CreatorPopulation", "CreatorRound", "CreatorWorld", "CreatorWorldSnapshot",
           "LiveCatalog", "NewItems", "RoundFeedback", "creator_params",
           "sample_uniform_distinct"]
