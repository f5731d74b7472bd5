"""``recarena train``: train an RL agent on an env, evaluate it against references as it
learns, and keep everything in one run folder.

A training run folder holds:

* ``train.json``: what was asked (env id and arguments, algorithm, its settings, steps,
  users, seed, evaluation plan) and recarena's version; ``--resume`` reads it back;
* ``progress.csv``: one row per update (env steps, wall time, training episode return,
  losses, entropy, KL, steps/s);
* ``eval.csv``: the periodic paired evaluations: every ``eval_every`` env steps the
  policy (greedy top-K; sampling slates with ``--eval-mode sampling``, for envs such as
  Cascade-v0 where the learned strategy explores by sampling) plays ``eval_users`` held-out
  users (evaluation seed ``10_000 + seed``;
  the same users for every evaluation and every reference), with the mean return, its
  95% CI, and the paired difference to random with its CI; the references (random and
  the env's reference policies that fit it) are evaluated once on the same users;
* ``checkpoints/last.pt``: the trainer's full state (network, optimiser, normalisers,
  random streams, the env's users), written after every evaluation: a killed run resumes
  from it with ``recarena train --resume DIR`` and continues the same schedule;
* ``policy/``: the trained policy (``policy.json`` + ``weights.pt``), loadable with
  :func:`recarena.agents.rl.policy.load_policy` and usable in a scenario
  (``policy = "checkpoint"``, ``args = {path = "DIR/policy"}``);
* ``learning_curve.png``: evaluation return against env steps with its CI band, the
  references as horizontal bands, and the training episodes' mean return;
* ``tensorboard/`` when TensorBoard is installed.
"""

from __future__ import annotations

import csv
import importlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from recarena.errors import ConfigError
from recarena.validation import check_int

__all__ = ["ALGORITHMS", "TrainPlan", "train"]

#: algorithm name -> (module, trainer class, config class or None for a dict of settings)
ALGORITHMS: dict[str, tuple[str, str, str | None]] = {
    "ppo": ("recarena.agents.rl.ppo", "PPOTrainer", "PPOConfig"),
    "slateq": ("recarena.agents.rl.slateq", "SlateQTrainer", "SlateQConfig"),
    "sb3-ppo": ("recarena.agents.rl.sb3", "SB3PPOTrainer", None),
    "sb3-dqn": ("recarena.agents.rl.sb3", "SB3DQNTrainer", None),
}

EVAL_SEED_OFFSET = 10_000
#: a checkpoint at least this often (seconds), besides the one at every evaluation
CHECKPOINT_SECONDS = 300.0


@dataclass
class TrainPlan:
    """What ``recarena train`` was asked to do (``train.json``)."""

    env: str
    algo: str
    steps: int
    users: int | None = None
    seed: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    eval_every: int = 0
    eval_users: int = 500
    references: list[str] | None = None
    time_limit: float | None = None
    #: how the evaluations play the policy: ``greedy`` (top-K) or ``sampling``
    eval_mode: str = "greedy"

    def check(self) -> TrainPlan:
        if self.algo not in ALGORITHMS:
            raise ConfigError("--algo", self.algo, "one of " + ", ".join(ALGORITHMS))
        self.steps = check_int(self.steps, "--steps", 1)
        if self.users is not None:
            self.users = check_int(self.users, "--users", 1)
        self.seed = check_int(self.seed, "--seed", 0)
        self.eval_every = check_int(self.eval_every, "--eval-every", 0)
        self.eval_users = check_int(self.eval_users, "--eval-users", 2)
        if self.eval_mode not in ("greedy", "sampling"):
            raise ConfigError("--eval-mode", self.eval_mode, "'greedy' or 'sampling'")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ConfigError("--time-limit", self.time_limit, "a positive number of seconds")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _trainer(plan: TrainPlan) -> Any:
    import gymnasium as gym

    import recarena  # noqa: F401  (registers the ids)

    module, cls_name, cfg_name = ALGORITHMS[plan.algo]
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in ("torch", "stable_baselines3"):
            raise
        raise ConfigError("--algo", plan.algo, f"an algorithm whose dependencies are installed "
                          f"({exc}; pip install 'recarena[rl]')") from None
    if plan.env not in gym.registry:
        from recarena.errors import UnknownEnvError

        raise UnknownEnvError(f"unknown env id {plan.env!r}; `recarena list envs` names them")
    cls = getattr(mod, cls_name)
    # --users given: it sets num_envs; otherwise the algorithm's own default
    settings = dict(plan.settings) | {"seed": plan.seed}
    if plan.users is not None:
        settings["num_envs"] = plan.users
    config: Any = settings if cfg_name is None else getattr(mod, cfg_name).from_dict(settings)
    return cls(plan.env, config, env_kwargs=plan.env_kwargs)


def reference_policies(env_id: str, env_kwargs: dict[str, Any], names: list[str] | None) -> dict[str, Any]:
    """The references a trained agent is compared with: ``random`` and every oracle
    reference (registry ``needs`` containing "oracle") that fits the env, or the ``names``
    given (any registered policy; learners such as ``cascade_kl_ucb`` learn during their
    evaluation, as in :func:`~recarena.agents.evaluate`)."""
    import gymnasium as gym

    from recarena.agents import make_policy
    from recarena.agents.registry import list_policies

    env = gym.make(env_id, **env_kwargs)
    try:
        if names is None:
            names = ["random"] + [e.name for e in list_policies() if "oracle" in e.needs]
            strict = False
        else:
            strict = True
        out = {}
        for name in names:
            try:
                out[name] = make_policy(name, env)
            except ConfigError:
                if strict:
                    raise
        return out
    finally:
        env.close()


def _evaluate(policy: Any, plan: TrainPlan) -> np.ndarray:
    from recarena.agents import evaluate

    df = evaluate(policy, plan.env, users=plan.eval_users, seed=EVAL_SEED_OFFSET + plan.seed,
                  env_kwargs=plan.env_kwargs)
    return df["return"].to_numpy(np.float64)


def _ci(x: np.ndarray) -> tuple[float, float, float]:
    from recarena.analysis.stats import mean_ci

    m = mean_ci(x)
    return float(m["mean"]), float(m["low"]), float(m["high"])


class _Run:
    """The files of one training run."""

    def __init__(self, out: Path, plan: TrainPlan, resume: bool) -> None:
        self.out, self.plan = out, plan
        self.ckpt = out / "checkpoints" / "last.pt"
        self.refs: dict[str, np.ndarray] = {}
        self.evals: list[dict[str, Any]] = []
        if resume and (out / "eval.csv").is_file():
            with open(out / "eval.csv", newline="") as f:
                self.evals = [{k: _num(v) for k, v in row.items()} for row in csv.DictReader(f)]
        self.tb = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(out / "tensorboard"))
        except ImportError:  # TensorBoard is optional
            pass

    def write_progress(self, history: list[dict[str, Any]]) -> None:
        if not history:
            return
        _write_csv(self.out / "progress.csv", history)

    def write_evals(self) -> None:
        _write_csv(self.out / "eval.csv", self.evals)


def _num(v: str) -> Any:
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(".tmp")
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, keys)
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def train(plan: TrainPlan | None = None, out: str | os.PathLike[str] | None = None,
          resume: str | os.PathLike[str] | None = None, quiet: bool = False) -> Path:
    """Train as ``plan`` says into folder ``out`` (or finish the run in ``resume``);
    returns the run folder. See the module docstring for what it holds."""
    import torch

    if resume is not None:
        out_dir = Path(resume)
        if not (out_dir / "train.json").is_file():
            raise ConfigError("--resume", str(resume), "a training run folder (with train.json)")
        try:
            plan = TrainPlan(**json.loads((out_dir / "train.json").read_text())["plan"]).check()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError("--resume", str(out_dir / "train.json"),
                              f"a train.json written by recarena train ({exc})") from None
    else:
        if plan is None:
            raise ConfigError("train plan", None, "a TrainPlan")
        plan = plan.check()
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        out_dir = Path(out) if out is not None else Path("runs") / \
            f"train-{plan.env.split('/')[-1]}-{plan.algo}-{stamp}"
        if out_dir.exists() and any(out_dir.iterdir()):
            raise ConfigError("--out", str(out_dir), "a new or empty folder (use --resume to "
                              "continue a run)")
    trainer = _trainer(plan)
    refs = reference_policies(plan.env, plan.env_kwargs, plan.references)
    try:
        (out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError("--out", str(out_dir), f"a folder recarena can write ({exc.strerror})") from None
    run = _Run(out_dir, plan, resume is not None)
    if resume is None:
        from recarena import __version__

        (out_dir / "train.json").write_text(json.dumps(
            {"plan": plan.to_dict(), "recarena_version": __version__,
             "command": " ".join(sys.argv), "started": datetime.now(UTC).isoformat()},
            indent=2) + "\n")
    elif run.ckpt.is_file():
        try:
            state = torch.load(run.ckpt, weights_only=False)
        except Exception as exc:  # noqa: BLE001 - a damaged file, whatever torch raises
            raise ConfigError("--resume", str(run.ckpt), f"a readable checkpoint ({exc}); "
                              "checkpoints are written atomically, so this file was changed "
                              "outside recarena") from None
        trainer.load_state_dict(state)
        # evaluations newer than the checkpoint are redone
        run.evals = [r for r in run.evals if r["global_step"] <= trainer.global_step]
    every = plan.eval_every or max(plan.steps // 10, 1)
    for name, policy in refs.items():
        run.refs[name] = _evaluate(policy, plan)
    from tqdm import tqdm

    bar = tqdm(total=plan.steps, initial=min(trainer.global_step, plan.steps), unit="step",
               unit_scale=True, desc=f"{plan.algo} {plan.env.split('/')[-1]}",
               disable=True if quiet else None, file=sys.stderr)
    state = {"next_eval": (trainer.global_step // every + 1) * every,
             "last": trainer.global_step, "saved": time.perf_counter()}

    def checkpoint() -> None:
        """The trainer's state to checkpoints/last.pt, atomically (a kill mid-write
        leaves the previous checkpoint)."""
        tmp = run.ckpt.with_suffix(".tmp")
        torch.save(trainer.state_dict(), tmp)
        os.replace(tmp, run.ckpt)
        state["saved"] = time.perf_counter()

    def evaluate_now() -> None:
        """The policy (greedy or sampling: ``eval_mode``) on the evaluation users; after
        training has started also the paired difference to random, a checkpoint and the
        files (step 0 only records)."""
        started = trainer.global_step > 0
        ret = _evaluate(trainer.policy(deterministic=plan.eval_mode == "greedy"), plan)
        mean, low, high = _ci(ret)
        row: dict[str, Any] = {"global_step": trainer.global_step,
                               "wall_time": trainer.history[-1]["wall_time"] if trainer.history else 0.0,
                               "return": mean, "low": low, "high": high}
        if not started:
            run.evals.append(row)
            return
        if "random" in run.refs:
            d, dl, dh = _ci(ret - run.refs["random"])
            row |= {"vs_random": d, "vs_random_low": dl, "vs_random_high": dh}
        checkpoint()
        run.evals.append(row)
        run.write_evals()
        run.write_progress(trainer.history)
        if run.tb is not None:
            run.tb.add_scalar("eval/return", mean, trainer.global_step)
        bar.set_postfix(eval=f"{mean:.1f}", refresh=False)

    def callback(tr: Any) -> bool:
        h = tr.history[-1]
        bar.update(min(tr.global_step, plan.steps) - state["last"])
        state["last"] = min(tr.global_step, plan.steps)
        if h.get("episode_return") == h.get("episode_return"):
            bar.set_postfix(train=f"{h['episode_return']:.1f}", refresh=False)
        if run.tb is not None:
            for k, v in h.items():
                if isinstance(v, (int, float)) and k not in ("update", "global_step"):
                    run.tb.add_scalar(f"train/{k}", v, tr.global_step)
        if tr.global_step >= state["next_eval"] and tr.global_step < plan.steps:
            evaluate_now()
            state["next_eval"] = (tr.global_step // every + 1) * every
        elif time.perf_counter() - state["saved"] >= CHECKPOINT_SECONDS:
            checkpoint()
            run.write_progress(tr.history)
        return True

    try:
        if not run.evals:
            evaluate_now()
        trainer.learn(plan.steps, callback=callback, time_limit=plan.time_limit)
        evaluate_now()
        policy = trainer.policy()
        policy.save(out_dir / "policy")
    finally:
        bar.close()
        run.write_progress(trainer.history)
        if run.tb is not None:
            run.tb.close()
        trainer.close()
    _write_refs(run)
    plot_learning_curve(out_dir)
    return out_dir


def _write_refs(run: _Run) -> None:
    rows = []
    for name, ret in run.refs.items():
        mean, low, high = _ci(ret)
        rows.append({"policy": name, "return": mean, "low": low, "high": high,
                     "users": ret.size})
    _write_csv(run.out / "references.csv", rows)


def summary(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The final evaluation and the references of a finished run, as a dict."""
    import pandas as pd

    d = Path(run_dir)
    ev = pd.read_csv(d / "eval.csv")
    refs = pd.read_csv(d / "references.csv") if (d / "references.csv").is_file() else None
    prog = pd.read_csv(d / "progress.csv") if (d / "progress.csv").is_file() else None
    return {"final": ev.iloc[-1].to_dict(), "best": ev.loc[ev["return"].idxmax()].to_dict(),
            "references": [] if refs is None else refs.to_dict("records"),
            "wall_time": None if prog is None else float(prog["wall_time"].iloc[-1])}


def plot_learning_curve(run_dir: str | os.PathLike[str]) -> Path:
    """``learning_curve.png``: evaluation return (95% CI band) against env steps, the
    references as horizontal bands, and the training episodes' mean return."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    d = Path(run_dir)
    plan = json.loads((d / "train.json").read_text())["plan"]
    ev = pd.read_csv(d / "eval.csv")
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    ax.plot(ev["global_step"], ev["return"], "o-", color="C0", label=f"{plan['algo']} ({plan.get('eval_mode', 'greedy')}, eval)")
    ax.fill_between(ev["global_step"], ev["low"], ev["high"], color="C0", alpha=0.2)
    if (d / "progress.csv").is_file():
        prog = pd.read_csv(d / "progress.csv")
        if "episode_return" in prog and prog["episode_return"].notna().any():
            # updates in which no episode ended have no value: join the others
            prog = prog[prog["episode_return"].notna()]
            ax.plot(prog["global_step"], prog["episode_return"], color="C0", alpha=0.35, lw=1,
                    marker="." if len(prog) < 30 else None,
                    label=f"{plan['algo']} (sampling, training episodes)")
    if (d / "references.csv").is_file():
        refs = pd.read_csv(d / "references.csv")
        for j, (_, r) in enumerate(refs.iterrows()):
            color = f"C{j + 1}"
            ax.axhline(r["return"], color=color, ls="--", lw=1,
                       label=f"{r['policy']} {r['return']:.1f}")
            ax.axhspan(r["low"], r["high"], color=color, alpha=0.12)
    ax.set_xlabel("env steps (user-steps)")
    ax.set_ylabel(f"episode return (mean of {plan['eval_users']} users, 95% CI)")
    users = "" if plan.get("users") is None else f", {plan['users']} users"
    ax.set_title(f"{plan['env']}: {plan['algo']}{users}, seed {plan['seed']}")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = d / "learning_curve.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ------------------------------------------------------------------- command line
def add_parser(sub: Any) -> None:
    """The ``recarena train`` sub-command (called by :mod:`recarena.cli`)."""
    p = sub.add_parser(
        "train", help="train an RL agent on an env (ppo, slateq, sb3-ppo, sb3-dqn), with "
        "periodic paired evaluation against random and the env's references",
        description="Train an RL agent; the run folder gets train.json, progress.csv, "
        "eval.csv, references.csv, checkpoints/last.pt, policy/ and learning_curve.png.")
    p.add_argument("env", nargs="?", help="env id, e.g. recarena/InterestEvolution-v0")
    p.add_argument("--algo", help="one of " + ", ".join(ALGORITHMS) + " (default ppo)")
    p.add_argument("--steps", type=int,
                   help="env steps (user-steps) to train for, rounded up to whole rollouts "
                   "(default 1,000,000)")
    p.add_argument("--users", type=int, help="users simulated side by side (default: the "
                   "algorithm's, 256 for ppo)")
    p.add_argument("--seed", type=int, help="training seed, default 0 (evaluation users use "
                   f"seed {EVAL_SEED_OFFSET} + SEED)")
    p.add_argument("--out", help="run folder to create (default runs/train-ENV-ALGO-TIME)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="an algorithm setting, e.g. --set learning_rate=0.001 (repeatable)")
    p.add_argument("--env-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="an env constructor argument, e.g. --env-arg observe_history=true")
    p.add_argument("--eval-every", type=int,
                   help="env steps between evaluations (default: a tenth of --steps)")
    p.add_argument("--eval-users", type=int, help="users per evaluation (default 500)")
    p.add_argument("--eval-mode", choices=None, help="how evaluations play the policy: greedy "
                   "(top-K of its scores, default) or sampling (its slate distribution; for "
                   "policies that explore within an episode, e.g. on Cascade-v0)")
    p.add_argument("--references", help="comma-separated reference policies (default: random "
                   "and every reference that fits the env)")
    p.add_argument("--time-limit", type=float, help="stop training after this many seconds")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted training run")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=command)


def _assignments(items: list[str], flag: str) -> dict[str, Any]:
    from recarena.scenarios.spec import parse_set

    out = {}
    for item in items:
        path, value = parse_set(item)
        if len(path) != 1:
            raise ConfigError(flag, item, "KEY=VALUE with a plain key (no dots)")
        out[path[0]] = value
    return out


def command(args: Any) -> int:
    """Run ``recarena train`` and print the final table; returns the exit code."""
    import torch

    check_int(args.threads, "--threads", 1)
    torch.set_num_threads(args.threads)
    fixed = {"ENV": args.env, "--algo": args.algo, "--steps": args.steps,
             "--users": args.users, "--seed": args.seed, "--out": args.out,
             "--set": args.set or None, "--env-arg": args.env_arg or None,
             "--eval-every": args.eval_every, "--eval-users": args.eval_users,
             "--references": args.references, "--time-limit": args.time_limit,
             "--eval-mode": args.eval_mode}
    if args.resume is not None:
        given = [k for k, v in fixed.items() if v is not None]
        if given:
            raise ConfigError("--resume", args.resume, "no " + ", ".join(given) + " with it "
                              "(train.json in the run folder fixes the run; to train longer, "
                              "start a new run)")
        run_dir = train(resume=args.resume, quiet=args.quiet)
    else:
        if args.env is None:
            raise ConfigError("ENV", None, "an env id (recarena list envs), or --resume RUN_DIR")
        refs = None if args.references is None else [
            r.strip() for r in args.references.split(",") if r.strip()]
        plan = TrainPlan(env=args.env, algo=args.algo or "ppo",
                         steps=1_000_000 if args.steps is None else args.steps,
                         users=args.users, seed=0 if args.seed is None else args.seed,
                         settings=_assignments(args.set, "--set"),
                         env_kwargs=_assignments(args.env_arg, "--env-arg"),
                         eval_every=args.eval_every or 0,
                         eval_users=500 if args.eval_users is None else args.eval_users,
                         references=refs, time_limit=args.time_limit,
                         eval_mode=args.eval_mode or "greedy")
        run_dir = train(plan, out=args.out, quiet=args.quiet)
    print(format_summary(run_dir))
    print(f"\nrun folder: {run_dir}  (learning curve: {run_dir / 'learning_curve.png'}; "
          f"policy: {run_dir / 'policy'})")
    return 0


def format_summary(run_dir: str | os.PathLike[str]) -> str:
    """The final evaluation beside the references, as a text table."""
    s = summary(run_dir)
    plan = json.loads((Path(run_dir) / "train.json").read_text())["plan"]
    f = s["final"]
    lines = [f"{plan['env']}: {plan['algo']}, {int(f['global_step']):,} env steps, "
             f"{s['wall_time']:.0f} s; evaluation on {plan['eval_users']} users "
             f"(seed {EVAL_SEED_OFFSET + plan['seed']}, {plan.get('eval_mode', 'greedy')} "
             "slates), mean return and 95% CI", "",
             f"{'policy':<24} {'return':>9} {'95% CI':>21}"]
    rows = [(f"{plan['algo']} (trained)", f)] + [(r["policy"], r) for r in s["references"]]
    for name, r in rows:
        lines.append(f"{name:<24} {r['return']:>9.1f} [{r['low']:>8.1f}, {r['high']:>8.1f}]")
    if f.get("vs_random") == f.get("vs_random"):
        lines.append(f"\n{plan['algo']} - random (paired by user): {f['vs_random']:+.1f} "
                     f"[{f['vs_random_low']:+.1f}, {f['vs_random_high']:+.1f}]")
    return "\n".join(lines)
