"""Action wrappers that let stable-baselines3 drive a slate environment.

SB3's PPO/A2C sample each position of a ``MultiDiscrete`` independently, so about one
slate in ten repeats an item; DQN takes only ``Discrete`` actions. Three ways out:

* :class:`DeduplicateSlate`: accepts any ``MultiDiscrete`` vector and repairs repeats
  deterministically, flagging the repair in ``info``;
* :class:`ScoreSlate`: the action is a score per candidate (``Box``); the slate is the top-K;
* :class:`EnumeratedSlate`: every ordered (or unordered) slate is one ``Discrete`` action,
  for small candidate sets.
"""

from __future__ import annotations

from itertools import combinations, permutations
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from recarena.envs.spaces import SlateSpace
from recarena.errors import ConfigError, InvalidSlate, describe
from recarena.validation import check_int

__all__ = ["DeduplicateSlate", "EnumeratedSlate", "ScoreSlate", "repair_slate"]


def _slate_space(env: gym.Env) -> SlateSpace:
    space = env.action_space
    if not isinstance(space, SlateSpace):
        raise ConfigError("env.action_space", space, "a SlateSpace (a recarena slate env)")
    return space


def repair_slate(action: np.ndarray, num_candidates: int) -> tuple[np.ndarray, bool]:
    """Replace repeated indices: the first occurrence stays, each later repeat becomes the
    smallest index that appears nowhere in the proposed slate. Returns the slate and
    whether it changed.

    >>> repair_slate(np.array([3, 3, 0]), 5)
    (array([3, 1, 0]), True)
    """
    values = action.tolist()
    if len(set(values)) == len(values):
        return action, False
    seen: set[int] = set()
    out = []
    free = (i for i in range(num_candidates) if i not in set(values))
    for v in values:
        if v in seen:
            v = next(free)
        seen.add(v)
        out.append(v)
    return np.asarray(out, dtype=np.int64), True


class DeduplicateSlate(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Plain ``MultiDiscrete`` actions; repeated candidates are repaired by :func:`repair_slate`.

    ``info["slate_repaired"]`` says whether this step's slate was changed, and
    ``info["slate"]`` holds the slate that was shown.
    """

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        space = _slate_space(env)
        self._c, self._k = space.num_candidates, space.slate_size
        self.action_space = spaces.MultiDiscrete(np.full(self._k, self._c, dtype=np.int64))

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        a = np.asarray(action)
        if a.shape != (self._k,) or a.dtype.kind not in "iu":
            raise InvalidSlate(f"expected {self._k} integer candidate indices in [0, {self._c}), "
                               f"received {describe(action)}")
        slate, repaired = repair_slate(a.astype(np.int64), self._c)
        obs, reward, terminated, truncated, info = self.env.step(slate)
        info["slate_repaired"] = repaired
        info["slate"] = slate
        return obs, reward, terminated, truncated, info


class ScoreSlate(gym.ActionWrapper, gym.utils.RecordConstructorArgs):
    """The action is one score per candidate in ``[-1, 1]``; the slate is the K
    highest-scoring candidates, best on top (ties broken by candidate index)."""

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.ActionWrapper.__init__(self, env)
        space = _slate_space(env)
        self._c, self._k = space.num_candidates, space.slate_size
        self.action_space = spaces.Box(-1.0, 1.0, (self._c,), np.float32)

    def action(self, action: Any) -> np.ndarray:
        a = np.asarray(action, dtype=np.float64)
        if a.shape != (self._c,) or not np.all(np.isfinite(a)):
            raise InvalidSlate(f"expected {self._c} finite candidate scores, received {describe(action)}")
        return np.argsort(-a, kind="stable")[: self._k].astype(np.int64)


class EnumeratedSlate(gym.ActionWrapper, gym.utils.RecordConstructorArgs):
    """Every slate is one ``Discrete`` action (for DQN and small candidate sets).

    Args:
        env: a recarena slate env.
        ordered: enumerate ordered slates (``C! / (C-K)!`` actions; position matters) or
            unordered ones (``C choose K``; shown in increasing candidate index).
        max_actions: refuse to enumerate more slates than this.
    """

    def __init__(self, env: gym.Env, ordered: bool = True, max_actions: int = 10_000) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, ordered=ordered, max_actions=max_actions)
        gym.ActionWrapper.__init__(self, env)
        space = _slate_space(env)
        max_actions = check_int(max_actions, "EnumeratedSlate.max_actions", 1)
        if not isinstance(ordered, bool):
            raise ConfigError("EnumeratedSlate.ordered", ordered, "a bool")
        c, k = space.num_candidates, space.slate_size
        count = 1
        for i in range(k):
            count *= c - i
        if not ordered:
            for i in range(2, k + 1):
                count //= i
        if count > max_actions:
            raise ConfigError("EnumeratedSlate", f"{count} slates of {k} out of {c}",
                              f"at most max_actions={max_actions} slates; use ScoreSlate or "
                              "DeduplicateSlate for large candidate sets")
        gen = permutations(range(c), k) if ordered else combinations(range(c), k)
        self.slates = np.array(list(gen), dtype=np.int64)
        self.action_space = spaces.Discrete(len(self.slates))

    def action(self, action: Any) -> np.ndarray:
        a = np.asarray(action)
        if a.shape not in ((), (1,)) or a.dtype.kind not in "iu" or not 0 <= int(a.ravel()[0]) < len(self.slates):
            raise InvalidSlate(f"expected an action index in [0, {len(self.slates)}), received {describe(action)}")
        return self.slates[int(a.ravel()[0])]
