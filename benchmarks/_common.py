"""What several benchmarks share: CartPole-v1's step rate (the reference every speed ratio
is measured against, in the same process and run) and the batched myopic oracle."""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np


def cartpole_rate(seconds: float) -> float:
    env = gym.make("CartPole-v1")
    env.action_space.seed(0)
    env.reset(seed=0)
    sample, step, reset = env.action_space.sample, env.step, env.reset
    n, t0 = 0, time.perf_counter()
    while True:
        for _ in range(1000):
            _, _, term, trunc, _ = step(sample())
            if term or trunc:
                reset()
        n += 1000
        if time.perf_counter() - t0 >= seconds:
            return n / (time.perf_counter() - t0)


def greedy(info: dict, k: int) -> np.ndarray:
    """Top-k true scores per row, best first (the myopic oracle, batched)."""
    scores = info["oracle"]["scores"]
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1)
    return np.take_along_axis(part, order, axis=1)
