"""Decisions per second of LinUCB and Diag-LinUCB (disjoint per-item models, d = 32) at
1,000 and 100,000 arms, scoring every arm for a batch of users, and of a full
policy-env loop on a vector env.

    python benchmarks/bench_policies.py [--batch 64] [--repeats 3]

Every figure comes from the same run on the same machine; the ratio Diag/full is the
figure that carries across machines.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import recarena  # noqa: F401
from recarena.agents import DiagLinUCB, LinUCB, make_policy


def _time(fn, repeats: int, *args) -> float:
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t)
    return best


def bench_arms(arms: int, dim: int, batch: int, repeats: int) -> list[tuple[str, float, float]]:
    rng = np.random.default_rng(0)
    ctx = rng.normal(size=(batch, dim))
    ctx /= np.linalg.norm(ctx, axis=1, keepdims=True)
    info = {"user_id": np.arange(batch), "candidate_ids": np.broadcast_to(np.arange(arms), (batch, arms))}
    rows = []
    for policy in (LinUCB(dim, 10, model="disjoint", scope="shared", num_items=arms),
                   DiagLinUCB(dim, 10, num_items=arms)):
        # warm the statistics with one observation per arm so no arm is at its prior
        warm = np.arange(arms)
        x = rng.normal(size=(arms, dim)) / np.sqrt(dim)
        policy._learn(warm, x, rng.random(arms))
        # a small batch for the slow full-covariance model at 100k arms
        b = batch if policy.covariance == "diag" or arms <= 10_000 else max(1, batch // 16)
        o = {"user_profile": ctx[:b]}
        inf = {"user_id": info["user_id"][:b], "candidate_ids": info["candidate_ids"][:b]}
        secs = _time(policy.recommend, repeats, o, inf)
        slates = policy.recommend(o, inf)
        resp = type("R", (), {"clicked": rng.random(slates.shape) < 0.1,
                              "examined": np.ones(slates.shape, bool)})()
        usecs = _time(policy.update, repeats, o, slates, resp, None, inf)
        rows.append((type(policy).__name__, b / secs, b * slates.shape[1] / usecs))
    return rows


def bench_loop(name: str, env_id: str, users: int, steps: int) -> tuple[float, float]:
    envs = gym.make_vec(env_id, num_envs=users, vectorization_mode="vector_entry_point")
    policy = make_policy(name, envs)
    obs, info = envs.reset(seed=0)
    policy.reset()
    t = time.perf_counter()
    for _ in range(steps):
        seen = {k: v for k, v in info.items() if k != "oracle"}
        slates = policy.recommend(obs, seen)
        nxt, reward, _, _, info = envs.step(slates)
        if hasattr(policy, "update"):
            policy.update(obs, slates, info["response"], reward, seen)
        obs = nxt
    secs = time.perf_counter() - t
    envs.close()
    return users * steps / secs, secs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dim", type=int, default=32)
    args = parser.parse_args()
    print(f"## Linear bandits, d = {args.dim}, disjoint per-item models, every arm scored\n")
    print("| arms | policy | decisions/s (users scored over all arms) | updates/s (observations) |")
    print("|---:|---|---:|---:|")
    for arms in (1_000, 100_000):
        for name, dps, ups in bench_arms(arms, args.dim, args.batch, args.repeats):
            print(f"| {arms:,} | {name} | {dps:,.1f} | {ups:,.0f} |")
    print("\n## Policy-env loop on a vector env (recommend + step + update), user-steps/s\n")
    print("| env | users | policy | user-steps/s |")
    print("|---|---:|---|---:|")
    for env_id, name in (("recarena/InterestEvolution-v0", "random"),
                         ("recarena/InterestEvolution-v0", "linucb"),
                         ("recarena/Cascade-v0", "cascade_kl_ucb"),
                         ("recarena/Cascade-v0", "thompson"),
                         ("recarena/ShortVideo-v0", "diag_linucb")):
        rate, _ = bench_loop(name, env_id, 1024, 50)
        print(f"| {env_id} | 1,024 | {name} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
