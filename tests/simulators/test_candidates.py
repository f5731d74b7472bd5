"""Candidate generation: drawing several steps at once changes nothing but the cost."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest

import recarena  # noqa: F401
from recarena.envs.interest_evolution import interest_evolution_config
from recarena.errors import ConfigError
from recarena.simulators import world as world_module
from recarena.simulators.catalog import (
    ResampledCandidates,
    TopicQualitySampler,
    UniformFeatureSampler,
)
from recarena.simulators.choice import ProportionalChoice
from recarena.simulators.records import OneHotRows
from recarena.simulators.world import SlateWorld


def _dense(features: object) -> np.ndarray:
    return np.asarray(features) if not isinstance(features, OneHotRows) else features.materialise()


@pytest.mark.parametrize("sampler", [TopicQualitySampler(), UniformFeatureSampler(feature_dim=4)],
                         ids=["topic_quality", "uniform_features"])
def test_sample_steps_equals_consecutive_samples(sampler) -> None:
    source = ResampledCandidates(sampler, num_candidates=4)
    steps, n = 5, 3
    block = source.sample_steps(steps, n, np.random.default_rng(7), first_id=100)
    rng = np.random.default_rng(7)
    for t in range(steps):
        one = source.sample(n, rng, first_id=100 + t * n * 4)
        at = block.at(t)
        for name in ("item_id", "topic", "quality", "length", "creator_id"):
            a, b = getattr(one, name), getattr(at, name)
            assert a.dtype == b.dtype and a.shape == b.shape == (n, 4), name
            np.testing.assert_array_equal(a, b, err_msg=name)
        np.testing.assert_array_equal(_dense(one.features), _dense(at.features))
    # and the stream is left where the consecutive calls leave it
    rest = np.random.default_rng(7)
    source.sample_steps(steps, n, rest)
    assert rest.random() == rng.random()


@pytest.mark.parametrize("n", [1, 3])
def test_world_drawing_ahead_gives_the_per_step_stream(n: int, monkeypatch) -> None:
    cfg = interest_evolution_config()

    def candidates(ahead: int) -> list[np.ndarray]:
        monkeypatch.setattr(world_module, "_AHEAD_ITEMS", ahead)
        world = SlateWorld(cfg.user_model, cfg.candidates, cfg.slate_size)
        world.reset(n, np.random.default_rng(11))
        seen = [world.candidates.quality.copy(), world.candidates.item_id.copy()]
        slate = np.tile(np.arange(cfg.slate_size), (n, 1))
        for _ in range(250):  # crosses several block boundaries at 1024 items
            world.step(slate)
            seen += [world.candidates.quality.copy(), world.candidates.item_id.copy()]
        return seen

    per_step, ahead = candidates(1), candidates(1024)
    assert len(per_step) == len(ahead)
    for a, b in zip(per_step, ahead, strict=True):
        np.testing.assert_array_equal(a, b)


def test_candidates_are_read_only() -> None:
    env = gym.make("recarena/InterestEvolution-v0")
    _, info = env.reset(seed=0)
    for arr in (info["candidate_ids"], info["oracle"]["quality"], info["oracle"]["length"]):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 1


def test_single_env_snapshot_restores_across_a_block_boundary() -> None:
    env = gym.make("recarena/InterestEvolution-v0").unwrapped
    env.action_space.seed(2)
    env.reset(seed=2)
    for _ in range(60):  # mid-block (about 100 steps of candidates per block for one user)
        if env.step(env.action_space.sample())[2]:
            env.reset()
    snap = env.snapshot()
    clone = pickle.loads(pickle.dumps(env))
    acts = [env.action_space.sample() for _ in range(200)]

    def run(e) -> list[tuple]:
        out = []
        for a in acts:
            obs, r, term, trunc, info = e.step(a)
            out.append((obs["candidate_features"].copy(), r, info["candidate_ids"].copy()))
            if term or trunc:
                e.reset()
        return out

    first = run(env)
    env.restore(snap)
    for one, other in ((first, run(env)), (first, run(clone))):
        for (f1, r1, c1), (f2, r2, c2) in zip(one, other, strict=True):
            np.testing.assert_array_equal(f1, f2)
            assert r1 == r2
            np.testing.assert_array_equal(c1, c2)


@pytest.mark.parametrize("scores", [[[0.2, np.nan]], [[-1.5, 0.0]]], ids=["nan", "below"])
def test_proportional_rejects_scores_below_the_normalizer_or_nan(scores) -> None:
    with pytest.raises(ConfigError, match=r"scores >= min_normalizer \(-1.0\), none NaN"):
        ProportionalChoice().sample(np.asarray(scores), np.random.default_rng(0))


class _ExtremeDraws:
    """A stand-in generator whose normals are all ``z`` (a 200-sigma tail event)."""

    def __init__(self, z: float) -> None:
        self.z = z

    def random(self, out: np.ndarray) -> None:
        out[...] = 0.5

    def standard_normal(self, out: np.ndarray) -> None:
        out[...] = self.z


@pytest.mark.parametrize("z", [200.0, -200.0])
def test_topic_quality_stays_within_the_declared_bounds(z: float) -> None:
    sampler = TopicQualitySampler()
    lo, hi = sampler.quality_bounds()
    quality = sampler.sample_steps(2, (1, 5), _ExtremeDraws(z)).quality
    assert quality.min() >= lo and quality.max() <= hi
    assert (quality == (hi if z > 0 else lo)).all()
