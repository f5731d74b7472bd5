"""The test processes run one compute thread (see conftest.py): a guard that it holds."""

from __future__ import annotations

import os

import pytest


def test_torch_runs_one_thread() -> None:
    if os.environ.get("OMP_NUM_THREADS") != "1":
        pytest.skip("the caller set its own thread count")
    torch = pytest.importorskip("torch")
    assert torch.get_num_threads() == 1


def test_blas_runs_one_thread() -> None:
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        pytest.skip("the caller set its own thread count")
    threadpoolctl = pytest.importorskip("threadpoolctl")
    pools = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    assert pools and all(p["num_threads"] == 1 for p in pools)
