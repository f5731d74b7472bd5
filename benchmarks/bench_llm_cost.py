"""What LLM-played users cost: tokens per decision of the default prompts, and dollars per
1,000 simulated users x 20 steps, fully LLM and in hybrid mode.

    python benchmarks/bench_llm_cost.py [--users 64] [--steps 20] [--model gpt-4o-mini]
        [--population 1000] [--seed 0] [--json PATH]

**Prompts.** The real requests of ``recarena/MovieLens-v0`` with ``users="llm"`` (default
settings: memory of 5 steps, no reflections): ``--users`` users face uniformly random
slates of 10 for ``--steps`` steps, through a backend that sends nothing and answers each
request with a reply shaped as the prompt asks (a seeded choice among the 10 movies or
none, a reason of a few words, a 1-5 rating, ``leave`` false, an instruction only after a
low rating), so the users' memories fill as they would. Prompt tokens per decision are the
backend's count of what it sends: the messages plus the reply schema (sent with
``response_format="json_schema"`` and billed as prompt tokens), per step of the session
(the memory grows over the first five steps). Completion tokens: the replies.

**Tokenizer.** ``tiktoken``'s ``o200k_base`` (gpt-4o-mini's) when installed with its
encoding file, else the backend's estimate of four characters a token (the line
``tokenizer`` says which). When the local LLM's packages are installed, the same texts are
also counted with SmolLM2's tokenizer (llama.cpp, vocabulary only) as a cross-check.

**Cost.** ``decisions x (prompt tokens x prompt price + completion tokens x completion
price)`` at the backend's price table (gpt-4o-mini: $0.15 / 1M prompt, $0.60 / 1M
completion tokens), for ``--population`` users x ``--steps`` steps: fully LLM (every user,
every step) and hybrid (``llm_fraction`` of the users by the env's own hash of the user id,
every ``llm_every``-th step of theirs; the fitted logit decides the rest for free). Target:
at most $1 per 1,000 users x 20 steps in hybrid mode, about 1/16 of the ~$16 per 1,000
users quoted for Agent4Rec on gpt-3.5-turbo (issue 18's figure). Cache hits (reruns) are
free and not counted.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import recarena  # noqa: E402,F401
from recarena.simulators.llm import LLMDecision, PriceTable  # noqa: E402
from recarena.simulators.llm.accounting import (  # noqa: E402
    count_tokens,
    estimate_tokens,
    tokenizer_name,
)
from recarena.simulators.llm.prompts import UserDecision  # noqa: E402
from recarena.simulators.llm.users import llm_user_rows  # noqa: E402

REASONS = ("a classic I love", "looks fun", "not in the mood", "great cast",
           "I like thrillers", "too scary for me", "a favourite director", "light comedy")
HYBRID = ((0.5, 1), (0.5, 2), (0.25, 1), (0.25, 2), (0.25, 4), (0.1, 1), (0.1, 2))


class ReplyingBackend:
    """Sends nothing; records each request (and its step) and answers it with a reply
    shaped as the prompt asks (seeded by the request's seed)."""

    def __init__(self) -> None:
        self.step = 0
        self.records: list[tuple[int, list[dict[str, str]], str]] = []

    def decide(self, requests: list[Any], schema: type) -> list[LLMDecision]:
        out = []
        for req in requests:
            rng = np.random.default_rng(req.seed)
            choice = None if rng.random() < 0.3 else int(rng.integers(1, 11))
            rating = None if choice is None else int(rng.integers(1, 6))
            low = rating is not None and rating <= 2
            value = UserDecision(choice=choice, reason=str(rng.choice(REASONS)),
                                 rating=rating, leave=False,
                                 instruction="more comedies, fewer horror films" if low
                                 else None)
            raw = value.model_dump_json()
            self.records.append((self.step, list(req.messages), raw))
            out.append(LLMDecision(value, "llm", None, 0, 0, raw, 1))
        return out

    def close(self) -> None:
        pass


def smollm_counter() -> Any:
    """SmolLM2's tokenizer (llama.cpp, vocabulary only), or None when not installed."""
    try:
        from llama_cpp import Llama

        from recarena.simulators.llm.local import local_model_path

        model = Llama(model_path=str(local_model_path()), vocab_only=True, verbose=False)
    except Exception:  # the local extra is optional
        return None
    return lambda text: len(model.tokenize(text.encode(), add_bos=False, special=False))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=64, help="users whose prompts are measured")
    ap.add_argument("--steps", type=int, default=20, help="steps per user")
    ap.add_argument("--population", type=int, default=1000, help="users priced")
    ap.add_argument("--model", default="gpt-4o-mini", help="model of the price table")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the numbers here")
    args = ap.parse_args()

    backend = ReplyingBackend()
    envs = gym.make_vec("recarena/MovieLens-v0", num_envs=args.users,
                        vectorization_mode="vector_entry_point", users="llm", llm=backend,
                        horizon=10_000)
    envs.reset(seed=args.seed)
    rng = np.random.default_rng(args.seed + 1)
    for t in range(args.steps):
        backend.step = t
        envs.step(np.argsort(rng.random((args.users, 50)), axis=1)[:, :10])
    envs.close()

    schema = UserDecision.model_json_schema()
    steps = np.array([s for s, _, _ in backend.records])
    prompt = np.array([estimate_tokens(m, schema) for _, m, _ in backend.records], float)
    completion = np.array([count_tokens(r) for _, _, r in backend.records], float)
    schema_tokens = estimate_tokens([], schema) - 3
    per_step = np.array([prompt[steps == t].mean() for t in range(args.steps)])
    price = PriceTable().price(args.model)
    if price is None:
        raise SystemExit(f"no price for {args.model!r} in the backend's price table")
    p_in, p_out = price
    c_mean = float(completion.mean())
    print(f"prompts: {len(prompt):,} real decision requests of MovieLens-v0 (users='llm'), "
          f"{args.users} users x {args.steps} steps, random slates of 10")
    print(f"tokenizer: {tokenizer_name()}" + (" (tiktoken is not installed: an estimate)"
                                              if tokenizer_name() == "chars/4" else ""))
    print(f"prompt tokens per decision: mean {prompt.mean():.1f} (step 0: {per_step[0]:.1f}, "
          f"step {args.steps - 1}: {per_step[-1]:.1f}; {schema_tokens} of them the JSON "
          "schema)")
    print(f"completion tokens per decision: mean {c_mean:.1f} "
          f"(e.g. {backend.records[1][2]})")
    smol = smollm_counter()
    cross = None
    if smol is not None:
        sub = backend.records[:: max(1, len(backend.records) // 200)]
        sp = np.mean([sum(smol(m["content"]) + 4 for m in msgs) + 3
                      + smol(json.dumps(schema, separators=(",", ":"))) for _, msgs, _ in sub])
        sc = np.mean([smol(r) for _, _, r in sub])
        ep = np.mean([estimate_tokens(msgs, schema) for _, msgs, _ in sub])
        ec = np.mean([count_tokens(r) for _, _, r in sub])
        cross = {"prompt_smollm2": float(sp), "completion_smollm2": float(sc),
                 "prompt_estimate": float(ep), "completion_estimate": float(ec),
                 "sampled": len(sub)}
        print(f"cross-check on {len(sub)} of them, SmolLM2's tokenizer: prompt {sp:.1f} "
              f"(estimate {ep:.1f}), completion {sc:.1f} (estimate {ec:.1f})")
    print(f"\nprices ({args.model}, the backend's table): ${p_in} / 1M prompt, "
          f"${p_out} / 1M completion tokens")
    pop, n_steps = args.population, args.steps
    rows = []

    def cost_of(fraction: float, every: int) -> dict[str, Any]:
        users = int(llm_user_rows(np.arange(pop), fraction).sum())
        asked = np.arange(0, n_steps, every)
        decisions = users * asked.size
        p_tok = float(per_step[asked].mean())
        per_decision = (p_tok * p_in + c_mean * p_out) / 1e6
        return {"llm_fraction": fraction, "llm_every": every, "llm_users": users,
                "decisions": decisions, "prompt_tokens": p_tok, "completion_tokens": c_mean,
                "usd_per_decision": per_decision, "usd": decisions * per_decision}

    print(f"\ncost per {pop:,} users x {n_steps} steps = decisions x (prompt tokens x "
          f"${p_in}/1M + completion tokens x ${p_out}/1M):")
    for fraction, every in ((1.0, 1), *HYBRID):
        r = cost_of(fraction, every)
        rows.append(r)
        label = ("fully LLM" if fraction == 1.0 else
                 f"hybrid llm_fraction={fraction:g}, llm_every={every}")
        verdict = "" if fraction == 1.0 else ("  <= $1: met" if r["usd"] <= 1.0
                                              else "  > $1: NOT met")
        print(f"  {label:<38} {r['llm_users']:>5} LLM users x {math.ceil(n_steps / every):>2} "
              f"steps = {r['decisions']:>6,} x ({r['prompt_tokens']:.1f} x {p_in} + "
              f"{r['completion_tokens']:.1f} x {p_out}) / 1e6 = {r['decisions']:,} x "
              f"${r['usd_per_decision']:.7f} = ${r['usd']:.3f}{verdict}")
    if cross is not None:
        rp = cross["prompt_smollm2"] / cross["prompt_estimate"]
        rc = cross["completion_smollm2"] / cross["completion_estimate"]
        scaled = [r["decisions"] * (r["prompt_tokens"] * rp * p_in + c_mean * rc * p_out) / 1e6
                  for r in rows]
        names = ["full" if r["llm_fraction"] == 1.0 else f"{r['llm_fraction']:g}/{r['llm_every']}"
                 for r in rows]
        print(f"  with SmolLM2's token counts instead (prompt x{rp:.2f}, completion x{rc:.2f}): "
              + ", ".join(f"{n} ${u:.3f}" for n, u in zip(names, scaled, strict=True)))
    full = rows[0]["usd"]
    gpt35 = PriceTable().price("gpt-3.5-turbo")
    if gpt35 is not None:
        usd35 = rows[0]["decisions"] * (rows[0]["prompt_tokens"] * gpt35[0]
                                        + c_mean * gpt35[1]) / 1e6
        print(f"\nfully LLM at gpt-3.5-turbo prices (${gpt35[0]} / ${gpt35[1]}): ${usd35:.2f} per "
              f"{pop:,} users x {n_steps} steps (Agent4Rec: ~$16 per 1,000 users, issue 18's "
              "figure; its sessions and prompts differ)")
    print(f"target: <= $1 per {pop:,} users x {n_steps} steps in hybrid mode "
          f"(fully LLM here: ${full:.2f})")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "tokenizer": tokenizer_name(), "requests": len(prompt),
            "prompt_tokens_mean": float(prompt.mean()),
            "prompt_tokens_per_step": per_step.tolist(), "schema_tokens": schema_tokens,
            "completion_tokens_mean": c_mean, "cross_check": cross, "prices": [p_in, p_out],
            "model": args.model, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
