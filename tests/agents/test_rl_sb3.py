"""stable-baselines3 on recarena: the VecEnv adapter, the slate policy, check_sb3, SB3
models in evaluate, and the SB3 trainer."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

torch = pytest.importorskip("torch")
sb3 = pytest.importorskip("stable_baselines3")

from gymnasium.vector import AutoresetMode  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.env_checker import check_env  # noqa: E402
from stable_baselines3.common.monitor import Monitor  # noqa: E402
from stable_baselines3.common.preprocessing import preprocess_obs  # noqa: E402
from stable_baselines3.common.vec_env import VecCheckNan, VecMonitor, VecNormalize  # noqa: E402

from recarena.agents import evaluate, make_policy  # noqa: E402
from recarena.agents.rl.distributions import PlackettLuce  # noqa: E402
from recarena.agents.rl.policy import SlatePolicy, load_policy  # noqa: E402
from recarena.agents.rl.sb3 import (  # noqa: E402
    RecArenaVecEnv,
    SB3DQNTrainer,
    SB3Policy,
    SB3Trainer,
    SlateActorCriticPolicy,
    SlateFeatureExtractor,
    check_sb3,
    is_slate_aware,
)
from recarena.envs.wrappers import DeduplicateSlate, EnumeratedSlate, ScoreSlate  # noqa: E402
from recarena.errors import ConfigError  # noqa: E402
from tests.agents.rl_toy import KaleVectorEnv  # noqa: E402

IE = "recarena/InterestEvolution-v0"


def _vec(n: int = 8, **kwargs):
    return gym.make_vec(IE, num_envs=n, vectorization_mode="vector_entry_point", **kwargs)


def _slates(n: int, c: int, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(c)[:k] for _ in range(n)])


def _ppo(venv, seed: int = 0, **kwargs):
    kwargs = dict(n_steps=8, batch_size=64, n_epochs=1, seed=seed, device="cpu",
                  policy_kwargs=dict(hidden=16)) | kwargs
    return sb3.PPO(SlateActorCriticPolicy, venv, **kwargs)


# ------------------------------------------------------------------------ the adapter
def test_adapter_matches_the_vector_env_and_sb3_conventions():
    """terminal_observation is the finished user's last obs, TimeLimit.truncated marks
    horizon cuts, dones = terminated | truncated, rewards as the env gives them."""
    n = 6
    venv = RecArenaVecEnv(IE, num_envs=n, env_kwargs={"max_episode_steps": 3})
    twin = _vec(n, max_episode_steps=3)
    venv.seed(7)
    obs = venv.reset()
    twin_obs, _ = twin.reset(seed=7)
    assert all(np.array_equal(obs[k], twin_obs[k]) for k in twin_obs)
    assert venv.observation_space == twin.single_observation_space
    assert venv.action_space == twin.single_action_space
    ended = 0
    for t in range(7):
        slates = _slates(n, 10, 2, t)
        obs, rew, dones, infos = venv.step(slates)
        t_obs, t_rew, term, trunc, t_info = twin.step(slates)
        assert np.allclose(rew, t_rew) and rew.dtype == np.float32
        assert np.array_equal(dones, term | trunc)
        assert all(np.array_equal(obs[k], t_obs[k]) for k in t_obs)
        for i in range(n):
            assert infos[i]["TimeLimit.truncated"] == bool(trunc[i] and not term[i])
            if dones[i]:
                ended += 1
                last = t_info["final_obs"][i]
                assert all(np.array_equal(infos[i]["terminal_observation"][k], last[k]) for k in last)
                ep = infos[i]["episode"]
                assert ep["l"] == t_info["final_info"]["episode_length"][i] == 3
                assert ep["r"] == pytest.approx(t_info["final_info"]["episode_return"][i])
            else:
                assert "terminal_observation" not in infos[i]
    assert ended == 2 * n
    rets, lens, _ = venv.drain_episodes()
    assert rets.size == 2 * n and (lens == 3).all()
    venv.close()


def test_adapter_terminated_episodes_are_not_time_limits():
    venv = RecArenaVecEnv(KaleVectorEnv(4, horizon=3))
    venv.reset()
    for _ in range(3):
        _, _, dones, infos = venv.step(np.zeros((4, 1), dtype=np.int64))
    assert dones.all() and not any(i["TimeLimit.truncated"] for i in infos)
    assert all(i["terminal_observation"]["time_left"][0] == 0.0 for i in infos)


def test_adapter_seeding_is_reproducible():
    venv = RecArenaVecEnv(IE, num_envs=4)

    def run(seed):
        assert venv.seed(seed) == [seed + i for i in range(4)]
        first = venv.reset()
        assert venv._seeds == [None] * 4  # seeds are used once, as in SB3
        out = [first]
        for t in range(3):
            out.append(venv.step(_slates(4, 10, 2, t))[0])
        return out

    a, b, c = run(3), run(3), run(4)
    same = lambda x, y: all(np.array_equal(x[k], y[k]) for k in x)  # noqa: E731
    assert all(same(x, y) for x, y in zip(a, b, strict=True))
    assert not same(a[0], c[0])
    assert not same(venv.reset(), a[0])  # no seed: the world's streams go on


def test_adapter_vecenv_api_and_sb3_wrappers():
    venv = RecArenaVecEnv(IE, num_envs=5, env_kwargs={"render_mode": "ansi"})
    assert venv.get_attr("render_mode") == ["ansi"] * 5
    assert venv.get_attr("slate_size", indices=[1, 3]) == [2, 2]
    assert venv.has_attr("num_candidates") and not venv.has_attr("no_such_attribute")
    assert venv.env_is_wrapped(Monitor) == [False] * 5
    venv.set_attr("some_flag", 3)
    assert venv.get_attr("some_flag", indices=2) == [3]
    with pytest.raises(ConfigError, match="every row"):
        venv.set_attr("some_flag", 4, indices=[0])
    with pytest.raises(ConfigError, match="row indices"):
        venv.get_attr("render_mode", indices=[5])
    # SB3's own VecEnv wrappers run on top: NaN checks, monitoring, normalisation
    env = VecNormalize(VecMonitor(VecCheckNan(venv, raise_exception=True)),
                       norm_obs_keys=["candidate_features", "interests"])
    env.seed(0)
    env.reset()
    for t in range(3):
        env.step(_slates(5, 10, 2, t))
    assert isinstance(venv.render(), str) and venv.env_method("render")[0].startswith("5 users")
    env.close()
    assert venv._closed


# ------------------------------------------------------------------------ the policy
class _SlateCheck(BaseCallback):
    def __init__(self) -> None:
        super().__init__()
        self.steps = 0

    def _on_step(self) -> bool:
        a = self.locals["actions"]
        assert a.shape[1] == 2 and (a[:, 0] != a[:, 1]).all()
        self.steps += 1
        return True


def test_sb3_ppo_with_the_slate_policy_trains_on_valid_slates():
    venv = RecArenaVecEnv(IE, num_envs=16)
    model = _ppo(venv, n_steps=16, batch_size=128, n_epochs=2)
    assert is_slate_aware(model) and model.policy.net.hidden == 16
    before = torch.nn.utils.parameters_to_vector(model.policy.parameters()).clone()
    check = _SlateCheck()
    model.learn(512, callback=check)
    assert check.steps == 32 and model.num_timesteps == 512
    acts = model.rollout_buffer.actions.reshape(-1, 2)
    assert (acts[:, 0] != acts[:, 1]).all()
    after = torch.nn.utils.parameters_to_vector(model.policy.parameters())
    assert not torch.equal(before, after)
    assert float(model.policy.net.cand_norm.count) > 16  # statistics refreshed between rollouts
    venv.close()


def test_log_prob_and_entropy_are_plackett_luce_and_the_first_ratio_is_one():
    venv = RecArenaVecEnv(IE, num_envs=16)
    model = _ppo(venv)
    seen = {}

    class Grab(BaseCallback):
        def _on_step(self):
            return True

        def _on_rollout_end(self):  # before the update: the rollout's own numbers
            buf = self.model.rollout_buffer
            obs = {k: torch.as_tensor(v.reshape(-1, *v.shape[2:])) for k, v in buf.observations.items()}
            actions = torch.as_tensor(buf.actions.reshape(-1, 2))
            with torch.no_grad():
                values, logp, ent = self.model.policy.evaluate_actions(obs, actions)
                logits, _ = self.model.policy.net(obs)
            seen.update(logp=logp, ent=ent, old=torch.as_tensor(buf.log_probs.reshape(-1)),
                        values=values, old_v=torch.as_tensor(buf.values.reshape(-1)),
                        logits=logits, actions=actions)

    model.learn(256, callback=Grab())
    pl = PlackettLuce(seen["logits"], 2)
    assert torch.allclose(seen["logp"], pl.log_prob(seen["actions"]))
    assert torch.allclose(seen["ent"], pl.chain_entropy(seen["actions"]))
    # statistics frozen during the rollout and its update: PPO's ratio starts at 1
    assert torch.allclose(seen["logp"], seen["old"].float(), atol=1e-5)
    assert torch.allclose(seen["values"].squeeze(1), seen["old_v"].float(), atol=1e-5)
    # K = 1: the chain entropy is the exact entropy
    one = PlackettLuce(seen["logits"], 1)
    assert torch.allclose(one.chain_entropy(one.mode()), one.exact_entropy(), atol=1e-5)


def test_feature_extractor_reads_raw_observations_and_undoes_preprocessing():
    env = gym.make("recarena/InterestExploration-v0")  # per-candidate MultiDiscrete topics
    space = env.observation_space
    ext = SlateFeatureExtractor(space, hidden=8, seed=0)
    venv = RecArenaVecEnv("recarena/InterestExploration-v0", num_envs=3)
    venv.seed(0)
    obs = {k: torch.as_tensor(v) for k, v in venv.reset().items()}
    pre = preprocess_obs(obs, space)
    assert pre["candidate_topic"].shape[1] > obs["candidate_topic"].shape[1]  # one-hot
    raw = ext.raw(pre)
    assert torch.equal(raw["candidate_topic"].long(), obs["candidate_topic"].long())
    assert torch.allclose(ext(pre), ext(obs))
    assert ext(pre).shape == (3, ext.features_dim) == (3, 11 * 8)
    # the slate policy runs on it through SB3's rollout and update
    model = _ppo(venv, n_steps=4, batch_size=12)
    model.learn(12)
    env.close()


# ------------------------------------------------------------------------ the check_env gap
def test_check_env_gap_is_a_typed_error_not_a_crash():
    env = gym.make(IE)
    check_env(env, warn=False)  # the raw env passes SB3's checker ...
    env.close()
    venv = RecArenaVecEnv(IE, num_envs=64)
    model = sb3.PPO("MultiInputPolicy", venv, n_steps=4, batch_size=64, seed=0, device="cpu")
    assert not is_slate_aware(model)
    with pytest.raises(ConfigError, match="SlateActorCriticPolicy") as err:  # ... PPO does not
        model.learn(256)
    assert "repeating a candidate" in str(err.value)
    venv.close()
    # check_sb3 refuses before any step, and passes the slate policy and the wrappers
    with pytest.raises(ConfigError, match="check_sb3.policy.*MultiInputPolicy"):
        check_sb3(IE, policy="MultiInputPolicy", users=4)
    report = check_sb3(IE, users=8, steps=2, policy_kwargs={"hidden": 8})
    assert report["check_env"] == "passed" and report["steps"] == 16
    assert check_sb3(IE, policy="MultiInputPolicy", wrapper=DeduplicateSlate, users=2,
                     steps=2)["algo"] == "PPO"
    assert check_sb3(_vec(4), policy="MultiInputPolicy", algo="dqn", wrapper=EnumeratedSlate,
                     users=1, steps=4)["algo"] == "DQN"


# ------------------------------------------------------------------------ evaluate
def test_evaluate_sb3_models_with_paired_seeds(tmp_path):
    venv = RecArenaVecEnv(IE, num_envs=16)
    model = _ppo(venv, seed=3)
    model.learn(128)
    model.save(tmp_path / "m.zip")
    twin = sb3.PPO.load(tmp_path / "m.zip", device="cpu")  # no env: the mapping is inferred
    short = {"env_kwargs": {"max_episode_steps": 15}}
    a = evaluate(model, IE, users=32, seed=11, **short)
    b = evaluate(twin, IE, users=32, seed=11, **short)
    assert a["return"].tolist() == b["return"].tolist()
    assert a["user_id"].tolist() == b["user_id"].tolist()
    # the same network as a recarena SlatePolicy: same slates, same returns
    native = SlatePolicy(model.policy.net)
    assert evaluate(native, IE, users=32, seed=11, **short)["return"].tolist() == a["return"].tolist()
    assert evaluate(model, IE, users=32, seed=12, **short)["return"].tolist() != a["return"].tolist()
    single = evaluate(model, IE, episodes=2, seed=5, **short)
    assert len(single) == 2 and (single["length"] == 15).all()
    pol = SB3Policy(model, deterministic=False, seed=1)
    s1 = evaluate(pol, IE, users=16, seed=0, **short)["return"].tolist()
    assert evaluate(pol, IE, users=16, seed=0, **short)["return"].tolist() == s1  # own random stream
    venv.close()


def test_evaluate_models_trained_through_single_env_wrappers(tmp_path):
    enum_env = EnumeratedSlate(gym.make(IE))
    dqn = sb3.DQN("MultiInputPolicy", enum_env, seed=0, device="cpu", buffer_size=100,
                  policy_kwargs=dict(net_arch=[8]))
    wrapped = evaluate(dqn, IE, episodes=2, seed=0)  # the wrapper is read from the model's env
    explicit = evaluate(SB3Policy(dqn, wrapper=EnumeratedSlate), IE, episodes=2, seed=0)
    assert wrapped["return"].tolist() == explicit["return"].tolist()
    dqn.save(tmp_path / "dqn.zip")
    loaded = sb3.DQN.load(tmp_path / "dqn.zip", device="cpu")
    assert evaluate(loaded, IE, episodes=2, seed=0)["return"].tolist() == wrapped["return"].tolist()
    pol = SB3Policy(dqn)
    obs = {k: v[None] for k, v in enum_env.reset(seed=0)[0].items()}
    assert pol.recommend(obs).tolist() == [enum_env.slates[int(dqn.predict(obs, deterministic=True)[0][0])].tolist()]
    # scores through ScoreSlate: the top-K, K read from the wrapper
    score = sb3.PPO("MultiInputPolicy", ScoreSlate(gym.make(IE)), n_steps=8, batch_size=8,
                    seed=0, device="cpu")
    slates = SB3Policy(score).recommend(obs)
    assert slates.shape == (1, 2) and slates[0, 0] != slates[0, 1]
    with pytest.raises(ConfigError, match="slate_size"):
        SB3Policy(sb3.PPO.load(_save(score, tmp_path), device="cpu")).recommend(obs)


def _save(model, tmp_path):
    model.save(tmp_path / "score.zip")
    return tmp_path / "score.zip"


# ------------------------------------------------------------------------ the trainer
def test_sb3_trainer_interface_and_exact_resume(tmp_path):
    cfg = {"num_envs": 16, "n_steps": 8, "hidden": 16, "n_epochs": 2}
    a = SB3Trainer(IE, cfg)
    assert a.algo == "sb3-ppo" and a.config["batch_size"] == 32
    a.learn(256)
    assert [r["global_step"] for r in a.history] == [128, 256]
    assert [r["update"] for r in a.history] == [1, 2]
    for key in ("global_step", "wall_time", "episode_return", "steps_per_s", "reward_per_step"):
        assert key in a.history[-1]
    state = a.state_dict()
    a.learn(512)
    b = SB3Trainer(IE, cfg)
    b.load_state_dict(state)
    b.learn(512)
    pa = torch.nn.utils.parameters_to_vector(a.model.policy.parameters())
    pb = torch.nn.utils.parameters_to_vector(b.model.policy.parameters())
    assert torch.equal(pa, pb)
    assert [r["reward_per_step"] for r in a.history] == [r["reward_per_step"] for r in b.history]
    # the callback stops between updates; the policy is a recarena SlatePolicy
    calls = []
    a.learn(10_000, callback=lambda t: calls.append(t.global_step) or False)
    assert calls == [640] and a.global_step == 640
    pol = a.policy()
    assert isinstance(pol, SlatePolicy) and pol.meta["algo"] == "sb3-ppo"
    loaded = load_policy(pol.save(tmp_path / "policy"), env=IE)  # recarena's checkpoint format
    obs = {k: v[None] for k, v in gym.make(IE).reset(seed=1)[0].items()}
    assert loaded.recommend(obs).tolist() == pol.recommend(obs).tolist()
    assert a.metadata()["global_step"] == 640 and a.metadata()["env_id"] == IE
    with pytest.raises(ConfigError, match="checkpoint config"):
        SB3Trainer(IE, cfg | {"hidden": 8}).load_state_dict(state)
    with pytest.raises(ConfigError, match="checkpoint env"):
        SB3Trainer("recarena/Retention-v0", cfg).load_state_dict(state)
    a.close()
    b.close()


def test_sb3_dqn_trainer_and_its_refusal(tmp_path):
    with pytest.raises(ConfigError, match="1,860,480 ordered slates"):
        SB3DQNTrainer("recarena/Slate-v0", {})
    with pytest.raises(ConfigError, match="max_slates"):
        RecArenaVecEnv(gym.make_vec("recarena/Slate-v0", num_envs=1,
                                    vectorization_mode="vector_entry_point"), actions="enumerated")
    t = SB3Trainer(IE, {"num_envs": 4, "learning_starts": 16, "hidden": 8, "log_every": 64,
                        "buffer_size": 500}, algo="sb3-dqn")
    assert t.venv.action_space.n == 90
    t.learn(128)
    assert [r["global_step"] for r in t.history] == [64, 128] and t.history[-1]["update"] > 0
    pol = t.policy()
    assert isinstance(pol, SB3Policy)
    a = evaluate(pol, IE, users=8, seed=2)
    assert a["return"].tolist() == evaluate(t.model, IE, users=8, seed=2)["return"].tolist()
    # saved in recarena's checkpoint format: the registry's ``checkpoint`` policy loads it,
    # with the VecNormalize statistics it was trained with, and acts identically
    folder = pol.save(tmp_path / "policy")
    loaded = make_policy("checkpoint", IE, path=str(folder))
    assert isinstance(loaded, SB3Policy) and loaded.meta["algo"] == "sb3-dqn"
    assert evaluate(loaded, IE, users=8, seed=2)["return"].tolist() == a["return"].tolist()
    with pytest.raises(ConfigError, match="checkpoint env"):
        make_policy("checkpoint", "recarena/Retention-v0", path=str(folder))
    t.close()


# ------------------------------------------------------------------------ bad inputs
class _NextStepKale(KaleVectorEnv):
    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}


@pytest.mark.parametrize("make, match", [
    (lambda: RecArenaVecEnv(gym.make(IE)), "RecArenaVecEnv.envs.*single env"),
    (lambda: RecArenaVecEnv(gym.make_vec("CartPole-v1", num_envs=2)), "RecArenaVecEnv.envs"),
    (lambda: RecArenaVecEnv(_NextStepKale(2)), "autoreset_mode"),
    (lambda: RecArenaVecEnv(IE, actions="ranked"), "actions"),
    (lambda: RecArenaVecEnv(_vec(2), num_envs=3), "num_envs"),
    (lambda: SB3Trainer(IE, {"n_step": 8}), "sb3-ppo config.*n_step"),
    (lambda: SB3Trainer(IE, {"num_envs": 2, "n_steps": 1}), "sb3-ppo config"),
    (lambda: SB3Trainer(IE, algo="sb3-sac"), "algo"),
    (lambda: SB3Trainer(_vec(4), {"num_envs": 8}), "num_envs"),
    (lambda: SB3Trainer(IE, {"num_envs": 2, "hidden": 0}), "hidden"),
    (lambda: SB3Trainer(IE, {"num_envs": 2, "max_slates": 5}), "sb3-dqn only"),
    (lambda: SB3Trainer(IE, {"num_envs": 2}).learn(0), "total_steps"),
    (lambda: SB3Trainer(IE, {"num_envs": 2}).state_dict(), "not started"),
    (lambda: SB3Policy(object()), "SB3Policy.model"),
    (lambda: sb3.PPO(SlateActorCriticPolicy, ScoreSlate(gym.make(IE)), device="cpu"),
     "action space"),
    (lambda: check_sb3(IE, algo="trpo"), "check_sb3.algo"),
])
def test_bad_inputs_are_typed(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_evaluate_refuses_a_model_of_another_env():
    venv = RecArenaVecEnv(IE, num_envs=2)
    model = _ppo(venv, n_steps=4, batch_size=8)
    with pytest.raises(ConfigError, match="recommend obs"):
        evaluate(model, "recarena/LongTermSatisfaction-v0", users=2, seed=0)
    venv.close()
