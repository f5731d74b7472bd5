"""Wrappers over recarena envs: slate actions for SB3, and the event-log writers."""

from recarena.envs.wrappers.event_logger import EventLogger, VectorEventLogger
from recarena.envs.wrappers.slate_actions import (
    DeduplicateSlate,
    EnumeratedSlate,
    ScoreSlate,
    repair_slate,
)

__all__ = ["DeduplicateSlate", "EnumeratedSlate", "EventLogger", "ScoreSlate", "VectorEventLogger",
           "repair_slate"]
