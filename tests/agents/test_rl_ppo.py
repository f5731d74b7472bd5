"""The slate distribution, the slate network and the native PPO trainer."""

from __future__ import annotations

import itertools
import math

import gymnasium as gym
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from recarena.agents.rl.distributions import PlackettLuce  # noqa: E402
from recarena.agents.rl.networks import ObservationLayout, SlateActorCritic  # noqa: E402
from recarena.agents.rl.policy import SlatePolicy, load_policy  # noqa: E402
from recarena.agents.rl.ppo import PPOConfig, PPOTrainer  # noqa: E402
from recarena.errors import ConfigError  # noqa: E402
from tests.agents.rl_toy import KaleVectorEnv, fixed_return, optimal_return  # noqa: E402

IE = "recarena/InterestEvolution-v0"


def _brute_log_prob(logits: np.ndarray, slate: tuple[int, ...]) -> float:
    """The Plackett–Luce probability written out: product of softmaxes over what is left."""
    left = list(range(logits.size))
    total = 0.0
    for i in slate:
        z = np.exp(logits[left])
        total += math.log(math.exp(logits[i]) / z.sum())
        left.remove(i)
    return total


@pytest.mark.parametrize("c,k", [(5, 1), (5, 3), (6, 6), (7, 2)])
def test_plackett_luce_log_prob_matches_enumeration(c, k):
    rng = np.random.default_rng(c * 10 + k)
    logits = rng.normal(size=c) * 2
    slates = list(itertools.permutations(range(c), k))
    dist = PlackettLuce(torch.tensor(logits).repeat(len(slates), 1), k)
    lp = dist.log_prob(torch.tensor(slates)).numpy()
    assert np.allclose(lp, [_brute_log_prob(logits, s) for s in slates], atol=1e-10)
    assert np.exp(lp).sum() == pytest.approx(1.0, abs=1e-10)
    # the chain entropy is unbiased: its expectation under p is the exact entropy
    _, chain = dist.log_prob_and_entropy(torch.tensor(slates))
    exact = float(PlackettLuce(torch.tensor(logits)[None], k).exact_entropy()[0])
    assert float((np.exp(lp) * chain.numpy()).sum()) == pytest.approx(exact, abs=1e-9)
    assert exact == pytest.approx(-(np.exp(lp) * lp).sum(), abs=1e-9)


def test_gumbel_top_k_samples_follow_plackett_luce():
    from scipy import stats

    logits = torch.tensor([[1.0, 0.2, -0.5, 0.7, -1.0]], dtype=torch.float64)
    slates = list(itertools.permutations(range(5), 2))
    p = PlackettLuce(logits.repeat(len(slates), 1), 2).log_prob(torch.tensor(slates)).exp()
    n = 20_000
    draws = PlackettLuce(logits.repeat(n, 1), 2).sample(torch.Generator().manual_seed(3))
    assert (draws[:, 0] != draws[:, 1]).all()
    code = (draws[:, 0] * 5 + draws[:, 1]).numpy()
    counts = np.bincount(code, minlength=25)[[a * 5 + b for a, b in slates]]
    chi2 = stats.chisquare(counts, p.numpy() * n)
    assert chi2.pvalue > 1e-3


def test_masked_candidates_are_never_shown():
    logits = torch.zeros(200, 6)
    mask = torch.ones(200, 6, dtype=torch.bool)
    mask[:, [1, 4]] = False
    s = PlackettLuce(logits, 4, mask).sample(torch.Generator().manual_seed(0))
    assert not np.isin(s.numpy(), [1, 4]).any()


def test_network_works_for_any_candidate_count():
    env = gym.make(IE)
    layout = ObservationLayout.from_space(env.observation_space, 10, 2)
    net = SlateActorCritic(layout, hidden=16, seed=1)
    obs, _ = env.reset(seed=0)
    batch = {k: np.asarray(v)[None] for k, v in obs.items()}
    logits, value = net(batch)
    assert logits.shape == (1, 10) and value.shape == (1,)
    # the candidate encoder is shared: permuting candidates permutes the scores
    perm = np.random.default_rng(0).permutation(10)
    shuffled = dict(batch, candidate_features=batch["candidate_features"][:, perm])
    assert torch.allclose(net(shuffled)[0], logits[:, perm], atol=1e-6)
    assert torch.allclose(net(shuffled)[1], value, atol=1e-6)
    # and the same weights score 25 candidates
    big = dict(batch, candidate_features=np.repeat(batch["candidate_features"], 3, axis=1)[:, :25])
    assert net(big)[0].shape == (1, 25)


def _greedy_return(policy: SlatePolicy, users: int = 200, seed: int = 99) -> np.ndarray:
    env = KaleVectorEnv(users)
    obs, _ = env.reset(seed=seed)
    total = np.zeros(users)
    for _ in range(env.horizon):
        obs, r, *_ = env.step(policy.recommend(obs))
        total += r
    return total


def test_ppo_finds_the_known_optimum_of_a_toy_mdp():
    """Kale early, chocolate late: the DP optimum (15.1), not the myopic choice (10.9)."""
    assert optimal_return() == pytest.approx(15.1)
    cfg = PPOConfig(num_envs=64, num_steps=20, learning_rate=3e-3, gamma=1.0, hidden=32,
                    ent_coef=0.01, seed=0)
    trainer = PPOTrainer(KaleVectorEnv(64), cfg)
    trainer.learn(64 * 20 * 36)
    ret = _greedy_return(trainer.policy())
    assert ret.mean() == pytest.approx(optimal_return(), abs=0.05)
    assert ret.mean() > fixed_return(1) + 1.5 > fixed_return(0) + 3.5
    assert trainer.history[-1]["episode_return"] > trainer.history[0]["episode_return"] + 1.0


def test_recurrent_ppo_uses_memory_where_the_observation_hides_the_state(tmp_path):
    """With satisfaction and time hidden, the best memoryless policy (kale with a fixed
    probability, 0.863) earns 13.28; the optimum (15.1) needs to know the time. A GRU
    policy counts it in its state and beats every memoryless policy."""
    cfg = PPOConfig(num_envs=64, num_steps=20, learning_rate=3e-3, gamma=1.0, hidden=16,
                    ent_coef=0.01, seed=0, recurrent=True, num_minibatches=2)
    trainer = PPOTrainer(KaleVectorEnv(64, hide_state=True), cfg)
    trainer.learn(64 * 20 * 30)
    policy = trainer.policy()

    def greedy(p) -> float:
        env = KaleVectorEnv(200, hide_state=True)
        obs, info = env.reset(seed=99)
        total = np.zeros(200)
        for _ in range(env.horizon):
            obs, r, _, _, info = env.step(p.recommend(obs, info))
            total += r
        return float(total.mean())

    ret = greedy(policy)
    assert ret > 13.28 + 0.3
    policy.save(tmp_path / "gru")
    again = load_policy(tmp_path / "gru")
    assert again.net.recurrent and greedy(again) == ret


def test_truncated_episodes_bootstrap_from_the_final_observation():
    """A time-limit end adds gamma * V(final_obs) to the last reward; a terminal one does not."""
    for truncate in (True, False):
        env = KaleVectorEnv(8, horizon=3, truncate=truncate)
        cfg = PPOConfig(num_envs=8, num_steps=3, norm_reward=False, gamma=0.9, hidden=8,
                        num_minibatches=1)
        trainer = PPOTrainer(env, cfg)
        trainer._obs, info = env.reset(seed=0)
        trainer._critic = trainer._critic_inputs(info)
        finals = []
        step = env.step

        def spy(actions, step=step, finals=finals):
            out = step(actions)
            if "final_obs" in out[4]:
                finals.append((out[1].copy(), out[4]["final_obs"]))
            return out

        env.step = spy
        batch = trainer._rollout()
        (raw, final_obs), = finals
        last = {k: np.stack([f[k] for f in final_obs]) for k in final_obs[0]}
        v = trainer.net.get_value(last).detach().numpy()
        got = batch["returns"].view(3, 8)[2] - 0  # last step: return = r (+ bootstrap)
        want = raw + (0.9 * v if truncate else 0.0)
        assert np.allclose(got.numpy(), want, atol=1e-5)


def _small(seed: int = 0, recurrent: bool = False) -> PPOTrainer:
    return PPOTrainer(IE, PPOConfig(num_envs=16, num_steps=8, hidden=16, num_minibatches=2,
                                    update_epochs=2, seed=seed, recurrent=recurrent))


def _strip(history):
    return [{k: None if v != v else v for k, v in h.items()
             if not k.endswith("_s") and k != "wall_time"} for h in history]


def test_same_seed_same_weights_and_curve():
    a, b = _small().learn(16 * 8 * 3), _small().learn(16 * 8 * 3)
    for (name, x), (_, y) in zip(a.net.state_dict().items(), b.net.state_dict().items(),
                                 strict=True):
        assert torch.equal(x, y), name
    assert _strip(a.history) == _strip(b.history)
    c = _small(seed=1).learn(16 * 8 * 3)
    assert not torch.equal(a.net.score[0].weight, c.net.score[0].weight)


@pytest.mark.parametrize("recurrent", [False, True])
def test_resume_from_a_checkpoint_equals_an_uninterrupted_run(tmp_path, recurrent):
    straight = _small(recurrent=recurrent).learn(16 * 8 * 4)
    first = _small(recurrent=recurrent).learn(16 * 8 * 4,
                                              callback=lambda t: t.updates < 2)  # killed
    assert first.updates == 2
    torch.save(first.state_dict(), tmp_path / "ckpt.pt")
    resumed = _small(recurrent=recurrent)
    resumed.load_state_dict(torch.load(tmp_path / "ckpt.pt", weights_only=False))
    resumed.learn(16 * 8 * 4)
    for (name, x), (_, y) in zip(straight.net.state_dict().items(),
                                 resumed.net.state_dict().items(), strict=True):
        assert torch.equal(x, y), name
    assert _strip(straight.history) == _strip(resumed.history)


def test_save_load_round_trip_gives_identical_slates(tmp_path):
    from recarena.agents import evaluate

    policy = _small().learn(16 * 8).policy()
    policy.save(tmp_path / "p")
    again = load_policy(tmp_path / "p", env=IE)
    a = evaluate(policy, IE, users=16, seed=4)
    b = evaluate(again, IE, users=16, seed=4)
    assert a["return"].tolist() == b["return"].tolist()
    envs = gym.make_vec(IE, num_envs=4, vectorization_mode="vector_entry_point")
    obs, _ = envs.reset(seed=0)
    assert np.array_equal(policy.recommend(obs), again.recommend(obs))
    assert policy.slate_propensity(policy.recommend(obs)).tolist() == [1.0] * 4
    sampler = load_policy(tmp_path / "p", deterministic=False, seed=3)
    s = sampler.recommend(obs)
    p = sampler.slate_propensity(s)
    assert ((p > 0) & (p < 1)).all()
    assert (s[:, 0] != s[:, 1]).all()


@pytest.mark.parametrize("make,field", [
    (lambda: PPOConfig(num_envs=0), "ppo.num_envs"),
    (lambda: PPOConfig(gamma=1.5), "ppo.gamma"),
    (lambda: PPOConfig.from_dict({"learning_rat": 0.1}), "ppo"),
    (lambda: PPOTrainer(gym.make(IE), PPOConfig(num_envs=1)), "trainer envs"),
    (lambda: PPOTrainer("recarena/Cascade-v0", PPOConfig(num_envs=2)), "ppo observation"),
    (lambda: _small().learn(0), "total_steps"),
])
def test_bad_input_is_a_typed_error(make, field):
    with pytest.raises(ConfigError) as err:
        make()
    assert err.value.field == field


def test_asymmetric_critic_sees_privileged_state_and_the_policy_does_not():
    trainer = PPOTrainer(IE, PPOConfig(num_envs=16, num_steps=8, hidden=16, num_minibatches=2,
                                       critic_oracle=["budget"]))
    trainer.learn(16 * 8 * 2)
    net, obs = trainer.net, trainer._obs
    a = net(obs, torch.zeros(16, 1))
    b = net(obs, torch.full((16, 1), 150.0))
    assert torch.equal(a[0], b[0]) and not torch.equal(a[1], b[1])
    assert trainer.history[-1]["explained_variance"] == trainer.history[-1]["explained_variance"]
    with pytest.raises(ConfigError, match="budget") as err:
        PPOTrainer(IE, PPOConfig(num_envs=4, critic_oracle=["budgett"])).learn(4)
    assert err.value.field == "ppo.critic_oracle"


def test_checkpoint_for_another_env_is_refused(tmp_path):
    _small().learn(16 * 8).policy().save(tmp_path / "p")
    with pytest.raises(ConfigError, match="InterestEvolution-v0"):
        load_policy(tmp_path / "p", env="recarena/Retention-v0")
    with pytest.raises(ConfigError, match="policy.json"):
        load_policy(tmp_path / "nothing")
    (tmp_path / "p" / "policy.json").write_text('{"format": "recarena-policy", "format_version": 99}')
    with pytest.raises(ConfigError, match="newer recarena"):
        load_policy(tmp_path / "p")


def test_sampling_policy_reports_the_probabilities_it_samples_with():
    """A sampling SlatePolicy's slate propensity (exact Plackett-Luce) and position-0
    propensity match the frequencies of its slates (6 binomial standard deviations)."""
    env = gym.make(IE)
    layout = ObservationLayout.from_space(env.observation_space, 10, 2)
    net = SlateActorCritic(layout, hidden=16, seed=5)
    with torch.no_grad():
        net.score[-1].weight.mul_(300.0)  # scores far from uniform
    policy = SlatePolicy(net, deterministic=False, seed=1)
    obs, _ = env.reset(seed=0)
    batch = {k: np.repeat(np.asarray(v)[None], 6000, axis=0) for k, v in obs.items()}
    slates = policy.recommend(batch)
    p_slate = policy.slate_propensity(slates)
    p_first = policy.propensity(slates)[:, 0]
    assert np.isnan(policy.propensity(slates)[:, 1]).all()
    code = slates[:, 0] * 10 + slates[:, 1]
    n = len(code)
    for c in np.unique(code)[:20]:
        hit = code == c
        p = p_slate[hit][0]
        assert np.allclose(p_slate[hit], p)
        assert abs(hit.mean() - p) <= 6 * np.sqrt(p * (1 - p) / n) + 1e-9
    for i in range(10):
        hit = slates[:, 0] == i
        if hit.any():
            p = p_first[hit][0]
            assert abs(hit.mean() - p) <= 6 * np.sqrt(p * (1 - p) / n) + 1e-9
    assert p_slate.max() > 3 / 90  # far from uniform (1/90): a case a wrong answer fails


def test_loading_against_other_env_arguments_warns(tmp_path):
    lts = "recarena/LongTermSatisfaction-v0"
    trainer = PPOTrainer(lts, PPOConfig(num_envs=4, num_steps=4, hidden=8, num_minibatches=1),
                         env_kwargs={"sensitivity": 0.2})
    trainer.learn(16).policy().save(tmp_path / "p")
    with pytest.warns(UserWarning, match="sensitivity"):
        load_policy(tmp_path / "p", env=gym.make(lts))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_policy(tmp_path / "p", env=gym.make(lts, sensitivity=0.2))
        load_policy(tmp_path / "p", env=gym.make_vec(lts, num_envs=2, sensitivity=0.2,
                                                     vectorization_mode="vector_entry_point"))
