"""Slate-aware policy networks: one shared candidate encoder, a context encoder, a score
per candidate and a value.

Every recarena observation is a ``Dict`` whose ``candidate_*`` entries describe the C
candidates (``(C,)`` or ``(C, d)``) and whose other entries are context (the user's last
response, interests, the calendar, a watch history). :class:`ObservationLayout` reads
that split from the space. :class:`SlateActorCritic` then

* encodes each candidate's features with the *same* MLP (so the network works for any
  number of candidates and learns "what makes an item good" once, as the per-item
  Q-network of SlateQ, Ie et al. 2019, and the candidate scorers of YouTube's REINFORCE
  recommender, Chen et al. 2019, do),
* encodes the context with a second MLP,
* scores candidate ``i`` with an MLP of ``[e_i, c, e_i * c]`` (the elementwise product
  lets the score depend on how the item matches the user),
* values the state with an MLP of ``[c, mean_i e_i]``.

The scores are the logits of a :class:`~recarena.agents.rl.distributions.PlackettLuce`
distribution over slates: sampled by Gumbel-top-k during training, the top-K at
evaluation.

**Observation normalisation** (:class:`RunningNorm`) lives in the network as buffers, so a
saved network carries its statistics; per-candidate features share one set of statistics
across candidates. Parameters are initialised from an explicit ``torch.Generator``
(orthogonal weights, as in CleanRL's PPO), never torch's global RNG.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from recarena.agents.base import batch_size
from recarena.errors import ConfigError

__all__ = ["NormalizedSlateInputs", "ObservationLayout", "RunningNorm", "SlateActorCritic",
           "mlp", "obs_to_tensors"]

CANDIDATE_PREFIX = "candidate_"


@dataclass(frozen=True)
class ObservationLayout:
    """How a recarena ``Dict`` observation splits into per-candidate and context inputs.

    Attributes:
        num_candidates: C.
        slate_size: K.
        candidate_keys: ``(key, width)`` of the per-candidate entries, in order.
        context_keys: ``(key, width)`` of the context entries (flattened), in order.
        onehot: ``{key: n}`` for per-candidate ``MultiDiscrete`` entries one-hot encoded.
    """

    num_candidates: int
    slate_size: int
    candidate_keys: tuple[tuple[str, int], ...]
    context_keys: tuple[tuple[str, int], ...]
    onehot: tuple[tuple[str, int], ...] = ()

    @classmethod
    def from_space(cls, space: spaces.Space, num_candidates: int, slate_size: int,
                   owner: str = "policy") -> ObservationLayout:
        if not isinstance(space, spaces.Dict):
            raise ConfigError(f"{owner} observation space", space,
                              "a Dict observation space (a recarena env)")
        c = int(num_candidates)
        cand, ctx, onehot = [], [], []
        for key, sub in space.spaces.items():
            shape = tuple(sub.shape or ())
            if not isinstance(sub, (spaces.Box, spaces.MultiBinary, spaces.MultiDiscrete)):
                raise ConfigError(f"{owner} observation[{key!r}]", sub,
                                  "a Box, MultiBinary or MultiDiscrete entry")
            if key.startswith(CANDIDATE_PREFIX) and shape and shape[0] == c:
                if isinstance(sub, spaces.MultiDiscrete) and int(np.max(sub.nvec)) > 2:
                    n = int(np.max(sub.nvec))
                    onehot.append((key, n))
                    cand.append((key, n))
                else:
                    cand.append((key, int(np.prod(shape[1:], dtype=np.int64))))
            else:
                ctx.append((key, int(np.prod(shape, dtype=np.int64))))
        if not cand:
            raise ConfigError(f"{owner} observation", sorted(space.spaces),
                              f"at least one per-candidate entry ('{CANDIDATE_PREFIX}*' with "
                              f"leading dimension C={c}); this env's observation does not "
                              "describe its candidates (e.g. Cascade-v0 without "
                              "observe_history=True)")
        return cls(c, int(slate_size), tuple(cand), tuple(ctx), tuple(onehot))

    @property
    def candidate_dim(self) -> int:
        return sum(w for _, w in self.candidate_keys)

    @property
    def context_dim(self) -> int:
        return sum(w for _, w in self.context_keys)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObservationLayout:
        return cls(int(data["num_candidates"]), int(data["slate_size"]),
                   tuple((str(k), int(w)) for k, w in data["candidate_keys"]),
                   tuple((str(k), int(w)) for k, w in data["context_keys"]),
                   tuple((str(k), int(w)) for k, w in data.get("onehot", ())))

    def split(self, obs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Batched observation (arrays or tensors with a leading B axis) →
        candidate inputs ``(B, C, Dc)`` and context ``(B, Dx)`` float32 tensors."""
        onehot = dict(self.onehot)
        parts = []
        for key, _ in self.candidate_keys:
            x = torch.as_tensor(np.asarray(obs[key]) if not torch.is_tensor(obs[key]) else obs[key])
            b = x.shape[0]
            if key in onehot:
                x = nn.functional.one_hot(x.long(), onehot[key]).float()
            x = x.reshape(b, x.shape[1], -1).float()
            parts.append(x)
        cand = torch.cat(parts, dim=2)
        b = cand.shape[0]
        ctx_parts = [torch.as_tensor(obs[key] if torch.is_tensor(obs[key]) else np.asarray(obs[key]))
                     .reshape(b, -1).float() for key, _ in self.context_keys]
        ctx = torch.cat(ctx_parts, dim=1) if ctx_parts else torch.zeros(b, 0)
        return cand, ctx

    def check_batch(self, obs: Any, info: Any, owner: str) -> int:
        """N, the rows of a batched observation handed to ``owner``'s ``recommend``; a
        :class:`~recarena.errors.ConfigError` unless it has every entry of this layout and
        ``C`` candidates per row."""
        keys = [k for k, _ in self.candidate_keys + self.context_keys]
        if not isinstance(obs, dict) or any(k not in obs for k in keys):
            raise ConfigError(f"{owner}.recommend obs",
                              sorted(obs) if isinstance(obs, dict) else type(obs).__name__,
                              "an observation with the entries the network was trained on: "
                              + ", ".join(keys))
        n = batch_size(obs, info, owner)
        first = self.candidate_keys[0][0]
        c = np.asarray(obs[first]).shape
        if len(c) < 2 or c[0] != n or c[1] != self.num_candidates:
            raise ConfigError(f"{owner}.recommend obs[{first!r}]", c,
                              f"({n}, {self.num_candidates}, ...): {self.num_candidates} "
                              "candidates, as in training")
        return n


def obs_to_tensors(obs: dict[str, Any]) -> dict[str, torch.Tensor]:
    """A batched numpy observation dict as tensors (no copy where the dtype allows)."""
    return {k: torch.as_tensor(np.asarray(v)) for k, v in obs.items()}


class RunningNorm(nn.Module):
    """Running mean and variance of the last input dimension (Chan et al.'s parallel
    update, as in SB3's ``RunningMeanStd``); ``forward`` standardises and clips to
    ``±clip``. Statistics change only through :meth:`update`."""

    def __init__(self, dim: int, clip: float = 10.0, eps: float = 1e-8) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("var", torch.ones(dim, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(1e-4, dtype=torch.float64))
        self.clip, self.eps = float(clip), float(eps)

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        if x.shape[-1] == 0 or x.numel() == 0:
            return
        x = x.reshape(-1, x.shape[-1]).double()
        b_mean, b_var, b = x.mean(0), x.var(0, unbiased=False), x.shape[0]
        delta = b_mean - self.mean
        total = self.count + b
        self.mean += delta * b / total
        m2 = self.var * self.count + b_var * b + delta.square() * self.count * b / total
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self.mean.float(), (self.var + self.eps).sqrt().float()
        return ((x - mean) / std).clamp(-self.clip, self.clip)


def mlp(sizes: list[int], out_gain: float = 1.0) -> nn.Sequential:
    """Linear layers of widths ``sizes`` with tanh between them; the last layer carries
    ``out_gain``, the gain its orthogonal initialisation uses (the others: sqrt(2))."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    layers[-1].out_gain = out_gain  # type: ignore[union-attr]
    return nn.Sequential(*layers)


class NormalizedSlateInputs(nn.Module):
    """Base of the slate networks: the observation ``layout`` and, with ``normalize``,
    running statistics of the candidate (``cand_norm``) and context (``ctx_norm``) inputs,
    saved with the network's weights."""

    def __init__(self, layout: ObservationLayout, normalize: bool = True) -> None:
        super().__init__()
        self.layout, self.normalize = layout, bool(normalize)
        self.cand_norm = RunningNorm(layout.candidate_dim)
        self.ctx_norm = RunningNorm(layout.context_dim)

    def inputs(self, obs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised candidate ``(B, C, Dc)`` and context ``(B, Dx)`` inputs (a column of
        zeros when the observation has no context)."""
        cand, ctx = self.layout.split(obs)
        if self.normalize:
            cand, ctx = self.cand_norm(cand), self.ctx_norm(ctx)
        if ctx.shape[1] == 0:
            ctx = torch.zeros(ctx.shape[0], 1)
        return cand, ctx

    def update_normalizer(self, obs: dict[str, Any]) -> None:
        """Add a batch of raw observations to the running input statistics."""
        if self.normalize:
            cand, ctx = self.layout.split(obs)
            self.cand_norm.update(cand)
            self.ctx_norm.update(ctx)


class SlateActorCritic(NormalizedSlateInputs):
    """Per-candidate scores (Plackett–Luce logits) and a state value for a recarena env.

    Args:
        layout: the env's :class:`ObservationLayout`.
        hidden: width of every hidden layer.
        normalize: standardise inputs with running statistics (:class:`RunningNorm`).
        seed: seed of the parameter initialisation.
        critic_dim: width of extra inputs that only the value head sees (an asymmetric
            critic: privileged simulator state during training, Pinto et al. 2018,
            "Asymmetric Actor Critic for Image-Based Robot Learning"); the policy's scores
            never depend on them, so the trained policy needs only the observation.
        recurrent: pass the context encoding through a GRU cell (Cho et al. 2014) whose
            state carries the user's history within an episode (responses, time), for envs
            whose state is not in one observation; :meth:`step` then takes and returns the
            state (zeros for a new user), and the scores and the value read the GRU's
            output instead of the context encoding.
    """

    def __init__(self, layout: ObservationLayout, hidden: int = 64, normalize: bool = True,
                 seed: int = 0, critic_dim: int = 0, recurrent: bool = False) -> None:
        super().__init__(layout, normalize)
        self.hidden, self.critic_dim = int(hidden), int(critic_dim)
        self.recurrent = bool(recurrent)
        self.gru = nn.GRUCell(self.hidden, self.hidden) if self.recurrent else None
        self.critic_norm = RunningNorm(self.critic_dim)
        dc, dx, h = layout.candidate_dim, layout.context_dim, self.hidden
        self.cand_enc = nn.Sequential(mlp([dc, h, h]), nn.Tanh())
        self.ctx_enc = nn.Sequential(mlp([max(dx, 1), h, h]), nn.Tanh())
        self.score = mlp([3 * h, h, 1], out_gain=0.01)
        self.value = mlp([2 * h + self.critic_dim, h, 1], out_gain=1.0)
        self.reset_parameters(seed)

    def reset_parameters(self, seed: int) -> None:
        gen = torch.Generator().manual_seed(int(seed))
        for module in self.modules():
            if isinstance(module, nn.Linear):
                gain = getattr(module, "out_gain", float(np.sqrt(2.0)))
                nn.init.orthogonal_(module.weight, gain, generator=gen)
                nn.init.zeros_(module.bias)
        if self.gru is not None:  # orthogonal per gate block, zero biases (CleanRL's LSTM)
            for weight in (self.gru.weight_ih, self.gru.weight_hh):
                for block in weight.data.chunk(3, dim=0):
                    nn.init.orthogonal_(block, 1.0, generator=gen)
            nn.init.zeros_(self.gru.bias_ih)
            nn.init.zeros_(self.gru.bias_hh)

    def config(self) -> dict[str, Any]:
        return {"kind": "actor_critic", "layout": self.layout.to_dict(),
                "hidden": self.hidden, "normalize": self.normalize,
                "critic_dim": self.critic_dim, "recurrent": self.recurrent}

    def initial_state(self, n: int) -> torch.Tensor:
        """``(n, hidden)`` zeros: the recurrent state of users at their first step."""
        return torch.zeros(n, self.hidden)

    def forward(self, obs: dict[str, Any], critic: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, C)`` and values ``(B,)``; ``critic`` ``(B, critic_dim)`` are the
        value head's extra inputs (zeros when not given). A recurrent network is run from
        the zero state (a user's first step); use :meth:`step` to carry the state."""
        return self.step(obs, None, critic)[:2]

    def step(self, obs: dict[str, Any], state: torch.Tensor | None,
             critic: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Logits ``(B, C)``, values ``(B,)`` and the next recurrent state ``(B, hidden)``
        (``None`` for a feed-forward network) from the state before this observation."""
        e, c = self.encode(obs)
        if self.gru is not None:
            c = state = self.gru(c, self.initial_state(c.shape[0]) if state is None else state)
        logits, value = self.heads(e, c, critic)
        return logits, value, state

    def encode(self, obs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Candidate encodings ``(B, C, hidden)`` and the context encoding ``(B, hidden)``
        (before the GRU of a recurrent network)."""
        cand, ctx = self.inputs(obs)
        return self.cand_enc(cand), self.ctx_enc(ctx)

    def heads(self, e: torch.Tensor, c: torch.Tensor, critic: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, C)`` and values ``(B,)`` from candidate encodings ``e`` and the
        context ``c`` (the GRU's output for a recurrent network)."""
        cb = c.unsqueeze(1).expand_as(e)
        logits = self.score(torch.cat([e, cb, e * cb], dim=2)).squeeze(2)
        parts = [c, e.mean(dim=1)]
        if self.critic_dim:
            extra = torch.zeros(c.shape[0], self.critic_dim) if critic is None else \
                self.critic_norm(critic.float())
            parts.append(extra)
        value = self.value(torch.cat(parts, dim=1)).squeeze(1)
        return logits, value

    def get_value(self, obs: dict[str, Any], critic: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward(obs, critic)[1]
