"""stable-baselines3 on recarena's slate envs: a ``VecEnv`` adapter, a slate-aware policy,
a pre-training check, SB3 models as recarena policies, and a trainer with the native
trainer's interface.

**The adapter.** :class:`RecArenaVecEnv` presents a recarena vector env (``gym.make_vec(id,
num_envs=N, vectorization_mode="vector_entry_point")``) as an SB3 ``VecEnv``: N users in
one batch, no per-user env objects. recarena's same-step autoreset *is* SB3's convention:
the step that ends user ``i``'s episode returns the next user's first observation, with
``infos[i]["terminal_observation"]`` the finished user's last observation (from
``info["final_obs"][i]``), ``infos[i]["TimeLimit.truncated"] = truncated and not
terminated`` (SB3 bootstraps those from the value of the terminal observation) and
``dones = terminated | truncated``. The info of a finished episode also carries
``"episode": {"r", "l", "t"}`` as SB3's ``Monitor`` writes it, so ``ep_rew_mean`` is logged
and ``VecMonitor`` is not needed (wrapping one on top rewrites the same numbers). The
batched info of the last step stays in :attr:`RecArenaVecEnv.last_info`; the per-row
dicts hold only what SB3 reads.

**The slate policy.** SB3's default policies for a ``MultiDiscrete`` action sample every
slate position independently, so repeated items appear (about one slate in ten on
InterestEvolution-v0). :class:`SlateActorCriticPolicy` (for ``PPO`` and ``A2C``) runs
recarena's :class:`~recarena.agents.rl.networks.SlateActorCritic` (one candidate encoder
shared across candidates, a context encoder, a score per candidate, a value) and draws
slates from :class:`SlateDistribution`, an SB3 ``Distribution`` around
:class:`~recarena.agents.rl.distributions.PlackettLuce`: sampled slates are always valid
(Gumbel-top-k; no repair), ``log_prob`` is the exact Plackett–Luce log-probability of the
ordered slate, and ``entropy`` is the chain entropy along the evaluated slates (an
unbiased estimate of the slate entropy, exact for K = 1; the exact value sums
``C!/(C-K)!`` terms). How the pieces map onto SB3's:

==========================  ====================================================
SB3                          here
==========================  ====================================================
``features_extractor``       :class:`SlateFeatureExtractor`: holds the
                             ``SlateActorCritic`` (``.net``); its output, for
                             other algorithms, is ``[c, e_1, ..., e_C]``
``mlp_extractor``            none: the per-candidate score MLP of the network
``action_net`` / dist        ``net.score`` → logits ``(B, C)`` →
                             :class:`SlateDistribution` (Plackett–Luce)
``value_net``                ``net.value`` on ``[c, mean_i e_i]``
``preprocess_obs``           skipped: the network reads raw observations
                             (one-hot of per-candidate ``MultiDiscrete`` entries
                             and running normalisation are its own)
==========================  ====================================================

Observation normalisation runs inside the network (``normalize=True``): statistics are
gathered from every observation of a rollout and applied at the start of the next one,
so they are frozen during a rollout and its update and PPO's ratio starts at exactly 1
(as in the native trainer).

**The check_env gap.** The raw env passes SB3's ``check_env`` (its actions are a
``MultiDiscrete``), yet PPO with ``"MultiInputPolicy"`` fails on its first repeated item.
Decision: the adapter never repairs slates; a batch with a repeated candidate raises
:class:`~recarena.errors.ConfigError` at that step, explaining that the policy is not
slate-aware and what to use instead (:class:`SlateActorCriticPolicy`, or a single env
wrapped in ``DeduplicateSlate`` / ``ScoreSlate`` / ``EnumeratedSlate``, or
``RecArenaVecEnv(actions="enumerated")`` for DQN). With 32 users or more that is the
first step in practice (with one user, the first repeat). :func:`check_sb3` catches the
mismatch *before* any step, deterministically: it runs SB3's ``check_env`` on the single
env, refuses a policy that is not slate-aware on a slate action space, and runs one short
rollout and update of the given policy through the adapter.

**Evaluation.** :class:`SB3Policy` is an SB3 model as a recarena
:class:`~recarena.agents.base.Policy` (deterministic ``model.predict`` by default), and
:func:`recarena.agents.evaluate` wraps any SB3 model in one, so SB3 models get the paired
seeds of native policies. Actions map back to slates by the action mapping the model was
trained with: read from its env (a slate wrapper on a single env, or the adapter), given
as ``wrapper=``, or inferred from its action space.

**The trainer.** :class:`SB3Trainer` (``algo="sb3-ppo"``: PPO with the slate policy
through the adapter; ``algo="sb3-dqn"``: DQN over every ordered slate as one discrete
action, through the adapter's ``actions="enumerated"``, refused beyond ``max_slates``)
has the interface of :class:`~recarena.agents.rl.ppo.PPOTrainer`.

This module imports torch and stable-baselines3 (the ``rl`` extra).
"""

from __future__ import annotations

import copy
import inspect
import io
import math
import time
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from itertools import combinations, permutations
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.distributions import Distribution
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import VecEnv, VecNormalize
from torch import nn

from recarena.agents.base import ReportsPropensity
from recarena.agents.rl.distributions import PlackettLuce
from recarena.agents.rl.networks import (
    CANDIDATE_PREFIX,
    ObservationLayout,
    RunningNorm,
    SlateActorCritic,
)
from recarena.errors import ConfigError, InvalidSlate
from recarena.validation import check_int

__all__ = ["RecArenaVecEnv", "SB3DQNTrainer", "SB3PPOTrainer", "SB3Policy", "SB3Trainer",
           "SlateActorCriticPolicy", "SlateDistribution", "SlateFeatureExtractor",
           "check_sb3", "is_slate_aware"]

#: what the adapter and the trainer say when a policy proposes a slate with a repeat
_SLATE_HELP = ("valid slates (distinct candidates). SB3's default policies for a "
               "MultiDiscrete action ('MultiInputPolicy') sample each slate position "
               "independently and repeat items; use recarena.agents.rl.sb3."
               "SlateActorCriticPolicy (Plackett-Luce: valid slates, exact log-probability), "
               "or train on a single env wrapped in DeduplicateSlate / ScoreSlate / "
               "EnumeratedSlate (recarena.envs.wrappers), or RecArenaVecEnv(actions="
               "'enumerated') for DQN; check_sb3(env, policy) checks a policy before training")


def _count_slates(c: int, k: int) -> int:
    return math.perm(c, k)


def _check_slate_count(c: int, k: int, max_slates: int, owner: str) -> int:
    count = _count_slates(c, k)
    if count > max_slates:
        raise ConfigError(owner, f"{count:,} ordered slates of {k} out of {c} candidates "
                                 f"(C!/(C-K)! = {count:,})",
                          f"at most max_slates={max_slates:,} slates, one discrete action each; "
                          "use sb3-ppo (the Plackett-Luce slate policy) for large candidate sets")
    return count


def _is_same_step(envs: Any) -> bool:
    from gymnasium.vector import AutoresetMode

    mode = getattr(envs, "metadata", {}).get("autoreset_mode")
    return mode in (AutoresetMode.SAME_STEP, "same_step", "SameStep")


def _check_vector_env(envs: Any, owner: str) -> Any:
    """A recarena vector env, or any Gymnasium vector env of the same shape (same-step
    autoreset with ``info["final_obs"]``, a ``Dict`` observation, ``num_candidates`` and
    ``slate_size``): the native trainer's criterion."""
    if not isinstance(envs, gym.vector.VectorEnv) or not all(
            hasattr(envs, a) for a in ("num_candidates", "slate_size")):
        hint = (" (a single env: train SB3 on it through a slate wrapper and DummyVecEnv, or "
                "use gym.make_vec)" if isinstance(envs, gym.Env) else "")
        raise ConfigError(owner, envs, "a recarena vector env (gym.make_vec(id, num_envs=N, "
                                       "vectorization_mode='vector_entry_point')) or a "
                                       "registered recarena env id" + hint)
    if not _is_same_step(envs):
        raise ConfigError(f"{owner} autoreset_mode", envs.metadata.get("autoreset_mode"),
                          "AutoresetMode.SAME_STEP (SB3's VecEnv convention: the adapter "
                          "reads info['final_obs'])")
    if not isinstance(envs.single_observation_space, spaces.Dict):
        raise ConfigError(f"{owner} observation space", envs.single_observation_space,
                          "a Dict observation space (a recarena env)")
    return envs


def _make_vec(env_id: str, num_envs: int, env_kwargs: dict[str, Any] | None) -> Any:
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point",
                        **(env_kwargs or {}))


# ======================================================================== the adapter
class RecArenaVecEnv(VecEnv):
    """A recarena vector env as a stable-baselines3 ``VecEnv`` (see the module docstring).

    Args:
        envs: a recarena vector env in same-step autoreset mode (or any Gymnasium vector
            env with ``num_candidates``, ``slate_size``, a ``Dict`` observation and
            ``info["final_obs"]``), or a registered env id.
        num_envs: users, when ``envs`` is an id (default 1).
        actions: ``"slate"`` (the action space is the env's
            :class:`~recarena.envs.spaces.SlateSpace`, a ``MultiDiscrete``; a repeated
            candidate raises :class:`~recarena.errors.ConfigError`) or ``"enumerated"``
            (``Discrete(C!/(C-K)!)``: action ``a`` shows ordered slate :attr:`slates[a]
            <slates>`, as ``EnumeratedSlate`` does on a single env; for DQN).
        max_slates: with ``actions="enumerated"``, refuse more slates than this.
        env_kwargs: constructor arguments of the env when ``envs`` is an id.

    **Seeding** follows SB3: ``seed(s)`` sets ``_seeds = [s, s + 1, ...]`` for the next
    ``reset()``; the recarena world takes one seed, ``_seeds[0]`` (the first one set), so
    ``seed(s); reset()`` equals ``envs.reset(seed=s)``. ``reset()`` with no seed set goes
    on with the world's streams. ``set_options`` passes ``_options[0]`` likewise.

    **Attributes and methods** (``get_attr``, ``set_attr``, ``env_method``): the N rows are
    one object, the vector env. ``get_attr`` returns its attribute once per index asked;
    ``env_method`` calls the method once and returns its result once per index asked;
    ``set_attr`` sets it for every row and refuses a strict subset of rows.
    ``env_is_wrapped`` looks through the vector env's Gymnasium vector wrappers.

    ``render()`` returns the vector env's text (``render_mode="ansi"``).
    """

    def __init__(self, envs: Any, num_envs: int | None = None, actions: str = "slate",
                 max_slates: int = 10_000, env_kwargs: dict[str, Any] | None = None) -> None:
        owner = "RecArenaVecEnv.envs"
        if isinstance(envs, str):
            n = 1 if num_envs is None else check_int(num_envs, "RecArenaVecEnv.num_envs", 1)
            envs = _make_vec(envs, n, env_kwargs)
        elif env_kwargs:
            raise ConfigError("RecArenaVecEnv.env_kwargs", env_kwargs,
                              "None when an env object is given")
        self.envs = _check_vector_env(envs, owner)
        if num_envs is not None and \
                check_int(num_envs, "RecArenaVecEnv.num_envs", 1) != envs.num_envs:
            raise ConfigError("RecArenaVecEnv.num_envs", num_envs,
                              f"the vector env's num_envs ({envs.num_envs}) or None")
        if actions not in ("slate", "enumerated"):
            raise ConfigError("RecArenaVecEnv.actions", actions, "'slate' or 'enumerated'")
        self.actions = actions
        self.num_candidates, self.slate_size = int(envs.num_candidates), int(envs.slate_size)
        c, k = self.num_candidates, self.slate_size
        #: the ordered slates of ``actions="enumerated"`` (``(M, K)``), else ``None``
        self.slates: np.ndarray | None = None
        if actions == "enumerated":
            max_slates = check_int(max_slates, "RecArenaVecEnv.max_slates", 1)
            _check_slate_count(c, k, max_slates, "RecArenaVecEnv(actions='enumerated')")
            self.slates = np.array(list(permutations(range(c), k)), dtype=np.int64)
            action_space: spaces.Space = spaces.Discrete(len(self.slates))
        else:
            action_space = envs.single_action_space
        super().__init__(envs.num_envs, envs.single_observation_space, action_space)
        self.metadata = {**self.metadata, "autoreset_mode": envs.metadata.get("autoreset_mode")}
        #: the vector env's batched info of the last ``reset`` / ``step``
        self.last_info: dict[str, Any] = {}
        self._returns = np.zeros(self.num_envs)
        self._lengths = np.zeros(self.num_envs, dtype=np.int64)
        self._episodes: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=4096)
        self._reward_sum, self._reward_count = 0.0, 0
        self._actions: np.ndarray | None = None
        self.t_start = time.time()
        self._closed = False

    # --------------------------------------------------------------- VecEnv API
    @property
    def spec(self) -> Any:
        return getattr(self.envs, "spec", None)

    def reset(self) -> dict[str, np.ndarray]:
        seeds = [s for s in self._seeds if s is not None]
        options = next((o for o in self._options if o), None)
        obs, info = self.envs.reset(seed=None if not seeds else int(seeds[0]), options=options)
        self.last_info = info
        ids = info.get("user_id")
        if ids is not None:
            self.reset_infos = [{"user_id": u} for u in np.asarray(ids).tolist()]
        else:
            self.reset_infos = [{} for _ in range(self.num_envs)]
        self._returns[:] = 0.0
        self._lengths[:] = 0
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def _slates(self, actions: Any) -> np.ndarray:
        if self.slates is None:
            return actions
        a = np.asarray(actions)
        m = len(self.slates)
        if a.size != self.num_envs or a.dtype.kind not in "iu" or a.min() < 0 or a.max() >= m:
            raise InvalidSlate(f"expected {self.num_envs} action indices in [0, {m}) "
                               f"(one enumerated slate per user), received shape {a.shape}, "
                               f"dtype {a.dtype}")
        return self.slates[a.reshape(self.num_envs)]

    def step_wait(self) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, list[dict]]:
        if self._actions is None:
            raise ConfigError("RecArenaVecEnv.step_wait", None, "step_async(actions) first")
        slates = self._slates(self._actions)
        self._actions = None
        try:
            obs, reward, term, trunc, info = self.envs.step(slates)
        except InvalidSlate as exc:
            rows = _repeat_rows(slates)
            if rows.size:
                raise ConfigError("SB3 actions", f"slates repeating a candidate in rows "
                                  f"{rows[:10].tolist()} ({rows.size} of {self.num_envs})",
                                  _SLATE_HELP) from exc
            raise
        self.last_info = info
        reward = np.asarray(reward)
        term, trunc = np.asarray(term, dtype=bool), np.asarray(trunc, dtype=bool)
        dones = term | trunc
        self._returns += reward
        self._lengths += 1
        self._reward_sum += float(reward.sum())
        self._reward_count += reward.shape[0]
        infos = [{"TimeLimit.truncated": t} for t in (trunc & ~term).tolist()]
        if dones.any():
            rows = np.flatnonzero(dones)
            final_obs = info["final_obs"]
            t = round(time.time() - self.t_start, 6)
            rets, lens = self._returns[rows], self._lengths[rows]
            for j, i in enumerate(rows.tolist()):
                row = infos[i]
                row["terminal_observation"] = final_obs[i]
                row["episode"] = {"r": float(rets[j]), "l": int(lens[j]), "t": t}
            self._episodes.append((rets.copy(), lens.copy()))
            self._returns[rows] = 0.0
            self._lengths[rows] = 0
        return obs, reward.astype(np.float32), dones, infos

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.envs.close()

    def render(self, mode: str | None = None) -> Any:
        if mode is not None and mode != self.render_mode:
            warnings.warn(f"RecArenaVecEnv.render(mode={mode!r}): the env was made with "
                          f"render_mode={self.render_mode!r}", stacklevel=2)
            return None
        return self.envs.render()

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None] * self.num_envs

    # -------------------------------------------------- attributes of one batched env
    def _indices(self, indices: Any) -> list[int]:
        out = list(self._get_indices(indices))
        bad = [i for i in out if not isinstance(i, (int, np.integer)) or not 0 <= i < self.num_envs]
        if bad:
            raise ConfigError("RecArenaVecEnv indices", bad, f"row indices in [0, {self.num_envs})")
        return out

    def _lookup(self, name: str) -> Any:
        getter = getattr(self.envs, "get_wrapper_attr", None)
        if getter is not None:
            return getter(name)
        return getattr(self.envs, name)

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        rows = self._indices(indices)
        value = self._lookup(attr_name)
        return [value for _ in rows]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        rows = self._indices(indices)
        if sorted(set(rows)) != list(range(self.num_envs)):
            raise ConfigError("RecArenaVecEnv.set_attr indices", rows,
                              f"every row (None): the {self.num_envs} users are one vector env")
        setter = getattr(self.envs, "set_wrapper_attr", None)
        if setter is not None:
            setter(attr_name, value)
        else:
            setattr(self.envs, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None,
                   **method_kwargs: Any) -> list[Any]:
        rows = self._indices(indices)
        result = self._lookup(method_name)(*method_args, **method_kwargs)
        return [result for _ in rows]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        rows = self._indices(indices)
        env, found = self.envs, False
        while env is not None and not found:
            found = isinstance(env, wrapper_class)
            env = env.env if isinstance(env, gym.vector.VectorWrapper) else None
        return [found for _ in rows]

    # -------------------------------------------------------------- for the trainer
    def drain_episodes(self) -> tuple[np.ndarray, np.ndarray, float]:
        """Returns and lengths of the episodes finished since the last call, and the mean
        reward per user-step over those steps (NaN if none)."""
        if self._episodes:
            rets = np.concatenate([r for r, _ in self._episodes])
            lens = np.concatenate([n for _, n in self._episodes])
        else:
            rets, lens = np.zeros(0), np.zeros(0, dtype=np.int64)
        mean = self._reward_sum / self._reward_count if self._reward_count else float("nan")
        self._episodes.clear()
        self._reward_sum, self._reward_count = 0.0, 0
        return rets, lens, mean

    def state(self) -> dict[str, Any]:
        """The vector env's snapshot and the adapter's episode counters (for resuming)."""
        snap = self.envs.snapshot() if hasattr(self.envs, "snapshot") else None
        return {"env": snap, "returns": self._returns.copy(), "lengths": self._lengths.copy()}

    def restore(self, state: dict[str, Any]) -> None:
        if state.get("env") is not None:
            self.envs.restore(state["env"])
        self._returns[:] = state["returns"]
        self._lengths[:] = state["lengths"]

    def __repr__(self) -> str:
        return (f"RecArenaVecEnv({getattr(self.spec, 'id', type(self.envs).__name__)}, "
                f"num_envs={self.num_envs}, actions={self.actions!r})")


def _repeat_rows(slates: Any) -> np.ndarray:
    a = np.asarray(slates)
    if a.ndim != 2 or a.shape[1] < 2:
        return np.zeros(0, dtype=np.int64)
    srt = np.sort(a, axis=1)
    return np.flatnonzero((srt[:, 1:] == srt[:, :-1]).any(axis=1))


# ======================================================================== the policy
class SlateDistribution(Distribution):
    """SB3's ``Distribution`` for slates: :class:`PlackettLuce` over the candidate scores.

    ``sample`` is a Gumbel-top-k draw (a valid ordered slate of ``slate_size`` distinct
    candidates), ``mode`` the top-K, ``log_prob`` the exact log-probability of each ordered
    slate ``(B,)``. ``entropy`` is the chain entropy ``sum_j H(S_j | S_<j)`` along the
    slates last passed to ``log_prob`` (or last sampled; a fresh sample if none): an
    unbiased estimate of the slate entropy when those slates come from this distribution,
    as PPO's rollout slates approximately do, and exact for K = 1.
    """

    def __init__(self, slate_size: int) -> None:
        super().__init__()
        self.slate_size = int(slate_size)
        self.pl: PlackettLuce | None = None
        self._slates: torch.Tensor | None = None

    def proba_distribution_net(self, *args: Any, **kwargs: Any) -> nn.Module:
        """The logits come from the slate network's per-candidate score head."""
        return nn.Identity()

    def proba_distribution(  # type: ignore[override]
            self, logits: torch.Tensor) -> SlateDistribution:
        self.pl = PlackettLuce(logits, self.slate_size)
        self._slates = None
        return self

    def _dist(self) -> PlackettLuce:
        if self.pl is None:
            raise ConfigError("SlateDistribution", None, "proba_distribution(logits) first")
        return self.pl

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        slates = actions.long().reshape(-1, self.slate_size)
        self._slates = slates
        return self._dist().log_prob(slates)

    def log_prob_and_entropy(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``log_prob(actions)`` and the chain entropy along ``actions`` in one pass."""
        slates = actions.long().reshape(-1, self.slate_size)
        self._slates = slates
        return self._dist().log_prob_and_entropy(slates)

    def entropy(self) -> torch.Tensor:
        slates = self._slates if self._slates is not None else self.sample()
        return self._dist().chain_entropy(slates)

    def sample(self) -> torch.Tensor:
        self._slates = self._dist().sample()
        return self._slates

    def mode(self) -> torch.Tensor:
        return self._dist().mode()

    def actions_from_params(self, logits: torch.Tensor,
                            deterministic: bool = False) -> torch.Tensor:
        self.proba_distribution(logits)
        return self.get_actions(deterministic=deterministic)

    def log_prob_from_params(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        actions = self.actions_from_params(logits)
        return actions, self.log_prob(actions)


def _candidate_count(space: spaces.Dict, owner: str) -> int:
    sizes = {int(sub.shape[0]) for key, sub in space.spaces.items()
             if key.startswith(CANDIDATE_PREFIX) and sub.shape}
    if len(sizes) != 1:
        raise ConfigError(f"{owner}.num_candidates", None,
                          "the number of candidates C (it cannot be read from the observation's "
                          f"'{CANDIDATE_PREFIX}*' entries: leading sizes {sorted(sizes)})")
    return sizes.pop()


class SlateFeatureExtractor(BaseFeaturesExtractor):
    """recarena's slate network as an SB3 features extractor.

    It holds a :class:`~recarena.agents.rl.networks.SlateActorCritic` (``.net``, built from
    the observation's :class:`~recarena.agents.rl.networks.ObservationLayout`).
    :class:`SlateActorCriticPolicy` uses the whole network (encoders, score and value
    heads). Plugged into another SB3 algorithm (``policy_kwargs=dict(
    features_extractor_class=SlateFeatureExtractor, features_extractor_kwargs=dict(
    hidden=64))``, e.g. DQN over enumerated slates), its output is the context encoding
    followed by every candidate's encoding from the shared encoder, ``[c, e_1, ..., e_C]``
    (``(C + 1) * hidden`` features); the score and value heads are then unused.

    Args:
        observation_space: the env's ``Dict`` observation space.
        num_candidates: C (default: read from the ``candidate_*`` entries).
        slate_size: K (the policy's slate size; irrelevant to the features).
        hidden: width of the network's layers.
        normalize: standardise inputs with running statistics inside the network. Only
            :class:`SlateActorCriticPolicy` updates them; with another algorithm keep the
            default False (or normalise with ``VecNormalize``).
        seed: seed of the parameter initialisation (default: drawn from torch's global
            generator, which SB3 seeds).

    ``forward`` takes the observation as SB3 preprocesses it (``MultiDiscrete`` entries one-hot)
    and undoes that, so the network sees what its layout expects (:meth:`raw`).
    """

    def __init__(self, observation_space: spaces.Dict, num_candidates: int | None = None,
                 slate_size: int = 1, hidden: int = 64, normalize: bool = False,
                 seed: int | None = None) -> None:
        owner = "SlateFeatureExtractor"
        if not isinstance(observation_space, spaces.Dict):
            raise ConfigError(f"{owner}.observation_space", observation_space,
                              "a Dict observation space (a recarena env)")
        c = _candidate_count(observation_space, owner) if num_candidates is None else \
            check_int(num_candidates, f"{owner}.num_candidates", 1)
        hidden = check_int(hidden, f"{owner}.hidden", 1, 4096)
        if not isinstance(normalize, bool):
            raise ConfigError(f"{owner}.normalize", normalize, "True or False")
        layout = ObservationLayout.from_space(observation_space, c,
                                              check_int(slate_size, f"{owner}.slate_size", 1, c),
                                              owner)
        super().__init__(observation_space, features_dim=(c + 1) * hidden)
        if seed is None:
            seed = int(torch.randint(0, 2**31 - 1, ()).item())
        self.layout = layout
        self.net = SlateActorCritic(layout, hidden, normalize, check_int(seed, f"{owner}.seed", 0))
        self._onehot = {key: (np.asarray(sub.nvec).ravel().tolist(), tuple(sub.shape))
                        for key, sub in observation_space.spaces.items()
                        if isinstance(sub, spaces.MultiDiscrete)}

    def raw(self, observations: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Undo SB3's ``preprocess_obs``: one-hot ``MultiDiscrete`` entries back to indices
        (``Box`` and ``MultiBinary`` entries pass as floats, unchanged)."""
        out = dict(observations)
        for key, (nvec, shape) in self._onehot.items():
            x = observations[key]
            if x.shape[1:] == shape:  # not one-hot: raw indices already
                continue
            parts = torch.split(x, nvec, dim=1)
            out[key] = torch.stack([p.argmax(dim=1) for p in parts], dim=1).reshape(-1, *shape)
        return out

    def encode(self, raw_obs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Candidate encodings ``(B, C, h)`` and context encoding ``(B, h)`` of a raw
        observation batch."""
        cand, ctx = self.net.inputs(raw_obs)
        return self.net.cand_enc(cand), self.net.ctx_enc(ctx)

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        e, c = self.encode(self.raw(observations))
        return torch.cat([c, e.flatten(1)], dim=1)


def is_slate_aware(policy: Any) -> bool:
    """Whether an SB3 policy (or model) samples only valid slates: its action
    distribution is a :class:`SlateDistribution`, or it declares ``slate_aware = True``."""
    policy = getattr(policy, "policy", policy)
    return bool(getattr(policy, "slate_aware", False)) or isinstance(
        getattr(policy, "action_dist", None), SlateDistribution)


def _slate_dims(action_space: spaces.Space, owner: str) -> tuple[int, int]:
    if isinstance(action_space, spaces.MultiDiscrete) and np.asarray(action_space.nvec).ndim == 1:
        nvec = np.asarray(action_space.nvec)
        c, k = int(nvec[0]), int(nvec.size)
        if (nvec == c).all() and 1 <= k <= c:
            return c, k
    raise ConfigError(f"{owner} action space", action_space,
                      "a slate action space (recarena's SlateSpace: MultiDiscrete([C] * K), "
                      "K <= C)")


class SlateActorCriticPolicy(ActorCriticPolicy):
    """An SB3 actor-critic policy (``PPO``, ``A2C``) with recarena's slate architecture.

    ``PPO(SlateActorCriticPolicy, RecArenaVecEnv(...), policy_kwargs=dict(hidden=64))``.
    Scores come from :class:`~recarena.agents.rl.networks.SlateActorCritic` (in
    :attr:`features_extractor`, also as :attr:`net`), slates from
    :class:`SlateDistribution` (see the module docstring for how the pieces map).

    Args:
        observation_space, action_space, lr_schedule: as SB3 passes them; the action space
            must be a slate space (``MultiDiscrete([C] * K)``).
        hidden: width of the network's layers.
        normalize: running observation normalisation inside the network, refreshed
            between rollouts (frozen during a rollout and its update).
        seed: seed of the parameter initialisation (default: from torch's global
            generator, which the SB3 model's ``seed`` sets).
        optimizer_class, optimizer_kwargs: as in SB3 (Adam with ``eps=1e-5`` by default).
    """

    slate_aware = True

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space,
                 lr_schedule: Callable[[float], float], hidden: int = 64, normalize: bool = True,
                 seed: int | None = None, use_sde: bool = False,
                 optimizer_class: type[torch.optim.Optimizer] = torch.optim.Adam,
                 optimizer_kwargs: dict[str, Any] | None = None) -> None:
        owner = "SlateActorCriticPolicy"
        c, k = _slate_dims(action_space, owner)
        if not isinstance(observation_space, spaces.Dict):
            raise ConfigError(f"{owner} observation space", observation_space,
                              "a Dict observation space (a recarena env)")
        if use_sde:
            raise ConfigError(f"{owner}.use_sde", use_sde, "False (gSDE is for continuous actions)")
        if not isinstance(normalize, bool):
            raise ConfigError(f"{owner}.normalize", normalize, "True or False")
        self.hidden, self.normalize, self.seed = hidden, normalize, seed
        self.num_candidates, self.slate_size = c, k
        super().__init__(
            observation_space, action_space, lr_schedule, net_arch=[], ortho_init=False,
            features_extractor_class=SlateFeatureExtractor,
            features_extractor_kwargs=dict(num_candidates=c, slate_size=k, hidden=hidden,
                                           normalize=normalize, seed=seed),
            share_features_extractor=True, normalize_images=False,
            optimizer_class=optimizer_class, optimizer_kwargs=optimizer_kwargs)

    def _build(self, lr_schedule: Callable[[float], float]) -> None:
        self.net: SlateActorCritic = self.features_extractor.net  # type: ignore[attr-defined]
        layout = self.net.layout
        self.action_dist = SlateDistribution(self.slate_size)
        # statistics gathered during a rollout; copied into the network's at the next one
        self.obs_stats = nn.ModuleDict({"cand": RunningNorm(layout.candidate_dim),
                                        "ctx": RunningNorm(layout.context_dim)})
        self._refresh_due = True
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1),
                                              **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return dict(observation_space=self.observation_space, action_space=self.action_space,
                    lr_schedule=self._dummy_schedule, hidden=self.hidden,
                    normalize=self.normalize, seed=self.seed,
                    optimizer_class=self.optimizer_class, optimizer_kwargs=self.optimizer_kwargs)

    def set_training_mode(self, mode: bool) -> None:
        super().set_training_mode(mode)
        if mode:  # an update starts: the next rollout brings fresh statistics in
            self._refresh_due = True

    # ------------------------------------------------------------------ networks
    def _observe(self, obs: dict[str, torch.Tensor]) -> None:
        """Gather a rollout batch's statistics; at the first batch of a rollout, make
        everything gathered so far the network's normalisation."""
        if not self.normalize:
            return
        cand, ctx = self.net.layout.split(obs)
        self.obs_stats["cand"].update(cand)
        self.obs_stats["ctx"].update(ctx)
        if self._refresh_due:
            self.net.cand_norm.load_state_dict(self.obs_stats["cand"].state_dict())
            self.net.ctx_norm.load_state_dict(self.obs_stats["ctx"].state_dict())
            self._refresh_due = False

    def extract_features(  # type: ignore[override]
            self, obs: Any, features_extractor: Any = None) -> torch.Tensor:
        """The extractor's features of the *raw* observation (no ``preprocess_obs``)."""
        e, c = self.features_extractor.encode(obs)  # type: ignore[attr-defined]
        return torch.cat([c, e.flatten(1)], dim=1)

    def forward(self, obs: Any,
                deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Slates ``(B, K)``, values ``(B, 1)`` and log-probabilities ``(B,)`` (the rollout
        step; it also gathers observation statistics)."""
        self._observe(obs)
        logits, values = self.net(obs)
        dist = self.action_dist.proba_distribution(logits)
        actions = dist.get_actions(deterministic=deterministic)
        return actions, values.unsqueeze(1), dist.log_prob(actions)

    def evaluate_actions(self, obs: Any,
                         actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Values ``(B, 1)``, exact Plackett–Luce log-probabilities ``(B,)`` and the chain
        entropy along ``actions`` ``(B,)`` (unbiased for slates drawn from the policy)."""
        logits, values = self.net(obs)
        dist = self.action_dist.proba_distribution(logits)
        log_prob, entropy = dist.log_prob_and_entropy(actions)
        return values.unsqueeze(1), log_prob, entropy

    def get_distribution(self, obs: Any) -> SlateDistribution:
        return self.action_dist.proba_distribution(self.net(obs)[0])

    def predict_values(self, obs: Any) -> torch.Tensor:
        return self.net(obs)[1].unsqueeze(1)

    def _predict(self, observation: Any, deterministic: bool = False) -> torch.Tensor:
        return self.get_distribution(observation).get_actions(deterministic=deterministic)


# ======================================================================== check_sb3
def _single_env(env: Any, env_kwargs: dict[str, Any] | None) -> tuple[gym.Env, bool]:
    """The single env behind an id, a single env, a vector env or the adapter."""
    if isinstance(env, str):
        return gym.make(env, **(env_kwargs or {})), True
    if isinstance(env, gym.Env):
        return env, False
    vec = env.envs if isinstance(env, RecArenaVecEnv) else env
    spec = getattr(vec, "spec", None)
    if spec is None or spec.id is None:
        raise ConfigError("check_sb3.env", env, "an env id, a single env, or a vector env made "
                                                "by gym.make_vec (with a spec naming its id)")
    kwargs = {k: v for k, v in spec.kwargs.items() if k not in ("num_envs", "vectorization_mode")}
    return gym.make(spec.id, **kwargs), True


_ALGOS = {"ppo": "PPO", "a2c": "A2C", "dqn": "DQN"}


def _algo_class(algo: Any, owner: str) -> type[BaseAlgorithm]:
    import stable_baselines3 as sb3

    if isinstance(algo, str) and algo.lower() in _ALGOS:
        return getattr(sb3, _ALGOS[algo.lower()])
    if isinstance(algo, type) and issubclass(algo, BaseAlgorithm):
        return algo
    raise ConfigError(owner, algo, "'ppo', 'a2c', 'dqn' or an SB3 algorithm class")


def check_sb3(env: Any, policy: Any = SlateActorCriticPolicy, algo: Any = "ppo",
              users: int = 64, steps: int = 4, wrapper: Any = None,
              env_kwargs: dict[str, Any] | None = None,
              policy_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check, before training, that SB3 ``algo`` with ``policy`` can train on ``env``.

    1. SB3's ``check_env`` on the single env (with ``wrapper`` applied, if given);
    2. with no ``wrapper`` (the slate action space itself): a policy that is not
       slate-aware (:func:`is_slate_aware`) is refused at once, since it would propose
       repeated items;
    3. one short rollout and one update of ``algo(policy, ...)``: through
       :class:`RecArenaVecEnv` over ``users`` users (or, with ``wrapper``, a
       ``DummyVecEnv`` of ``min(users, 4)`` wrapped single envs), ``steps`` steps each.

    Args:
        env: an env id, a single env, a recarena vector env or a :class:`RecArenaVecEnv`.
        policy: an SB3 policy class or name (``"MultiInputPolicy"``).
        algo: ``"ppo"``, ``"a2c"``, ``"dqn"`` or an SB3 algorithm class.
        wrapper: a single-env action wrapper class (``DeduplicateSlate``, ``ScoreSlate``,
            ``EnumeratedSlate``) to train through instead of the adapter.

    Returns:
        ``{"check_env": "passed", "warnings": [...], "policy", "algo", "steps"}``.

    Raises:
        ConfigError: naming what does not fit (SB3's own ``check_env`` failures and any
        error of the rollout are re-raised as ``ConfigError``).
    """
    from stable_baselines3.common import env_checker
    from stable_baselines3.common.vec_env import DummyVecEnv

    users = check_int(users, "check_sb3.users", 1)
    steps = check_int(steps, "check_sb3.steps", 2)
    cls = _algo_class(algo, "check_sb3.algo")
    single, made = _single_env(env, env_kwargs)
    name = getattr(policy, "__name__", str(policy))
    try:
        checked = wrapper(single) if wrapper is not None else single
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                env_checker.check_env(checked, warn=True)
            except (AssertionError, ValueError, TypeError) as exc:
                raise ConfigError("check_sb3 check_env", getattr(single.spec, "id", single),
                                  f"an env that passes SB3's check_env ({exc})") from exc
    finally:
        if made:
            single.close()
    env_id = getattr(single.spec, "id", None)
    if wrapper is None:
        if isinstance(env, RecArenaVecEnv):
            venv, owns = env, False
        elif isinstance(env, gym.vector.VectorEnv):
            venv, owns = RecArenaVecEnv(env), False
        else:
            venv, owns = RecArenaVecEnv(env_id, num_envs=users, env_kwargs=env_kwargs), True
    else:
        def make() -> gym.Env:
            return wrapper(gym.make(env_id, **(env_kwargs or {})))

        venv, owns = DummyVecEnv([make for _ in range(min(users, 4))]), True
    try:
        kwargs: dict[str, Any] = dict(seed=0, device="cpu", verbose=0)
        if policy_kwargs:
            kwargs["policy_kwargs"] = policy_kwargs
        n = steps * venv.num_envs
        if issubclass(cls, OnPolicyAlgorithm):  # one rollout, one update
            kwargs |= dict(n_steps=steps)
            if "batch_size" in inspect.signature(cls.__init__).parameters:  # PPO
                kwargs |= dict(batch_size=n, n_epochs=1)
        else:  # off-policy: learn from the first step
            kwargs |= dict(learning_starts=0, buffer_size=max(n, 64), batch_size=min(32, n),
                           train_freq=1)
        try:
            model = cls(policy, venv, **kwargs)
        except (AssertionError, ValueError, TypeError, KeyError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError("check_sb3", f"{cls.__name__}({name}) on {env_id}",
                              f"a policy SB3 can build for this env ({type(exc).__name__}: "
                              f"{exc})") from exc
        if wrapper is None and isinstance(venv.action_space, spaces.MultiDiscrete) \
                and not is_slate_aware(model):
            raise ConfigError("check_sb3.policy", name, _SLATE_HELP)
        try:
            model.learn(n)
        except ConfigError:
            raise
        except Exception as exc:  # any failure of the rollout, named
            raise ConfigError("check_sb3", f"{cls.__name__}({name}) on {env_id}",
                              f"a policy that runs a rollout and an update on this env "
                              f"({type(exc).__name__}: {exc})") from exc
        return {"check_env": "passed", "warnings": [str(w.message) for w in caught],
                "policy": name, "algo": cls.__name__, "steps": int(model.num_timesteps)}
    finally:
        if owns:
            venv.close()


# ======================================================================== evaluation
_SLATE_WRAPPERS = ("EnumeratedSlate", "ScoreSlate", "DeduplicateSlate")


def _find_wrapper(env: Any) -> Any:
    """The slate action wrapper (or the adapter) inside an SB3 model's env, if any."""
    from stable_baselines3.common.vec_env import DummyVecEnv

    if env is None:
        return None
    base = env.unwrapped if isinstance(env, VecEnv) else env
    if isinstance(base, RecArenaVecEnv):
        return base
    inner = base.envs[0] if isinstance(base, DummyVecEnv) and base.envs else None
    while inner is not None:
        if type(inner).__name__ in _SLATE_WRAPPERS:
            return inner
        inner = getattr(inner, "env", None)
    return None


class SB3Policy(ReportsPropensity):
    """An SB3 model as a recarena :class:`~recarena.agents.base.Policy`.

    ``recommend(obs)`` runs ``model.predict(obs, deterministic=...)`` on the batch and maps
    the actions to slates ``(N, K)`` the way the model was trained:

    * ``"slate"``: a slate-aware policy (:func:`is_slate_aware`) or the adapter's
      ``actions="slate"``: the actions are the slates;
    * ``"dedup"``: ``DeduplicateSlate``'s repair (:func:`~recarena.envs.wrappers.
      slate_actions.repair_slate`), for a ``MultiDiscrete`` policy trained through it;
    * ``"score"``: ``ScoreSlate``'s top-K of the per-candidate scores;
    * ``"enumerated"``: ``EnumeratedSlate``'s (or the adapter's) table of slates.

    The mapping comes from ``wrapper`` (a slate wrapper instance or class, or a
    :class:`RecArenaVecEnv`), else from the wrapper found in the model's env, else from
    the model's action space (``Discrete(M)``: ordered or unordered enumeration, whichever
    has M slates; ``Box((C,))``: scores, which needs ``slate_size``; ``MultiDiscrete``:
    slates, repaired unless the policy is slate-aware). A model trained with
    ``VecNormalize`` observation normalisation sees observations normalised by its
    statistics.

    With ``deterministic=False`` the actions are SB3's samples, from a torch random
    stream of the policy's own (``seed``; ``reset`` rewinds it), so paired evaluations stay
    paired. Propensities: 1 for the chosen slate when deterministic, unknown (NaN)
    otherwise.
    """

    is_oracle = False

    def __init__(self, model: Any, wrapper: Any = None, deterministic: bool = True,
                 seed: int = 0, slate_size: int | None = None, name: str | None = None) -> None:
        if not isinstance(model, BaseAlgorithm):
            raise ConfigError("SB3Policy.model", model, "a stable-baselines3 model (BaseAlgorithm)")
        if not isinstance(deterministic, bool):
            raise ConfigError("SB3Policy.deterministic", deterministic, "True or False")
        self.model = model
        self.deterministic = deterministic
        self.seed = check_int(seed, "SB3Policy.seed", 0)
        self.slate_size = (None if slate_size is None
                           else check_int(slate_size, "SB3Policy.slate_size", 1))
        self.name = name or f"sb3_{type(model).__name__.lower()}"
        self._wrapper = wrapper if wrapper is not None else _find_wrapper(model.get_env())
        self._mode: str | None = None
        self._table: np.ndarray | None = None
        #: what :meth:`save` writes as ``policy.json``'s ``meta`` (env id, algorithm, ...)
        self.meta: dict[str, Any] = {}
        self._rng_state = torch.Generator().manual_seed(self.seed).get_state()
        self._check_wrapper()

    def _check_wrapper(self) -> None:
        w = self._wrapper
        if w is None:
            return
        kind = w.__name__ if isinstance(w, type) else type(w).__name__
        if kind not in _SLATE_WRAPPERS + ("RecArenaVecEnv",):
            raise ConfigError("SB3Policy.wrapper", w,
                              "a slate wrapper (EnumeratedSlate, ScoreSlate, DeduplicateSlate; "
                              "instance or class) or a RecArenaVecEnv")

    def reset(self) -> None:
        self._rng_state = torch.Generator().manual_seed(self.seed).get_state()
        self._choice = None

    # ---------------------------------------------------------------- mapping
    def _resolve(self, obs: dict[str, Any], info: dict[str, Any] | None) -> None:
        space, w = self.model.action_space, self._wrapper
        kind = None if w is None else (w.__name__ if isinstance(w, type) else type(w).__name__)
        c = _obs_candidates(obs, info)
        if kind == "RecArenaVecEnv":
            self._mode = "enumerated" if w.slates is not None else "slate"
            self._table = w.slates
        elif kind == "EnumeratedSlate":
            self._mode = "enumerated"
            self._table = getattr(w, "slates", None)
            if self._table is None:
                self._table = _enumeration(int(space.n), c)
        elif kind == "ScoreSlate":
            self._mode = "score"
            k = getattr(w, "_k", None) or self.slate_size
            if k is None:
                raise ConfigError("SB3Policy.slate_size", None,
                                  "K for a ScoreSlate model: pass a ScoreSlate instance as "
                                  "wrapper= or slate_size=")
            self.slate_size = int(k)
        elif kind == "DeduplicateSlate":
            self._mode = "dedup"
        elif isinstance(space, spaces.Discrete):
            self._mode, self._table = "enumerated", _enumeration(int(space.n), c)
        elif isinstance(space, spaces.Box) and space.shape == (c,):
            if self.slate_size is None:
                raise ConfigError("SB3Policy.slate_size", None,
                                  "K for a model with per-candidate score actions (ScoreSlate): "
                                  "pass wrapper=ScoreSlate(env) or slate_size=")
            self._mode = "score"
        elif isinstance(space, spaces.MultiDiscrete):
            _slate_dims(space, "SB3Policy model")
            self._mode = "slate" if is_slate_aware(self.model) else "dedup"
        else:
            raise ConfigError("SB3Policy model action space", space,
                              "a slate space, Discrete (enumerated slates) or Box((C,)) (scores)")

    def _to_slates(self, actions: np.ndarray, n: int, c: int) -> np.ndarray:
        from recarena.envs.wrappers.slate_actions import repair_slate

        a = np.asarray(actions)
        if self._mode == "enumerated":
            assert self._table is not None
            return self._table[a.reshape(n).astype(np.int64)]
        if self._mode == "score":
            order = np.argsort(-a.reshape(n, c), axis=1, kind="stable")
            return order[:, : self.slate_size].astype(np.int64)
        a = a.reshape(n, -1).astype(np.int64)
        if self._mode == "dedup":
            return np.stack([repair_slate(row, c)[0] for row in a])
        return a

    # ---------------------------------------------------------------- Policy API
    def recommend(self, obs: dict[str, Any], info: dict[str, Any] | None = None) -> np.ndarray:
        self._check_obs(obs)
        if self._mode is None:
            self._resolve(obs, info)
        n, c = len(next(iter(obs.values()))), _obs_candidates(obs, info)
        seen = {k: obs[k] for k in self.model.observation_space.spaces}
        norm = self._normalizer()
        if norm is not None:
            seen = norm.normalize_obs(seen)
        if self.deterministic:
            actions, _ = self.model.predict(seen, deterministic=True)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.set_rng_state(self._rng_state)
                actions, _ = self.model.predict(seen, deterministic=False)
                self._rng_state = torch.get_rng_state()
        slates = self._to_slates(actions, n, c)
        if self.deterministic:
            self._chose_fixed(slates)
        else:
            self._chose_unknown()
        return slates

    # ---------------------------------------------------------------- saving
    def save(self, path: str | Any) -> Any:
        """Write the policy into folder ``path`` in recarena's checkpoint format
        (``policy.json`` + ``weights.pt``, network kind ``"sb3"``), so that
        :func:`~recarena.agents.rl.policy.load_policy` and the registry's ``checkpoint``
        policy load it like a native one: ``weights.pt`` holds SB3's own zip of the model
        and the ``VecNormalize`` observation statistics it was trained with. Needs
        ``meta`` with ``env_id`` (the trainer's :meth:`SB3Trainer.metadata`)."""
        import io

        from recarena.agents.rl.networks import ObservationLayout
        from recarena.agents.rl.policy import save_files

        if self._mode is None:
            self._resolve_from_space()
        space = self.model.observation_space
        c = self._num_candidates()
        k = int(self._table.shape[1]) if self._table is not None else self.slate_size
        if k is None:
            raise ConfigError(f"{self.name}.save", "a policy whose slate size is unknown",
                              "slate_size= (or a wrapper) so the saved policy knows K")
        layout = ObservationLayout.from_space(space, c, int(k), owner=self.name)
        buf = io.BytesIO()
        self.model.save(buf)
        state: dict[str, Any] = {"model_zip": buf.getvalue(), "obs_rms": {}}
        norm = self._normalizer()
        if norm is not None and getattr(norm, "norm_obs", False):
            for key, rms in _rms_items(norm.obs_rms):
                state["obs_rms"][key] = (torch.as_tensor(rms.mean), torch.as_tensor(rms.var))
            state["clip_obs"] = float(norm.clip_obs)
            state["epsilon"] = float(norm.epsilon)
        net_cfg = {"kind": "sb3", "algo": type(self.model).__name__, "layout": layout.to_dict(),
                   "mode": self._mode,
                   "ordered": bool(self._table is None
                                   or len(self._table) == math.perm(c, int(k))),
                   "slate_size": int(k)}
        return save_files(path, state, self.name, net_cfg, self.meta)

    @classmethod
    def from_checkpoint(cls, net_cfg: dict[str, Any], state: dict[str, Any],
                        meta: dict[str, Any], name: str | None, deterministic: bool,
                        seed: int) -> SB3Policy:
        """Rebuild from ``policy.json``'s ``network`` entry and ``weights.pt`` (see
        :meth:`save`)."""
        import io

        import stable_baselines3

        algo = getattr(stable_baselines3, str(net_cfg.get("algo")), None)
        if algo is None:
            raise ConfigError("checkpoint network algo", net_cfg.get("algo"),
                              "a stable-baselines3 algorithm class name (DQN, PPO, ...)")
        model = algo.load(io.BytesIO(state["model_zip"]), device="cpu")
        k = int(net_cfg["slate_size"])
        policy = cls(model, deterministic=deterministic, seed=seed, slate_size=k, name=name)
        policy.meta = dict(meta)
        if state.get("obs_rms"):
            policy._saved_norm = _SavedNormalization(
                {key: (m.double().numpy(), v.double().numpy())
                 for key, (m, v) in state["obs_rms"].items()},
                float(state["clip_obs"]), float(state["epsilon"]))
        if net_cfg.get("mode") == "enumerated":
            c = int(net_cfg["layout"]["num_candidates"])
            combos = permutations if net_cfg.get("ordered", True) else combinations
            policy._mode = "enumerated"
            policy._table = np.array(list(combos(range(c), k)), dtype=np.int64)
        return policy

    def _num_candidates(self) -> int:
        space = self.model.observation_space
        for key, sub in getattr(space, "spaces", {}).items():
            if key.startswith(CANDIDATE_PREFIX) and sub.shape:
                return int(sub.shape[0])
        raise ConfigError(f"{self.name} observation space", space,
                          "an observation with candidate_* entries")

    def _resolve_from_space(self) -> None:
        c = self._num_candidates()
        fake = {key: np.zeros((1, *sub.shape), dtype=sub.dtype)
                for key, sub in self.model.observation_space.spaces.items()}
        self._resolve(fake, {"candidate_ids": np.zeros((1, c), dtype=np.int64)})

    def _normalizer(self) -> Any:
        saved = getattr(self, "_saved_norm", None)
        return saved if saved is not None else self.model.get_vec_normalize_env()

    def _check_obs(self, obs: Any) -> None:
        space = self.model.observation_space
        want = getattr(space, "spaces", None)
        if not isinstance(obs, dict) or want is None or any(k not in obs for k in want):
            raise ConfigError(f"{self.name}.recommend obs",
                              sorted(obs) if isinstance(obs, dict) else type(obs).__name__,
                              "a batched observation with the entries the model was trained on: "
                              + ", ".join(want or ()))
        for key, sub in want.items():
            shape = np.shape(obs[key])
            if tuple(shape[1:]) != tuple(sub.shape):
                raise ConfigError(f"{self.name}.recommend obs[{key!r}]", shape,
                                  f"(N, {', '.join(map(str, sub.shape))}), as in training")


class _SavedNormalization:
    """``VecNormalize``'s observation normalisation from saved statistics (what
    :meth:`SB3Policy.save` keeps): ``clip((x - mean) / sqrt(var + eps), -clip, clip)`` on the
    entries it has statistics for."""

    norm_obs = True

    def __init__(self, stats: dict[str, tuple[np.ndarray, np.ndarray]], clip_obs: float,
                 epsilon: float) -> None:
        self.stats, self.clip_obs, self.epsilon = stats, clip_obs, epsilon

    def normalize_obs(self, obs: dict[str, Any]) -> dict[str, Any]:
        out = dict(obs)
        for key, (mean, var) in self.stats.items():
            x = (np.asarray(obs[key], np.float64) - mean) / np.sqrt(var + self.epsilon)
            out[key] = np.clip(x, -self.clip_obs, self.clip_obs).astype(np.float32)
        return out


def _rms_items(obs_rms: Any) -> list[tuple[str, Any]]:
    """``VecNormalize.obs_rms`` as ``(key, RunningMeanStd)`` pairs (a dict for Dict spaces)."""
    return list(obs_rms.items()) if isinstance(obs_rms, dict) else []


def _obs_candidates(obs: dict[str, Any], info: dict[str, Any] | None) -> int:
    if info is not None and "candidate_ids" in info:
        return int(np.shape(info["candidate_ids"])[-1])
    for key, value in obs.items():
        if key.startswith(CANDIDATE_PREFIX) and np.ndim(value) >= 2:
            return int(np.shape(value)[1])
    raise ConfigError("SB3Policy obs", sorted(obs), "an observation with candidate_* entries")


def _enumeration(m: int, c: int) -> np.ndarray:
    """The slate table of an ``EnumeratedSlate`` with ``m`` actions over ``c`` candidates."""
    for k in range(1, c + 1):
        if math.perm(c, k) == m:
            return np.array(list(permutations(range(c), k)), dtype=np.int64)
        if math.comb(c, k) == m:
            return np.array(list(combinations(range(c), k)), dtype=np.int64)
    raise ConfigError("SB3Policy model action space", f"Discrete({m})",
                      f"a number of enumerated slates of {c} candidates (C!/(C-K)! or C choose K)")


# ======================================================================== the trainer
class _Stop(Exception):
    """Raised by the trainer's callback at the start of a rollout to end ``learn``."""


class _Recorder(BaseCallback):
    """Records the trainer's history and stops it between iterations: at the start of a
    rollout (the previous iteration's rollout and update are done; no env step taken)."""

    def __init__(self, trainer: SB3Trainer, callback: Any, time_limit: float | None,
                 start: float) -> None:
        super().__init__()
        self.trainer, self.user_callback = trainer, callback
        self.time_limit, self.start = time_limit, start
        self.began = time.perf_counter()  # this call's start (start is offset by earlier calls)

    def _on_rollout_start(self) -> None:
        t = self.trainer
        if self.model.num_timesteps - t._row_step >= t.log_every:
            t._record(self.start)
            if self.user_callback is not None and self.user_callback(t) is False:
                raise _Stop
        if self.time_limit is not None and time.perf_counter() - self.began >= self.time_limit:
            raise _Stop

    def _on_step(self) -> bool:
        return True


#: recarena's own config keys (the rest go to SB3's algorithm)
_OWN_KEYS = {"num_envs": "users simulated side by side",
             "hidden": "width of the slate network's layers",
             "seed": "seed of SB3, the network and the env",
             "norm_obs": "observation normalisation",
             "norm_reward": "reward scaling by the return's running std (VecNormalize)",
             "max_slates": "sb3-dqn: refuse more enumerated slates than this",
             "log_every": "env steps between history rows"}
#: defaults, per algorithm (recarena's; close to the native PPO's)
_DEFAULTS: dict[str, dict[str, Any]] = {
    "sb3-ppo": {"num_envs": 256, "hidden": 64, "seed": 0, "norm_obs": True, "norm_reward": True,
                "n_steps": 32, "n_epochs": 4, "learning_rate": 3e-4, "gamma": 0.99,
                "gae_lambda": 0.95, "clip_range": 0.2, "ent_coef": 0.01, "vf_coef": 0.5,
                "max_grad_norm": 0.5},
    "sb3-dqn": {"num_envs": 16, "hidden": 64, "seed": 0, "norm_obs": True, "norm_reward": False,
                "max_slates": 10_000, "learning_rate": 1e-4, "buffer_size": 50_000,
                "learning_starts": 1_000, "batch_size": 64, "train_freq": 1,
                "target_update_interval": 1_000, "exploration_fraction": 0.2, "gamma": 0.99},
}
#: constructor arguments the trainer sets itself
_RESERVED = {"self", "policy", "env", "seed", "_init_setup_model", "supported_action_spaces"}


class SB3Trainer:
    """stable-baselines3 training with the interface of
    :class:`~recarena.agents.rl.ppo.PPOTrainer`.

    Args:
        envs: a recarena vector env (same-step autoreset) or an env id (built with
            ``config["num_envs"]`` users and ``env_kwargs``).
        config: a dict. recarena's keys: ``num_envs`` (users; PPO 256, DQN 16), ``hidden``
            (64), ``seed`` (0), ``norm_obs`` (True: PPO normalises inside the network, DQN
            with ``VecNormalize`` on the ``Box`` entries), ``norm_reward`` (PPO True: SB3's
            ``VecNormalize`` reward scaling, as the native trainer does; DQN False),
            ``max_slates`` (DQN: 10,000), ``log_every`` (env steps between history rows;
            default one PPO rollout, 1,000 for DQN). Every other key is a keyword
            argument of SB3's ``PPO`` / ``DQN`` (``n_steps``, ``batch_size``,
            ``learning_rate``, ``policy_kwargs``, ``device``, ...), validated by SB3; an
            unknown key is a :class:`~recarena.errors.ConfigError`. PPO's defaults follow
            the native trainer (``n_steps=32``, 4 minibatches, ``n_epochs=4``,
            ``ent_coef=0.01``...).
        env_kwargs: constructor arguments of the env when ``envs`` is an id.
        algo: ``"sb3-ppo"`` (PPO, :class:`SlateActorCriticPolicy`, through
            :class:`RecArenaVecEnv`) or ``"sb3-dqn"`` (DQN with a
            :class:`SlateFeatureExtractor` Q-network over every ordered slate as one action,
            through ``RecArenaVecEnv(actions="enumerated")``; refused when
            ``C!/(C-K)! > max_slates``).

    :meth:`learn` trains for a number of env steps in all (user-steps, counting earlier
    calls); :attr:`history` has one row per PPO update (per ``log_every`` env steps for
    DQN) with ``update`` (PPO iterations; DQN gradient steps), ``global_step``,
    ``wall_time``, ``episode_return`` (mean of the episodes finished since the last row),
    ``episode_length``, ``reward_per_step``, ``episodes`` and ``steps_per_s`` (env steps
    per second of the whole loop since the last row); :attr:`model` is the SB3 model;
    :meth:`policy` the trained policy as a recarena policy (a
    :class:`~recarena.agents.rl.policy.SlatePolicy` for sb3-ppo, which saves in recarena's
    checkpoint format; an :class:`SB3Policy` for sb3-dqn);
    :meth:`state_dict` / :meth:`load_state_dict` checkpoint everything needed to resume
    exactly (the SB3 model through its own ``save``/``load``, the replay buffer, the
    ``VecNormalize`` statistics, the env's users, the random streams and the history).
    """

    algo = "sb3-ppo"

    def __init__(self, envs: Any, config: dict[str, Any] | None = None,
                 env_kwargs: dict[str, Any] | None = None, algo: str | None = None) -> None:
        algo = self.algo if algo is None else algo
        if algo not in _DEFAULTS:
            raise ConfigError("SB3Trainer.algo", algo, "'sb3-ppo' or 'sb3-dqn'")
        self.algo = algo
        if config is not None and not isinstance(config, dict):
            raise ConfigError(f"{algo} config", config, "a dict of settings")
        cls = _algo_class(algo.removeprefix("sb3-"), f"{algo}")
        self._cls = cls
        allowed = set(inspect.signature(cls.__init__).parameters) - _RESERVED
        given = dict(config or {})
        unknown = sorted(set(given) - allowed - set(_OWN_KEYS))
        if unknown:
            raise ConfigError(f"{algo} config", unknown,
                              f"recarena's settings ({', '.join(sorted(_OWN_KEYS))}) or SB3 "
                              f"{cls.__name__}'s ({', '.join(sorted(allowed))})")
        cfg = dict(_DEFAULTS[algo]) | given
        if algo != "sb3-dqn":
            cfg.pop("max_slates", None)
            if "max_slates" in given:
                raise ConfigError(f"{algo} config", ["max_slates"], "a setting of sb3-dqn only")
        seed = check_int(cfg["seed"], f"{algo}.seed", 0)
        hidden = check_int(cfg["hidden"], f"{algo}.hidden", 1, 4096)
        for key in ("norm_obs", "norm_reward"):
            if not isinstance(cfg[key], bool):
                raise ConfigError(f"{algo}.{key}", cfg[key], "True or False")
        self.env_kwargs = dict(env_kwargs or {})
        self._owns_env = isinstance(envs, str)
        if isinstance(envs, str):
            self.env_id: str | None = envs
            n = check_int(cfg["num_envs"], f"{algo}.num_envs", 1)
            if algo == "sb3-dqn":  # refuse before building anything
                probe = gym.make(envs, **self.env_kwargs)
                try:
                    base = probe.unwrapped
                    _check_slate_count(base.num_candidates, base.slate_size,
                                       check_int(cfg["max_slates"], f"{algo}.max_slates", 1), algo)
                finally:
                    probe.close()
            envs = _make_vec(envs, n, self.env_kwargs)
        else:
            if self.env_kwargs:
                raise ConfigError(f"{algo} env_kwargs", self.env_kwargs,
                                  "None when an env object is given")
            _check_vector_env(envs, f"{algo} envs")
            self.env_id = getattr(getattr(envs, "spec", None), "id", None)
            if "num_envs" in given and given["num_envs"] != envs.num_envs:
                raise ConfigError(f"{algo} envs", f"{envs.num_envs} users",
                                  f"config num_envs = {given['num_envs']}")
            cfg["num_envs"] = envs.num_envs
        n = int(cfg["num_envs"])
        if algo == "sb3-ppo" and "batch_size" not in cfg:  # 4 minibatches, as the native PPO
            cfg["batch_size"] = max(1, n * check_int(cfg["n_steps"], f"{algo}.n_steps", 1) // 4)
        try:
            if algo == "sb3-dqn":
                max_slates = check_int(cfg["max_slates"], f"{algo}.max_slates", 1)
                _check_slate_count(envs.num_candidates, envs.slate_size, max_slates, algo)
                self.venv = RecArenaVecEnv(envs, actions="enumerated", max_slates=max_slates)
            else:
                self.venv = RecArenaVecEnv(envs)
        except Exception:
            if self._owns_env:
                envs.close()
            raise
        self.config = cfg
        every = cfg.get("log_every", cfg["n_steps"] * n if algo == "sb3-ppo" else 1_000)
        self.log_every = check_int(every, f"{algo}.log_every", 1)
        self.model = self._build(cfg, seed, hidden)
        self.global_step = 0
        self.history: list[dict[str, float]] = []
        self._row_step, self._row_time = 0, 0.0
        self._started = False

    # ---------------------------------------------------------------- building
    def _sb3_env(self, cfg: dict[str, Any]) -> VecEnv:
        space = self.venv.observation_space
        gamma = float(cfg.get("gamma", 0.99))
        if self.algo == "sb3-dqn" and cfg["norm_obs"]:
            keys = [k for k, s in space.spaces.items() if isinstance(s, spaces.Box)]
            return VecNormalize(self.venv, norm_obs=True, norm_reward=cfg["norm_reward"],
                                norm_obs_keys=keys, gamma=gamma)
        if cfg["norm_reward"]:
            return VecNormalize(self.venv, norm_obs=False, norm_reward=True, gamma=gamma)
        return self.venv

    def _build(self, cfg: dict[str, Any], seed: int, hidden: int) -> BaseAlgorithm:
        sb3_kwargs = {k: v for k, v in cfg.items() if k not in _OWN_KEYS}
        sb3_kwargs.setdefault("device", "cpu")
        sb3_kwargs.setdefault("verbose", 0)
        user_pk = dict(sb3_kwargs.pop("policy_kwargs", None) or {})
        c, k = self.venv.num_candidates, self.venv.slate_size
        if self.algo == "sb3-ppo":
            policy: Any = SlateActorCriticPolicy
            pk = dict(hidden=hidden, normalize=cfg["norm_obs"], seed=seed) | user_pk
        else:
            policy = "MultiInputPolicy"
            pk = dict(features_extractor_class=SlateFeatureExtractor,
                      features_extractor_kwargs=dict(num_candidates=c, slate_size=k,
                                                     hidden=hidden, normalize=False, seed=seed),
                      net_arch=[hidden, hidden]) | user_pk
        env = self._sb3_env(cfg)
        try:
            return self._cls(policy, env, seed=seed, policy_kwargs=pk, **sb3_kwargs)
        except ConfigError:
            raise
        except (AssertionError, ValueError, TypeError, KeyError) as exc:
            raise ConfigError(f"{self.algo} config", {k: v for k, v in cfg.items()},
                              f"settings SB3's {self._cls.__name__} accepts ({type(exc).__name__}: "
                              f"{exc})") from exc

    # ---------------------------------------------------------------- training
    def learn(self, total_steps: int, callback: Callable[[SB3Trainer], bool | None] | None = None,
              time_limit: float | None = None) -> SB3Trainer:
        """Train until ``total_steps`` env steps in all (counting earlier calls and a
        resumed checkpoint), or ``time_limit`` seconds of this call. ``callback(trainer)``
        runs after every history row; returning False stops. Training stops between
        iterations (after an update, before the next rollout's first step)."""
        total = check_int(total_steps, "total_steps", 1)
        if time_limit is not None and not (isinstance(time_limit, (int, float)) and time_limit > 0):
            raise ConfigError("time_limit", time_limit, "a positive number of seconds or None")
        # wall time continues across calls (a resumed run's curve stays monotonic)
        start = time.perf_counter() - (self.history[-1]["wall_time"] if self.history else 0.0)
        self._row_time = time.perf_counter()
        model = self.model
        remaining = total - int(model.num_timesteps)
        if remaining > 0:
            recorder = _Recorder(self, callback, time_limit, start)
            log_interval = None if not model.verbose else (1 if self.algo == "sb3-ppo" else 4)
            try:
                model.learn(remaining, callback=recorder,
                            log_interval=log_interval,  # type: ignore[arg-type]
                            reset_num_timesteps=not self._started)
            except _Stop:
                pass
            self._started = True
        self.global_step = int(model.num_timesteps)
        if self.global_step > self._row_step:
            self._record(start)
        return self

    def _record(self, start: float) -> None:
        now = time.perf_counter()
        step = int(self.model.num_timesteps)
        rets, lens, per_step = self.venv.drain_episodes()
        self.global_step = step
        if self.algo == "sb3-ppo":  # PPO iterations (SB3's _n_updates counts epochs)
            n_steps = int(self.model.n_steps)  # type: ignore[attr-defined]
            update = step // (n_steps * self.venv.num_envs)
        else:  # DQN's gradient steps
            update = int(getattr(self.model, "_n_updates", 0))
        row: dict[str, float] = {
            "update": update, "global_step": step,
            "wall_time": now - start, "episodes": int(rets.size),
            "episode_return": float(rets.mean()) if rets.size else float("nan"),
            "episode_length": float(lens.mean()) if lens.size else float("nan"),
            "reward_per_step": per_step,
            "steps_per_s": (step - self._row_step) / max(now - self._row_time, 1e-9),
        }
        logged = getattr(self.model.logger, "name_to_value", {})
        for key in ("train/policy_gradient_loss", "train/value_loss", "train/entropy_loss",
                    "train/approx_kl", "train/clip_fraction", "train/explained_variance",
                    "train/loss", "rollout/exploration_rate"):
            if key in logged:
                row[key.partition("/")[2]] = float(logged[key])
        self.history.append(row)
        self._row_step, self._row_time = step, now

    # ---------------------------------------------------------------- results
    def policy(self, deterministic: bool = True) -> Any:
        """The trained policy as a recarena policy: sb3-ppo's network as a
        :class:`~recarena.agents.rl.policy.SlatePolicy` (top-K by default; saves in
        recarena's checkpoint format), sb3-dqn's model as an :class:`SB3Policy`."""
        if self.algo == "sb3-ppo":
            from recarena.agents.rl.policy import SlatePolicy

            net = self.model.policy.net  # type: ignore[attr-defined]
            return SlatePolicy(net, deterministic=deterministic, meta=self.metadata())
        policy = SB3Policy(self.model, wrapper=self.venv, deterministic=deterministic,
                           name=self.algo.replace("-", "_"))
        policy.meta = self.metadata()
        return policy

    def metadata(self) -> dict[str, Any]:
        import stable_baselines3

        cfg = {k: (v if isinstance(v, (int, float, str, bool, type(None))) else repr(v))
               for k, v in self.config.items()}
        return {"algo": self.algo, "env_id": self.env_id, "env_kwargs": self.env_kwargs,
                "config": cfg, "global_step": int(self.model.num_timesteps),
                "sb3_version": stable_baselines3.__version__}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume training exactly (picklable; ``torch.save`` it):
        the SB3 model as SB3's own zip (``model.save``), its replay buffer (DQN), the
        ``VecNormalize`` statistics, the env's users, the global random streams SB3 draws
        from, and the history."""
        if not self._started and int(self.model.num_timesteps) == 0:
            raise ConfigError(f"{type(self).__name__}.state_dict", "a trainer that has not started",
                              "learn() called at least once before checkpointing")
        buf = io.BytesIO()
        self.model.save(buf)
        norm = self.model.get_vec_normalize_env()
        state: dict[str, Any] = {
            "algo": self.algo, "config": self.metadata()["config"], "model": buf.getvalue(),
            "env_id": self.env_id, "env_kwargs": dict(self.env_kwargs),
            "venv": self.venv.state(), "history": list(self.history),
            # SB3 draws from the global streams (minibatches, sampling, exploration)
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": np.random.get_state(),  # noqa: NPY002
            "action_space_rng": copy.deepcopy(
                self.model.action_space.np_random.bit_generator.state),
            "vec_normalize": None if norm is None else {
                "obs_rms": copy.deepcopy(getattr(norm, "obs_rms", None)),
                "ret_rms": copy.deepcopy(norm.ret_rms), "returns": norm.returns.copy()},
        }
        replay = getattr(self.model, "replay_buffer", None)
        if replay is not None:
            state["replay_buffer"] = copy.deepcopy(replay)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if (state.get("env_id"), state.get("env_kwargs")) != (self.env_id, self.env_kwargs):
            raise ConfigError("checkpoint env", f"{state.get('env_id')} {state.get('env_kwargs')}",
                              f"the trainer's env, {self.env_id} {self.env_kwargs}")
        if state.get("algo") != self.algo or state.get("config") != self.metadata()["config"]:
            got = {"algo": state.get("algo")} | dict(state.get("config") or {})
            raise ConfigError("checkpoint config", got, "the trainer's configuration "
                              f"{ {'algo': self.algo} | self.metadata()['config']}")
        env = self.model.get_env()
        norm = self.model.get_vec_normalize_env()
        try:
            self.model = self._cls.load(io.BytesIO(state["model"]), env=env,
                                        device=self.model.device, force_reset=False)
        except (ValueError, KeyError, RuntimeError, AssertionError) as exc:
            raise ConfigError("checkpoint model", "an SB3 model",
                              f"a model of this trainer's env and settings ({exc})") from exc
        if norm is not None and state.get("vec_normalize") is not None:
            vn = state["vec_normalize"]
            if vn["obs_rms"] is not None:
                norm.obs_rms = copy.deepcopy(vn["obs_rms"])
            norm.ret_rms = copy.deepcopy(vn["ret_rms"])
            norm.returns = vn["returns"].copy()
        if "replay_buffer" in state:
            self.model.replay_buffer = copy.deepcopy(state["replay_buffer"])
        # reset builds the world; restore puts the users back
        self.venv.envs.reset(seed=int(self.config["seed"]))
        self.venv.restore(state["venv"])
        self.history = list(state["history"])
        self.global_step = int(self.model.num_timesteps)
        self._row_step = self.global_step
        torch.set_rng_state(state["torch_rng"])
        np.random.set_state(state["numpy_rng"])  # noqa: NPY002
        self.model.action_space.np_random.bit_generator.state = state["action_space_rng"]
        self._started = True

    def close(self) -> None:
        if self._owns_env:
            self.venv.close()


class SB3PPOTrainer(SB3Trainer):
    """:class:`SB3Trainer` with ``algo="sb3-ppo"``."""

    algo = "sb3-ppo"


class SB3DQNTrainer(SB3Trainer):
    """:class:`SB3Trainer` with ``algo="sb3-dqn"``."""

    algo = "sb3-dqn"
