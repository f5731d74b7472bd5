"""The LLM backend: batches of chat requests to any OpenAI-compatible endpoint, decided
into validated pydantic values, cached, retried within bounds, and paid for within a budget.

:class:`LLMBackend` is what LLM-driven users and creators call once per step for the whole
batch (see ``docs/ARCHITECTURE.md``, "Users whose decisions come from an external
service"). It talks to the endpoint through the official ``openai`` client
(``AsyncOpenAI``, its own retries off; the chat body goes through the client's generic
``post``, which skips the typed request transform that costs 3.5 ms of CPU a request for a
JSON schema), on a private event loop in a background thread, so that the synchronous
:meth:`LLMBackend.decide` works from plain code, from ``env.step`` and inside a running
Jupyter event loop alike. A forked worker starts its own loop and cache connection.

**One call, one batch.** ``decide(requests, schema)`` returns one :class:`LLMDecision` per
request, in order. Requests found in the cache are answered from it in one query; the
others run concurrently, at most ``config.concurrency`` in flight.

**A request never raises.** A request is retried on 408/409/429/5xx, timeouts and dropped
connections (at most ``max_retries`` retries, exponential backoff with jitter, the
server's ``Retry-After`` honoured), and a reply that does not parse or validate is sent
back once with the validation error (one repair). What still fails is decided by
``"fallback"`` (``value=None``, the reason in ``error``): the caller then uses its own
model's decision. No exception text is ever returned as a value.

**Faults that make every request fail raise** :class:`~recarena.errors.LLMBackendError`
with what to fix: a wrong key (401/403), an unknown model (404), a server that does not
speak the chat-completions protocol (HTML, JSON without ``choices``), an endpoint that
gives no answer at all (connection refused or timed out, with no reply from it during the
request's whole retry span: a hung server raises instead of stalling a run; a server that
answers some requests makes the others fall back). :meth:`LLMBackend.check` probes these
before a run. A 4xx the request itself caused (400: context too long, ...) is a fallback.

**Budget.** ``max_total_tokens`` and ``max_cost`` bound the backend's lifetime. Each
attempt reserves its upper bound (estimated prompt tokens plus ``max_tokens``) before it is
sent and settles at the server's reported usage (the estimate, for a server that reports
none), so the budget is never exceeded by more than the error of the prompt estimate. Once nothing more fits, requests are not sent and
``decide`` raises :class:`~recarena.errors.BudgetExhausted`, carrying the decisions the call
did make (each also in the cache): nothing decided is lost. Cache hits are free and are
served even when the budget is spent.

``openai`` is imported when the first request is sent: building requests, parsing replies
and replaying a cache need only pydantic.

The key is never written anywhere: not in the cache, errors (server text that echoes it
is redacted), logs or ``repr``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from recarena.errors import BudgetExhausted, ConfigError, LLMBackendError
from recarena.simulators.llm.accounting import (
    Usage,
    count_tokens,
    estimate_tokens,
    tokenizer_name,
)
from recarena.simulators.llm.cache import CachedReply, ReplyCache, key_for, settings_digest
from recarena.simulators.llm.config import LLMConfig
from recarena.validation import check_int

__all__ = ["LLMBackend", "LLMDecision", "LLMRequest", "parse_reply"]

log = logging.getLogger("recarena.llm")

DecidedBy = Literal["llm", "cache", "fallback"]
_RETRY_STATUS = {408, 409, 429}
_MAX_RETRY_AFTER = 60.0
_ERROR_CHARS = 300


@dataclass(frozen=True)
class LLMRequest:
    """One chat request: ``messages`` (``[{"role": ..., "content": ...}]``), the decoding
    ``seed`` (draw it from the caller's seeded generator) and a free-text ``tag`` for logs
    (``"user 17 step 3"``; not part of the cache key)."""

    messages: Sequence[Mapping[str, str]]
    seed: int
    tag: str = ""

    def __post_init__(self) -> None:
        msgs = self.messages
        if isinstance(msgs, (str, bytes, Mapping)) or not isinstance(msgs, Sequence) or not msgs:
            raise ConfigError("LLMRequest.messages", msgs,
                              'a non-empty list of {"role": ..., "content": ...} dicts')
        for i, m in enumerate(msgs):
            if (not isinstance(m, Mapping) or not isinstance(m.get("role"), str)
                    or not isinstance(m.get("content"), str)):
                raise ConfigError(f"LLMRequest.messages[{i}]", m,
                                  'a dict {"role": str, "content": str}')
        ok = isinstance(self.seed, int) and not isinstance(self.seed, bool)
        if not ok and hasattr(self.seed, "dtype") and getattr(self.seed, "shape", None) == ():
            ok = self.seed.dtype.kind in "iu"
        if not ok or not 0 <= int(self.seed) < 2**63:
            raise ConfigError("LLMRequest.seed", self.seed, "an integer in [0, 2**63)")
        object.__setattr__(self, "seed", int(self.seed))
        object.__setattr__(self, "messages",
                           tuple({"role": m["role"], "content": m["content"]} for m in msgs))
        if not isinstance(self.tag, str):
            raise ConfigError("LLMRequest.tag", self.tag, "a string")


@dataclass(frozen=True)
class LLMDecision:
    """What became of one request.

    ``value``: the validated reply (an instance of the schema), ``None`` for a fallback.
    ``decided_by``: ``"llm"`` (answered now), ``"cache"`` (replayed, nothing sent) or
    ``"fallback"`` (no usable reply: the caller decides by its model). ``error``: why a
    fallback happened (``None`` otherwise). ``prompt_tokens``/``completion_tokens``: what
    the reply cost (for a cache hit: what it cost when it was first paid). ``raw``: the
    reply text that was parsed (the last one received, for a fallback). ``attempts``: HTTP
    requests sent for it now (0 for a cache hit).
    """

    value: BaseModel | None
    decided_by: DecidedBy
    error: str | None
    prompt_tokens: int
    completion_tokens: int
    raw: str | None
    attempts: int


# -- parsing -------------------------------------------------------------------------------
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)


def _json_candidates(text: str) -> list[str]:
    """Substrings of ``text`` that are a whole JSON object: the body of the first code
    fence, then the first decodable object starting at one of the first ``{``."""
    out = []
    fence = _FENCE.search(text)
    if fence:
        out.append(fence.group(1).strip())
    decoder = json.JSONDecoder()
    start = text.find("{")
    tries = 0
    while start != -1 and tries < 20:
        try:
            _, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            start, tries = text.find("{", start + 1), tries + 1
            continue
        out.append(text[start:end])
        break
    return out


def _short_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(x) for x in err.get("loc", ())) or "reply"
        parts.append(f"{loc}: {err.get('msg', '')}")
    text = "; ".join(parts)
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 3] + "..."


def parse_reply(text: str, schema: type[BaseModel]) -> tuple[BaseModel | None, str | None]:
    """``(value, None)`` if ``text`` (or the first JSON object in it: a reply wrapped in a
    code fence or after leading prose) validates against ``schema``, else ``(None, reason)``.
    """
    try:
        return schema.model_validate_json(text), None
    except ValidationError as exc:
        error = _short_error(exc)
    for candidate in _json_candidates(text):
        if candidate == text:
            continue
        try:
            return schema.model_validate_json(candidate), None
        except ValidationError as exc:
            error = _short_error(exc)
    return None, error


def _schema_name(schema: type[BaseModel]) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "_", schema.__name__)[:64] or "reply"


# -- attempt outcomes ----------------------------------------------------------------------
class _Transient(Exception):
    def __init__(self, kind: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind, self.retry_after = kind, retry_after


class _Rejected(Exception):
    """A 4xx the request itself caused (bad request, context too long): no retry."""


class _Fatal(Exception):
    """A fault of the endpoint or the configuration: every request would fail."""


class _NotSent:
    """Sentinel: the budget left no room to send this request."""


_NOT_SENT = _NotSent()


def _retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return float(ms) / 1000.0
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            return parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError, OverflowError):
        return None


class LLMBackend:
    """Decides batches of chat requests through an OpenAI-compatible endpoint (see the
    module docstring for the guarantees).

    **Arguments**: ``config`` (:class:`~recarena.simulators.llm.config.LLMConfig`),
    ``progress`` (optional callable, called with :attr:`usage` after each decision the
    endpoint makes, from the backend's thread, and once after a call's cache hits;
    :meth:`progress_text` gives a tqdm postfix).

    **Usage**::

        with LLMBackend(LLMConfig(base_url="http://localhost:11434/v1", model="llama3.1",
                                  cache="runs/llm.sqlite")) as backend:
            backend.check()
            decisions = backend.decide(requests, Choice)

    ``usage`` holds the running totals; ``estimate`` is a dry run.
    """

    def __init__(self, config: LLMConfig,
                 progress: Callable[[Usage], None] | None = None) -> None:
        if not isinstance(config, LLMConfig):
            raise ConfigError("LLMBackend.config", config, "an LLMConfig")
        if progress is not None and not callable(progress):
            raise ConfigError("LLMBackend.progress", progress, "None or a callable")
        self.config = config
        self.usage = Usage(cost=0.0 if config.price() is not None else None)
        self._progress = progress
        self._base_url = config.resolved_base_url()
        self._key = config.resolved_api_key()
        self._cache = ReplyCache(config.cache) if config.cache is not None else None
        self._pid = os.getpid()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: Any = None
        self._sem: asyncio.Semaphore | None = None
        self._budget: asyncio.Condition | None = None
        self._reserved = [0, 0.0]  # tokens, USD reserved by attempts in flight
        self._last_response = -1.0  # monotonic time of the last HTTP reply of any status
        self._closed = False

    # -- public API ----------------------------------------------------------------------
    def decide(self, requests: Sequence[LLMRequest],
               schema: type[BaseModel]) -> list[LLMDecision]:
        """One :class:`LLMDecision` per request, in order (see the class docstring)."""
        self._check_open()
        if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
            raise ConfigError("LLMBackend.decide.schema", schema, "a pydantic BaseModel class")
        requests = list(requests)
        for i, req in enumerate(requests):
            if not isinstance(req, LLMRequest):
                raise ConfigError(f"LLMBackend.decide.requests[{i}]", req, "an LLMRequest")
        if not requests:
            return []
        t0 = time.perf_counter()
        settings = self._settings(schema.model_json_schema())
        keys = [key_for(settings, req.messages, req.seed) for req in requests]
        results: list[LLMDecision | None] = [None] * len(requests)
        hits = self._cache.get_many(sorted(set(keys))) if self._cache is not None else {}
        misses = []
        for i, key in enumerate(keys):
            hit = hits.get(key)
            value = parse_reply(hit.raw, schema)[0] if hit is not None else None
            if value is None:
                misses.append(i)
                continue
            results[i] = LLMDecision(value, "cache", None, hit.prompt_tokens,
                                     hit.completion_tokens, hit.raw, 0)
        self.usage.cache_hits += len(requests) - len(misses)
        self.usage.decisions += len(requests) - len(misses)
        if self._progress is not None and len(misses) < len(requests):
            self._progress(self.usage)
        try:
            if misses:
                if self._spent():
                    raise BudgetExhausted(self._budget_message(len(requests) - len(misses),
                                                               len(misses)), list(results))
                coro = self._decide_async([requests[i] for i in misses],
                                          [keys[i] for i in misses], schema)
                got = self._run(coro)
                for i, decision in zip(misses, got, strict=True):
                    results[i] = None if decision is _NOT_SENT else decision
                not_sent = sum(r is None for r in results)
                if not_sent:
                    raise BudgetExhausted(
                        self._budget_message(len(requests) - not_sent, not_sent), list(results))
        finally:
            self.usage.seconds += time.perf_counter() - t0
        return results  # type: ignore[return-value]

    def check(self) -> None:
        """One small completion (8 tokens at most, with the configured response format):
        raises :class:`~recarena.errors.LLMBackendError` saying what to fix if the
        endpoint is unreachable, refuses the key, does not know the model, is not
        OpenAI-compatible or refuses the response format. Its tokens count as spent; with
        the budget already spent it sends nothing and raises
        :class:`~recarena.errors.BudgetExhausted`."""
        self._check_open()
        if self._spent():
            raise BudgetExhausted(self._budget_message(0, 1), [])
        self._run(self._probe())

    def estimate(self, requests: Sequence[LLMRequest], completion_tokens: int | None = None,
                 schema: type[BaseModel] | None = None) -> dict[str, Any]:
        """A dry run: nothing is sent. With ``schema``, requests already in the cache are
        counted as ``cached`` and cost nothing, and the schema's tokens are counted in the
        prompt when the response format sends the schema. ``completion_tokens`` per reply
        defaults to ``max_tokens`` (an upper bound). Prompt tokens are estimated
        (``tokenizer`` says how)."""
        self._check_open()
        cfg = self.config
        per_reply = cfg.max_tokens if completion_tokens is None else completion_tokens
        per_reply = check_int(per_reply, "LLMBackend.estimate.completion_tokens", 0)
        requests = list(requests)
        cached = 0
        send = requests
        if schema is not None:
            if self._cache is not None:
                settings = self._settings(schema.model_json_schema())
                keys = [key_for(settings, r.messages, r.seed) for r in requests]
                hits = self._cache.get_many(sorted(set(keys)))
                send = [r for r, k in zip(requests, keys, strict=True) if k not in hits]
                cached = len(requests) - len(send)
        sent_schema = (schema.model_json_schema() if schema is not None and cfg.response_format
                       in ("json_schema", "json_object_schema") else None)
        prompt = sum(estimate_tokens(r.messages, sent_schema) for r in send)
        completion = per_reply * len(send)
        return {"requests": len(requests), "cached": cached, "to_send": len(send),
                "prompt_tokens": prompt, "completion_tokens": completion,
                "cost": cfg.cost(prompt, completion), "tokenizer": tokenizer_name()}

    def request_key(self, request: LLMRequest, schema: type[BaseModel]) -> str:
        """The cache key of ``request`` with replies of ``schema`` under this config."""
        return key_for(self._settings(schema.model_json_schema()), request.messages,
                       request.seed)

    def progress_text(self) -> str:
        """A short line for a progress bar (decisions/s, cache hits, fallbacks, spend)."""
        return self.usage.progress_text()

    def close(self) -> None:
        """Close the HTTP client, stop the backend's thread and close the cache."""
        if self._closed:
            return
        self._closed = True
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and self._pid == os.getpid():
            if self._client is not None:
                try:
                    asyncio.run_coroutine_threadsafe(self._client.close(), loop).result(10)
                except Exception:  # closing a broken connection pool: nothing to save
                    log.debug("closing the HTTP client failed", exc_info=True)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
        self._loop = self._thread = self._client = None
        if self._cache is not None:
            self._cache.close()

    def __enter__(self) -> LLMBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"LLMBackend(model={self.config.model!r}, base_url={self._base_url!r}, "
                f"cache={self.config.cache!r})")

    # -- plumbing ------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise LLMBackendError("this LLMBackend is closed: create a new one")
        if self._pid != os.getpid():
            # a forked child (a scenario worker): the parent's thread, loop, sockets and
            # SQLite connection are not usable here; start afresh on the same cache file
            self._pid = os.getpid()
            self._loop = self._thread = self._client = self._sem = self._budget = None
            self._reserved = [0, 0.0]
            if self._cache is not None:
                self._cache = ReplyCache(self._cache.path)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (for a spawned worker) as its config and usage; the progress hook, a
        local display, is left behind."""
        return {"config": self.config, "usage": self.usage}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"])  # type: ignore[misc]
        self.usage = state["usage"]

    def _settings(self, schema_json: dict) -> str:
        cfg = self.config
        return settings_digest(model=cfg.model, temperature=cfg.temperature, top_p=cfg.top_p,
                               max_tokens=cfg.max_tokens, response_format=cfg.response_format,
                               schema=schema_json)

    def _redact(self, text: str) -> str:
        if self._key and len(self._key) >= 4:
            text = text.replace(self._key, "***")
        return text

    def _run(self, coro: Any) -> Any:
        """Run ``coro`` on the backend's loop (started on first use) and wait for it; fatal
        outcomes become LLMBackendError."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever,
                                            name="recarena-llm", daemon=True)
            self._thread.start()
            self._client = self._sem = self._budget = None
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result()
        except _Fatal as exc:
            raise LLMBackendError(self._redact(str(exc))) from None
        except BaseException:
            future.cancel()
            raise

    def _ensure_client(self) -> None:
        """Create the client, semaphore and budget condition on the backend's loop."""
        if self._client is not None:
            return
        if self._key is None:
            raise _Fatal(f"no API key for {self._base_url}: set $OPENAI_API_KEY or "
                         "LLMConfig.api_key (a local server needs none)")
        try:
            import openai
        except ImportError:
            raise _Fatal("the LLM backend needs the openai package: pip install "
                         "'recarena[llm]'") from None
        self._client = openai.AsyncOpenAI(api_key=self._key, base_url=self._base_url,
                                          timeout=self.config.timeout, max_retries=0)
        self._sem = asyncio.Semaphore(self.config.concurrency)
        self._budget = asyncio.Condition()

    def _response_format(self, schema: type[BaseModel]) -> dict | None:
        fmt = self.config.response_format
        if fmt == "json_object":
            return {"type": "json_object"}
        if fmt == "json_object_schema":
            return {"type": "json_object", "schema": schema.model_json_schema()}
        if fmt == "json_schema":
            from openai.lib._pydantic import to_strict_json_schema

            return {"type": "json_schema",
                    "json_schema": {"name": _schema_name(schema),
                                    "schema": to_strict_json_schema(schema), "strict": True}}
        return None

    def _where(self) -> str:
        return f"{self._base_url} (model {self.config.model!r})"

    async def _send(self, messages: Sequence[Mapping[str, str]], seed: int, response_format: Any,
                    max_tokens: int) -> tuple[str | None, str | None, int | None, int | None]:
        """One HTTP attempt: ``(content, refusal, prompt_tokens, completion_tokens)``, or
        one of the outcome exceptions."""
        import openai

        cfg = self.config
        body: dict[str, Any] = {"model": cfg.model, "messages": list(messages),
                                "temperature": cfg.temperature, "max_tokens": max_tokens,
                                "seed": seed}
        if cfg.top_p is not None:
            body["top_p"] = cfg.top_p
        if response_format is not None:
            body["response_format"] = response_format
        try:
            async with asyncio.timeout(cfg.timeout * 1.5 + 1.0):
                # the client's generic POST: the body is sent as built here, without the
                # typed transform of chat.completions.create (3.5 ms of CPU a request for a
                # JSON schema), and the reply comes back as parsed JSON
                resp = await self._client.post("/chat/completions", cast_to=object,
                                               body=body, options={"timeout": cfg.timeout})
        except (openai.APITimeoutError, TimeoutError):
            raise _Transient("timeout", f"no reply within {cfg.timeout} s") from None
        except openai.APIConnectionError as exc:
            raise _Transient("connection", f"connection failed ({exc.__cause__ or exc})"
                             ) from None
        except openai.APIResponseValidationError as exc:
            self._last_response = time.monotonic()
            raise _Fatal(f"the endpoint {self._where()} is not OpenAI-compatible: "
                         f"{exc.message}") from None
        except openai.APIStatusError as exc:
            self._last_response = time.monotonic()
            status, text = exc.status_code, self._redact(str(exc.message))[:_ERROR_CHARS]
            if status in (401, 403):
                raise _Fatal(f"HTTP {status} from {self._where()}: the endpoint refused the "
                             "API key; set $OPENAI_API_KEY or LLMConfig.api_key to a valid key "
                             f"({text})") from None
            if status == 404:
                raise _Fatal(f"HTTP 404 from {self._where()}: unknown model or wrong URL; "
                             "check LLMConfig.model against the endpoint's models and that "
                             f"base_url ends in /v1 ({text})") from None
            if status in _RETRY_STATUS or status >= 500:
                raise _Transient(f"HTTP {status}", f"HTTP {status}: {text}",
                                 _retry_after(exc.response.headers)) from None
            raise _Rejected(f"HTTP {status}: {text}") from None
        self._last_response = time.monotonic()
        try:
            message = resp["choices"][0]["message"]
            content, refusal = message.get("content"), message.get("refusal")
            if isinstance(content, list):  # content parts
                content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
            if content is not None and not isinstance(content, str):
                raise TypeError("content")
        except (TypeError, KeyError, IndexError, AttributeError):
            shown = resp if isinstance(resp, str) else json.dumps(resp, default=str)
            raise _Fatal(f"the endpoint {self._where()} is not OpenAI-compatible: expected a "
                         "chat-completions JSON reply with 'choices', received "
                         f"{self._redact(shown[:120])!r}; check LLMConfig.base_url") from None
        usage = resp.get("usage") if isinstance(resp.get("usage"), dict) else {}
        tokens = [usage.get("prompt_tokens"), usage.get("completion_tokens")]
        tokens = [t if isinstance(t, int) and not isinstance(t, bool) and t >= 0 else None
                  for t in tokens]
        return content, refusal, tokens[0], tokens[1]

    # -- budget --------------------------------------------------------------------------
    def _has_budget(self) -> bool:
        return self.config.max_total_tokens is not None or self.config.max_cost is not None

    def _spent(self) -> bool:
        cfg = self.config
        return ((cfg.max_total_tokens is not None
                 and self.usage.total_tokens >= cfg.max_total_tokens)
                or (cfg.max_cost is not None and (self.usage.cost or 0.0) >= cfg.max_cost))

    def _fits(self, tokens: int, cost: float) -> bool:
        cfg = self.config
        if (cfg.max_total_tokens is not None
                and self.usage.total_tokens + self._reserved[0] + tokens > cfg.max_total_tokens):
            return False
        return not (cfg.max_cost is not None and (self.usage.cost or 0.0) + self._reserved[1]
                    + cost > cfg.max_cost)

    async def _reserve(self, tokens: int, cost: float) -> bool:
        """Reserve an attempt's upper bound; False when it cannot fit even after every
        attempt in flight has settled."""
        if not self._has_budget():
            return True
        async with self._budget:
            while not self._fits(tokens, cost):
                if self._reserved[0] == 0 and self._reserved[1] == 0.0:
                    return False
                await self._budget.wait()
            self._reserved[0] += tokens
            self._reserved[1] += cost
            return True

    async def _settle(self, reserved: tuple[int, float], prompt: int, completion: int) -> None:
        self.usage.prompt_tokens += prompt
        self.usage.completion_tokens += completion
        cost = self.config.cost(prompt, completion)
        if self.usage.cost is not None and cost is not None:
            self.usage.cost += cost
        if self._has_budget():
            async with self._budget:
                self._reserved[0] -= reserved[0]
                self._reserved[1] -= reserved[1]
                self._budget.notify_all()

    def _budget_message(self, decided: int, not_sent: int) -> str:
        cfg, u = self.config, self.usage
        limits = []
        if cfg.max_total_tokens is not None:
            limits.append(f"{u.total_tokens} of max_total_tokens={cfg.max_total_tokens} tokens")
        if cfg.max_cost is not None:
            limits.append(f"${u.cost or 0.0:.6f} of max_cost=${cfg.max_cost}")
        return (f"LLM budget spent ({', '.join(limits)}; the next request needs up to "
                f"max_tokens={cfg.max_tokens} more): {decided} requests of this call decided"
                f"{' and cached' if self._cache is not None else ''}, {not_sent} not sent. "
                "Raise LLMConfig.max_total_tokens / max_cost to continue; a rerun with the "
                "same cache replays what was decided for free.")

    # -- one batch -----------------------------------------------------------------------
    async def _decide_async(self, requests: list[LLMRequest], keys: list[str],
                            schema: type[BaseModel]) -> list[LLMDecision | _NotSent]:
        self._ensure_client()
        fmt = self._response_format(schema)
        schema_tokens = (estimate_tokens([], schema.model_json_schema()) - 3
                         if self.config.response_format in ("json_schema", "json_object_schema")
                         else 0)
        tasks = [asyncio.ensure_future(self._one(req, key, schema, fmt, schema_tokens))
                 for req, key in zip(requests, keys, strict=True)]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in tasks:
                if not task.done():
                    task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        return [task.result() for task in tasks]

    async def _one(self, req: LLMRequest, key: str, schema: type[BaseModel], fmt: Any,
                   schema_tokens: int) -> LLMDecision | _NotSent:
        cfg = self.config
        messages = list(req.messages)
        started = time.monotonic()
        attempts = retries = prompt_tokens = completion_tokens = 0
        repaired = False
        raw: str | None = None
        while True:
            estimate = estimate_tokens(messages) + schema_tokens + cfg.max_tokens
            est_cost = cfg.cost(estimate - cfg.max_tokens, cfg.max_tokens) or 0.0
            async with self._sem:
                if not await self._reserve(estimate, est_cost):
                    if attempts == 0:
                        return _NOT_SENT
                    return self._fallback(req, "the budget ran out before the request was "
                                          "retried", prompt_tokens, completion_tokens, raw,
                                          attempts)
                attempts += 1
                self.usage.requests += 1
                spent = (0, 0)
                try:
                    content, refusal, p, c = await self._send(messages, req.seed, fmt,
                                                              cfg.max_tokens)
                    # a server that reports no usage is charged the estimate
                    p = estimate - cfg.max_tokens if p is None else int(p)
                    c = count_tokens(content or "") if c is None else int(c)
                    spent = (p, max(c, 0))
                except _Transient as exc:
                    error: Exception = exc
                except _Rejected as exc:
                    error = exc
                else:
                    error = None  # type: ignore[assignment]
                finally:
                    await self._settle((estimate, est_cost), *spent)
            prompt_tokens += spent[0]
            completion_tokens += spent[1]
            if isinstance(error, _Rejected):
                return self._fallback(req, self._redact(str(error)), prompt_tokens,
                                      completion_tokens, raw, attempts)
            if isinstance(error, _Transient):
                if retries >= cfg.max_retries:
                    if (error.kind in ("timeout", "connection")
                            and self._last_response < started):
                        raise _Fatal(f"no answer from {self._where()} for "
                                     f"{time.monotonic() - started:.1f} s over {attempts} "
                                     f"attempts (last: {error}); is the server running and "
                                     "the URL right? (raise LLMConfig.timeout for a slow one)")
                    return self._fallback(req, f"gave up after {attempts} attempts: {error}",
                                          prompt_tokens, completion_tokens, raw, attempts)
                retries += 1
                self.usage.retries += 1
                delay = self._delay(req.seed, retries, error.retry_after)
                log.debug("LLM retry %d for %s in %.2f s: %s", retries, req.tag or "request",
                          delay, error)
                await asyncio.sleep(delay)
                continue
            raw = content if content is not None else ""
            if content is None:
                problem = f"no content in the reply (refusal: {refusal!r})"
                value = None
            else:
                value, problem = parse_reply(content, schema)
            if value is not None:
                if self._cache is not None:
                    stored = self._cache.put(key, CachedReply(raw, prompt_tokens,
                                                              completion_tokens, cfg.model))
                    if stored.raw != raw:  # another process wrote this key first: use its reply
                        theirs = parse_reply(stored.raw, schema)[0]
                        if theirs is not None:
                            value, raw = theirs, stored.raw
                self._count("llm")
                return LLMDecision(value, "llm", None, prompt_tokens, completion_tokens, raw,
                                   attempts)
            if repaired:
                return self._fallback(req, f"invalid reply after one repair: {problem}",
                                      prompt_tokens, completion_tokens, raw, attempts)
            repaired = True
            self.usage.repairs += 1
            hint = ("" if cfg.response_format in ("json_schema", "json_object_schema") else
                    " It must match this JSON schema: "
                    + json.dumps(schema.model_json_schema(), separators=(",", ":")))
            messages = list(req.messages) + [
                {"role": "assistant", "content": raw},
                {"role": "user", "content": f"Your reply could not be used: {problem}. Reply "
                                            f"again with only one JSON object.{hint}"}]

    def _delay(self, seed: int, retry: int, retry_after: float | None) -> float:
        """Seconds before retry number ``retry`` (1-based)."""
        if retry_after is not None and 0.0 <= retry_after <= _MAX_RETRY_AFTER:
            return retry_after
        cfg = self.config
        jitter = random.Random(f"{seed}:{retry}").uniform(0.5, 1.0)
        return min(cfg.max_backoff, cfg.backoff * 2 ** (retry - 1)) * jitter

    def _count(self, decided_by: str) -> None:
        self.usage.decisions += 1
        if decided_by == "llm":
            self.usage.llm += 1
        else:
            self.usage.fallbacks += 1
        if self._progress is not None:
            self._progress(self.usage)

    def _fallback(self, req: LLMRequest, error: str, prompt_tokens: int, completion_tokens: int,
                  raw: str | None, attempts: int) -> LLMDecision:
        log.warning("LLM fallback for %s: %s", req.tag or "request", error)
        self._count("fallback")
        return LLMDecision(None, "fallback", error, prompt_tokens, completion_tokens, raw,
                           attempts)

    async def _probe(self) -> None:
        self._ensure_client()

        class Probe(BaseModel):
            ok: bool

        fmt = self._response_format(Probe)
        messages = [{"role": "user", "content": 'Reply with the JSON object {"ok": true}.'}]
        started = time.monotonic()
        for retry in range(self.config.max_retries + 1):
            try:
                _, _, p, c = await self._send(messages, 0, fmt, 8)
            except _Rejected as exc:
                raise _Fatal(f"{self._where()} refused a minimal request: {exc}; if it does "
                             "not support LLMConfig.response_format="
                             f"{self.config.response_format!r}, try 'json_object' or 'none'"
                             ) from None
            except _Transient as exc:
                if retry == self.config.max_retries:
                    raise _Fatal(f"no usable answer from {self._where()} for "
                                 f"{time.monotonic() - started:.1f} s over {retry + 1} attempts "
                                 f"(last: {exc}); is the server running and the URL right?"
                                 ) from None
                self.usage.retries += 1
                await asyncio.sleep(self._delay(0, retry + 1, exc.retry_after))
                continue
            finally:
                self.usage.requests += 1
            await self._settle((0, 0.0), int(p or 0), int(c or 0))
            return
