"""The CLI's commands: every command, exit codes and messages for bad input.

The commands run in this process, through ``main`` with argparse's exits caught (a
subprocess per call spent most of its time importing scipy and matplotlib again);
tests/test_package.py and tests/scenarios/test_cli_output.py::test_version run
``python -m recarena.cli`` in a subprocess, exit codes through the process included."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import NamedTuple

import pytest

from recarena.cli import main

SCENARIO = """
name = "cli"
[env]
id = "recarena/Cascade-v0"
[run]
users = 8
steps = 20
seeds = 2
[[policies]]
name = "random"
[[policies]]
name = "greedy_oracle"
[report]
plots = ["ctr_over_time"]
"""


class Result(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def cli(*args: str) -> Result:
    """``recarena ARGS``: the exit status the process would have, and what it printed."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: --help, usage errors
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return Result(code, out.getvalue(), err.getvalue())


@pytest.mark.parametrize("command", ["list", "show", "run", "report", "plot", "compare", "demo"])
def test_every_command_has_help(command: str) -> None:
    out = cli(command, "--help")
    assert out.returncode == 0 and "usage: recarena" in out.stdout


def test_run_report_plot_compare(tmp_path: Path) -> None:
    scen = tmp_path / "s.toml"
    scen.write_text(SCENARIO)
    run = tmp_path / "run"
    out = cli("run", str(scen), "--out", str(run), "--set", "run.users=6", "--seeds", "2")
    assert out.returncode == 0, out.stderr
    assert "greedy_oracle" in out.stdout and "Δ vs random" in out.stdout and "ctr" in out.stdout
    assert "cli on recarena/Cascade-v0: 6 users x 20 steps, seeds [0, 1]" in out.stdout
    (run / "report.md").unlink()
    out = cli("report", str(run))
    assert out.returncode == 0 and (run / "report.md").is_file()
    out = cli("plot", str(run))
    assert out.returncode == 0 and "ctr_over_time.png" in out.stdout
    out = cli("compare", str(run), str(run), "--metric", "ctr")
    assert out.returncode == 0 and "run/greedy_oracle" in out.stdout
    out = cli("list", "scenarios")
    assert out.returncode == 0 and "quickstart" in out.stdout and "cascade-bandits" in out.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["run", "no-such-scenario"], "built-in scenario"),
    (["run", "quickstart", "--set", "run.userz=3"], "run.userz: expected no key 'userz'"),
    (["run", "quickstart", "--set", "run.users=-1"], "run.users"),
    (["run", "quickstart", "--set", "env.id=recarena/Nope-v0"], "env.id"),
    (["run", "quickstart", "--set", "policies.1.policy=nope"], "policies.1"),
    (["run", "quickstart", "--workers", "0"], "workers"),
    (["run"], "scenario"),
    (["run", "quickstart", "--resume", "somewhere"], "--resume"),
    (["run", "--resume", "/nonexistent/run"], "manifest.json"),
    (["report", "/nonexistent/run"], "RUN_DIR"),
    (["compare", "/nonexistent/run"], "RUN_DIR"),
    (["run", "quickstart", "--backend", "slurm"], "invalid choice"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_exits_2_with_one_paragraph(args: list[str], message: str) -> None:
    out = cli(*args)
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert message in out.stderr
    assert "Traceback" not in out.stderr
