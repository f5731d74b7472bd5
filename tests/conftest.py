"""Shared fixtures."""

from __future__ import annotations

import pytest

import recarena


@pytest.fixture(params=recarena.list_envs())
def env_id(request: pytest.FixtureRequest) -> str:
    """Every registered recarena id."""
    return request.param
