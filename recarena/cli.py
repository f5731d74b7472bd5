"""The ``recarena`` command line.

Commands: ``list`` (environments, scenarios, policies), ``run`` (a scenario: built-in name
or TOML file), ``report`` / ``plot`` (re-draw a finished run), ``compare`` (summaries of
several runs side by side), ``validate movielens`` (fit users to real logs, measure their
fidelity on held-out data) and ``demo`` (a quick table of random vs oracle policies).
Exit codes: 0 success, 2 bad input (a scenario key, a flag, a missing file: one paragraph,
no traceback), 1 anything else (including Ctrl-C; finished units of a run are kept).
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from recarena.errors import ConfigError, DataError, RecArenaError, UnknownEnvError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad flags as our exit code 2 with one paragraph."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"recarena: error: {message}", file=sys.stderr)
        sys.exit(2)


def _mean_ci(values: np.ndarray) -> tuple[float, float]:
    """Mean and half-width of a Student-t 95% confidence interval."""
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
    from recarena.scenarios import builtin_scenarios, load_scenario

    what = args.what
    if what in ("all", "envs"):
        print("environments:")
        for env_id in recarena.list_envs():
            print(f"  {env_id}")
    if what in ("all", "scenarios"):
        print("scenarios (recarena run NAME):")
        for name in builtin_scenarios():
            desc = " ".join(load_scenario(name).description.split())
            print(f"  {name:22s} {textwrap.shorten(desc, 90)}")
    if what in ("all", "policies"):
        print("policies (recarena.agents.make_policy(name, env, **arguments)):")
        for entry in list_policies():
            print(f"  {entry.name:22s} {entry.summary} [{entry.paper}]")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from recarena.analysis.report import format_table
    from recarena.scenarios import load_scenario, run_scenario

    if args.resume is not None:
        if args.scenario is not None or args.set or args.seeds is not None or args.out:
            raise ConfigError("--resume", args.resume, "no scenario, --set, --seeds or --out "
                              "with it (the run folder's manifest fixes them)")
        spec = None
    else:
        if args.scenario is None:
            raise ConfigError("scenario", None, "a built-in scenario name or a .toml file "
                              "(or --resume RUN_DIR)")
        sets = list(args.set)
        if args.seeds is not None:
            sets.append(f"run.seeds={args.seeds}")
        spec = load_scenario(args.scenario, sets)
    t0 = time.perf_counter()
    run_dir = run_scenario(spec, out=args.out, workers=args.workers, backend=args.backend,
                           resume=args.resume, quiet=args.quiet)
    summary = json.loads((run_dir / "summary.json").read_text())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    metrics = manifest["scenario"]["report"]["metrics"] or None
    print(f"{summary['scenario']} on {summary['env']}: {summary['users']} users x "
          f"{summary['steps']} steps, seeds {summary['seeds']} "
          f"({time.perf_counter() - t0:.1f} s)\n")
    print(format_table(summary, metrics, markdown=False))
    print(f"\nrun folder: {run_dir}  (report: {run_dir / 'report.md'})")
    return 0


def _run_dir(path: str) -> Path:
    p = Path(path)
    if not (p / "manifest.json").is_file():
        raise ConfigError("RUN_DIR", path, "a run folder written by `recarena run` "
                          "(with manifest.json)")
    return p


def _cmd_report(args: argparse.Namespace) -> int:
    from recarena.scenarios.runner import finalize

    run_dir = _run_dir(args.run_dir)
    finalize(run_dir, report=True)
    print(run_dir / "report.md")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from recarena.analysis.report import plot_run

    run_dir = _run_dir(args.run_dir)
    if not (run_dir / "summary.json").is_file():
        raise ConfigError("RUN_DIR", args.run_dir, "a finished run (resume it first)")
    for path in plot_run(run_dir):
        print(path)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from recarena.analysis.report import format_table

    if len(args.run_dirs) < 1:
        raise ConfigError("RUN_DIR", args.run_dirs, "at least one run folder")
    merged: dict = {}
    for path in args.run_dirs:
        run_dir = _run_dir(path)
        sfile = run_dir / "summary.json"
        if not sfile.is_file():
            raise ConfigError("RUN_DIR", path, "a finished run (resume it first)")
        s = json.loads(sfile.read_text())
        if not merged:
            merged = {k: v for k, v in s.items() if k != "policies"}
            merged["policies"], merged["policy_order"] = {}, []
        for pol in s.get("policy_order") or s["policies"]:
            label = f"{run_dir.name}/{pol}"
            entry = {m: {k: v for k, v in e.items() if k != "diff_vs_baseline"}
                     for m, e in s["policies"][pol].items()}
            merged["policies"][label] = entry
            merged["policy_order"].append(label)
    merged["baseline"] = merged["policy_order"][0]
    print(format_table(merged, args.metric or None, markdown=args.markdown))
    print("\n(rows from different runs are not paired: their CIs are per run)")
    return 0


def validate_movielens(data: str | None = None, obd: str | None = None, seed: int = 0,
                       simulate: bool = True) -> dict:
    """Fit MovieLens users and measure their fidelity on held-out data (the numbers
    ``recarena validate movielens`` prints)."""
    from recarena.simulators.data import load_movielens, load_obd
    from recarena.simulators.data.calibrate import fit_movielens
    from recarena.simulators.data.fidelity import (
        distribution_fidelity,
        position_fidelity,
        ranking_fidelity,
    )

    ml = load_movielens(data)
    fitted, train, test = fit_movielens(ml, seed=seed)
    ranking = ranking_fidelity(fitted, train, test, seed=seed)
    out = {"dataset": ml.name, "fit": {
        "inverse_temperature": float(fitted.weights[0]),
        "inverse_temperature_se": float(fitted.weights_stderr[0]),
        "popularity_weight": float(fitted.weights[1]),
        "popularity_weight_se": float(fitted.weights_stderr[1]),
        "no_click_utility_assumed": fitted.no_click_utility,
        "activity_lognormal": list(fitted.activity), "settings": fitted.settings},
        "ranking": ranking.to_dict(orient="records")}
    if simulate:
        out["distributions"] = distribution_fidelity(fitted, ml.ratings, seed=seed)
    pos = position_fidelity(load_obd(obd))
    out["position"] = {"table": pos["table"].to_dict(orient="records"), "chi2": pos["chi2"],
                       "p_value": pos["p_value"], "fit_rows": pos["fit_rows"],
                       "heldout_rows": pos["heldout_rows"]}
    sim = ranking.set_index("scorer")
    out["target_met"] = bool(sim.loc["simulator", "auc"] > sim.loc["most popular", "auc"]
                             and sim.loc["simulator", "recall@10"]
                             > sim.loc["most popular", "recall@10"])
    return out


def _cmd_validate(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    res = validate_movielens(args.data, args.obd, args.seed)
    fit = res["fit"]
    print(f"MovieLens ({res['dataset']}): users fitted on each user's earlier 80% of ratings, "
          f"validated on the later 20%\n")
    print("choice model: utility = a <x_u, y_i> + c log(1 + popularity_i)")
    print(f"  a (inverse temperature) = {fit['inverse_temperature']:.3f} "
          f"± {1.96 * fit['inverse_temperature_se']:.3f}, c = {fit['popularity_weight']:.3f} "
          f"± {1.96 * fit['popularity_weight_se']:.3f} (95%, {fit['settings']['choice_events']:,} "
          f"held-out choices)")
    print(f"  no-click utility {fit['no_click_utility_assumed']:.3f}: ASSUMED (the "
          f"{fit['settings']['no_click_quantile']:.0%} quantile of unseen-movie utilities; "
          "MovieLens has no impressions)")
    mu, sigma = fit["activity_lognormal"]
    print(f"  ratings per user ~ LogNormal(mu={mu:.3f}, sigma={sigma:.3f}) "
          f"(median {np.exp(mu):.0f})\n")
    print("held-out next items (per-user AUC and recall@10, mean over users):")
    for row in res["ranking"]:
        print(f"  {row['scorer']:<13} AUC {row['auc']:.4f}  recall@10 {row['recall@10']:.4f}"
              f"  ({row['users']} users)")
    if "distributions" in res:
        d = res["distributions"]
        print("\nsimulated (random slates, one session per fitted user) vs real:")
        print(f"  item popularity: KS {d['item_popularity_ks']:.3f}, Spearman "
              f"{d['item_popularity_spearman']:.3f}, Gini {d['gini_simulated']:.3f} vs "
              f"{d['gini_real']:.3f}")
        print(f"  user activity:   KS {d['user_activity_ks']:.3f}, median "
              f"{d['activity_median_simulated']:.0f} clicks vs {d['activity_median_real']:.0f} "
              "ratings")
    p = res["position"]
    print(f"\nposition examination (Open Bandit random policy; fit on {p['fit_rows']:,} rows, "
          f"held out {p['heldout_rows']:,}):")
    for r in p["table"]:
        print(f"  position {int(r['position']) + 1}: examination {r['examination']:.2f} "
              f"[{r['examination_low']:.2f}, {r['examination_high']:.2f}]  held-out CTR "
              f"{r['heldout_ctr']:.4f} [{r['heldout_ctr_low']:.4f}, {r['heldout_ctr_high']:.4f}]"
              f"  clicks {r['heldout_clicks']} (expected {r['heldout_expected_clicks']:.1f})")
    print(f"  held-out chi2 {p['chi2']:.2f}, p = {p['p_value']:.3f} (few clicks: wide intervals)")
    verdict = "met" if res["target_met"] else "NOT met"
    print(f"\ntarget (simulator above most-popular on AUC and recall@10): {verdict} "
          f"({time.perf_counter() - t0:.1f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, default=float) + "\n")
    return 0 if res["target_met"] or not args.strict else 1


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
    parser = _Parser(prog="recarena", description=__doc__.split("\n")[0],
                     epilog="exit codes: 0 success, 2 bad input, 1 other errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("list", help="list environments, built-in scenarios and policies")
    p.add_argument("what", nargs="?", default="all", choices=["all", "envs", "scenarios", "policies"])
    p.set_defaults(func=_cmd_list)

    from recarena.scenarios.spec import describe_schema

    p = sub.add_parser("run", help="run a scenario (built-in name or .toml file)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="scenario keys (type, default, meaning):\n"
                       + textwrap.indent(describe_schema(), "  "))
    p.add_argument("scenario", nargs="?", help="built-in scenario name or path to a .toml file")
    p.add_argument("--seeds", type=int, help="number of seeds (overrides run.seeds)")
    p.add_argument("--out", help="run folder to create (default runs/NAME-TIME)")
    p.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override a scenario key, e.g. --set run.users=64 (repeatable)")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes")
    p.add_argument("--backend", choices=["process", "ray"], default="process",
                   help="where units run: local processes, or Ray (recarena[ray])")
    p.add_argument("--resume", metavar="RUN_DIR", help="finish an interrupted run")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("report", help="(re)write summary.json, report.md and plots of a run")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.set_defaults(func=_cmd_report)
    p = sub.add_parser("plot", help="(re)draw the plots of a finished run")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.set_defaults(func=_cmd_plot)
    p = sub.add_parser("compare", help="summaries of finished runs side by side")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--metric", action="append", default=[], help="metric to show (repeatable)")
    p.add_argument("--markdown", action="store_true", help="markdown table")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("validate", help="fit simulated users to real logs and measure their "
                       "fidelity on held-out data")
    p.add_argument("dataset", choices=["movielens"], help="what to validate")
    p.add_argument("--data", help="MovieLens folder (ml-latest-small, ml-100k or ml-1m format; "
                   "default: the shipped ml-latest-small)")
    p.add_argument("--obd", help="Open Bandit Dataset folder (default: the shipped sample)")
    p.add_argument("--seed", type=int, default=0, help="fitting and simulation seed")
    p.add_argument("--json", help="also write the numbers to this JSON file")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when the simulator does not beat most-popular")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("demo", help="random vs oracle policies on an environment")
    p.add_argument("--env", default="recarena/InterestEvolution-v0", help="environment id")
    p.add_argument("--episodes", type=int, default=200, help="episodes per policy")
    p.add_argument("--seed", type=int, default=0, help="first episode seed")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (ConfigError, DataError, UnknownEnvError, FileNotFoundError) as exc:
        print(f"recarena: error: {exc}", file=sys.stderr)
        return 2
    except RecArenaError as exc:
        print(f"recarena: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("recarena: interrupted; finished units are kept (recarena run --resume RUN_DIR)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
