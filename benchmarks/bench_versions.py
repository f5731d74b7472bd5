"""Single-env speed of several versions of the code, side by side, as ratios to CartPole-v1.

Each revision (a git revision, or ``.`` for the working tree) is laid out as an installed
``recarena`` package in a temporary folder. The revisions then take turns, round after
round, in fresh processes: each process measures CartPole-v1 and the envs through
``gymnasium.make`` under a random policy (as ``bench_single_env.py`` does) and reports each
env's steps/s as a ratio to CartPole's in the same process. Taking turns spreads the
machine's load drift over every revision alike; the medians over rounds are shown, with
the range.

    python benchmarks/bench_versions.py c64bedf HEAD . [--rounds 6] [--steps 8000]
    python benchmarks/bench_versions.py 35d63b1 . --vector 16384   # vector envs, N users

With ``--vector N`` each env is the native vector env with N users under a random policy
(``bench_vector.vector_rate``, about ``steps / 8000`` seconds per measurement) and its
figure is user-steps per second as a ratio to the single CartPole-v1's steps per second.

The temporary package comes first on ``PYTHONPATH``, ahead of the editable install's
finder, and the processes run outside the checkout, so each one imports its revision.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUBPACKAGES = ("envs", "agents", "simulators", "scenarios", "analysis")
DEFAULT_ENVS = ("recarena/InterestEvolution-v0", "recarena/Cascade-v0", "recarena/Slate-v0")

#: Run in each revision's process: the measurement loop is bench_single_env's (from this
#: checkout), the recarena it imports is the revision's.
CHILD = r"""
import json, sys
import recarena
sys.path.insert(0, sys.argv[1])
from bench_single_env import steps_per_second

steps, repeats, users, ids = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
def best(env_id):
    if users and env_id != "CartPole-v1":  # the native vector env: user-steps per second
        from bench_vector import vector_rate
        return max(vector_rate(env_id, users, "random", steps / 8000) for _ in range(repeats))
    return max(steps_per_second(env_id, steps) for _ in range(repeats))
base = best("CartPole-v1")
print(json.dumps({"CartPole-v1": base, **{i: best(i) / base for i in ids},
                  "_file": recarena.__file__}))
"""


def materialise(rev: str, dest: Path) -> Path:
    """Lay ``rev`` out as an installed package under ``dest``; returns the import root."""
    src = dest / "src"
    src.mkdir(parents=True)
    if rev == ".":
        for name in ("recarena", *SUBPACKAGES):
            shutil.copytree(ROOT / name, src / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
    else:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "recarena", *SUBPACKAGES],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    pkg = dest / "pkg"
    shutil.copytree(src / "recarena", pkg / "recarena")
    for name in SUBPACKAGES:
        shutil.copytree(src / name, pkg / "recarena" / name)
    return pkg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("revs", nargs="+", help="git revisions, or . for the working tree")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--repeats", type=int, default=2, help="best of this many per process")
    parser.add_argument("--envs", nargs="+", default=list(DEFAULT_ENVS))
    parser.add_argument("--vector", type=int, default=0, metavar="N",
                        help="measure the native vector env with N users instead")
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {rev: [] for rev in args.revs}
    with tempfile.TemporaryDirectory() as tmp:
        roots = {rev: materialise(rev, Path(tmp) / f"rev{i}") for i, rev in enumerate(args.revs)}
        for _ in range(args.rounds):
            for rev, root in roots.items():
                env = {**os.environ, "PYTHONPATH": str(root)}
                out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "benchmarks"),
                                      str(args.steps),
                                      str(args.repeats), str(args.vector), *args.envs],
                                     cwd=tmp, env=env, check=True, capture_output=True, text=True)
                row = json.loads(out.stdout.strip().splitlines()[-1])
                if not row.pop("_file").startswith(str(root)):
                    raise SystemExit(f"{rev}: imported recarena from outside {root}")
                results[rev].append(row)
    print(f"{args.rounds} rounds, best of {args.repeats} x {args.steps} steps per process; "
          "median [range] over rounds")
    print(f"{'env':<38}" + "".join(f"{rev:>24}" for rev in args.revs))
    for env_id in ("CartPole-v1", *args.envs):
        cells = []
        for rev in args.revs:
            vals = [row[env_id] for row in results[rev]]
            fmt = "{:,.0f}" if env_id == "CartPole-v1" else "{:.3f}"
            cells.append(f"{fmt.format(statistics.median(vals))} "
                         f"[{fmt.format(min(vals))}-{fmt.format(max(vals))}]")
        label = env_id + (" steps/s" if env_id == "CartPole-v1" else " x CP")
        print(f"{label:<38}" + "".join(f"{c:>24}" for c in cells))


if __name__ == "__main__":
    main()
