"""What the command line prints: --version, show (a built-in scenario to edit), list (env
descriptions, which envs each policy fits), tables that fit the terminal and promise a Δ
only where they show one, the wall time of a resumed run, and validate's per-target
verdicts."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import recarena
from recarena.analysis.tables import format_table
from recarena.cli import fidelity_targets, main
from recarena.scenarios import builtin_scenarios

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--set", "run.users=8", "--set", "run.steps=5", "--seeds", "1", "--quiet"]


def test_version() -> None:
    out = subprocess.run([sys.executable, "-m", "recarena.cli", "--version"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == f"recarena {recarena.__version__}"


def test_show_then_run_the_copy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "quickstart"]) == 0
    text = capsys.readouterr().out
    assert text == builtin_scenarios()["quickstart"].read_text()
    mine = tmp_path / "my.toml"
    mine.write_text(text)  # recarena show quickstart > my.toml
    assert main(["run", str(mine), *TINY, "--out", str(tmp_path / "run")]) == 0
    assert "quickstart on recarena/InterestEvolution-v0: 8 users x 5 steps" in capsys.readouterr().out


def test_list_describes_envs_and_where_policies_fit(capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import gymnasium as gym

    from recarena.agents import list_policies

    # the lines wrap to the terminal; this is the width recarena uses without one
    # (pytest-xdist workers and 80-column terminals set COLUMNS=80)
    monkeypatch.setenv("COLUMNS", "100")
    t0 = time.perf_counter()
    assert main(["list"]) == 0
    elapsed = time.perf_counter() - t0
    out = capsys.readouterr().out
    lines = out.splitlines()
    for env_id in recarena.list_envs():  # every env with a one-line description
        line = next(x for x in lines if x.strip().startswith(env_id))
        assert len(line.split(maxsplit=1)[1]) > 10, line
    assert "cascading bandit (Kveton et al. 2015)" in out

    def fits(policy: str) -> str:
        i = next(i for i, x in enumerate(lines) if x.strip().startswith(policy + " "))
        return next(x for x in lines[i + 1:] if "fits:" in x)

    assert "Cascade-v0" in fits("cascade_kl_ucb") and "InterestEvolution" not in fits("cascade_kl_ucb")
    assert "every env" in fits("random") and "InterestEvolution-v0" in fits("linucb")
    assert "argument(s) key" in fits("feature_sort")
    # which reference policies fit which env: what their build-time checks say (issue 17)
    assert "LongTermSatisfaction" not in fits("quality_oracle")
    assert "ShortVideo" not in fits("quality_bonus_oracle")
    assert all(e in fits("quality_oracle") for e in ("Retention-v0", "Slate-v0", "MovieLens-v0"))
    start = next(i for i, x in enumerate(lines) if x.startswith("reference policies by env"))
    by_env = {x.split()[0]: x.split(maxsplit=1)[1] for x in lines[start + 2:start + 2 + len(
        recarena.list_envs())]}
    for env_id in recarena.list_envs():
        env = gym.make(env_id)
        for entry in (e for e in list_policies() if getattr(e.cls, "is_oracle", False)):
            row = by_env[env_id.removeprefix("recarena/")].replace(",", " ").split()
            assert (entry.name in row) == entry.cls.fits(env), (entry.name, env_id)
    assert by_env["LongTermSatisfaction-v0"] == "greedy_oracle"
    assert by_env["Retention-v0"] == "greedy_oracle, quality_bonus_oracle, quality_oracle"
    assert "ctr" in out and "metrics (" in out
    assert elapsed < 20, elapsed  # about 2 s on an idle machine


# ------------------------------------------------------------------ tables
def _summary(policies: list[str], metrics: int, diffs: bool = True) -> dict:
    names = [f"metric_number_{i}" for i in range(metrics)]
    out = {"baseline": policies[0], "policy_order": policies,
           "metric_descriptions": {m: m for m in names},
           "higher_is_better": {m: True for m in names}, "policies": {}}
    for j, p in enumerate(policies):
        out["policies"][p] = {}
        for i, m in enumerate(names):
            e = {"mean": 1.0 + i + j, "low": 0.5 + i + j, "high": 1.5 + i + j, "n": 3}
            if diffs and j:
                e["diff_vs_baseline"] = {"mean": float(j), "low": j - 0.25, "high": j + 0.25}
            out["policies"][p][m] = e
    return out


@pytest.mark.parametrize("width", [60, 80, 120, 200])
def test_text_table_fits_the_width_and_shows_every_cell(width: int) -> None:
    pols = ["random", "linucb_with_a_long_label", "greedy_oracle", "quality_oracle"]
    text = format_table(_summary(pols, 6), markdown=False, width=width)
    widest = max(len(x) for x in text.splitlines())
    assert widest <= width or width < 70, (widest, text)  # 60: one policy per block at least
    for p in pols:
        assert p in text
    assert text.count("Δ vs random") == 3  # one Δ column per non-baseline policy
    assert "+3.000 ± 0.250" in text and "4.000 ± 0.500" in text


def test_delta_is_promised_only_where_shown() -> None:
    s = _summary(["a", "b"], 2, diffs=False)
    assert "Δ" not in format_table(s, markdown=False, width=100)
    assert "Δ" not in format_table(s, markdown=True)
    md = format_table(_summary(["a", "b"], 2), markdown=True)
    assert "| b (Δ vs a) |" in md and "(+1.000 [0.750, 1.250])" in md


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("cli-output")
    scen = root / "s.toml"
    scen.write_text('name = "out"\n[env]\nid = "recarena/Cascade-v0"\n[run]\nusers = 8\n'
                    'steps = 5\nseeds = 2\n[[policies]]\nname = "random"\n[[policies]]\n'
                    'name = "greedy_oracle"\n[report]\nplots = []\n')
    a, b, c = root / "a", root / "b", root / "c"
    assert main(["run", str(scen), "--out", str(a), "--quiet"]) == 0
    assert main(["run", str(scen), "--out", str(b), "--quiet", "--set",
                 'policies.0.args={seed=7}']) == 0
    assert main(["run", str(scen), "--out", str(c), "--quiet", "--set", "run.users=6"]) == 0
    return a, b, c


def test_compare_pairs_runs_that_share_users(two_runs: tuple[Path, Path, Path],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    a, b, c = two_runs
    capsys.readouterr()
    assert main(["compare", str(a), str(b), "--metric", "ctr"]) == 0
    out = capsys.readouterr().out
    assert "Δ vs a/random" in out and "paired by seed across runs" in out
    assert main(["compare", str(a), str(b), "--metric", "ctr", "--markdown"]) == 0
    header, _, row = capsys.readouterr().out.splitlines()[:3]
    assert header.split(" | ")[1:] == ["a/random", "a/greedy_oracle (Δ vs a/random)",
                                       "b/random (Δ vs a/random)",
                                       "b/greedy_oracle (Δ vs a/random) |"]
    # the greedy oracle ignores the random policy's seed: the same units in both runs, so the
    # same mean and the same paired difference to a/random
    cells = row.split(" | ")
    assert cells[2] == cells[4].removesuffix(" |") and "[" in cells[2]
    assert main(["compare", str(a), str(c), "--metric", "ctr"]) == 0
    out = capsys.readouterr().out
    assert "Δ" not in out.split("(no Δ")[0] and "not paired" in out  # users differ: no Δ


def test_resumed_run_reports_every_attempt(two_runs: tuple[Path, Path, Path], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    shutil.copytree(two_runs[0], run)
    first = json.loads((run / "manifest.json").read_text())
    assert len(first["wall_s_parts"]) == 1 and first["wall_s"] == first["wall_s_parts"][0]
    (run / "units" / "seed1-random" / "unit.json").unlink()
    (run / "summary.json").unlink()
    capsys.readouterr()
    assert main(["run", "--resume", str(run), "--quiet"]) == 0
    out = capsys.readouterr().out
    m = json.loads((run / "manifest.json").read_text())
    assert len(m["wall_s_parts"]) == 2 and m["wall_s_parts"][0] == first["wall_s"]
    assert m["wall_s"] == pytest.approx(sum(m["wall_s_parts"]), abs=1e-3)
    assert "over 2 attempts" in out


# ------------------------------------------------------------------ validate movielens
RESULT = {
    "ranking": [{"scorer": "simulator", "auc": 0.887, "recall@10": 0.120, "users": 610},
                {"scorer": "most popular", "auc": 0.862, "recall@10": 0.082, "users": 610}],
    "distributions": {"item_popularity_ks": 0.468, "item_popularity_spearman": 0.272,
                      "gini_simulated": 0.767, "gini_real": 0.717, "user_activity_ks": 0.136},
    "position": {"p_value": 0.273},
}


def test_validate_reports_each_target() -> None:
    verdicts = {t["name"]: t["met"] for t in fidelity_targets(RESULT)}
    assert verdicts == {
        "simulator AUC > most popular": True, "simulator recall@10 > most popular": True,
        "item popularity KS <= 0.2": False, "item popularity Spearman >= 0.5": False,
        "item popularity Gini gap <= 0.1": True, "user activity KS <= 0.2": True,
        "position clicks chi2 p >= 0.05": True}
    no_sim = {k: v for k, v in RESULT.items() if k != "distributions"}
    assert [t["group"] for t in fidelity_targets(no_sim)] == ["ranking", "ranking", "position"]


def test_validate_prints_the_table_and_writes_the_verdicts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import recarena.cli as cli

    def fake(data: str | None = None, obd: str | None = None, seed: int = 0) -> dict:
        res = {"dataset": "fake", "fit": {
            "inverse_temperature": 2.9, "inverse_temperature_se": 0.04, "popularity_weight": 0.7,
            "popularity_weight_se": 0.01, "no_click_utility_assumed": 2.3,
            "activity_lognormal": [4.2, 1.0],
            "settings": {"choice_events": 100, "no_click_quantile": 0.9}},
            **RESULT}
        res["distributions"] = RESULT["distributions"] | {
            "activity_median_simulated": 58, "activity_median_real": 70}
        res["position"] = {"table": [], "chi2": 2.6, "p_value": 0.273, "fit_rows": 1,
                           "heldout_rows": 1}
        res["targets"] = fidelity_targets(res)
        res["target_met"] = True
        res["all_targets_met"] = all(t["met"] for t in res["targets"])
        return res

    monkeypatch.setattr(cli, "validate_movielens", fake)
    out_json = tmp_path / "v.json"
    assert main(["validate", "movielens", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "targets: 5 of 7 met" in out and "target met" not in out
    row = next(x for x in out.splitlines() if "item popularity KS" in x)
    assert "0.468" in row and "0.200" in row and row.rstrip().endswith("NOT met")
    saved = json.loads(out_json.read_text())
    assert {t["name"]: t["met"] for t in saved["targets"]}["item popularity KS <= 0.2"] is False
    assert saved["all_targets_met"] is False


# ------------------------------------------------------------------ packaging
@pytest.mark.slow
def test_build_prints_no_package_would_be_ignored(tmp_path: Path) -> None:
    """Data folders are declared, so building (and `make run`'s install) is quiet."""
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
        ".ruff_cache", "runs"))
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                          "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "would be ignored" not in out.stdout + out.stderr
