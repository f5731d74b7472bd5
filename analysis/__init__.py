"""Metrics and plots computed from event logs (:mod:`recarena.eventlog`), never from
simulator objects: engagement, long-term outcomes, diversity and filter bubbles, fairness,
confidence intervals across seeds, and the run report."""

from recarena.analysis import diversity, engagement, fairness, long_term, stats
from recarena.analysis.summary import METRICS, aggregate, unit_metrics

__all__ = ["METRICS", "aggregate", "diversity", "engagement", "fairness", "long_term", "stats",
           "unit_metrics"]
