"""Item generation and candidate sets.

Two ways to produce the C candidates a user sees at each step:

* :class:`ResampledCandidates`: fresh items drawn from a generative item sampler at every
  step (RecSim's ``resample_documents=True``); item ids count up.
* :class:`CorpusCandidates`: candidates taken from a fixed :class:`~recarena.simulators.records.Catalog`,
  either C distinct items drawn uniformly per user and step, or the whole catalog in order.

Item samplers:

* :class:`TopicQualitySampler`: RecSim interest_evolution's ``UtilityModelVideoSampler``.
* :class:`UniformFeatureSampler`: RecSim's ``IEvVideoSampler``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recarena.errors import ConfigError
from recarena.simulators.kernels import scaled_index
from recarena.simulators.records import Catalog, Items, OneHotRows
from recarena.validation import check_choice, check_float, check_int

__all__ = [
    "CorpusCandidates",
    "ResampledCandidates",
    "TopicQualitySampler",
    "UniformFeatureSampler",
    "make_catalog",
    "sample_distinct",
]


@dataclass(frozen=True)
class TopicQualitySampler:
    """RecSim interest_evolution's item distribution (``UtilityModelVideoSampler``).

    Ie et al. 2019, RecSim, section on the interest evolution environment. Each item has
    one topic drawn uniformly from ``num_topics``; its features are the one-hot encoding of
    the topic. Topic means of quality are spaced linearly: the first
    ``int(num_topics * trashy_fraction)`` topics from ``min_quality`` to 0 ("trashy"), the
    remaining ``int(num_topics * (1 - trashy_fraction))`` from 0 to ``max_quality``
    ("nutritious"). An item's quality is ``Normal(topic_mean, quality_std)``, truncated to
    :meth:`quality_bounds` (10 standard deviations past the extreme means: a draw there has
    probability below 1e-23, so the truncation only guarantees the bounds that observation
    spaces declare), and its length is fixed at ``length`` minutes. Each topic is published by one creator
    (``creator_id = topic``).

    Args:
        num_topics: T (RecSim: 20).
        trashy_fraction: share of topics with negative mean quality (RecSim: 0.7).
        min_quality, max_quality: extreme topic means (RecSim: -3, 3).
        quality_std: standard deviation of quality within a topic (RecSim passes 0.1 as
            the ``scale`` of ``normal``, i.e. a standard deviation).
        length: item length in minutes (RecSim: 4.0).
    """

    num_topics: int = 20
    trashy_fraction: float = 0.7
    min_quality: float = -3.0
    max_quality: float = 3.0
    quality_std: float = 0.1
    length: float = 4.0

    def __post_init__(self) -> None:
        check_int(self.num_topics, "TopicQualitySampler.num_topics", 2)
        check_float(self.trashy_fraction, "TopicQualitySampler.trashy_fraction", 0.0, 1.0)
        check_float(self.min_quality, "TopicQualitySampler.min_quality", high=0.0)
        check_float(self.max_quality, "TopicQualitySampler.max_quality", low=0.0)
        check_float(self.quality_std, "TopicQualitySampler.quality_std", low=0.0)
        check_float(self.length, "TopicQualitySampler.length", 0.0, low_open=True)
        means = self.topic_quality_means()
        if means.shape[0] != self.num_topics:
            raise ConfigError("TopicQualitySampler.trashy_fraction", self.trashy_fraction,
                              f"a split of {self.num_topics} topics into trashy and nutritious "
                              f"parts whose int() sizes add up to {self.num_topics}")
        object.__setattr__(self, "_means", means)

    def topic_quality_means(self) -> np.ndarray:
        """Mean quality of each topic, ``(T,)`` (RecSim's ``cluster_means``)."""
        trashy = np.linspace(self.min_quality, 0.0, int(self.num_topics * self.trashy_fraction))
        nutritious = np.linspace(0.0, self.max_quality,
                                 int(self.num_topics * round(1.0 - self.trashy_fraction, 12)))
        return np.concatenate([trashy, nutritious])

    @property
    def feature_dim(self) -> int:
        return self.num_topics

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator, first_id: int = 0) -> Items:
        """Draw items of the given batch shape (e.g. ``(N, C)``)."""
        return self.sample_steps(1, shape, rng, first_id).at(0)

    def sample_steps(self, steps: int, shape: tuple[int, ...], rng: np.random.Generator,
                     first_id: int = 0) -> Items:
        """``steps`` consecutive :meth:`sample` calls at once, stacked on a leading axis: the
        same random draws in the same order (a uniform and a normal array per step), and
        the same numbers, with the arithmetic done once for the block."""
        u = np.empty((steps, *shape))
        z = np.empty((steps, *shape))
        for t in range(steps):
            rng.random(out=u[t])
            rng.standard_normal(out=z[t])
        # floor(U * T) is uniform on [0, T) (to within 2**-53) and much cheaper per call
        # than Generator.integers for small batches.
        topic = scaled_index(u, self.num_topics)
        # Normal(mean of the topic, quality_std), as std * z + mean
        quality = z * self.quality_std + self._means.take(topic)  # type: ignore[attr-defined]
        lo, hi = self.quality_bounds()
        np.minimum(np.maximum(quality, lo, out=quality), hi, out=quality)
        ids = np.arange(first_id, first_id + u.size, dtype=np.int64).reshape(u.shape)
        # the features are the one-hot topic: handed out lazily, materialised where read
        features = OneHotRows(topic, self.num_topics)
        length = np.full(u.shape, float(self.length))
        return Items(ids, topic, features, quality, length, topic)

    #: Features are the one-hot encoding of the topic (so affinity is a gather).
    onehot_topics = True

    def feature_bounds(self) -> tuple[float, float]:
        return 0.0, 1.0

    def quality_bounds(self) -> tuple[float, float]:
        # Normal tails are unbounded; 10 standard deviations past the extreme means.
        return self.min_quality - 10 * self.quality_std, self.max_quality + 10 * self.quality_std

    def max_length(self) -> float:
        return self.length


@dataclass(frozen=True)
class UniformFeatureSampler:
    """RecSim's ``IEvVideoSampler``: uniform features, normal lengths, quality 1.

    Features are ``Uniform(min_feature, max_feature)^d``; length is
    ``min(Normal(length_mean, length_std), max_length)``, floored at ``min_length`` (RecSim
    can draw a negative length; we do not). The topic is the index of the largest feature.
    ``creator_id = topic``.
    """

    feature_dim: int = 20
    onehot_topics = False
    min_feature: float = -1.0
    max_feature: float = 1.0
    length_mean: float = 4.3
    length_std: float = 1.0
    max_length_minutes: float = 100.0
    min_length: float = 0.1
    quality: float = 1.0

    def __post_init__(self) -> None:
        check_int(self.feature_dim, "UniformFeatureSampler.feature_dim", 1)
        check_float(self.min_feature, "UniformFeatureSampler.min_feature")
        check_float(self.max_feature, "UniformFeatureSampler.max_feature")
        if self.max_feature <= self.min_feature:
            raise ConfigError("UniformFeatureSampler.max_feature", self.max_feature,
                              f"a value > min_feature ({self.min_feature})")
        check_float(self.length_std, "UniformFeatureSampler.length_std", low=0.0)
        check_float(self.min_length, "UniformFeatureSampler.min_length", 0.0, low_open=True)
        check_float(self.max_length_minutes, "UniformFeatureSampler.max_length_minutes",
                    self.min_length)
        check_float(self.length_mean, "UniformFeatureSampler.length_mean")
        check_float(self.quality, "UniformFeatureSampler.quality")

    @property
    def num_topics(self) -> int:
        return self.feature_dim

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator, first_id: int = 0) -> Items:
        """Draw items of the given batch shape (e.g. ``(N, C)``)."""
        return self.sample_steps(1, shape, rng, first_id).at(0)

    def sample_steps(self, steps: int, shape: tuple[int, ...], rng: np.random.Generator,
                     first_id: int = 0) -> Items:
        """``steps`` consecutive :meth:`sample` calls stacked on a leading axis (the same
        draws in the same order: features, then lengths, per step)."""
        features = np.empty((steps, *shape, self.feature_dim))
        raw_length = np.empty((steps, *shape))
        for t in range(steps):
            features[t] = rng.uniform(self.min_feature, self.max_feature,
                                      size=(*shape, self.feature_dim))
            raw_length[t] = rng.normal(self.length_mean, self.length_std, size=shape)
        length = np.clip(raw_length, self.min_length, self.max_length_minutes)
        topic = features.argmax(axis=-1)
        ids = np.arange(first_id, first_id + length.size, dtype=np.int64).reshape(length.shape)
        return Items(ids, topic, features, np.full(length.shape, self.quality), length, topic)

    def feature_bounds(self) -> tuple[float, float]:
        return self.min_feature, self.max_feature

    def quality_bounds(self) -> tuple[float, float]:
        return self.quality, self.quality

    def max_length(self) -> float:
        return self.max_length_minutes


ItemSampler = TopicQualitySampler | UniformFeatureSampler


def make_catalog(sampler: ItemSampler, size: int, rng: np.random.Generator,
                 num_creators: int | None = None) -> Catalog:
    """Draw a fixed corpus of ``size`` items from a generative sampler.

    Args:
        num_creators: if given, creators are drawn uniformly from ``[0, num_creators)``
            instead of one creator per topic.
    """
    check_int(size, "make_catalog.size", 1)
    items = sampler.sample((size,), rng)
    creator = items.creator_id
    if num_creators is not None:
        check_int(num_creators, "make_catalog.num_creators", 1)
        creator = rng.integers(0, num_creators, size=size)
    return Catalog(items.features, items.topic, items.quality, items.length, creator,
                   num_topics=sampler.num_topics)


def sample_distinct(n: int, c: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, c)`` indices into ``range(m)``, distinct within each row, uniform over subsets.

    Small sets from large ranges use rejection (expected ``c^2 / 2m`` redraws per row); the
    rest a random permutation per row, ``O(m)`` per row. Large catalogs (``m >= 4096``, as
    MovieLens) use rejection whenever ``c^2 <= 2m``; smaller ones keep the rule
    ``4 c^2 <= m`` that the registered envs' random streams were recorded with."""
    if 4 * c * c <= m or (m >= 4096 and c * c <= 2 * m):
        # Draw with replacement and redraw the rare rows that repeat an item: the
        # expected number of redraws is about c^2 / 2m per row.
        idx = rng.integers(0, m, size=(n, c))
        while True:
            srt = np.sort(idx, axis=1)
            bad = np.flatnonzero((srt[:, 1:] == srt[:, :-1]).any(axis=1))
            if bad.size == 0:
                return idx
            idx[bad] = rng.integers(0, m, size=(bad.size, c))
    return np.argsort(rng.random((n, m)), axis=1)[:, :c]


@dataclass(frozen=True)
class ResampledCandidates:
    """Fresh candidates from ``sampler`` at every step (RecSim's ``resample_documents``)."""

    sampler: ItemSampler = field(default_factory=TopicQualitySampler)
    num_candidates: int = 10
    generative: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        check_int(self.num_candidates, "ResampledCandidates.num_candidates", 1)
        if not isinstance(self.sampler, (TopicQualitySampler, UniformFeatureSampler)):
            raise ConfigError("ResampledCandidates.sampler", self.sampler,
                              "a TopicQualitySampler or UniformFeatureSampler")

    @property
    def feature_dim(self) -> int:
        return self.sampler.feature_dim

    @property
    def onehot_topics(self) -> bool:
        """Whether item features are exactly the one-hot encoding of the topic."""
        return self.sampler.onehot_topics

    @property
    def num_topics(self) -> int:
        return self.sampler.num_topics

    def sample(self, n: int, rng: np.random.Generator, first_id: int = 0) -> Items:
        return self.sampler.sample((n, self.num_candidates), rng, first_id)

    def sample_steps(self, steps: int, n: int, rng: np.random.Generator,
                     first_id: int = 0) -> Items:
        """The candidates of ``steps`` consecutive steps, ``(steps, n, C)``: the same as
        ``steps`` calls of :meth:`sample` with ids counting on (a world draws ahead in
        blocks, which costs fewer numpy calls per step)."""
        return self.sampler.sample_steps(steps, (n, self.num_candidates), rng, first_id)

    def feature_bounds(self) -> tuple[float, float]:
        return self.sampler.feature_bounds()

    def quality_bounds(self) -> tuple[float, float]:
        return self.sampler.quality_bounds()

    def max_length(self) -> float:
        return self.sampler.max_length()


@dataclass(frozen=True)
class CorpusCandidates:
    """Candidates from a fixed catalog.

    Args:
        catalog: the corpus.
        num_candidates: C; with ``mode="uniform"`` at most the catalog size.
        mode: ``"uniform"``: C distinct items drawn uniformly per user and step;
            ``"all"``: the whole catalog in catalog order (C must equal its size).
    """

    catalog: Catalog
    num_candidates: int = 10
    mode: str = "uniform"
    generative: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.catalog, Catalog):
            raise ConfigError("CorpusCandidates.catalog", self.catalog, "a Catalog")
        check_choice(self.mode, "CorpusCandidates.mode", ("uniform", "all"))
        if self.mode == "all":
            check_int(self.num_candidates, "CorpusCandidates.num_candidates",
                      self.catalog.size, self.catalog.size)
        else:
            check_int(self.num_candidates, "CorpusCandidates.num_candidates", 1, self.catalog.size)

    @property
    def feature_dim(self) -> int:
        return self.catalog.feature_dim

    @property
    def onehot_topics(self) -> bool:
        """Whether item features are exactly the one-hot encoding of the topic."""
        return self.catalog.onehot_topics

    @property
    def num_topics(self) -> int:
        return self.catalog.num_topics

    def sample(self, n: int, rng: np.random.Generator, first_id: int = 0) -> Items:
        m, c = self.catalog.size, self.num_candidates
        if self.mode == "all":
            return self.catalog.items(np.broadcast_to(np.arange(m), (n, m)))
        idx = sample_distinct(n, c, m, rng)
        return self.catalog.items(idx)

    def feature_bounds(self) -> tuple[float, float]:
        f = self.catalog.features
        return float(f.min()), float(f.max())

    def quality_bounds(self) -> tuple[float, float]:
        q = self.catalog.quality
        return float(q.min()), float(q.max())

    def max_length(self) -> float:
        return float(self.catalog.length.max())
