"""PPO over recarena's native vector envs, with a slate policy (one file, CleanRL style).

Proximal Policy Optimization (Schulman et al. 2017, "Proximal Policy Optimization
Algorithms") with generalized advantage estimation (Schulman et al. 2016, "High-Dimensional
Continuous Control Using Generalized Advantage Estimation"), in the shape of CleanRL's
``ppo.py`` (Huang et al. 2022, "The 37 Implementation Details of Proximal Policy
Optimization"): orthogonal initialisation, Adam with a linearly annealed learning rate,
advantage normalisation per minibatch, clipped surrogate and value losses, global gradient
clipping, an optional early stop on the approximate KL.

What is specific to recommendation:

* **The policy is a slate policy**: :class:`~recarena.agents.rl.networks.SlateActorCritic`
  scores every candidate with shared weights and the slate is drawn from the
  :class:`~recarena.agents.rl.distributions.PlackettLuce` distribution of those scores
  (Gumbel-top-k). Every sampled slate is valid and its log-probability is exact, so the
  importance ratio of PPO is the ratio of the slates actually shown.
* **Same-step autoreset** (recarena's vector envs, SB3's convention): the step that ends a
  user's episode returns the next user's first observation, and the finished user's last
  one in ``info["final_obs"]``. So the transition at ``t`` ends the episode when
  ``terminated[t] | truncated[t]``; GAE does not look past it; and a *truncated* episode
  (time limit: the user would have gone on) is bootstrapped with ``gamma * V(final_obs)``
  added to its last reward (Pardo et al. 2018, "Time Limits in Reinforcement Learning").
  A terminated one (the user left) is not.
* **Normalisation**: observations through running statistics inside the network (saved
  with it; frozen during a rollout and its update, refreshed after, so the importance
  ratio starts at exactly 1); rewards scaled by the running standard deviation of the
  discounted return, as SB3's ``VecNormalize`` does.

Reproducibility: parameters, Gumbel noise and minibatch order come from generators seeded
by ``PPOConfig.seed``; the env from ``reset(seed=seed)``. Same seed, same machine, same
thread count: identical weights and learning curve.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from recarena.agents.rl.distributions import PlackettLuce
from recarena.agents.rl.networks import ObservationLayout, SlateActorCritic, obs_to_tensors
from recarena.errors import ConfigError
from recarena.validation import check_float, check_int

__all__ = ["PPOConfig", "PPOTrainer", "RunningReturnScale", "check_vector_env",
           "open_vector_env"]


@dataclass(frozen=True)
class PPOConfig:
    """PPO's hyperparameters (CleanRL's names; defaults fit recarena's slate envs).

    Attributes:
        num_envs: users simulated side by side (rows of the vector env).
        num_steps: steps per user per rollout (a rollout is ``num_envs * num_steps``).
        learning_rate: Adam's step size (annealed linearly to 0 with ``anneal_lr``).
        gamma: discount; recommendation returns are long sums, so close to 1.
        gae_lambda: GAE's lambda.
        num_minibatches: minibatches per epoch.
        update_epochs: passes over each rollout.
        clip_coef: PPO's ratio clip.
        clip_vloss: clip the value loss too.
        ent_coef: weight of the slate entropy bonus.
        vf_coef: weight of the value loss.
        max_grad_norm: global gradient-norm clip.
        target_kl: stop an update's epochs early when the approximate KL exceeds it.
        norm_obs: standardise observations (running statistics in the network).
        norm_reward: scale rewards by the running std of the discounted return.
        hidden: width of the network's hidden layers.
        seed: seed of the env, the parameters, the slates sampled and the minibatches.
        critic_oracle: per-user entries of ``info["oracle"]`` (e.g. ``("budget",)``) that
            the value head also sees: an asymmetric critic (Pinto et al. 2018). A
            simulator knows its users' hidden state; a critic that sees it explains far
            more of the return's variance (the user's remaining time budget decides how
            long the session lasts, and no observation shows it), so the advantages
            are less noisy. Only training uses it: the policy's scores read the
            observation alone, and evaluation gives it nothing else. For a truncated
            episode the bootstrap value uses the user's state one step before the end
            (the vector env has replaced the user by then).
        recurrent: a GRU over the context encoding carries each user's history within
            the episode (see :class:`~recarena.agents.rl.networks.SlateActorCritic`);
            trained as CleanRL's recurrent PPO does: minibatches are sets of users, each
            replayed through the whole rollout from its stored starting state, the state
            zeroed where a new user begins.
    """

    num_envs: int = 256
    num_steps: int = 32
    learning_rate: float = 3e-4
    anneal_lr: bool = True
    gamma: float = 0.99
    gae_lambda: float = 0.95
    num_minibatches: int = 4
    update_epochs: int = 4
    clip_coef: float = 0.2
    clip_vloss: bool = True
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    target_kl: float | None = None
    norm_obs: bool = True
    norm_reward: bool = True
    hidden: int = 64
    seed: int = 0
    critic_oracle: tuple[str, ...] = ()
    recurrent: bool = False

    def __post_init__(self) -> None:
        check_int(self.num_envs, "ppo.num_envs", 1)
        check_int(self.num_steps, "ppo.num_steps", 1)
        check_float(self.learning_rate, "ppo.learning_rate", 0.0, 1.0)
        check_float(self.gamma, "ppo.gamma", 0.0, 1.0)
        check_float(self.gae_lambda, "ppo.gae_lambda", 0.0, 1.0)
        check_int(self.num_minibatches, "ppo.num_minibatches", 1,
                  max(1, self.num_envs * self.num_steps // 2))  # minibatches of >= 2 samples
        check_int(self.update_epochs, "ppo.update_epochs", 1)
        check_float(self.clip_coef, "ppo.clip_coef", 0.0, 10.0)
        check_float(self.ent_coef, "ppo.ent_coef", 0.0, 10.0)
        check_float(self.vf_coef, "ppo.vf_coef", 0.0, 10.0)
        check_float(self.max_grad_norm, "ppo.max_grad_norm", 0.0, 1e6)
        if self.target_kl is not None:
            check_float(self.target_kl, "ppo.target_kl", 0.0, 10.0)
        check_int(self.hidden, "ppo.hidden", 1, 4096)
        if not isinstance(self.recurrent, bool):
            raise ConfigError("ppo.recurrent", self.recurrent, "true or false")
        if self.recurrent:
            check_int(self.num_minibatches, "ppo.num_minibatches (recurrent: users per "
                      "minibatch >= 1)", 1, self.num_envs)
        check_int(self.seed, "ppo.seed", 0)
        if isinstance(self.critic_oracle, str) or not all(
                isinstance(k, str) for k in self.critic_oracle):
            raise ConfigError("ppo.critic_oracle", self.critic_oracle,
                              "a list of info['oracle'] entry names, e.g. ['budget']")
        object.__setattr__(self, "critic_oracle", tuple(self.critic_oracle))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PPOConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError("ppo", unknown, "PPO settings: " + ", ".join(sorted(known)))
        return cls(**data)

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.num_steps


class RunningReturnScale:
    """Reward scaling by the running std of the discounted return (SB3's ``VecNormalize``
    reward normalisation, without centring): ``r / sqrt(Var[R] + eps)``, ``R`` the
    per-row discounted return so far, reset when the row's episode ends."""

    def __init__(self, n: int, gamma: float, eps: float = 1e-8) -> None:
        self.ret = np.zeros(n)
        self.gamma, self.eps = gamma, eps
        self.mean, self.var, self.count = 0.0, 1.0, 1e-4

    def __call__(self, reward: np.ndarray, done: np.ndarray) -> np.ndarray:
        self.ret = self.ret * self.gamma + reward
        b_mean, b_var, b = float(self.ret.mean()), float(self.ret.var()), self.ret.shape[0]
        delta, total = b_mean - self.mean, self.count + b
        self.mean += delta * b / total
        self.var = (self.var * self.count + b_var * b + delta**2 * self.count * b / total) / total
        self.count = total
        self.ret[done] = 0.0
        return reward / np.sqrt(self.var + self.eps)

    @property
    def scale(self) -> float:
        return float(np.sqrt(self.var + self.eps))

    def state_dict(self) -> dict[str, Any]:
        return {"ret": self.ret.copy(), "mean": self.mean, "var": self.var, "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.ret = np.asarray(state["ret"], dtype=np.float64).copy()
        self.mean, self.var, self.count = state["mean"], state["var"], state["count"]


def _stack_obs(rows: list[dict[str, Any]], space: gym.spaces.Dict) -> dict[str, np.ndarray]:
    return {k: np.stack([np.asarray(r[k]) for r in rows]) for k in space.spaces}


class PPOTrainer:
    """PPO with a Plackett–Luce slate policy over a recarena vector env.

    Args:
        envs: a recarena vector env (``gym.make_vec(id, num_envs=..., vectorization_mode=
            "vector_entry_point")``) in same-step autoreset mode, or an env id (built with
            ``config.num_envs`` users and ``env_kwargs``).
        config: :class:`PPOConfig`.
        env_kwargs: constructor arguments of the env when ``envs`` is an id.

    :meth:`learn` trains for a number of env steps (user-steps: ``num_envs`` per vector
    step) and records one row per update in :attr:`history`; :meth:`policy` is the
    trained network as a recarena :class:`~recarena.agents.rl.policy.SlatePolicy`;
    :meth:`state_dict` / :meth:`load_state_dict` checkpoint everything needed to resume
    (network, optimiser, normalisers, random streams, the env's users and the history).
    """

    algo = "ppo"

    def __init__(self, envs: gym.vector.VectorEnv | str, config: PPOConfig | None = None,
                 env_kwargs: dict[str, Any] | None = None) -> None:
        self.config = config = config or PPOConfig()
        if not isinstance(config, PPOConfig):
            raise ConfigError("PPOTrainer.config", config, "a PPOConfig")
        self.env_kwargs = dict(env_kwargs or {})
        envs, self.env_id, self._owns_env = open_vector_env(envs, config.num_envs,
                                                            self.env_kwargs, "trainer envs")
        self.envs = envs
        base = envs.unwrapped
        self.layout = ObservationLayout.from_space(envs.single_observation_space,
                                                   base.num_candidates, base.slate_size, "ppo")
        self.net = SlateActorCritic(self.layout, config.hidden, config.norm_obs, config.seed,
                                    critic_dim=len(config.critic_oracle),
                                    recurrent=config.recurrent)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.learning_rate, eps=1e-5)
        self.gen = torch.Generator().manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.reward_scale = RunningReturnScale(config.num_envs, config.gamma)
        self.global_step = 0
        self.updates = 0
        self.history: list[dict[str, float]] = []
        self._obs: dict[str, np.ndarray] | None = None
        self._critic: np.ndarray | None = None
        #: recurrent state of each row's user before the current observation
        self._state: torch.Tensor | None = self.net.initial_state(config.num_envs) \
            if config.recurrent else None
        self._ep_return = np.zeros(config.num_envs)
        self._ep_length = np.zeros(config.num_envs, dtype=np.int64)
        self._episodes: list[tuple[float, int]] = []

    # ---------------------------------------------------------------- training
    def learn(self, total_steps: int, callback: Callable[[PPOTrainer], bool | None] | None = None,
              time_limit: float | None = None) -> PPOTrainer:
        """Train until ``total_steps`` env steps in all (counting earlier calls: resuming
        from a checkpoint continues the same schedule), or ``time_limit`` seconds of this
        call. ``callback(trainer)`` runs after every update; returning False stops."""
        total = check_int(total_steps, "total_steps", 1)
        cfg = self.config
        began = time.perf_counter()
        # wall time continues across calls (a resumed run's curve stays monotonic)
        start = began - (self.history[-1]["wall_time"] if self.history else 0.0)
        if self._obs is None:
            self._obs, info = self.envs.reset(seed=cfg.seed)
            self._critic = self._critic_inputs(info)
            self.net.update_normalizer(self._obs)
            self.net.critic_norm.update(torch.as_tensor(self._critic))
        num_updates = max(1, -(-total // cfg.batch_size))
        while self.global_step < total:
            if cfg.anneal_lr:
                frac = 1.0 - self.updates / num_updates
                for group in self.optimizer.param_groups:
                    group["lr"] = max(frac, 0.0) * cfg.learning_rate
            t0 = time.perf_counter()
            batch = self._rollout()
            t1 = time.perf_counter()
            stats = self._update(batch)
            t2 = time.perf_counter()
            self.net.update_normalizer(batch["raw_obs"])
            self.net.critic_norm.update(batch["critic"])
            self.updates += 1
            returns = [r for r, _ in self._episodes]
            lengths = [n for _, n in self._episodes]
            self.history.append({
                "update": self.updates, "global_step": self.global_step,
                "wall_time": time.perf_counter() - start,
                "episodes": len(returns),
                "episode_return": float(np.mean(returns)) if returns else float("nan"),
                "episode_length": float(np.mean(lengths)) if lengths else float("nan"),
                "reward_per_step": float(batch["raw_reward"].mean()),
                "steps_per_s": cfg.batch_size / max(t2 - t0, 1e-9),
                "rollout_s": t1 - t0, "update_s": t2 - t1,
                "learning_rate": float(self.optimizer.param_groups[0]["lr"]),
            } | stats)
            self._episodes = []
            if callback is not None and callback(self) is False:
                break
            if time_limit is not None and time.perf_counter() - began >= time_limit:
                break
        return self

    def _critic_inputs(self, info: dict[str, Any]) -> np.ndarray:
        """``(N, len(critic_oracle))`` privileged inputs of the value head."""
        keys = self.config.critic_oracle
        if not keys:
            return np.zeros((self.config.num_envs, 0))
        oracle = info.get("oracle", {})
        cols = []
        for key in keys:
            if key not in oracle or np.asarray(oracle[key]).shape != (self.config.num_envs,):
                per_user = [k for k, v in oracle.items()
                            if np.asarray(v).shape == (self.config.num_envs,)]
                raise ConfigError("ppo.critic_oracle", key, "a per-user entry of this env's "
                                  "info['oracle']: " + (", ".join(per_user) or "none"))
            cols.append(np.asarray(oracle[key], dtype=np.float64))
        return np.stack(cols, axis=1)

    @torch.no_grad()
    def _rollout(self) -> dict[str, Any]:
        cfg, envs = self.config, self.envs
        n, t_len, k = cfg.num_envs, cfg.num_steps, self.layout.slate_size
        obs_keys = list(envs.single_observation_space.spaces)
        raw = {key: np.empty((t_len, *np.asarray(self._obs[key]).shape),
                             dtype=np.asarray(self._obs[key]).dtype) for key in obs_keys}
        actions = torch.empty(t_len, n, k, dtype=torch.long)
        logps, values = torch.empty(t_len, n), torch.empty(t_len, n)
        rewards, dones = torch.empty(t_len, n), torch.empty(t_len, n)
        raw_reward = np.empty((t_len, n))
        critic = torch.empty(t_len, n, len(cfg.critic_oracle))
        obs, crit, state = self._obs, self._critic, self._state
        start_state = None if state is None else state.clone()
        for t in range(t_len):
            for key in obs_keys:
                raw[key][t] = obs[key]
            critic[t] = torch.as_tensor(crit)
            logits, value, state = self.net.step(obs_to_tensors(obs), state, critic[t])
            dist = PlackettLuce(logits, k)
            slate = dist.sample(self.gen)
            actions[t], logps[t], values[t] = slate, dist.log_prob(slate), value
            obs, reward, term, trunc, info = envs.step(slate.numpy())
            before, crit = crit, self._critic_inputs(info)
            done = term | trunc
            raw_reward[t] = reward
            r = self.reward_scale(reward, done) if cfg.norm_reward else reward.astype(np.float64)
            cut = np.flatnonzero(trunc & ~term)
            if cut.size:  # bootstrap time-limit truncation from the finished user's last obs
                last = _stack_obs([info["final_obs"][i] for i in cut], envs.single_observation_space)
                r = r.copy()
                v = self.net.step(obs_to_tensors(last), None if state is None else state[cut],
                                  torch.as_tensor(before[cut]))[1]
                r[cut] += cfg.gamma * v.double().numpy()
            if state is not None:  # a new user starts from the zero state
                state = state * torch.as_tensor(~done, dtype=torch.float32)[:, None]
            rewards[t] = torch.as_tensor(r, dtype=torch.float32)
            dones[t] = torch.as_tensor(done, dtype=torch.float32)
            self._ep_return += reward
            self._ep_length += 1
            for i in np.flatnonzero(done):
                self._episodes.append((float(self._ep_return[i]), int(self._ep_length[i])))
            self._ep_return[done], self._ep_length[done] = 0.0, 0
        self._obs, self._critic, self._state = obs, crit, state
        self.global_step += n * t_len
        next_value = self.net.step(obs_to_tensors(obs), state, torch.as_tensor(crit))[1]
        # GAE; with same-step autoreset, dones[t] ends the episode of transition t
        adv = torch.zeros(t_len, n)
        last_gae = torch.zeros(n)
        for t in reversed(range(t_len)):
            next_v = next_value if t == t_len - 1 else values[t + 1]
            live = 1.0 - dones[t]
            delta = rewards[t] + cfg.gamma * next_v * live - values[t]
            last_gae = delta + cfg.gamma * cfg.gae_lambda * live * last_gae
            adv[t] = last_gae
        flat = {key: torch.as_tensor(v.reshape(t_len * n, *v.shape[2:])) for key, v in raw.items()}
        return {"obs": flat, "raw_obs": {key: v.reshape(t_len * n, *v.shape[2:])
                                          for key, v in raw.items()},
                "actions": actions.reshape(-1, k), "logps": logps.reshape(-1),
                "values": values.reshape(-1), "advantages": adv.reshape(-1),
                "critic": critic.reshape(t_len * n, -1),
                "returns": (adv + values).reshape(-1), "raw_reward": raw_reward,
                "start_state": start_state, "dones": dones}

    def _update(self, batch: dict[str, Any]) -> dict[str, float]:
        cfg = self.config
        clipfracs, kl = [], 0.0
        pg_loss = v_loss = entropy = torch.zeros(())
        for _epoch in range(cfg.update_epochs):
            for idx in self._minibatches():
                if cfg.recurrent:
                    logits, value = self._replay(batch, idx)
                else:
                    obs = {key: v[idx] for key, v in batch["obs"].items()}
                    logits, value = self.net(obs, batch["critic"][idx])
                dist = PlackettLuce(logits, self.layout.slate_size)
                new_logp, ent = dist.log_prob_and_entropy(batch["actions"][idx])
                log_ratio = new_logp - batch["logps"][idx]
                ratio = log_ratio.exp()
                with torch.no_grad():
                    kl = float(((ratio - 1) - log_ratio).mean())
                    clipfracs.append(float(((ratio - 1.0).abs() > cfg.clip_coef).float().mean()))
                adv = batch["advantages"][idx]
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                pg_loss = torch.max(-adv * ratio,
                                    -adv * ratio.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef)).mean()
                ret, old_v = batch["returns"][idx], batch["values"][idx]
                if cfg.clip_vloss:
                    clipped = old_v + (value - old_v).clamp(-cfg.clip_coef, cfg.clip_coef)
                    v_loss = 0.5 * torch.max((value - ret) ** 2, (clipped - ret) ** 2).mean()
                else:
                    v_loss = 0.5 * ((value - ret) ** 2).mean()
                entropy = ent.mean()
                loss = pg_loss - cfg.ent_coef * entropy + cfg.vf_coef * v_loss
                self.optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
                self.optimizer.step()
            if cfg.target_kl is not None and kl > cfg.target_kl:
                break
        y, v = batch["returns"].numpy(), batch["values"].numpy()
        var_y = float(np.var(y))
        return {"policy_loss": float(pg_loss.detach()), "value_loss": float(v_loss.detach()),
                "entropy": float(entropy.detach()), "approx_kl": kl,
                "clipfrac": float(np.mean(clipfracs)) if clipfracs else 0.0,
                "explained_variance": float("nan") if var_y == 0 else 1 - float(np.var(y - v)) / var_y}

    def _minibatches(self) -> list[torch.Tensor]:
        """Flat rollout indices (``t * N + row``) of each minibatch of an epoch: random
        transitions, or, for a recurrent network, every step of a random set of users."""
        cfg = self.config
        if not cfg.recurrent:
            order = torch.as_tensor(self.rng.permutation(cfg.batch_size))
            mb = cfg.batch_size // cfg.num_minibatches
            return [order[i:i + mb] for i in range(0, cfg.batch_size - mb + 1, mb)]
        rows = np.array_split(self.rng.permutation(cfg.num_envs), cfg.num_minibatches)
        steps = np.arange(cfg.num_steps)[:, None] * cfg.num_envs
        return [torch.as_tensor((steps + r[None, :]).reshape(-1)) for r in rows]

    def _replay(self, batch: dict[str, Any], idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and values of a recurrent minibatch (``idx`` from :meth:`_minibatches`:
        T steps of B users, step-major), recomputed through time from the users' states at
        the rollout's start, the state zeroed after an episode's last step."""
        t_len = self.config.num_steps
        rows = idx[: idx.shape[0] // t_len]  # step 0 holds each user once
        obs = {key: v[idx] for key, v in batch["obs"].items()}
        e, c = self.net.encode(obs)  # everything but the GRU in one batch
        c = c.view(t_len, rows.shape[0], -1)
        state, outputs = batch["start_state"][rows], []
        for t in range(t_len):
            state = self.net.gru(c[t], state)
            outputs.append(state)
            state = state * (1.0 - batch["dones"][t, rows])[:, None]
        return self.net.heads(e, torch.cat(outputs), batch["critic"][idx])

    # ---------------------------------------------------------------- results
    def policy(self, deterministic: bool = True) -> Any:
        """The trained network as a recarena policy (greedy top-K slates by default)."""
        from recarena.agents.rl.policy import SlatePolicy

        return SlatePolicy(self.net, deterministic=deterministic, meta=self.metadata())

    def metadata(self) -> dict[str, Any]:
        return {"algo": self.algo, "env_id": self.env_id, "env_kwargs": self.env_kwargs,
                "config": asdict(self.config), "global_step": self.global_step}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume training exactly (pickled by ``torch.save``)."""
        if self._obs is None:
            raise ConfigError("PPOTrainer.state_dict", "a trainer that has not started",
                              "learn() called at least once before checkpointing")
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                "gen": self.gen.get_state(), "rng": self.rng.bit_generator.state,
                "reward_scale": self.reward_scale.state_dict(), "global_step": self.global_step,
                "updates": self.updates, "history": list(self.history),
                "obs": {k: np.array(v) for k, v in self._obs.items()},
                "critic": np.array(self._critic),
                "state": None if self._state is None else self._state.clone(),
                "episode_counters": (self._ep_return.copy(), self._ep_length.copy()),
                "env_id": self.env_id, "env_kwargs": dict(self.env_kwargs),
                "env": self.envs.snapshot(), "config": asdict(self.config)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if (state.get("env_id"), state.get("env_kwargs")) != (self.env_id, self.env_kwargs):
            raise ConfigError("checkpoint env", f"{state.get('env_id')} {state.get('env_kwargs')}",
                              f"the trainer's env, {self.env_id} {self.env_kwargs}")
        if state.get("config") != asdict(self.config):
            raise ConfigError("checkpoint config", state.get("config"),
                              f"the trainer's configuration {asdict(self.config)}")
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.gen.set_state(state["gen"])
        self.rng.bit_generator.state = state["rng"]
        self.reward_scale.load_state_dict(state["reward_scale"])
        self.global_step, self.updates = int(state["global_step"]), int(state["updates"])
        self.history = list(state["history"])
        self.envs.reset(seed=self.config.seed)  # builds the world; restore puts users back
        self.envs.restore(state["env"])
        self._obs = {k: np.array(v) for k, v in state["obs"].items()}
        self._critic = np.array(state["critic"])
        self._state = None if state.get("state") is None else state["state"].clone()
        ret, length = state["episode_counters"]
        self._ep_return, self._ep_length = np.array(ret), np.array(length)

    def close(self) -> None:
        if self._owns_env:
            self.envs.close()


def open_vector_env(envs: gym.vector.VectorEnv | str, num_envs: int,
                    env_kwargs: dict[str, Any], owner: str
                    ) -> tuple[gym.vector.VectorEnv, str | None, bool]:
    """The vector env a native trainer runs on: ``envs`` itself, or the recarena env with
    id ``envs`` built with ``num_envs`` users and ``env_kwargs``; checked by
    :func:`check_vector_env` (an env built here is closed when the check fails). Returns
    the env, its id (``None`` when the env has no spec) and whether the trainer built it
    (and so closes it)."""
    owns_env = isinstance(envs, str)
    if isinstance(envs, str):
        import recarena  # noqa: F401  (registers the ids)

        env_id: str | None = envs
        envs = gym.make_vec(envs, num_envs=num_envs, vectorization_mode="vector_entry_point",
                            **env_kwargs)
    else:
        env_id = getattr(getattr(envs, "spec", None), "id", None)
    try:
        check_vector_env(envs, num_envs, owner)
    except ConfigError:
        if owns_env:
            envs.close()
        raise
    return envs, env_id, owns_env


def check_vector_env(envs: Any, num_envs: int, owner: str) -> Any:
    """A recarena vector env, or any Gymnasium vector env of the same shape: same-step
    autoreset with ``info["final_obs"]``, a ``Dict`` observation, ``num_candidates`` and
    ``slate_size`` attributes (on the env or, under Gymnasium vector wrappers, on its
    ``unwrapped`` env: a custom env in a test or a user's own simulator; checkpointing a
    trainer also needs ``snapshot`` and ``restore``), with ``num_envs`` users. ``owner``
    names the argument in the :class:`~recarena.errors.ConfigError` otherwise."""
    from gymnasium.vector import AutoresetMode

    base = getattr(envs, "unwrapped", envs)
    if not isinstance(envs, gym.vector.VectorEnv) or not all(
            hasattr(base, a) for a in ("num_candidates", "slate_size")):
        raise ConfigError(owner, envs,
                          "a recarena vector env (gym.make_vec(id, num_envs=N, "
                          "vectorization_mode='vector_entry_point')) or a registered recarena "
                          "env id")
    mode = envs.metadata.get("autoreset_mode")
    if mode not in (AutoresetMode.SAME_STEP, "same_step", "SameStep"):
        raise ConfigError(f"{owner} autoreset_mode", mode,
                          "AutoresetMode.SAME_STEP (the trainer reads info['final_obs'])")
    if envs.num_envs != num_envs:
        raise ConfigError(owner, f"{envs.num_envs} users", f"config.num_envs = {num_envs}")
    return envs
