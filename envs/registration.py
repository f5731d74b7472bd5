"""Versioned environment ids. Importing :mod:`recarena` registers them with Gymnasium.

Every id has a single-env ``entry_point`` and a native batched ``vector_entry_point``
(``gymnasium.make_vec(id, num_envs=N, vectorization_mode="vector_entry_point")``).
Entry points are strings, so registering imports no environment code. A behaviour change
bumps the version (``-v1``) instead of silently changing results; the determinism
fingerprints in ``tests/envs/fingerprints.json`` enforce this.
"""

from __future__ import annotations

import gymnasium as gym

__all__ = ["ENV_IDS", "register_envs"]

#: id -> (entry point, vector entry point, kwargs, max_episode_steps)
_SPECS: dict[str, tuple[str, str, dict, int | None]] = {
    "recarena/InterestEvolution-v0": ("recarena.envs.interest_evolution:InterestEvolutionEnv",
                                      "recarena.envs.vector:InterestEvolutionVectorEnv", {}, None),
    "recarena/Cascade-v0": ("recarena.envs.cascade:CascadeEnv",
                            "recarena.envs.vector:CascadeVectorEnv", {}, None),
    "recarena/Retention-v0": ("recarena.envs.retention:RetentionEnv",
                              "recarena.envs.vector:RetentionVectorEnv", {}, None),
    "recarena/LongTermSatisfaction-v0": (
        "recarena.envs.long_term_satisfaction:LongTermSatisfactionEnv",
        "recarena.envs.vector:LongTermSatisfactionVectorEnv", {}, None),
    "recarena/InterestExploration-v0": (
        "recarena.envs.interest_exploration:InterestExplorationEnv",
        "recarena.envs.vector:InterestExplorationVectorEnv", {}, None),
    "recarena/ShortVideo-v0": ("recarena.envs.short_video:ShortVideoEnv",
                               "recarena.envs.vector:ShortVideoVectorEnv", {}, None),
    "recarena/Slate-v0": ("recarena.envs.slate:SlateEnv",
                          "recarena.envs.vector:SlateVectorEnv", {}, None),
    "recarena/MovieLens-v0": ("recarena.envs.movielens:MovieLensEnv",
                              "recarena.envs.vector:MovieLensVectorEnv", {}, None),
    "recarena/CreatorEcosystem-v0": ("recarena.envs.creator_ecosystem:CreatorEcosystemEnv",
                                     "recarena.envs.vector:CreatorEcosystemVectorEnv", {}, None),
}

ENV_IDS: tuple[str, ...] = tuple(_SPECS)


def register_envs() -> None:
    """Register every recarena id with Gymnasium (idempotent)."""
    for env_id, (entry_point, vector_entry_point, kwargs, max_steps) in _SPECS.items():
        if env_id in gym.registry:
            continue
        gym.register(id=env_id, entry_point=entry_point, vector_entry_point=vector_entry_point,
                     kwargs=kwargs, max_episode_steps=max_steps, disable_env_checker=False)
