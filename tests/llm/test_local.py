"""The embedded local LLM server (``recarena.simulators.llm.local``).

Skipped unless the ``recarena[llm-local]`` extra is installed (``make llm-local``; CI's fresh
venv has no llama-cpp-python). With it: the server starts, answers one schema-constrained
request through the real ``openai`` client with JSON valid for the schema, and leaves no
process behind however its owner ends (leaving ``with``, Ctrl-C, SIGTERM, plain interpreter
exit, SIGKILL of the owner)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from recarena.errors import LLMBackendError
from recarena.simulators.llm import local
from recarena.simulators.llm.local import LocalLLMServer, local_available

needs_local = pytest.mark.skipif(
    not local_available(), reason="needs the recarena[llm-local] extra (make llm-local): "
                                  + ", ".join(local.missing_local_packages()) + " missing")


def _gone(pid: int) -> bool:
    """No such process, or a zombie waiting for its (new) parent to reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] == "Z"
    except (OSError, IndexError):
        return True


def _wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.05)
    return _gone(pid)


class Pick(BaseModel):
    choice: int = Field(ge=1, le=3)
    leave: bool


def test_missing_packages_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "_has_module", lambda name: name != "llama_cpp")
    assert local.missing_local_packages() == ["llama-cpp-python"]
    assert not local.local_available()
    with pytest.raises(LLMBackendError, match=r"llama-cpp-python is not installed: pip install "
                                              r"'recarena\[llm-local\]' \(or `make llm-local`"):
        LocalLLMServer().start()


@pytest.mark.parametrize(("kwargs", "field"), [({"n_ctx": 0}, "n_ctx"),
                                               ({"n_threads": 0}, "n_threads"),
                                               ({"startup_timeout": 0}, "startup_timeout"),
                                               ({"port": 70_000}, "port"),
                                               ({"prompt_cache_mb": -1}, "prompt_cache_mb")])
def test_bad_arguments(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        LocalLLMServer(**kwargs)


@needs_local
def test_serves_a_schema_constrained_reply_and_stops_when_the_run_crashes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner's endpoint step starts the server for the built-in llm-users scenario
    (``local = "auto"``); it answers through the real openai client with JSON valid for
    the schema; a crash of the run stops it and nothing is left in its process group."""
    openai = pytest.importorskip("openai")
    from recarena.scenarios import load_scenario
    from recarena.scenarios.llm_run import llm_endpoint

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    spec = load_scenario("llm-users")
    assert spec.llm.local == "auto"
    with pytest.raises(RuntimeError, match="a crash"), llm_endpoint(spec, check=False) as ep:
        (server,) = local._LIVE
        pid = server.pid
        assert server.running and ep == {"base_url": server.base_url, "model": server.model,
                                         "local": True}
        assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/v1")
        client = openai.OpenAI(base_url=server.base_url, api_key="local", max_retries=0,
                               timeout=60)
        assert [m.id for m in client.models.list()] == [local.LOCAL_MODEL]
        reply = client.chat.completions.create(
            model=server.model, temperature=0.0, seed=3, max_tokens=20,
            messages=[{"role": "user", "content": "Movies: 1. Heat 2. Toy Story 3. Alien. "
                                                  "Which one? JSON."}],
            response_format={"type": "json_object", "schema": Pick.model_json_schema()})
        value = Pick.model_validate_json(reply.choices[0].message.content)
        assert 1 <= value.choice <= 3
        assert reply.usage.prompt_tokens > 10
        raise RuntimeError("a crash")
    assert not server.running and server.pid is None and not local._LIVE
    assert _gone(pid)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # nothing left in the server's process group
    server.stop()  # a second stop is harmless


@needs_local
def test_a_server_that_cannot_start_reports_its_output(tmp_path: Path) -> None:
    bogus = tmp_path / "not-a-model.gguf"
    bogus.write_bytes(b"this is not a GGUF file")
    server = LocalLLMServer(bogus, startup_timeout=60)
    with pytest.raises(LLMBackendError, match=r"exited during start-up .*last output:\n"):
        server.start()
    assert server.pid is None


_OWNER = """
import signal, sys, time
from recarena.simulators.llm.local import LocalLLMServer
mode = sys.argv[1]
server = LocalLLMServer(n_threads=1).start()
print(server.pid, flush=True)
if mode == "exit":
    sys.exit(0)  # no stop(): atexit must end the server
if mode == "sigint":
    with server:
        time.sleep(120)
time.sleep(120)
"""


@needs_local
def test_no_server_outlives_its_owner() -> None:
    """Ctrl-C (SIGINT) in a ``with`` block, SIGTERM, a plain exit without stop() and SIGKILL
    of the owner: the server goes each time (four owners, started together)."""
    signals = {"sigint": signal.SIGINT, "sigterm": signal.SIGTERM, "exit": None,
               "sigkill": signal.SIGKILL}
    owners = {mode: subprocess.Popen([sys.executable, "-c", _OWNER, mode], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True) for mode in signals}
    servers = {}
    try:
        for mode, proc in owners.items():
            line = proc.stdout.readline()
            assert line.strip().isdigit(), (mode, line, proc.stderr.read())
            servers[mode] = int(line)
        for mode, sig in signals.items():
            if sig is not None:
                owners[mode].send_signal(sig)
        for mode, proc in owners.items():
            proc.wait(30)
            assert _wait_gone(servers[mode]), f"{mode}: server {servers[mode]} still running"
        assert owners["sigterm"].returncode == -signal.SIGTERM  # SIGTERM still ends the owner
    finally:
        for mode, proc in owners.items():
            if proc.poll() is None:
                proc.kill()
            pid = servers.get(mode)
            if pid is not None and not _gone(pid):
                os.killpg(pid, signal.SIGKILL)

