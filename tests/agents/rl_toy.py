"""A tiny slate MDP with a known optimum, as a same-step-autoreset vector env.

"Kale or chocolate" (the long-term-satisfaction story of RecSim's choc/kale env, made
exactly solvable): each step a user sees ``C`` candidates, each kale (1) or chocolate (0),
at least one of each, in random positions; the policy shows one (K = 1). Chocolate pays
``1 + s`` now and lowers satisfaction ``s`` by 0.2; kale pays ``0.4 + s`` and raises it by
0.2 (``s`` clipped to [0, 1], starting at 0.5). The episode ends (terminated) after
``horizon`` steps. The observation holds ``s`` and the time left, so the problem is
Markov, and the optimum is computed exactly by dynamic programming over the 11 values of
``s`` (:func:`optimal_return`): kale early, chocolate in the last steps. A myopic policy
(always chocolate) earns far less.
"""

from __future__ import annotations

from functools import cache

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from recarena.envs.spaces import BatchSlateSpace, SlateSpace


def _pay(kind: int, s: float) -> tuple[float, float]:
    if kind == 1:
        return 0.4 + s, min(1.0, round(s + 0.2, 1))
    return 1.0 + s, max(0.0, round(s - 0.2, 1))


@cache
def optimal_return(s: float = 0.5, left: int = 10) -> float:
    """Expected return of the optimal policy (both kinds are always available)."""
    if left == 0:
        return 0.0
    return max(r + optimal_return(s2, left - 1) for r, s2 in (_pay(k, s) for k in (0, 1)))


def fixed_return(kind: int, s: float = 0.5, left: int = 10) -> float:
    total = 0.0
    for _ in range(left):
        r, s = _pay(kind, s)
        total += r
    return total


class KaleVectorEnv(gym.vector.VectorEnv):
    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int = 16, num_candidates: int = 4, horizon: int = 10,
                 truncate: bool = False, hide_state: bool = False) -> None:
        self.num_envs, self.num_candidates, self.slate_size = num_envs, num_candidates, 1
        self.horizon, self.truncate, self.hide_state = horizon, truncate, hide_state
        entries = {"candidate_kind": spaces.Box(0.0, 1.0, (num_candidates,), np.float32)}
        if not hide_state:  # hidden: only a policy with memory can know the time
            entries |= {"satisfaction": spaces.Box(0.0, 1.0, (1,), np.float32),
                        "time_left": spaces.Box(0.0, 1.0, (1,), np.float32)}
        self.single_observation_space = spaces.Dict(entries)
        self.single_action_space = SlateSpace(num_candidates, 1)
        self.action_space = BatchSlateSpace(num_envs, num_candidates, 1)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space,
                                                              num_envs)
        self.rng = np.random.default_rng(0)

    def _kinds(self, n: int) -> np.ndarray:
        kinds = (self.rng.random((n, self.num_candidates)) < 0.5).astype(np.float32)
        kinds[:, 0], kinds[:, 1] = 0.0, 1.0
        return self.rng.permuted(kinds, axis=1)

    def _obs(self) -> dict[str, np.ndarray]:
        if self.hide_state:
            return {"candidate_kind": self.kinds.copy()}
        return {"candidate_kind": self.kinds.copy(),
                "satisfaction": self.s[:, None].astype(np.float32),
                "time_left": (self.left / self.horizon)[:, None].astype(np.float32)}

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        n = self.num_envs
        self.s, self.left = np.full(n, 0.5), np.full(n, float(self.horizon))
        self.kinds, self.ret = self._kinds(n), np.zeros(n)
        self.user_id = np.arange(n)
        return self._obs(), {"user_id": self.user_id.copy()}

    def step(self, actions):
        a = np.asarray(actions).reshape(self.num_envs, -1)[:, 0]
        kind = self.kinds[np.arange(self.num_envs), a]
        reward = np.where(kind == 1, 0.4 + self.s, 1.0 + self.s)
        self.s = np.clip(np.round(self.s + np.where(kind == 1, 0.2, -0.2), 1), 0.0, 1.0)
        self.left -= 1
        self.ret += reward
        done = self.left <= 0
        term = done & (not self.truncate)
        trunc = done & self.truncate
        self.kinds = self._kinds(self.num_envs)
        obs = self._obs()
        info: dict = {"user_id": self.user_id.copy()}
        if done.any():
            final = np.full(self.num_envs, None, dtype=object)
            for i in np.flatnonzero(done):
                final[i] = {k: v[i].copy() for k, v in obs.items()}
            info["final_obs"], info["_final_obs"] = final, done
            info["final_info"] = {"episode_return": np.where(done, self.ret, 0.0),
                                  "episode_length": np.where(done, self.horizon, 0),
                                  "_episode_return": done, "_episode_length": done}
            self.ret[done] = 0.0
            self.s[done], self.left[done] = 0.5, float(self.horizon)
            self.user_id[done] += self.num_envs
            obs = self._obs()
            info["user_id"] = self.user_id.copy()
        return obs, reward, term, trunc, info
