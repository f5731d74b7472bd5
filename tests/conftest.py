"""Shared fixtures, and one compute thread per test process.

Torch and OpenBLAS start one thread per core by default. On a machine that is busy with
other work (CI runners, a laptop compiling something) those threads fight each other and
everything else for the cores: PPO on a tiny env went from 13 s to 240 s that way. The
arrays in these tests are small, so one thread is also the fastest on a quiet machine.
The variables are set before numpy or torch is imported (they read them once, at import),
and spawned worker processes inherit them; a value the caller set is kept.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402

import recarena  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    """Torch may have been imported by a plugin before the variables above: set it too."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and os.environ["OMP_NUM_THREADS"] == "1":
        torch.set_num_threads(1)


@pytest.fixture(params=recarena.list_envs())
def env_id(request: pytest.FixtureRequest) -> str:
    """Every registered recarena id."""
    return request.param

