"""Reinforcement-learning agents that learn slates (torch; the ``rl`` extra).

Slate policy networks (:mod:`~recarena.agents.rl.networks`), the Plackett–Luce slate
distribution (:mod:`~recarena.agents.rl.distributions`), a native batched PPO trainer over
recarena's vector envs (:mod:`~recarena.agents.rl.ppo`) and trained policies that save,
load and evaluate like every other recarena policy (:mod:`~recarena.agents.rl.policy`).
Importing this package does not import torch; its modules do.
"""

from recarena._lazy import lazy_exports

_EXPORTS = {
    "ObservationLayout": "recarena.agents.rl.networks",
    "PlackettLuce": "recarena.agents.rl.distributions",
    "SlateActorCritic": "recarena.agents.rl.networks",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
