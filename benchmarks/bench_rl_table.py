"""The RL results table: one row per `recarena train` run folder.

Reads every run folder given (or every folder under ``runs/rl``) and prints a markdown
table: env, algorithm, settings that differ from the defaults, env steps and wall time,
the final greedy evaluation (mean return, 95% CI over the evaluation users), the paired
difference to random, and the references measured on the same users. Runs of the same
env, algorithm, settings and budget with several training seeds are also pooled: the mean of the seeds'
final returns with a Student-t CI over seeds.

    python benchmarks/bench_rl_table.py runs/rl/*
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from recarena.analysis.stats import mean_ci


def _row(d: Path) -> dict:
    plan = json.loads((d / "train.json").read_text())["plan"]
    ev = pd.read_csv(d / "eval.csv")
    refs = pd.read_csv(d / "references.csv")
    prog = pd.read_csv(d / "progress.csv")
    f = ev.iloc[-1]
    return {
        "run": d.name, "env": plan["env"].removeprefix("recarena/"),
        "env_args": ", ".join(f"{k}={v}" for k, v in plan["env_kwargs"].items()),
        "algo": plan["algo"], "seed": plan["seed"], "users": plan["users"],
        "budget": f"{plan['steps']:,} steps" + (f", {plan['time_limit']:g} s"
                                                if plan.get("time_limit") else ""),
        "settings": ", ".join(f"{k}={v}" for k, v in plan["settings"].items()),
        "steps": int(f["global_step"]), "wall_s": float(prog["wall_time"].iloc[-1]),
        "return": f["return"], "low": f["low"], "high": f["high"],
        "vs_random": f.get("vs_random"), "vs_low": f.get("vs_random_low"),
        "vs_high": f.get("vs_random_high"),
        "refs": "; ".join(f"{p} {v:.1f}" for p, v in zip(refs["policy"], refs["return"],
                                                           strict=True)),
        "best": float(ev["return"].max()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="*", help="run folders (default: runs/rl/*)")
    args = ap.parse_args()
    dirs = [Path(p) for p in args.runs] or sorted(Path("runs/rl").glob("*"))
    rows = [_row(d) for d in dirs if (d / "eval.csv").is_file() and (d / "references.csv").is_file()]
    print("| env | algorithm | settings | env steps | wall time | return (95% CI) | − random "
          "(paired) | references (same users) |")
    print("|---|---|---|---:|---:|---:|---:|---|")
    for r in rows:
        env = r["env"] + (f" ({r['env_args']})" if r["env_args"] else "")
        print(f"| {env} | {r['algo']} (seed {r['seed']}, {r['users']} users) | "
              f"{r['settings'] or '-'} | {r['steps']:,} | {r['wall_s']:.0f} s | "
              f"{r['return']:.1f} [{r['low']:.1f}, {r['high']:.1f}] | "
              f"{r['vs_random']:+.1f} [{r['vs_low']:+.1f}, {r['vs_high']:+.1f}] | {r['refs']} |")
    frame = pd.DataFrame(rows)
    if frame.empty:
        return
    pooled = frame.groupby(["env", "algo", "settings", "budget"])
    lines = []
    for (env, algo, settings, budget), g in pooled:
        if len(g) < 2:
            continue
        x = g["return"].to_numpy()
        ci = mean_ci(x)
        half = ci["high"] - ci["mean"]
        lines.append(f"| {env} | {algo} | {settings or '-'} | {budget} | {len(x)} seeds | "
                     f"{x.mean():.1f} ± {half:.1f} | {', '.join(f'{v:.1f}' for v in x)} |")
    if lines:
        print("\nAcross training seeds (final greedy return; Student-t CI over seeds):\n")
        print("| env | algorithm | settings | budget | seeds | mean ± 95% CI | per seed |")
        print("|---|---|---|---|---:|---:|---|")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
