"""Cascading bandit environment (Kveton et al. 2015)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recarena.envs.slate import SlateEnv, SlateEnvConfig
from recarena.errors import ConfigError
from recarena.simulators.catalog import CorpusCandidates
from recarena.simulators.choice import AttractionLink, CascadeChoice
from recarena.simulators.records import Catalog
from recarena.simulators.users import FixedInterests, ResponseSignals, UserModel
from recarena.validation import check_float, check_float_vector, check_int

__all__ = ["CascadeEnv", "cascade_config", "kveton_attraction"]


def kveton_attraction(num_items: int = 16, num_best: int = 4, p: float = 0.2,
                      delta: float = 0.15) -> tuple[float, ...]:
    """Attraction weights of Kveton et al. (2015)'s experiments: the ``num_best`` best items
    have attraction ``p`` and the others ``p - delta``."""
    check_int(num_items, "num_items", 1)
    check_int(num_best, "num_best", 1, num_items)
    check_float(p, "p", 0.0, 1.0)
    check_float(delta, "delta", 0.0, p)
    return tuple([p] * num_best + [p - delta] * (num_items - num_best))


def cascade_config(num_items: int = 16, slate_size: int = 4,
                   attraction: Sequence[float] | None = None, shuffle: bool = True,
                   horizon: int = 1000) -> SlateEnvConfig:
    """Configuration of ``Cascade-v0``: L items, one-hot features, cascade clicks."""
    num_items = check_int(num_items, "num_items", 1)
    if attraction is None:
        attraction = kveton_attraction(num_items, min(slate_size, num_items))
    w = check_float_vector(attraction, "attraction", num_items, 0.0, 1.0)
    eye = np.eye(num_items)
    catalog = Catalog(eye, np.arange(num_items), np.zeros(num_items), np.ones(num_items),
                      np.arange(num_items), num_topics=num_items)
    if not isinstance(shuffle, bool):
        raise ConfigError("shuffle", shuffle, "a bool")
    return SlateEnvConfig(
        user_model=UserModel(
            choice=CascadeChoice(link=AttractionLink(kind="identity")),
            interest_prior=FixedInterests(tuple(float(x) for x in w), shuffle=shuffle),
            interest_dynamics=None, satiation=None, novelty=None, budget=None,
            satisfaction=None, signals=ResponseSignals(watch="full"), history_length=0,
        ),
        candidates=CorpusCandidates(catalog, num_items, mode="all"),
        slate_size=slate_size,
        reward_weights={"click": 1.0},
        observe=("response",),
        horizon=horizon,
    )


class CascadeEnv(SlateEnv):
    """Cascading bandit (``recarena/Cascade-v0``).

    Kveton, Szepesvari, Wen, Ashkan 2015, "Cascading Bandits: Learning to Rank in the
    Cascade Model"; the click model is Craswell et al. 2008's cascade. There are L items
    with fixed attraction probabilities ``w``. Each step the agent ranks K of them; the
    user examines the list top-down and clicks the first attractive item (item ``e`` is
    attractive with probability ``w(e)``, independently), then stops.

    **Action space**: ``SlateSpace(L, K)``: the ranked list.

    **Observation space** (``Dict``): ``response_click``, ``response_examined``
    (``MultiBinary(K)``) and ``response_watch_time`` of the last list: the examined prefix
    ends at the click, or covers the whole list when nothing was clicked.

    **Reward**: 1 on a click, else 0. The expected reward of list ``A`` is
    ``1 - prod_{e in A} (1 - w(e))``, maximised by the K most attractive items.

    **Episode end**: truncated after ``horizon`` steps; never terminated.

    **Info**: ``examined`` (the examined prefix), ``response``, and
    ``info["oracle"]["attraction"]``, the attraction probabilities ``(L,)``.

    **Arguments**: ``num_items`` (L = 16), ``slate_size`` (K = 4), ``attraction`` (default:
    Kveton et al.'s ``p = 0.2`` for the K best items and ``p - 0.15`` for the rest),
    ``shuffle`` (True: the item order is permuted at each reset, so which items are best
    must be learned), ``horizon`` (1000).

    **Version history**: v0: initial version.

    >>> import gymnasium as gym, recarena
    >>> env = gym.make("recarena/Cascade-v0", attraction=[0.9, 0.1, 0.1, 0.1], num_items=4,
    ...                slate_size=2, shuffle=False)
    >>> _, info = env.reset(seed=0)
    >>> info["oracle"]["attraction"].round(2).tolist()
    [0.9, 0.1, 0.1, 0.1]
    """

    vector_notes = ("With ``shuffle=True`` every user has their own permutation of the "
                    "attraction probabilities.")

    builder = staticmethod(cascade_config)
