"""A scripted OpenAI-compatible HTTP server for tests (stdlib only).

:class:`FakeOpenAI` serves ``POST /v1/chat/completions`` and ``GET /v1/models`` on
``127.0.0.1`` (a free port) from a ``ThreadingHTTPServer`` in a daemon thread, so the real
``openai`` client talks to it over real sockets. What it does with a request:

1. a behaviour marker in a user message, ``<<fake:NAME>>``, applies to every request that
   carries it (its repair too) (e.g. ``<<fake:500>>``: that request always fails);
2. else the next behaviour of the script (``server.script("429", "ok")``), in arrival order;
3. else ``"ok"``: a 200 reply whose content is ``server.responder(body)``.

Behaviours (a name, or a callable ``body -> (status, headers, bytes)``):

=============  ============================================================================
``ok``         200, content from ``responder`` (default :func:`echo_policy`)
``fenced``     200, the responder's JSON inside a code fence after a line of prose
``malformed``  200, content that is not JSON (a truncated object)
``invalid``    200, JSON that fails the schema (``{"unexpected": true}``)
``repairable`` ``malformed`` for a first try, ``ok`` for a repair (a request that carries an
               assistant message)
``refusal``    200, ``content: null`` and a refusal
``429``        429 with ``Retry-After: server.retry_after`` (seconds, default 0.1)
``500``        500 with an OpenAI error body
``slow``       waits ``server.slow_delay`` seconds (default 2.0), then ``ok``
``drop``       closes the connection without answering
``401``        401 ``invalid_api_key`` (also returned for any request whose bearer key is not
               ``server.api_key``, when that is set)
``404``        404 ``model_not_found`` (also for a model not in ``server.known_models``,
               when that is set)
``html``       200 ``text/html`` (a web page, not the API)
``nochoices``  200 JSON without ``choices``
=============  ============================================================================

``server.latency`` (seconds) delays every reply; ``server.requests`` logs the bodies of the
chat requests received, ``server.count`` counts them, ``server.max_in_flight`` is the
most chat requests handled at once. The Authorization header is checked, never stored.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeOpenAI", "echo_policy", "item_numbers"]

Reply = tuple[int, dict[str, str], bytes]
_MARKER = re.compile(r"<<fake:([A-Za-z0-9_]+)>>")
_ITEM = re.compile(r"^\s*(?:\[(\d+)\]|(\d+)[.):])", re.M)


def _hash(*parts: Any) -> int:
    text = ":".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def item_numbers(text: str) -> list[int]:
    """The item numbers listed in ``text``: lines starting ``1.``, ``1)``, ``1:`` or ``[1]``."""
    return [int(a or b) for a, b in _ITEM.findall(text)]


def _last_user(body: dict) -> str:
    """The last user message that lists numbered items (a repair prompt lists none), else
    the last user message."""
    users = [m["content"] for m in body.get("messages", [])
             if m.get("role") == "user" and isinstance(m.get("content"), str)]
    listing = [u for u in users if item_numbers(u)]
    return (listing or users or [""])[-1]


def _value(name: str, spec: dict, defs: dict, body: dict) -> Any:
    """A deterministic value of the JSON-schema ``spec`` for the property ``name``."""
    if "$ref" in spec:
        spec = defs.get(spec["$ref"].rsplit("/", 1)[-1], {})
    if "anyOf" in spec:
        options = [s for s in spec["anyOf"] if s.get("type") != "null"]
        return _value(name, options[0], defs, body) if options else None
    if "enum" in spec:
        return spec["enum"][_hash(body.get("seed"), name) % len(spec["enum"])]
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    seed = body.get("seed")
    if name == "choice" and kind in ("integer", "number"):
        items = item_numbers(_last_user(body))
        return items[_hash(seed) % len(items)] if items else 1
    if kind == "integer":
        if "minimum" in spec:
            low = int(spec["minimum"])
        else:
            low = int(spec["exclusiveMinimum"]) + 1 if "exclusiveMinimum" in spec else 1
        high = int(spec.get("maximum", low + 4))
        return low + _hash(seed, name) % (high - low + 1)
    if kind == "number":
        low = float(spec.get("minimum", 0.0))
        high = float(spec.get("maximum", low + 1.0))
        return low + (high - low) * (_hash(seed, name) % 1000) / 999
    if kind == "boolean":
        return False
    if kind == "string":
        return f"fake {name}"
    if kind == "array":
        return []
    if kind == "object":
        return _object(spec, defs, body)
    return None


def _object(spec: dict, defs: dict, body: dict) -> dict:
    return {name: _value(name, sub, defs, body)
            for name, sub in spec.get("properties", {}).items()}


def echo_policy(body: dict) -> str:
    """The default reply: deterministic JSON from the request alone.

    With a JSON schema in ``response_format`` (``json_schema``'s ``schema``, or a
    ``json_object`` format's ``schema``) every property gets a value: ``choice`` is the
    item number at position ``sha256(seed) mod n`` of the items numbered in the last user
    message that numbers items (1 when none), integers lie in the schema's bounds (1..5 by default), booleans
    are false, strings ``"fake <name>"``. Without a schema it is the user-choice object
    ``{"choice", "reason", "rating", "leave"}`` chosen the same way.
    """
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") or fmt.get("schema")
    if schema:
        return json.dumps(_object(schema, schema.get("$defs", {}), body))
    items = item_numbers(_last_user(body))
    seed = body.get("seed")
    choice = items[_hash(seed) % len(items)] if items else None
    return json.dumps({"choice": choice, "reason": "fake reason",
                       "rating": 1 + _hash(seed, "rating") % 5, "leave": False})


def _error(status: int, message: str, kind: str, code: str | None = None) -> Reply:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


class FakeOpenAI:
    """The server; ``start()``/``stop()`` or ``with FakeOpenAI() as server``."""

    def __init__(self, latency: float = 0.0,
                 responder: Callable[[dict], str] | None = None) -> None:
        self.latency = latency
        self.responder: Callable[[dict], str] = responder or echo_policy
        self.retry_after = 0.1
        self.slow_delay = 2.0
        self.api_key: str | None = None
        self.known_models: set[str] | None = None
        self.requests: list[dict] = []
        self.count = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.arrivals: list[float] = []  # monotonic arrival time of each chat request
        self._script: deque = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The ``base_url`` for a client: ``http://127.0.0.1:PORT/v1``."""
        assert self._server is not None, "start the server first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def script(self, *behaviours: str | Callable[[dict], Reply]) -> None:
        """Queue behaviours for the next requests, in arrival order."""
        with self._lock:
            self._script.extend(behaviours)

    def reset(self) -> None:
        """Forget the log, the counters and the script."""
        with self._lock:
            self.requests.clear()
            self.arrivals.clear()
            self._script.clear()
            self.count = self.max_in_flight = 0

    def start(self) -> FakeOpenAI:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- behaviour -----------------------------------------------------------------------
    def _behaviour(self, body: dict) -> str | Callable[[dict], Reply]:
        users = [m.get("content") for m in body.get("messages", []) if m.get("role") == "user"]
        marker = _MARKER.search("\n".join(u for u in users if isinstance(u, str)))
        if marker:
            return marker.group(1)
        with self._lock:
            return self._script.popleft() if self._script else "ok"

    def _completion(self, body: dict, content: str | None, refusal: str | None = None) -> Reply:
        prompt = sum(len(str(m.get("content") or "")) for m in body.get("messages", []))
        reply = {
            "id": f"chatcmpl-fake{self.count}", "object": "chat.completion",
            "created": int(time.time()), "model": body.get("model", "fake"),
            "system_fingerprint": "fake",
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": content,
                                     "refusal": refusal}}],
            "usage": {"prompt_tokens": prompt // 4 + 1,
                      "completion_tokens": len(content or "") // 4 + 1,
                      "total_tokens": prompt // 4 + len(content or "") // 4 + 2}}
        return 200, {"Content-Type": "application/json"}, json.dumps(reply).encode()

    def _reply(self, body: dict, behaviour: str | Callable[[dict], Reply]) -> Reply | None:
        if callable(behaviour):
            return behaviour(body)
        if self.known_models is not None and body.get("model") not in self.known_models:
            behaviour = "404"
        if behaviour == "ok":
            return self._completion(body, self.responder(body))
        if behaviour == "fenced":
            return self._completion(body, "Here is my answer:\n```json\n"
                                    + self.responder(body) + "\n```")
        if behaviour == "repairable":
            repair = any(m.get("role") == "assistant" for m in body.get("messages", []))
            behaviour = "ok" if repair else "malformed"
        if behaviour == "ok":
            return self._completion(body, self.responder(body))
        if behaviour == "malformed":
            return self._completion(body, '{"choice": 3, "reason": "trunc')
        if behaviour == "invalid":
            return self._completion(body, '{"unexpected": true}')
        if behaviour == "refusal":
            return self._completion(body, None, "I cannot help with that.")
        if behaviour == "429":
            status, headers, data = _error(429, "Rate limit reached", "requests",
                                           "rate_limit_exceeded")
            return status, {**headers, "Retry-After": str(self.retry_after)}, data
        if behaviour == "500":
            return _error(500, "The server had an error", "server_error")
        if behaviour == "slow":
            time.sleep(self.slow_delay)
            return self._completion(body, self.responder(body))
        if behaviour == "drop":
            return None
        if behaviour == "401":
            return _error(401, "Incorrect API key provided.", "invalid_request_error",
                          "invalid_api_key")
        if behaviour == "404":
            return _error(404, f"The model `{body.get('model')}` does not exist",
                          "invalid_request_error", "model_not_found")
        if behaviour == "html":
            return 200, {"Content-Type": "text/html"}, b"<html><body>Welcome</body></html>"
        if behaviour == "nochoices":
            return 200, {"Content-Type": "application/json"}, b'{"hello": "world"}'
        raise ValueError(f"unknown fake behaviour {behaviour!r}")


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a burst of new connections overflows it
    # and the kernel makes the extra clients retry their SYN a second later
    request_queue_size = 1024
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout test) closed its end: nothing to report."""
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeOpenAI

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, reply: Reply) -> None:
        status, headers, data = reply
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        want = self.fake.api_key
        return want is None or self.headers.get("Authorization") == f"Bearer {want}"

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/v1/models"):
            if not self._authorised():
                self._send(_error(401, "Incorrect API key provided.", "invalid_request_error",
                                  "invalid_api_key"))
                return
            models = sorted(self.fake.known_models or {"fake-model"})
            data = {"object": "list", "data": [{"id": m, "object": "model", "created": 0,
                                                "owned_by": "fake"} for m in models]}
            self._send((200, {"Content-Type": "application/json"}, json.dumps(data).encode()))
        else:
            self._send(_error(404, f"no route {self.path}", "invalid_request_error"))

    def do_POST(self) -> None:
        fake = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if not self.path.rstrip("/").endswith("/v1/chat/completions"):
            self._send(_error(404, f"no route {self.path}", "invalid_request_error"))
            return
        body = json.loads(raw)
        with fake._lock:
            fake.count += 1
            fake.requests.append(body)
            fake.arrivals.append(time.monotonic())
            fake.in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
        try:
            if not self._authorised():
                reply: Reply | None = _error(401, "Incorrect API key provided.",
                                             "invalid_request_error", "invalid_api_key")
            else:
                behaviour = fake._behaviour(body)
                if fake.latency:
                    time.sleep(fake.latency)
                reply = fake._reply(body, behaviour)
            if reply is None:  # drop the connection without a reply
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self._send(reply)
        finally:
            with fake._lock:
                fake.in_flight -= 1
