"""The layers hold in the source and at run time.

Direction: simulators -> envs -> agents -> scenarios (each imports only those before it);
analysis reads event logs only, so it imports none of the four. The package root
(``import recarena``: registration and ``make``) counts as the envs layer. Leaves that
anything may import: ``recarena.errors``, ``recarena.validation``, ``recarena.inequality``,
``recarena.eventlog`` and ``recarena._lazy``. The command line (``recarena.cli``) sits on top.

At run time an import pulls in only what it uses: the package root registers the env ids
with Gymnasium (string entry points, no env code), so gymnasium is the one third-party
package every import pays for; nothing below loads pandas, scipy, torch, ray, openai,
pettingzoo or matplotlib unless it needs them.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ORDER = {"simulators": 0, "envs": 1, "agents": 2, "scenarios": 3}
LEAVES = {"errors", "validation", "inequality", "eventlog", "_lazy"}


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every absolute ``recarena.*`` import in a file, function-level ones included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            out += [(node.lineno, n) for n in names[:1]]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
    return [(line, name) for line, name in out if name.split(".")[0] == "recarena"]


def _violations(layer: str) -> list[str]:
    bad = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for line, name in _imports(path):
            parts = name.split(".")
            if len(parts) < 2:  # the root is registration and make(): the envs layer
                if layer in ("simulators", "analysis"):
                    bad.append(f"{path.relative_to(ROOT)}:{line} imports the package root")
                continue
            target = parts[1]
            if target in LEAVES or target == layer:
                continue
            if layer == "analysis":
                ok = target not in ORDER
            elif target == "analysis":
                ok = layer == "scenarios"  # the runner summarises its own logs
            else:
                ok = target in ORDER and ORDER[target] < ORDER[layer]
            if not ok:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return bad


@pytest.mark.parametrize("layer", ["simulators", "envs", "agents", "scenarios", "analysis"])
def test_source_imports_follow_the_layers(layer: str) -> None:
    assert not _violations(layer), "\n".join(_violations(layer))


def test_the_layer_check_catches_a_wrong_import(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "simulators").mkdir()
    (tmp_path / "simulators" / "x.py").write_text(
        "def f():\n    from recarena.envs.slate import SlateEnv\n")
    (tmp_path / "analysis").mkdir()
    (tmp_path / "analysis" / "y.py").write_text("import recarena.simulators.world\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _violations("simulators") == ["simulators/x.py:2 imports recarena.envs.slate"]
    assert _violations("analysis") == ["analysis/y.py:1 imports recarena.simulators.world"]


HEAVY = ("pandas", "scipy", "torch", "ray", "openai", "pettingzoo", "matplotlib", "pyarrow",
         "stable_baselines3", "pydantic")

#: module -> (recarena packages it may load, third-party packages it may load)
RUNTIME = {
    "recarena": ({"envs"}, {"gymnasium"}),
    "recarena.errors": ({"envs"}, {"gymnasium"}),
    "recarena.simulators": ({"envs", "simulators"}, {"gymnasium"}),
    "recarena.simulators.world": ({"envs", "simulators"}, {"gymnasium"}),
    "recarena.envs": ({"envs"}, {"gymnasium"}),
    "recarena.envs.slate": ({"envs", "simulators"}, {"gymnasium"}),
    "recarena.agents": ({"envs", "agents"}, {"gymnasium"}),
    "recarena.eventlog": ({"envs"}, {"gymnasium"}),
    "recarena.analysis": ({"envs", "analysis"}, {"gymnasium"}),
    "recarena.scenarios": ({"envs", "scenarios"}, {"gymnasium"}),
}


def _loaded(module: str) -> dict[str, list[str]]:
    code = (f"import json, sys; import {module}; "
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    mods = json.loads(out.stdout)
    return {"recarena": sorted({m.split(".")[1] for m in mods
                                if m.startswith("recarena.") and m.split(".")[1] not in LEAVES}),
            "third": sorted({m.split(".")[0] for m in mods} & set(HEAVY + ("gymnasium",)))}


@pytest.mark.parametrize("module", list(RUNTIME))
def test_an_import_loads_only_what_it_uses(module: str) -> None:
    allowed_layers, allowed_third = RUNTIME[module]
    got = _loaded(module)
    assert set(got["recarena"]) <= allowed_layers, f"{module} loads {got['recarena']}"
    assert set(got["third"]) <= allowed_third, f"{module} loads {got['third']}"


def test_analysis_loads_no_simulator() -> None:
    got = _loaded("recarena.analysis.diversity")
    assert set(got["recarena"]) <= {"envs", "analysis"}, got["recarena"]
    assert not set(got["third"]) & {"torch", "ray", "openai", "pettingzoo", "matplotlib"}
