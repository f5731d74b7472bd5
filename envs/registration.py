"""Versioned environment ids. Importing :mod:`recarena` registers them with Gymnasium.

Entry points are strings, so registering imports no environment code. A behaviour change
bumps the version (``-v1``) instead of silently changing results; the determinism
fingerprints in ``tests/envs/fingerprints.json`` enforce this.
"""

from __future__ import annotations

import gymnasium as gym

__all__ = ["ENV_IDS", "register_envs"]

#: id -> (entry point, kwargs, max_episode_steps)
_SPECS: dict[str, tuple[str, dict, int | None]] = {
    "recarena/InterestEvolution-v0": ("recarena.envs.interest_evolution:InterestEvolutionEnv", {}, None),
    "recarena/Cascade-v0": ("recarena.envs.cascade:CascadeEnv", {}, None),
    "recarena/Slate-v0": ("recarena.envs.slate:SlateEnv", {}, None),
}

ENV_IDS: tuple[str, ...] = tuple(_SPECS)


def register_envs() -> None:
    """Register every recarena id with Gymnasium (idempotent)."""
    for env_id, (entry_point, kwargs, max_steps) in _SPECS.items():
        if env_id in gym.registry:
            continue
        gym.register(id=env_id, entry_point=entry_point, kwargs=kwargs,
                     max_episode_steps=max_steps, disable_env_checker=False)
