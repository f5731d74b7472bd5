"""The scenario schema: defaults, --set overrides and a table of bad inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from recarena.errors import ConfigError
from recarena.scenarios import builtin_scenarios, load_scenario, parse_set, scenario_from_dict
from recarena.scenarios.runner import check_scenario

BASE = {"env": {"id": "recarena/Cascade-v0"}, "policies": [{"name": "random"}]}


def test_builtin_scenarios_validate_and_build() -> None:
    names = set(builtin_scenarios())
    assert {"quickstart", "filter-bubble", "long-term-retention", "cascade-bandits"} <= names
    for name in names:
        spec = load_scenario(name)
        facts = check_scenario(spec)  # env and every policy build
        assert facts["slate_size"] >= 1 and spec.description


def test_defaults_and_overrides(tmp_path: Path) -> None:
    spec = scenario_from_dict(BASE)
    assert spec.run.users == 256 and spec.run.seed_list() == [0, 1, 2]
    assert spec.baseline == "random" and spec.policies[0].registry_name == "random"
    f = tmp_path / "s.toml"
    f.write_text('[env]\nid = "recarena/Cascade-v0"\n[[policies]]\nname = "random"\n')
    spec = load_scenario(f, ["run.users=8", "run.seeds=[4, 9]", "policies.0.args={seed=3}",
                             'name="x y"'])
    assert spec.run.users == 8 and spec.run.seed_list() == [4, 9]
    assert spec.policies[0].args == {"seed": 3} and spec.name == "x y"
    assert parse_set("a.b=hello") == (["a", "b"], "hello")  # not TOML: a plain string


BAD = [
    ({"envv": {}}, "envv", "allowed keys: name, description, env, run, policies"),
    ({"run": {"userz": 3}}, "run.userz", "allowed keys: users, steps, until"),
    ({"run": {"users": 0}}, "run.users", "greater than or equal to 1"),
    ({"run": {"users": "many"}}, "run.users", "valid integer"),
    ({"run": {"until": "forever"}}, "run.until", "'steps' or 'first_episode'"),
    ({"run": {"seeds": [1, 1]}}, "run.seeds", "distinct"),
    ({"run": {"seeds": 0}}, "run.seeds", "between 1 and 10000"),
    ({"run": {"baseline": "nobody"}}, "run.baseline",
     "expected one of the policy names: random, received 'nobody' (str)"),
    ({"policies": []}, "policies", "at least 1"),
    ({"policies": [{"policy": "random"}]}, "policies.0.name", "required"),
    ({"policies": [{"name": "a b"}]}, "policies.0.name", "letters, digits"),
    ({"policies": [{"name": "r"}, {"name": "r"}]}, "policies", "repeated: r"),
    ({"report": {"metrics": ["ctr", "nope"]}}, "report.metrics", "unknown: 'nope'"),
    ({"run": {"userz": 3, "users": 0}}, "2 problems", "run.userz"),
    ({"policies": [{"name": "r", "argz": {}}]}, "policies.0.argz", "allowed keys: name, policy, args"),
    ({"run": {"days": 0}}, "run.days", "greater than 0"),
    ({"log": {"snapshot_every": -1}}, "log.snapshot_every", "greater than or equal to 0"),
    ({"report": {"plots": ["pie"]}}, "report.plots.0", "reward_over_time"),
    ({"env": {"id": "recarena/Cascade-v0", "module": "my envs"}}, "env.module",
     "a dotted Python module name"),
]


@pytest.mark.parametrize(("change", "path", "expected"), BAD)
def test_bad_scenario_values(change: dict, path: str, expected: str) -> None:
    data = {**BASE, "description": "A paragraph on the scenario.", **change}
    with pytest.raises(ConfigError) as err:
        scenario_from_dict(data)
    text = str(err.value)
    assert path in text and expected in text, text
    assert "A paragraph" not in text  # the value received, never the whole scenario


@pytest.mark.parametrize(("change", "expected"), [
    ({"env": {"id": "recarena/Nope-v0"}}, "env.id"),
    ({"env": {"id": "recarena/Cascade-v0", "config": {"slate_sise": 3}}}, "env.config"),
    ({"policies": [{"name": "x", "policy": "nope"}]}, "policies.0 (x)"),
    ({"policies": [{"name": "ucb1", "args": {"scope": "everyone"}}]}, "scope"),
    ({"env": {"id": "recarena/Cascade-v0", "config": {"shufle": False}}}, "shuffle"),
    ({"policies": [{"name": "random", "args": {"sed": 1}},
                   {"name": "ucb1", "args": {"scoop": 1, "exploraton": 2}}]},
     "2 problems.*'sed'.*'scoop', 'exploraton'"),
    ({"env": {"id": "recarena/InterestEvolution-v0"}, "policies": [{"name": "popular"}]},
     "catalog"),
    ({"env": {"id": "recarena/InterestEvolution-v0"}, "run": {"days": 7}}, "run.days"),
    ({"env": {"id": "recarena/ShortVideo-v0"}, "run": {"days": 7}}, "run.days"),
    ({"env": {"id": "recarena/Retention-v0", "config": {"horizon_days": 3}}, "run": {"days": 7}},
     "not both"),
    ({"env": {"id": "my/Env-v0", "module": "no_such_module_here"}},
     "env.module: expected an importable Python module (No module named"),
    ({"env": {"id": "my/Env-v0", "module": "json"}},
     "env.id: expected a registered id: .*, or an id that importing env.module 'json' registers"),
    ({"env": {"id": "Pendulum-v1", "module": "json"}}, "env.id: expected an id registered with "
                                                       "a vector_entry_point"),
    ({"env": {"id": "my/Env-v0"}}, "env.id: expected a registered id: recarena/"),
])
def test_bad_env_and_policy_fail_before_running(change: dict, expected: str) -> None:
    spec = scenario_from_dict({**BASE, **change})
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        check_scenario(spec)


def test_bad_files_and_sets(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="built-in scenario"):
        load_scenario("no-such-scenario")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [unclosed")
    with pytest.raises(ConfigError, match="valid TOML"):
        load_scenario(bad)
    with pytest.raises(ConfigError, match="key.path=value"):
        parse_set("no-equals-sign")
    with pytest.raises(ConfigError, match="an index below 4"):
        load_scenario("quickstart", ["policies.9.args={}"])
