"""The ``recarena`` command line.

Commands: ``list`` (environments, scenarios, policies and which envs they fit, metrics),
``show`` (a built-in scenario's TOML, to copy and edit), ``run`` (a scenario: built-in name
or TOML file), ``train`` (an RL agent, with periodic paired evaluation; see
:mod:`recarena.scenarios.train`), ``report`` / ``plot`` (re-draw a finished run), ``compare`` (summaries of
several runs side by side), ``validate movielens`` (fit users to real logs, measure their
fidelity on held-out data) and ``demo`` (a quick table of random vs oracle policies).
Exit codes: 0 success, 2 bad input (a scenario key, a flag, a missing file, a folder that
cannot be written, an LLM endpoint that cannot be used: one paragraph, no traceback), 1
anything else (including Ctrl-C and a spent LLM budget; finished units of a run are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from recarena import __version__
from recarena.errors import (
    BudgetExhausted,
    ConfigError,
    DataError,
    LLMBackendError,
    RecArenaError,
    UnknownEnvError,
)

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


def _os_error(exc: OSError, field: str, todo: str) -> ConfigError:
    """An OSError from reading or writing files, as a ConfigError naming the path."""
    path = exc.filename if exc.filename is not None else "a file"
    return ConfigError(field, str(path), f"a path recarena can write ({exc.strerror or exc}); "
                                         f"{todo}")


def env_descriptions() -> dict[str, str]:
    """One line per registered env id: the ``what`` column of :mod:`recarena.envs`' table,
    else the first line of the env class's docstring."""
    import re

    import gymnasium as gym

    import recarena
    import recarena.envs

    table = {m.group(1): m.group(2).strip() for m in re.finditer(
        r"^``(recarena/[\w.-]+)``\s+(.+)$", recarena.envs.__doc__ or "", re.MULTILINE)}
    out = {}
    for env_id in recarena.list_envs():
        text = table.get(env_id)
        if text is None:
            from gymnasium.envs.registration import load_env_creator

            doc = getattr(load_env_creator(gym.spec(env_id).entry_point), "__doc__", "") or ""
            text = doc.strip().splitlines()[0] if doc.strip() else ""
        out[env_id] = text
    return out


def policy_fits() -> dict[str, list[str] | str]:
    """For every registered policy, the env ids it builds for and runs on with its default
    arguments (built for a one-user vector env, one recommend, step and update); for a
    policy with required arguments, what it needs instead."""
    import inspect

    import gymnasium as gym

    import recarena
    from recarena.agents import list_policies, make_policy
    from recarena.agents.base import public_info

    entries = list_policies()
    out: dict[str, list[str] | str] = {e.name: [] for e in entries}
    for env_id in recarena.list_envs():
        envs = gym.make_vec(env_id, num_envs=1, vectorization_mode="vector_entry_point")
        try:
            obs, info = envs.reset(seed=0)
            for e in entries:
                fits = out[e.name]
                assert isinstance(fits, list)
                try:
                    pol = make_policy(e.name, envs)
                    pol.reset()
                    seen = info if pol.is_oracle else public_info(info)
                    slates = np.asarray(pol.recommend(obs, seen))
                    _, reward, _, _, nxt = envs.step(slates)
                    if callable(getattr(pol, "update", None)):
                        pol.update(obs, slates, nxt["response"], reward, seen)
                    envs.reset(seed=0)
                    fits.append(env_id)
                except Exception:  # noqa: BLE001 - any failure means "does not fit"
                    obs, info = envs.reset(seed=0)
        finally:
            envs.close()
    for e in entries:  # fits nowhere by default: it needs arguments (a constructor's required)
        params = inspect.signature(e.cls.__init__).parameters
        required = [n for n in e.arguments if params[n].default is inspect.Parameter.empty
                    and params[n].kind in (params[n].POSITIONAL_OR_KEYWORD, params[n].KEYWORD_ONLY)]
        if not out[e.name] and required:
            out[e.name] = f"envs with {e.needs}, given the argument(s) {', '.join(required)}"
    return out


def _short(env_id: str) -> str:
    return env_id.removeprefix("recarena/")


def _cmd_list(args: argparse.Namespace) -> int:
    import recarena
    from recarena.agents import list_policies
    from recarena.scenarios import builtin_scenarios, load_scenario

    what = args.what
    width = max(60, min(120, _width()))
    if what in ("all", "envs"):
        print("environments (recarena.make(ID), gym.make(ID)):")
        for env_id, desc in env_descriptions().items():
            print(f"  {env_id:34s} {textwrap.shorten(desc, max(20, width - 37))}")
    if what in ("all", "scenarios"):
        print("scenarios (recarena run NAME; recarena show NAME > my.toml to copy one):")
        for name in builtin_scenarios():
            desc = " ".join(load_scenario(name).description.split())
            print(f"  {name:22s} {textwrap.shorten(desc, max(20, width - 25))}")
    if what in ("all", "policies"):
        print("policies (scenario [[policies]] or recarena.agents.make_policy(name, env, "
              "**arguments));\n  fits: the envs it runs on with default arguments")
        fits = policy_fits()
        every = list(recarena.list_envs())
        for entry in list_policies():
            print(textwrap.fill(f"{entry.name:22s} {entry.summary} [{entry.paper}]", width,
                                initial_indent="  ", subsequent_indent=" " * 25))
            f = fits[entry.name]
            text = (f if isinstance(f, str) else "every env" if f == every
                    else ", ".join(map(_short, f)) if f else "none with default arguments")
            print(textwrap.fill(f"fits: {text}", width, initial_indent=" " * 25,
                                subsequent_indent=" " * 31))
        print("reference policies by env (they read privileged truth, info['oracle']: upper "
              "references,\n  not learners; each one's applicability check decides where it fits)")
        references = [e.name for e in list_policies() if getattr(e.cls, "is_oracle", False)]
        for env_id in every:
            names = [n for n in references if env_id in fits[n]]
            print(textwrap.fill(f"{_short(env_id):24s} {', '.join(names) or 'none'}", width,
                                initial_indent="  ", subsequent_indent=" " * 27))
    if what in ("all", "metrics"):
        from recarena.analysis.summary import METRICS

        print("metrics (report.metrics, recarena compare --metric; ↑ higher is better):")
        for name, (desc, higher) in METRICS.items():
            print(f"  {name:22s} {'↑' if higher else '↓'} {desc}")
    return 0


def _width() -> int:
    import shutil

    return shutil.get_terminal_size((100, 24)).columns


def _cmd_show(args: argparse.Namespace) -> int:
    from recarena.scenarios.spec import scenario_text

    sys.stdout.write(scenario_text(args.name))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from recarena.analysis.tables import format_table, wall_time_text
    from recarena.scenarios import load_scenario, run_scenario

    if args.resume is not None:
        if args.scenario is not None or args.seeds is not None or args.out or args.dry_run:
            raise ConfigError("--resume", args.resume, "no scenario, --seeds, --out or "
                              "--dry-run with it (the run folder's manifest fixes them; --set "
                              "only for llm keys such as a larger llm.max_cost)")
        spec = None
    else:
        if args.scenario is None:
            raise ConfigError("scenario", None, "a built-in scenario name or a .toml file "
                              "(or --resume RUN_DIR)")
        sets = list(args.set)
        if args.seeds is not None:
            sets.append(f"run.seeds={args.seeds}")
        spec = load_scenario(args.scenario, sets)
        if args.dry_run:
            from recarena.scenarios.llm_run import estimate_run, format_estimate

            print(format_estimate(estimate_run(spec)))
            return 0
    try:
        run_dir = run_scenario(spec, out=args.out, workers=args.workers, backend=args.backend,
                               resume=args.resume, quiet=args.quiet,
                               llm_overrides=args.set if args.resume is not None else ())
    except OSError as exc:
        raise _os_error(exc, "writing the run", "finished units are kept: make room or fix the "
                        "folder, then `recarena run --resume RUN_DIR`") from None
    summary = json.loads((run_dir / "summary.json").read_text())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    metrics = manifest["scenario"]["report"]["metrics"] or None
    print(f"{summary['scenario']} on {summary['env']}: {summary['users']} users x "
          f"{summary['steps']} steps, seeds {summary['seeds']}; wall time "
          f"{wall_time_text(manifest)}\n")
    print(format_table(summary, metrics, markdown=False))
    if summary.get("llm_usage") is not None:
        from recarena.scenarios.llm_run import usage_text

        print("\n" + usage_text(summary["llm_usage"], summary["llm_usage"].get("seconds", 0))
              + f" ({summary['llm_usage'].get('decisions', 0)} decisions; "
              f"{manifest['llm']['endpoint']['base_url']})")
    print(f"\nrun folder: {run_dir}  (report: {run_dir / 'report.md'})")
    return 0


def _run_dir(path: str) -> Path:
    p = Path(path)
    if not (p / "manifest.json").is_file():
        raise ConfigError("RUN_DIR", path, "a run folder written by `recarena run` "
                          "(with manifest.json)")
    return p


_COPY_RUN = "copy the run folder somewhere writable (cp -r RUN_DIR COPY) and run this on the copy"


def _writable_run(run_dir: Path, plots: bool) -> None:
    """Check up front that the run folder (and plots/) can be written, so that nothing is
    half rewritten when it cannot."""
    from recarena.scenarios.runner import check_writable

    check_writable(run_dir, "RUN_DIR", _COPY_RUN)
    if plots and (run_dir / "plots").exists():
        check_writable(run_dir / "plots", "RUN_DIR", _COPY_RUN)


def _cmd_report(args: argparse.Namespace) -> int:
    from recarena.scenarios.runner import finalize

    run_dir = _run_dir(args.run_dir)
    _writable_run(run_dir, plots=True)
    try:
        finalize(run_dir, report=True)
    except OSError as exc:
        raise _os_error(exc, "RUN_DIR", _COPY_RUN) from None
    print(run_dir / "report.md")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from recarena.analysis.report import plot_run

    run_dir = _run_dir(args.run_dir)
    if not (run_dir / "summary.json").is_file():
        raise ConfigError("RUN_DIR", args.run_dir, "a finished run (resume it first)")
    _writable_run(run_dir, plots=True)
    try:
        paths = plot_run(run_dir)
    except OSError as exc:
        raise _os_error(exc, "RUN_DIR", _COPY_RUN) from None
    for path in paths:
        print(path)
    return 0


#: what must match for two runs' units of the same seed to face the same users
_PAIRING = (("env", "id"), ("env", "config"), ("run", "users"), ("run", "steps"),
            ("run", "until"), ("run", "days"))


def _paired_runs(manifests: list[dict[str, Any]]) -> bool:
    """Whether units of the same seed in these runs faced the same users and randomness:
    same env and env config, users, steps, horizon and seeds (common random numbers)."""
    first = manifests[0]
    for m in manifests[1:]:
        if m["seeds"] != first["seeds"]:
            return False
        for section, key in _PAIRING:
            if m["scenario"][section].get(key) != first["scenario"][section].get(key):
                return False
    return len(first["seeds"]) >= 1


def _cmd_compare(args: argparse.Namespace) -> int:
    from recarena.analysis.summary import METRICS, aggregate
    from recarena.analysis.tables import available_metrics, format_table

    runs = []
    for path in args.run_dirs:
        run_dir = _run_dir(path)
        sfile = run_dir / "summary.json"
        if not sfile.is_file():
            raise ConfigError("RUN_DIR", path, "a finished run (resume it first)")
        runs.append((run_dir, json.loads((run_dir / "manifest.json").read_text()),
                     json.loads(sfile.read_text())))
    names = [r[0].name for r in runs]  # a repeated name gets #2, #3, ... after the first
    prefixes = [n if names[:i].count(n) == 0 else f"{n}#{names[:i].count(n) + 1}"
                for i, n in enumerate(names)]
    merged: dict = {k: v for k, v in runs[0][2].items() if k != "policies"}
    merged["policies"], merged["policy_order"] = {}, []
    paired = len(runs) == 1 or _paired_runs([m for _, m, _ in runs])
    per_unit: dict[tuple[int, str], dict[str, float]] = {}
    for prefix, (run_dir, manifest, s) in zip(prefixes, runs, strict=True):
        for pol in s.get("policy_order") or s["policies"]:
            label = pol if len(runs) == 1 else f"{prefix}/{pol}"
            merged["policies"][label] = s["policies"][pol]
            merged["policy_order"].append(label)
            if paired and len(runs) > 1:
                for seed in manifest["seeds"]:
                    unit = run_dir / "units" / f"seed{seed}-{pol}" / "unit.json"
                    per_unit[(seed, label)] = json.loads(unit.read_text())["metrics"]
        merged["metric_descriptions"] = s["metric_descriptions"] | merged["metric_descriptions"]
        merged["higher_is_better"] = s["higher_is_better"] | merged["higher_is_better"]
    base0 = runs[0][2]["baseline"]
    merged["baseline"] = base0 if len(runs) == 1 else f"{prefixes[0]}/{base0}"
    if len(runs) > 1:
        if paired:  # the differences to the first run's baseline, paired by seed
            merged |= aggregate(per_unit, merged["policy_order"], merged["baseline"])
        else:
            merged["policies"] = {
                label: {m: {k: v for k, v in e.items() if k != "diff_vs_baseline"}
                        for m, e in entry.items()}
                for label, entry in merged["policies"].items()}
    if args.metric:
        known = list(merged["metric_descriptions"]) or list(METRICS)
        unknown = [m for m in args.metric if m not in known]
        if unknown:
            raise ConfigError("--metric", unknown[0] if len(unknown) == 1 else unknown,
                              "metric names among " + ", ".join(known))
        have = available_metrics(merged)
        absent = [m for m in args.metric if m not in have]
        if absent:
            raise ConfigError("--metric", absent[0] if len(absent) == 1 else absent,
                              "metrics these runs computed: " + ", ".join(have))
    print(format_table(merged, args.metric or None, markdown=args.markdown))
    if len(runs) > 1:
        if paired:
            print(f"\n(paired by seed across runs: same env, env config, users, steps and "
                  f"seeds {runs[0][1]['seeds']}; Δ is the difference to {merged['baseline']})")
        else:
            print("\n(no Δ: these runs differ in env, env config, users, steps or seeds, so "
                  "their units are not paired; each CI is per run)")
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
    out["targets"] = fidelity_targets(out)
    out["target_met"] = all(t["met"] for t in out["targets"] if t["group"] == "ranking")
    out["all_targets_met"] = all(t["met"] for t in out["targets"])
    return out


#: fidelity targets of ``recarena validate movielens``: (name, group, what it measures,
#: direction, threshold). The ranking targets compare with the most-popular scorer on the
#: same held-out items. The KS thresholds are tolerances, not significance tests (with
#: ~9,700 items and 610 users a KS test rejects even tiny differences): 0.2 means the two
#: CDFs are nowhere more than 20 percentage points apart. A Spearman correlation of 0.5 is
#: "moderate" rank agreement of item popularity; a Gini gap of 0.1 keeps the concentration
#: of clicks on items close; p >= 0.05 means the held-out position clicks do not contradict
#: the fitted examination curve (a weak check: the log has few clicks).
TARGETS = (
    ("simulator AUC > most popular", "ranking", "auc", ">", None),
    ("simulator recall@10 > most popular", "ranking", "recall@10", ">", None),
    ("item popularity KS <= 0.2", "distributions", "item_popularity_ks", "<=", 0.2),
    ("item popularity Spearman >= 0.5", "distributions", "item_popularity_spearman", ">=", 0.5),
    ("item popularity Gini gap <= 0.1", "distributions", "gini_gap", "<=", 0.1),
    ("user activity KS <= 0.2", "distributions", "user_activity_ks", "<=", 0.2),
    ("position clicks chi2 p >= 0.05", "position", "p_value", ">=", 0.05),
)


def fidelity_targets(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Each fidelity target with its value, threshold and whether it is met (targets whose
    numbers were not computed are left out)."""
    ranking = {r["scorer"]: r for r in res["ranking"]}
    out = []
    for name, group, key, op, threshold in TARGETS:
        if group == "ranking":
            value = float(ranking["simulator"][key])
            threshold = float(ranking["most popular"][key])
        elif group == "distributions":
            if "distributions" not in res:
                continue
            d = res["distributions"]
            value = (abs(d["gini_simulated"] - d["gini_real"]) if key == "gini_gap"
                     else float(d[key]))
        else:
            value = float(res["position"][key])
        met = {">": value > threshold, ">=": value >= threshold, "<=": value <= threshold}[op]
        out.append({"name": name, "group": group, "value": value, "op": op,
                    "threshold": threshold, "met": bool(met)})
    return out


#: the options of each ``recarena validate`` dataset (refused with the other one)
_LLM_OPTIONS = ("base_url", "model", "api_key_env", "users", "pairs", "cache", "local",
                "timeout", "max_retries", "max_cost", "response_format")
_MOVIELENS_OPTIONS = ("data", "obd", "strict")


def _cmd_validate_llm(args: argparse.Namespace) -> int:
    """``recarena validate llm``: LLM-user fidelity (recarena.simulators.llm.fidelity)."""
    from recarena.simulators.llm.fidelity import validate_llm

    t0 = time.perf_counter()
    report = validate_llm(args.base_url, args.model, args.api_key_env,
                          20 if args.users is None else args.users,
                          5 if args.pairs is None else args.pairs, args.seed, args.cache,
                          args.local, args.timeout,
                          4 if args.max_retries is None else args.max_retries, args.max_cost,
                          args.response_format)
    n = report.notes
    print(f"LLM-user fidelity on held-out MovieLens ({n.get('dataset')}): personas from each "
          f"user's earlier {1 - n.get('holdout', 0.2):.0%} of ratings, questions on the later "
          f"{n.get('holdout', 0.2):.0%} (Agent4Rec / SimUSER protocol; seed {args.seed})\n")
    print(report.table())
    print(f"({time.perf_counter() - t0:.1f} s)")
    if args.json:
        try:
            Path(args.json).write_text(json.dumps(report.as_dict(), indent=1, default=float)
                                       + "\n")
        except OSError as exc:
            raise _os_error(exc, "--json", "choose a file in a folder you can write to") from None
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    mine, other = ((_LLM_OPTIONS, _MOVIELENS_OPTIONS) if args.dataset == "llm"
                   else (_MOVIELENS_OPTIONS, _LLM_OPTIONS))
    for name in other:
        if getattr(args, name) not in (None, False):
            raise ConfigError("--" + name.replace("_", "-"), getattr(args, name),
                              f"no such option for `validate {args.dataset}` (its options: "
                              + ", ".join("--" + m.replace("_", "-") for m in mine) + ")")
    if args.dataset == "llm":
        return _cmd_validate_llm(args)
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
    targets = res["targets"]
    met = sum(t["met"] for t in targets)
    print(f"\ntargets: {met} of {len(targets)} met ({time.perf_counter() - t0:.1f} s)")
    name_w = max(len(t["name"]) for t in targets)
    print(f"  {'target':<{name_w}}  {'value':>7}  {'threshold':>11}  verdict")
    for t in targets:
        print(f"  {t['name']:<{name_w}}  {t['value']:>7.3f}  {t['op']:>2} {t['threshold']:>8.3f}  "
              f"{'met' if t['met'] else 'NOT met'}")
    print("  (why these thresholds: recarena.cli.TARGETS; the KS, Spearman and Gini ones are "
          "tolerances, not significance tests)")
    verdict = "met" if res["target_met"] else "NOT met"
    print(f"target (simulator above most-popular on AUC and recall@10): {verdict}; this is what "
          "--strict checks, the other targets are reported only")
    if args.json:
        try:
            Path(args.json).write_text(json.dumps(res, indent=1, default=float) + "\n")
        except OSError as exc:
            raise _os_error(exc, "--json", "choose a file in a folder you can write to") from None
    return 0 if res["target_met"] or not args.strict else 1


def _cmd_demo(args: argparse.Namespace) -> int:
    import recarena
    from recarena.agents import GreedyOracle, QualityAwareOracle, RandomPolicy, evaluate
    from recarena.validation import check_int

    # every check before the first line of output
    check_int(args.episodes, "--episodes", 1)
    check_int(args.seed, "--seed", 0)
    env = recarena.make(args.env)
    base = env.unwrapped
    policies = [RandomPolicy(base.num_candidates, base.slate_size, seed=args.seed),
                GreedyOracle(base.slate_size)]
    if QualityAwareOracle.fits(env):
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
    parser.add_argument("--version", action="version", version=f"recarena {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("list", help="list environments, built-in scenarios, policies (and the "
                       "envs each fits) and metrics")
    p.add_argument("what", nargs="?", default="all",
                   choices=["all", "envs", "scenarios", "policies", "metrics"])
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("show", help="print a built-in scenario's TOML "
                       "(recarena show quickstart > my.toml; recarena run my.toml)")
    p.add_argument("name", metavar="NAME", help="built-in scenario name (recarena list scenarios)")
    p.set_defaults(func=_cmd_show)

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
    p.add_argument("--resume", metavar="RUN_DIR", help="finish an interrupted run (with "
                   "--set llm.max_cost=MORE etc. after a spent LLM budget)")
    p.add_argument("--dry-run", action="store_true", help="LLM users: estimate requests, "
                   "tokens and cost, send nothing, write nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("report", help="(re)write summary.json, report.md and plots of a run")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.set_defaults(func=_cmd_report)
    p = sub.add_parser("plot", help="(re)draw the plots of a finished run")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.set_defaults(func=_cmd_plot)
    p = sub.add_parser("compare", help="summaries of finished runs side by side (with paired "
                       "differences when the runs share env, users, steps and seeds)")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--metric", action="append", default=[],
                   help="metric to show (repeatable; recarena list metrics names them)")
    p.add_argument("--markdown", action="store_true", help="markdown table")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("validate", help="fit simulated users to real logs and measure their "
                       "fidelity on held-out data")
    p.add_argument("dataset", choices=["movielens", "llm"], help="what to validate: "
                   "movielens (fitted users) or llm (LLM-played users, Agent4Rec/SimUSER "
                   "protocol)")
    p.add_argument("--data", help="MovieLens folder (ml-latest-small, ml-100k or ml-1m format; "
                   "default: the shipped ml-latest-small)")
    p.add_argument("--obd", help="Open Bandit Dataset folder (default: the shipped sample)")
    p.add_argument("--seed", type=int, default=0, help="fitting and simulation seed")
    p.add_argument("--json", help="also write the numbers to this JSON file")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when the simulator does not beat most-popular (the ranking "
                   "targets)")
    g = p.add_argument_group("validate llm")
    g.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1")
    g.add_argument("--model", help="model name to send")
    g.add_argument("--api-key-env", metavar="VAR",
                   help="environment variable with the API key (default OPENAI_API_KEY)")
    g.add_argument("--users", type=int, help="users sampled (default 20)")
    g.add_argument("--pairs", type=int, help="held-out pairs and ratings per user (default 5)")
    g.add_argument("--cache", metavar="PATH", help="SQLite reply cache (reruns replay it)")
    g.add_argument("--local", action="store_true",
                   help="the embedded SmolLM2-135M server (recarena[llm-local])")
    g.add_argument("--timeout", type=float, help="seconds per request (default 30; 300 local)")
    g.add_argument("--max-retries", type=int, help="retries per request (default 4)")
    g.add_argument("--max-cost", type=float, metavar="USD", help="stop at this spend")
    g.add_argument("--response-format", choices=["json_schema", "json_object",
                                                  "json_object_schema", "none"],
                   help="structured-output mode (default json_schema; json_object_schema "
                   "with --local)")
    p.set_defaults(func=_cmd_validate)

    from recarena.scenarios.train import add_parser as add_train_parser

    add_train_parser(sub)

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
    except BudgetExhausted as exc:  # not bad input: the run stopped, and can be resumed
        print(f"recarena: error: {exc}", file=sys.stderr)
        return 1
    except LLMBackendError as exc:  # an endpoint that cannot be used: fix the [llm] section
        print(f"recarena: error: LLM endpoint: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except RecArenaError as exc:
        print(f"recarena: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `recarena list | head`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as exc:  # reading or writing a file failed where no command expected it
        where = f" ({exc.filename})" if exc.filename is not None else ""
        print(f"recarena: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        what = ("training is kept up to its last checkpoint (recarena train --resume RUN_DIR)"
                if args.command == "train" else
                "finished units are kept (recarena run --resume RUN_DIR)")
        print(f"recarena: interrupted; {what}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
