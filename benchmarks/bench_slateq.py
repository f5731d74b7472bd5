"""SlateQ on InterestEvolution-v0: train for a wall-clock budget, then evaluate the greedy
policy on 500 users (vector env, seed 123) beside the random policy on the same users.

    python benchmarks/bench_slateq.py [--seconds 180] [--users 256] [--seed 0]
        [--n-step 100] [--gamma 0.995] [--null-value learned|zero] [--choice-fn PATH]
        [--optimizer auto|exact|dinkelbach|topk|greedy] [--out DIR]

Defaults: 256 users, learned choice model, learned null-item value, exact slates,
100-step targets with gamma 0.995 (InterestEvolution's time budget is not observed, so
one-step bootstrapping cannot see what a low-quality click costs; ``--n-step 1`` is the
paper's update), hidden 32, batch 256, Polyak tau 0.01, rewards x 0.1, epsilon 1 -> 0.05
over the first 150,000 steps. Reference returns on the same 500 users (issue 17): random
≈ 154, myopic (greedy on true affinity) ≈ 165, quality-greedy oracle ≈ 282. One compute
thread (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import recarena  # noqa: E402, F401
from recarena.agents import evaluate, make_policy  # noqa: E402
from recarena.agents.rl.slateq import SlateQConfig, SlateQTrainer  # noqa: E402

ENV = "recarena/InterestEvolution-v0"


def ci(x: np.ndarray) -> tuple[float, float]:
    """Mean and the half-width of its normal 95% interval."""
    return float(np.mean(x)), float(1.96 * np.std(x, ddof=1) / np.sqrt(len(x)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--users", type=int, default=256)
    ap.add_argument("--steps", type=int, default=3_000_000,
                    help="env-step cap (epsilon anneals over its first 5%%)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--null-value", default="learned", choices=("learned", "zero"))
    ap.add_argument("--choice-fn", default=None)
    ap.add_argument("--optimizer", default="auto")
    ap.add_argument("--n-step", type=int, default=100)
    ap.add_argument("--tau", type=float, default=0.01)
    ap.add_argument("--gamma", type=float, default=0.995)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--out", default=None, help="folder for the saved policy")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = SlateQConfig(num_envs=args.users, seed=args.seed, null_value=args.null_value,
                       choice_fn=args.choice_fn, slate_optimizer=args.optimizer,
                       n_step=args.n_step, gamma=args.gamma,
                       hidden=args.hidden, batch_size=args.batch, tau=args.tau, reward_scale=0.1,
                       learning_starts=20_000, exploration_fraction=0.05,
                       buffer_size=200_000, log_interval=64)
    trainer = SlateQTrainer(ENV, cfg)
    t0 = time.perf_counter()

    def show(tr: SlateQTrainer) -> None:
        h = tr.history[-1]
        print(f"{h['wall_time']:6.0f}s step {h['global_step']:>9,} return "
              f"{h['episode_return']:7.1f} eps {h['epsilon']:.3f} q_loss {h['q_loss']:.4f} "
              f"choice_nll {h['choice_loss']:.4f} q {h['q_mean']:.2f} "
              f"{h['steps_per_s']:,.0f} steps/s", flush=True)

    trainer.learn(args.steps, callback=show, time_limit=args.seconds)
    train_s = time.perf_counter() - t0
    policy = trainer.policy()
    if args.out:
        policy.save(args.out)
    t1 = time.perf_counter()
    ours = evaluate(policy, ENV, users=500, seed=123)["return"].to_numpy()
    eval_s = time.perf_counter() - t1
    rand = evaluate(make_policy("random", ENV), ENV, users=500, seed=123)["return"].to_numpy()
    m, h = ci(ours)
    rm, rh = ci(rand)
    dm, dh = ci(ours - rand)
    result = {"env": ENV, "train_seconds": round(train_s, 1), "env_steps": trainer.global_step,
              "gradient_steps": trainer.gradient_updates, "eval_seconds": round(eval_s, 1),
              "slateq_return": [round(m, 1), round(h, 1)], "random_return": [round(rm, 1), round(rh, 1)],
              "paired_difference": [round(dm, 1), round(dh, 1)],
              "config": {k: v for k, v in vars(cfg).items()}}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
