"""Steps per second and peak memory of one InterestEvolution-v0 env vs CartPole-v1.

Both envs are built with ``gymnasium.make`` (so with Gymnasium's default wrappers) and
driven by a random policy (``action_space.sample()``), resetting on episode end, in the
same process and run. CartPole is the floor of Python env overhead; the ratio is the
figure that counts on a noisy machine.

    python benchmarks/bench_single_env.py [--steps 20000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import platform
import resource
import time
import tracemalloc

import gymnasium as gym
import numpy as np

import recarena  # noqa: F401  (registers the envs)


def steps_per_second(env_id: str, steps: int, seed: int = 0) -> float:
    env = gym.make(env_id)
    env.action_space.seed(seed)
    env.reset(seed=seed)
    sample, step, reset = env.action_space.sample, env.step, env.reset
    t0 = time.perf_counter()
    for _ in range(steps):
        _, _, term, trunc, _ = step(sample())
        if term or trunc:
            reset()
    elapsed = time.perf_counter() - t0
    env.close()
    return steps / elapsed


def peak_traced_kib(env_id: str, steps: int) -> float:
    tracemalloc.start()
    env = gym.make(env_id)
    env.action_space.seed(0)
    env.reset(seed=0)
    for _ in range(steps):
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        if term or trunc:
            env.reset()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    ids = ["CartPole-v1", "recarena/InterestEvolution-v0", "recarena/Cascade-v0", "recarena/Slate-v0"]
    rates: dict[str, list[float]] = {i: [] for i in ids}
    for _ in range(args.repeats):  # interleaved, so drift in machine load hits all alike
        for env_id in ids:
            rates[env_id].append(steps_per_second(env_id, args.steps))
    base = np.median(rates["CartPole-v1"])
    print(f"python {platform.python_version()}, numpy {np.__version__}, gymnasium {gym.__version__}; "
          f"{args.steps} steps x {args.repeats} repeats, median shown")
    print(f"{'env':<32} {'steps/s':>10} {'x CartPole':>11} {'peak KiB':>9}")
    for env_id in ids:
        med = float(np.median(rates[env_id]))
        peak = peak_traced_kib(env_id, 2_000)
        print(f"{env_id:<32} {med:>10,.0f} {med / base:>11.3f} {peak:>9.0f}")
    print(f"process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
