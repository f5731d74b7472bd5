"""Decisions per second of the LLM backend against the fake OpenAI server, and of cache replay.

The scripted server of ``tests/llm/fake_openai.py`` runs in its own process (as a real
endpoint would) and answers every chat request after a fixed --latency (200 ms: a fast
hosted model). For each concurrency in --concurrency, ``LLMBackend.decide`` is called
once with ``max(--min-requests, 4 x concurrency)`` user-choice requests (no cache) and the
rate is decisions per second of wall time, next to the bound ``concurrency / latency``.
Cache replay: --replay requests are written to an SQLite cache (their keys, the server's
reply text), then one ``decide`` call answers them all from the file (one batched lookup)
and the rate is decisions per second of wall time and per CPU-second of the calling thread
(the figure that a shared, busy machine does not distort); the server counts zero requests.

    python benchmarks/bench_llm_backend.py [--latency 0.2] [--concurrency 1 4 16 64]
        [--replay 20000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fake server lives in tests/llm

import openai  # noqa: E402
from pydantic import BaseModel, Field  # noqa: E402

from recarena.simulators.llm import LLMBackend, LLMConfig, LLMRequest  # noqa: E402
from recarena.simulators.llm.cache import CachedReply, ReplyCache  # noqa: E402
from tests.llm.fake_openai import echo_policy  # noqa: E402

_SERVER = """
import sys, time
sys.path.insert(0, sys.argv[2])
from tests.llm.fake_openai import FakeOpenAI
server = FakeOpenAI(latency=float(sys.argv[1])).start()
print(server.url, flush=True)
sys.stdin.read()  # until the parent closes the pipe
print(server.count, flush=True)
"""


class Choice(BaseModel):
    choice: int | None
    reason: str
    rating: int | None = Field(None, ge=1, le=5)
    leave: bool


def requests(n: int, first_seed: int) -> list[LLMRequest]:
    slate = "\n".join(f"{i}. Movie {i} (199{i % 10}), Drama|Comedy" for i in range(1, 11))
    return [LLMRequest([{"role": "system", "content": "You are user 17: likes dramas."},
                        {"role": "user", "content": f"Which do you watch?\n{slate}"}],
                       seed=first_seed + i, tag=f"user {i}") for i in range(n)]


def live_rate(url: str, concurrency: int, n: int, first_seed: int) -> float:
    cfg = LLMConfig(base_url=url, model="fake-model", concurrency=concurrency, timeout=30.0)
    with LLMBackend(cfg) as backend:
        backend.decide(requests(2, 10**9 + first_seed), Choice)  # client start-up, not timed
        reqs = requests(n, first_seed)
        t0 = time.perf_counter()
        got = backend.decide(reqs, Choice)
        elapsed = time.perf_counter() - t0
    assert all(d.decided_by == "llm" for d in got), [d.error for d in got if d.error][:3]
    return n / elapsed


def replay_rate(url: str, n: int, path: str) -> tuple[float, float]:
    cfg = LLMConfig(base_url=url, model="fake-model", cache=path)
    reqs = requests(n, 0)
    with LLMBackend(cfg) as backend:
        cache = ReplyCache(path)
        for req in reqs:
            body = {"seed": req.seed, "messages": list(req.messages)}
            cache.put(backend.request_key(req, Choice), CachedReply(echo_policy(body), 100, 20,
                                                                      cfg.model))
        cache.close()
    with LLMBackend(cfg) as backend:
        t0, c0 = time.perf_counter(), time.thread_time()
        got = backend.decide(reqs, Choice)
        elapsed, cpu = time.perf_counter() - t0, time.thread_time() - c0
        assert backend.usage.requests == 0
    assert all(d.decided_by == "cache" for d in got)
    return n / elapsed, n / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--min-requests", type=int, default=8)
    parser.add_argument("--replay", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-c", _SERVER, str(args.latency), str(ROOT)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        print(f"python {platform.python_version()}, openai {openai.__version__}; fake server "
              f"at {url}, latency {args.latency * 1000:.0f} ms, {os.cpu_count()} CPUs")
        print(f"{'concurrency':>11} {'requests':>9} {'decisions/s':>12} {'bound':>7}")
        live = {}
        for c in args.concurrency:
            n = max(args.min_requests, 4 * c)
            rates = [live_rate(url, c, n, 10**6 * (r + 1) + 10**4 * c)
                     for r in range(args.repeats)]
            live[c] = sorted(rates)[len(rates) // 2]
            print(f"{c:>11} {n:>9} {live[c]:>12.1f} {c / args.latency:>7.0f}")
        replay = []
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.repeats):
                replay.append(replay_rate(url, args.replay, os.path.join(tmp, f"c{r}.sqlite")))
        med = sorted(r[0] for r in replay)[len(replay) // 2]
        med_cpu = sorted(r[1] for r in replay)[len(replay) // 2]
        print(f"cache replay: {args.replay:,} decisions in one call, {med:,.0f} decisions/s "
              f"of wall time, {med_cpu:,.0f} per CPU-second (median of {args.repeats})")
    finally:
        server.stdin.close()
        count = server.stdout.readline().strip()
        server.wait(10)
    print(f"requests the server received: {count}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"latency": args.latency, "live": live, "replay": med,
                       "replay_per_cpu_second": med_cpu}, fh, indent=2)


if __name__ == "__main__":
    main()
