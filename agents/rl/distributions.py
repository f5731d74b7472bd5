"""The Plackett–Luce distribution over ordered slates of K distinct candidates.

A slate policy scores every candidate (logits ``(B, C)``) and draws the slate position by
position without replacement: position ``j`` takes candidate ``i`` with probability
``exp(l_i) / sum_{m not yet shown} exp(l_m)`` (Plackett 1975, Luce 1959). The
Gumbel-top-k trick draws exactly this: add independent Gumbel(0, 1) noise to the logits
and take the K largest, in order (Yellott 1977; Kool, van Hoof and Welling 2019,
"Stochastic Beams and Where to Find Them"). So every sampled slate is valid (no repeated
candidate, no post-hoc repair) and its probability is known exactly:

    log p(s) = sum_{j < K} [ l_{s_j} - logsumexp(l over candidates not in s_{<j}) ].

**Entropy.** The entropy of an ordered K-slate sums ``C! / (C - K)!`` terms, too many
beyond small cases. By the chain rule ``H(S) = sum_j E[H(S_j | S_{<j})]``, so the sum of
the conditional (categorical) entropies along a slate drawn from the distribution,
:meth:`PlackettLuce.chain_entropy`, is an unbiased estimate of ``H(S)``, exact for
``K = 1``; :meth:`PlackettLuce.exact_entropy` enumerates every slate (small cases and
tests).

Masked candidates (``mask`` False) get probability 0; each row needs at least K allowed
candidates.
"""

from __future__ import annotations

import itertools
import math

import torch

__all__ = ["PlackettLuce"]

_NEG = -1e9


class PlackettLuce:
    """Plackett–Luce over ordered slates of ``k`` distinct candidates.

    Args:
        logits: ``(B, C)`` candidate scores.
        k: slate size K (``1 <= K <= C``).
        mask: optional ``(B, C)`` bool, True where a candidate may be shown.
    """

    def __init__(self, logits: torch.Tensor, k: int, mask: torch.Tensor | None = None) -> None:
        if logits.dim() != 2:
            raise ValueError(f"logits must be (B, C), got shape {tuple(logits.shape)}")
        if not 1 <= k <= logits.shape[1]:
            raise ValueError(f"slate size {k} must be in [1, {logits.shape[1]}]")
        if mask is not None:
            logits = logits.masked_fill(~mask, _NEG)
        self.logits = logits
        self.k = int(k)

    # ---------------------------------------------------------------- sampling
    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(B, K)`` slates drawn by Gumbel-top-k (exact Plackett–Luce samples)."""
        u = torch.rand(self.logits.shape, generator=generator, dtype=self.logits.dtype,
                       device=self.logits.device)
        gumbel = -torch.log((-torch.log(u.clamp_min(1e-20))).clamp_min(1e-20))
        return torch.topk(self.logits.detach() + gumbel, self.k, dim=1).indices

    def mode(self) -> torch.Tensor:
        """``(B, K)``: the most probable slate, the top-K logits in order."""
        return torch.topk(self.logits.detach(), self.k, dim=1).indices

    # ------------------------------------------------------------ probabilities
    def _conditionals(self, slates: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per position ``j``: the log-softmax over candidates not in ``slates[:, :j]``
        ``(B, K, C)`` and the log-probability of the candidate placed there ``(B, K)``."""
        b, c = self.logits.shape
        taken = torch.zeros(b, c, dtype=torch.bool, device=self.logits.device)
        logps, picks = [], []
        for j in range(self.k):
            logp = torch.log_softmax(self.logits.masked_fill(taken, float("-inf")), dim=1)
            logps.append(logp)
            picks.append(logp.gather(1, slates[:, j:j + 1]).squeeze(1))
            taken = taken.scatter(1, slates[:, j:j + 1], True)
        return torch.stack(logps, 1), torch.stack(picks, 1)

    def log_prob(self, slates: torch.Tensor) -> torch.Tensor:
        """``(B,)`` exact log-probability of each ordered slate ``(B, K)``."""
        return self._conditionals(slates)[1].sum(dim=1)

    def log_prob_and_entropy(self, slates: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probability ``(B,)`` and :meth:`chain_entropy` ``(B,)`` in one pass."""
        logps, picks = self._conditionals(slates)
        p = logps.exp()
        ent = -(p * logps.clamp_min(-1e30).nan_to_num(neginf=0.0)).sum(dim=(1, 2))
        return picks.sum(dim=1), ent

    def chain_entropy(self, slates: torch.Tensor) -> torch.Tensor:
        """``(B,)``: ``sum_j H(S_j | S_{<j} = slates[:, :j])``, an unbiased estimate of the
        slate entropy when ``slates`` are drawn from this distribution (exact for K = 1)."""
        return self.log_prob_and_entropy(slates)[1]

    def exact_entropy(self, limit: int = 100_000) -> torch.Tensor:
        """``(B,)`` exact entropy by enumerating every ordered slate (at most ``limit``)."""
        c = self.logits.shape[1]
        count = math.perm(c, self.k)
        if count > limit:
            raise ValueError(f"{count} ordered slates to enumerate, more than limit={limit}")
        slates = torch.tensor(list(itertools.permutations(range(c), self.k)),
                              dtype=torch.long, device=self.logits.device)
        b = self.logits.shape[0]
        out = torch.zeros(b, dtype=self.logits.dtype, device=self.logits.device)
        for chunk in slates.split(4096):
            m = chunk.shape[0]
            rows = PlackettLuce(self.logits.repeat_interleave(m, 0), self.k)
            lp = rows.log_prob(chunk.repeat(b, 1)).view(b, m)
            out -= (lp.exp() * lp.nan_to_num(neginf=0.0)).sum(dim=1)
        return out
