"""Reinforcement-learning agents that learn slates (torch; the ``rl`` extra).

* :mod:`~recarena.agents.rl.distributions`: the Plackett–Luce slate distribution
  (Gumbel-top-k sampling, exact log-probabilities);
* :mod:`~recarena.agents.rl.networks`: the slate actor-critic (one candidate encoder
  shared across candidates, a context encoder, a score per candidate, a value);
* :mod:`~recarena.agents.rl.ppo`: the native batched PPO trainer over recarena's vector
  envs (same-step autoreset, truncation bootstrap, normalisation, optional asymmetric
  critic);
* :mod:`~recarena.agents.rl.slateq`: SlateQ (Ie et al. 2019);
* :mod:`~recarena.agents.rl.sb3`: stable-baselines3 on the vector envs (``VecEnv``
  adapter, slate-aware SB3 policy, ``check_sb3``, SB3 models as recarena policies);
* :mod:`~recarena.agents.rl.policy`: trained networks as recarena policies (save, load).

``recarena train`` (:mod:`recarena.scenarios.train`) drives them from the command line.
Importing this package does not import torch; its modules do.
"""

from recarena._lazy import lazy_exports

_EXPORTS = {
    "ObservationLayout": "recarena.agents.rl.networks",
    "PPOConfig": "recarena.agents.rl.ppo",
    "PPOTrainer": "recarena.agents.rl.ppo",
    "PlackettLuce": "recarena.agents.rl.distributions",
    "RecArenaVecEnv": "recarena.agents.rl.sb3",
    "SB3DQNTrainer": "recarena.agents.rl.sb3",
    "SB3PPOTrainer": "recarena.agents.rl.sb3",
    "SB3Policy": "recarena.agents.rl.sb3",
    "SlateActorCritic": "recarena.agents.rl.networks",
    "SlateActorCriticPolicy": "recarena.agents.rl.sb3",
    "SlatePolicy": "recarena.agents.rl.policy",
    "SlateQConfig": "recarena.agents.rl.slateq",
    "SlateQPolicy": "recarena.agents.rl.slateq",
    "SlateQTrainer": "recarena.agents.rl.slateq",
    "check_sb3": "recarena.agents.rl.sb3",
    "load_policy": "recarena.agents.rl.policy",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
