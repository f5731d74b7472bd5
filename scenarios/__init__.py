"""Scenarios: the TOML schema (:mod:`~recarena.scenarios.spec`), the runner
(:mod:`~recarena.scenarios.runner`) and the built-in scenarios in ``builtin/*.toml``
(``recarena list scenarios``)."""

from recarena._lazy import lazy_exports

_EXPORTS = {
    "Scenario": ".spec",
    "builtin_scenarios": ".spec",
    "describe_schema": ".spec",
    "finalize": ".runner",
    "load_scenario": ".spec",
    "parse_set": ".spec",
    "run_scenario": ".runner",
    "run_unit": ".runner",
    "scenario_from_dict": ".spec",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
