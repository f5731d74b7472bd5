"""``recarena train``: the run folder, resume, the trained policy in a scenario, bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest

pytest.importorskip("torch")

from recarena.cli import main  # noqa: E402

IE = "recarena/InterestEvolution-v0"
SMALL = ["--users", "16", "--set", "num_steps=16", "--set", "hidden=16", "--eval-users", "20",
         "--references", "random,greedy_oracle", "--quiet"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "ppo"
    code = main(["train", IE, "--algo", "ppo", "--steps", "768", "--eval-every", "256",
                 "--out", str(out), *SMALL])
    assert code == 0
    return out


def test_run_folder_holds_curves_references_checkpoint_and_policy(run, capsys):
    for name in ("train.json", "progress.csv", "eval.csv", "references.csv",
                 "checkpoints/last.pt", "policy/policy.json", "policy/weights.pt",
                 "learning_curve.png"):
        assert (run / name).is_file(), name
    ev = pd.read_csv(run / "eval.csv")
    assert ev["global_step"].tolist() == [0, 256, 512, 768]
    assert (ev["low"] <= ev["return"]).all() and (ev["return"] <= ev["high"]).all()
    assert ev["vs_random"].iloc[1:].notna().all()
    refs = pd.read_csv(run / "references.csv")
    assert refs["policy"].tolist() == ["random", "greedy_oracle"]
    prog = pd.read_csv(run / "progress.csv")
    assert len(prog) == 3 and prog["global_step"].tolist() == [256, 512, 768]
    plan = json.loads((run / "train.json").read_text())["plan"]
    assert plan["settings"] == {"num_steps": 16, "hidden": 16} and plan["users"] == 16


def test_resume_continues_the_schedule(run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    plan = json.loads((copy / "train.json").read_text())
    plan["plan"]["steps"] = 1024
    (copy / "train.json").write_text(json.dumps(plan))
    assert main(["train", "--resume", str(copy), "--quiet"]) == 0
    prog = pd.read_csv(copy / "progress.csv")
    assert prog["global_step"].tolist() == [256, 512, 768, 1024]
    assert pd.read_csv(copy / "eval.csv")["global_step"].iloc[-1] == 1024


def test_trained_policy_runs_in_a_scenario(run, tmp_path):
    from recarena.scenarios import load_scenario, run_scenario

    toml = tmp_path / "s.toml"
    toml.write_text(f"""
name = "trained"
[env]
id = "{IE}"
[run]
users = 8
steps = 5
seeds = 1
[[policies]]
name = "random"
[[policies]]
name = "ppo"
policy = "checkpoint"
args = {{ path = "{run / 'policy'}" }}
""")
    out = run_scenario(load_scenario(toml), out=tmp_path / "r", quiet=True, report=False)
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["policies"]) == {"random", "ppo"}


@pytest.mark.parametrize("argv,message", [
    (["train", IE, "--algo", "a2c"], "--algo"),
    (["train", IE, "--steps", "0"], "--steps"),
    (["train", "recarena/Nope-v0", "--steps", "10"], "Nope-v0"),
    (["train", IE, "--set", "learning_rat=0.1", "--steps", "10"], "learning_rat"),
    (["train", "recarena/Cascade-v0", "--steps", "10"], "observe_history"),
    (["train"], "ENV"),
    (["train", "--resume", "/nonexistent/run"], "--resume"),
    (["train", "--resume", "/nonexistent/run", "--steps", "5"], "--steps"),
    (["train", IE, "--eval-mode", "best", "--steps", "10"], "--eval-mode"),
])
def test_bad_input_exits_2(argv, message, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path / "o"), "--quiet"]
                if "--resume" not in argv else argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_sampling_evaluations_play_the_slate_distribution(tmp_path):
    """``--eval-mode sampling``: eval.csv is the saved policy sampling its slates (not its
    top-K) on the evaluation users."""
    from recarena.agents import evaluate
    from recarena.agents.rl.policy import load_policy

    out = tmp_path / "s"
    assert main(["train", IE, "--steps", "256", "--eval-every", "256", "--eval-mode",
                 "sampling", "--out", str(out), *SMALL]) == 0
    assert json.loads((out / "train.json").read_text())["plan"]["eval_mode"] == "sampling"
    final = pd.read_csv(out / "eval.csv")["return"].iloc[-1]
    users = {"users": 20, "seed": 10_000}  # SMALL's --eval-users, seed 10,000 + 0
    sampled = evaluate(load_policy(out / "policy", deterministic=False), IE, **users)
    greedy = evaluate(load_policy(out / "policy"), IE, **users)
    assert final == pytest.approx(sampled["return"].mean())
    assert final != pytest.approx(greedy["return"].mean())


def test_checkpoint_for_another_env_is_refused_in_a_scenario(run):
    from recarena.agents import make_policy
    from recarena.errors import ConfigError

    with pytest.raises(ConfigError, match="InterestEvolution-v0"):
        make_policy("checkpoint", "recarena/Retention-v0", path=str(run / "policy"))
    with pytest.raises(ConfigError, match="path"):
        make_policy("checkpoint", IE)


def test_sb3_ppo_trains_with_mid_run_evaluations_and_checkpoints(tmp_path):
    pytest.importorskip("stable_baselines3")
    out = tmp_path / "sb3"
    code = main(["train", IE, "--algo", "sb3-ppo", "--steps", "256", "--eval-every", "128",
                 "--out", str(out), "--users", "8", "--set", "n_steps=16", "--set", "hidden=16",
                 "--eval-users", "10", "--references", "random", "--quiet"])
    assert code == 0
    assert pd.read_csv(out / "eval.csv")["global_step"].tolist() == [0, 128, 256]
    assert (out / "checkpoints" / "last.pt").is_file() and (out / "policy" / "policy.json").is_file()
