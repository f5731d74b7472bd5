"""Scenario runs with LLM-played users, through the command line, against the scripted
OpenAI-compatible server: an end-to-end run, replay from the cache, a run stopped by its
budget and resumed with a larger one, ``--dry-run``, and no key on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from recarena.cli import main
from recarena.eventlog import read_table
from tests.llm.conftest import FAKE_KEY
from tests.llm.fake_openai import FakeOpenAI

pytest.importorskip("openai")  # the LLM backend's client (the recarena[llm] extra)

SCENARIO = """
name = "llm-test"
[env]
id = "recarena/MovieLens-v0"
config = {{ users = "llm" }}
[run]
users = 3
steps = 3
seeds = 1
[[policies]]
name = "random"
[[policies]]
name = "greedy_oracle"
[log]
snapshot_every = 0
[report]
plots = []
[llm]
local = false
base_url = "{url}"
model = "fake-model"
api_key_env = "RECARENA_TEST_KEY"
max_retries = 0
timeout = 5
"""
UNITS = ("seed0-random", "seed0-greedy_oracle")


@pytest.fixture(scope="module")
def server() -> FakeOpenAI:
    with FakeOpenAI() as srv:
        srv.api_key = FAKE_KEY  # a request without this key gets 401
        yield srv


@pytest.fixture
def scenario(server: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RECARENA_TEST_KEY", FAKE_KEY)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    server.reset()
    server.api_key = FAKE_KEY
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO.format(url=server.url))
    return path


def _logs(run: Path) -> dict[str, pd.DataFrame]:
    return {u: read_table(run / "units" / u, "impressions") for u in UNITS}


def _same_logs(a: Path, b: Path) -> None:
    """Equal event logs, every column (a reply replayed from the cache is logged as the
    LLM's decision it is; cache hits are counted in the run's usage)."""
    la, lb = _logs(a), _logs(b)
    for u in UNITS:
        pd.testing.assert_frame_equal(la[u], lb[u])


def _no_key_on_disk(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            assert FAKE_KEY.encode() not in path.read_bytes(), path


def test_run_replay_and_no_key(scenario: Path, server: FakeOpenAI, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(["run", str(scenario), "--out", str(run), "--quiet"]) == 0
    out = capsys.readouterr().out
    decisions = 2 * 3 * 3  # units x users x steps, every row asks every step
    manifest = json.loads((run / "manifest.json").read_text())
    usage = manifest["llm"]["usage"]
    # one probe, then one request per decision not already in the cache (the two
    # policies may show a user the same slate: the second asks nothing)
    assert usage["decisions"] == decisions == usage["llm"] + usage["cache_hits"]
    assert usage["fallbacks"] == 0 and server.count == usage["requests"] == usage["llm"] + 1
    assert json.loads((run / "summary.json").read_text())["llm_usage"] == usage
    assert f"LLM {usage['requests']} req" in out
    assert manifest["llm"]["config"]["api_key"] == "set"
    assert manifest["scenario"]["llm"]["api_key_env"] == "RECARENA_TEST_KEY"
    logs = _logs(run)
    for u in UNITS:
        assert set(logs[u]["decided_by"]) == {"llm"}
        assert logs[u]["step"].max() == 2
    _no_key_on_disk(run)

    # a rerun on the same cache: the same logs, nothing sent but the probe
    sent = server.count
    again = tmp_path / "again"
    assert main(["run", str(scenario), "--out", str(again), "--quiet",
                 "--set", f"llm.cache={run / 'llm_cache.sqlite'}"]) == 0
    assert server.count == sent + 1
    replay = json.loads((again / "manifest.json").read_text())["llm"]["usage"]
    assert replay["cache_hits"] == decisions and replay["llm"] == 0
    _same_logs(run, again)
    for u in UNITS:
        assert set(_logs(again)[u]["decided_by"]) == {"llm"}


def test_budget_stop_and_resume(scenario: Path, server: FakeOpenAI, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    full = tmp_path / "full"
    assert main(["run", str(scenario), "--out", str(full), "--quiet"]) == 0
    spent = json.loads((full / "manifest.json").read_text())["llm"]["usage"]["total_tokens"]
    capsys.readouterr()

    run = tmp_path / "run"
    budget = spent // 2
    rc = main(["run", str(scenario), "--out", str(run), "--quiet",
               "--set", f"llm.max_total_tokens={budget}"])
    err = capsys.readouterr().err
    assert rc == 1, err
    assert "budget is spent" in err and f"recarena run --resume {run}" in err
    assert "Traceback" not in err and err.count("\n") == 1
    manifest = json.loads((run / "manifest.json").read_text())
    assert 0 < manifest["llm"]["usage"]["total_tokens"] <= budget
    finished = [u for u in UNITS if (run / "units" / u / "unit.json").is_file()]
    assert len(finished) < len(UNITS)  # stopped inside the run
    assert any((run / "units" / u).is_dir() for u in UNITS if u not in finished)  # kept

    # the same budget again: nothing new fits; the cache is still served
    assert main(["run", "--resume", str(run), "--quiet"]) == 1
    capsys.readouterr()
    # a larger budget finishes the run, from the cache where it can
    assert main(["run", "--resume", str(run), "--quiet",
                 "--set", f"llm.max_total_tokens={4 * spent}"]) == 0
    capsys.readouterr()
    _same_logs(full, run)
    llm = json.loads((run / "manifest.json").read_text())["llm"]
    usage = llm["usage"]
    assert usage["total_tokens"] <= 4 * spent
    # the run's usage: its finished units, plus what was spent outside them (three probes
    # and the unit the budget stopped, counted once when the next attempt redid it)
    units = [json.loads((run / "units" / u / "unit.json").read_text())["llm"] for u in UNITS]
    assert llm["outside_units"]["requests"] > 3
    for key in ("requests", "prompt_tokens", "completion_tokens", "cache_hits"):
        assert usage[key] == llm["outside_units"][key] + sum(x[key] for x in units), key
    for u, x in zip(UNITS, units, strict=True):  # each unit's file: its own final usage
        assert json.loads((run / "units" / u / "llm_usage.json").read_text()) == x
    summary = json.loads((run / "summary.json").read_text())
    assert summary["policies"] == json.loads((full / "summary.json").read_text())["policies"]
    _no_key_on_disk(run)


def test_dry_run_sends_nothing(scenario: Path, server: FakeOpenAI, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(scenario), "--dry-run", "--set", "llm.max_cost=1",
                 "--set", "llm.prices={fake-model=[1.0, 2.0]}"]) == 0
    out = capsys.readouterr().out
    assert server.count == 0 and not (tmp_path / "runs").exists()
    lines = dict(line.strip().split("  ", 1) for line in out.splitlines()[1:])
    assert lines["requests"].strip().startswith("18 (18 user decisions, 0 reflections, 0 creator")
    assert "from 9 real prompts" in lines["prompt tokens"]
    assert "typical" in lines["cost"] and "$" in lines["cost"]
    assert "max_cost $1" in lines["budget"]
    # the cost is the token counts at the given prices
    prompt = int(lines["prompt tokens"].split()[0].replace(",", ""))
    completion_max = int(lines["completion tokens"].split(", ")[1].split()[0].replace(",", ""))
    top = float(lines["cost"].split(", $")[1].split()[0].replace(",", ""))
    assert top == pytest.approx((prompt * 1.0 + completion_max * 2.0) / 1e6, abs=1e-4)


def test_llm_creators_through_a_scenario(server: FakeOpenAI, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """``creators = "llm"`` runs through the same plumbing: the dry run counts the creator
    decisions the run then sends, and the creators table says who decided."""
    monkeypatch.setenv("RECARENA_TEST_KEY", FAKE_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    server.reset()
    server.api_key = FAKE_KEY
    text = (SCENARIO.format(url=server.url)
            .replace('id = "recarena/MovieLens-v0"', 'id = "recarena/CreatorEcosystem-v0"')
            .replace('users = "llm"', 'creators = "llm", round_length = 2, num_creators = 6')
            .replace("steps = 3", "steps = 4")
            .replace('[[policies]]\nname = "greedy_oracle"\n', ""))
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert main(["run", str(path), "--dry-run"]) == 0
    assert "creator decisions" in capsys.readouterr().out and server.count == 0
    run = tmp_path / "run"
    assert main(["run", str(path), "--out", str(run), "--quiet"]) == 0
    creators = read_table(run / "units" / "seed0-random", "creators")
    usage = json.loads((run / "manifest.json").read_text())["llm"]["usage"]
    asked = creators[creators["decided_by"] != "model"]
    assert len(asked) == usage["decisions"] > 0 and set(asked["decided_by"]) == {"llm"}
    assert server.count == usage["requests"] == usage["decisions"] + 1  # + the probe
    _no_key_on_disk(run)
