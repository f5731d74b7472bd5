"""Training throughput: the native PPO trainer vs SB3 PPO through recarena's VecEnv adapter.

Both train the same slate network (:class:`~recarena.agents.rl.networks.SlateActorCritic`,
``--hidden`` wide, Plackett–Luce slates) on the same env with the same PPO settings
(``--users`` users, 32 steps per rollout, 4 minibatches, 4 epochs, observation and reward
normalisation), in one process, for ``--seconds`` each per round; rounds alternate the
order (native, SB3, SB3, native, ...) so drift in the machine's load falls on both. The
rate is env steps (user-steps) per second of the whole training loop: env, forward
passes, sampling, buffers, the PPO update and the trainers' bookkeeping; both stop
between iterations, so every counted step was also trained on. The SB3 loop's time in
``model.train`` (the update) is measured separately; the native trainer reports its own
rollout/update split.

    python benchmarks/bench_rl_throughput.py [--env recarena/InterestEvolution-v0]
        [--users 1024] [--hidden 64] [--seconds 15] [--rounds 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

import recarena  # noqa: F401  (registers the envs)
from recarena.agents.rl.ppo import PPOConfig, PPOTrainer
from recarena.agents.rl.sb3 import SB3Trainer


def native(env_id: str, users: int, hidden: int) -> PPOTrainer:
    return PPOTrainer(env_id, PPOConfig(num_envs=users, num_steps=32, num_minibatches=4,
                                        update_epochs=4, hidden=hidden, seed=0))


def sb3(env_id: str, users: int, hidden: int) -> SB3Trainer:
    trainer = SB3Trainer(env_id, {"num_envs": users, "n_steps": 32, "batch_size": users * 8,
                                  "n_epochs": 4, "hidden": hidden, "seed": 0})
    trainer.update_s = 0.0  # type: ignore[attr-defined]
    train = trainer.model.train

    def timed() -> None:
        t0 = time.perf_counter()
        train()
        trainer.update_s += time.perf_counter() - t0  # type: ignore[attr-defined]

    trainer.model.train = timed  # type: ignore[method-assign]
    return trainer


def run(trainer, seconds: float) -> dict[str, float]:
    """Train for about ``seconds`` (whole iterations); env steps and wall time."""
    step0 = trainer.global_step
    upd0 = getattr(trainer, "update_s", 0.0)
    rows0 = len(trainer.history)
    t0 = time.perf_counter()
    trainer.learn(10**12, time_limit=seconds)
    wall = time.perf_counter() - t0
    steps = trainer.global_step - step0
    rows = trainer.history[rows0:]
    if isinstance(trainer, PPOTrainer):
        update = sum(r["update_s"] for r in rows)
    else:
        update = trainer.update_s - upd0
    return {"steps": steps, "wall_s": wall, "steps_per_s": steps / wall,
            "update_s": update, "iterations": len(rows)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default="recarena/InterestEvolution-v0")
    ap.add_argument("--users", type=int, default=1024)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=15.0, help="per trainer per round")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (both trainers)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    trainers = {"native": native(args.env, args.users, args.hidden),
                "sb3": sb3(args.env, args.users, args.hidden)}
    for trainer in trainers.values():  # warm-up: one iteration each, not counted
        trainer.learn(trainer.global_step + 1)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trainers}
    for r in range(args.rounds):
        order = list(trainers) if r % 2 == 0 else list(trainers)[::-1]
        for name in order:
            results[name].append(run(trainers[name], args.seconds))

    summary = {}
    for name, rounds in results.items():
        steps = sum(x["steps"] for x in rounds)
        wall = sum(x["wall_s"] for x in rounds)
        summary[name] = {"steps_per_s": steps / wall, "steps": steps, "wall_s": wall,
                         "update_share": sum(x["update_s"] for x in rounds) / wall,
                         "rounds": [round(x["steps_per_s"]) for x in rounds]}
    print(f"{args.env}, N = {args.users} users, hidden {args.hidden}, PPO 32 steps x 4 "
          f"minibatches x 4 epochs, torch threads {args.threads}")
    for name, s in summary.items():
        print(f"  {name:6s} {s['steps_per_s']:10,.0f} env steps/s  ({s['steps']:,} steps in "
              f"{s['wall_s']:.1f} s; update {100 * s['update_share']:.0f}% of the time; "
              f"per round {s['rounds']})")
    ratio = summary["native"]["steps_per_s"] / summary["sb3"]["steps_per_s"]
    print(f"  native / sb3 = {ratio:.2f}")
    for trainer in trainers.values():
        trainer.close()
    print(json.dumps({"env": args.env, "users": args.users, "hidden": args.hidden,
                      "threads": args.threads, "seconds": args.seconds, "rounds": args.rounds,
                      "machine": platform.machine(), "numpy": np.__version__,
                      "torch": torch.__version__, "results": summary,
                      "native_over_sb3": ratio}))


if __name__ == "__main__":
    main()
