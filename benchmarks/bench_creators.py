"""CreatorEcosystem-v0 at scale: user-steps per second vs CartPole-v1, and peak memory.

The platform-view vector env (``gymnasium.make_vec("recarena/CreatorEcosystem-v0",
num_envs=N, vectorization_mode="vector_entry_point", num_creators=M)``) is driven by a
random policy (``action_space.sample()``) and by the batched greedy oracle (top-K of
``info["oracle"]["scores"]``) for --seconds, interleaved with CartPole-v1 (single env
through ``gym.make``, random actions) in the same run, --repeats times; the medians are
reported, as user-steps per second (N per ``step``) and as a ratio to CartPole (target:
>= 1x). Creator rounds end every ``round_length`` steps inside the timed loop, so the
creators' learning, exits, entries and the catalog's turnover are in the figure.

Peak memory: a fresh subprocess builds the env with --memory-users users and
--memory-creators creators, resets it and runs --memory-steps steps (two creator rounds
and more); its peak RSS (``ru_maxrss``) and the peak of numpy's and Python's allocations
(``tracemalloc``) are reported (target: <= 2 GB).

    python benchmarks/bench_creators.py [--users 16384] [--creators 1000] [--seconds 3]
        [--repeats 3] [--memory-users 100000] [--memory-creators 10000] [--memory-steps 25]
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

ENV = "recarena/CreatorEcosystem-v0"


def ecosystem_rate(envs: gym.vector.VectorEnv, policy: str, seconds: float,
                   state: dict) -> tuple[float, int]:
    """User-steps per second over ``seconds`` and the creator rounds that ended."""
    n, k = envs.num_envs, envs.single_action_space.slate_size
    info = state["info"]
    steps, rounds, t0 = 0, 0, time.perf_counter()
    while True:
        for _ in range(5):
            action = envs.action_space.sample() if policy == "random" else greedy(info, k)
            info = envs.step(action)[4]
            rounds += "creator_round" in info
        steps += 5
        if time.perf_counter() - t0 >= seconds:
            state["info"] = info
            return steps * n / (time.perf_counter() - t0), rounds


_MEMORY_CHILD = """
import resource, sys, tracemalloc, gymnasium as gym, recarena
n, m, steps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
envs = gym.make_vec("recarena/CreatorEcosystem-v0", num_envs=n, num_creators=m,
                    vectorization_mode="vector_entry_point")
envs.action_space.seed(0)
envs.reset(seed=0)
rounds = 0
for _ in range(steps):
    rounds += "creator_round" in envs.step(envs.action_space.sample())[4]
peak = tracemalloc.get_traced_memory()[1]
print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, peak, rounds,
      envs.unwrapped.world.catalog.size)
"""


def peak_memory(n: int, m: int, steps: int) -> dict:
    out = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, str(n), str(m), str(steps)],
                         capture_output=True, text=True, check=True)
    before, after, traced, rounds, items = (int(x) for x in out.stdout.split())
    return {"users": n, "creators": m, "steps": steps, "rounds": rounds, "live_items": items,
            "peak_rss_mib": round(after / 1024, 1), "rss_before_env_mib": round(before / 1024, 1),
            "tracemalloc_peak_mib": round(traced / 2**20, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=16384)
    ap.add_argument("--creators", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--memory-users", type=int, default=100_000)
    ap.add_argument("--memory-creators", type=int, default=10_000)
    ap.add_argument("--memory-steps", type=int, default=25)
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()

    envs = gym.make_vec(ENV, num_envs=args.users, num_creators=args.creators,
                        vectorization_mode="vector_entry_point")
    envs.action_space.seed(0)
    _, info = envs.reset(seed=0)
    state = {"info": info}
    rates: dict[str, list[float]] = {"CartPole-v1": [], "random": [], "greedy": []}
    rounds = 0
    for _ in range(args.repeats):
        rates["CartPole-v1"].append(cartpole_rate(args.seconds))
        for policy in ("random", "greedy"):
            rate, r = ecosystem_rate(envs, policy, args.seconds, state)
            rates[policy].append(rate)
            rounds += r
    base = float(np.median(rates["CartPole-v1"]))
    world = envs.unwrapped.world
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"CartPole-v1 (gym.make, random): {base:,.0f} steps/s")
    print(f"{ENV}: N={args.users} users, M={args.creators} creators, "
          f"{rounds} creator rounds in the timed loops; now {int(world.population.alive.sum())} "
          f"creators alive, {world.catalog.size} live items")
    result: dict = {"cartpole_steps_per_s": base, "users": args.users,
                    "creators": args.creators, "rounds_timed": rounds}
    for policy in ("random", "greedy"):
        med = float(np.median(rates[policy]))
        result[f"{policy}_user_steps_per_s"] = med
        result[f"{policy}_x_cartpole"] = med / base
        print(f"  {policy:>6}: {med:,.0f} user-steps/s = {med / base:.1f}x CartPole")
    mem = peak_memory(args.memory_users, args.memory_creators, args.memory_steps)
    result["memory"] = mem
    print(f"peak memory, {mem['users']:,} users and {mem['creators']:,} creators, "
          f"{mem['steps']} steps ({mem['rounds']} rounds, {mem['live_items']:,} live items): "
          f"RSS {mem['peak_rss_mib']:,} MiB (interpreter and imports before the env: "
          f"{mem['rss_before_env_mib']:,} MiB), tracemalloc peak {mem['tracemalloc_peak_mib']:,} MiB")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
