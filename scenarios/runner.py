"""The scenario runner: every (seed, policy) unit, in parallel, resumable, logged.

A *unit* is one policy facing one seed's users for the scenario's horizon, in one batched
vector env. Units are independent, so they run in any order and in parallel: in worker
processes on one machine (``workers``), or on a Ray cluster (``backend="ray"``, the
``recarena[ray]`` extra) for users who outgrow one machine.

**Common random numbers.** Within a seed every policy faces the same users and the same
exogenous randomness: the env is reset with the seed, and the world keeps separate random
streams for users, candidates, responses and dynamics (``SeedSequence.spawn``), so what a
policy does never shifts the draws another policy sees. Comparisons are paired by seed
(``summary.json`` has CIs of the differences to the baseline policy).

**Run folder**::

    manifest.json         the scenario, resolved env facts, versions, git commit, seeds, wall time
    units/<unit>/         impressions-*.parquet, snapshots-*.parquet, [candidates-*.parquet],
                          metrics.parquet (per-step aggregates), unit.json (written last:
                          the unit is finished when it exists)
    metrics.parquet       the units' per-step aggregates, concatenated
    summary.json          per policy and metric: mean and CI across seeds, paired differences
    report.md, plots/     written by :func:`recarena.analysis.report.write_report`
    llm_cache.sqlite      with LLM users: every reply paid for (see below)

**LLM users.** A scenario with ``env.config.users = "llm"`` gets its endpoint from the
``[llm]`` section (:mod:`recarena.scenarios.llm_run`): the embedded local server is
started around the run when wanted, the endpoint is probed once before anything is
written, each unit has its own backend (key from ``llm.api_key_env``, cache in the run
folder, the budget left), and the usage goes to ``manifest.json`` and ``summary.json``. A
spent budget stops the run with :class:`~recarena.errors.BudgetExhausted`, keeping
finished units and the cache; a resume with a larger budget finishes it and equals an
uninterrupted run.

**Resume.** A run that stops (Ctrl-C, a killed worker, a crash) keeps every finished unit.
``run_scenario(resume=run_dir)`` deletes the unfinished units' partial files and runs only
those; because every unit is deterministic given its seed, the result equals an
uninterrupted run's. ``manifest.json`` keeps the wall time of every attempt
(``wall_s_parts``, updated as units finish, so a killed attempt counts too) and their sum
(``wall_s``).

**Workers end with the run.** Worker processes ask the kernel to kill them when the run's
process dies (Linux ``PR_SET_PDEATHSIG``) and also watch their parent, so a run killed with
SIGKILL leaves no worker behind; multiprocessing's resource tracker ends by itself once the
run and its workers are gone.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from recarena.errors import BudgetExhausted, ConfigError, RecArenaError
from recarena.scenarios.spec import EnvSection, Scenario, combine_errors, scenario_from_dict
from recarena.validation import check_int

__all__ = ["Unit", "check_scenario", "check_writable", "finalize", "run_scenario", "run_unit",
           "units_of"]


@dataclass(frozen=True)
class Unit:
    """One (seed, policy) pair and its folder name."""

    seed: int
    policy: str

    @property
    def key(self) -> str:
        return f"seed{self.seed}-{self.policy}"


def units_of(spec: Scenario) -> list[Unit]:
    """The scenario's units, seed-major (all policies of seed 0 first)."""
    return [Unit(s, p.name) for s in spec.run.seed_list() for p in spec.policies]


def _env_id(env: EnvSection) -> str:
    """The full id the scenario's env section names: a recarena id (the ``recarena/``
    namespace may be left out) or, after importing ``env.module``, an id that module
    registered, as written."""
    import gymnasium as gym

    import recarena

    if env.module is not None:
        try:
            importlib.import_module(env.module)
        except ImportError as exc:
            raise ConfigError("env.module", env.module,
                              f"an importable Python module ({exc})") from None
        if env.id in gym.registry:
            if gym.spec(env.id).vector_entry_point is None:
                raise ConfigError("env.id", env.id, "an id registered with a vector_entry_point "
                                  "(the runner steps a unit's users as one vector env)")
            return env.id
    env_id = env.id if env.id.startswith("recarena/") else f"recarena/{env.id}"
    if env_id not in recarena.list_envs():
        extra = ("" if env.module is None else
                 f", or an id that importing env.module {env.module!r} registers")
        raise ConfigError("env.id", env.id,
                          "a registered id: " + ", ".join(recarena.list_envs()) + extra)
    return env_id


def _make_env(spec: Scenario, users: int, llm: Any = None) -> Any:
    """The unit's vector env; ``llm``: the backend of LLM-played users (with
    ``env.config.users = "llm"``)."""
    import gymnasium as gym

    from recarena.scenarios.llm_run import uses_llm

    env_id = _env_id(spec.env)
    config = dict(spec.env.config)
    if uses_llm(spec):
        config["llm"] = llm
    if spec.run.days is not None:
        if "horizon_days" in config:
            raise ConfigError("run.days", spec.run.days,
                              "either run.days or env.config.horizon_days, not both")
        config["horizon_days"] = spec.run.days
    try:
        envs = gym.make_vec(env_id, num_envs=users, vectorization_mode="vector_entry_point",
                            **config)
    except ConfigError as exc:
        if spec.run.days is not None and "horizon_days" in str(exc):
            raise ConfigError("run.days", spec.run.days,
                              f"no days horizon: {env_id} has no calendar (use run.steps, or an "
                              "env with a retention model such as recarena/Retention-v0)") from None
        raise ConfigError(f"env.config: {exc.field}", exc.received, exc.expected) from None
    except TypeError as exc:
        raise ConfigError("env.config", spec.env.config,
                          f"keyword arguments of {env_id}'s constructor ({exc})") from None
    return envs


def check_scenario(spec: Scenario) -> dict[str, Any]:
    """Build the env and every policy once (one user) so that a bad env config or policy
    argument fails before anything runs. Returns resolved facts for the manifest.

    Every problem found is reported at once (one :class:`ConfigError` listing them): the
    env's configuration, unknown policy names, and every unknown argument of every policy
    (with the arguments the policy takes)."""
    from recarena.agents import make_policy
    from recarena.agents.registry import list_policies
    from recarena.scenarios.llm_run import DryBackend, check_llm_section

    errors: list[ConfigError] = []
    try:
        check_llm_section(spec, need_key=False)  # the key: llm_endpoint
    except ConfigError as exc:
        errors.append(exc)
    try:
        env = _make_env(spec, 1, llm=DryBackend())  # sends nothing
    except ConfigError as exc:
        errors.extend(getattr(exc, "errors", [exc]))
        env = None
    registry = {e.name: e for e in list_policies()}
    for i, p in enumerate(spec.policies):
        where = f"policies.{i} ({p.name})"
        entry = registry.get(p.registry_name)
        if entry is None:
            errors.append(ConfigError(f"{where}: policy", p.registry_name,
                                      "a registered policy: " + ", ".join(registry)))
            continue
        unknown = [k for k in p.args if k not in entry.arguments]
        if unknown:
            errors.append(ConfigError(
                f"{where}: args", unknown[0] if len(unknown) == 1 else unknown,
                f"arguments of {entry.name!r}: " + (", ".join(entry.arguments) or "none")))
            continue
        if env is None:
            continue
        try:
            make_policy(p.registry_name, env, **p.args)
        except ConfigError as exc:
            errors.append(ConfigError(f"{where}: {exc.field}", exc.received, exc.expected))
    if errors:
        if env is not None:
            env.close()
        raise combine_errors(errors)
    assert env is not None
    try:
        base = env.unwrapped
        with np.printoptions(threshold=6, edgeitems=2):  # catalogs are long arrays
            config_text = repr(base.config)
        return {"env_id": _env_id(spec.env), "env_config": config_text,
                "num_items": base.num_items, "num_candidates": int(base.num_candidates),
                "slate_size": int(base.slate_size)}
    finally:
        env.close()


# --------------------------------------------------------------------------- one unit
def run_unit(spec_data: dict[str, Any], seed: int, policy: str, unit_dir: str,
             llm: dict[str, Any] | None = None) -> dict[str, Any]:
    """Simulate one unit and write its folder; returns the contents of ``unit.json``.

    Top-level and taking plain data so that worker processes and Ray can run it. ``llm``
    (LLM users only): the backend's config fields and the run's spending so far
    (:mod:`recarena.scenarios.llm_run`); the key is read here, from ``llm.api_key_env``."""
    from recarena.agents import make_policy
    from recarena.agents.base import public_info
    from recarena.analysis.engagement import per_step
    from recarena.analysis.summary import unit_metrics
    from recarena.envs.wrappers import VectorEventLogger
    from recarena.eventlog import read_table, table_files

    spec = scenario_from_dict(spec_data)
    t0 = time.perf_counter()
    folder = Path(unit_dir)
    if folder.exists():
        shutil.rmtree(folder)  # a partial unit from an interrupted run
    folder.mkdir(parents=True)
    entry = next(p for p in spec.policies if p.name == policy)
    backend = None
    if llm is not None:
        from recarena.scenarios.llm_run import UnitProgress, unit_backend

        backend = unit_backend(spec, llm, progress=UnitProgress(folder))
    try:
        envs = _make_env(spec, spec.run.users, llm=backend)
    except BaseException:
        if backend is not None:
            backend.close()
        raise
    try:
        pol = make_policy(entry.registry_name, envs, **entry.args)
        envs = VectorEventLogger(envs, folder, run=spec.name, policy=policy, seed=seed,
                                 snapshot_every=spec.log.snapshot_every,
                                 chunk_rows=spec.log.chunk_rows, propensity=pol,
                                 candidates=spec.log.candidates)
        learn = callable(getattr(pol, "update", None))
        pol.reset()
        obs, info = envs.reset(seed=seed)
        first_active = np.ones(spec.run.users, dtype=bool)
        for _ in range(spec.run.steps):
            seen = info if pol.is_oracle else public_info(info)
            slates = np.asarray(pol.recommend(obs, seen))
            next_obs, reward, term, trunc, next_info = envs.step(slates)
            if learn:
                pol.update(obs, slates, next_info["response"], reward, seen)
            obs, info = next_obs, next_info
            first_active &= ~(term | trunc)
            if spec.run.until == "first_episode" and not first_active.any():
                break
    finally:
        envs.close()
        if backend is not None:
            from recarena.scenarios.llm_run import write_unit_usage

            write_unit_usage(folder, backend.usage.as_dict())
            backend.close()
    num_items = envs.unwrapped.num_items
    ev = read_table(folder, "impressions")
    snaps = read_table(folder, "snapshots") if spec.log.snapshot_every else None
    cands = read_table(folder, "candidates") if spec.log.candidates else None
    # an env with creators (CreatorEcosystem-v0) also logs the creators and catalog tables
    creators = read_table(folder, "creators") if table_files(folder, "creators") else None
    catalog = read_table(folder, "catalog") if table_files(folder, "catalog") else None
    per_step(ev).to_parquet(folder / "metrics.parquet", index=False)
    result = {"seed": seed, "policy": policy, "steps": int(ev["step"].max()) + 1,
              "impressions": len(ev), "metrics": unit_metrics(ev, snaps, cands, num_items,
                                                                spec.report.window,
                                                                creators=creators,
                                                                catalog=catalog),
              "wall_s": round(time.perf_counter() - t0, 3)}
    if backend is not None:
        result["llm"] = backend.usage.as_dict()
    tmp = folder / "unit.json.tmp"
    tmp.write_text(json.dumps(result, indent=1, sort_keys=True))
    os.replace(tmp, folder / "unit.json")
    return result


# --------------------------------------------------------------------------- the run
def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("recarena", "numpy", "pandas", "pyarrow", "gymnasium", "pydantic", "scipy",
                 "matplotlib"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        res = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() or None if res.returncode == 0 else None


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


def check_writable(folder: str | os.PathLike[str], field: str, todo: str,
                   create: bool = False) -> list[Path]:
    """Make sure files can be written in ``folder`` (creating it and its parents with
    ``create``), by writing and removing a probe file; a failure raises
    :class:`ConfigError` naming ``field``, the path, what went wrong and ``todo`` (what to
    do about it), before anything is simulated or overwritten. Returns the folders it
    created (removed again when the probe fails)."""
    folder = Path(folder)
    created: list[Path] = []

    def fail(what: str, exc: OSError | None = None) -> ConfigError:
        for d in reversed(created):
            try:
                d.rmdir()
            except OSError:  # not there (never made), or not empty: leave it
                pass
        reason = f"{what}" if exc is None else f"{what}: {exc.strerror or exc}"
        return ConfigError(field, str(folder), f"a folder recarena can write in ({reason}); "
                                               f"{todo}")

    if folder.exists() and not folder.is_dir():
        raise fail(f"{folder} is a file, not a folder")
    if not folder.exists():
        if not create:
            raise fail(f"{folder} does not exist")
        # outermost first; fail() removes those that exist, innermost first
        created = [*reversed([p for p in folder.parents if not p.exists()]), folder]
        try:
            folder.mkdir(parents=True)
        except OSError as exc:
            parent = next((p for p in folder.parents if p.exists()), None)
            what = ("creating it failed" if parent is None
                    else f"creating it failed because {parent} is a file" if not parent.is_dir()
                    else f"creating it in {parent} failed")
            raise fail(what, exc) from None
    probe = folder / f".recarena-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise fail("writing a file in it failed", exc) from None
    return created


def _progress(total: int, desc: str, quiet: bool) -> Any:
    from tqdm import tqdm

    # disable=None: tqdm turns itself off when stderr is not a terminal
    return tqdm(total=total, desc=desc, unit="unit", disable=True if quiet else None,
                file=sys.stderr)


def run_scenario(spec: Scenario | None = None, out: str | os.PathLike[str] | None = None,
                 workers: int = 1, backend: str = "process", resume: str | os.PathLike[str] | None = None,
                 quiet: bool = False, report: bool = True,
                 on_unit: Callable[[dict[str, Any]], None] | None = None,
                 llm_overrides: list[str] | tuple[str, ...] = ()) -> Path:
    """Run a scenario (or finish the run in ``resume``) and return the run folder.

    Args:
        spec: the validated scenario (ignored with ``resume``: the run's manifest has it).
        out: run folder to create; default ``runs/<name>-<UTC time>``. Refused if it exists
            and is not empty.
        workers: parallel worker processes (``backend="process"``) or Ray tasks in flight.
        backend: ``"process"`` (one machine) or ``"ray"`` (needs ``recarena[ray]``; joins
            a running Ray instance or starts a local one).
        resume: a run folder to finish: only units without ``unit.json`` run.
        quiet: no progress bar.
        report: write ``report.md`` and plots at the end.
        on_unit: called with each finished unit's result (in completion order).
        llm_overrides: with ``resume``, ``llm.KEY=VALUE`` assignments (a larger budget, another
            endpoint for the same model: :data:`~recarena.scenarios.llm_run.RESUME_KEYS`).

    Raises:
        BudgetExhausted: the LLM budget is spent (finished units and the cache are kept;
            resume with a larger budget).
    """
    from contextlib import ExitStack

    from recarena.scenarios import llm_run

    workers = check_int(workers, "workers", 1, 256)
    if backend not in ("process", "ray"):
        raise ConfigError("backend", backend, "'process' or 'ray'")
    if llm_overrides and resume is None:
        raise ConfigError("llm_overrides", list(llm_overrides), "none without resume (a new "
                          "run takes them as scenario overrides)")
    stack = ExitStack()
    with stack:
        if resume is not None:
            run_dir = Path(resume)
            manifest_path = run_dir / "manifest.json"
            if not manifest_path.is_file():
                raise ConfigError("--resume", str(run_dir), "a run folder with a manifest.json")
            manifest = json.loads(manifest_path.read_text())
            if llm_overrides:
                manifest["scenario"] = llm_run.resume_overrides(manifest["scenario"],
                                                                list(llm_overrides))
            spec = scenario_from_dict(manifest["scenario"], source=str(manifest_path))
            check_writable(run_dir, "--resume", "a run is finished where it was started: copy "
                           "the run folder somewhere writable and resume the copy")
            endpoint = stack.enter_context(llm_run.llm_endpoint(spec))
            if llm_overrides:
                _write_json(manifest_path, manifest)
        else:
            if not isinstance(spec, Scenario):
                raise ConfigError("spec", spec, "a Scenario (load_scenario(...))")
            stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
            run_dir = Path(out) if out is not None else Path("runs") / f"{spec.name}-{stamp}"
            todo_out = ("choose another --out, in a folder you can write to" if out is not None
                        else "run from a folder you can write to, or give --out")
            if run_dir.is_dir() and any(run_dir.iterdir()):
                raise ConfigError("--out", str(run_dir),
                                  "a new or empty folder (to finish an interrupted run there, "
                                  "use --resume)")
            if run_dir.exists() and not run_dir.is_dir():
                raise ConfigError("--out", str(run_dir), f"a folder, not an existing file; {todo_out}")
            resolved = check_scenario(spec)
            # the endpoint (a local server started, a probe sent) before anything is written
            endpoint = stack.enter_context(llm_run.llm_endpoint(spec))
            check_writable(run_dir, "--out", todo_out, create=True)
            manifest = {"scenario": spec.model_dump(mode="json"), "resolved": resolved,
                        "seeds": spec.run.seed_list(), "units": [u.key for u in units_of(spec)],
                        "versions": _versions(), "git_commit": _git_commit(),
                        "created": datetime.now(UTC).isoformat(timespec="seconds"),
                        "wall_s": None, "wall_s_parts": []}
            _write_json(run_dir / "manifest.json", manifest)
        _run_attempt(spec, run_dir, manifest, endpoint, workers, backend, quiet, on_unit)
    finalize(run_dir, report=report)
    return run_dir


def _run_attempt(spec: Scenario, run_dir: Path, manifest: dict[str, Any],
                 endpoint: dict[str, Any] | None, workers: int, backend: str, quiet: bool,
                 on_unit: Callable[[dict[str, Any]], None] | None) -> None:
    """Run the unfinished units once (one attempt), keeping the manifest's wall time and
    LLM usage up to date."""
    from recarena.scenarios import llm_run

    t0 = time.perf_counter()
    # one entry per attempt; a run from before wall_s_parts counts its wall_s as one attempt
    parts = list(manifest.get("wall_s_parts")
                 or ([manifest["wall_s"]] if manifest.get("wall_s") else []))
    parts.append(0.0)
    todo = [u for u in units_of(spec) if not (run_dir / "units" / u.key / "unit.json").is_file()]
    fields = None
    if endpoint is not None:
        fields = llm_run.config_fields(spec, endpoint, run_dir)
        # "outside_units": spending no finished unit accounts for (endpoint probes, units
        # that did not finish), over all attempts
        info = manifest.setdefault("llm", {"outside_units": {}})
        if endpoint.get("probe"):
            info["outside_units"] = llm_run.add_usage(info["outside_units"], endpoint["probe"])
        info["endpoint"] = {"base_url": "embedded local server" if endpoint["local"]
                            else endpoint["base_url"], "local": endpoint["local"]}
        info["config"] = llm_run.make_config(spec, fields).public()
        if endpoint["local"]:
            info["config"]["base_url"] = "embedded local server"
        for u in todo:  # partial units of a killed attempt: count what they spent, once
            folder = run_dir / "units" / u.key
            part = llm_run.read_unit_usage(folder)
            if part is not None:
                info["outside_units"] = llm_run.add_usage(info["outside_units"], part)
                _write_json(run_dir / "manifest.json", manifest)
                (folder / "llm_usage.json").unlink(missing_ok=True)

    def llm_usage() -> dict[str, Any]:
        """The run's LLM usage over all attempts: finished units, spending outside them
        (probes, partial units counted before) and units in progress (their latest usage
        file)."""
        total = dict(manifest["llm"]["outside_units"])
        for u in units_of(spec):
            folder = run_dir / "units" / u.key
            try:
                part = json.loads((folder / "unit.json").read_text()).get("llm")
            except (OSError, ValueError):
                part = llm_run.read_unit_usage(folder)
            if part:
                total = llm_run.add_usage(total, part)
        return llm_run.add_usage({}, total)

    def unit_llm() -> dict[str, Any] | None:
        return None if fields is None else {"fields": fields, "spent": llm_usage()}

    def record() -> None:
        parts[-1] = round(time.perf_counter() - t0, 3)
        manifest["wall_s_parts"] = parts
        manifest["wall_s"] = round(sum(parts), 3)
        if fields is not None:
            manifest["llm"]["usage"] = llm_usage()
        _write_json(run_dir / "manifest.json", manifest)

    record()
    sent_before = manifest["llm"]["usage"]["requests"] if fields is not None else 0
    data = spec.model_dump(mode="json")
    bar = _progress(len(todo), spec.name, quiet)
    stop_ticker = threading.Event()
    if fields is not None and not bar.disable:
        def tick() -> None:
            while not stop_ticker.wait(1.0):
                try:
                    bar.set_postfix_str(llm_run.usage_text(
                        llm_usage(), time.perf_counter() - t0, since=sent_before))
                except Exception:  # noqa: BLE001 - a progress line must never end a run
                    pass

        threading.Thread(target=tick, daemon=True, name="recarena-llm-progress").start()

    def done(result: dict[str, Any]) -> None:
        bar.update(1)
        record()  # a killed attempt keeps the time up to its last finished unit
        if on_unit is not None:
            on_unit(result)

    try:
        if backend == "ray":
            _run_ray(data, todo, run_dir, workers, done, unit_llm)
        elif workers == 1 or len(todo) <= 1:
            for u in todo:
                done(run_unit(data, u.seed, u.policy, str(run_dir / "units" / u.key),
                              unit_llm()))
        else:
            _run_pool(data, todo, run_dir, workers, done, unit_llm)
    except BudgetExhausted as exc:
        record()
        raise BudgetExhausted(llm_run.budget_message(spec, run_dir, manifest["llm"]["usage"],
                                                     str(exc))) from None
    finally:
        stop_ticker.set()
        bar.close()
    record()


def _run_pool(data: dict[str, Any], todo: list[Unit], run_dir: Path, workers: int,
              done: Callable[[dict[str, Any]], None],
              unit_llm: Callable[[], dict[str, Any] | None] = lambda: None) -> None:
    import multiprocessing as mp

    # spawn, not fork: workers must not inherit threads (BLAS, Ray, tqdm) or locks. Units
    # are submitted as workers free up, so that each starts with the run's latest LLM
    # spending (its budget is what is left then)
    pending = list(todo)
    with ProcessPoolExecutor(max_workers=min(workers, len(todo)),
                             mp_context=mp.get_context("spawn"), initializer=_worker_init,
                             initargs=(os.getpid(),)) as pool:
        futures: set[Any] = set()

        def submit() -> None:
            while pending and len(futures) < workers:
                u = pending.pop(0)
                futures.add(pool.submit(run_unit, data, u.seed, u.policy,
                                        str(run_dir / "units" / u.key), unit_llm()))

        try:
            submit()
            while futures:
                finished, futures = wait(futures, return_when=FIRST_COMPLETED)
                for f in finished:
                    done(f.result())
                submit()
        except BaseException:
            for f in futures:
                f.cancel()
            raise


#: seconds between a worker's checks that the run's process is still its parent
PARENT_POLL_S = 0.5


def _worker_init(parent_pid: int) -> None:
    """Initializer of every worker process: end when the run's process dies.

    On Linux the kernel sends SIGKILL to the worker when its parent dies
    (``prctl(PR_SET_PDEATHSIG)``); everywhere, a daemon thread checks every
    :data:`PARENT_POLL_S` seconds that the parent is still there (it is re-parented when the
    parent dies) and ends the process otherwise. A unit left half-written is redone by
    ``--resume``."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - no libc prctl
            pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True,
                     name="recarena-parent-watch").start()


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(PARENT_POLL_S)
        if os.getppid() != parent_pid:
            os._exit(1)


def _run_ray(data: dict[str, Any], todo: list[Unit], run_dir: Path, workers: int,
             done: Callable[[dict[str, Any]], None],
             unit_llm: Callable[[], dict[str, Any] | None] = lambda: None) -> None:
    try:
        import ray
    except ImportError:
        raise ConfigError("backend", "ray", "an installed Ray (pip install 'recarena[ray]')") from None
    if not ray.is_initialized():
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    remote = ray.remote(run_unit)
    pending = list(todo)
    inflight: list[Any] = []
    while pending or inflight:
        while pending and len(inflight) < workers:
            u = pending.pop(0)
            inflight.append(remote.remote(data, u.seed, u.policy, str(run_dir / "units" / u.key),
                                          unit_llm()))
        ready, inflight = ray.wait(inflight, num_returns=1)
        done(ray.get(ready[0]))


def finalize(run_dir: str | os.PathLike[str], report: bool = True) -> dict[str, Any]:
    """Write ``summary.json`` and ``metrics.parquet`` (and the report) from finished units.

    Raises :class:`~recarena.errors.RecArenaError` when units are missing (resume the run)."""
    import pandas as pd

    from recarena.analysis.summary import METRICS, aggregate

    run_dir = Path(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    spec = scenario_from_dict(manifest["scenario"])
    units = units_of(spec)
    missing = [u.key for u in units if not (run_dir / "units" / u.key / "unit.json").is_file()]
    if missing:
        raise RecArenaError(f"{len(missing)} unit(s) unfinished ({', '.join(missing[:4])}"
                            f"{', ...' if len(missing) > 4 else ''}); finish them with "
                            f"`recarena run --resume {run_dir}`")
    per_unit = {}
    frames = []
    for u in units:
        res = json.loads((run_dir / "units" / u.key / "unit.json").read_text())
        per_unit[(u.seed, u.policy)] = res["metrics"]
        frames.append(pd.read_parquet(run_dir / "units" / u.key / "metrics.parquet"))
    pd.concat(frames, ignore_index=True).to_parquet(run_dir / "metrics.parquet", index=False)
    summary = {"scenario": spec.name, "env": manifest["resolved"]["env_id"],
               "users": spec.run.users, "steps": spec.run.steps,
               "metric_descriptions": {m: METRICS[m][0] for m in METRICS},
               "higher_is_better": {m: METRICS[m][1] for m in METRICS}}
    summary |= aggregate(per_unit, [p.name for p in spec.policies], spec.baseline)
    if manifest.get("llm", {}).get("usage") is not None:
        summary["llm_usage"] = manifest["llm"]["usage"]
    _write_json(run_dir / "summary.json", summary)
    if report:
        from recarena.analysis.report import write_report

        write_report(run_dir)
    return summary
