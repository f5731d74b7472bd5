"""User-steps per second of the native vector envs vs CartPole-v1, and peak memory.

For each env id and N in --sizes, a vector env from ``gymnasium.make_vec(...,
vectorization_mode="vector_entry_point")`` is driven for --seconds by a random policy
(``action_space.sample()``, a valid batch of slates) and by a batched greedy policy (top-K
of ``info["oracle"]["scores"]`` per row, one ``argpartition`` over the batch). The rate is
user-steps per second (N per ``step``). CartPole-v1 (single env through ``gym.make``,
random actions) is measured in the same run, interleaved, and every figure is given as a
ratio to it. Peak memory at --memory-users users is the peak RSS of a fresh subprocess
that builds the vector env, resets it and runs --memory-steps steps.

    python benchmarks/bench_vector.py [--sizes 1 64 1024 16384] [--seconds 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time

import gymnasium as gym
import numpy as np
from _common import cartpole_rate, greedy  # (benchmarks/ is on the path of a script run)

import recarena  # noqa: F401  (registers the envs)


def vector_rate(env_id: str, n: int, policy: str, seconds: float) -> float:
    envs = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point")
    envs.action_space.seed(0)
    _, info = envs.reset(seed=0)
    k = envs.single_action_space.slate_size
    steps, t0 = 0, time.perf_counter()
    while True:
        for _ in range(10):
            action = envs.action_space.sample() if policy == "random" else greedy(info, k)
            info = envs.step(action)[4]
        steps += 10
        if time.perf_counter() - t0 >= seconds:
            return steps * n / (time.perf_counter() - t0)


_MEMORY_CHILD = """
import resource, sys, gymnasium as gym, recarena
env_id, n, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
envs = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point")
envs.action_space.seed(0)
envs.reset(seed=0)
for _ in range(steps):
    envs.step(envs.action_space.sample())
print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_memory_mib(env_id: str, n: int, steps: int) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, env_id, str(n), str(steps)],
                         check=True, capture_output=True, text=True).stdout.split()
    before, after = (int(x) / 1024 for x in out)
    return before, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ids", nargs="+", default=["recarena/InterestEvolution-v0"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1, 64, 1024, 16384])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-users", type=int, default=100_000)
    parser.add_argument("--memory-steps", type=int, default=20)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    cart: list[float] = []
    rates: dict[tuple[str, int, str], list[float]] = {}
    for _ in range(args.repeats):  # interleaved: drift in machine load hits every figure alike
        cart.append(cartpole_rate(args.seconds))
        for env_id in args.ids:
            for n in args.sizes:
                for policy in ("random", "greedy"):
                    rates.setdefault((env_id, n, policy), []).append(
                        vector_rate(env_id, n, policy, args.seconds))
    base = float(np.median(cart))
    print(f"python {platform.python_version()}, numpy {np.__version__}, gymnasium {gym.__version__}; "
          f"{args.repeats} repeats of {args.seconds:.0f} s, median shown")
    print(f"CartPole-v1 (gym.make, random): {base:,.0f} steps/s")
    print(f"{'env':<32} {'N':>6} {'policy':>7} {'user-steps/s':>13} {'x CartPole':>11}")
    table = []
    for (env_id, n, policy), vals in rates.items():
        med = float(np.median(vals))
        table.append({"env": env_id, "n": n, "policy": policy, "rate": med, "ratio": med / base})
        print(f"{env_id:<32} {n:>6} {policy:>7} {med:>13,.0f} {med / base:>11.2f}")
    memory = []
    for env_id in args.ids:
        before, after = peak_memory_mib(env_id, args.memory_users, args.memory_steps)
        memory.append({"env": env_id, "n": args.memory_users, "baseline_mib": before,
                       "peak_mib": after})
        print(f"peak RSS, {env_id}, N={args.memory_users:,}, {args.memory_steps} steps: "
              f"{after:,.0f} MiB (interpreter + imports before the env: {before:,.0f} MiB)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"cartpole": base, "rates": table, "memory": memory}, fh, indent=2)


if __name__ == "__main__":
    main()
