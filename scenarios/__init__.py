"""Scenarios: the TOML schema (:mod:`~recarena.scenarios.spec`), the runner
(:mod:`~recarena.scenarios.runner`) and the built-in scenarios in ``builtin/*.toml``
(``recarena list scenarios``)."""

from recarena.scenarios.runner import finalize, run_scenario, run_unit
from recarena.scenarios.spec import (
    Scenario,
    builtin_scenarios,
    describe_schema,
    load_scenario,
    parse_set,
    scenario_from_dict,
)

__all__ = ["Scenario", "builtin_scenarios", "describe_schema", "finalize", "load_scenario",
           "parse_set", "run_scenario", "run_unit", "scenario_from_dict"]
