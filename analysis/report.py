"""Plots (matplotlib, headless) and ``report.md`` for a run folder.

Everything here reads the run folder only (``manifest.json``, ``summary.json``,
``metrics.parquet`` and the units' event logs), so ``recarena plot`` / ``recarena report``
can be re-run on any finished run. Bands are 95% t-intervals across seeds.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recarena.errors import DataError

__all__ = ["format_table", "plot_run", "write_report"]

_UNITS_LABEL = {"step": "step (one request per user row)", "day": "day"}


def _load(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    for name in ("manifest.json", "summary.json"):
        if not (run_dir / name).is_file():
            raise DataError(f"{run_dir} is not a finished run folder: {name} is missing")
    return (json.loads((run_dir / "manifest.json").read_text()),
            json.loads((run_dir / "summary.json").read_text()))


def _fmt(x: float | None) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 0.01 or ax == 0:
        return f"{x:.3f}"
    if ax >= 0.0001:
        return f"{x:.4f}"
    return f"{x:.1e}"


def format_table(summary: dict[str, Any], metrics: list[str] | None = None,
                 markdown: bool = True) -> str:
    """Metrics (rows) by policy (columns): ``mean ± CI half-width``, and for non-baseline
    policies the paired difference to the baseline with its CI."""
    policies = summary.get("policy_order") or list(summary["policies"])
    avail = [m for m in summary["metric_descriptions"]
             if any(m in summary["policies"][p] for p in policies)]
    rows = [m for m in (metrics or avail) if m in avail]
    base = summary["baseline"]
    header = ["metric"] + [p if p == base else f"{p} (Δ vs {base})" for p in policies]
    lines = []
    for m in rows:
        cells = [m + (" ↑" if summary["higher_is_better"][m] else " ↓")]
        for p in policies:
            e = summary["policies"][p].get(m)
            if not e or e["mean"] is None:
                cells.append("–")
                continue
            half = None if e["low"] is None else (e["high"] - e["low"]) / 2
            text = _fmt(e["mean"]) + ("" if half is None else f" ± {_fmt(half)}")
            d = e.get("diff_vs_baseline")
            if d and d["mean"] is not None:
                text += f" ({'+' if d['mean'] >= 0 else ''}{_fmt(d['mean'])}"
                if d["low"] is not None:
                    text += f" [{_fmt(d['low'])}, {_fmt(d['high'])}]"
                text += ")"
            cells.append(text)
        lines.append(cells)
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(r) + " |" for r in lines]
        return "\n".join(out)
    widths = [max(len(r[i]) for r in [header] + lines) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*header), "  ".join("-" * w for w in widths)]
                     + [fmt.format(*r) for r in lines])


# --------------------------------------------------------------------------- plots
def _band(ax: Any, frame: pd.DataFrame, x: str, y: str, label: str) -> None:
    """Mean across seeds with a 95% t band."""
    from scipy import stats

    g = frame.groupby(x)[y]
    mean, std, n = g.mean(), g.std(ddof=1), g.count()
    line = ax.plot(mean.index, mean.to_numpy(), label=label, lw=1.6)[0]
    with np.errstate(invalid="ignore"):
        half = stats.t.ppf(0.975, np.maximum(n - 1, 1)) * std / np.sqrt(n)
    ok = (n > 1).to_numpy()
    if ok.any():
        ax.fill_between(mean.index[ok], (mean - half)[ok], (mean + half)[ok],
                        color=line.get_color(), alpha=0.2, lw=0)


def _unit_tables(run_dir: Path, table: str, columns: list[str] | None = None) -> pd.DataFrame:
    from recarena.eventlog import read_table

    return read_table(run_dir / "units", table, columns)


def plot_run(run_dir: str | Path) -> list[Path]:
    """Draw the scenario's plots into ``run_dir/plots``; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from recarena.analysis import diversity, fairness, long_term
    from recarena.eventlog import read_table

    run_dir = Path(run_dir)
    manifest, summary = _load(run_dir)
    scen = manifest["scenario"]
    wanted = scen["report"]["plots"]
    window = int(scen["report"]["window"])
    policies = summary.get("policy_order") or list(summary["policies"])
    num_items = manifest["resolved"]["num_items"]
    out_dir = run_dir / "plots"
    out_dir.mkdir(exist_ok=True)
    written: list[Path] = []
    metrics = pd.read_parquet(run_dir / "metrics.parquet")
    title = f"{scen['name']}: {manifest['resolved']['env_id']}, {scen['run']['users']} users, " \
            f"{len(manifest['seeds'])} seed(s)"

    def finish(fig: Any, ax: Any, name: str, xlabel: str, ylabel: str, legend: bool = True) -> None:
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
        if legend:
            ax.legend(fontsize=8)
        fig.tight_layout()
        path = out_dir / f"{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    m = metrics.assign(w=(metrics["step"] // window) * window)
    for name, col, ylabel in (("reward_over_time", "reward", "reward per request"),
                              ("ctr_over_time", "clicks", "click-through rate")):
        if name not in wanted:
            continue
        denom = "requests" if col == "reward" else "impressions"
        agg = m.groupby(["seed", "policy", "w"])[[col, denom]].sum().reset_index()
        agg["y"] = agg[col] / agg[denom]
        fig, ax = plt.subplots(figsize=(7, 4))
        for p in policies:
            _band(ax, agg[agg["policy"] == p], "w", "y", p)
        finish(fig, ax, name, f"step (windows of {window})", ylabel)
    if "cumulative_return" in wanted:
        c = metrics.sort_values(["seed", "policy", "step"]).copy()
        c["y"] = c["reward_per_request"].fillna(0.0)
        c["cum"] = c.groupby(["seed", "policy"])["y"].cumsum()
        fig, ax = plt.subplots(figsize=(7, 4))
        for p in policies:
            _band(ax, c[c["policy"] == p], "step", "cum", p)
        finish(fig, ax, "cumulative_return", "step", "cumulative reward per user row")
    if "retention" in wanted:
        ev = _unit_tables(run_dir, "impressions", ["seed", "policy", "step", "day", "user_id",
                                                   "position", "terminated"])
        ev = ev[ev["position"] == 0]
        calendar = bool((ev["day"] > 0).any())
        axis = "day" if calendar else "step"
        life = long_term.user_lifetimes(ev, axis)
        grid = np.linspace(0.0, float(life["duration"].max()), 60)
        curve = long_term.retention_curve(ev, axis, grid)
        fig, ax = plt.subplots(figsize=(7, 4))
        for p in policies:
            _band(ax, curve[curve["policy"] == p], "t", "retained", p)
        ax.set_ylim(-0.02, 1.02)
        finish(fig, ax, "retention", f"{_UNITS_LABEL[axis]} since the user's first request",
               "share of initial users retained (Kaplan-Meier)")
    if "interest_entropy" in wanted:
        try:
            snaps = _unit_tables(run_dir, "snapshots")
            ie = diversity.interest_entropy(snaps)
        except DataError:
            ie = None
        if ie is not None:
            fig, ax = plt.subplots(figsize=(7, 4))
            for p in policies:
                _band(ax, ie[ie["policy"] == p], "step", "interest_entropy", p)
            finish(fig, ax, "interest_entropy", "step",
                   "mean normalised interest entropy (oracle)")
    if "lorenz" in wanted and num_items is not None:
        ev = _unit_tables(run_dir, "impressions", ["seed", "policy", "item_id", "position"])
        fig, ax = plt.subplots(figsize=(5, 5))
        for p in policies:
            part = ev[ev["policy"] == p]
            w = diversity.position_weights(part["position"].to_numpy())
            exp = pd.Series(w).groupby(part["item_id"].to_numpy()).sum().to_numpy()
            exp = np.concatenate([exp, np.zeros(max(0, num_items - exp.size))])
            x, y = diversity.lorenz(exp)
            ax.plot(x, y, label=f"{p} (Gini {diversity.gini(exp):.2f})", lw=1.6)
        ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="equal exposure")
        finish(fig, ax, "lorenz", "share of catalog items (least exposed first)",
               "share of position-discounted exposure")
    if "fairness_relevance" in wanted and num_items is not None and scen["log"]["candidates"]:
        seed = manifest["seeds"][0]
        fig, ax = plt.subplots(figsize=(6, 5))
        front = None
        for p in policies:
            unit = run_dir / "units" / f"seed{seed}-{p}"
            ev = read_table(unit, "impressions")
            if "oracle_relevance" not in ev.columns:
                break
            res = fairness.dpfr(ev, read_table(unit, "candidates"), num_items)
            front = res["frontier"] if front is None else front
            ax.scatter([res["ndcg"]], [res["ent_our"]], s=50, zorder=3,
                       label=f"{p} (DPFR {res['dpfr']:.3f})")
        if front is not None:
            ax.plot(front[:, 0], front[:, 1], "k.-", lw=1, label="estimated Pareto frontier")
            ax.set_xlim(0, 1.02)
            ax.set_ylim(0, 1.02)
            finish(fig, ax, "fairness_relevance", f"NDCG@K (oracle relevance), seed {seed}",
                   "Ent_our (corrected exposure entropy; 1 = fair)")
        else:
            plt.close(fig)
    return written


def write_report(run_dir: str | Path) -> Path:
    """Write ``report.md`` (summary table, then every plot) and the plots; returns its path."""
    run_dir = Path(run_dir)
    manifest, summary = _load(run_dir)
    scen = manifest["scenario"]
    plots = plot_run(run_dir)
    res = manifest["resolved"]
    lines = [f"# {scen['name']}", "", scen.get("description", "").strip(), "",
             f"- environment: `{res['env_id']}` ({res['num_candidates']} candidates, slate of "
             f"{res['slate_size']}, catalog: {res['num_items'] or 'new items every step'})",
             f"- users: {scen['run']['users']} rows, {scen['run']['steps']} steps "
             f"(until: {scen['run']['until']}); seeds: {manifest['seeds']}",
             f"- policies: {', '.join(summary['policies'])}; baseline: {summary['baseline']}",
             f"- recarena {manifest['versions'].get('recarena', '?')}, commit "
             f"{manifest.get('git_commit') or 'unknown'}, wall time "
             f"{manifest.get('wall_s') or 0:.1f} s", "",
             "## Summary", "",
             "Mean across seeds ± the 95% t-interval half-width; in brackets, the paired "
             "difference to the baseline (same users and randomness per seed) with its 95% "
             "interval. ↑: higher is better, ↓: lower is better. Metrics marked (oracle) use "
             "privileged truth that a real log does not have.", "",
             format_table(summary, scen["report"]["metrics"] or None), "",
             "### Metrics", ""]
    for m, desc in summary["metric_descriptions"].items():
        if any(m in summary["policies"][p] for p in summary["policies"]):
            lines.append(f"- `{m}`: {desc}")
    if plots:
        lines += ["", "## Plots", ""]
        for p in plots:
            lines += [f"![{p.stem}](plots/{p.name})", ""]
    path = run_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
