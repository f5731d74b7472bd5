"""Baselines with 95% CIs on RecSim's long-term satisfaction and interest exploration envs.

Every policy faces the same users (the vector env is reset with one seed; one row per
user, only each row's first user counts), so differences are paired.

    python benchmarks/bench_recsim_baselines.py [--users 5000] [--seed 0]
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np
from scipy import stats

import recarena  # noqa: F401  (registers the ids)
from recarena.agents import (
    FeatureSortPolicy,
    FeatureTargetPolicy,
    GreedyOracle,
    RandomPolicy,
    evaluate,
)
from recarena.simulators.long_term_satisfaction import ChocKaleUsers

LTS, IE = "recarena/LongTermSatisfaction-v0", "recarena/InterestExploration-v0"


def ci(x: np.ndarray) -> tuple[float, float]:
    half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return float(x.mean()), float(half)


def table(results: dict[str, np.ndarray], reference: str) -> None:
    ref = results[reference]
    print(f"| policy | mean return | 95% CI | minus {reference} (paired) |")
    print("|---|---:|---:|---:|")
    for name, x in results.items():
        m, h = ci(x)
        d = "" if name == reference else "{:+.1f} ± {:.1f}".format(*ci(x - ref))
        print(f"| {name} | {m:.1f} | ± {h:.1f} | {d} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n, seed = args.users, args.seed

    for sens in (0.01, 0.07, 0.2):
        cstar = ChocKaleUsers(sensitivity=sens).best_constant_clickbait()
        policies = {
            "random": RandomPolicy(10, 2, seed=seed),
            "choc first (max clickbait)": FeatureSortPolicy("candidate_clickbait", 2, True),
            "kale first (min clickbait)": FeatureSortPolicy("candidate_clickbait", 2, False),
            f"constant diet c*={cstar:.2f}": FeatureTargetPolicy("candidate_clickbait", cstar, 2),
            "myopic oracle (expected engagement)": GreedyOracle(2),
        }
        kw = {"sensitivity": sens}
        res = {name: evaluate(p, LTS, users=n, seed=seed, env_kwargs=kw)["return"].to_numpy()
               for name, p in policies.items()}
        first = {name: evaluate(p, LTS, users=n, seed=seed, env_kwargs=kw | {"horizon": 1})
                 ["return"].mean() for name, p in policies.items()}
        print(f"\n{LTS}, sensitivity={sens}, {n} users, 60-step sessions, seed {seed}\n")
        table(res, "random")
        print("\nfirst-step engagement: " + ", ".join(f"{k} {v:.1f}" for k, v in first.items()))

    policies = {
        "random": RandomPolicy(10, 2, seed=seed),
        "myopic: highest quality first": FeatureSortPolicy("candidate_quality", 2, True),
        "topic 0 first (high quality; the 70% majority type's favourite)": FeatureSortPolicy("candidate_topic", 2, False),
        "topic 1 first (the 30% minority type's favourite)": FeatureSortPolicy("candidate_topic", 2, True),
        "oracle (true score)": GreedyOracle(2),
    }
    envs = gym.make_vec(IE, num_envs=n, vectorization_mode="vector_entry_point")
    envs.reset(seed=seed)
    user_type = envs.unwrapped.world.state.user_type.copy()
    res = {name: evaluate(p, IE, users=n, seed=seed)["return"].to_numpy()
           for name, p in policies.items()}
    print(f"\n{IE}, {n} users, 100 steps, seed {seed}\n")
    table(res, "random")
    print("\n| policy | type 0 users (30%) | type 1 users (70%) |")
    print("|---|---:|---:|")
    for name, x in res.items():
        cells = ["{:.1f} ± {:.1f}".format(*ci(x[user_type == u])) for u in (0, 1)]
        print(f"| {name} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
