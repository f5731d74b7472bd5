"""Mean return (95% CI) of every registered policy on InterestEvolution-v0 and Cascade-v0,
against the random and oracle references: the README's policy table.

    python benchmarks/bench_policy_table.py [--users-ie 500] [--users-cascade 200]

Each policy runs on the native vector env with the same seed (the same users: a paired
comparison); bandits learn online per user (their default ``scope="user"``) for the
whole episode. A policy that does not apply to an env (e.g. an item bandit on
InterestEvolution, whose candidates are new items every step) is marked n/a with why.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import recarena  # noqa: F401
from recarena.agents import evaluate, list_policies, make_policy
from recarena.errors import ConfigError

ENVS = {"recarena/InterestEvolution-v0": "users_ie", "recarena/Cascade-v0": "users_cascade"}
SKIP = {"feature_sort"}  # needs a named observation entry; covered by the RecSim benchmarks


def cell(name: str, env_id: str, users: int, seed: int) -> str:
    try:
        policy = make_policy(name, env_id)
    except ConfigError as err:
        text = str(err)
        if "catalog" in text:
            return "n/a (no catalog)"
        if "observation entry" in text:
            return "n/a (no features)"
        if "TimeBudget" in text:
            return "n/a (no budget)"
        return "n/a"
    ret = evaluate(policy, env_id, users=users, seed=seed)["return"].to_numpy()
    half = 1.96 * ret.std(ddof=1) / np.sqrt(len(ret))
    return f"{ret.mean():.1f} ± {half:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users-ie", type=int, default=500)
    parser.add_argument("--users-cascade", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    t0 = time.perf_counter()
    print("| policy | paper | needs | InterestEvolution-v0 | Cascade-v0 |")
    print("|---|---|---|---:|---:|")
    for entry in list_policies():
        if entry.name in SKIP:
            continue
        cells = [cell(entry.name, env_id, getattr(args, attr), args.seed)
                 for env_id, attr in ENVS.items()]
        print(f"| `{entry.name}` | {entry.paper} | {entry.needs or '-'} | " + " | ".join(cells) + " |")
    print(f"\n{args.users_ie} users on InterestEvolution-v0, {args.users_cascade} users x 1,000 "
          f"steps on Cascade-v0, seed {args.seed}; {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
