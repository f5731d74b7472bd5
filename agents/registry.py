"""Policies by name, so that scenarios and the CLI can say ``linucb`` or ``popular``.

``make_policy(name, env, **kwargs)`` builds a policy for an env (an id, an env or a vector
env): what the env determines (candidate count, slate size, catalog size, feature
dimension) is filled in from its spaces and configuration; everything else is a keyword
argument of the policy's constructor, validated by it (a bad value raises ``ConfigError``
naming the argument). Unknown names raise ``ConfigError`` listing the allowed ones.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from recarena.agents.bandits import (
    UCB1,
    BernoulliTS,
    CascadeKLUCB,
    CascadeUCB1,
    DiagLinUCB,
    EpsilonGreedy,
    InSlateTS,
    LinTS,
    LinUCB,
    TopKUCB,
)
from recarena.agents.base import EnvSpec, Policy, env_spec
from recarena.agents.classic import (
    FeatureSortPolicy,
    GreedyOracle,
    ImplicitALS,
    ItemKNN,
    MostPopular,
    QualityAwareOracle,
    QualityBonusOracle,
    RandomPolicy,
)
from recarena.agents.rerank import MMR, PMMF, Calibrated, FairCo
from recarena.errors import ConfigError

__all__ = ["PolicyEntry", "list_policies", "make_policy", "policy_entry", "register_policy"]

#: constructor arguments the env determines
_FROM_ENV = ("num_candidates", "slate_size", "num_items", "dim")


@dataclass(frozen=True)
class PolicyEntry:
    """A registered policy.

    Attributes:
        name: registry name.
        cls: the policy class.
        summary: one line on what it does.
        paper: the paper (or book) it follows.
        needs: what the env must offer (``"catalog"``: recurring item ids; ``"features"``:
            candidate features; ``"oracle"``: privileged truth, a reference only; ...).
        build: ``(spec, env, kwargs) -> Policy``; ``env`` is the env object (made from
            the id when an id was given; ``None`` for a bare :class:`EnvSpec`).
        check: ``(env) -> None``; raises ``ConfigError`` naming the env and what the policy
            needs when it cannot work there (the reference policies read privileged truth
            that not every env has). :func:`make_policy` runs it before building, and
            ``recarena list`` derives from it which policies fit which env. ``None``: the
            builder's own checks (catalog, feature entries) are all there is.
    """

    name: str
    cls: type
    summary: str
    paper: str
    needs: str
    build: Callable[[EnvSpec, Any, dict[str, Any]], Policy]
    check: Callable[[Any], None] | None = None

    @property
    def arguments(self) -> list[str]:
        """The keyword arguments a user may give (the env fills in the rest)."""
        params = inspect.signature(self.cls.__init__).parameters
        return [p for p in params if p not in ("self", *_FROM_ENV)]


_REGISTRY: dict[str, PolicyEntry] = {}


def register_policy(name: str, cls: type, summary: str, paper: str, needs: str = "",
                    build: Callable[[EnvSpec, Any, dict[str, Any]], Policy] | None = None,
                    check: Callable[[Any], None] | None = None) -> None:
    """Register ``cls`` under ``name`` (``build`` defaults to filling the env-determined
    arguments the constructor takes, see :data:`_FROM_ENV`; ``check``: see
    :class:`PolicyEntry`)."""
    if not isinstance(name, str) or not name:
        raise ConfigError("register_policy.name", name, "a non-empty str")
    if name in _REGISTRY:
        raise ConfigError("register_policy.name", name, "a name not registered yet")
    if check is not None and not callable(check):
        raise ConfigError("register_policy.check", check, "a callable (env) -> None, or None")
    _REGISTRY[name] = PolicyEntry(name, cls, summary, paper, needs,
                                  build or _auto_builder(cls, name), check)


def policy_entry(name: str) -> PolicyEntry:
    if name not in _REGISTRY:
        raise ConfigError("policy", name, "a registered policy: " + ", ".join(sorted(_REGISTRY)))
    return _REGISTRY[name]


def list_policies() -> list[PolicyEntry]:
    """Every registered policy, by name."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def make_policy(name: str, env: Any, **kwargs: Any) -> Policy:
    """Build the policy ``name`` for ``env`` (an env id, env, vector env or
    :class:`~recarena.agents.base.EnvSpec`) with constructor arguments ``kwargs``."""
    entry = policy_entry(name)
    allowed = entry.arguments
    for key in kwargs:
        if key not in allowed:
            raise ConfigError(f"policy {name!r} argument", key,
                              "one of " + ", ".join(allowed) if allowed else "no arguments")
    if isinstance(env, EnvSpec):
        if env.env_id is None:  # nothing to check against, nor to read a configuration from
            return entry.build(env, None, dict(kwargs))
        env = env.env_id
    made = None
    if isinstance(env, str):
        import gymnasium as gym

        made = env = gym.make(env)
    try:
        spec = env_spec(env)
        if entry.check is not None:
            entry.check(env)
        return entry.build(spec, env, dict(kwargs))
    finally:
        if made is not None:
            made.close()


# ----------------------------------------------------------------- builders
def _linear_dim(spec: EnvSpec, cls: type, kwargs: dict[str, Any]) -> int:
    defaults = inspect.signature(cls.__init__).parameters
    model = kwargs.get("model", defaults["model"].default)
    owner = cls.__name__
    if model == "disjoint":
        key = kwargs.get("context_key")
        if key is None:
            key = next((k for k in ("user_profile", "interests") if k in spec.observation_shapes),
                       "user_profile")
            kwargs["context_key"] = key
        return spec.feature_dim(key, owner)
    return spec.feature_dim(kwargs.get("feature_key", "candidate_features"), owner)


def _auto_builder(cls: type, name: str) -> Callable[[EnvSpec, Any, dict[str, Any]], Policy]:
    params = inspect.signature(cls.__init__).parameters

    def build(spec: EnvSpec, env: Any, kwargs: dict[str, Any]) -> Policy:
        args: dict[str, Any] = {}
        if "num_candidates" in params:
            args["num_candidates"] = spec.num_candidates
        if "slate_size" in params:
            args["slate_size"] = spec.slate_size
        if "dim" in params:
            args["dim"] = _linear_dim(spec, cls, kwargs)
            if spec.num_items is not None:
                args["num_items"] = spec.num_items
        elif "num_items" in params:
            args["num_items"] = spec.require_catalog(cls.__name__)
        return cls(**args, **kwargs)

    return build


def _quality_oracle(spec: EnvSpec, env: Any, kwargs: dict[str, Any]) -> Policy:
    if env is None:
        raise ConfigError("quality_oracle env", spec, "an env id or env object (the oracle "
                          "reads the env's choice model, budget and return model)")
    return QualityAwareOracle.from_env(env, **kwargs)


register_policy("random", RandomPolicy, "uniformly random slates (the floor)", "-")
register_policy("popular", MostPopular, "most clicked items so far, optionally decayed",
                "Cremonesi, Koren & Turrin 2010 (baseline)", "catalog")
register_policy("item_knn", ItemKNN, "item-item cosine over the interaction log",
                "Sarwar et al. 2001", "catalog")
register_policy("als", ImplicitALS, "implicit-feedback matrix factorisation, refit every k steps",
                "Hu, Koren & Volinsky 2008", "catalog")
register_policy("feature_sort", FeatureSortPolicy, "rank by one observed feature (heuristic)",
                "-", "the named observation entry")
register_policy("greedy_oracle", GreedyOracle, "myopic greedy on true affinity (reference)",
                "-", "oracle", check=GreedyOracle.check_env)
register_policy("quality_bonus_oracle", QualityBonusOracle,
                "greedy on true affinity + w * quality (reference)", "Ie et al. 2019 (kale)",
                "oracle, item quality", check=QualityBonusOracle.check_env)
register_policy("quality_oracle", QualityAwareOracle,
                "best slate for watch per unit of budget, times expected sessions where users "
                "return (reference)", "renewal-reward; Ie et al. 2019; Cai et al. 2023",
                "oracle, a time budget", _quality_oracle, check=QualityAwareOracle.check_env)
register_policy("epsilon_greedy", EpsilonGreedy, "epsilon-greedy over items, decaying epsilon",
                "Auer, Cesa-Bianchi & Fischer 2002", "catalog")
register_policy("ucb1", UCB1, "UCB1 over items (CombUCB1 for K > 1)",
                "Auer et al. 2002; Kveton et al. 2015", "catalog")
register_policy("thompson", BernoulliTS, "Bernoulli Thompson sampling over items",
                "Thompson 1933; Agrawal & Goyal 2012", "catalog")
register_policy("in_slate_ts", InSlateTS, "Thompson sampling with one draw per slate position",
                "Eide, Leslie & Frigessi 2022", "catalog")
register_policy("topk_ucb", TopKUCB, "position-based top-K slate bandit (PBM-UCB)",
                "Lagree, Vernade & Cappe 2016", "catalog")
register_policy("cascade_ucb1", CascadeUCB1, "cascading bandit, UCB1 bounds",
                "Kveton et al. 2015", "catalog, examined feedback")
register_policy("cascade_kl_ucb", CascadeKLUCB, "cascading bandit, KL-UCB bounds",
                "Kveton et al. 2015", "catalog, examined feedback")
register_policy("linucb", LinUCB, "LinUCB (per-user on item features, or disjoint per item)",
                "Li et al. 2010", "features")
register_policy("diag_linucb", DiagLinUCB, "LinUCB with per-item diagonal covariance",
                "Yi et al. 2023 (Online Matching)", "catalog, user features")
register_policy("lin_ts", LinTS, "linear Thompson sampling", "Agrawal & Goyal 2013", "features")


def _reranker(cls: type) -> Callable[[EnvSpec, Any, dict[str, Any]], Policy]:
    """Builder of a re-ranker: its base from ``base`` (a registered name) and
    ``base_args``, the rest of the arguments its own."""
    owner = f"policy {cls.kind!r} argument"

    def build(spec: EnvSpec, env: Any, kwargs: dict[str, Any]) -> Policy:
        name = kwargs.pop("base", None)
        scoring = ", ".join(e.name for e in list_policies()
                            if callable(getattr(e.cls, "candidate_scores", None)))
        if not isinstance(name, str):
            raise ConfigError(f"{owner} base", name,
                              f"the name of a registered policy with candidate scores: {scoring}")
        base_args = kwargs.pop("base_args", None)
        if base_args is None:
            base_args = {}
        if not isinstance(base_args, dict):
            raise ConfigError(f"{owner} base_args", base_args,
                              f"a table of the arguments of {name!r} (or none)")
        base = make_policy(name, spec if env is None else env, **base_args)
        return cls(base, spec.slate_size, **kwargs)

    return build


_SCORING_BASE = "a scoring base policy's needs (base = NAME, base_args = {...})"
for _cls, _name, _summary, _paper, _needs in (
        (FairCo, "fairco", "re-ranks a base policy: relevance + lambda * the exposure/merit "
         "deficit of the candidate's group (creator, item, topic)", "Morik et al. 2020 (FairCo)",
         "candidate groups (group_key)"),
        (PMMF, "pmmf", "re-ranks a base policy: relevance - a dual per provider, by online "
         "mirror descent on the providers' exposure shares", "Xu et al. 2023 (P-MMF)",
         "candidate providers (group_key)"),
        (MMR, "mmr", "re-ranks a base policy: maximal marginal relevance on candidate features "
         "(cosine)", "Carbonell & Goldstein 1998", "features"),
        (Calibrated, "calibrated", "re-ranks a base policy: greedy relevance - lambda * KL of the "
         "user's history topics to the slate's", "Steck 2018", "candidate topic weights")):
    register_policy(_name, _cls, _summary, _paper, f"{_SCORING_BASE}, {_needs}", _reranker(_cls))


class CheckpointPolicy:
    """A trained policy loaded from its folder (``policy.json`` + ``weights.pt``, written by
    ``recarena train`` or :meth:`recarena.agents.rl.policy.SlatePolicy.save`), for
    scenarios: ``policy = "checkpoint"``, ``args = {path = "runs/.../policy"}``.

    Args:
        path: the policy folder.
        deterministic: top-K of the network's scores (True) or sampled slates.
        seed: seed of the sampling stream.
    """

    def __init__(self, path: str, deterministic: bool = True, seed: int = 0) -> None:
        raise TypeError("build it with make_policy('checkpoint', env, path=...)")


def _checkpoint(spec: EnvSpec, env: Any, kwargs: dict[str, Any]) -> Policy:
    if "path" not in kwargs:
        raise ConfigError("policy 'checkpoint' argument", None,
                          "path = the folder of a trained policy (recarena train's RUN/policy)")
    try:
        from recarena.agents.rl.policy import load_policy
    except ImportError as exc:
        raise ConfigError("policy 'checkpoint'", kwargs["path"],
                          f"torch installed (pip install 'recarena[rl]'; {exc})") from None
    return load_policy(kwargs["path"], env=spec if env is None else env,
                       deterministic=kwargs.get("deterministic", True),
                       seed=kwargs.get("seed", 0))


register_policy("checkpoint", CheckpointPolicy,
                "a trained RL policy loaded from its folder (recarena train's RUN/policy)",
                "-", "the env it was trained on", _checkpoint)
