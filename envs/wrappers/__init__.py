"""Wrappers over recarena envs: slate actions for SB3 (more arrive with later issues)."""

from recarena.envs.wrappers.slate_actions import (
    DeduplicateSlate,
    EnumeratedSlate,
    ScoreSlate,
    repair_slate,
)

__all__ = ["DeduplicateSlate", "EnumeratedSlate", "ScoreSlate", "repair_slate"]
