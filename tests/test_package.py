"""The installed package: lazy heavy imports, the CLI, and a wheel used from outside the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

import recarena

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], cwd: Path | None = None, python: str = sys.executable) -> subprocess.CompletedProcess:
    return subprocess.run([python, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_version_and_public_api() -> None:
    assert recarena.__version__ == "0.1.0"
    assert callable(recarena.make) and callable(recarena.list_envs)


def test_import_and_env_build_do_not_import_torch() -> None:
    code = ("import sys, gymnasium as gym, recarena\n"
            "for i in recarena.list_envs():\n"
            "    env = gym.make(i); env.reset(seed=0); env.step(env.action_space.sample())\n"
            "import recarena.agents, recarena.envs.wrappers\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n"
            "assert 'stable_baselines3' not in sys.modules\n")
    out = _run(["-c", code])
    assert out.returncode == 0, out.stderr


def test_cli_list_and_demo() -> None:
    out = _run(["-m", "recarena.cli", "list"])
    assert out.returncode == 0 and "recarena/InterestEvolution-v0" in out.stdout
    assert "cascade_kl_ucb" in out.stdout and "Kveton et al. 2015" in out.stdout
    out = _run(["-m", "recarena.cli", "demo", "--episodes", "3"])
    assert out.returncode == 0, out.stderr
    for name in ("random", "greedy_oracle", "quality_oracle"):
        assert name in out.stdout


def test_cli_bad_input_exit_code_2() -> None:
    out = _run(["-m", "recarena.cli", "demo", "--episodes", "0"])
    assert out.returncode == 2
    assert "episodes: expected an integer >= 1, received 0" in out.stderr
    assert "Traceback" not in out.stderr
    out = _run(["-m", "recarena.cli", "demo", "--env", "recarena/Nope-v0"])
    assert out.returncode == 2 and "unknown environment id" in out.stderr


@pytest.mark.slow
def test_wheel_installs_and_imports_outside_checkout(tmp_path: Path) -> None:
    """A flat layout's root folders would shadow a regular install when Python runs from
    the checkout; build a wheel, install it in a fresh venv and import every sub-package
    from elsewhere."""
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache"))
    dist = tmp_path / "dist"
    out = _run(["-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(src)])
    assert out.returncode == 0, out.stdout + out.stderr
    wheel = next(dist.glob("recarena-*.whl"))

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = str(env_dir / "bin" / "python")
    target = _run(["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], python=py).stdout.strip()
    # install the wheel with this interpreter's pip into the new venv's site-packages
    out = _run(["-m", "pip", "install", "--no-deps", "--no-index", "--target", target, str(wheel)])
    assert out.returncode == 0, out.stdout + out.stderr
    # dependencies come from the development environment (a path entry, not a site dir,
    # so its editable-install hook for recarena is not activated)
    (Path(target) / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    packages = sorted({
        "recarena." + ".".join(p.relative_to(ROOT).parts[:-1])
        for top in ("simulators", "envs", "agents", "scenarios", "analysis")
        for p in (ROOT / top).rglob("__init__.py")
    })
    code = ("import importlib, recarena, gymnasium as gym\n"
            f"mods = {packages!r}\n"
            "for m in mods:\n"
            "    mod = importlib.import_module(m)\n"
            f"    assert mod.__file__.startswith({target!r}), (m, mod.__file__)\n"
            f"assert recarena.__file__.startswith({target!r}), recarena.__file__\n"
            "env = gym.make('recarena/InterestEvolution-v0'); env.reset(seed=0)\n"
            "from recarena.scenarios import builtin_scenarios, load_scenario\n"
            "assert 'quickstart' in builtin_scenarios(), builtin_scenarios()\n"
            "load_scenario('quickstart')\n"
            "from recarena.simulators.data import load_movielens, load_obd\n"
            "from recarena.simulators.data.calibrate import load_fitted\n"
            "assert len(load_movielens().ratings) == 100836 and len(load_obd().log) == 10000\n"
            "assert load_fitted().user_factors.shape[0] == 610\n"
            "gym.make('recarena/MovieLens-v0').reset(seed=0)\n"
            "print(len(mods))\n")
    out = _run(["-c", code], cwd=tmp_path, python=py)
    assert out.returncode == 0, out.stdout + out.stderr
    assert int(out.stdout.strip()) == len(packages) >= 10
