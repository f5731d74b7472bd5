"""The ``recarena`` command line.

Commands: ``list`` (registered environments) and ``demo`` (random vs oracle policies on
InterestEvolution-v0, printed as a table). Exit codes: 0 success, 2 bad input, 1 anything
else.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np

from recarena.errors import RecArenaError

__all__ = ["main"]


def _mean_ci(values: np.ndarray) -> tuple[float, float]:
    """Mean and half-width of a normal-approximation 95% confidence interval."""
    from scipy import stats

    n = len(values)
    mean = float(np.mean(values))
    if n < 2:
        return mean, float("nan")
    half = float(stats.t.ppf(0.975, n - 1) * np.std(values, ddof=1) / np.sqrt(n))
    return mean, half


def _cmd_list(args: argparse.Namespace) -> int:
    import recarena
    from recarena.agents import list_policies

    print("environments:")
    for env_id in recarena.list_envs():
        print(f"  {env_id}")
    print("policies (recarena.agents.make_policy(name, env, **arguments)):")
    for entry in list_policies():
        print(f"  {entry.name:22s} {entry.summary} [{entry.paper}]")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    import recarena
    from recarena.agents import GreedyOracle, QualityAwareOracle, RandomPolicy, evaluate

    env = recarena.make(args.env)
    base = env.unwrapped
    policies = [RandomPolicy(base.num_candidates, base.slate_size, seed=args.seed),
                GreedyOracle(base.slate_size)]
    if base.config.user_model.budget is not None:
        policies.append(QualityAwareOracle.from_env(env))
    print(f"{args.env}: {args.episodes} episodes per policy, seeds {args.seed}.."
          f"{args.seed + args.episodes - 1} (same users for every policy)\n")
    header = f"{'policy':<16} {'mean return':>12} {'95% CI':>10} {'clicks':>8} {'length':>8} {'secs':>6}"
    print(header)
    print("-" * len(header))
    for policy in policies:
        t0 = time.perf_counter()
        df = evaluate(policy, env, episodes=args.episodes, seed=args.seed)
        mean, half = _mean_ci(df["return"].to_numpy())
        print(f"{policy.name:<16} {mean:>12.2f} {'+/-':>3}{half:>7.2f} {df['clicks'].mean():>8.1f} "
              f"{df['length'].mean():>8.1f} {time.perf_counter() - t0:>6.1f}")
    env.close()
    print("\noracles read privileged truth (info['oracle']) and are reference upper bounds.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recarena", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_list = sub.add_parser("list", help="list the registered environments and policies")
    p_list.set_defaults(func=_cmd_list)
    p_demo = sub.add_parser("demo", help="random vs oracle policies on an environment")
    p_demo.add_argument("--env", default="recarena/InterestEvolution-v0", help="environment id")
    p_demo.add_argument("--episodes", type=int, default=200, help="episodes per policy")
    p_demo.add_argument("--seed", type=int, default=0, help="first episode seed")
    p_demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except RecArenaError as exc:
        print(f"recarena: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("recarena: interrupted", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
