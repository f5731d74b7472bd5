"""Fixtures for the LLM tests: a scripted OpenAI-compatible server and configs for it.

``fake_openai`` is a started :class:`~tests.llm.fake_openai.FakeOpenAI` (stopped after the
test); ``llm_config(fake_openai, **overrides)`` makes an
:class:`~recarena.simulators.llm.LLMConfig` for it with test-sized timeouts and backoffs
(timeout 5 s: tests of timeouts set their own; backoff 0.01 s, max_backoff 0.05 s,
max_retries 2).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.llm.fake_openai import FakeOpenAI

#: a recognisable fake key: tests check it never reaches a file, a repr or an error
FAKE_KEY = "sk-test-SECRET-0123456789abcdef"


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def llm_config() -> Callable[..., Any]:
    from recarena.simulators.llm import LLMConfig

    def make(server: FakeOpenAI, **overrides: Any) -> LLMConfig:
        fields = {"base_url": server.url, "model": "fake-model", "api_key": FAKE_KEY,
                  "timeout": 5.0, "max_retries": 2, "backoff": 0.01, "max_backoff": 0.05,
                  "concurrency": 4}
        fields.update(overrides)
        return LLMConfig(**fields)

    return make
