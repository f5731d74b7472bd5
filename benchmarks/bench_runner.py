"""What the event log costs: a unit of the scenario runner (simulate + write the Parquet
event log + compute the unit's metrics) against the bare policy-env loop on the same
users, and the log's size per impression.

    python benchmarks/bench_runner.py [--users 1024] [--steps 200] [--env recarena/InterestEvolution-v0]

Both are measured in the same run on the same machine; the ratio is the figure that
carries across machines.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import recarena  # noqa: F401
from recarena.agents import make_policy
from recarena.agents.base import public_info
from recarena.scenarios import run_unit, scenario_from_dict


def bare(env_id: str, users: int, steps: int, seed: int) -> float:
    envs = gym.make_vec(env_id, num_envs=users, vectorization_mode="vector_entry_point")
    pol = make_policy("random", envs)
    t = time.perf_counter()
    obs, info = envs.reset(seed=seed)
    for _ in range(steps):
        obs, *_, info = envs.step(pol.recommend(obs, public_info(info)))
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--env", default="recarena/InterestEvolution-v0")
    args = ap.parse_args()
    spec = scenario_from_dict({"name": "bench", "env": {"id": args.env},
                               "run": {"users": args.users, "steps": args.steps, "seeds": 1},
                               "policies": [{"name": "random"}],
                               "log": {"snapshot_every": 10}}).model_dump(mode="json")
    bare(args.env, 16, 5, 0)  # warm imports
    t_bare = min(bare(args.env, args.users, args.steps, s) for s in range(3))
    times, sizes = [], 0
    for s in range(3):
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            res = run_unit(spec, s, "random", str(Path(tmp) / "unit"))
            times.append(time.perf_counter() - t)
            sizes = sum(p.stat().st_size for p in Path(tmp).rglob("impressions-*.parquet"))
            rows = res["impressions"]
    t_unit = min(times)
    us = args.users * args.steps
    print(f"{args.env}, {args.users} users x {args.steps} steps, random policy, best of 3\n")
    print(f"{'loop':<40} {'seconds':>8} {'user-steps/s':>13}")
    print(f"{'bare policy-env loop':<40} {t_bare:>8.2f} {us / t_bare:>13,.0f}")
    print(f"{'runner unit (log + metrics)':<40} {t_unit:>8.2f} {us / t_unit:>13,.0f}")
    print(f"\nratio unit / bare: {t_unit / t_bare:.2f}x; impressions {rows:,}; "
          f"Parquet {sizes / rows:.1f} bytes per impression")
    assert np.isfinite(t_unit)


if __name__ == "__main__":
    main()
