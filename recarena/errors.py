"""Typed errors raised by recarena.

Every error that reaches a user names what was expected and what was received. They all
derive from :class:`RecArenaError`, and each also derives from the built-in exception a
Python user would reach for (``ValueError``, ``KeyError``, ``RuntimeError``), so that
``except ValueError`` keeps working.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BudgetExhausted",
    "ConfigError",
    "DataError",
    "InvalidSlate",
    "LLMBackendError",
    "RecArenaError",
    "RenderModeError",
    "ResetNeeded",
    "UnknownEnvError",
    "describe",
]


class RecArenaError(Exception):
    """Base class of every error recarena raises on purpose."""


class ConfigError(RecArenaError, ValueError):
    """A configuration value (constructor argument, config field, scenario key) is invalid.

    The message names the field (as a dotted path where nested), the value received and
    what is allowed.
    """

    def __init__(self, field: str, received: Any, expected: str) -> None:
        self.field = field
        self.received = received
        self.expected = expected
        super().__init__(f"{field}: expected {expected}, received {describe(received)}")


class RenderModeError(ConfigError, TypeError):
    """A ``render_mode`` the env does not implement.

    Also a ``TypeError``, on purpose: stable-baselines3's ``make_vec_env`` asks every env
    for ``render_mode="rgb_array"`` and falls back to no render mode only on a
    ``TypeError`` (what an env that takes no such argument raises), so an env refusing a
    render mode must raise one to be usable there. Still a :class:`ConfigError` (and so a
    ``ValueError``) naming the field, the value and the allowed modes.

    Gymnasium's ``make`` re-raises an env creator's ``TypeError`` as
    ``type(e)(message)``: with the message alone, the message is kept as it is.
    """

    def __init__(self, field: str, received: Any = None, expected: str | None = None) -> None:
        if expected is None:  # re-raised with a finished message (gymnasium.make)
            self.field, self.received, self.expected = "render_mode", received, ""
            Exception.__init__(self, field)
            return
        super().__init__(field, received, expected)


class InvalidSlate(RecArenaError, ValueError):
    """A slate (action) is malformed: wrong shape, out-of-range or repeated candidates."""


class UnknownEnvError(RecArenaError, KeyError):
    """An environment id is not registered."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


class DataError(RecArenaError, ValueError):
    """A data file is missing, has the wrong columns, or holds garbled rows."""


class LLMBackendError(RecArenaError, RuntimeError):
    """An LLM endpoint failed or returned something that could not be used."""


class BudgetExhausted(LLMBackendError):
    """An LLM backend's token or cost budget is spent: nothing more will be sent.

    ``decisions`` holds what the call that ran out had already decided (``None`` where a
    request was not sent); every decided reply is also in the backend's cache, if it has one.
    """

    def __init__(self, message: str, decisions: list | None = None) -> None:
        super().__init__(message)
        self.decisions = decisions


def describe(value: Any, limit: int = 80) -> str:
    """Short, readable description of a received value for error messages."""
    try:
        import numpy as np

        if isinstance(value, np.ndarray):
            body = np.array2string(value, threshold=12, max_line_width=limit)
            return f"array(shape={value.shape}, dtype={value.dtype}) {body}"
    except ImportError:  # pragma: no cover - numpy is a core dependency
        pass
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{text} ({type(value).__name__})"


class ResetNeeded(RecArenaError, RuntimeError):
    """``step`` was called before ``reset`` or after the episode ended."""
