"""Native batched vector environments: N users in one set of arrays.

Every recarena env family has a vector env here, registered as the id's
``vector_entry_point``::

    envs = gymnasium.make_vec("recarena/InterestEvolution-v0", num_envs=1024,
                              vectorization_mode="vector_entry_point")

One sub-environment is one *user slot*. All N users are stepped by the same batched numpy
code that runs the single env (a single env is a one-user world), so there are no per-user
Python objects on the hot path.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from recarena.envs.base import CoreEnv, check_render_mode
from recarena.envs.core import CoreFacts, CoreStep
from recarena.envs.registration import _SPECS
from recarena.envs.spaces import BatchSlateSpace, SlateSpace
from recarena.errors import ConfigError, ResetNeeded
from recarena.simulators.world import WorldSnapshot
from recarena.validation import check_int

#: the vector env classes of the registered families, built on first use (``__getattr__``)
_FAMILIES = {vector.partition(":")[2]: single for single, vector, *_ in _SPECS.values()
             if vector.startswith(__name__ + ":")}

__all__ = ["CoreVectorEnv", "VectorSnapshot", "vector_env_class", *_FAMILIES]


class VectorSnapshot(NamedTuple):
    """Everything needed to put a vector env back where it was."""

    world: WorldSnapshot
    returns: np.ndarray
    needs_reset: bool
    #: rows whose user is replaced at the next step (``NEXT_STEP`` autoreset), or ``None``
    pending: np.ndarray | None = None


def _as_autoreset_mode(value: Any) -> AutoresetMode:
    """``value`` as an ``AutoresetMode`` the vector envs support (``SAME_STEP`` or
    ``NEXT_STEP``): the member itself, its value (``"NextStep"``) or its name in any case
    (``"next_step"``); anything else is a ``ConfigError``."""
    expected = ("AutoresetMode.SAME_STEP or AutoresetMode.NEXT_STEP (or 'same_step' / "
                "'next_step')")
    mode = value if isinstance(value, AutoresetMode) else None
    if mode is None and isinstance(value, str):
        for member in AutoresetMode:
            if value in (member.value, member.name) or value.upper() == member.name:
                mode = member
    if mode not in (AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP):
        raise ConfigError("autoreset_mode", value, expected)
    return mode


class CoreVectorEnv(CoreFacts, gym.vector.VectorEnv):
    """N users of an env family, simulated as one batch: its core with N rows.

    **Spaces**: ``single_observation_space`` and ``single_action_space`` are the single
    env's; ``observation_space`` is their batch (a ``Dict`` of arrays with a leading N
    axis); ``action_space`` is a :class:`~recarena.envs.spaces.BatchSlateSpace` ``(N, K)``,
    whose samples are valid slates in every row. An action batch with the wrong shape, or
    with invalid slates in some rows, raises :class:`~recarena.errors.InvalidSlate` naming
    the rows.

    **Autoreset** (``autoreset_mode``, also in the instance's ``metadata["autoreset_mode"]``).
    The default is ``AutoresetMode.SAME_STEP``: when user ``i`` leaves (``terminated[i]``)
    or reaches the horizon (``truncated[i]``), the step that ends the episode already
    returns the *next* user's first observation in row ``i``; the finished user's last
    observation is in ``info["final_obs"][i]`` (an object array, ``None`` elsewhere, with
    mask ``info["_final_obs"]``) and their last info in ``info["final_info"]``
    (``user_id``, ``episode_return``, ``episode_length``, each with a ``_``-prefixed mask).
    It is the default because it is the convention of stable-baselines3's ``VecEnv``
    (``terminal_observation``) and of recarena's ``evaluate`` and trainers, and because
    every step of every row is a real step of a user (no step is spent on resets, the
    world's random streams follow the users). The new user has a new ``user_id`` and is
    drawn from the world's users stream.

    ``autoreset_mode="next_step"`` (``AutoresetMode.NEXT_STEP`` or its value
    ``"NextStep"``) is Gymnasium's default convention, which its stateful vector wrappers
    (``NormalizeObservation``) require: the step that ends user ``i``'s episode returns
    that user's last observation (no ``final_obs``); the *next* step ignores row ``i``'s
    action (it need not even be a valid slate) and returns the new user's first
    observation with reward 0, ``terminated`` and ``truncated`` False. That step's info
    gives the new user's ``user_id``, ``candidate_ids`` and ``oracle`` in row ``i``; its
    step entries (``response``, ``examined``, ``slate_*``, the family's extras) have a mask
    (``info["_response"]`` etc., False in the reset rows, whose values are zeros), as
    Gymnasium's ``SyncVectorEnv`` gives for a sub-env that was reset rather than stepped.
    The world steps all N rows at once, so when some rows are reset and others step, the
    rows being reset show their finished user the ignored slate once more, and that
    response is dropped (with a creator model, those impressions still count as exposure);
    when every row is reset (a one-user env, a shared horizon) nothing is stepped, so a
    one-user ``NEXT_STEP`` env reproduces the single env step for step, as ``SAME_STEP``
    does. ``AutoresetMode.DISABLED`` is refused (there is no ``reset_mask``).

    **Info** (every step): ``user_id`` ``(N,)`` (after replacement), ``candidate_ids``
    ``(N, C)`` (catalog ids of the current candidates: public, what a platform knows about
    what it may show), ``response`` (the
    :class:`~recarena.simulators.records.Response` of the step, arrays ``(N, K)`` / ``(N,)``),
    ``slate_item_ids`` ``(N, K)``, and ``oracle``: the single env's privileged truth,
    batched (``scores``, ``quality``, ``length`` ``(N, C)``, ``interests`` ``(N, d)``,
    ``budget``, ``satisfaction`` ``(N,)``, ``attraction`` for attraction-based choice).
    With a retention model also ``day``, ``session_ended`` and ``return_gap`` (masked by
    ``_return_gap``; ``inf`` on churn). ``response``, ``slate_item_ids`` and the retention
    entries describe the step just taken (the finishing user in a replaced row);
    ``user_id`` and ``oracle`` describe the row's current user.

    **Seeding**: ``reset(seed=s)`` builds the world from ``seeding.np_random(s)`` exactly as
    the single env does, so a one-user vector env reproduces the single env step for step,
    episode after episode. ``reset()`` without a seed replaces every user and goes on with
    the world's streams. The world has one seed: a list of per-user seeds is refused.

    **Common random numbers**: :meth:`snapshot` / :meth:`restore` put users, candidates and
    every random stream back, so two policies can face identical users and identical
    exogenous randomness.

    **Arguments**: ``num_envs`` (N users), ``max_episode_steps`` (sets the config's
    ``horizon``; ``make_vec`` passes it), ``render_mode`` (``None`` or ``"ansi"``; anything
    else is a :class:`~recarena.errors.RenderModeError`, a ``ConfigError`` that is also a
    ``TypeError``, see :func:`~recarena.envs.base.check_render_mode`), ``autoreset_mode``
    (``"same_step"``, the default, or ``"next_step"``; an ``AutoresetMode`` or its name or
    value), and the single env family's constructor arguments.

    >>> import gymnasium as gym, recarena
    >>> envs = gym.make_vec("recarena/InterestEvolution-v0", num_envs=8,
    ...                     vectorization_mode="vector_entry_point")
    >>> obs, info = envs.reset(seed=0)
    >>> obs["candidate_features"].shape, envs.action_space
    ((8, 10, 20), BatchSlateSpace(num_slates=8, num_candidates=10, slate_size=2))
    >>> obs, rewards, terminated, truncated, info = envs.step(envs.action_space.sample())
    >>> rewards.shape, terminated.dtype
    ((8,), dtype('bool'))
    """

    metadata = {"render_modes": ["ansi"], "autoreset_mode": AutoresetMode.SAME_STEP}
    #: The single env whose configuration (and constructor arguments) this family uses.
    single_env_class: type[CoreEnv] = CoreEnv

    def __init__(self, num_envs: int = 1, max_episode_steps: int | None = None,
                 render_mode: str | None = None,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.SAME_STEP,
                 **kwargs: Any) -> None:
        self.num_envs = check_int(num_envs, "num_envs", 1)
        config = self.single_env_class.make_config(**kwargs)
        if max_episode_steps is not None:
            config = config.replace(horizon=check_int(max_episode_steps, "max_episode_steps", 1))
        self.render_mode = check_render_mode(render_mode, self.metadata["render_modes"])
        mode = _as_autoreset_mode(autoreset_mode)
        #: this instance's autoreset mode (also ``metadata["autoreset_mode"]``)
        self.autoreset_mode = mode
        self.metadata = {**type(self).metadata, "autoreset_mode": mode}  # the instance's own
        self._next_step = mode is AutoresetMode.NEXT_STEP
        #: NEXT_STEP: rows whose episode ended in the last step (reset at the next step)
        self._pending: np.ndarray | None = None
        self.config = config
        self.core = self.single_env_class.core_class(config)
        self.world = self.core.world
        c, k = self.core.num_candidates, self.core.slate_size
        self.single_observation_space = self.core.observation_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.single_action_space = SlateSpace(c, k)
        self.action_space = BatchSlateSpace(self.num_envs, c, k)
        self.num_candidates, self.slate_size = c, k
        self._returns = np.zeros(self.num_envs)
        self._needs_reset = True
        self._last: CoreStep | None = None

    def close_extras(self, **kwargs: Any) -> None:
        """Release what parts of the configuration hold: the LLM backend an env made for
        its LLM users (``users="llm"``) or creators (``creators="llm"``), as the single
        env's ``close`` does (a backend given as an object stays the caller's)."""
        for part in (getattr(self.config, "user_model", None),
                     getattr(self.config, "creator_policy", None)):
            close = getattr(part, "close", None)
            if callable(close):
                close()

    # ----------------------------------------------------------------- API
    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise ConfigError("seed", seed, "an int or None (the batched world has one seed; "
                              "per-user seed lists are not supported)")
        if seed is not None:
            self._np_random, self._np_random_seed = seeding.np_random(int(seed))
        fresh = seed is not None or self.world.state is None
        obs, info = self.core.reset(self.num_envs, self.np_random if fresh else None)
        self._returns[:] = 0.0
        self._needs_reset = False
        self._pending = None
        self._last = None
        return obs, info

    def step(self, actions: Any) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray,
                                          np.ndarray, dict[str, Any]]:
        if self._needs_reset:
            raise ResetNeeded("step() called before reset(); call reset() first")
        if self._next_step:
            return self._step_next(actions)
        step = self.core.step(self.action_space.validate(actions), autoreset=True)
        self._last = step
        self._returns += step.rewards
        info = step.info
        if step.finished is not None:
            rows, last = step.finished.rows, step.finished.obs
            done = np.zeros(self.num_envs, dtype=bool)
            done[rows] = True
            final_obs = np.full(self.num_envs, None, dtype=object)
            for j, r in enumerate(rows.tolist()):
                final_obs[r] = {key: arr[j] for key, arr in last.items()}
            user_id = np.zeros(self.num_envs, dtype=np.int64)
            user_id[rows] = step.finished.user_id
            length = np.zeros(self.num_envs, dtype=np.int64)
            length[rows] = step.finished.length
            info["final_obs"], info["_final_obs"] = final_obs, done
            info["final_info"] = {
                "user_id": user_id, "_user_id": done,
                "episode_return": np.where(done, self._returns, 0.0), "_episode_return": done,
                "episode_length": length, "_episode_length": done,
            }
            info["_final_info"] = done.copy()
            self._returns[rows] = 0.0
        return step.obs, step.rewards, step.terminated, step.truncated, info

    def _step_next(self, actions: Any) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray,
                                                 np.ndarray, dict[str, Any]]:
        """A step under ``NEXT_STEP`` autoreset (see the class documentation)."""
        pending = self._pending
        if pending is None:  # nobody to reset: a plain step of every row
            step = self.core.step(self.action_space.validate(actions))
        else:
            rows = np.flatnonzero(pending)
            n, k = self.num_envs, self.slate_size
            if rows.size == n:  # everyone is reset: nothing is stepped
                self._pending = None
                self._returns[:] = 0.0
                self._last = None
                obs, info = self.core.reset(n, None)
                zeros = np.zeros(n, dtype=bool)
                return obs, np.zeros(n), zeros, zeros.copy(), info
            # the ignored actions of the reset rows need not be valid slates
            slates = np.asarray(actions)
            if slates.shape == (n, k):
                slates = slates.copy()
                slates[rows] = np.arange(k)
            step = self.core.step(self.action_space.validate(slates))
            self.world.replace_users(rows)
            self.core.refresh_rows(step.obs, rows)
            stepped = ~pending
            step = step._replace(rewards=np.where(stepped, step.rewards, 0.0),
                                 terminated=step.terminated & stepped,
                                 truncated=step.truncated & stepped)
            self._returns[rows] = 0.0
            _mask_step_entries(step.info, pending)
            step.info.update(self.core.user_info())
        self._last = step
        self._returns += step.rewards
        done = step.terminated | step.truncated
        self._pending = done if done.any() else None
        return step.obs, step.rewards, step.terminated, step.truncated, step.info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        state = self.world.state
        if state is None:
            return "not reset"
        shown = min(self.num_envs, 8)
        lines = [f"{self.num_envs} users; first {shown}:"]
        for i in range(shown):
            lines.append(f"  step {int(self.world.steps[i])} return={self._returns[i]:.2f} "
                         + " ".join(self.core.render_row(
                             i, None if self._last is None else self._last.out, detail=False)))
        return "\n".join(lines)

    def snapshot(self) -> VectorSnapshot:
        """Users, candidates, random streams and episode counters, for :meth:`restore`."""
        if self.world.state is None:
            raise ResetNeeded("snapshot() called before reset()")
        return VectorSnapshot(self.world.snapshot(), self._returns.copy(), self._needs_reset,
                              None if self._pending is None else self._pending.copy())

    def restore(self, snap: VectorSnapshot) -> None:
        """Return to ``snap``: the continuation under the same actions is identical."""
        if not isinstance(snap, VectorSnapshot):
            raise ConfigError("snap", snap, "a VectorSnapshot from snapshot()")
        if snap.returns.shape != (self.num_envs,):
            raise ConfigError("snap", f"a snapshot of {snap.returns.shape[0]} users",
                              f"a snapshot of this env's {self.num_envs} users")
        self.world.restore(snap.world)
        self._returns[:] = snap.returns
        self._needs_reset = snap.needs_reset
        self._pending = None if snap.pending is None else snap.pending.copy()
        self._last = None


#: the info entries that say who is in each row now (the rest describe the step taken)
_USER_ENTRIES = frozenset({"user_id", "candidate_ids", "oracle"})


def _zero_rows(value: Any, rows: np.ndarray) -> Any:
    """``value`` (an array, or a NamedTuple / dict of arrays) with ``rows`` set to zero,
    as new arrays (the world's may be read-only or shared)."""
    if isinstance(value, np.ndarray):
        out = value.copy()
        out[rows] = 0
        return out
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)._make(_zero_rows(v, rows) for v in value)
    if isinstance(value, dict):
        return {key: _zero_rows(v, rows) for key, v in value.items()}
    return value


def _mask_step_entries(info: dict[str, Any], reset: np.ndarray) -> None:
    """In a ``NEXT_STEP`` step where the rows ``reset`` were reset rather than stepped:
    every entry describing the step gets a mask ``_key`` (False in those rows, combined
    with a mask it already has) and zeros in those rows, as Gymnasium's ``SyncVectorEnv``
    gives for keys that only some sub-envs returned."""
    rows = np.flatnonzero(reset)
    stepped = ~reset
    for key in [key for key in info if key not in _USER_ENTRIES and key[0] != "_"]:
        info[key] = _zero_rows(info[key], rows)
        mask = info.get("_" + key)
        info["_" + key] = stepped.copy() if mask is None else mask & stepped


def vector_env_class(single_env_class: type[CoreEnv], name: str,
                     module: str | None = None) -> type[CoreVectorEnv]:
    """The vector env class ``name`` of the family whose single env is ``single_env_class``,
    to be bound to ``name`` in ``module`` (default: the single env's module), where pickle
    finds it."""
    single = single_env_class
    doc = (f"N users of :class:`~{single.__module__}.{single.__name__}`, simulated as one "
           f"batch; see :class:`CoreVectorEnv`.\n\n{(single.vector_notes or '').strip()}")
    return type(name, (CoreVectorEnv,), {"single_env_class": single, "__doc__": doc.strip(),
                                         "__module__": module or single.__module__})


def __getattr__(name: str) -> type[CoreVectorEnv]:
    """The vector env classes named in the registration table (``SlateVectorEnv``,
    ``InterestEvolutionVectorEnv``, ...), built on first use: one class per family, no
    hand-written subclasses."""
    import importlib

    if name not in _FAMILIES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, _, attr = _FAMILIES[name].partition(":")
    cls = vector_env_class(getattr(importlib.import_module(module), attr), name, __name__)
    globals()[name] = cls
    return cls
