"""A table of bad inputs per public entry point: each raises a typed recarena error whose
message names what was expected and what was received."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
import pytest

import recarena
from recarena.agents import (
    FeatureSortPolicy,
    FeatureTargetPolicy,
    GreedyOracle,
    QualityAwareOracle,
    RandomPolicy,
    evaluate,
)
from recarena.envs import CascadeEnv, SlateEnv, SlateEnvConfig, SlateSpace
from recarena.envs.interest_exploration import InterestExplorationConfig
from recarena.envs.long_term_satisfaction import LongTermSatisfactionConfig
from recarena.envs.short_video import ShortVideoConfig
from recarena.envs.wrappers import DeduplicateSlate, EnumeratedSlate, ScoreSlate
from recarena.errors import ConfigError, InvalidSlate, RecArenaError, ResetNeeded, UnknownEnvError
from recarena.simulators.catalog import (
    CorpusCandidates,
    ResampledCandidates,
    TopicQualitySampler,
    UniformFeatureSampler,
)
from recarena.simulators.choice import (
    AttractionLink,
    CascadeChoice,
    DependentClickChoice,
    MultinomialLogitChoice,
    PositionBasedChoice,
    ProportionalChoice,
)
from recarena.simulators.interest_exploration import ExplorationUsers, TopicDocuments
from recarena.simulators.long_term_satisfaction import ChocKaleUsers
from recarena.simulators.records import Catalog
from recarena.simulators.short_video import ShortVideoUsers, make_video_corpus
from recarena.simulators.users import (
    FixedInterests,
    InterestEvolution,
    LogisticSignal,
    NoveltySeeking,
    ResponseSignals,
    Satiation,
    SatisfactionLeave,
    TimeBudget,
    UniformInterests,
    UserModel,
)
from recarena.simulators.world import SlateWorld


def _catalog(**kw):
    base = dict(features=np.eye(3), topic=np.arange(3), quality=np.zeros(3), length=np.ones(3),
                creator_id=np.arange(3))
    base.update(kw)
    return Catalog(**base)


CONSTRUCTORS: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    ("SlateSpace slate_size > C", lambda: SlateSpace(3, 4), ConfigError, r"slate_size: expected an integer in \[1, 3\], received 4"),
    ("SlateSpace C=0", lambda: SlateSpace(0, 1), ConfigError, r"num_candidates: expected an integer >= 1, received 0"),
    ("SlateSpace float", lambda: SlateSpace(3.5, 1), ConfigError, r"received 3.5"),
    ("Catalog 1-D features", lambda: _catalog(features=np.ones(3)), ConfigError, r"Catalog.features: expected a non-empty 2-D array"),
    ("Catalog short topic", lambda: _catalog(topic=np.arange(2)), ConfigError, r"Catalog.topic: expected an array of shape \(3,\)"),
    ("Catalog float topic", lambda: _catalog(topic=np.array([0.5, 1, 2])), ConfigError, r"Catalog.topic: expected an integer array"),
    ("Catalog zero length", lambda: _catalog(length=np.zeros(3)), ConfigError, r"Catalog.length: expected finite lengths > 0"),
    ("Catalog nan feature", lambda: _catalog(features=np.full((3, 3), np.nan)), ConfigError, r"Catalog.features: expected finite values"),
    ("Catalog titles", lambda: _catalog(titles=("a",)), ConfigError, r"Catalog.titles: expected 3 titles"),
    ("Catalog num_topics", lambda: _catalog(num_topics=2), ConfigError, r"num_topics: expected an int > the largest topic id 2"),
    ("Proportional mass", lambda: ProportionalChoice(no_click_mass=-2.0), ConfigError, r"no_click_mass: expected a value > min_normalizer"),
    ("Proportional nan", lambda: ProportionalChoice(no_click_mass=float("nan")), ConfigError, r"no_click_mass: expected a finite number"),
    ("MNL temperature 0", lambda: MultinomialLogitChoice(temperature=0.0), ConfigError, r"temperature: expected a finite number in \(0.0, inf\), received 0.0"),
    ("MNL temperature str", lambda: MultinomialLogitChoice(temperature="hot"), ConfigError, r"received 'hot' \(str\)"),
    ("Cascade continuation", lambda: CascadeChoice(continuation=1.5), ConfigError, r"continuation: expected a finite number in \[0.0, 1.0\], received 1.5"),
    ("Link kind", lambda: AttractionLink(kind="tanh"), ConfigError, r"kind: expected one of 'identity', 'sigmoid', 'linear', received 'tanh'"),
    ("PBM examination > 1", lambda: PositionBasedChoice(examination=(1.0, 1.2)), ConfigError, r"examination: expected finite values in \[0.0, 1.0\]"),
    ("PBM empty", lambda: PositionBasedChoice(examination=()), ConfigError, r"examination: expected at least one"),
    ("DCM continuation", lambda: DependentClickChoice(continuation=(-0.1,)), ConfigError, r"continuation: expected finite values"),
    ("Sampler topics", lambda: TopicQualitySampler(num_topics=1), ConfigError, r"num_topics: expected an integer >= 2, received 1"),
    ("Sampler length", lambda: TopicQualitySampler(length=0.0), ConfigError, r"length: expected a finite number in \(0.0, inf\)"),
    ("Uniform sampler bounds", lambda: UniformFeatureSampler(min_feature=1.0, max_feature=0.0), ConfigError, r"max_feature: expected a value > min_feature"),
    ("Resampled C", lambda: ResampledCandidates(num_candidates=0), ConfigError, r"num_candidates: expected an integer >= 1, received 0"),
    ("Resampled sampler", lambda: ResampledCandidates(sampler="recsim"), ConfigError, r"sampler: expected a TopicQualitySampler"),
    ("Corpus C > M", lambda: CorpusCandidates(_catalog(), num_candidates=4), ConfigError, r"num_candidates: expected an integer in \[1, 3\], received 4"),
    ("Corpus mode", lambda: CorpusCandidates(_catalog(), 2, mode="random"), ConfigError, r"mode: expected one of 'uniform', 'all'"),
    ("Corpus all C", lambda: CorpusCandidates(_catalog(), 2, mode="all"), ConfigError, r"num_candidates: expected an integer in \[3, 3\]"),
    ("UniformInterests", lambda: UniformInterests(low=0.5, high=0.1), ConfigError, r"high: expected a value > low"),
    ("FixedInterests range", lambda: FixedInterests((2.0,)), ConfigError, r"values: expected finite values in \[-1.0, 1.0\]"),
    ("InterestEvolution dir", lambda: InterestEvolution(direction="sideways"), ConfigError, r"direction: expected one of 'stochastic', 'toward'"),
    ("Satiation recovery 1", lambda: Satiation(recovery=1.0), ConfigError, r"recovery: expected a finite number in \[0.0, 1.0\), received 1.0"),
    ("Novelty alpha", lambda: NoveltySeeking(static_alpha=0), ConfigError, r"static_alpha: expected a finite number in \(0.0, inf\)"),
    ("TimeBudget initial", lambda: TimeBudget(initial=-5), ConfigError, r"initial: expected a finite number in \(0.0, inf\), received -5"),
    ("Satisfaction threshold", lambda: SatisfactionLeave(initial=0.0, threshold=0.5), ConfigError, r"threshold: expected a value below initial"),
    ("Signals watch", lambda: ResponseSignals(watch="half"), ConfigError, r"watch: expected one of 'full', 'fraction', received 'half'"),
    ("Signals like type", lambda: ResponseSignals(like=0.3), ConfigError, r"like: expected a LogisticSignal or None, received 0.3"),
    ("LogisticSignal bias", lambda: LogisticSignal(bias=float("inf")), ConfigError, r"bias: expected a finite number"),
    ("UserModel choice", lambda: UserModel(choice="mnl"), ConfigError, r"UserModel.choice: expected a ChoiceModel \(recarena.simulators.protocols\); it lacks sample, received 'mnl'"),
    ("SlateEnvConfig candidates", lambda: SlateEnvConfig(candidates=[1, 2]), ConfigError, r"SlateEnvConfig.candidates: expected a CandidateSource .*; it lacks feature_bounds, .*num_candidates"),
    ("UserModel budget", lambda: UserModel(budget=200), ConfigError, r"UserModel.budget: expected TimeBudget or None, received 200"),
    ("UserModel history", lambda: UserModel(history_length=-1), ConfigError, r"history_length: expected an integer in \[0, 10000\]"),
    ("UserModel novelty+H0", lambda: UserModel(novelty=NoveltySeeking(), history_length=0), ConfigError, r"history_length >= 1 when novelty"),
    ("World user_model", lambda: SlateWorld("users", ResampledCandidates(), 2), ConfigError, r"user_model: expected a UserModel"),
    ("Config slate_size", lambda: SlateEnvConfig(slate_size=50), ConfigError, r"slate_size: expected an integer in \[1, 20\], received 50"),
    ("Config reward key", lambda: SlateEnvConfig(reward_weights={"views": 1.0}), ConfigError, r"reward_weights\['views'\]: expected one of click, watch_time"),
    ("Config reward empty", lambda: SlateEnvConfig(reward_weights={}), ConfigError, r"reward_weights: expected a non-empty mapping"),
    ("Config observe part", lambda: SlateEnvConfig(observe=("mind",)), ConfigError, r"observe: expected parts from interests, candidates"),
    ("Config horizon", lambda: SlateEnvConfig(horizon=0), ConfigError, r"horizon: expected an integer >= 1, received 0"),
    ("Config endless", lambda: SlateEnvConfig(user_model=UserModel(budget=None), horizon=None), ConfigError, r"horizon: expected a horizon \(int\)"),
    ("Config unknown override", lambda: SlateEnv(slate_sise=3), ConfigError, r"SlateEnvConfig: expected a field among user_model, .*received 'slate_sise'"),
    ("Env render mode", lambda: SlateEnv(render_mode="human"), ConfigError, r"render_mode: expected None or 'ansi', received 'human'"),
    ("Env config type", lambda: SlateEnv(config={"slate_size": 2}), ConfigError, r"config: expected a SlateEnvConfig or None"),
    ("gym.make override", lambda: gym.make("recarena/InterestEvolution-v0", slate_size=11), ConfigError, r"slate_size: expected an integer in \[1, 10\], received 11"),
    ("Cascade attraction len", lambda: CascadeEnv(num_items=4, attraction=[0.5, 0.5]), ConfigError, r"attraction: expected a length 4 sequence"),
    ("Cascade attraction >1", lambda: CascadeEnv(num_items=2, slate_size=1, attraction=[0.5, 1.5]), ConfigError, r"attraction: expected finite values in \[0.0, 1.0\]"),
    ("Cascade shuffle", lambda: CascadeEnv(shuffle="yes"), ConfigError, r"shuffle: expected a bool, received 'yes'"),
    ("recarena.make unknown", lambda: recarena.make("recarena/Nope-v0"), UnknownEnvError, r"unknown environment id 'recarena/Nope-v0'; registered ids"),
    ("recarena.make type", lambda: recarena.make(3), ConfigError, r"env_id: expected a string"),
    ("Enumerated too many", lambda: EnumeratedSlate(gym.make("recarena/Slate-v0"), max_actions=100), ConfigError, r"expected at most max_actions=100 slates"),
    ("Wrapper on non-slate env", lambda: ScoreSlate(gym.make("CartPole-v1")), ConfigError, r"action_space: expected a SlateSpace"),
    ("RandomPolicy K > C", lambda: RandomPolicy(3, 5), ConfigError, r"slate_size: expected an integer in \[1, 3\], received 5"),
    ("GreedyOracle K", lambda: GreedyOracle(0), ConfigError, r"slate_size: expected an integer >= 1, received 0"),
    ("QualityAwareOracle budget", lambda: QualityAwareOracle(ProportionalChoice(), None, 2, 10), ConfigError, r"budget: expected a TimeBudget"),
    ("QualityAwareOracle combos", lambda: QualityAwareOracle(ProportionalChoice(), TimeBudget(), 5, 100, search="enumerate"), ConfigError, r"expected at most 50,000 slates"),
    ("evaluate episodes", lambda: evaluate(RandomPolicy(10, 2), "recarena/InterestEvolution-v0", episodes=0), ConfigError, r"episodes: expected an integer >= 1, received 0"),
    ("evaluate policy", lambda: evaluate("greedy", "recarena/InterestEvolution-v0"), ConfigError, r"policy: expected a Policy"),
    ("oracle without info", lambda: GreedyOracle(2).recommend({}, None), ConfigError, r"oracle policies need privileged truth"),
    # RecSim's long-term satisfaction and interest exploration
    ("ChocKale discount 1", lambda: ChocKaleUsers(memory_discount=1.0), ConfigError, r"memory_discount: expected a finite number in \[0.0, 1.0\), received 1.0"),
    ("ChocKale sensitivity<0", lambda: ChocKaleUsers(sensitivity=-1), ConfigError, r"sensitivity: expected a finite number in \[0.0, inf\), received -1"),
    ("ChocKale stddev nan", lambda: ChocKaleUsers(choc_stddev=float("nan")), ConfigError, r"choc_stddev: expected a finite number"),
    ("ChocKale budget 0", lambda: ChocKaleUsers(time_budget=0), ConfigError, r"time_budget: expected an integer >= 1, received 0"),
    ("LTS env slate > C", lambda: gym.make("recarena/LongTermSatisfaction-v0", slate_size=11), ConfigError, r"slate_size: expected an integer in \[1, 10\], received 11"),
    ("LTS env unknown kwarg", lambda: gym.make("recarena/LongTermSatisfaction-v0", sensitivty=1), ConfigError, r"LongTermSatisfactionConfig: expected a field among horizon, users, .*received 'sensitivty'"),
    ("LTS config users", lambda: LongTermSatisfactionConfig(users="choc"), ConfigError, r"users: expected a ChocKaleUsers, received 'choc'"),
    ("IE type probs sum", lambda: ExplorationUsers(type_probs=(0.5, 0.6)), ConfigError, r"type_probs: expected a non-empty sequence of probabilities summing to 1"),
    ("IE affinity shape", lambda: ExplorationUsers(affinity_mean=((0.1, 0.7),)), ConfigError, r"affinity_mean: expected finite numbers of shape \(2, 2\)"),
    ("IE affinity stddev<0", lambda: ExplorationUsers(affinity_stddev=((0.1, -0.1), (0.1, 0.1))), ConfigError, r"affinity_stddev: expected finite numbers of shape \(2, 2\), all >= 0.0"),
    ("IE topic probs text", lambda: TopicDocuments(topic_probs="ab"), ConfigError, r"topic_probs: expected a sequence of probabilities"),
    ("IE quality mean len", lambda: TopicDocuments(quality_mean=(0.8,)), ConfigError, r"quality_mean: expected finite numbers of shape \(2,\)"),
    ("IE topics mismatch", lambda: gym.make("recarena/InterestExploration-v0", topic_probs=(0.2, 0.3, 0.5), quality_mean=(1, 1, 1), quality_stddev=(1, 1, 1)), ConfigError, r"affinity_mean: expected one column per document topic \(3\)"),
    ("IE no horizon", lambda: InterestExplorationConfig(horizon=None), ConfigError, r"horizon: expected an int >= 1 \(the users never leave"),
    ("FeatureSort key", lambda: FeatureSortPolicy("", 2), ConfigError, r"key: expected an observation key"),
    ("FeatureSort missing key", lambda: FeatureSortPolicy("candidate_clickbait", 2).recommend({"x": np.zeros((1, 3))}), ConfigError, r"expected an observation with a 'candidate_clickbait' entry of shape \(N, C\), received \['x'\]"),
    ("ShortVideo reward key", lambda: gym.make("recarena/ShortVideo-v0", reward_weights={"watchtime": 1.0}), ConfigError, r"reward_weights\['watchtime'\]: expected one of watch_time, like, share"),
    ("ShortVideo reward nan", lambda: ShortVideoConfig(reward_weights={"like": float("nan")}), ConfigError, r"reward_weights\['like'\]: expected a finite number"),
    ("ShortVideo cost key", lambda: ShortVideoConfig(cost_signals=("watch_time",)), ConfigError, r"cost_signals: expected names from like, share, comment, follow, gift, skip, received 'watch_time'"),
    ("ShortVideo corpus", lambda: ShortVideoConfig(corpus=np.zeros(3)), ConfigError, r"corpus: expected a VideoCorpus"),
    ("ShortVideo C > corpus", lambda: ShortVideoConfig(corpus=make_video_corpus(size=10), num_candidates=20), ConfigError, r"num_candidates: expected an integer in \[1, 10\], received 20"),
    ("ShortVideo users field", lambda: gym.make("recarena/ShortVideo-v0", skip_ratio=2.0), ConfigError, r"skip_ratio: expected a finite number in \[0.0, 1.0\], received 2.0"),
    ("ShortVideo budget", lambda: ShortVideoUsers(budget_mean=0), ConfigError, r"budget_mean: expected a finite number in \(0.0, inf\)"),
    ("video corpus conflict", lambda: make_video_corpus(conflict=1.5), ConfigError, r"conflict: expected a finite number in \[0.0, 1.0\], received 1.5"),
    ("FeatureTarget target", lambda: FeatureTargetPolicy("candidate_clickbait", float("inf"), 2), ConfigError, r"target: expected a finite number"),
]


@pytest.mark.parametrize(("fn", "error", "match"), [pytest.param(f, e, m, id=i) for i, f, e, m in CONSTRUCTORS])
def test_constructor_rejects(fn: Callable[[], object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match) as info:
        fn()
    assert isinstance(info.value, RecArenaError)


BAD_SLATES = [
    ("duplicate", [3, 3], r"the slate repeats a candidate: \[3, 3\]"),
    ("out of range", [0, 10], r"index out of range in \[0, 10\] \(list\)"),
    ("negative", [-1, 2], r"index out of range"),
    ("too long", [0, 1, 2], r"expected a slate of 2 distinct integer candidate indices in \[0, 10\) \(shape \(2,\)\), received \[0, 1, 2\] \(list\)"),
    ("scalar", 4, r"\(shape \(2,\)\), received 4 \(int\)"),
    ("2-D", [[0, 1]], r"received \[\[0, 1\]\] \(list\)"),
    ("non-integral floats", [0.5, 1.0], r"received \[0.5, 1.0\] \(list\)"),
    ("strings", ["a", "b"], r"received \['a', 'b'\] \(list\)"),
    ("nan", [np.nan, 1.0], r"received \[nan, 1.0\] \(list\)"),
    ("array with dtype", np.array([0.5, 1.5]), r"received array\(shape=\(2,\), dtype=float64\)"),
]


@pytest.mark.parametrize(("action", "match"), [pytest.param(a, m, id=i) for i, a, m in BAD_SLATES])
def test_step_rejects_bad_slates(action: object, match: str) -> None:
    env = gym.make("recarena/InterestEvolution-v0")
    env.reset(seed=0)
    with pytest.raises(InvalidSlate, match=match):
        env.step(action)
    # nothing was simulated: the next valid step is exactly the first step of a fresh env
    fresh = gym.make("recarena/InterestEvolution-v0")
    fresh.reset(seed=0)
    _assert_same_step(env.step(np.array([0, 1])), fresh.step(np.array([0, 1])))


def _assert_same_step(a: tuple, b: tuple) -> None:
    (obs_a, r_a, te_a, tr_a, info_a), (obs_b, r_b, te_b, tr_b, info_b) = a, b
    for key in obs_a:
        np.testing.assert_array_equal(obs_a[key], obs_b[key])
    assert (r_a, te_a, tr_a) == (r_b, te_b, tr_b)
    assert info_a["user_id"] == info_b["user_id"]
    np.testing.assert_array_equal(info_a["response"].clicked, info_b["response"].clicked)


def test_integral_floats_are_accepted() -> None:
    """A float slate with integral values is the same slate as its integer twin."""
    as_float, as_int = gym.make("recarena/InterestEvolution-v0"), gym.make("recarena/InterestEvolution-v0")
    as_float.reset(seed=0)
    as_int.reset(seed=0)
    for slate in ([0, 1], [7, 3], [9, 2]):
        _assert_same_step(as_float.step(np.array(slate, dtype=np.float64)),
                          as_int.step(np.array(slate)))


def test_step_before_reset_and_after_end() -> None:
    env = CascadeEnv(horizon=1)
    with pytest.raises(ResetNeeded, match="call reset"):
        env.step(np.arange(4))
    env.reset(seed=0)
    _, _, term, trunc, _ = env.step(np.arange(4))
    assert trunc and not term
    with pytest.raises(ResetNeeded, match="after the episode ended"):
        env.step(np.arange(4))


@pytest.mark.parametrize(("wrapper", "action", "match"), [
    (DeduplicateSlate, np.array([0, 1, 2]), r"expected 2 integer candidate indices"),
    (ScoreSlate, np.zeros(3), r"expected 10 finite candidate scores"),
    (ScoreSlate, np.full(10, np.nan), r"expected 10 finite candidate scores"),
    (EnumeratedSlate, 90, r"expected an action index in \[0, 90\), received 90"),
    (EnumeratedSlate, 1.5, r"expected an action index"),
])
def test_wrapper_step_rejects(wrapper, action, match: str) -> None:
    env = wrapper(gym.make("recarena/InterestEvolution-v0"))
    env.reset(seed=0)
    with pytest.raises(InvalidSlate, match=match):
        env.step(action)


# ------------------------------------------------------------------ policies (issue 4)
def _policy_cases() -> list:
    from recarena.agents import (
        UCB1,
        BernoulliTS,
        CascadeKLUCB,
        CascadeUCB1,
        DiagLinUCB,
        EpsilonGreedy,
        ImplicitALS,
        InSlateTS,
        ItemKNN,
        LinTS,
        LinUCB,
        MostPopular,
        TopKUCB,
    )

    return [
        ("MostPopular num_items", lambda: MostPopular(0, 2), r"MostPopular.num_items: expected an integer >= 1, received 0"),
        ("MostPopular decay", lambda: MostPopular(10, 2, decay=0.0), r"MostPopular.decay: expected a finite number in \(0.0, 1.0\], received 0.0"),
        ("MostPopular signal", lambda: MostPopular(10, 2, signal="views"), r"MostPopular.signal: expected one of .*received 'views'"),
        ("ItemKNN neighbours", lambda: ItemKNN(10, 2, neighbours=0), r"ItemKNN.neighbours: expected an integer >= 1, received 0"),
        ("ItemKNN K > A", lambda: ItemKNN(3, 4), r"ItemKNN.slate_size: expected an integer in \[1, 3\], received 4"),
        ("ALS factors", lambda: ImplicitALS(10, 2, factors=0), r"ImplicitALS.factors: expected an integer in \[1, 512\], received 0"),
        ("ALS regularization", lambda: ImplicitALS(10, 2, regularization=0.0), r"ImplicitALS.regularization: expected a finite number in \(0.0, inf\)"),
        ("ALS refit", lambda: ImplicitALS(10, 2, refit_every=1.5), r"ImplicitALS.refit_every: expected an integer"),
        ("EpsilonGreedy eps<0", lambda: EpsilonGreedy(10, 2, epsilon=-0.1), r"EpsilonGreedy.epsilon: expected a finite number in \[0.0, inf\), received -0.1"),
        ("EpsilonGreedy constant>1", lambda: EpsilonGreedy(10, 2, epsilon=2.0, schedule="constant"), r"EpsilonGreedy.epsilon: expected a finite number in \[0.0, 1.0\], received 2.0"),
        ("EpsilonGreedy schedule", lambda: EpsilonGreedy(10, 2, schedule="linear"), r"EpsilonGreedy.schedule: expected one of .*received 'linear'"),
        ("UCB1 exploration", lambda: UCB1(10, 2, exploration=float("nan")), r"UCB1.exploration: expected a finite number"),
        ("UCB1 scope", lambda: UCB1(10, 2, scope="all"), r"UCB1.scope: expected one of 'user', 'shared', received 'all'"),
        ("UCB1 feedback", lambda: UCB1(10, 2, feedback="clicks"), r"UCB1.feedback: expected one of 'slate', 'examined', received 'clicks'"),
        ("UCB1 seed", lambda: UCB1(10, 2, seed=-1), r"UCB1.seed: expected an integer >= 0, received -1"),
        ("TS prior", lambda: BernoulliTS(10, 2, prior_alpha=0.0), r"BernoulliTS.prior_alpha: expected a finite number in \(0.0, inf\), received 0.0"),
        ("TS real signal", lambda: BernoulliTS(10, 2, signal="watch_time"), r"BernoulliTS.signal: expected one of 'clicked', .*received 'watch_time'"),
        ("InSlateTS K", lambda: InSlateTS(10, 0), r"InSlateTS.slate_size: expected an integer in \[1, 10\], received 0"),
        ("TopKUCB weights len", lambda: TopKUCB(10, 2, position_weights=(1.0,)), r"TopKUCB.position_weights: expected 2 examination probabilities in \(0, 1\]"),
        ("TopKUCB weights up", lambda: TopKUCB(10, 2, position_weights=(0.5, 1.0)), r"TopKUCB.position_weights: expected non-increasing weights"),
        ("CascadeUCB1 exploration", lambda: CascadeUCB1(10, 2, exploration=-1), r"CascadeUCB1.exploration: expected a finite number in \[0.0, inf\), received -1"),
        ("CascadeKLUCB iterations", lambda: CascadeKLUCB(10, 2, iterations=0), r"CascadeKLUCB.iterations: expected an integer in \[1, 60\], received 0"),
        ("LinUCB dim", lambda: LinUCB(0, 2), r"LinUCB.dim: expected an integer >= 1, received 0"),
        ("LinUCB model", lambda: LinUCB(4, 2, model="hybrid"), r"LinUCB.model: expected one of 'shared', 'disjoint', received 'hybrid'"),
        ("LinUCB disjoint no catalog", lambda: LinUCB(4, 2, model="disjoint", scope="shared"), r"LinUCB.num_items: expected the catalog size"),
        ("LinUCB disjoint per user", lambda: LinUCB(4, 2, model="disjoint", num_items=5), r"LinUCB.scope: expected 'shared' for the disjoint model"),
        ("LinUCB ridge", lambda: LinUCB(4, 2, ridge=0), r"LinUCB.ridge: expected a finite number in \(0.0, inf\), received 0"),
        ("LinUCB covariance", lambda: LinUCB(4, 2, covariance="low-rank"), r"LinUCB.covariance: expected one of 'full', 'diag'"),
        ("DiagLinUCB key", lambda: DiagLinUCB(4, 2, num_items=5, context_key=""), r"DiagLinUCB.context_key: expected an observation key"),
        ("LinTS scale", lambda: LinTS(4, 2, scale=-1.0), r"LinTS.scale: expected a finite number in \[0.0, inf\), received -1.0"),
        ("LinTS in_slate", lambda: LinTS(4, 2, in_slate="yes"), r"LinTS.in_slate: expected True or False, received 'yes'"),
        *_reranker_cases(),
    ]


def _reranker_cases() -> list:
    from recarena.agents import MMR, PMMF, Calibrated, FairCo, make_policy

    oracle = GreedyOracle(2)
    return [
        ("FairCo base without scores", lambda: FairCo(RandomPolicy(5, 2), 2), r"FairCo.base: expected a policy with candidate_scores\(obs, info\) -> \(N, C\) scores .*received 'random'"),
        ("FairCo lam", lambda: FairCo(oracle, 2, lam=-1.0), r"FairCo.lam: expected a finite number in \[0.0, inf\), received -1.0"),
        ("FairCo merit_floor", lambda: FairCo(oracle, 2, merit_floor=0), r"FairCo.merit_floor: expected a finite number in \(0.0, inf\), received 0"),
        ("FairCo group_key", lambda: FairCo(oracle, 2, group_key=""), r"FairCo.group_key: expected an info or observation key"),
        ("PMMF gamma", lambda: PMMF(oracle, 2, gamma=0.0), r"PMMF.gamma: expected a finite number in \(0.0, 1.0\], received 0.0"),
        ("PMMF learning_rate", lambda: PMMF(oracle, 2, learning_rate=0.0), r"PMMF.learning_rate: expected a finite number in \(0.0, inf\)"),
        ("MMR lam", lambda: MMR(oracle, 2, lam=1.5), r"MMR.lam: expected a finite number in \[0.0, 1.0\], received 1.5"),
        ("MMR base by name", lambda: MMR("linucb", 2), r"MMR.base: expected a policy object .*received 'linucb'"),
        ("MMR base_args", lambda: MMR(oracle, 2, base_args={"alpha": 1.0}), r"MMR.base_args: expected None when base is a policy object"),
        ("Calibrated alpha", lambda: Calibrated(oracle, 2, alpha=1.0), r"Calibrated.alpha: expected a finite number in \[0.0, 1.0\), received 1.0"),
        ("Calibrated signal", lambda: Calibrated(oracle, 2, signal="views"), r"Calibrated.signal: expected one of .*received 'views'"),
        ("Calibrated normalize", lambda: Calibrated(oracle, 2, normalize=1), r"Calibrated.normalize: expected True or False, received 1"),
        ("reranker without base", lambda: make_policy("pmmf", "recarena/InterestEvolution-v0"), r"policy 'pmmf' argument base: expected the name of a registered policy with candidate scores: .*greedy_oracle"),
    ]


@pytest.mark.parametrize(("label", "call", "match"), _policy_cases(), ids=lambda x: x if isinstance(x, str) else "")
def test_policy_constructor_rejects(label: str, call: Callable, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        call()


def _recommend_cases() -> list:
    from recarena.agents import UCB1, ItemKNN, LinUCB

    ids = np.broadcast_to(np.arange(5), (2, 5))
    good = {"user_id": np.arange(2), "candidate_ids": ids}
    feats = {"candidate_features": np.zeros((2, 5, 3))}
    return [
        ("no info", lambda: UCB1(5, 2).recommend({"x": np.zeros((2, 1))}, None), r"UCB1.recommend info: expected the env's info with 'candidate_ids'"),
        ("id out of catalog", lambda: UCB1(4, 2).recommend({}, good), r"candidate_ids'\]: expected catalog ids in \[0, 4\) \(num_items=4\), received 'ids in \[0, 4\]'"),
        ("too few candidates", lambda: UCB1(10, 6).recommend({}, good), r"UCB1.recommend candidates: expected at least slate_size=6 candidates, received 5"),
        ("user ids per row", lambda: ItemKNN(5, 2).recommend({}, good | {"user_id": np.arange(3)}), r"info\['user_id'\]: expected one user id per row \(2 rows\)"),
        ("missing features", lambda: LinUCB(3, 2).recommend({}, good), r"LinUCB.recommend obs: expected an observation with a 'candidate_features' entry"),
        ("feature dim", lambda: LinUCB(4, 2).recommend(feats, good), r"expected 2 rows of 4-dimensional features \(dim=4\), received \(2, 5, 3\)"),
        ("update before recommend", lambda: LinUCB(3, 2).update(feats, np.zeros((2, 2), int), None, None), r"LinUCB.update: expected update\(\) after recommend\(\)"),
        ("update slate shape", lambda: UCB1(5, 2).update({}, np.zeros((2, 3), int), None, None, good), r"UCB1.update slates: expected shape \(2, 2\), received \(2, 3\)"),
        *_rerank_recommend_cases(good),
    ]


def _recommended(policy: object, obs: dict, info: dict) -> object:
    policy.recommend(obs, info)
    return policy


def _rerank_recommend_cases(good: dict) -> list:
    from recarena.agents import MMR, Calibrated, FairCo

    info = good | {"oracle": {"scores": np.zeros((2, 5))}}
    feats = {"candidate_features": np.ones((2, 5, 3))}
    bad_groups = info | {"candidate_creator_ids": np.full((2, 5), -1)}
    return [
        ("reranker no groups", lambda: FairCo(GreedyOracle(2), 2).recommend(feats, info), r"FairCo.group_key: expected an \(N, C\) entry of the info or observation .*received 'candidate_creator_ids'"),
        ("reranker negative group", lambda: FairCo(GreedyOracle(2), 2).recommend(feats, bad_groups), r"FairCo groups \('candidate_creator_ids'\): expected group ids >= 0, received -1"),
        ("reranker float groups", lambda: FairCo(GreedyOracle(2), 2).recommend(feats, info | {"candidate_creator_ids": np.full((2, 5), 0.5)}), r"FairCo groups \('candidate_creator_ids'\): expected integer group ids"),
        ("MMR feature shape", lambda: MMR(GreedyOracle(2), 2).recommend({"candidate_features": np.ones((2, 4, 3))}, info), r"MMR.recommend obs\['candidate_features'\]: expected shape \(2, 5, d\)"),
        ("Calibrated negative topics", lambda: Calibrated(GreedyOracle(2), 2).recommend({"candidate_features": -feats["candidate_features"]}, info), r"Calibrated.recommend obs\['candidate_features'\]: expected non-negative topic weights"),
        ("reranker base scores shape", lambda: MMR(GreedyOracle(2), 2).recommend(feats, info | {"oracle": {"scores": np.zeros((2, 1))}}), r"MMR base scores: expected shape \(2, C\) with C >= slate_size=2"),
        ("Calibrated update response", lambda: _recommended(Calibrated(GreedyOracle(2), 2), feats, info).update(feats, np.zeros((2, 2), int), None, None, info), r"Calibrated.update response: expected the env's Response \(with 'clicked', shape \(2, 2\)\), received None"),
        ("reranker update first", lambda: MMR(GreedyOracle(2), 2).update(feats, np.zeros((2, 2), int), None, None), r"MMR.update: expected update\(\) after recommend\(\)"),
    ]


@pytest.mark.parametrize(("label", "call", "match"), _recommend_cases(), ids=lambda x: x if isinstance(x, str) else "")
def test_policy_recommend_rejects(label: str, call: Callable, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        call()


# ----------------------------------------------------------------- event log, analysis, runner
def _analysis_cases() -> list:
    import pandas as pd

    from recarena.analysis import diversity, engagement, fairness, long_term
    from recarena.errors import DataError
    from recarena.eventlog import TableWriter, read_table
    from recarena.scenarios import run_scenario, scenario_from_dict

    ev = pd.DataFrame({"step": [0, 0], "user_id": [1, 1], "position": [0, 1],
                       "item_id": [3, 4], "clicked": [True, False], "reward": [1.0, 0.0],
                       "watch_time": [0.0, 0.0], "topic": [-1, -1], "creator_id": [-1, -1]})
    spec = scenario_from_dict({"env": {"id": "recarena/Cascade-v0"},
                               "policies": [{"name": "random"}]})
    return [
        ("read_table missing", lambda: read_table("/nonexistent/log"), DataError, "does not exist"),
        ("read_table table", lambda: read_table(".", "clicks"), ConfigError, "impressions, snapshots"),
        ("read_table empty", lambda: read_table("tests/analysis"), DataError,
         "no 'impressions' files"),
        ("writer table", lambda: TableWriter("/tmp", "nope"), ConfigError, "one of impressions"),
        ("per_step window", lambda: engagement.per_step(ev, window=0), ConfigError,
         "positive integer number of steps"),
        ("sessions columns", lambda: engagement.sessions(ev), DataError,
         "needs the column(s) session"),
        ("lifetimes time", lambda: long_term.user_lifetimes(ev, "hour"), ConfigError, "'step' or 'day'"),
        ("retention cohort", lambda: long_term.retention_curve(ev, cohort="some"), ConfigError,
         "'initial' or 'all'"),
        ("coverage catalog", lambda: diversity.catalog_coverage(ev, 0), ConfigError,
         "the catalog size"),
        ("gini entities", lambda: diversity.exposure_gini(ev, "item_id", 1), ConfigError,
         "at least the 2 distinct"),
        ("discount", lambda: diversity.position_weights(ev["position"], "zipf"), ConfigError,
         "'log', 'none' or 'rbp'"),
        ("creators absent", lambda: diversity.exposure_gini(ev, "creator_id"), DataError,
         "has no creator_id"),
        ("fairness catalog", lambda: fairness.item_exposure_fairness(ev, None), ConfigError,
         "fixed catalog"),
        ("relevance kind", lambda: fairness.expected_exposure(ev, relevance="stars"), ConfigError,
         "'oracle'"),
        ("oracle columns", lambda: fairness.expected_exposure(ev), DataError,
         "privileged truth"),
        ("gamma", lambda: fairness.expected_exposure(ev, gamma=1.0), ConfigError, "patience"),
        ("puf effectiveness", lambda: fairness.puf(ev, effectiveness="mrr"), ConfigError,
         "'ndcg' or 'ctr'"),
        ("dpfr alpha", lambda: fairness.dpfr(ev, ev, 10, alpha=1.5), ConfigError, "in (0, 1)"),
        ("run workers", lambda: run_scenario(spec, out="/tmp/x", workers=0), ConfigError,
         "workers: expected an integer"),
        ("run backend", lambda: run_scenario(spec, out="/tmp/x", backend="slurm"), ConfigError,
         "'process' or 'ray'"),
        ("run spec", lambda: run_scenario({"env": {}}, out="/tmp/x"), ConfigError, "a Scenario"),
        ("resume", lambda: run_scenario(resume="/nonexistent"), ConfigError, "manifest.json"),
    ]


@pytest.mark.parametrize(("label", "call", "error", "match"), _analysis_cases(),
                         ids=[c[0] for c in _analysis_cases()])
def test_log_analysis_and_runner_reject(label: str, call: Callable, error: type, match: str) -> None:
    with pytest.raises(error) as err:
        call()
    assert match in str(err.value), str(err.value)


# ----------------------------------------------------------------- creators' PettingZoo env
def _creator_agents_cases() -> list:
    def step(actions: Callable) -> Callable:
        def call() -> None:
            from recarena.agents import creator_agents

            env = creator_agents.parallel_env(users=2, num_creators=4, round_length=1,
                                              num_candidates=10, recommender="random")
            env.reset(seed=0)
            env.step(actions(env))
        return call

    def build(**kw: object) -> Callable:
        def call() -> None:
            from recarena.agents import creator_agents

            creator_agents.parallel_env(users=2, num_creators=4, num_candidates=10, **kw)
        return call

    return [
        ("agent unknown", step(lambda e: {"creator_99x": [0, 0]}), "agent: expected an agent among possible_agents"),
        ("agent not entered", step(lambda e: {"creator_5": [0, 0]}), "creator_5 has not entered yet"),
        ("action out of space", step(lambda e: {a: np.array([20, 0]) for a in e.agents}), "expected a MultiDiscrete([20, 4]) action"),
        ("action missing", step(lambda e: {"creator_0": np.array([0, 0])}), "expected an action for every live creator"),
        ("recommender name", build(recommender="nobody"), "expected a registered policy"),
        ("recommender object", build(recommender=42), "a policy with recommend(obs, info) and reset()"),
        ("creator reward", build(reward="likes"), "CreatorAgentsParallelEnv.reward: expected one of"),
    ]


@pytest.mark.parametrize(("label", "call", "match"), _creator_agents_cases(),
                         ids=[c[0] for c in _creator_agents_cases()])
def test_creator_agents_reject(label: str, call: Callable, match: str) -> None:
    pytest.importorskip("pettingzoo")
    with pytest.raises(ConfigError) as err:
        call()
    assert match in str(err.value), str(err.value)
