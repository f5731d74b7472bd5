"""Mean episode return with 95% CIs of the reference policies on InterestEvolution-v0.

Every policy faces the same users (episode i is reset with seed ``seed + i``), so the
differences are paired; the table gives them too.

    python benchmarks/bench_baselines.py [--episodes 500] [--seed 0]
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats

import recarena
from recarena.agents import GreedyOracle, QualityAwareOracle, RandomPolicy, evaluate


def ci(x: np.ndarray) -> tuple[float, float]:
    half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return float(x.mean()), float(half)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="recarena/InterestEvolution-v0")
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    env = recarena.make(args.env)
    base = env.unwrapped
    policies = {
        "random": RandomPolicy(base.num_candidates, base.slate_size, seed=args.seed),
        "greedy oracle (true affinity)": GreedyOracle(base.slate_size),
        "quality-aware oracle": QualityAwareOracle.from_env(env),
    }
    results = {name: evaluate(p, env, episodes=args.episodes, seed=args.seed) for name, p in policies.items()}
    print(f"{args.env}, {args.episodes} episodes, seeds {args.seed}..{args.seed + args.episodes - 1}\n")
    print("| policy | mean return | 95% CI | clicks | episode length |")
    print("|---|---:|---:|---:|---:|")
    for name, df in results.items():
        m, h = ci(df["return"].to_numpy())
        print(f"| {name} | {m:.1f} | ± {h:.1f} | {df['clicks'].mean():.1f} | {df['length'].mean():.1f} |")
    rnd = results["random"]["return"].to_numpy()
    print("\n| paired difference | mean | 95% CI |")
    print("|---|---:|---:|")
    for name, df in results.items():
        if name == "random":
            continue
        m, h = ci(df["return"].to_numpy() - rnd)
        print(f"| {name} − random | {m:+.1f} | ± {h:.1f} |")
    g = results["greedy oracle (true affinity)"]["return"].to_numpy()
    m, h = ci(results["quality-aware oracle"]["return"].to_numpy() - g)
    print(f"| quality-aware − greedy | {m:+.1f} | ± {h:.1f} |")


if __name__ == "__main__":
    main()
