"""Trained slate networks as recarena policies: recommend, save, load.

A :class:`SlatePolicy` is a :class:`~recarena.agents.base.Policy` like every other: the
evaluation loop, the scenarios (``policy = "checkpoint"``, ``args = {path = "..."}``) and
the event log use it unchanged. It recommends the top-K candidates of the network's scores
(``deterministic=True``, the usual evaluation) or samples slates from their Plackett–Luce
distribution, and reports its propensities either way (exact: the deterministic slate
has probability 1; a sampled slate its Plackett–Luce probability; position-wise, the first
position's softmax, and NaN further down where the marginal has no closed form).

**Checkpoint format**: a folder with ``policy.json`` (format version, algorithm, env id,
env arguments, the observation layout, the network's configuration, recarena's version)
and ``weights.pt`` (the network's ``state_dict``, normalisation statistics included).
Loading against an env whose id or observation differs from the checkpoint's raises
:class:`~recarena.errors.ConfigError` naming both.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recarena.agents.base import UserRows, fixed_propensity
from recarena.agents.rl.distributions import PlackettLuce
from recarena.agents.rl.networks import ObservationLayout, SlateActorCritic, obs_to_tensors
from recarena.errors import ConfigError

__all__ = ["FORMAT", "FORMAT_VERSION", "SlatePolicy", "load_policy", "save_files", "save_policy"]

FORMAT = "recarena-policy"
FORMAT_VERSION = 1
#: network kind (``policy.json``'s ``network.kind``) -> the policy class that loads it,
#: through its ``from_checkpoint(net_cfg, state_dict, meta, name, deterministic, seed)``
NETWORK_KINDS = {
    "actor_critic": "recarena.agents.rl.policy:SlatePolicy",
    "slateq": "recarena.agents.rl.slateq:SlateQPolicy",
    "sb3": "recarena.agents.rl.sb3:SB3Policy",  # an SB3 model (sb3-dqn), SB3's zip inside
}


class SlatePolicy:
    """A trained slate network as a recarena policy.

    Args:
        net: a :class:`~recarena.agents.rl.networks.SlateActorCritic`.
        deterministic: top-K of the scores (True) or a Plackett–Luce sample.
        seed: seed of the sampling stream (``reset`` rewinds it).
        meta: what the trainer knows (algorithm, env id and arguments, settings), saved
            in ``policy.json``.

    A recurrent network keeps each row's state between ``recommend`` calls (one call per
    env step) and starts a row from the zero state when its user changes
    (``info["user_id"]``; without ``info`` the rows keep their users), as in training.
    """

    is_oracle = False

    def __init__(self, net: SlateActorCritic, deterministic: bool = True, seed: int = 0,
                 meta: dict[str, Any] | None = None, name: str | None = None) -> None:
        if not isinstance(net, SlateActorCritic):
            raise ConfigError("SlatePolicy.net", net, "a SlateActorCritic")
        if not isinstance(deterministic, bool):
            raise ConfigError("SlatePolicy.deterministic", deterministic, "True or False")
        self.net = net.eval()
        self.deterministic = deterministic
        self.seed = int(seed)
        self.meta = dict(meta or {})
        self.name = name or str(self.meta.get("algo", "slate_net"))
        self.gen = torch.Generator().manual_seed(self.seed)
        self._last: tuple[torch.Tensor, np.ndarray] | None = None
        self._rows = UserRows("user", self.name)
        self._state: torch.Tensor | None = None

    @classmethod
    def from_checkpoint(cls, net_cfg: dict[str, Any], state: dict[str, Any],
                        meta: dict[str, Any], name: str | None, deterministic: bool,
                        seed: int) -> SlatePolicy:
        """Rebuild from ``policy.json``'s ``network`` entry and the saved weights."""
        net = SlateActorCritic(ObservationLayout.from_dict(net_cfg["layout"]),
                               int(net_cfg["hidden"]), bool(net_cfg["normalize"]),
                               critic_dim=int(net_cfg.get("critic_dim", 0)),
                               recurrent=bool(net_cfg.get("recurrent", False)))
        net.load_state_dict(state)
        return cls(net, deterministic=deterministic, seed=seed, meta=meta, name=name)

    def reset(self) -> None:
        self.gen = torch.Generator().manual_seed(self.seed)
        self._last = None
        self._rows.reset()
        self._state = None

    @torch.no_grad()
    def scores(self, obs: dict[str, Any]) -> np.ndarray:
        """``(N, C)`` the network's candidate scores (Plackett–Luce logits; a recurrent
        network's from the rows' current states, which this does not advance)."""
        return self.net.step(obs_to_tensors(obs), self._state)[0].double().numpy()

    def _current_state(self, n: int, info: dict[str, Any] | None) -> torch.Tensor | None:
        if not self.net.recurrent:
            return None
        changed = self._rows.sync(info if info is not None and "user_id" in info else None, n)
        if changed is None or self._state is None or self._state.shape[0] != n:
            self._state = self.net.initial_state(n)
        elif changed.size:
            self._state[torch.as_tensor(changed)] = 0.0
        return self._state

    @torch.no_grad()
    def recommend(self, obs: dict[str, Any], info: dict[str, Any] | None = None) -> np.ndarray:
        n = self.net.layout.check_batch(obs, info, self.name)
        logits, _, state = self.net.step(obs_to_tensors(obs), self._current_state(n, info))
        if state is not None:
            self._state = state
        dist = PlackettLuce(logits, self.net.layout.slate_size)
        slates = dist.mode() if self.deterministic else dist.sample(self.gen)
        out = slates.numpy().astype(np.int64)
        self._last = (logits, out)
        return out

    # --------------------------------------------------------------- propensities
    @torch.no_grad()
    def slate_propensity(self, slates: Any) -> np.ndarray:
        """``(N,)``: the probability that the latest ``recommend`` call chose each slate."""
        s = np.atleast_2d(np.asarray(slates, dtype=np.int64))
        if self._last is None or self._last[1].shape != s.shape:
            return np.full(s.shape[0], np.nan)
        logits, chosen = self._last
        if self.deterministic:
            return fixed_propensity(chosen, s)[1]
        dist = PlackettLuce(logits, s.shape[1])
        return dist.log_prob(torch.as_tensor(s)).exp().double().numpy()

    @torch.no_grad()
    def propensity(self, slates: Any) -> np.ndarray:
        """``(N, K)``: position-wise probabilities (exact at position 0, NaN below it for a
        sampling policy; 0/1 for the deterministic one)."""
        s = np.atleast_2d(np.asarray(slates, dtype=np.int64))
        if self._last is None or self._last[1].shape != s.shape:
            return np.full(s.shape, np.nan)
        logits, chosen = self._last
        if self.deterministic:
            return fixed_propensity(chosen, s)[0]
        out = np.full(s.shape, np.nan)
        first = torch.softmax(logits, 1).double().numpy()
        out[:, 0] = np.take_along_axis(first, s[:, :1], axis=1)[:, 0]
        return out

    # --------------------------------------------------------------- files
    def save(self, path: str | Path) -> Path:
        """Write ``policy.json`` and ``weights.pt`` into folder ``path``; returns it."""
        return save_policy(path, self.net, self.name, self.meta)


def save_policy(path: str | Path, net: Any, name: str, meta: dict[str, Any]) -> Path:
    """Write a trained network's ``policy.json`` (its ``config()``, ``name`` and ``meta``)
    and ``weights.pt`` (its ``state_dict``) into folder ``path``, the format
    :func:`load_policy` reads; returns the folder."""
    return save_files(path, net.state_dict(), name, net.config(), meta)


def save_files(path: str | Path, state: dict[str, Any], name: str, net_cfg: dict[str, Any],
               meta: dict[str, Any]) -> Path:
    """Write ``weights.pt`` (``state``, loadable with ``torch.load(weights_only=True)``) and
    ``policy.json`` (``net_cfg`` as its ``network`` entry, whose ``kind`` names the class in
    :data:`NETWORK_KINDS` that loads it) into folder ``path``; returns the folder."""
    from recarena import __version__

    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(state, folder / "weights.pt")
        doc = {"format": FORMAT, "format_version": FORMAT_VERSION,
               "recarena_version": __version__, "name": name,
               "network": net_cfg} | {"meta": meta}
        (folder / "policy.json").write_text(json.dumps(doc, indent=2, default=_jsonable) + "\n")
    except OSError as exc:
        raise ConfigError("policy path", str(folder),
                          f"a folder recarena can write ({exc.strerror or exc})") from None
    return folder


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


def load_policy(path: str | Path, env: Any = None, deterministic: bool = True,
                seed: int = 0) -> Any:
    """Load a trained policy saved by :meth:`SlatePolicy.save` (or ``recarena train``'s
    ``policy/`` folder): a :class:`SlatePolicy`, or the policy class of the network kind
    (``NETWORK_KINDS``; e.g. SlateQ's). With ``env`` (an id, env or vector env), check that it
    is the env the policy was trained for: same id (version included) and the same
    observation layout; otherwise :class:`~recarena.errors.ConfigError`."""
    folder = Path(path)
    meta_file = folder / "policy.json"
    if not meta_file.is_file():
        raise ConfigError("checkpoint path", str(folder),
                          "a policy folder with policy.json and weights.pt (written by "
                          "SlatePolicy.save or recarena train)")
    try:
        doc = json.loads(meta_file.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError("checkpoint policy.json", str(meta_file), f"readable JSON ({exc})") from None
    if doc.get("format") != FORMAT or not isinstance(doc.get("format_version"), int):
        raise ConfigError("checkpoint format", doc.get("format"), f"{FORMAT!r}")
    if doc["format_version"] > FORMAT_VERSION:
        raise ConfigError("checkpoint format_version", doc["format_version"],
                          f"at most {FORMAT_VERSION} (written by a newer recarena, "
                          f"{doc.get('recarena_version')}); upgrade recarena")
    net_cfg = doc.get("network")
    if not isinstance(net_cfg, dict) or not isinstance(net_cfg.get("layout"), dict):
        raise ConfigError("checkpoint policy.json network", net_cfg,
                          "the network's configuration with its observation layout")
    kind = net_cfg.get("kind", "actor_critic")
    if kind not in NETWORK_KINDS:
        raise ConfigError("checkpoint network kind", kind, "one of " + ", ".join(NETWORK_KINDS))
    try:
        layout = ObservationLayout.from_dict(net_cfg["layout"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError("checkpoint policy.json network.layout", net_cfg["layout"],
                          f"an observation layout ({exc})") from None
    meta = doc.get("meta", {})
    if env is not None:
        _check_env(layout, meta.get("env_id"), env)
        _warn_other_arguments(meta.get("env_kwargs"), env)
    module, _, attr = NETWORK_KINDS[kind].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    try:
        state = torch.load(folder / "weights.pt", weights_only=True)
        return cls.from_checkpoint(net_cfg, state, meta=meta, name=doc.get("name"),
                                   deterministic=deterministic, seed=seed)
    except (OSError, RuntimeError, KeyError) as exc:
        raise ConfigError("checkpoint weights.pt", str(folder / "weights.pt"),
                          f"the weights of this network ({str(exc).splitlines()[0]})") from None


def _warn_other_arguments(trained: dict[str, Any] | None, env: Any) -> None:
    """A warning (not an error: evaluating a policy on another configuration of its env is
    a legitimate transfer experiment) when ``env`` was made with other constructor
    arguments than the env the policy was trained on."""
    import warnings

    if trained is None:
        return
    spec = getattr(env, "spec", None)
    given = dict(getattr(spec, "kwargs", None) or {})
    given = {k: v for k, v in given.items() if k not in ("num_envs", "max_episode_steps",
                                                           "render_mode", "vectorization_mode",
                                                           "autoreset_mode")}
    if isinstance(env, str) or spec is None:
        given = {}
    if given != dict(trained):
        warnings.warn(f"the policy was trained on its env with arguments {trained}; this env "
                      f"has {given}", UserWarning, stacklevel=3)


def _check_env(layout: ObservationLayout, env_id: str | None, env: Any) -> None:
    from recarena.agents.base import env_spec

    spec = env_spec(env)
    if env_id is not None and spec.env_id is not None and spec.env_id != env_id:
        raise ConfigError("checkpoint env", spec.env_id,
                          f"the env the policy was trained on, {env_id} (ids include the "
                          "version: a policy trained on another version is refused)")
    shapes = spec.observation_shapes
    want = {k for k, _ in layout.candidate_keys + layout.context_keys}
    if (set(shapes) != want or spec.num_candidates != layout.num_candidates
            or spec.slate_size != layout.slate_size):
        raise ConfigError("checkpoint env", f"{spec.env_id}: C={spec.num_candidates}, "
                          f"K={spec.slate_size}, observation {sorted(shapes)}",
                          f"the trained layout: C={layout.num_candidates}, "
                          f"K={layout.slate_size}, observation {sorted(want)}")
    for key, width in layout.candidate_keys + layout.context_keys:
        shape = shapes[key]
        got = int(np.prod(shape[1:] if key in dict(layout.candidate_keys) else shape))
        onehot = dict(layout.onehot)
        if key not in onehot and got != width:
            raise ConfigError(f"checkpoint env observation[{key!r}]", shape,
                              f"width {width}, as in training")
