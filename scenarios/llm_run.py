"""The run-level plumbing of LLM-played users: endpoint, key, local server, budget, usage.

A scenario whose env has LLM users (``env.config.users = "llm"``) takes its endpoint from
the ``[llm]`` section (:class:`~recarena.scenarios.spec.LLMSection`). This module turns
that section into what a run needs:

===================  ==========================================================================
endpoint             :func:`llm_endpoint` (a context manager around the whole run): the
                     embedded local server (:class:`~recarena.simulators.llm.local
                     .LocalLLMServer`) when ``llm.local`` is true, or ``"auto"`` and none of
                     ``llm.base_url``, ``llm.model``, ``$OPENAI_BASE_URL`` is set; else
                     ``llm.base_url`` (or ``$OPENAI_BASE_URL``, else OpenAI). The server is
                     stopped when the run ends, however it ends
key                  read from the environment variable ``llm.api_key_env`` in the process
                     that builds a unit's backend; it is in no argument, file, manifest or
                     message (the manifest says ``"api_key": "set"``)
check                one 8-token probe before anything is written (:meth:`LLMBackend.check
                     <recarena.simulators.llm.LLMBackend.check>`): an unreachable endpoint, a
                     refused key, an unknown model or a server that is not OpenAI-compatible
                     stops the run before it starts
cache                ``<run folder>/llm_cache.sqlite`` by default: a rerun or a resumed run
                     replays every reply already paid for, with no request
budget               ``llm.max_cost`` / ``llm.max_total_tokens`` bound the whole run, over
                     its attempts: each unit's backend gets what is left when the unit
                     starts (with ``workers > 1`` units in flight do not see each other's
                     spending, so a run may overshoot by what they spend at once); when it
                     is spent the unit stops with :class:`~recarena.errors.BudgetExhausted`,
                     the finished units and every reply paid for are kept, and ``recarena
                     run --resume RUN --set llm.max_cost=MORE`` finishes the run from the
                     cache
usage                each unit writes its backend's :class:`~recarena.simulators.llm.Usage`
                     to ``units/<unit>/llm_usage.json`` as it goes; the run's totals (all
                     attempts) go to ``manifest.json`` (``llm.usage``) and ``summary.json``
                     (``llm_usage``)
dry run              :func:`estimate_run`: requests, tokens and cost from real prompts of the
                     LLM user model (a few steps simulated with a backend that sends
                     nothing) and the backend's token estimate
===================  ==========================================================================
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from recarena.errors import BudgetExhausted, ConfigError, LLMBackendError
from recarena.scenarios.spec import Scenario

__all__ = ["RESUME_KEYS", "DryBackend", "UnitProgress", "add_usage", "budget_message",
           "check_llm_section", "config_fields", "estimate_run", "format_estimate",
           "llm_endpoint", "make_config", "read_unit_usage", "resume_overrides", "unit_backend",
           "usage_text", "uses_llm", "write_unit_usage"]

#: LLMConfig fields the [llm] section passes on when set (the others are the runner's)
_PASSED = ("temperature", "top_p", "max_tokens", "timeout", "max_retries", "backoff",
           "max_backoff", "concurrency", "response_format", "prices")

#: ``[llm]`` keys that ``recarena run --resume RUN --set llm.KEY=...`` may change: they
#: change where requests go and how much may be spent, never what a reply is (the cache key)
RESUME_KEYS = ("max_cost", "max_total_tokens", "base_url", "api_key_env", "local", "timeout",
               "max_retries", "backoff", "max_backoff", "concurrency", "prices")

#: numbers of Usage summed over units and attempts
_SUMMED = ("decisions", "llm", "cache_hits", "fallbacks", "requests", "retries", "repairs",
           "prompt_tokens", "completion_tokens", "seconds")

#: the local server's defaults where the scenario leaves a key unset: one request at a
#: time (llama.cpp decodes one sequence at a time; queued requests would time out), a
#: longer timeout (a busy CPU takes seconds per reply), llama-cpp-python's schema form
_LOCAL_DEFAULTS = {"concurrency": 1, "timeout": 120.0, "response_format": "json_object_schema",
                   "max_tokens": 120}


def uses_llm(spec: Scenario) -> bool:
    """Whether an LLM plays the scenario's users (``env.config.users = "llm"``) or
    creators (``env.config.creators = "llm"``, CreatorEcosystem-v0)."""
    return spec.env.config.get("users") == "llm" or spec.env.config.get("creators") == "llm"


def _local_wanted(spec: Scenario) -> bool:
    local = spec.llm.local
    if local == "auto":
        return (spec.llm.base_url is None and spec.llm.model is None
                and not os.environ.get("OPENAI_BASE_URL"))
    return bool(local)


def check_llm_section(spec: Scenario, need_key: bool = True) -> None:
    """Problems of the ``[llm]`` section that need no endpoint: an ``llm`` key in
    ``env.config``, a local server with a model or base_url of its own, a missing key
    (with ``need_key``)."""
    if "llm" in spec.env.config:
        raise ConfigError("env.config.llm", "(a table)", "no llm key in env.config: the "
                          "endpoint goes in the scenario's [llm] section (the key in the "
                          "environment variable that llm.api_key_env names)")
    if not uses_llm(spec):
        return
    if spec.llm.local is True and (spec.llm.base_url is not None or spec.llm.model is not None):
        which = "llm.base_url" if spec.llm.base_url is not None else "llm.model"
        raise ConfigError(which, getattr(spec.llm, which[4:]),
                          "no endpoint or model of its own with llm.local = true (the embedded "
                          "server is used); set llm.local = false to use another endpoint")
    if need_key and not _local_wanted(spec):
        from recarena.simulators.llm.config import DEFAULT_BASE_URL, is_local_url

        url = spec.llm.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        if not is_local_url(url) and not os.environ.get(spec.llm.api_key_env):
            raise ConfigError("llm.api_key_env", spec.llm.api_key_env,
                              f"an environment variable holding the API key for {url} "
                              f"(${spec.llm.api_key_env} is not set: export it, or name "
                              "another with llm.api_key_env)")


def config_fields(spec: Scenario, endpoint: dict[str, Any],
                  run_dir: str | os.PathLike[str] | None) -> dict[str, Any]:
    """The :class:`~recarena.simulators.llm.LLMConfig` fields of a unit's backend, without
    the key and the budget (plain data: it travels to worker processes)."""
    sec = spec.llm
    fields: dict[str, Any] = {"base_url": endpoint["base_url"]}
    if endpoint.get("model") is not None:
        fields["model"] = endpoint["model"]
    for key in _PASSED:
        value = getattr(sec, key)
        if value is not None:
            fields[key] = value
    if endpoint.get("local"):
        for key, value in _LOCAL_DEFAULTS.items():
            fields.setdefault(key, value)
    if sec.cache is True:
        fields["cache"] = None if run_dir is None else str(Path(run_dir) / "llm_cache.sqlite")
    elif sec.cache is not False:
        fields["cache"] = str(sec.cache)
    return fields


def make_config(spec: Scenario, fields: dict[str, Any], spent: dict[str, Any] | None = None,
                with_key: bool = True) -> Any:
    """An :class:`~recarena.simulators.llm.LLMConfig` from ``fields``, the key read from
    ``llm.api_key_env`` and the budget left after ``spent``; its errors name the
    scenario keys."""
    from recarena.simulators.llm import LLMConfig

    kw = dict(fields)
    if with_key:
        key = os.environ.get(spec.llm.api_key_env)
        if key:
            kw["api_key"] = key
    spent = spent or {}
    if spec.llm.max_total_tokens is not None:
        used = int(spent.get("prompt_tokens", 0)) + int(spent.get("completion_tokens", 0))
        kw["max_total_tokens"] = max(0, spec.llm.max_total_tokens - used)
    if spec.llm.max_cost is not None:
        kw["max_cost"] = max(0.0, spec.llm.max_cost - float(spent.get("cost") or 0.0))
    try:
        return LLMConfig(**kw)
    except ConfigError as exc:
        field = exc.field.replace("LLMConfig.", "llm.")
        raise ConfigError(field, exc.received, exc.expected) from None


@contextmanager
def llm_endpoint(spec: Scenario, check: bool = True) -> Iterator[dict[str, Any] | None]:
    """The run's endpoint as plain data (``base_url``, ``model``, ``local``), ``None`` when
    the scenario has no LLM users. Starts the local server when one is wanted (stopped on
    leaving, whatever happens inside) and, with ``check``, probes the endpoint once."""
    if not uses_llm(spec):
        yield None
        return
    check_llm_section(spec)
    if not _local_wanted(spec):
        from recarena.simulators.llm.config import DEFAULT_BASE_URL

        endpoint = {"base_url": spec.llm.base_url or os.environ.get("OPENAI_BASE_URL")
                    or DEFAULT_BASE_URL, "model": spec.llm.model, "local": False}
        if check:
            _probe(spec, endpoint)
        yield endpoint
        return
    from recarena.simulators.llm.local import LocalLLMServer

    try:
        server = LocalLLMServer().start()
    except LLMBackendError as exc:
        raise ConfigError("llm.local", spec.llm.local,
                          f"an embedded local LLM that starts ({' '.join(str(exc).split())}); "
                          "or an endpoint: llm.base_url and llm.model with llm.local = "
                          "false") from None
    try:
        endpoint = {"base_url": server.base_url, "model": server.model, "local": True}
        if check:
            _probe(spec, endpoint)
        yield endpoint
    finally:
        server.stop()


def _probe(spec: Scenario, endpoint: dict[str, Any]) -> None:
    """One small request (:meth:`LLMBackend.check`); what it spent goes to
    ``endpoint["probe"]`` (the run counts it)."""
    from recarena.simulators.llm import LLMBackend

    config = make_config(spec, config_fields(spec, endpoint, None))
    with LLMBackend(config) as backend:
        try:
            backend.check()
        except BudgetExhausted:
            raise
        except LLMBackendError as exc:
            where = ("the embedded local server" if endpoint.get("local") else
                     "llm.base_url, llm.model and the key in the environment variable "
                     f"${spec.llm.api_key_env} (llm.api_key_env)")
            raise LLMBackendError(f"{exc} [in the scenario: {where}]") from None
        finally:
            endpoint["probe"] = backend.usage.as_dict()


def unit_backend(spec: Scenario, llm: dict[str, Any], progress: Any = None) -> Any:
    """The backend of one unit: ``llm`` holds ``fields`` (:func:`config_fields`) and
    ``spent`` (the run's spending so far, for the budget left)."""
    from recarena.simulators.llm import LLMBackend

    config = make_config(spec, llm["fields"], llm.get("spent"))
    return LLMBackend(config, progress=progress)


# --------------------------------------------------------------------------- usage
def add_usage(total: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """``total`` plus one backend's ``Usage.as_dict()``: counts and cost summed (the cost
    is ``None`` once any part has no price)."""
    out = dict(total)
    for key in _SUMMED:
        out[key] = out.get(key, 0) + part.get(key, 0)
    out["seconds"] = round(out["seconds"], 3)
    out["total_tokens"] = out["prompt_tokens"] + out["completion_tokens"]
    a, b = total.get("cost", 0.0), part.get("cost", 0.0)
    out["cost"] = None if a is None or b is None else round(a + b, 9)
    return out


def usage_text(usage: dict[str, Any], seconds: float, since: int = 0) -> str:
    """One progress-bar line: requests/s (the requests beyond ``since`` over ``seconds``),
    cache hits, fallbacks, tokens, spend (totals)."""
    rate = (usage.get("requests", 0) - since) / seconds if seconds > 0 else 0.0
    cost = usage.get("cost")
    spend = "n/a" if cost is None else f"${cost:.4f}"
    return (f"LLM {usage.get('requests', 0)} req ({rate:.1f}/s), {usage.get('cache_hits', 0)} "
            f"cached, {usage.get('fallbacks', 0)} fallback, {usage.get('total_tokens', 0)} tok, "
            f"{spend}")


def write_unit_usage(folder: Path, usage: dict[str, Any]) -> None:
    """``units/<unit>/llm_usage.json``: what the unit's backend has spent so far."""
    tmp = folder / "llm_usage.json.tmp"
    try:
        tmp.write_text(json.dumps(usage, sort_keys=True))
        os.replace(tmp, folder / "llm_usage.json")
    except OSError:  # the folder went away (a resume deleting a partial unit): nothing to keep
        pass


def read_unit_usage(folder: Path) -> dict[str, Any] | None:
    path = folder / "llm_usage.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class UnitProgress:
    """The ``progress`` callback of a unit's backend: writes the usage file at most every
    ``every`` seconds (the runner's progress bar reads it), and once more at the end."""

    def __init__(self, folder: Path, every: float = 0.5) -> None:
        self.folder, self.every, self._last = folder, every, 0.0

    def __call__(self, usage: Any) -> None:
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            write_unit_usage(self.folder, usage.as_dict())


def budget_message(spec: Scenario, run_dir: Path, spent: dict[str, Any], reason: str) -> str:
    """What to do when the run's budget is spent."""
    bits = []
    if spec.llm.max_cost is not None:
        bits.append(f"llm.max_cost = {spec.llm.max_cost:g} USD")
    if spec.llm.max_total_tokens is not None:
        bits.append(f"llm.max_total_tokens = {spec.llm.max_total_tokens}")
    cost = spent.get("cost")
    spend = f"{spent.get('total_tokens', 0)} tokens" + ("" if cost is None else f", ${cost:.4f}")
    more = ("--set llm.max_cost=MORE" if spec.llm.max_cost is not None
            else "--set llm.max_total_tokens=MORE")
    return (f"the run's LLM budget is spent ({' and '.join(bits) or 'budget'}; spent {spend} "
            f"in all: {reason}); finished units and every paid reply are kept: finish the "
            f"run from the cache with `recarena run --resume {run_dir} {more}`")


# --------------------------------------------------------------------------- dry run
class DryBackend:
    """A backend that sends nothing: it records the requests and answers every one with a
    fallback (the user model then decides by its base model). For checks and dry runs."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[Any], type]] = []

    def decide(self, requests: list[Any], schema: type) -> list[Any]:
        from recarena.simulators.llm import LLMDecision

        requests = list(requests)
        self.calls.append((requests, schema))
        return [LLMDecision(None, "fallback", "dry run: nothing sent", 0, 0, None, 0)
                for _ in requests]

    def close(self) -> None:
        pass


def estimate_run(spec: Scenario, sample_users: int = 16, sample_steps: int = 6) -> dict[str, Any]:
    """What the run would send, without sending anything.

    Real prompts come from the LLM user model: the first unit's env is built with a
    :class:`DryBackend` (``min(users, sample_users)`` users, ``min(steps, sample_steps)``
    steps, the first policy) and its requests are measured with the backend's token
    estimate (:meth:`LLMBackend.estimate <recarena.simulators.llm.LLMBackend.estimate>`).
    The number of requests is ``units x users x steps x llm_fraction /
    llm_every`` decisions plus ``units x users x steps x llm_fraction / reflect_every``
    reflections (rows whose user leaves get a new user, so every row asks every step;
    with ``run.until = "first_episode"`` this is an upper bound). Completion tokens: the
    size of a typical reply (``typical``) and ``max_tokens`` per reply (``upper bound``).
    The cache is not consulted: a rerun that replays from it costs less."""
    import numpy as np

    from recarena.agents import make_policy
    from recarena.agents.base import public_info
    from recarena.scenarios.runner import _make_env, units_of
    from recarena.simulators.llm import LLMBackend
    from recarena.simulators.llm.accounting import estimate_tokens
    from recarena.simulators.llm.prompts import UserDecision

    if not uses_llm(spec):
        return {"llm": False, "units": len(units_of(spec))}
    check_llm_section(spec, need_key=False)  # nothing is sent: no key needed
    dry = DryBackend()
    users = min(spec.run.users, sample_users)
    steps = min(spec.run.steps, sample_steps)
    envs = _make_env(spec, users, llm=dry)
    users_llm = spec.env.config.get("users") == "llm"
    creators_llm = spec.env.config.get("creators") == "llm"
    round_length = int(getattr(envs.unwrapped.config, "round_length", 1))
    if creators_llm:  # LLM creators decide at the end of each creator round: sample two
        steps = min(spec.run.steps, max(steps, 2 * round_length))
    try:
        model = envs.unwrapped.config.user_model
        pol = make_policy(spec.policies[0].registry_name, envs, **spec.policies[0].args)
        pol.reset()
        obs, info = envs.reset(seed=spec.run.seed_list()[0])
        for _ in range(steps):
            seen = info if pol.is_oracle else public_info(info)
            obs, _, _, _, info = envs.step(np.asarray(pol.recommend(obs, seen)))
    finally:
        envs.close()
    local = _local_wanted(spec)
    from recarena.simulators.llm.config import DEFAULT_BASE_URL

    endpoint = ({"base_url": "http://127.0.0.1:1/v1", "model": "smollm2-135m-instruct",
                 "local": True} if local else
                {"base_url": spec.llm.base_url or os.environ.get("OPENAI_BASE_URL")
                 or DEFAULT_BASE_URL, "model": spec.llm.model, "local": False})
    fields = config_fields(spec, endpoint, None)
    config = make_config(spec, fields, with_key=False)
    per_request: dict[str, float] = {}
    sampled = 0
    with LLMBackend(config) as backend:  # its estimate (tokenizer, schema); sends nothing
        for schema in dict.fromkeys(schema for _, schema in dry.calls):
            requests = [r for reqs, s in dry.calls if s is schema for r in reqs]
            est = backend.estimate(requests, completion_tokens=0, schema=schema)
            per_request[schema.__name__] = est["prompt_tokens"] / len(requests)
            sampled += len(requests)
        tokenizer = backend.estimate([], 0)["tokenizer"]
    fraction = float(getattr(model, "llm_fraction", 1.0))
    every = int(getattr(model, "llm_every", 1))
    reflect = int(getattr(model, "reflect_every", 0))
    row_steps = len(units_of(spec)) * spec.run.users * spec.run.steps if users_llm else 0
    decisions = row_steps * fraction / every
    reflections = row_steps * fraction / reflect if reflect else 0.0
    decision_tokens = per_request.get("UserDecision", 0.0)
    reflection_tokens = per_request.get("Reflection", decision_tokens)
    typical_reply = UserDecision(choice=3, reason="a film I would enjoy", rating=4,
                                 leave=False, instruction=None).model_dump_json()
    typical = estimate_tokens([{"role": "assistant", "content": typical_reply}])
    # LLM creators: the sample's creator requests per round, for every round of every unit
    # (creators who enter or leave change the count: an estimate, not a bound)
    creator_decisions, creator_tokens, creator_typical = 0.0, 0.0, 0
    if creators_llm:
        from recarena.simulators.llm.creators import CreatorDecision

        asked = sum(len(reqs) for reqs, sch in dry.calls if sch is CreatorDecision)
        per_round = asked / max(1, steps // round_length)
        creator_decisions = len(units_of(spec)) * (spec.run.steps // round_length) * per_round
        creator_tokens = per_request.get("CreatorDecision", 0.0)
        creator_typical = estimate_tokens([{"role": "assistant", "content": CreatorDecision(
            topic=3, effort=0.7, title="A new clip", description="what it is about, briefly",
            reason="topic 3 paid best").model_dump_json()}])
    requests = int(round(decisions + reflections + creator_decisions))
    prompt = int(round(decisions * decision_tokens + reflections * reflection_tokens
                       + creator_decisions * creator_tokens))
    out = {"llm": True, "units": len(units_of(spec)), "users": spec.run.users,
           "steps": spec.run.steps, "llm_fraction": fraction, "llm_every": every,
           "reflect_every": reflect, "decisions": int(round(decisions)),
           "reflections": int(round(reflections)), "requests": requests,
           "sampled_prompts": sampled,
           "prompt_tokens_per_request": round(prompt / requests if requests else 0.0, 1),
           "prompt_tokens": prompt,
           "creator_decisions": int(round(creator_decisions)),
           "creator_prompt_tokens_per_request": round(creator_tokens, 1),
           "completion_tokens_typical": int(round((decisions + reflections) * typical
                                                  + creator_decisions * creator_typical)),
           "completion_tokens_max": requests * config.max_tokens,
           "model": config.model, "base_url": "embedded local server" if local
           else config.resolved_base_url(), "local": local,
           "max_cost": spec.llm.max_cost, "max_total_tokens": spec.llm.max_total_tokens}
    out["tokenizer"] = tokenizer
    out["cost_typical"] = config.cost(prompt, out["completion_tokens_typical"])
    out["cost_max"] = config.cost(prompt, out["completion_tokens_max"])
    return out


def format_estimate(est: dict[str, Any]) -> str:
    """The dry run's table."""
    if not est["llm"]:
        return (f"no LLM users or creators in this scenario (env.config.users / creators is "
                f"not 'llm'): {est['units']} unit(s), nothing would be sent to an LLM")

    def money(v: float | None) -> str:
        return "unknown (no price for the model: set llm.prices)" if v is None else f"${v:,.4f}"

    rows = [
        ("endpoint", f"{est['base_url']} (model {est['model']})"),
        ("units x users x steps", f"{est['units']} x {est['users']} x {est['steps']}"),
        ("LLM share", f"llm_fraction {est['llm_fraction']:g}, every {est['llm_every']} "
                      f"step(s), reflections every {est['reflect_every'] or 'never'}"),
        ("requests", f"{est['requests']:,} ({est['decisions']:,} user decisions, "
                     f"{est['reflections']:,} reflections, {est['creator_decisions']:,} "
                     "creator decisions)"),
        ("prompt tokens", f"{est['prompt_tokens']:,} ({est['prompt_tokens_per_request']:g} per "
                          f"request, from {est['sampled_prompts']} real prompts; "
                          f"{est['tokenizer']})"),
        ("completion tokens", f"{est['completion_tokens_typical']:,} typical, "
                              f"{est['completion_tokens_max']:,} at most (max_tokens)"),
        ("cost", f"{money(est['cost_typical'])} typical, {money(est['cost_max'])} at most"),
        ("budget", " and ".join(b for b in (
            f"max_cost ${est['max_cost']:g}" if est["max_cost"] is not None else "",
            f"max_total_tokens {est['max_total_tokens']:,}"
            if est["max_total_tokens"] is not None else "") if b) or "none"),
    ]
    width = max(len(k) for k, _ in rows)
    lines = ["dry run: nothing was sent (the cache is not consulted: a rerun costs less)"]
    lines += [f"  {k:<{width}}  {v}" for k, v in rows]
    return "\n".join(lines)


def resume_overrides(spec_data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """The manifest's scenario with ``--set llm.KEY=VALUE`` overrides for a resume (only
    :data:`RESUME_KEYS`: a resumed run must ask the same questions)."""
    from recarena.scenarios.spec import _apply, parse_set, scenario_from_dict

    data = json.loads(json.dumps(spec_data))
    for item in overrides:
        path, value = parse_set(item)
        if len(path) != 2 or path[0] != "llm" or path[1] not in RESUME_KEYS:
            raise ConfigError("--set", item, "with --resume, only llm keys that do not change "
                              "the replies: " + ", ".join(f"llm.{k}" for k in RESUME_KEYS))
        _apply(data, path, value)
    scenario_from_dict(data, source="--set")
    return data

