"""What the LLM backend spent and how its requests were decided.

:class:`Usage` counts decisions by who decided them (the endpoint, the cache, the
caller's fallback), the HTTP requests actually sent (first tries, retries, repairs) and
the tokens the endpoint reported in its ``usage`` field, priced by the config's
:class:`~recarena.simulators.llm.config.PriceTable`. Cache hits are free: they add to
``cache_hits`` and to no token count. :func:`estimate_tokens` is the dry-run estimate
(``tiktoken`` when installed, else four characters per token).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

__all__ = ["Usage", "count_tokens", "estimate_tokens", "tokenizer_name"]


@dataclass
class Usage:
    """Running totals of one backend (a run).

    ``decisions = llm + cache_hits + fallbacks``; ``requests`` counts HTTP requests sent
    (``retries`` and ``repairs`` included); ``prompt_tokens``/``completion_tokens`` are the
    server's counts for every reply received (a repaired reply's first try included);
    ``cost`` is in USD (``None`` when the model has no price).
    """

    decisions: int = 0
    llm: int = 0
    cache_hits: int = 0
    fallbacks: int = 0
    requests: int = 0
    retries: int = 0
    repairs: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = 0.0
    seconds: float = 0.0  # wall time spent inside decide()

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, Any]:
        """Plain numbers for a manifest or a progress line."""
        out = asdict(self)
        out["total_tokens"] = self.total_tokens
        return out

    def progress_text(self) -> str:
        """One short line for a progress bar: decisions/s, cache hits, fallbacks, spend."""
        rate = self.decisions / self.seconds if self.seconds > 0 else 0.0
        spend = "n/a" if self.cost is None else f"${self.cost:.4f}"
        return (f"{rate:.1f} dec/s, {self.cache_hits} cached, {self.fallbacks} fallback, "
                f"{self.total_tokens} tok, {spend}")


@lru_cache(maxsize=1)
def _encoding() -> Any:
    try:
        import tiktoken
    except ImportError:
        return None
    try:
        return tiktoken.get_encoding("o200k_base")
    except Exception:  # the encoding file is not on this machine and cannot be downloaded
        return None


def tokenizer_name() -> str:
    """``"tiktoken o200k_base"`` when the estimate uses tiktoken, else ``"chars/4"``."""
    return "tiktoken o200k_base" if _encoding() is not None else "chars/4"


def count_tokens(text: str) -> int:
    """Estimated tokens of ``text`` (tiktoken's o200k_base when installed, else chars/4)."""
    enc = _encoding()
    if enc is not None:
        return len(enc.encode(text))
    return (len(text) + 3) // 4


def estimate_tokens(messages: Sequence[Mapping[str, str]],
                    schema: Mapping[str, Any] | None = None) -> int:
    """Estimated prompt tokens of a chat request: each message's content plus 4 tokens of
    framing, 3 for the reply's priming, and the schema's JSON when one is sent."""
    total = 3 + sum(4 + count_tokens(str(m.get("content", ""))) for m in messages)
    if schema is not None:
        total += count_tokens(json.dumps(schema, separators=(",", ":")))
    return total
