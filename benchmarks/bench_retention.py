"""Retention-v0: the engagement-greedy policy against the satisfaction-aware one.

Both policies face the same users (``evaluate(..., users=N)`` with the same seed on the native
vector env, one row per user, each followed for 30 days or until churn). Means with 95%
Student-t CIs over users, and paired differences.

    python benchmarks/bench_retention.py [--users 2000] [--seed 0]
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats

from recarena.agents import GreedyOracle, QualityBonusOracle, RandomPolicy, evaluate

COLUMNS = ["return_first_session", "return_by_day_1", "return_by_day_3", "return_by_day_7",
           "return", "sessions", "terminated", "length"]


def ci(x: np.ndarray) -> tuple[float, float]:
    half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return float(x.mean()), float(half)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    policies = {
        "uniform random": RandomPolicy(10, 2, seed=args.seed),
        "engagement-greedy (top-2 true score)": GreedyOracle(2),
        "satisfaction-aware (score + 1.0 x quality)": QualityBonusOracle(2, 1.0),
    }
    frames = {name: evaluate(p, "recarena/Retention-v0", users=args.users, seed=args.seed)
              for name, p in policies.items()}
    print("| policy | " + " | ".join(COLUMNS) + " |")
    print("|---|" + "---:|" * len(COLUMNS))
    for name, df in frames.items():
        cells = []
        for col in COLUMNS:
            m, h = ci(df[col].to_numpy(dtype=float))
            cells.append(f"{m:.2f} ± {h:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    names = list(frames)
    g, k = frames[names[1]], frames[names[2]]
    print("\n| greedy − satisfaction-aware (paired) | mean | 95% CI |")
    print("|---|---:|---:|")
    for col in COLUMNS:
        m, h = ci(g[col].to_numpy(dtype=float) - k[col].to_numpy(dtype=float))
        print(f"| {col} | {m:+.2f} | ± {h:.2f} |")


if __name__ == "__main__":
    main()
