"""Summary tables of a run (or of several runs side by side): markdown for ``report.md``,
plain text that fits the terminal for the command line.

A summary (``summary.json``) has, per policy and metric, the mean across seeds with its 95%
t-interval and, for every policy but the baseline, the *paired* difference to the baseline
(same users and randomness per seed) with its interval. A table promises a difference
("Δ vs baseline") only for the policies whose entries carry one.

>>> s = {"baseline": "a", "policy_order": ["a", "b"],
...      "metric_descriptions": {"ctr": "clicks per impression"}, "higher_is_better": {"ctr": True},
...      "policies": {"a": {"ctr": {"mean": 0.2, "low": 0.1, "high": 0.3}},
...                   "b": {"ctr": {"mean": 0.25, "low": 0.2, "high": 0.3,
...                                 "diff_vs_baseline": {"mean": 0.05, "low": 0.0, "high": 0.1}}}}}
>>> print(format_table(s, markdown=False, width=80))
metric  a              b
        mean ± 95% CI  mean ± 95% CI  Δ vs a
------  -------------  -------------  --------------
ctr ↑   0.200 ± 0.100  0.250 ± 0.050  +0.050 ± 0.050
"""

from __future__ import annotations

import math
import shutil
from typing import Any

__all__ = ["available_metrics", "fmt", "format_table", "wall_time_text"]


def fmt(x: float | None) -> str:
    """A number with about three significant digits; ``–`` for a missing or non-finite one."""
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


def _signed(x: float) -> str:
    return ("+" if x >= 0 else "") + fmt(x)


def _half(e: dict[str, Any]) -> float | None:
    if e.get("low") is None or e.get("high") is None:
        return None
    return (e["high"] - e["low"]) / 2


def _policies(summary: dict[str, Any]) -> list[str]:
    return list(summary.get("policy_order") or summary["policies"])


def available_metrics(summary: dict[str, Any]) -> list[str]:
    """The metrics at least one policy of ``summary`` has a value for, in the summary's order."""
    pols = _policies(summary)
    return [m for m in summary["metric_descriptions"]
            if any(m in summary["policies"][p] for p in pols)]


def _has_diff(summary: dict[str, Any], policy: str, rows: list[str]) -> bool:
    entry = summary["policies"][policy]
    return any((entry.get(m) or {}).get("diff_vs_baseline") is not None for m in rows)


def format_table(summary: dict[str, Any], metrics: list[str] | None = None,
                 markdown: bool = True, width: int | None = None) -> str:
    """Metrics (rows) by policy (columns).

    Args:
        summary: a ``summary.json`` (or several merged, see ``recarena compare``).
        metrics: the rows, in this order (default: every metric with a value); names the
            summary has no value for are left out.
        markdown: a markdown table (one column per policy, ``mean ± CI half-width`` and in
            parentheses the paired difference with its interval), as ``report.md`` has it;
            else plain text fitted to ``width``.
        width: characters per line for plain text (default: the terminal's width). Policies
            that do not fit side by side go to further blocks of columns, each repeating the
            metric column.
    """
    policies = _policies(summary)
    avail = available_metrics(summary)
    rows = [m for m in (metrics or avail) if m in avail]
    base = summary.get("baseline")
    paired = {p: p != base and _has_diff(summary, p, rows) for p in policies}
    higher = summary.get("higher_is_better", {})
    labels = [m + (" ↑" if higher.get(m, True) else " ↓") for m in rows]
    if markdown:
        return _markdown(summary, policies, rows, labels, base, paired)
    if width is None:
        width = shutil.get_terminal_size((100, 24)).columns
    return _text(summary, policies, rows, labels, base, paired, width)


def _markdown(summary: dict[str, Any], policies: list[str], rows: list[str], labels: list[str],
              base: str | None, paired: dict[str, bool]) -> str:
    header = ["metric"] + [f"{p} (Δ vs {base})" if paired[p] else p for p in policies]
    lines = []
    for m, label in zip(rows, labels, strict=True):
        cells = [label]
        for p in policies:
            e = summary["policies"][p].get(m)
            if not e or e.get("mean") is None:
                cells.append("–")
                continue
            half = _half(e)
            text = fmt(e["mean"]) + ("" if half is None else f" ± {fmt(half)}")
            d = e.get("diff_vs_baseline")
            if paired[p] and d and d.get("mean") is not None:
                text += f" ({_signed(d['mean'])}"
                if d.get("low") is not None:
                    text += f" [{fmt(d['low'])}, {fmt(d['high'])}]"
                text += ")"
            cells.append(text)
        lines.append(cells)
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in lines]
    return "\n".join(out)


def _text(summary: dict[str, Any], policies: list[str], rows: list[str], labels: list[str],
          base: str | None, paired: dict[str, bool], width: int) -> str:
    any_ci = any(_half(summary["policies"][p].get(m) or {}) is not None
                 for p in policies for m in rows)
    value_label = "mean ± 95% CI" if any_ci else "mean"
    # one group of columns per policy: its values, and the paired difference where it has one
    groups = []
    for p in policies:
        values, diffs = [], []
        for m in rows:
            e = summary["policies"][p].get(m)
            if not e or e.get("mean") is None:
                values.append("–")
                diffs.append("–")
                continue
            half = _half(e)
            values.append(fmt(e["mean"]) + ("" if half is None else f" ± {fmt(half)}"))
            d = e.get("diff_vs_baseline")
            if not d or d.get("mean") is None:
                diffs.append("–")
            else:
                dh = _half(d)
                diffs.append(_signed(d["mean"]) + ("" if dh is None else f" ± {fmt(dh)}"))
        cols = [(value_label, values)] + ([(f"Δ vs {base}", diffs)] if paired[p] else [])
        widths = [max(len(h), *(len(c) for c in cells)) for h, cells in cols]
        extra = len(p) - (sum(widths) + 2 * (len(widths) - 1))
        if extra > 0:  # a long policy name widens its last column
            widths[-1] += extra
        groups.append((p, cols, widths))
    metric_w = max(len("metric"), *(len(s) for s in labels)) if labels else len("metric")

    def group_width(g: tuple[str, list, list[int]]) -> int:
        return sum(g[2]) + 2 * (len(g[2]) - 1)

    blocks: list[list] = [[]]
    used = metric_w
    for g in groups:
        need = 2 + group_width(g)
        if blocks[-1] and used + need > width:
            blocks.append([])
            used = metric_w
        blocks[-1].append(g)
        used += need
    out: list[str] = []
    for block in blocks:
        if out:
            out.append("")
        names = ["metric".ljust(metric_w)] + [p.ljust(group_width((p, c, w))) for p, c, w in block]
        subs = [" " * metric_w] + [h.ljust(w) for _, cols, ws in block
                                   for (h, _), w in zip(cols, ws, strict=True)]
        rule = ["-" * metric_w] + ["-" * w for _, _, ws in block for w in ws]
        out += ["  ".join(names).rstrip(), "  ".join(subs).rstrip(), "  ".join(rule)]
        for i, label in enumerate(labels):
            cells = [label.ljust(metric_w)] + [cells[i].ljust(w) for _, cols, ws in block
                                               for (_, cells), w in zip(cols, ws, strict=True)]
            out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def wall_time_text(manifest: dict[str, Any]) -> str:
    """``12.3 s``, or ``12.3 s over 2 attempts (4.1 s, 8.2 s)`` for a resumed run."""
    total = float(manifest.get("wall_s") or 0.0)
    parts = manifest.get("wall_s_parts") or []
    if len(parts) <= 1:
        return f"{total:.1f} s"
    return (f"{total:.1f} s over {len(parts)} attempts ("
            + ", ".join(f"{float(x):.1f} s" for x in parts) + ")")
