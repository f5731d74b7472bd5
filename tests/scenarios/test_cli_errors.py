"""Bad input to the command line: exit 2, one paragraph on stderr naming what was wrong and
what to do, no traceback, nothing printed before the error and nothing written or changed.

Most rows call ``recarena.cli.main`` in-process (fast); the read-only rows run the CLI in a
private mount namespace where the run folder is mounted read-only (tests run as root, and
``chmod`` does not stop root)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from recarena.cli import main

TINY = ["--set", "run.users=8", "--set", "run.steps=5", "--seeds", "1", "--quiet"]
CASCADE = """
name = "errors"
[env]
id = "recarena/Cascade-v0"
[run]
users = 8
steps = 5
seeds = 1
[[policies]]
name = "random"
[[policies]]
name = "greedy_oracle"
[report]
plots = ["ctr_over_time"]
"""


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-errors")
    scen = root / "s.toml"
    scen.write_text(CASCADE)
    run = root / "run"
    assert main(["run", str(scen), "--out", str(run), "--quiet"]) == 0
    return run


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` and a hash of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_paragraph(err: str) -> None:
    assert err.startswith("recarena: error: "), err
    assert "Traceback" not in err and err.count("\n") == 1, err


# (label, arguments, fragments the message must hold); {tmp} is a fresh folder, {file} an
# existing regular file in it, {run} a copy of a finished run
BAD: list[tuple[str, list[str], list[str]]] = [
    ("--out is a file", ["run", "quickstart", *TINY, "--out", "{file}"],
     ["--out", "{file}", "not an existing file", "choose another --out"]),
    ("--out under a file", ["run", "quickstart", *TINY, "--out", "{file}/run"],
     ["--out", "{file}/run", "is a file", "Not a directory", "choose another --out"]),
    ("--out in /proc", ["run", "quickstart", *TINY, "--out", "/proc/nope"],
     ["--out", "'/proc/nope'", "creating it in /proc failed", "choose another --out"]),
    ("--out not empty", ["run", "quickstart", *TINY, "--out", "{run}"],
     ["--out", "new or empty folder", "--resume"]),
    ("Cascade env argument typo", ["run", "cascade-bandits", *TINY, "--set",
                                   "env.config.shufle=false", "--out", "{tmp}/o"],
     ["env.config", "received 'shufle'", "shuffle", "num_items", "attraction", "slate_size"]),
    ("two env argument typos", ["run", "cascade-bandits", *TINY, "--set", "env.config.shufle=false",
                                "--set", "env.config.horizn=3", "--out", "{tmp}/o"],
     ["received ['shufle', 'horizn']", "shuffle"]),
    ("two bad arguments of one policy", ["run", "quickstart", *TINY, "--set",
                                         "policies.1.args={alphaa=1, betaa=2}", "--out", "{tmp}/o"],
     ["policies.1 (linucb)", "['alphaa', 'betaa']", "arguments of 'linucb': alpha, model"]),
    ("bad arguments of two policies and a bad env key",
     ["run", "quickstart", *TINY, "--set", "policies.1.args={alphaa=1}", "--set",
      "policies.3.policy=nope", "--set", "env.config.slate_sise=3", "--out", "{tmp}/o"],
     ["3 problems", "slate_sise", "policies.1 (linucb): args", "'alphaa'",
      "policies.3 (quality_oracle): policy", "'nope'"]),
    ("two bad scenario keys", ["run", "quickstart", *TINY, "--set", "run.userz=3", "--set",
                               "log.x=1", "--out", "{tmp}/o"],
     ["2 problems", "run.userz: expected no key 'userz'", "log.x: expected no key 'x'"]),
    ("unknown baseline", ["run", "quickstart", *TINY, "--set", "run.baseline=nobody",
                          "--out", "{tmp}/o"],
     ["run.baseline: expected one of the policy names: random, linucb, greedy_oracle, "
      "quality_oracle, received 'nobody'"]),
    ("unknown report metric", ["run", "quickstart", *TINY, "--set", 'report.metrics=["nope"]',
                               "--out", "{tmp}/o"],
     ["report.metrics", "unknown: 'nope'", "cohort_return", "ctr"]),
    ("compare unknown metric", ["compare", "{run}", "--metric", "nope"],
     ["--metric", "received 'nope'", "ctr", "cohort_return"]),
    ("compare metric the run lacks", ["compare", "{run}", "--metric", "dpfr"],
     ["--metric", "metrics these runs computed", "received 'dpfr'"]),
    ("demo --episodes 0", ["demo", "--episodes", "0"],
     ["--episodes: expected an integer >= 1, received 0"]),
    ("demo --seed -1", ["demo", "--seed", "-1"], ["--seed"]),
    ("show unknown", ["show", "nope"], ["scenario", "received 'nope'", "quickstart"]),
    ("report: plots/ is a file", ["report", "{run}"],
     ["RUN_DIR", "{run}/plots", "is a file", "copy the run folder"]),
    ("plot: plots/ is a file", ["plot", "{run}"],
     ["RUN_DIR", "{run}/plots", "is a file", "copy the run folder"]),
]


@pytest.mark.parametrize(("label", "args", "fragments"), BAD, ids=[b[0] for b in BAD])
def test_bad_cli_input(label: str, args: list[str], fragments: list[str], tmp_path: Path,
                       finished_run: Path, capsys: pytest.CaptureFixture[str],
                       monkeypatch: pytest.MonkeyPatch) -> None:
    # paths relative to tmp_path, as a user types them: a message shows a received value
    # up to 80 characters, and an absolute temporary path (longer under pytest-xdist or a
    # long $TMPDIR) would be cut before the part a fragment names
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    if label.endswith("plots/ is a file"):
        shutil.rmtree(run / "plots")
        (run / "plots").write_text("not a folder")
    (tmp_path / "file").write_text("a file")
    before = _snapshot(tmp_path)
    subs = {"{tmp}": ".", "{file}": "file", "{run}": "run"}

    def fill(text: str) -> str:
        for key, value in subs.items():
            text = text.replace(key, value)
        return text

    rc = main([fill(a) for a in args])
    out, err = capsys.readouterr()
    assert rc == 2, (rc, err)
    _one_paragraph(err)
    for fragment in fragments:
        assert fill(fragment) in err, (fragment, err)
    assert out == "", out  # nothing printed before the error
    assert _snapshot(tmp_path) == before  # nothing written, nothing changed
    assert not (tmp_path / "o").exists() and not Path("/proc/nope").exists()


# ------------------------------------------------------------------ read-only file system
def _unshare_works() -> bool:
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    res = subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=30)
    return res.returncode == 0


def _read_only_cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``recarena ARGS`` with ``folder`` mounted read-only (a private mount namespace)."""
    script = (f'mount --bind "{folder}" "{folder}" && '
              f'mount -o remount,ro,bind "{folder}" "{folder}" && '
              f'exec "{sys.executable}" -m recarena.cli "$@"')
    return subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", *args],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(not _unshare_works(), reason="needs unshare (user and mount namespaces)")
def test_read_only_run_folder(tmp_path: Path, finished_run: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    run = ro / "run"
    shutil.copytree(finished_run, run)
    probe = _read_only_cli(ro, "report", "--help")
    if probe.returncode != 0:
        pytest.skip(f"read-only bind mount not permitted: {probe.stderr.strip()}")
    before = _snapshot(ro)
    for args in (["report", str(run)], ["plot", str(run)],
                 ["run", "quickstart", *TINY, "--out", str(ro / "new")],
                 ["run", "--resume", str(run)]):
        res = _read_only_cli(ro, *args)
        assert res.returncode == 2, (args, res.stderr)
        _one_paragraph(res.stderr)
        assert "Read-only file system" in res.stderr and str(ro) in res.stderr, res.stderr
        assert ("--out" if "--out" in args else "--resume" if "--resume" in args
                else "RUN_DIR") in res.stderr
        assert res.stdout == ""
    assert _snapshot(ro) == before
    assert not (ro / "new").exists()


# ------------------------------------------------------------------ LLM endpoints
LLM_SCENARIO = """
name = "llm-errors"
[env]
id = "recarena/MovieLens-v0"
config = {{ users = "llm" }}
[run]
users = 2
steps = 1
seeds = 1
[[policies]]
name = "random"
[llm]
local = false
base_url = "{url}"
model = "fake-model"
api_key_env = "RECARENA_TEST_KEY"
max_retries = 0
timeout = 2
"""
LLM_KEY = "sk-test-SECRET-cli-errors-0123456789"

# (label, extra arguments, what the fake server does, fragments the message must hold)
LLM_BAD: list[tuple[str, list[str], str | None, list[str]]] = [
    ("no endpoint reachable", ["--set", "llm.base_url=http://127.0.0.1:9/v1"], None,
     ["LLM endpoint", "127.0.0.1:9"]),
    ("key refused (401)", [], "401", ["LLM endpoint", "401", "$RECARENA_TEST_KEY"]),
    ("unknown model (404)", ["--set", "llm.model=no-such-model"], "404",
     ["LLM endpoint", "no-such-model"]),
    ("not OpenAI-compatible", [], "html", ["LLM endpoint", "OpenAI"]),
    ("budget 0", ["--set", "llm.max_cost=0"], None, ["llm.max_cost", "greater than 0"]),
    ("key variable unset", ["--set", "llm.api_key_env=RECARENA_NO_SUCH_KEY", "--set",
                            "llm.base_url=https://llm.example.invalid/v1"], None,
     ["llm.api_key_env", "RECARENA_NO_SUCH_KEY", "is not set"]),
    ("key in a file instead of its variable's name", ["--set", f"llm.api_key_env={LLM_KEY}-x"],
     None, ["llm.api_key_env", "NAME of an environment variable", "hidden"]),
    ("local extra missing", ["--set", "llm.local=true"], "nolocal",
     ["llm.local", "recarena[llm-local]", "make llm-local"]),
    ("llm table in env.config", ["--set", "env.config.llm.model=x"], None,
     ["env.config.llm", "[llm] section"]),
    ("dry run with --resume", ["--dry-run", "--resume", "{tmp}"], None, ["--resume"]),
]


@pytest.mark.parametrize(("label", "extra", "server_does", "fragments"), LLM_BAD,
                         ids=[b[0] for b in LLM_BAD])
def test_bad_llm_input(label: str, extra: list[str], server_does: str | None,
                       fragments: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Exit 2, one line, no traceback, never the key, nothing written or sent twice."""
    pytest.importorskip("openai")
    from tests.llm.fake_openai import FakeOpenAI

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECARENA_TEST_KEY", LLM_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with FakeOpenAI() as server:
        if server_does == "401":
            server.api_key = "sk-another-key"
        elif server_does == "404":
            server.known_models = {"fake-model"}
        elif server_does == "html":
            server.script("html")
        elif server_does == "nolocal":
            from recarena.simulators.llm import local

            monkeypatch.setattr(local, "_has_module", lambda name: name != "llama_cpp")
        scen = tmp_path / "s.toml"
        text = LLM_SCENARIO.format(url=server.url)
        if server_does == "nolocal":  # the embedded server, asked for
            text = "\n".join(line for line in text.splitlines()
                             if not line.startswith(("base_url", "model")))
        scen.write_text(text)
        if "{tmp}" in extra:  # options that need no scenario
            args = ["run", *[a.replace("{tmp}", ".") for a in extra]]
        else:
            args = ["run", "s.toml", "--out", "o", "--quiet", *extra]
        before = _snapshot(tmp_path)
        rc = main(args)
        out, err = capsys.readouterr()
        assert server.count <= 1  # at most the one probe
    assert rc == 2, (rc, err)
    _one_paragraph(err)
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert LLM_KEY not in err and LLM_KEY not in out
    assert out == "", out
    assert _snapshot(tmp_path) == before
    assert not (tmp_path / "o").exists()
