"""Metrics and plots computed from event logs (:mod:`recarena.eventlog`), never from
simulator objects: engagement, long-term outcomes, diversity and filter bubbles, fairness,
confidence intervals across seeds, creator-side outcomes (survival, inequality,
catalog diversity), and the run report."""

from recarena._lazy import lazy_exports

_EXPORTS = {
    "METRICS": ".summary",
    "aggregate": ".summary",
    "creators": ".creators",
    "diversity": ".diversity",
    "engagement": ".engagement",
    "fairness": ".fairness",
    "long_term": ".long_term",
    "stats": ".stats",
    "unit_metrics": ".summary",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
