"""The single-user Gymnasium env over an env core, the base of every recarena env family."""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym
import numpy as np

from recarena.envs.core import CoreFacts, CoreStep, EnvCore, first_rows
from recarena.envs.spaces import SlateSpace
from recarena.errors import ConfigError, RenderModeError, ResetNeeded

__all__ = ["CoreEnv", "check_render_mode"]


def check_render_mode(render_mode: Any, render_modes: list[str]) -> str | None:
    """``render_mode`` if it is ``None`` or one of ``render_modes``, else
    :class:`~recarena.errors.RenderModeError`.

    That error is a ``ConfigError`` *and* a ``TypeError``, because of what
    stable-baselines3 expects: its ``make_vec_env(env_id)`` first calls
    ``gym.make(env_id, render_mode="rgb_array")`` and, on a ``TypeError`` only, calls
    ``gym.make(env_id)`` again without it. recarena's envs render text (``"ansi"``), not
    images, so ``"rgb_array"`` is refused rather than accepted and ignored: accepting it
    would promise frames that ``render()`` cannot give (video recorders would fail later,
    and Gymnasium's checker tests every listed mode)."""
    if render_mode is not None and render_mode not in render_modes:
        raise RenderModeError("render_mode", render_mode,
                              "None or " + " or ".join(repr(m) for m in render_modes))
    return render_mode


class CoreEnv(CoreFacts, gym.Env):
    """One user's episode: an :class:`~recarena.envs.core.EnvCore` with one row.

    A family names its :attr:`core_class` and :attr:`config_class` and gives
    :meth:`default_config`; its constructor takes a configuration and/or any of its fields
    as keyword arguments (:meth:`make_config`), which the family's vector env takes too.
    :meth:`step` is the core's batched step on a batch of one, handing out row 0: the
    observation's, the reward's and the info's (:meth:`EnvCore.first_row_info`).

    ``render_mode`` is ``None`` or ``"ansi"`` (text); any other value raises
    :class:`~recarena.errors.RenderModeError`, a ``ConfigError`` that is also a
    ``TypeError`` so that stable-baselines3's ``make_vec_env`` falls back to no render mode
    (:func:`check_render_mode`).

    Public facts for wrappers, runners and agents (instead of the core's internals):
    :attr:`num_candidates`, :attr:`slate_size` and those of
    :class:`~recarena.envs.core.CoreFacts` (:attr:`num_items`, :meth:`calendar_day`, ...).
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}
    single = True
    #: The batched machinery behind the env (and behind its vector env).
    core_class: type[EnvCore] = EnvCore
    #: The configuration type this family takes.
    config_class: type = object
    #: Config fields holding parameter dataclasses whose own fields the constructor also
    #: takes as keywords (``gym.make(id, sensitivity=0.2)`` sets ``config.users.sensitivity``).
    nested_configs: tuple[str, ...] = ()
    #: The function that builds the family's configuration from the family's own keyword
    #: arguments (``cascade_config`` for Cascade-v0), or ``None``: the configuration's
    #: fields are the only arguments.
    builder: Any = None
    #: What the family's vector env adds to :class:`~recarena.envs.vector.CoreVectorEnv`'s
    #: documentation (its class docstring is built from it).
    vector_notes: str | None = None

    def __init__(self, config: Any = None, render_mode: str | None = None,
                 **overrides: Any) -> None:
        config = self.make_config(config, **overrides)
        self.config = config
        self.render_mode = check_render_mode(render_mode, self.metadata["render_modes"])
        self.core = self.core_class(config)
        self.world = self.core.world
        self.num_candidates = self.core.num_candidates
        self.slate_size = self.core.slate_size
        self.action_space = SlateSpace(self.num_candidates, self.slate_size)
        self.observation_space = self.core.observation_space
        self._done = True
        self._last: CoreStep | None = None

    @classmethod
    def default_config(cls) -> Any:
        """The configuration used when none is given: the :attr:`builder`'s defaults, or
        the configuration type's."""
        return cls.config_class() if cls.builder is None else cls.builder()

    @classmethod
    def config_arguments(cls, config: Any = None, own_only: bool = False) -> list[str]:
        """The keyword arguments :meth:`make_config` (and so the constructor and the vector
        env) takes: this family's own (its :attr:`builder`'s, e.g. ``shuffle`` for
        Cascade-v0), then the configuration's fields and those of its
        :attr:`nested_configs`."""
        import inspect

        names = [] if cls.builder is None else list(inspect.signature(cls.builder).parameters)
        if own_only:
            return names
        names += [f.name for f in dataclasses.fields(cls.config_class)]
        if cls.nested_configs:
            config = cls.default_config() if config is None else config
            for name in cls.nested_configs:
                names += [f.name for f in dataclasses.fields(getattr(config, name))]
        return list(dict.fromkeys(names))

    @classmethod
    def make_config(cls, config: Any = None, **arguments: Any) -> Any:
        """The configuration this env's constructor builds from its arguments (the vector
        env of the same family builds its configuration through the same method).

        The family's own arguments (its :attr:`builder`'s) either build the configuration or change a given one. Without ``config``, the
        builder makes it from them (the builder holds the defaults). With ``config``, a
        family argument that is a configuration field (``slate_size``, ``horizon``) applies
        to it like any other override; one that only shapes what the builder makes
        (Cascade's ``attraction``, MovieLens' ``fitted``) cannot, and is a ``ConfigError``
        instead of being silently dropped. Every other argument overrides a configuration
        field (:meth:`apply_overrides`)."""
        own = cls.config_arguments(own_only=True)
        given = {key: arguments.pop(key) for key in own if key in arguments}
        if config is None:
            built = cls.builder(**given) if cls.builder is not None else cls.default_config()
            return cls.apply_overrides(built, arguments)
        fields = {f.name for f in dataclasses.fields(cls.config_class)}
        builder_only = [key for key in given if key not in fields]
        if builder_only:
            raise ConfigError(cls.__name__, builder_only,
                              "either config= or the arguments that build one, not both: "
                              f"{', '.join(builder_only)} only shape a configuration built "
                              "from them (pass them without config=, or change the config "
                              "itself)")
        return cls.apply_overrides(config, {**given, **arguments})

    @classmethod
    def apply_overrides(cls, config: Any, overrides: dict[str, Any]) -> Any:
        """``config`` with ``overrides`` (its fields, or those of its nested configurations);
        every unknown name is reported at once with the allowed ones."""
        overrides = dict(overrides)
        if not isinstance(config, cls.config_class):
            raise ConfigError("config", config, f"a {cls.config_class.__name__} or None")
        allowed = cls.config_arguments(config) if overrides else []
        unknown = [k for k in overrides if k not in allowed]
        if unknown:  # every unknown name at once, with the family's own arguments listed
            own = cls.config_arguments(config, own_only=True)
            raise ConfigError(cls.__name__ if own else cls.config_class.__name__,
                              unknown[0] if len(unknown) == 1 else unknown,
                              "a field among " + ", ".join(allowed))
        nested = {name: {k: overrides.pop(k) for k in list(overrides)
                         if k in {f.name for f in dataclasses.fields(getattr(config, name))}}
                  for name in cls.nested_configs}
        if overrides:
            config = config.replace(**overrides)
        changes = {name: dataclasses.replace(getattr(config, name), **kw)
                   for name, kw in nested.items() if kw}
        return config.replace(**changes) if changes else config


    def snapshot(self) -> tuple:
        """The env's full state (world, random streams, step counter) for :meth:`restore`."""
        return (self.world.snapshot(), self._done, self._last)

    def restore(self, snap: tuple) -> None:
        """Go back to a :meth:`snapshot`: the continuation is the same as after it was taken."""
        world, self._done, self._last = snap
        self.world.restore(world)

    # ----------------------------------------------------------------- API
    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start a new user's episode.

        With a ``seed`` (or on the first reset) the world restarts from the env's generator
        (``self.np_random``). Without one, the world goes on with its own random streams
        and a new user replaces the last one, exactly as a finished user is replaced in the
        vector env: episode ``j`` of a single env is user ``j`` of a one-user vector env."""
        super().reset(seed=seed)
        fresh = seed is not None or self.world.state is None
        obs, info = self.core.reset(1, self.np_random if fresh else None)
        self._done = False
        self._last = None
        return first_rows(obs), self.core.first_row_info(info)

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if self._done:
            raise ResetNeeded("step() called before reset() or after the episode ended; "
                              "call reset() first")
        step = self.core.step(self.action_space.validate(action)[None, :])
        self._last = step
        terminated, truncated = bool(step.terminated[0]), bool(step.truncated[0])
        self._done = terminated or truncated
        return (first_rows(step.obs), float(step.rewards[0]), terminated, truncated,
                self.core.first_row_info(step.info))

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        lines = [f"step {self.steps}"]
        if self.world.state is not None:
            lines += self.core.render_row(0, None if self._last is None else self._last.out,
                                          detail=True)
        return "\n".join(lines)
