"""recarena: simulation and reinforcement-learning environments for recommender systems.

>>> import recarena
>>> "recarena/InterestEvolution-v0" in recarena.list_envs()
True
>>> env = recarena.make("recarena/Cascade-v0")
"""

from __future__ import annotations

from typing import Any

from recarena import errors
from recarena.envs.registration import ENV_IDS, register_envs

__version__ = "0.1.0"
__all__ = ["__version__", "errors", "list_envs", "make"]

register_envs()


def list_envs() -> list[str]:
    """The registered recarena environment ids."""
    return list(ENV_IDS)


def make(env_id: str, **kwargs: Any) -> Any:
    """``gymnasium.make`` for a recarena id, with a clear error for an unknown one.

    ``env_id`` may omit the ``recarena/`` namespace.
    """
    import gymnasium as gym

    if not isinstance(env_id, str):
        raise errors.ConfigError("env_id", env_id, "a string such as 'recarena/InterestEvolution-v0'")
    full = env_id if env_id.startswith("recarena/") else f"recarena/{env_id}"
    if full not in ENV_IDS:
        raise errors.UnknownEnvError(
            f"unknown environment id {env_id!r}; registered ids: {', '.join(ENV_IDS)}")
    return gym.make(full, **kwargs)
