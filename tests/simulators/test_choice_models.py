"""Each choice model's sampled outcomes against its analytic probabilities (chi-squared).

For each model: at a fixed seed, draw many slates with the same scores, count every click
pattern (for single-choice models: the chosen position or no click), and compare with the
analytic pattern probabilities at significance 0.001. A negative control perturbs one
parameter by 10% and must be rejected by the same test on the same samples.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from recarena.simulators.choice import (
    AttractionLink,
    CascadeChoice,
    DependentClickChoice,
    MultinomialLogitChoice,
    PositionBasedChoice,
    ProportionalChoice,
    all_patterns,
)

ALPHA = 0.001
SAMPLES = 60_000
SCORES = np.array([0.6, -0.3, 0.1, 0.8])  # one slate of K = 4


def _pattern_counts(clicked: np.ndarray) -> np.ndarray:
    k = clicked.shape[1]
    codes = (clicked.astype(np.int64) << np.arange(k)).sum(axis=1)
    return np.bincount(codes, minlength=2**k)


def _chi2_pvalue(counts: np.ndarray, probs: np.ndarray) -> float:
    expected = probs * counts.sum()
    keep = expected > 5.0  # cells the model says are (near) impossible are checked separately
    assert counts[~keep].sum() <= max(5, 0.001 * counts.sum())
    obs, exp = counts[keep].astype(float), expected[keep]
    exp *= obs.sum() / exp.sum()
    return float(stats.chisquare(obs, exp).pvalue)


def _perturbed(model, which: str):
    """The same model with one parameter off by 10%."""
    if which == "no_click_mass":
        return dataclasses.replace(model, no_click_mass=model.no_click_mass * 1.1)
    if which == "temperature":
        return dataclasses.replace(model, temperature=model.temperature * 1.1)
    if which == "link_temperature":
        return dataclasses.replace(model, link=dataclasses.replace(model.link, temperature=model.link.temperature * 1.1))
    if which == "examination":
        theta = list(model.examination)
        theta[1] *= 1.1
        return dataclasses.replace(model, examination=tuple(theta))
    if which == "continuation":
        lam = list(model.continuation)
        lam[0] *= 1.1
        return dataclasses.replace(model, continuation=tuple(lam))
    raise AssertionError(which)


MODELS = [
    pytest.param(ProportionalChoice(no_click_mass=1.0, min_normalizer=-1.0), "no_click_mass", id="proportional"),
    pytest.param(MultinomialLogitChoice(temperature=0.5, no_click_score=0.2), "temperature", id="mnl"),
    pytest.param(CascadeChoice(link=AttractionLink("sigmoid", temperature=0.5)), "link_temperature", id="cascade"),
    pytest.param(CascadeChoice(link=AttractionLink("sigmoid", temperature=0.5), continuation=0.8),
                 "link_temperature", id="cascade-continuation"),
    pytest.param(PositionBasedChoice(examination=(0.95, 0.6, 0.4, 0.3), link=AttractionLink("sigmoid", temperature=0.5)),
                 "examination", id="pbm"),
    pytest.param(DependentClickChoice(continuation=(0.6, 0.5, 0.4, 0.3), link=AttractionLink("sigmoid", temperature=0.5)),
                 "continuation", id="dcm"),
]


@pytest.mark.parametrize(("model", "perturb"), MODELS)
def test_samples_match_analytic_probabilities(model, perturb: str) -> None:
    scores = np.tile(SCORES, (SAMPLES, 1))
    outcome = model.sample(scores, np.random.default_rng(12345))
    counts = _pattern_counts(outcome.clicked)
    probs = model.pattern_probabilities(SCORES[None])[0]
    np.testing.assert_allclose(probs.sum(), 1.0, atol=1e-12)
    assert _chi2_pvalue(counts, probs) > ALPHA
    wrong = _perturbed(model, perturb).pattern_probabilities(SCORES[None])[0]
    assert _chi2_pvalue(counts, wrong) < ALPHA, "the test cannot tell a 10% parameter error"


@pytest.mark.parametrize(("model", "perturb"), MODELS)
def test_marginal_click_probabilities_agree_with_patterns(model, perturb: str) -> None:
    pats = all_patterns(len(SCORES))
    probs = model.pattern_probabilities(SCORES[None])[0]
    marginal = (probs[:, None] * pats).sum(axis=0)
    np.testing.assert_allclose(model.click_probabilities(SCORES[None])[0], marginal, atol=1e-12)


@pytest.mark.parametrize(("model", "perturb"), MODELS)
def test_examined_is_consistent_with_clicks(model, perturb: str) -> None:
    out = model.sample(np.tile(SCORES, (5000, 1)), np.random.default_rng(0))
    assert out.clicked.dtype == bool and out.examined.dtype == bool
    assert not (out.clicked & ~out.examined).any(), "a click on an unexamined position"
    if isinstance(model, (CascadeChoice, DependentClickChoice)):
        # examination is a prefix: once a position is skipped, none below it is examined
        assert not (~out.examined[:, :-1] & out.examined[:, 1:]).any()


def test_single_choice_models_click_at_most_once() -> None:
    scores = np.tile(SCORES, (10_000, 1))
    for model in (ProportionalChoice(), MultinomialLogitChoice(), CascadeChoice()):
        assert model.sample(scores, np.random.default_rng(1)).clicked.sum(axis=1).max() <= 1


def test_recsim_proportional_closed_form() -> None:
    """RecSim: P(i) = (s_i + 1) / (sum_j (s_j + 1) + 2) with no_click_mass 1, min_normalizer -1."""
    m = ProportionalChoice(no_click_mass=1.0, min_normalizer=-1.0)
    s = np.array([[0.5, -0.5]])
    np.testing.assert_allclose(m.choice_probabilities(s), [[1.5 / 4.0, 0.5 / 4.0, 2.0 / 4.0]])


def test_cascade_closed_form() -> None:
    """Kveton et al.: P(click at k) = w_k prod_{j<k} (1 - w_j); P(none) = prod (1 - w_j)."""
    m = CascadeChoice(link=AttractionLink("identity"))
    w = np.array([[0.2, 0.5, 0.1]])
    np.testing.assert_allclose(m.choice_probabilities(w),
                               [[0.2, 0.8 * 0.5, 0.8 * 0.5 * 0.1, 0.8 * 0.5 * 0.9]])


def test_mnl_without_no_click_always_clicks() -> None:
    m = MultinomialLogitChoice(no_click_score=None)
    out = m.sample(np.tile(SCORES, (2000, 1)), np.random.default_rng(0))
    assert (out.clicked.sum(axis=1) == 1).all()
