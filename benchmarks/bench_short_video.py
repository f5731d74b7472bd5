"""Per-session signals with 95% CIs on ShortVideo-v0 under four reference policies.

Every policy faces the same users (one vector-env seed, one row per user, only each
row's first session counts), so differences are paired.

    python benchmarks/bench_short_video.py [--users 4000] [--seed 0]
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np
from scipy import stats

import recarena  # noqa: F401  (registers the ids)
from recarena.simulators.short_video import SIGNALS

ENV = "recarena/ShortVideo-v0"


def ci(x: np.ndarray) -> str:
    half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return f"{x.mean():.2f} ± {half:.2f}"


def run(rule: str, n: int, seed: int) -> dict[str, np.ndarray]:
    envs = gym.make_vec(ENV, num_envs=n, vectorization_mode="vector_entry_point")
    obs, info = envs.reset(seed=seed)
    rng = np.random.default_rng(seed)
    active = np.ones(n, dtype=bool)
    total = {s: np.zeros(n) for s in SIGNALS} | {"videos": np.zeros(n)}
    while active.any():
        o = info["oracle"]
        if rule == "random":
            score = rng.random(o["scores"].shape)
        elif rule == "greedy watch (oracle)":
            score = o["scores"]
        elif rule == "watch + like propensity (oracle)":
            score = o["scores"] + 0.15 * o["like"] + 0.15 * o["share"]
        else:  # cultivate followed creators: expected watch plus a bonus the platform can see
            score = o["scores"] + 1.0 * obs["candidate_followed"]
        obs, _, term, trunc, info = envs.step(np.argmax(score, axis=1)[:, None])
        for s in SIGNALS:
            total[s] += np.where(active, info["signals"][s][:, 0], 0.0)
        total["videos"] += active
        active &= ~(term | trunc)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rules = ("random", "greedy watch (oracle)", "watch + like propensity (oracle)",
             "cultivate followed creators (oracle)")
    res = {r: run(r, args.users, args.seed) for r in rules}
    print(f"{ENV}, {args.users} users (one session each), seed {args.seed}; per session:\n")
    cols = ("watch_time", "videos", "like", "share", "comment", "follow", "gift")
    print("| policy | " + " | ".join("watch time (s)" if c == "watch_time" else c for c in cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for r, t in res.items():
        print(f"| {r} | " + " | ".join(ci(t[c]) for c in cols) + " |")
    g = res["greedy watch (oracle)"]
    print("\n| paired difference to greedy watch | watch time (s) | share | gift |")
    print("|---|---:|---:|---:|")
    for r, t in res.items():
        if r != "greedy watch (oracle)":
            print(f"| {r} | " + " | ".join(ci(t[c] - g[c]) for c in ("watch_time", "share", "gift")) + " |")


if __name__ == "__main__":
    main()
