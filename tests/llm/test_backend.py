"""The LLM backend through the real ``openai`` client against the scripted fake server."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("openai")
from pydantic import BaseModel, Field  # noqa: E402

from recarena.errors import BudgetExhausted, ConfigError, LLMBackendError  # noqa: E402
from recarena.simulators.llm import (  # noqa: E402
    LLMBackend,
    LLMConfig,
    LLMDecision,
    LLMRequest,
    PriceTable,
    ReplyCache,
    parse_reply,
)
from tests.llm.conftest import FAKE_KEY  # noqa: E402
from tests.llm.fake_openai import FakeOpenAI, echo_policy, item_numbers  # noqa: E402


class Choice(BaseModel):
    choice: int | None
    reason: str
    rating: int | None = Field(None, ge=1, le=5)
    leave: bool


def requests(n: int, marker: str = "", first_seed: int = 0) -> list[LLMRequest]:
    return [LLMRequest([{"role": "system", "content": "You are a movie fan."},
                        {"role": "user", "content": f"Pick one.\n1. Alien\n2. Heat\n3. Up\n"
                                                    f"4. Ran {marker}"}],
                       seed=first_seed + i, tag=f"user {i}") for i in range(n)]


def counts(decisions: list[LLMDecision]) -> dict[str, int]:
    out = {"llm": 0, "cache": 0, "fallback": 0}
    for d in decisions:
        out[d.decided_by] += 1
    return out


# -- decisions, repairs, fallbacks ----------------------------------------------------------
def test_every_request_is_decided_once_in_order_and_counted(fake_openai, llm_config, tmp_path):
    reqs = (requests(3) + requests(2, "<<fake:invalid>>", 10) + requests(2, "<<fake:fenced>>", 20)
            + requests(2, "<<fake:repairable>>", 30))
    seen = []
    cfg = llm_config(fake_openai, cache=tmp_path / "c.sqlite")
    with LLMBackend(cfg, progress=lambda u: seen.append(u.decisions)) as backend:
        got = backend.decide(reqs, Choice)
        assert len(got) == len(reqs)
        for req, d in zip(reqs, got, strict=True):  # order = order of the requests
            if d.value is not None:
                want = json.loads(echo_policy({"seed": req.seed, "messages": req.messages}))
                assert d.value.choice == want["choice"]
        assert [d.decided_by for d in got] == ["llm"] * 3 + ["fallback"] * 2 + ["llm"] * 4
        assert [d.attempts for d in got] == [1, 1, 1, 2, 2, 1, 1, 2, 2]
        u = backend.usage
        assert (u.decisions, u.llm, u.fallbacks, u.cache_hits, u.repairs) == (9, 7, 2, 0, 4)
        assert u.requests == fake_openai.count == 13
        assert sorted(seen) == list(range(1, 10))  # one progress call per decision
        seen.clear()
        again = backend.decide(reqs, Choice)  # fallbacks are not cached: sent again
        assert counts(again) == {"llm": 0, "cache": 7, "fallback": 2}
        assert seen == [16, 17, 18]  # the cache hits at once, then each fallback
        assert backend.usage.decisions == 18 and backend.usage.cache_hits == 7
        assert "7 cached, 4 fallback" in backend.progress_text()


def test_malformed_reply_is_repaired_with_the_error_sent_back(fake_openai, llm_config):
    fake_openai.script("malformed")
    with LLMBackend(llm_config(fake_openai, concurrency=1)) as backend:
        (d,) = backend.decide(requests(1), Choice)
    assert (d.decided_by, d.attempts, d.error) == ("llm", 2, None)
    assert backend.usage.repairs == 1
    repair = fake_openai.requests[1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": '{"choice": 3, "reason": "trunc'}
    assert "could not be used" in repair[-1]["content"] and "JSON" in repair[-1]["content"]
    assert fake_openai.requests[1]["seed"] == fake_openai.requests[0]["seed"]


def test_schema_failure_twice_falls_back_with_the_reason(fake_openai, llm_config, tmp_path):
    cfg = llm_config(fake_openai, cache=tmp_path / "c.sqlite")
    with LLMBackend(cfg) as backend:
        (d,) = backend.decide(requests(1, "<<fake:invalid>>"), Choice)
        assert d.value is None and d.decided_by == "fallback" and d.attempts == 2
        assert "after one repair" in d.error and "choice" in d.error and "Field required" in d.error
        assert d.raw == '{"unexpected": true}'
        assert len(ReplyCache(cfg.cache)) == 0  # a fallback is never cached
        (r,) = backend.decide(requests(1, "<<fake:refusal>>"), Choice)
        assert r.decided_by == "fallback" and "refusal" in r.error


def test_parse_reply_tolerates_fences_and_prose():
    good = '{"choice": 2, "reason": "r", "rating": null, "leave": false}'
    for text in (good, f"```json\n{good}\n```", f"Sure! {{not json}} here: {good} bye"):
        value, error = parse_reply(text, Choice)
        assert error is None and value.choice == 2
    value, error = parse_reply('{"choice": 2, "reason": "r", "rating": 9, "leave": false}', Choice)
    assert value is None and "rating" in error


# -- retries ------------------------------------------------------------------------------
def test_429_honours_retry_after_and_retries_are_bounded(fake_openai, llm_config):
    fake_openai.retry_after = 0.25
    fake_openai.script("429", "429")
    with LLMBackend(llm_config(fake_openai, concurrency=1, max_retries=3)) as backend:
        (d,) = backend.decide(requests(1), Choice)
        assert d.decided_by == "llm" and d.attempts == 3 and backend.usage.retries == 2
        gaps = [b - a for a, b in itertools.pairwise(fake_openai.arrivals)]
        # backoff is 0.01-0.05 s here: waits of >= 0.25 s come from Retry-After
        assert all(0.24 <= g < 1.5 for g in gaps), gaps
        fake_openai.reset()
        fake_openai.retry_after = 0.01
        (f,) = backend.decide(requests(1, "<<fake:429>>"), Choice)
    assert f.decided_by == "fallback" and "gave up after 4 attempts" in f.error and "429" in f.error
    assert fake_openai.count == 4  # max_retries + 1, never more


def test_500_and_timeout_are_retried_then_fall_back(fake_openai, llm_config):
    fake_openai.script("500")
    fake_openai.slow_delay = 1.5
    with LLMBackend(llm_config(fake_openai, concurrency=4, timeout=0.3)) as backend:
        (d,) = backend.decide(requests(1), Choice)
        assert d.decided_by == "llm" and d.attempts == 2
        got = backend.decide(requests(1, "<<fake:500>>") + requests(1, "<<fake:slow>>", 5)
                             + requests(2, "", 9), Choice)
    assert [d.decided_by for d in got] == ["fallback", "fallback", "llm", "llm"]
    assert got[0].attempts == got[1].attempts == 3  # max_retries=2
    assert "HTTP 500" in got[0].error and "no reply within 0.3 s" in got[1].error


def test_dropped_connection_is_retried(fake_openai, llm_config):
    fake_openai.script("drop")
    with LLMBackend(llm_config(fake_openai, concurrency=1)) as backend:
        (d,) = backend.decide(requests(1), Choice)
        assert d.decided_by == "llm" and d.attempts == 2 and backend.usage.retries == 1
        got = backend.decide(requests(1, "<<fake:drop>>") + requests(3, "", 7), Choice)
    assert [d.decided_by for d in got] == ["fallback", "llm", "llm", "llm"]
    assert "connection" in got[0].error


# -- fatal faults ---------------------------------------------------------------------------
@pytest.mark.parametrize("behaviour, words", [
    ("401", ["HTTP 401", "API key", "OPENAI_API_KEY"]),
    ("404", ["HTTP 404", "unknown model", "fake-model"]),
    ("html", ["not OpenAI-compatible", "<html>", "base_url"]),
    ("nochoices", ["not OpenAI-compatible", "choices"]),
])
def test_fatal_faults_raise_a_clear_error(fake_openai, llm_config, behaviour, words):
    with LLMBackend(llm_config(fake_openai)) as backend:
        with pytest.raises(LLMBackendError) as decide_error:
            backend.decide(requests(3, f"<<fake:{behaviour}>>"), Choice)
        fake_openai.script(behaviour)
        with pytest.raises(LLMBackendError) as check_error:
            backend.check()
    for err in (decide_error, check_error):
        assert all(w in str(err.value) for w in words), str(err.value)
        assert FAKE_KEY not in str(err.value)


def test_wrong_key_and_unknown_model_raise(fake_openai, llm_config):
    fake_openai.api_key = "sk-the-right-one"
    with LLMBackend(llm_config(fake_openai)) as backend, pytest.raises(LLMBackendError,
                                                                       match="HTTP 401"):
        backend.decide(requests(2), Choice)
    fake_openai.api_key = None
    fake_openai.known_models = {"fake-model"}
    with LLMBackend(llm_config(fake_openai, model="gpt-9")) as backend, pytest.raises(
            LLMBackendError, match="'gpt-9'"):
        backend.check()
    with LLMBackend(llm_config(fake_openai)) as backend:
        backend.check()  # a good endpoint passes
        assert backend.usage.requests == 1 and backend.usage.total_tokens > 0


def test_unreachable_endpoint_raises_quickly(llm_config):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    fake = type("Dead", (), {"url": f"http://127.0.0.1:{port}/v1"})()
    with LLMBackend(llm_config(fake)) as backend:
        t0 = time.perf_counter()
        with pytest.raises(LLMBackendError, match="no answer from"):
            backend.decide(requests(20), Choice)
        with pytest.raises(LLMBackendError, match="is the server running"):
            backend.check()
    assert time.perf_counter() - t0 < 3


def test_a_hung_server_raises_instead_of_hanging(fake_openai, llm_config):
    fake_openai.slow_delay = 0.5
    with LLMBackend(llm_config(fake_openai, timeout=0.1, max_retries=1)) as backend:
        with pytest.raises(LLMBackendError, match="raise LLMConfig.timeout"):
            backend.decide(requests(8, "<<fake:slow>>"), Choice)


# -- budget -------------------------------------------------------------------------------
def test_budget_zero_sends_nothing_but_serves_the_cache(fake_openai, llm_config, tmp_path):
    cache = tmp_path / "c.sqlite"
    with LLMBackend(llm_config(fake_openai, cache=cache)) as backend:
        first = backend.decide(requests(4), Choice)
    sent = fake_openai.count
    with LLMBackend(llm_config(fake_openai, cache=cache, max_total_tokens=0)) as backend:
        replay = backend.decide(requests(4), Choice)  # cache hits are free
        assert counts(replay) == {"llm": 0, "cache": 4, "fallback": 0}
        with pytest.raises(BudgetExhausted, match="max_total_tokens=0") as err:
            backend.decide(requests(4) + requests(1, "", 50), Choice)
        with pytest.raises(BudgetExhausted):
            backend.check()  # sends nothing either
    assert fake_openai.count == sent
    assert [d.decided_by for d in err.value.decisions[:4]] == ["cache"] * 4
    assert err.value.decisions[4] is None
    assert [d.raw for d in replay] == [d.raw for d in first]


def test_budget_reached_mid_run_loses_nothing(fake_openai, llm_config, tmp_path):
    cache = tmp_path / "c.sqlite"
    # each request: ~23 prompt + 18 completion tokens at the fake server; the reservation
    # is the estimated prompt plus max_tokens=30
    cfg = llm_config(fake_openai, cache=cache, max_total_tokens=200, max_tokens=30,
                     concurrency=2)
    with LLMBackend(cfg) as backend:
        with pytest.raises(BudgetExhausted) as err:
            backend.decide(requests(10), Choice)
        decided = [d for d in err.value.decisions if d is not None]
        assert 2 <= len(decided) < 10 and all(d.decided_by == "llm" for d in decided)
        assert backend.usage.total_tokens <= 200  # a hard budget
        assert fake_openai.count == len(decided)
        with pytest.raises(BudgetExhausted):  # spent: nothing more is sent
            backend.decide(requests(1, "", 99), Choice)
        assert fake_openai.count == len(decided)
    with LLMBackend(llm_config(fake_openai, cache=cache, max_tokens=30)) as backend:
        got = backend.decide(requests(10), Choice)
    assert counts(got) == {"llm": 10 - len(decided), "cache": len(decided), "fallback": 0}
    for d, old in zip(got, err.value.decisions, strict=True):
        if old is not None:
            assert d.raw == old.raw


def test_cost_budget_with_prices(fake_openai, llm_config):
    # $0.4 a prompt token; a reservation is ~130 estimated prompt tokens (schema included)
    cfg = llm_config(fake_openai, prices={"fake-model": (4e5, 0.0)}, max_cost=100.0,
                     concurrency=1)
    with LLMBackend(cfg) as backend:
        (d,) = backend.decide(requests(1), Choice)
        assert backend.usage.cost == pytest.approx(d.prompt_tokens * 0.4)
        with pytest.raises(BudgetExhausted, match=r"max_cost=\$100.0"):
            backend.decide(requests(10, "", 10), Choice)
        assert backend.usage.cost <= 100.0


# -- cache ----------------------------------------------------------------------------------
def test_cache_replay_is_identical_and_sends_nothing(fake_openai, llm_config, tmp_path):
    cfg = llm_config(fake_openai, cache=tmp_path / "sub" / "c.sqlite")
    with LLMBackend(cfg) as backend:
        first = backend.decide(requests(30), Choice)
    sent = fake_openai.count
    with LLMBackend(cfg) as backend:
        again = backend.decide(requests(30), Choice)
        assert backend.usage.requests == 0 and backend.usage.total_tokens == 0
    assert fake_openai.count == sent == 30
    assert [d.decided_by for d in again] == ["cache"] * 30
    assert [d.value.model_dump_json() for d in again] == [d.value.model_dump_json() for d in first]
    assert [(d.raw, d.prompt_tokens, d.completion_tokens) for d in again] == [
        (d.raw, d.prompt_tokens, d.completion_tokens) for d in first]
    # any field of the key changes the key: another seed, temperature or schema is not a hit
    with LLMBackend(llm_config(fake_openai, cache=cfg.cache, temperature=0.5)) as backend:
        assert counts(backend.decide(requests(2), Choice)) == {"llm": 2, "cache": 0,
                                                              "fallback": 0}

    class Other(Choice):
        extra: int = 0

    with LLMBackend(cfg) as backend:
        assert counts(backend.decide(requests(2), Other))["llm"] == 2
        assert counts(backend.decide(requests(2, "", 1000), Choice))["llm"] == 2


def test_two_backends_share_one_cache_file(fake_openai, llm_config, tmp_path):
    cfg = llm_config(fake_openai, cache=tmp_path / "c.sqlite", concurrency=4)
    fake_openai.latency = 0.01
    out: dict[int, list[LLMDecision]] = {}

    def work(w: int) -> None:
        with LLMBackend(cfg) as backend:
            out[w] = backend.decide(requests(24, "", 12 * w), Choice)  # 12 keys overlap

    threads = [threading.Thread(target=work, args=(w,)) for w in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ReplyCache(cfg.cache)) == 36
    with LLMBackend(cfg) as backend:
        replay = backend.decide(requests(36), Choice)
    assert counts(replay)["cache"] == 36
    assert [d.raw for d in replay[12:24]] == [d.raw for d in out[0][12:]] == [
        d.raw for d in out[1][:12]]


def test_each_reply_is_committed_as_it_arrives(fake_openai, llm_config, tmp_path):
    """A killed run loses nothing paid for: when a decision is reported, its reply is already
    in the file, visible to another connection (another process)."""
    cfg = llm_config(fake_openai, cache=tmp_path / "c.sqlite", concurrency=2)
    reader = ReplyCache(cfg.cache)
    stored = []
    with LLMBackend(cfg, progress=lambda u: stored.append((u.llm, len(reader)))) as backend:
        backend.decide(requests(6), Choice)
    assert stored == [(i, i) for i in range(1, 7)]


def test_a_forked_or_pickled_backend_starts_afresh(fake_openai, llm_config, tmp_path):
    import multiprocessing
    import pickle

    cfg = llm_config(fake_openai, cache=tmp_path / "c.sqlite")
    with LLMBackend(cfg) as backend:
        backend.decide(requests(3), Choice)  # the parent's loop thread and connection exist

        def child(queue) -> None:
            got = backend.decide(requests(6), Choice)  # 3 cached, 3 new
            queue.put([d.decided_by for d in got])

        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        proc = ctx.Process(target=child, args=(queue,))
        proc.start()
        assert queue.get(timeout=30) == ["cache"] * 3 + ["llm"] * 3
        proc.join(30)
        clone = pickle.loads(pickle.dumps(backend))
        assert clone.usage.llm == 3 and FAKE_KEY.encode() not in pickle.dumps(backend.usage)
        assert counts(clone.decide(requests(7), Choice)) == {"llm": 1, "cache": 6, "fallback": 0}
        clone.close()


def test_cache_put_keeps_the_first_reply(tmp_path):
    from recarena.simulators.llm.cache import CachedReply, request_key, settings_digest

    a = ReplyCache(tmp_path / "c.sqlite")
    b = ReplyCache(tmp_path / "c.sqlite")  # another process's connection
    first, second = CachedReply("one", 1, 2, "m"), CachedReply("two", 3, 4, "m")
    assert a.put("k", first) == first
    assert b.put("k", second) == first  # the race's loser gets the stored reply
    assert b.get_many(["k", "missing"]) == {"k": first}
    fields = {"model": "m", "temperature": 0.0, "top_p": None, "max_tokens": 5,
              "response_format": "none", "schema": {"type": "object"}}
    msgs = [{"role": "user", "content": "hi"}]
    key = request_key(messages=msgs, seed=1, **fields)
    assert len(key) == 64 and key != request_key(messages=msgs, seed=2, **fields)
    assert settings_digest(**fields) != settings_digest(**{**fields, "max_tokens": 6})


def test_a_replay_needs_no_openai_and_the_import_loads_neither(fake_openai, llm_config,
                                                               tmp_path):
    cfg = llm_config(fake_openai, cache=tmp_path / "c.sqlite", response_format="none")
    with LLMBackend(cfg) as backend:
        backend.decide(requests(2), Choice)
    code = f"""
import sys
sys.modules["openai"] = None  # importing it fails
import recarena.simulators.llm as m
m.LLMConfig()
print("pydantic" in sys.modules)
from pydantic import BaseModel, Field
from recarena.simulators.llm import LLMBackend, LLMConfig, LLMRequest
class Choice(BaseModel):
    choice: int | None
    reason: str
    rating: int | None = Field(None, ge=1, le=5)
    leave: bool
reqs = [LLMRequest({[list(r.messages) for r in requests(2)]!r}[i], seed=i) for i in range(2)]
cfg = LLMConfig(base_url={cfg.base_url!r}, model={cfg.model!r}, cache={cfg.cache!r},
                max_tokens={cfg.max_tokens}, response_format="none")
with LLMBackend(cfg) as backend:
    print([d.decided_by for d in backend.decide(reqs, Choice)])
    try:
        backend.decide([LLMRequest(reqs[0].messages, seed=9)], Choice)
    except Exception as exc:
        print(type(exc).__name__, exc)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout.splitlines()
    assert out[0] == "False"  # LLMConfig needs neither openai nor pydantic
    assert out[1] == "['cache', 'cache']"
    assert out[2].startswith("LLMBackendError") and "pip install 'recarena[llm]'" in out[2]


def test_a_damaged_cache_file_is_a_data_error(tmp_path):
    bad = tmp_path / "c.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(Exception, match="expected an SQLite reply cache"):
        ReplyCache(bad)


# -- secrets, concurrency, loops --------------------------------------------------------------
def test_the_key_is_never_written_shown_or_logged(fake_openai, llm_config, tmp_path):
    fake_openai.api_key = FAKE_KEY
    handler = logging.FileHandler(tmp_path / "run.log")
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        cfg = llm_config(fake_openai, cache=tmp_path / "c.sqlite")
        with LLMBackend(cfg) as backend:
            got = backend.decide(requests(3) + requests(1, "<<fake:invalid>>", 9), Choice)
            assert counts(got) == {"llm": 3, "cache": 0, "fallback": 1}  # the key works
            texts = [repr(cfg), str(cfg), json.dumps(cfg.public(), default=str),
                     repr(backend), json.dumps(backend.usage.as_dict())]
            fake_openai.script("401")
            with pytest.raises(LLMBackendError) as err:
                backend.decide(requests(1, "", 77), Choice)
            texts.append(str(err.value))
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
    assert cfg.public()["api_key"] == "set"
    assert "LLM fallback for user 0" in (tmp_path / "run.log").read_text()
    for text in texts:
        assert FAKE_KEY not in text and "SECRET" not in text
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) >= 2
    for path in files:
        assert FAKE_KEY.encode() not in path.read_bytes(), path
    with pytest.raises(ConfigError) as bad:
        LLMConfig(api_key=b"sk-bytes-SECRET")
    assert "SECRET" not in str(bad.value)


def test_a_server_echoing_the_key_is_redacted(fake_openai, llm_config):
    fake_openai.script(lambda body: (401, {"Content-Type": "application/json"}, json.dumps(
        {"error": {"message": f"Incorrect API key provided: {FAKE_KEY}"}}).encode()))
    with LLMBackend(llm_config(fake_openai)) as backend, pytest.raises(LLMBackendError) as err:
        backend.decide(requests(1), Choice)
    assert FAKE_KEY not in str(err.value) and "***" in str(err.value)


def test_concurrency_limit_is_respected(fake_openai, llm_config):
    fake_openai.latency = 0.05
    with LLMBackend(llm_config(fake_openai, concurrency=3)) as backend:
        backend.decide(requests(12), Choice)
    assert fake_openai.max_in_flight == 3  # concurrent, never more than the limit


def test_decide_works_inside_a_running_event_loop(fake_openai, llm_config):
    async def notebook_cell() -> list[LLMDecision]:
        with LLMBackend(llm_config(fake_openai)) as backend:
            return backend.decide(requests(3), Choice)

    assert counts(asyncio.run(notebook_cell()))["llm"] == 3


def test_same_seed_same_bytes_and_seed_is_sent(fake_openai, llm_config):
    with LLMBackend(llm_config(fake_openai)) as backend:
        a = backend.decide(requests(6), Choice)
        b = backend.decide(requests(6), Choice)
    assert [d.raw for d in a] == [d.raw for d in b]
    assert sorted(r["seed"] for r in fake_openai.requests) == sorted(list(range(6)) * 2)
    body = fake_openai.requests[0]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["temperature"] == 0.0 and body["max_tokens"] == 200 and "top_p" not in body


@pytest.mark.parametrize("fmt", ["json_object", "json_object_schema", "none"])
def test_response_formats(fake_openai, llm_config, fmt):
    with LLMBackend(llm_config(fake_openai, response_format=fmt)) as backend:
        (d,) = backend.decide(requests(1), Choice)
    assert d.decided_by == "llm"
    sent = fake_openai.requests[0].get("response_format")
    want = {"json_object": {"type": "json_object"}, "none": None}
    if fmt == "json_object_schema":
        assert sent["type"] == "json_object" and sent["schema"]["required"]
    else:
        assert sent == want[fmt]


# -- estimate, prices, config ------------------------------------------------------------------
def test_estimate_sends_nothing(fake_openai, llm_config, tmp_path):
    cfg = llm_config(fake_openai, cache=tmp_path / "c.sqlite", model="gpt-4o-mini",
                     response_format="none", max_tokens=50)
    msgs = [{"role": "user", "content": "x" * 400}]
    reqs = [LLMRequest(msgs, seed=s) for s in range(10)]
    with LLMBackend(cfg) as backend:
        est = backend.estimate(reqs, schema=Choice)
        if est["tokenizer"] == "chars/4":
            assert est["prompt_tokens"] == 10 * (3 + 4 + 100)
        assert est["completion_tokens"] == 500 and est["to_send"] == 10
        assert est["cost"] == pytest.approx((est["prompt_tokens"] * 0.15 + 500 * 0.6) / 1e6)
        assert fake_openai.count == 0
        backend.decide(reqs[:4], Choice)
        est = backend.estimate(reqs, completion_tokens=20, schema=Choice)
    assert (est["cached"], est["to_send"], est["completion_tokens"]) == (4, 6, 120)


def test_price_table():
    prices = PriceTable({"my-model": (1.0, 2.0)})
    assert prices.price("gpt-4o-mini-2024-07-18") == (0.15, 0.60)  # longest prefix
    assert prices.price("gpt-4o-2024-08-06") == (2.50, 10.00)
    assert prices.cost("my-model", 500_000, 250_000) == pytest.approx(1.0)
    assert prices.price("llama3") is None
    local = LLMConfig(base_url="http://localhost:11434/v1", model="llama3", max_cost=1.0)
    assert local.price() == (0.0, 0.0) and local.resolved_api_key() == "local-no-key"
    with pytest.raises(ConfigError, match="max_cost needs one"):
        LLMConfig(base_url="https://example.com/v1", model="llama3", max_cost=1.0)


@pytest.mark.parametrize("field, value", [
    ("base_url", "localhost:8000"), ("base_url", 3), ("model", ""), ("api_key", ""),
    ("temperature", -0.1), ("temperature", 2.5), ("temperature", math.nan), ("top_p", 0.0),
    ("top_p", 1.5), ("max_tokens", 0), ("max_tokens", 1.5), ("timeout", 0.0),
    ("max_retries", -1), ("max_retries", True), ("backoff", -1.0), ("max_backoff", -1.0),
    ("concurrency", 0), ("concurrency", 5000), ("response_format", "xml"), ("cache", 3),
    ("prices", [1, 2]), ("prices", {"m": (1.0,)}), ("prices", {"m": (-1.0, 1.0)}),
    ("max_total_tokens", -1), ("max_cost", -0.5),
])
def test_config_bad_inputs(field, value):
    with pytest.raises(ConfigError) as err:
        LLMConfig(**{field: value})
    assert field in err.value.field and "expected" in str(err.value)


def test_config_from_mapping_and_public(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the backend opens its (relative) cache file here
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    cfg = LLMConfig.from_mapping({"model": "gpt-4o", "cache": Path("x.sqlite")})
    assert cfg.cache == "x.sqlite"
    public = cfg.public()
    assert public["api_key"] == "unset" and public["base_url"] == "https://api.openai.com/v1"
    assert public["prices"] == {"gpt-4o": [2.5, 10.0]}
    with pytest.raises(ConfigError, match="llm.modle: expected one of base_url, model"):
        LLMConfig.from_mapping({"modle": "gpt-4o"})
    with LLMBackend(cfg) as backend, pytest.raises(LLMBackendError, match="no API key"):
        backend.decide(requests(1), Choice)  # a remote endpoint without a key


@pytest.mark.parametrize("kwargs, field", [
    ({"messages": [], "seed": 0}, "messages"),
    ({"messages": "hi", "seed": 0}, "messages"),
    ({"messages": [{"role": "user"}], "seed": 0}, "messages[0]"),
    ({"messages": [{"role": "user", "content": "x"}], "seed": -1}, "seed"),
    ({"messages": [{"role": "user", "content": "x"}], "seed": 1.0}, "seed"),
    ({"messages": [{"role": "user", "content": "x"}], "seed": 0, "tag": 3}, "tag"),
])
def test_request_bad_inputs(kwargs, field):
    with pytest.raises(ConfigError) as err:
        LLMRequest(**kwargs)
    assert err.value.field == f"LLMRequest.{field}"


def test_decide_bad_inputs(fake_openai, llm_config):
    with LLMBackend(llm_config(fake_openai)) as backend:
        with pytest.raises(ConfigError, match="pydantic BaseModel"):
            backend.decide(requests(1), dict)
        with pytest.raises(ConfigError, match=r"requests\[0\]"):
            backend.decide([{"messages": []}], Choice)
        assert backend.decide([], Choice) == []
    with pytest.raises(LLMBackendError, match="closed"):
        backend.decide(requests(1), Choice)


def test_fake_server_echo_policy_is_deterministic():
    body = {"seed": 5, "messages": [{"role": "user", "content": "1. a\n2. b\n[3] c"}]}
    assert item_numbers(body["messages"][0]["content"]) == [1, 2, 3]
    assert echo_policy(body) == echo_policy(dict(body))
    assert json.loads(echo_policy(body))["choice"] in (1, 2, 3)
    with FakeOpenAI() as server:
        assert server.url.startswith("http://127.0.0.1:")
