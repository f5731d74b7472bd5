"""The runner: identical results for identical seeds, paired users across policies, the
same results in parallel and on Ray, and a killed run resumed to the uninterrupted result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from recarena.cli import main
from recarena.errors import ConfigError, RecArenaError
from recarena.eventlog import read_table
from recarena.scenarios import finalize, run_scenario, scenario_from_dict

CASCADE = {
    "name": "tiny-cascade",
    "env": {"id": "recarena/Cascade-v0", "config": {"shuffle": False}},
    "run": {"users": 16, "steps": 40, "seeds": 2},
    "policies": [{"name": "random"}, {"name": "kl", "policy": "cascade_kl_ucb",
                                      "args": {"scope": "shared"}},
                 {"name": "greedy_oracle"}],
    "log": {"candidates": True, "snapshot_every": 5},
    "report": {"plots": ["ctr_over_time", "cumulative_return", "retention", "lorenz",
                         "fairness_relevance"]},
}
IE = {
    "name": "tiny-ie",
    "env": {"id": "recarena/InterestEvolution-v0"},
    "run": {"users": 12, "steps": 30, "seeds": [3, 4]},
    "policies": [{"name": "random"}, {"name": "greedy_oracle"}],
    "report": {"plots": ["interest_entropy", "retention"]},
}


def test_same_seeds_give_identical_summary_and_log(tmp_path: Path) -> None:
    spec = scenario_from_dict(CASCADE)
    a = run_scenario(spec, out=tmp_path / "a", quiet=True)
    # the plots are drawn from summary.json and the log, which must match: not drawn twice
    b = run_scenario(spec, out=tmp_path / "b", quiet=True, report=False)
    assert (a / "summary.json").read_bytes() == (b / "summary.json").read_bytes()
    pd.testing.assert_frame_equal(read_table(a / "units"), read_table(b / "units"))
    # the run folder has everything the issue names
    for name in ("manifest.json", "metrics.parquet", "summary.json", "report.md"):
        assert (a / name).is_file()
    for plot in CASCADE["report"]["plots"]:
        assert (a / "plots" / f"{plot}.png").stat().st_size > 10_000
    report = (a / "report.md").read_text()
    assert "![fairness_relevance](plots/fairness_relevance.png)" in report
    manifest = json.loads((a / "manifest.json").read_text())
    assert manifest["seeds"] == [0, 1] and manifest["versions"]["numpy"]
    summary = json.loads((a / "summary.json").read_text())
    assert summary["policy_order"] == ["random", "kl", "greedy_oracle"]
    oracle = summary["policies"]["greedy_oracle"]
    # the oracle shows the most attractive items: NDCG 1, better CTR than random, and it
    # sits at the relevance end of the frontier (dpfr is its distance to the midpoint)
    assert oracle["ndcg"]["mean"] == pytest.approx(1.0)
    assert oracle["ctr"]["diff_vs_baseline"]["low"] > 0
    assert {"gini_our", "ent_our", "ii_f", "dpfr", "puf"} <= set(oracle)
    ev = read_table(a / "units")
    # every policy logs what it knows: 1/C per position for random, 1 for the
    # deterministic oracle, exact random-tie values for the KL-UCB bandit
    assert (ev.loc[ev["policy"] == "random", "propensity"] == 1 / 16).all()
    assert (ev.loc[ev["policy"] == "greedy_oracle", "propensity"] == 1.0).all()
    assert ev.loc[ev["policy"] == "kl", "propensity"].between(0, 1, inclusive="right").all()


@pytest.fixture(scope="module")
def ie_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """IE run serially, once for the tests that read it or compare another backend with
    it (they do not change it)."""
    return run_scenario(scenario_from_dict(IE), out=tmp_path_factory.mktemp("ie") / "run",
                        quiet=True, report=False)


def test_different_seeds_differ_and_policies_share_users(ie_run: Path) -> None:
    run = ie_run
    snaps = read_table(run / "units", "snapshots")
    first = snaps[snaps["step"] == 0]
    cols = [c for c in first.columns if c.startswith("oracle_interest_")]
    by = {(s, p): g[cols].to_numpy() for (s, p), g in first.groupby(["seed", "policy"])}
    # common random numbers: within a seed both policies start from the same users
    assert (by[(3, "random")] == by[(3, "greedy_oracle")]).all()
    assert not (by[(3, "random")] == by[(4, "random")]).all()
    ev = read_table(run / "units", "impressions")
    cand = ev[ev["step"] == 0].groupby(["seed", "policy"])["oracle_ideal_relevance"].sum()
    assert cand[(3, "random")] == cand[(3, "greedy_oracle")]  # same candidates shown to choose from


def test_workers_give_the_same_summary(ie_run: Path, tmp_path: Path) -> None:
    b = run_scenario(scenario_from_dict(IE), out=tmp_path / "b", workers=2, quiet=True,
                     report=False)
    assert (ie_run / "summary.json").read_bytes() == (b / "summary.json").read_bytes()


def test_refuses_existing_folder_and_unfinished_finalize(tmp_path: Path) -> None:
    spec = scenario_from_dict(IE)
    run = run_scenario(spec, out=tmp_path / "r", quiet=True, report=False)
    with pytest.raises(ConfigError, match="--resume"):
        run_scenario(spec, out=run, quiet=True)
    unit = run / "units" / "seed3-random" / "unit.json"
    unit.unlink()
    with pytest.raises(RecArenaError, match="--resume"):
        finalize(run)
    run_scenario(resume=run, quiet=True, report=False)  # reruns the one missing unit
    assert unit.is_file()


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "recarena.cli", *args]


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    """SIGKILL a real `recarena run` (a subprocess) after its first unit, resume it, compare
    with an uninterrupted run (both through the CLI, in this process). A unit takes 0.3 to
    0.5 s here, so the kill, within a 0.05 s poll of the first unit's end, lands mid-run."""
    scen = tmp_path / "s.toml"
    scen.write_text(
        'name = "kill"\n[env]\nid = "recarena/InterestEvolution-v0"\n'
        "[run]\nusers = 128\nsteps = 150\nseeds = 3\n"
        '[[policies]]\nname = "random"\n[[policies]]\nname = "greedy_oracle"\n'
        "[report]\nplots = []\n")
    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_cli("run", str(scen), "--out", str(killed), "--quiet"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and not list(killed.glob("units/*/unit.json")):
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = list(killed.glob("units/*/unit.json"))
    assert 1 <= len(finished) < 6, "the kill should land mid-run"
    assert not (killed / "summary.json").exists()
    assert main(["run", "--resume", str(killed), "--quiet"]) == 0
    whole = tmp_path / "whole"
    assert main(["run", str(scen), "--out", str(whole), "--quiet"]) == 0
    assert (killed / "summary.json").read_bytes() == (whole / "summary.json").read_bytes()


@pytest.mark.slow
def test_ray_backend_matches_processes(ie_run: Path, tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    spec = scenario_from_dict(IE)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        a = run_scenario(spec, out=tmp_path / "ray", backend="ray", workers=2, quiet=True,
                         report=False)
    finally:
        ray.shutdown()
    assert (a / "summary.json").read_bytes() == (ie_run / "summary.json").read_bytes()


# ------------------------------------------------------------------ workers die with the run
def _proc_table() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, state, start time) of every process, from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        rest = text[text.rindex(")") + 2:].split()  # after "pid (comm) "
        table[int(entry.name)] = (int(rest[1]), rest[0], rest[19])
    return table


def _descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid``: pid -> start time (to tell a reused pid apart)."""
    table = _proc_table()
    out: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, _, start) in table.items():
            if ppid == parent and child not in out:
                out[child] = start
                frontier.append(child)
    return out


def _alive(pids: dict[int, str]) -> list[int]:
    table = _proc_table()
    return [p for p, start in pids.items()
            if p in table and table[p][2] == start and table[p][1] not in "ZX"]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_killed_run_leaves_no_worker_behind(tmp_path: Path) -> None:
    """SIGKILL a `recarena run --workers 2` while both workers run units: the workers and
    multiprocessing's resource tracker end within seconds instead of running on as orphans."""
    scen = tmp_path / "s.toml"
    scen.write_text(
        'name = "orphans"\n[env]\nid = "recarena/InterestEvolution-v0"\n'
        "[run]\nusers = 64\nsteps = 100000\nseeds = 2\n"  # units far longer than the test
        '[[policies]]\nname = "random"\n[report]\nplots = []\n')
    run = tmp_path / "run"
    proc = subprocess.Popen(_cli("run", str(scen), "--out", str(run), "--workers", "2",
                                 "--quiet"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    children: dict[int, str] = {}
    try:
        deadline = time.time() + 90
        while time.time() < deadline and len(list(run.glob("units/*"))) < 2:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.05)
        assert len(list(run.glob("units/*"))) == 2, "both workers should be running a unit"
        children = _descendants(proc.pid)
        assert len(children) >= 2, children  # two workers (and the resource tracker)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 10
        while _alive(children) and time.time() < deadline:
            time.sleep(0.1)
        assert not _alive(children), f"left running after the run was killed: {_alive(children)}"
    finally:
        proc.kill()
        for pid in _alive(children):  # never leave orphans behind, even when the test fails
            os.kill(pid, signal.SIGKILL)
