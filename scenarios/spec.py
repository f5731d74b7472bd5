"""The scenario file: a TOML document validated by a pydantic schema.

A scenario names an environment (and overrides of its configuration), the policies to
compare (registry names with arguments), how many users, steps and seeds, what to log and
what to report. Every key has a type, a default and a description (``recarena run --help``
and :func:`describe_schema` print them). Unknown keys and bad values raise
:class:`~recarena.errors.ConfigError` naming the key path, the value and what is allowed.

Example (``scenarios/quickstart.toml`` is the built-in one)::

    name = "my-comparison"
    [env]
    id = "recarena/InterestEvolution-v0"
    [run]
    users = 256
    steps = 120
    seeds = 3
    [[policies]]
    name = "random"
    [[policies]]
    name = "linucb"
    args = { alpha = 0.5 }
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from recarena.errors import ConfigError

__all__ = ["LLMSection", "Scenario", "builtin_scenarios", "combine_errors", "describe_schema",
           "known_metrics", "load_scenario", "parse_set", "scenario_from_dict", "scenario_text"]

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
PLOTS = ("reward_over_time", "ctr_over_time", "cumulative_return", "retention",
         "interest_entropy", "lorenz", "fairness_relevance", "regret",
         "creator_survival", "exposure_gini", "catalog_diversity", "creator_engagement")


def known_metrics() -> list[str]:
    """The summary metrics a run can report (``recarena.analysis.summary.METRICS``)."""
    from recarena.analysis.summary import METRICS

    return list(METRICS)


def combine_errors(errors: list[ConfigError]) -> ConfigError:
    """One :class:`ConfigError` reporting every one of ``errors`` (its ``field``,
    ``received`` and ``expected`` are the first one's; ``errors`` holds them all)."""
    if not errors:
        raise ValueError("combine_errors needs at least one error")
    first = errors[0]
    out = ConfigError(first.field, first.received, first.expected)
    if len(errors) > 1:
        out.args = (f"{len(errors)} problems: " + "; ".join(str(e) for e in errors),)
    out.errors = list(errors)  # type: ignore[attr-defined]
    return out


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnvSection(_Strict):
    """Which environment the users live in."""

    id: str = Field("recarena/InterestEvolution-v0",
                    description="registered env id (``recarena list`` names them)")
    config: dict[str, Any] = Field(default_factory=dict,
                                   description="keyword arguments of the env constructor "
                                               "(e.g. shuffle = false for Cascade-v0)")
    module: str | None = Field(None,
                               description="a Python module imported before the env is built, "
                                           "in the run's process and in every worker: one "
                                           "that registers env ids of its own "
                                           "(gymnasium.register, e.g. an env whose users or "
                                           "candidates are Python objects, which TOML cannot "
                                           "hold); env.id may then name such an id, written "
                                           "in full")

    @field_validator("module")
    @classmethod
    def _module(cls, v: str | None) -> str | None:
        if v is not None and not _MODULE.fullmatch(v):
            raise ValueError("a dotted Python module name such as 'mypackage.envs'")
        return v


class RunSection(_Strict):
    """How much to simulate."""

    users: int = Field(256, ge=1, le=1_000_000, description="user rows simulated in one batch")
    steps: int = Field(100, ge=1, le=1_000_000,
                       description="env steps per unit (with until = 'first_episode': a cap)")
    until: Literal["steps", "first_episode"] = Field(
        "steps", description="'steps': run exactly `steps` steps, replacing users who leave; "
                             "'first_episode': stop when every row's first user has left "
                             "(a clean cohort for retention curves)")
    days: float | None = Field(None, gt=0, description="calendar horizon in days for envs with a "
                                                       "calendar (Retention-v0): each user's "
                                                       "episode ends at this day (sets the env's "
                                                       "horizon_days)")
    seeds: int | list[int] = Field(3, description="number of seeds (0..n-1) or a list of seeds")
    baseline: str | None = Field(None, description="policy the paired differences are taken "
                                                   "against (default: the first policy)")

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: int | list[int]) -> int | list[int]:
        if isinstance(v, int):
            if not 1 <= v <= 10_000:
                raise ValueError("a count between 1 and 10000")
        else:
            if not v or len(set(v)) != len(v) or any(s < 0 for s in v):
                raise ValueError("a non-empty list of distinct non-negative seeds")
        return v

    def seed_list(self) -> list[int]:
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)


class PolicySection(_Strict):
    """One policy to run."""

    name: str = Field(description="label in reports and file names (letters, digits, _ . -)")
    policy: str | None = Field(None, description="registry name (default: the label); "
                                                 "`recarena list` names them")
    args: dict[str, Any] = Field(default_factory=dict,
                                 description="keyword arguments of the policy's constructor")

    @field_validator("name")
    @classmethod
    def _label(cls, v: str) -> str:
        if not _LABEL.match(v):
            raise ValueError("1-64 letters, digits, '_', '.' or '-', starting with a letter "
                             "or digit")
        return v

    @property
    def registry_name(self) -> str:
        return self.policy or self.name


class LogSection(_Strict):
    """What the event log holds."""

    snapshot_every: int = Field(10, ge=0, description="steps between user-state snapshots "
                                                       "(0: none)")
    candidates: bool = Field(False, description="also log every candidate's true relevance "
                                                "(needed for the fairness-relevance frontier)")
    chunk_rows: int = Field(250_000, ge=1_000, description="rows per Parquet file")


class ReportSection(_Strict):
    """What the report shows."""

    plots: list[Literal[PLOTS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["reward_over_time", "cumulative_return", "retention"],
        description="plots to draw: " + ", ".join(PLOTS))
    window: int = Field(10, ge=1, description="steps per point in over-time plots")
    metrics: list[str] = Field(default_factory=list,
                               description="summary metrics in the report table (default: all; "
                                           "`recarena list metrics` names them)")

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, v: list[str]) -> list[str]:
        if v:
            known = known_metrics()
            bad = [m for m in v if m not in known]
            if bad:
                raise ValueError(f"metric names among {', '.join(known)} (unknown: "
                                 f"{', '.join(map(repr, bad))})")
        return v


_ENV_VAR = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")


class LLMSection(_Strict):
    """The LLM endpoint of users played by an LLM (``env.config.users = "llm"``).

    The key itself is never in a scenario file: ``api_key_env`` names the environment
    variable that holds it. Keys left unset take the backend's defaults
    (:class:`recarena.simulators.llm.LLMConfig`)."""

    local: bool | Literal["auto"] = Field(
        "auto", description="true: start the embedded local LLM (SmolLM2-135M, the "
                            "recarena[llm-local] extra) for the run; false: use base_url (or "
                            "$OPENAI_BASE_URL, else OpenAI); 'auto': local when none of "
                            "base_url, model and $OPENAI_BASE_URL is set")
    base_url: str | None = Field(None, description="an OpenAI-compatible endpoint, e.g. "
                                                   "http://localhost:8000/v1")
    model: str | None = Field(None, description="model name (default: the backend's; the "
                                                "local server's model when local)")
    api_key_env: str = Field("OPENAI_API_KEY", description="name of the environment variable "
                                                           "that holds the API key (never the "
                                                           "key itself)")
    temperature: float | None = Field(None, description="sampling temperature (default 0)")
    top_p: float | None = Field(None, description="nucleus sampling mass")
    max_tokens: int | None = Field(None, description="reply tokens per request")
    timeout: float | None = Field(None, description="seconds per request attempt")
    max_retries: int | None = Field(None, description="retries of a failed request")
    backoff: float | None = Field(None, description="first retry delay in seconds")
    max_backoff: float | None = Field(None, description="longest retry delay in seconds")
    concurrency: int | None = Field(None, description="requests in flight at once")
    response_format: Literal["json_schema", "json_object", "json_object_schema",
                             "none"] | None = Field(
        None, description="how structured output is asked for (default json_schema; "
                          "json_object_schema for the local server)")
    prices: dict[str, list[float]] | None = Field(
        None, description="model -> [USD per 1M prompt tokens, USD per 1M completion tokens]")
    max_total_tokens: int | None = Field(None, gt=0, description="budget: tokens the run may "
                                                                 "spend in all (over resumes)")
    max_cost: float | None = Field(None, gt=0, description="budget: USD the run may spend in "
                                                           "all (over resumes)")
    cache: bool | str = Field(True, description="true: <run folder>/llm_cache.sqlite; false: "
                                                "no cache; a path: that SQLite file (shared "
                                                "across runs)")

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, v: str) -> str:
        if not _ENV_VAR.fullmatch(v):
            # the value is not shown: it may be the key itself
            raise ConfigError("llm.api_key_env", f"<{len(v)} characters, hidden>",
                              "the NAME of an environment variable (capital letters, digits, "
                              "'_'), such as OPENAI_API_KEY, not the key itself")
        return v


class Scenario(_Strict):
    """A scenario: env, policies, run size, logging and report."""

    name: str = Field("scenario", description="scenario name (used in the run folder name)")
    description: str = Field("", description="one paragraph on what the scenario shows")
    env: EnvSection = Field(default_factory=EnvSection)  # type: ignore[arg-type]
    run: RunSection = Field(default_factory=RunSection)  # type: ignore[arg-type]
    policies: list[PolicySection] = Field(min_length=1, description="the policies compared")
    log: LogSection = Field(default_factory=LogSection)  # type: ignore[arg-type]
    report: ReportSection = Field(default_factory=ReportSection)  # type: ignore[arg-type]
    llm: LLMSection = Field(default_factory=LLMSection)  # type: ignore[arg-type]

    @model_validator(mode="after")
    def _names(self) -> Scenario:
        # ConfigError (a ValueError) travels inside pydantic's error; _error takes it out so
        # that the message names the key and its value, not the whole scenario
        labels = [p.name for p in self.policies]
        errors = []
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            errors.append(ConfigError("policies", dup, "distinct policy names (policies[].name); "
                                      f"repeated: {', '.join(dup)}"))
        if self.run.baseline is not None and self.run.baseline not in labels:
            errors.append(ConfigError("run.baseline", self.run.baseline,
                                      "one of the policy names: " + ", ".join(dict.fromkeys(labels))))
        if errors:
            raise combine_errors(errors)
        return self

    @property
    def baseline(self) -> str:
        return self.run.baseline or self.policies[0].name


# --------------------------------------------------------------------------- loading
def _error(exc: ValidationError, source: str) -> ConfigError:
    """Every pydantic error, as one ConfigError naming each key path."""
    errors: list[ConfigError] = []
    for err in exc.errors():
        inner = (err.get("ctx") or {}).get("error")
        if isinstance(inner, ConfigError):  # raised by a model validator: its own fields
            for e in getattr(inner, "errors", [inner]):
                errors.append(ConfigError(f"{source}: {e.field}", e.received, e.expected))
        else:
            errors.append(_one_error(err, source))
    return combine_errors(errors)


def _one_error(err: Any, source: str) -> ConfigError:
    path = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        model: Any = Scenario
        for part in err["loc"][:-1]:
            if isinstance(part, int):
                continue
            field = model.model_fields.get(part)
            ann = getattr(field, "annotation", None)
            args = getattr(ann, "__args__", ())
            model = next((a for a in (ann, *args) if isinstance(a, type)
                          and issubclass(a, BaseModel)), model)
        allowed = ", ".join(model.model_fields)
        expected = f"no key {err['loc'][-1]!r} here; allowed keys: {allowed}"
        return ConfigError(f"{source}: {path}", err.get("input"), expected)
    if err["type"] == "missing":
        return ConfigError(f"{source}: {path}", None, "a value (this key is required)")
    msg = err["msg"].removeprefix("Value error, ")
    if msg.startswith("Input should be "):
        msg = "a value that " + msg[len("Input "):].replace("should be", "is", 1)
    return ConfigError(f"{source}: {path}", err.get("input"), msg)


def scenario_from_dict(data: dict[str, Any], source: str = "scenario") -> Scenario:
    """Validate a scenario given as a dict (a parsed TOML document)."""
    if not isinstance(data, dict):
        raise ConfigError(source, data, "a table of scenario keys")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise _error(exc, source) from None


def scenario_text(name: str) -> str:
    """The TOML text of the built-in scenario ``name`` (``recarena show NAME``)."""
    builtin = builtin_scenarios()
    if name not in builtin:
        raise ConfigError("scenario", name, "a built-in scenario: " + ", ".join(builtin))
    return builtin[name].read_text(encoding="utf-8")


def builtin_scenarios() -> dict[str, Path]:
    """Built-in scenario names and their TOML files."""
    root = resources.files("recarena.scenarios") / "builtin"
    out = {}
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            out[entry.name[:-5]] = Path(str(entry))
    return out


def parse_set(assignment: str) -> tuple[list[str], Any]:
    """``key.path=value`` from ``--set``: the value is read as TOML (``3``, ``0.5``,
    ``true``, ``"text"``, ``[1, 2]``), and as a plain string when it is not TOML."""
    if not isinstance(assignment, str) or "=" not in assignment:
        raise ConfigError("--set", assignment, "key.path=value")
    key, _, raw = assignment.partition("=")
    path = key.strip().split(".")
    if not all(path):
        raise ConfigError("--set", assignment, "a dotted key path such as run.users=64")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return path, value


def _apply(data: dict[str, Any], path: list[str], value: Any) -> None:
    node: Any = data
    for i, part in enumerate(path[:-1]):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError("--set " + ".".join(path), part,
                                  f"an index below {len(node)} at {'.'.join(path[:i]) or 'top'}")
            node = node[int(part)]
            continue
        nxt = node.setdefault(part, {})
        if not isinstance(nxt, (dict, list)):
            raise ConfigError("--set " + ".".join(path), nxt,
                              f"a table at {'.'.join(path[:i + 1])}")
        node = nxt
    last = path[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ConfigError("--set " + ".".join(path), last, f"an index below {len(node)}")
        node[int(last)] = value
    else:
        node[last] = value


def load_scenario(source: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Scenario:
    """A scenario from a built-in name or a TOML file, with ``--set`` overrides applied."""
    if not isinstance(source, (str, Path)):
        raise ConfigError("scenario", source, "a built-in scenario name or a .toml path")
    builtin = builtin_scenarios()
    path = Path(source)
    if str(source) in builtin:
        path = builtin[str(source)]
    elif not path.is_file():
        raise ConfigError("scenario", str(source),
                          "a built-in scenario (" + ", ".join(builtin) + ") or an existing "
                          ".toml file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"scenario file {path}", "invalid TOML", f"valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"scenario file {path}", "undecodable bytes", "UTF-8 text") from None
    for item in overrides:
        key, value = parse_set(item)
        _apply(data, key, value)
    return scenario_from_dict(data, source=path.name)


def describe_schema() -> str:
    """Every key with its type, default and description, as text."""
    lines = []
    for section, model in (("", Scenario), ("env.", EnvSection), ("run.", RunSection),
                           ("policies[].", PolicySection), ("log.", LogSection),
                           ("report.", ReportSection), ("llm.", LLMSection)):
        for key, field in model.model_fields.items():
            if key in ("env", "run", "log", "report", "policies", "llm") and not section:
                continue
            default = "required" if field.is_required() else repr(field.get_default(
                call_default_factory=True))
            ann = getattr(field.annotation, "__name__", str(field.annotation)).replace(
                "typing.", "")
            lines.append(f"{section}{key} ({ann}, default {default}): {field.description}")
    return "\n".join(lines)
