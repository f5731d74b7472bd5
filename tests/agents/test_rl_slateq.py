"""SlateQ (``recarena.agents.rl.slateq``): the slate optimisers against brute force, the
choice model's maximum likelihood, n-step/autoreset bookkeeping, learning a known optimum
on a tiny env, save/load, determinism, exact resume, and typed errors."""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

import recarena  # noqa: F401
from recarena.agents import evaluate
from recarena.agents.rl.networks import ObservationLayout, obs_to_tensors
from recarena.agents.rl.policy import load_policy
from recarena.agents.rl.slateq import (
    NStepTransitions,
    SlateQConfig,
    SlateQNetwork,
    SlateQPolicy,
    SlateQTrainer,
    choice_probabilities,
    interest_evolution_choice_scores,
    next_observations,
    optimize_slates,
    slate_value,
    td_targets,
)
from recarena.errors import ConfigError
from recarena.simulators.choice import ProportionalChoice

IE = "recarena/InterestEvolution-v0"


def _problem(b: int, c: int, seed: int, equal_v: bool = False):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(b, c, generator=g, dtype=torch.float64) * 3
    q0 = torch.randn(b, generator=g, dtype=torch.float64) * 3
    s = torch.randn(b, c, generator=g, dtype=torch.float64) * 2
    if equal_v:
        s = s[:, :1].expand(b, c).clone()
    s0 = torch.randn(b, generator=g, dtype=torch.float64)
    return q, q0, s, s0


def _brute_force(q, q0, s, s0, k):
    """The best decomposed slate value over every K-subset, written out directly."""
    combos = torch.tensor(list(itertools.combinations(range(q.shape[1]), k)))
    logits = torch.cat([s[:, combos], s0[:, None, None].expand(-1, len(combos), 1)], 2)
    p = torch.softmax(logits, 2)
    vals = (p[..., :k] * q[:, combos]).sum(2) + p[..., k] * q0[:, None]
    return vals.max(1).values


# ---------------------------------------------------------------- slate optimisation
@pytest.mark.parametrize(("c", "k"), [(4, 1), (6, 2), (7, 3), (10, 2), (12, 5)])
def test_exact_optimisers_match_brute_force(c: int, k: int) -> None:
    q, q0, s, s0 = _problem(200, c, seed=c * 10 + k)
    best = _brute_force(q, q0, s, s0, k)
    for method in ("exact", "dinkelbach", "auto"):
        slates, values = optimize_slates(q, q0, s, s0, k, method)
        srt = slates.sort(1).values
        assert (srt[:, 1:] != srt[:, :-1]).all()  # K distinct candidates
        assert torch.allclose(values, slate_value(slates, q, q0, s, s0))
        assert torch.allclose(values, best, atol=1e-10), method
    # the approximations never beat the optimum
    for method in ("topk", "greedy"):
        assert (optimize_slates(q, q0, s, s0, k, method)[1] <= best + 1e-10).all()


def test_dinkelbach_is_exact_beyond_enumeration() -> None:
    q, q0, s, s0 = _problem(10, 25, seed=7)  # 25 choose 4 = 12,650 slates
    best = _brute_force(q, q0, s, s0, 4)
    assert torch.allclose(optimize_slates(q, q0, s, s0, 4, "dinkelbach")[1], best, atol=1e-10)
    assert torch.allclose(optimize_slates(q, q0, s, s0, 4, "auto", 5000)[1], best, atol=1e-10)


def test_topk_and_greedy_are_exact_where_they_must_be() -> None:
    # equal attractiveness: f(A) depends on sum_A Q only, so the K largest Q are optimal
    q, q0, s, s0 = _problem(300, 8, seed=1, equal_v=True)
    best = _brute_force(q, q0, s, s0, 3)
    for method in ("topk", "greedy"):
        assert torch.allclose(optimize_slates(q, q0, s, s0, 3, method)[1], best, atol=1e-10)
    # K = 1: greedy's single step is the exhaustive search
    q, q0, s, s0 = _problem(300, 8, seed=2)
    best = _brute_force(q, q0, s, s0, 1)
    assert torch.allclose(optimize_slates(q, q0, s, s0, 1, "greedy")[1], best, atol=1e-10)
    # ...while top-k is not exact in general (the reason the paper's greedy exists)
    q, q0, s, s0 = _problem(300, 8, seed=3)
    best = _brute_force(q, q0, s, s0, 3)
    assert (optimize_slates(q, q0, s, s0, 3, "topk")[1] < best - 1e-9).any()


def test_decomposed_value_is_the_expectation_over_the_choice() -> None:
    q, q0, s, s0 = _problem(5, 6, seed=4)
    slates = torch.tensor([[0, 1], [2, 3], [4, 5], [1, 4], [5, 0]])
    p = choice_probabilities(slates, s, s0)
    assert torch.allclose(p.sum(1), torch.ones(5, dtype=torch.float64))
    v = torch.exp(s.gather(1, slates))
    assert torch.allclose(p[:, :2], v / (torch.exp(s0)[:, None] + v.sum(1, keepdim=True)))
    expect = (p[:, :2] * q.gather(1, slates)).sum(1) + p[:, 2] * q0
    assert torch.allclose(slate_value(slates, q, q0, s, s0), expect)


def test_known_choice_fn_is_interest_evolution_choice_model() -> None:
    envs = gym.make_vec(IE, num_envs=64, vectorization_mode="vector_entry_point")
    obs, info = envs.reset(seed=3)
    envs.close()
    s, s0 = interest_evolution_choice_scores(obs)
    slates = np.argsort(np.random.default_rng(0).random((64, 10)), 1)[:, :2]
    ours = choice_probabilities(torch.as_tensor(slates), torch.as_tensor(s), torch.as_tensor(s0))
    affinity = np.take_along_axis(info["oracle"]["scores"], slates, 1)
    truth = ProportionalChoice(1.0, -1.0).choice_probabilities(affinity)
    np.testing.assert_allclose(ours.numpy(), truth, atol=1e-6)


# ---------------------------------------------------------------- choice model
def test_choice_model_recovers_known_scores() -> None:
    """Maximum likelihood on simulated conditional-logit choices recovers every
    (user segment, item type) score relative to the segment's null score, within a few
    standard errors (about 0.04 here)."""
    rng = np.random.default_rng(0)
    segments, types, k, m = 3, 6, 3, 20_000
    true = rng.uniform(-1.5, 1.5, (segments, types))
    true_null = np.array([-0.5, 0.0, 0.5])
    seg = rng.integers(0, segments, m)
    cand = np.argsort(rng.random((m, types)), 1)  # each step: the 6 types, shuffled
    obs = {"candidate_type": np.eye(types, dtype=np.float32)[cand],
           "segment": np.eye(segments, dtype=np.float32)[seg]}
    slates = np.argsort(rng.random((m, types)), 1)[:, :k]
    logits = np.concatenate([true[seg[:, None], np.take_along_axis(cand, slates, 1)],
                             true_null[seg][:, None]], 1)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    choice = (rng.random((m, 1)) > np.cumsum(p, 1)).sum(1)
    space = spaces.Dict({"candidate_type": spaces.Box(0, 1, (types, types)),
                         "segment": spaces.Box(0, 1, (segments,))})
    net = SlateQNetwork(ObservationLayout.from_space(space, types, k), hidden=32,
                        normalize=False, seed=0)
    steps = 200
    opt = torch.optim.Adam(net.choice.parameters(), lr=1e-2)
    anneal = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1 - i / steps)  # SGD noise -> 0
    x, u = net.inputs(obs_to_tensors(obs))
    slates_t, choice_t = torch.as_tensor(slates), torch.as_tensor(choice)
    for _ in range(steps):
        idx = torch.as_tensor(rng.integers(0, m, 2048))
        loss = net.choice_nll(x[idx], u[idx], slates_t[idx], choice_t[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        anneal.step()
    grid = {"candidate_type": np.tile(np.eye(types, dtype=np.float32), (segments, 1, 1)),
            "segment": np.eye(segments, dtype=np.float32)}
    with torch.no_grad():
        s, s0 = net.choice(*net.inputs(obs_to_tensors(grid)))
    learned = (s - s0[:, None]).numpy()
    error = learned - (true - true_null[:, None])
    # the tabular maximum-likelihood estimate on such data errs by about 0.035 on average
    # (0.1 at most), this fit by 0.042 (0.18); a biased fit (a wrong null score, or a
    # constant learning rate's noise) errs by 0.1 or more on average
    assert np.abs(error).mean() < 0.07 and np.abs(error).max() < 0.25, error


# ---------------------------------------------------------------- bookkeeping
def test_scripted_autoreset_targets() -> None:
    """Row 0 goes on, row 1 is truncated (bootstrap from its final observation, not the
    next user's first), row 2 terminated (no bootstrap), row 3 both (terminated wins)."""
    space = spaces.Dict({"x": spaces.Box(-1e9, 1e9, (1,), np.float64)})
    gamma = 0.9
    acc = NStepTransitions(1, gamma, 4, space, 1)
    obs = {"x": np.array([[0.0], [1.0], [2.0], [3.0]])}
    nxt = {"x": np.array([[10.0], [11.0], [12.0], [13.0]])}  # rows 1-3: new users' first obs
    final = np.array([None, {"x": np.array([-1.0])}, {"x": np.array([-2.0])},
                      {"x": np.array([-3.0])}], dtype=object)
    term = np.array([False, False, True, True])
    trunc = np.array([False, True, False, True])
    info = {"final_obs": final, "_final_obs": term | trunc}
    np.testing.assert_array_equal(next_observations(nxt, term, trunc, info)["x"][:, 0],
                                  [10.0, -1.0, -2.0, -3.0])
    reward = np.array([1.0, 2.0, 3.0, 4.0])
    b = acc.push(obs, np.zeros((4, 1), int), np.zeros(4, int), reward, nxt, term, trunc, info)
    order = np.argsort(b["obs"]["x"][:, 0])
    np.testing.assert_array_equal(b["next_obs"]["x"][order, 0], [10.0, -1.0, -2.0, -3.0])
    np.testing.assert_allclose(b["discount"][order], [gamma, gamma, 0.0, 0.0])
    v_next = torch.tensor([5.0, 6.0, 7.0, 8.0])
    y = td_targets(torch.as_tensor(b["reward"][order]), torch.as_tensor(b["discount"][order]),
                   v_next)
    np.testing.assert_allclose(y.numpy(), [1 + gamma * 5, 2 + gamma * 6, 3.0, 4.0])


@pytest.mark.parametrize("n", [1, 3])
def test_n_step_transitions_match_direct_computation(n: int) -> None:
    space = spaces.Dict({"x": spaces.Box(-1e9, 1e9, (1,), np.float64)})
    rng = np.random.default_rng(n)
    rows, g = 5, 0.9
    acc = NStepTransitions(n, g, rows, space, 1)
    got, want = [], []
    pending: list[list[tuple[float, float]]] = [[] for _ in range(rows)]
    obs = {"x": np.arange(rows, dtype=float)[:, None]}
    for t in range(60):
        r = rng.normal(size=rows)
        term = rng.random(rows) < 0.1
        trunc = (rng.random(rows) < 0.1) & ~term
        nxt = {"x": (1000.0 * (t + 1) + np.arange(rows))[:, None]}
        done = term | trunc
        info = {}
        if done.any():
            final = np.full(rows, None, dtype=object)
            for i in np.flatnonzero(done):
                final[i] = {"x": np.array([-nxt["x"][i, 0]])}
            info["final_obs"] = final
        for i in range(rows):
            pending[i].append((obs["x"][i, 0], r[i]))
            size = len(pending[i])
            if done[i]:
                for j in range(size):
                    ret = sum(g**m * pending[i][j + m][1] for m in range(size - j))
                    want.append((pending[i][j][0], round(ret, 9), -nxt["x"][i, 0],
                                 0.0 if term[i] else round(g ** (size - j), 9)))
                pending[i] = []
            elif size == n:
                ret = sum(g**m * pending[i][m][1] for m in range(n))
                want.append((pending[i][0][0], round(ret, 9), nxt["x"][i, 0], round(g**n, 9)))
                pending[i] = pending[i][1:]
        b = acc.push(obs, np.zeros((rows, 1), int), np.zeros(rows, int), r, nxt, term, trunc,
                     info)
        if b is not None:
            got += [(b["obs"]["x"][j, 0], round(b["reward"][j], 9), b["next_obs"]["x"][j, 0],
                     round(b["discount"][j], 9)) for j in range(len(b["reward"]))]
        obs = nxt
    assert len(got) > 200
    assert sorted(got) == sorted(want)


# ---------------------------------------------------------------- a tiny env
class ToySlateEnv(gym.vector.VectorEnv):
    """N users; each step the 4 candidates are the 4 item types in random order (one-hot
    features) and the user picks one of the K = 2 shown by a conditional logit
    (``v = exp(attract[type])``, null ``v = 1``); a click earns 1. Consuming a type makes
    the user leave with probability ``leave[type]`` (no click: ``null_leave``); the
    episode is truncated after ``horizon`` steps. ``age`` (steps so far / horizon) is in
    the observation.

    Types 0 and 1 are click-bait (attractive, users leave), 2 and 3 keep users: the best
    slate is {2, 3} (expected return 14.2 over 30 steps), the myopic one {0, 1} (2.1)."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}
    attract = np.array([1.5, 1.0, 0.0, -0.5])
    leave = np.array([0.5, 0.4, 0.0, 0.0])
    null_leave = 0.05

    def __init__(self, num_envs: int, horizon: int = 30) -> None:
        self.num_envs, self.horizon = num_envs, horizon
        self.num_candidates, self.slate_size = 4, 2
        self.single_observation_space = spaces.Dict({
            "candidate_type": spaces.Box(0, 1, (4, 4), np.float32),
            "age": spaces.Box(0, 1, (1,), np.float32)})
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.single_action_space = spaces.MultiDiscrete([4, 4])
        self.action_space = batch_space(self.single_action_space, num_envs)

    def _obs(self) -> dict[str, np.ndarray]:
        return {"candidate_type": np.eye(4, dtype=np.float32)[self.types],
                "age": (self.t / self.horizon).astype(np.float32)[:, None]}

    def reset(self, *, seed=None, options=None):
        self.rng = np.random.default_rng(seed)
        self.types = np.argsort(self.rng.random((self.num_envs, 4)), 1)
        self.t = np.zeros(self.num_envs)
        self.ret = np.zeros(self.num_envs)
        return self._obs(), {}

    def step(self, actions):
        n, rows = self.num_envs, np.arange(self.num_envs)
        shown = np.take_along_axis(self.types, np.asarray(actions), 1)
        v = np.exp(self.attract[shown])
        cum = np.cumsum(v / (1.0 + v.sum(1, keepdims=True)), 1)
        pick = (self.rng.random((n, 1)) > cum).sum(1)  # 2: no click
        clicked = np.zeros((n, 2), bool)
        clicked[rows[pick < 2], pick[pick < 2]] = True
        reward = clicked.any(1).astype(np.float64)
        leave = np.where(pick < 2, self.leave[shown[rows, np.minimum(pick, 1)]], self.null_leave)
        term = self.rng.random(n) < leave
        self.t += 1
        trunc = (self.t >= self.horizon) & ~term
        self.ret += reward
        self.types = np.argsort(self.rng.random((n, 4)), 1)
        obs = self._obs()
        info = {"response": SimpleNamespace(clicked=clicked)}
        done = term | trunc
        if done.any():
            final = np.full(n, None, dtype=object)
            for i in np.flatnonzero(done):
                final[i] = {key: value[i].copy() for key, value in obs.items()}
            info["final_obs"], info["_final_obs"] = final, done
            info["final_info"] = {"episode_return": np.where(done, self.ret, 0.0),
                                  "episode_length": np.where(done, self.t, 0).astype(int)}
            self.t[done], self.ret[done] = 0, 0.0
            obs = self._obs()
        return obs, reward, term, trunc, info


def _toy_return(types: tuple[int, int], horizon: int = 30) -> float:
    """Expected return of always showing ``types``."""
    v = np.exp(ToySlateEnv.attract[list(types)])
    p = v / (1.0 + v.sum())
    r = p.sum()
    cont = (p * (1 - ToySlateEnv.leave[list(types)])).sum() + (1 - p.sum()) * (1 - ToySlateEnv.null_leave)
    return float(r * (1 - cont**horizon) / (1 - cont))


def _toy_config(**kw) -> SlateQConfig:
    base = dict(num_envs=64, buffer_size=20_000, learning_starts=1_000, batch_size=128,
                gamma=0.9, tau=0.05, hidden=32, exploration_fraction=0.3, log_interval=25,
                learning_rate=3e-3, choice_learning_rate=3e-3, seed=0)
    return SlateQConfig(**(base | kw))


def test_replay_next_states_follow_the_finished_user() -> None:
    """End to end: every stored transition's next state is one step older than its state
    (the finished user's final observation when the episode ended, never the next user's
    first), and only terminated episodes lose the bootstrap."""
    env = ToySlateEnv(16, horizon=3)
    trainer = SlateQTrainer(env, _toy_config(num_envs=16, learning_starts=10**6))
    trainer.learn(16 * 30)
    rb = trainer.replay
    age = rb.obs["age"][:rb.size, 0]
    next_age = rb.next_obs["age"][:rb.size, 0]
    np.testing.assert_allclose(next_age, age + 1 / 3, atol=1e-6)
    disc = rb.discount[:rb.size].astype(np.float64)
    assert np.isin(np.round(disc, 6), [0.0, 0.9]).all()
    truncated = np.isclose(next_age, 1.0) & np.isclose(disc, 0.9)  # bootstrapped at age 1
    assert truncated.sum() > 20 and (disc == 0).sum() > 5  # both kinds of ending occur


def test_slateq_learns_the_long_term_optimum_of_a_tiny_env() -> None:
    best, myopic = _toy_return((2, 3)), _toy_return((0, 1))
    assert best > 5 * myopic and all(_toy_return(p) < best - 5 for p in
                                     itertools.combinations(range(4), 2) if p != (2, 3))
    env = ToySlateEnv(64)
    trainer = SlateQTrainer(env, _toy_config())
    trainer.learn(64 * 250)
    policy = trainer.policy()
    # every ordering of the candidates: the slate is the two kale types
    perms = np.array(list(itertools.permutations(range(4))))
    obs = {"candidate_type": np.eye(4, dtype=np.float32)[perms],
           "age": np.zeros((len(perms), 1), np.float32)}
    slates = policy.recommend(obs)
    chosen = np.sort(np.take_along_axis(perms, slates, 1), 1)
    assert (chosen == [2, 3]).all()
    # and its episodes earn the optimum, far above the myopic slate's (many SEs)
    returns = []
    test = ToySlateEnv(500)
    o, _ = test.reset(seed=99)
    while len(returns) < 500:
        o, _, _, _, info = test.step(policy.recommend(o))
        if "final_info" in info:
            returns += list(info["final_info"]["episode_return"][info["_final_obs"]])
    mean, se = np.mean(returns), np.std(returns) / np.sqrt(len(returns))
    assert abs(mean - best) < 4 * se and mean - myopic > 10 * se
    assert trainer.history[-1]["global_step"] == 64 * 250
    assert {"global_step", "wall_time", "episodes", "episode_return",
            "steps_per_s"} <= set(trainer.history[-1])


# ---------------------------------------------------------------- recarena envs
def _ie_config(**kw) -> SlateQConfig:
    base = dict(num_envs=8, buffer_size=4_000, learning_starts=400, batch_size=32,
                hidden=16, log_interval=10, reward_scale=0.1, seed=3)
    return SlateQConfig(**(base | kw))


def _state(trainer: SlateQTrainer) -> dict[str, torch.Tensor]:
    return trainer.net.state_dict() | {f"target.{k}": v for k, v in
                                       trainer.target_q.state_dict().items()}


def test_same_seed_identical_weights_and_curve() -> None:
    runs = []
    for seed in (3, 3, 4):
        trainer = SlateQTrainer(IE, _ie_config(seed=seed, n_step=3))
        trainer.learn(8 * 70)
        runs.append((_state(trainer), [h["episode_return"] for h in trainer.history]))
        trainer.close()
    (a, ca), (b, cb), (c, _) = runs
    assert all(torch.equal(a[k], b[k]) for k in a)
    np.testing.assert_array_equal(ca, cb)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_resume_from_state_dict_is_exact(tmp_path) -> None:
    cfg = _ie_config(n_step=2)
    full = SlateQTrainer(IE, cfg).learn(8 * 80)
    half = SlateQTrainer(IE, cfg)
    half.learn(8 * 80, callback=lambda t: t.global_step < 8 * 60)
    assert half.global_step == 8 * 60
    torch.save(half.state_dict(), tmp_path / "ckpt.pt")
    resumed = SlateQTrainer(IE, cfg)
    resumed.load_state_dict(torch.load(tmp_path / "ckpt.pt", weights_only=False))
    resumed.learn(8 * 80)
    a, b = _state(full), _state(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h["global_step"] for h in full.history] == [h["global_step"] for h in resumed.history]
    with pytest.raises(ConfigError):
        SlateQTrainer(IE, _ie_config(seed=9)).load_state_dict(half.state_dict())


@pytest.mark.parametrize("choice_fn", [None, "recarena.agents.rl.slateq:interest_evolution_choice_scores"])
def test_save_load_round_trip_gives_identical_slates(tmp_path, choice_fn) -> None:
    trainer = SlateQTrainer(IE, _ie_config(choice_fn=choice_fn, slate_optimizer="greedy"))
    trainer.learn(8 * 80)
    policy = trainer.policy()
    path = policy.save(tmp_path / "policy")
    loaded = load_policy(path, env=IE)
    assert isinstance(loaded, SlateQPolicy) and loaded.net.config() == policy.net.config()
    envs = gym.make_vec(IE, num_envs=50, vectorization_mode="vector_entry_point")
    obs, info = envs.reset(seed=11)
    envs.close()
    slates = policy.recommend(obs, info)
    np.testing.assert_array_equal(slates, loaded.recommend(obs, info))
    assert slates.dtype == np.int64 and slates.shape == (50, 2)
    np.testing.assert_array_equal(loaded.slate_propensity(slates), np.ones(50))
    df = evaluate(loaded, IE, users=20, seed=1)
    assert len(df) == 20 and np.isfinite(df["return"]).all()
    # the exploring policy's propensities are the epsilon-mixture's, exactly
    explore = SlateQPolicy(loaded.net, deterministic=False, epsilon=0.5, seed=1)
    shown = explore.recommend(obs, info)
    greedy = loaded.recommend(obs, info)
    same = (shown == greedy).all(1)
    expect = np.where(same, 0.5 + 0.5 / 90, 0.5 / 90)
    np.testing.assert_allclose(explore.slate_propensity(shown), expect)
    trainer.close()


def test_zero_null_value_recsim_convention_runs() -> None:
    trainer = SlateQTrainer(IE, _ie_config(null_value="zero", slate_optimizer="topk"))
    trainer.learn(8 * 80)
    q = trainer.policy().values(trainer._obs)
    assert (q["q_null"] == 0).all() and np.isfinite(trainer.history[-1]["q_loss"])


# ---------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("kwargs", [
    {"slate_optimizer": "lp"}, {"null_value": "none"}, {"gamma": 1.0}, {"n_step": 0},
    {"num_envs": 0}, {"buffer_size": 10, "num_envs": 64}, {"tau": 0.0}, {"hidden": 0},
    {"choice_fn": "no.such.module:f"}, {"choice_fn": "recarena:nothing"}, {"choice_fn": 3},
    {"reward_scale": -1.0}, {"learning_rate": "fast"}, {"exploration_final_eps": 2.0},
])
def test_bad_config_is_a_config_error(kwargs) -> None:
    with pytest.raises(ConfigError):
        SlateQConfig(**kwargs)


def test_bad_inputs_are_typed() -> None:
    with pytest.raises(ConfigError):
        SlateQConfig.from_dict({"gama": 0.9})
    with pytest.raises(ConfigError):
        SlateQTrainer(IE, "not a config")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        SlateQTrainer(gym.make(IE), _ie_config())  # a single env
    envs = gym.make_vec(IE, num_envs=4, vectorization_mode="vector_entry_point")
    with pytest.raises(ConfigError):
        SlateQTrainer(envs, _ie_config())  # num_envs mismatch
    nxt = gym.make_vec(IE, num_envs=8, vectorization_mode="vector_entry_point",
                       autoreset_mode="next_step")
    with pytest.raises(ConfigError):
        SlateQTrainer(nxt, _ie_config())
    with pytest.raises(ConfigError):  # 30 choose 6 = 593,775 slates to enumerate
        SlateQTrainer(IE, _ie_config(slate_optimizer="exact"), env_kwargs={"num_candidates": 30,
                                                                           "slate_size": 6})
    trainer = SlateQTrainer(IE, _ie_config())
    for steps in (0, -5, 1.5):
        with pytest.raises(ConfigError):
            trainer.learn(steps)
    with pytest.raises(ConfigError):
        trainer.state_dict()  # not started
    policy = trainer.policy()
    with pytest.raises(ConfigError):
        policy.recommend({"interests": np.zeros((2, 20))})
    with pytest.raises(ConfigError):
        SlateQPolicy("net")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        SlateQPolicy(trainer.net, epsilon=1.5)
    with pytest.raises(ConfigError):
        optimize_slates(*_problem(2, 5, 0), 2, "simplex")
    trainer.close()
    assert math.comb(10, 2) == 45
