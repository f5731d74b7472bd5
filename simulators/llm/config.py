"""Configuration of the LLM backend: endpoint, decoding, retries, cache, prices and budget.

:class:`LLMConfig` is a frozen, validated record; :class:`PriceTable` turns the token
counts an endpoint reports into US dollars. Neither imports ``openai`` or ``pydantic``.

The API key is a secret: it is kept out of ``repr``/``str``, out of :meth:`LLMConfig.public`
(the manifest view, which says only ``"set"`` or ``"unset"``), out of every error message
and out of the cache key, so it reaches no log, manifest or file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

from recarena.errors import ConfigError
from recarena.validation import check_choice, check_float, check_int

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_PRICES", "LOCAL_PLACEHOLDER_KEY", "LLMConfig",
           "PriceTable", "is_local_url"]

#: OpenAI's endpoint, used when neither ``base_url`` nor ``$OPENAI_BASE_URL`` is set.
DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: The key sent to a local server (Ollama, vLLM, llama.cpp) when none is configured.
LOCAL_PLACEHOLDER_KEY = "local-no-key"

#: USD per 1M prompt tokens, USD per 1M completion tokens (OpenAI's list prices, standard
#: tier, as published for these models; check them before quoting a cost).
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-3.5-turbo": (0.50, 1.50),
}

_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "host.docker.internal"}


def is_local_url(url: str) -> bool:
    """Whether ``url`` points at this machine (a local server: no key needed, free)."""
    host = (urlsplit(url).hostname or "").lower()
    return host in _LOCAL_HOSTS or host.endswith(".localhost") or host.startswith("127.")


class PriceTable:
    """Prices per model, as ``(USD per 1M prompt tokens, USD per 1M completion tokens)``.

    A model is looked up by its name, else by the longest table entry that prefixes it
    (``gpt-4o-mini-2024-07-18`` is priced as ``gpt-4o-mini``). Unknown models have no
    price (:meth:`price` returns ``None``); a local endpoint costs nothing.

    >>> PriceTable().cost("gpt-4o-mini", 1_000_000, 1_000_000)
    0.75
    """

    def __init__(self, prices: Mapping[str, tuple[float, float]] | None = None,
                 *, include_defaults: bool = True) -> None:
        table = dict(DEFAULT_PRICES) if include_defaults else {}
        for model, pair in (prices or {}).items():
            name = f"prices[{model!r}]"
            if not isinstance(model, str) or not model:
                raise ConfigError("prices", model, "model names as non-empty strings")
            if isinstance(pair, (str, bytes)) or not hasattr(pair, "__len__") or len(pair) != 2:
                raise ConfigError(name, pair, "a pair (USD per 1M prompt tokens, "
                                              "USD per 1M completion tokens)")
            table[model] = (check_float(pair[0], name + "[0]", 0.0),
                            check_float(pair[1], name + "[1]", 0.0))
        self._table = table

    def price(self, model: str) -> tuple[float, float] | None:
        """``(prompt, completion)`` USD per 1M tokens of ``model``, or ``None`` if unknown."""
        if model in self._table:
            return self._table[model]
        best = max((m for m in self._table if model.startswith(m)), key=len, default=None)
        return None if best is None else self._table[best]

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
        """USD for the given token counts, or ``None`` when ``model`` has no price."""
        price = self.price(model)
        if price is None:
            return None
        return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6

    def as_dict(self) -> dict[str, list[float]]:
        return {m: list(p) for m, p in sorted(self._table.items())}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PriceTable) and self._table == other._table

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._table.items())))

    def __repr__(self) -> str:
        return f"PriceTable({self.as_dict()})"


@dataclass(frozen=True)
class LLMConfig:
    """How to reach an OpenAI-compatible chat-completions endpoint and what a run may spend.

    **Endpoint**: ``base_url`` (``None``: ``$OPENAI_BASE_URL``, else OpenAI's), ``model``,
    ``api_key`` (``None``: ``$OPENAI_API_KEY``; a local server gets a placeholder key). The
    key is never shown: not in ``repr``, :meth:`public`, errors, logs or the cache.

    **Decoding** (per reply): ``temperature`` in [0, 2], ``top_p`` in (0, 1] or ``None``,
    ``max_tokens`` >= 1; every request also carries its own ``seed``.

    **Structured output**: ``response_format`` ``"json_schema"`` (strict JSON schema of the
    caller's pydantic model; OpenAI, vLLM, Ollama >= 0.5), ``"json_object"`` (JSON mode),
    ``"json_object_schema"`` (JSON mode with the schema attached,
    ``{"type": "json_object", "schema": ...}``: llama-cpp-python's server, which then
    constrains decoding to the schema) or ``"none"`` (plain text; the reply's first JSON
    object is parsed).

    **Failures**: ``timeout`` seconds per attempt; at most ``max_retries`` retries per
    request on 408/409/429/5xx, timeouts and dropped connections, waiting
    ``min(max_backoff, backoff * 2**k)`` times a jitter in [0.5, 1], or the server's
    ``Retry-After`` when it gives one of at most 60 s; ``concurrency`` requests in flight.

    **Cache**: ``cache`` is the path of an SQLite file (``None``: no cache), see
    :mod:`recarena.simulators.llm.cache`.

    **Cost**: ``prices`` (a :class:`PriceTable` or a mapping model -> pair, added to the
    built-in table), and a hard budget for the backend's lifetime: ``max_total_tokens``
    (prompt + completion) and ``max_cost`` (USD). A ``max_cost`` needs a price for the
    model (or a local endpoint, which is free).

    >>> LLMConfig(model="gpt-4o-mini", api_key="sk-secret").public()["api_key"]
    'set'
    """

    base_url: str | None = None
    model: str = "gpt-4o-mini"
    api_key: str | None = field(default=None, repr=False)
    temperature: float = 0.0
    top_p: float | None = None
    max_tokens: int = 200
    timeout: float = 30.0
    max_retries: int = 4
    backoff: float = 0.5
    max_backoff: float = 20.0
    concurrency: int = 16
    response_format: str = "json_schema"
    cache: str | os.PathLike | None = None
    prices: PriceTable | Mapping[str, tuple[float, float]] | None = None
    max_total_tokens: int | None = None
    max_cost: float | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if self.base_url is not None:
            if not isinstance(self.base_url, str) or urlsplit(self.base_url).scheme not in (
                    "http", "https") or not urlsplit(self.base_url).hostname:
                raise ConfigError("LLMConfig.base_url", self.base_url,
                                  "None or an http(s) URL such as 'http://localhost:11434/v1'")
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigError("LLMConfig.model", self.model, "a non-empty model name")
        if self.api_key is not None and (not isinstance(self.api_key, str)
                                         or not self.api_key.strip()):
            # the value itself is never shown: it may be a key
            raise ConfigError("LLMConfig.api_key", f"<{type(self.api_key).__name__}, hidden>",
                              "None or a non-empty string")
        set_(self, "temperature", check_float(self.temperature, "LLMConfig.temperature",
                                              0.0, 2.0))
        if self.top_p is not None:
            set_(self, "top_p", check_float(self.top_p, "LLMConfig.top_p", 0.0, 1.0,
                                            low_open=True))
        set_(self, "max_tokens", check_int(self.max_tokens, "LLMConfig.max_tokens", 1))
        set_(self, "timeout", check_float(self.timeout, "LLMConfig.timeout", 0.0, low_open=True))
        set_(self, "max_retries", check_int(self.max_retries, "LLMConfig.max_retries", 0, 100))
        set_(self, "backoff", check_float(self.backoff, "LLMConfig.backoff", 0.0))
        set_(self, "max_backoff", check_float(self.max_backoff, "LLMConfig.max_backoff", 0.0))
        set_(self, "concurrency", check_int(self.concurrency, "LLMConfig.concurrency", 1, 4096))
        check_choice(self.response_format, "LLMConfig.response_format",
                     ("json_schema", "json_object", "json_object_schema", "none"))
        if self.cache is not None:
            if not isinstance(self.cache, (str, os.PathLike)) or not os.fspath(self.cache):
                raise ConfigError("LLMConfig.cache", self.cache, "None or a file path")
            set_(self, "cache", os.fspath(self.cache))
        if not isinstance(self.prices, PriceTable):
            if self.prices is not None and not isinstance(self.prices, Mapping):
                raise ConfigError("LLMConfig.prices", self.prices,
                                  "None, a PriceTable or a mapping model -> (prompt, completion) "
                                  "USD per 1M tokens")
            set_(self, "prices", PriceTable(self.prices))
        if self.max_total_tokens is not None:
            set_(self, "max_total_tokens", check_int(self.max_total_tokens,
                                                     "LLMConfig.max_total_tokens", 0))
        if self.max_cost is not None:
            set_(self, "max_cost", check_float(self.max_cost, "LLMConfig.max_cost", 0.0))
            if self.price() is None:
                raise ConfigError("LLMConfig.prices", self.model,
                                  f"a price for model {self.model!r} (max_cost needs one): "
                                  "pass prices={model: (prompt, completion) USD per 1M tokens}")

    # -- derived values ------------------------------------------------------------------
    def resolved_base_url(self) -> str:
        """``base_url``, else ``$OPENAI_BASE_URL``, else OpenAI's endpoint."""
        return self.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL

    def is_local(self) -> bool:
        return is_local_url(self.resolved_base_url())

    def resolved_api_key(self) -> str | None:
        """The key to send: ``api_key``, else ``$OPENAI_API_KEY``, else a placeholder for a
        local server, else ``None`` (a remote endpoint without a key)."""
        key = self.api_key or os.environ.get("OPENAI_API_KEY")
        if key:
            return key
        return LOCAL_PLACEHOLDER_KEY if self.is_local() else None

    def price(self) -> tuple[float, float] | None:
        """USD per 1M (prompt, completion) tokens of ``model``; a local endpoint is free."""
        assert isinstance(self.prices, PriceTable)
        price = self.prices.price(self.model)
        if price is None and self.is_local():
            return (0.0, 0.0)
        return price

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """USD for the given token counts of ``model`` (``None`` if it has no price)."""
        price = self.price()
        if price is None:
            return None
        return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6

    def public(self) -> dict[str, Any]:
        """Every field for a manifest, the key replaced by ``"set"``/``"unset"`` (whether a
        key, configured or from ``$OPENAI_API_KEY``, will be sent)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "api_key":
                value = "set" if (self.api_key or os.environ.get("OPENAI_API_KEY")) else "unset"
            elif f.name == "prices":
                price = self.price()
                value = {self.model: None if price is None else list(price)}
            elif f.name == "base_url":
                value = self.resolved_base_url()
            out[f.name] = value
        return out

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> LLMConfig:
        """An ``LLMConfig`` from a mapping (a scenario's ``[llm]`` table); unknown keys are
        refused with the list of allowed ones."""
        if not isinstance(data, Mapping):
            raise ConfigError("llm", data, "a mapping of LLMConfig fields")
        allowed = [f.name for f in fields(cls)]
        for key in data:
            if key not in allowed:
                raise ConfigError(f"llm.{key}", key, "one of " + ", ".join(allowed))
        return cls(**dict(data))

    @classmethod
    def from_env_argument(cls, data: Mapping[str, Any], owner: str) -> LLMConfig:
        """An ``LLMConfig`` from an env's ``llm={...}`` argument. A key is refused there:
        Gymnasium keeps an env's arguments in ``env.spec`` (printed, pickled, copied into
        trainers' checkpoints and run manifests), so the key comes from ``$OPENAI_API_KEY``
        (or an ``LLMConfig`` / backend object, which the env does not record)."""
        if isinstance(data, Mapping) and data.get("api_key") is not None:
            raise ConfigError(f"{owner}.llm.api_key", "a key in the env's arguments",
                              "no key here: env arguments are kept in env.spec, checkpoints "
                              "and manifests; set $OPENAI_API_KEY or pass an LLMConfig or "
                              "LLMBackend object")
        return cls.from_mapping(data)


def env_backend(llm: Any, owner: str, role: str) -> tuple[Any, bool]:
    """The LLM backend an env's ``llm`` argument names, and whether the env owns it (and
    so closes it): a mapping of :class:`LLMConfig` fields (no key:
    :meth:`LLMConfig.from_env_argument`) or an ``LLMConfig`` becomes a new
    :class:`~recarena.simulators.llm.LLMBackend`; an object with ``decide`` is used as it
    is. ``role`` names the env option that asked for it (``users='llm'``)."""
    from recarena.simulators.llm.backend import LLMBackend

    if isinstance(llm, Mapping):
        llm = LLMConfig.from_env_argument(llm, owner)
    owns = isinstance(llm, LLMConfig)
    if owns:
        llm = LLMBackend(llm)
    if not callable(getattr(llm, "decide", None)):
        raise ConfigError(f"{owner}.llm", llm, "the LLM backend: a dict of LLMConfig fields, "
                          f"an LLMConfig or an LLMBackend (with {role})")
    return llm, owns
